"""Audio datasets: the Free Spoken Digit Dataset (FSDD) with its official split, or any folder of WAV files.

Every clip is read with :func:`seqgan.audio.wav.read_wav` (mono; several channels are averaged), resampled to
``sample_rate`` (16 kHz: FSDD's 8 kHz recordings are upsampled with the band-limited resampler) and then padded
with zeros at the end or cropped (its first ``length`` samples are kept) to ``length`` samples (16384 = 1.024 s at
16 kHz, WaveGAN's slice). How many clips were resampled, padded, cropped, mixed down or truncated is counted in
``AudioDataset.stats``.

FSDD (``$SEQGAN_DATA/fsdd/recordings/{digit}_{speaker}_{index}.wav``; 6 speakers x 10 digits x 50 takes): the
split is the one its README defines, recordings with index 0-4 are the test set and 5-49 the training set. The
label of a clip is its digit.

A user folder: every ``*.wav`` below it (recursively, sorted by relative path). Its clips get labels when every
file name starts with a digit and an underscore (FSDD's naming); otherwise the labels are -1 (unconditional use
only). A folder without WAV files, or any unreadable file in it, is one AudioError naming the folder or the file:
nothing is half-loaded.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from seqgan.audio.wav import AudioError, read_wav, resample
from seqgan.data.corpus import DATA_ENV, data_dir
from seqgan.data.registry import get_manifest, listing_sha256

SAMPLE_RATE = 16000
SLICE = 16384
FSDD_FOLDER = "fsdd"
FSDD_NAME = re.compile(r"^(\d)_([A-Za-z]+)_(\d+)\.wav$")
FSDD_TEST_INDICES = range(0, 5)
LABELED_NAME = re.compile(r"^(\d)_")


@dataclass
class AudioDataset:
    audio: torch.Tensor              # (N, 1, length) float32 in [-1, 1]
    labels: torch.Tensor             # (N,) int64; -1 where unknown
    names: list[str]                 # relative file names
    sample_rate: int
    source: str
    stats: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.names)

    @property
    def labeled(self) -> bool:
        return len(self.labels) > 0 and bool((self.labels >= 0).all())

    def metadata(self) -> dict:
        """Plain facts stored in checkpoints (no samples)."""
        return {"source": self.source, "sample_rate": self.sample_rate, "length": int(self.audio.shape[-1]),
                "clips": len(self), "labeled": self.labeled}


def fit_length(x: np.ndarray, length: int) -> tuple[np.ndarray, str]:
    """Zero-pad at the end or keep the first ``length`` samples; returns (clip, "padded"/"cropped"/"exact")."""
    if len(x) < length:
        return np.concatenate([x, np.zeros(length - len(x), dtype=np.float32)]), "padded"
    if len(x) > length:
        return x[:length], "cropped"
    return x, "exact"


def load_clips(paths: list[Path], root: Path, labels: list[int], *, sample_rate: int = SAMPLE_RATE,
               length: int = SLICE, source: str = "") -> AudioDataset:
    """Read, resample and fit every file; any unusable file raises AudioError naming it."""
    if length < 1 or sample_rate < 1:
        raise AudioError(f"clip length and sample rate must be positive, got {length} and {sample_rate}")
    out = np.zeros((len(paths), 1, length), dtype=np.float32)
    stats = {"clips": len(paths), "padded": 0, "cropped": 0, "resampled": 0, "mixed_to_mono": 0, "truncated": 0,
             "source_rates": {}}
    for n, path in enumerate(paths):
        x, info = read_wav(path)
        stats["source_rates"][str(info.sample_rate)] = stats["source_rates"].get(str(info.sample_rate), 0) + 1
        if info.channels > 1:
            stats["mixed_to_mono"] += 1
        if any(note.startswith("truncated") for note in info.notes):
            stats["truncated"] += 1
        if info.sample_rate != sample_rate:
            x = resample(x, info.sample_rate, sample_rate)
            stats["resampled"] += 1
        x, how = fit_length(x, length)
        if how != "exact":
            stats[how] += 1
        out[n, 0] = x
    names = [p.relative_to(root).as_posix() for p in paths]
    return AudioDataset(torch.from_numpy(out), torch.tensor(labels, dtype=torch.long), names, sample_rate,
                        source, stats)


def fsdd_files(folder: Path) -> list[tuple[Path, int, str, int]]:
    """[(path, digit, speaker, index)] of ``folder/recordings/*.wav``, sorted; other files are ignored."""
    rec = folder / "recordings"
    if not rec.is_dir():
        raise AudioError(f"FSDD: {rec} not found; set {DATA_ENV} to the folder holding {FSDD_FOLDER}/recordings/ "
                         "(the Free Spoken Digit Dataset), or train on a folder of WAV files instead")
    found = []
    for p in sorted(rec.glob("*.wav")):
        m = FSDD_NAME.match(p.name)
        if m:
            found.append((p, int(m.group(1)), m.group(2), int(m.group(3))))
    if not found:
        raise AudioError(f"FSDD: {rec} holds no files named digit_speaker_index.wav")
    return found


def load_fsdd(split: str = "train", *, root: str | Path | None = None, sample_rate: int = SAMPLE_RATE,
              length: int = SLICE, max_files: int | None = None, verify: bool = True) -> AudioDataset:
    """FSDD's ``split`` ("train": indices 5-49, "test": indices 0-4, "all"). ``root``: the data directory (default
    ``$SEQGAN_DATA``) holding ``fsdd/``, or the ``fsdd`` folder itself. ``max_files`` keeps the first files (tests).
    ``verify``: the whole folder must match the manifest's ``listing_sha256`` (under a second for FSDD), so numbers
    are never reported for a silently altered copy; a folder used as it is goes through ``load_wav_folder``."""
    if split not in ("train", "test", "all"):
        raise AudioError(f"FSDD split must be train, test or all, got {split!r}")
    base = Path(root) if root is not None else data_dir()
    if base is None:
        raise AudioError(f"FSDD: ${DATA_ENV} is not set; export {DATA_ENV}=/path/to/corpora (the folder holding "
                         f"{FSDD_FOLDER}/)")
    folder = base if (base / "recordings").is_dir() else base / FSDD_FOLDER
    files = fsdd_files(folder)
    if verify:
        _check_listing(folder)
    files = [f for f in files
             if split == "all" or (f[3] in FSDD_TEST_INDICES) == (split == "test")]
    if max_files is not None:
        files = files[:max_files]
    if not files:
        raise AudioError(f"FSDD: no {split} recordings in {folder / 'recordings'}")
    ds = load_clips([f[0] for f in files], folder, [f[1] for f in files], sample_rate=sample_rate, length=length,
                    source=f"fsdd:{split}")
    ds.stats["folder"] = str(folder)
    ds.stats["split"] = "test = recording indices 0-4, train = 5-49 (FSDD README)"
    ds.stats["speakers"] = sorted({f[2] for f in files})
    return ds


def _check_listing(folder: Path) -> None:
    manifest = get_manifest(FSDD_FOLDER)
    audio = manifest.raw["audio"]
    actual = listing_sha256(folder, audio["pattern"])
    if actual != audio["listing_sha256"]:
        raise AudioError(f"FSDD in {folder}: the sha256 of its {audio['pattern']} listing is {actual}, but "
                         f"{manifest.manifest_path} expects {audio['listing_sha256']} (files added, removed or "
                         f"changed); restore the original from {manifest.source}, or give the recordings folder "
                         "itself instead of the name fsdd to use it unchecked")


def load_wav_folder(folder: str | Path, *, sample_rate: int = SAMPLE_RATE, length: int = SLICE,
                    max_files: int | None = None) -> AudioDataset:
    """Every ``*.wav`` (any case) below ``folder``, sorted by relative path."""
    folder = Path(folder)
    if not folder.is_dir():
        raise AudioError(f"{folder} is not a folder; give a folder of WAV files or the corpus name fsdd")
    paths = sorted((p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() == ".wav"),
                   key=lambda p: p.relative_to(folder).as_posix())
    if not paths:
        others = sum(1 for p in folder.rglob("*") if p.is_file())
        raise AudioError(f"{folder} holds no .wav files ({others} other files); give a folder of PCM WAV files")
    if max_files is not None:
        paths = paths[:max_files]
    matches = [LABELED_NAME.match(p.name) for p in paths]
    labels = [int(m.group(1)) if m else -1 for m in matches] if all(matches) else [-1] * len(paths)
    return load_clips(paths, folder, labels, sample_rate=sample_rate, length=length, source=f"folder {folder}")


def load_audio(spec: str, split: str = "train", **kwargs) -> AudioDataset:
    """``spec`` "fsdd" (the registered corpus, from ``$SEQGAN_DATA``) or a folder of WAV files (used whole, for
    any split)."""
    if spec == FSDD_FOLDER:
        return load_fsdd(split, **kwargs)
    return load_wav_folder(spec, **kwargs)
