"""Melody windows for training: ``load_music_corpus(name, bars=2|16)`` -> ``MusicCorpus`` (int64 tensors + stats).

Corpora
    ``nottingham`` (``corpora/nottingham.json``): the melody-only MIDI files ``MIDI/melody/*.mid`` of the Jukedeck
    edition. ``jsb_chorales`` (``corpora/jsb_chorales.json``): the soprano part (voice 0 of ``Jsb16thSeparated.json``,
    16th-note steps). A folder of the user's own MIDI files can be given instead of a corpus name.

Encoding
    ``seqgan.music.melody``: 16 steps per 4/4 bar, 90 classes, highest note wins, pitches outside 21..108 moved by
    octaves into range. Drum notes (channel 10) are ignored; all other notes of all tracks form the melody (the
    highest sounding one at every step), so point the loader at melody tracks (Nottingham's ``MIDI/melody``).

Metres (MIDI)
    Every time-signature segment of a file is judged on its own (Nottingham has 15 files that change metre). A
    segment is KEPT when its bar is 4 quarter notes long (4/4, 2/2: 16 steps, nothing to regrid; 2/2 is read on
    the same sixteenth-note grid) or 2 quarter notes long (2/4: 8 steps; two 2/4 bars then fill one 16-step bar of
    the model, a window of ``bars`` model bars holds 2 * ``bars`` notated 2/4 bars). Every other metre (6/8, 3/4,
    9/8, 3/2, 6/4, 5/4, ...) is SKIPPED: a 6/8 or 3/4 bar is 12 sixteenths, and a 16-step bar would either cut
    across bar lines or stretch the rhythm, and both would teach the model a metre that is not there. A file with
    no kept segment is skipped as ``unsupported_metre`` (counted per metre); a file without time signature is 4/4,
    the MIDI default. Bars are counted from each segment's first tick (the Jukedeck files pad pickups to a full bar).

Windows
    Windows of ``bars`` * 16 steps start on every notated bar line of a kept segment (hop = one bar: 16 steps,
    8 in 2/4) and never cross a segment boundary; the last segment is padded with rests to a whole bar. A note
    sounding across a window's first step is re-attacked there (``melody.window``). A window is dropped when more
    than ``max_rest_fraction`` (default 0.5) of its steps are silent (no note sounding): pickup bars, endings
    and gaps make such windows mostly rest, which teaches little.

Bad input (each file skipped with a reason; counts and up to 5 examples per reason in ``stats``)
    ``corrupt``          not readable as MIDI (empty file, truncated, not MIDI, unsupported time division)
    ``empty``            readable, but holds no notes at all
    ``drums_only``       every note is on channel 10 (no melody)
    ``absurd_tempo``     a tempo outside 10..1000 bpm (a tempo of 0 microseconds per beat is infinite)
    ``unsupported_metre`` no segment in a kept metre (see above)
    Files that pass but give no window (shorter than a window, or too silent) are counted as ``no_windows``.
    Nothing raises half-way: the loader raises ``CorpusError`` only before starting (no files found: it says where
    it looked and how to set $SEQGAN_DATA) or at the end when not one window is usable (with the counts).

Split (fixed, no seed)
    MIDI: a file is in the test split when ``int(sha256(file name)[:8 hex digits], 16) % 10 == 0`` (about 10%; the
    file name without folder, e.g. ``ashover1.mid``), so all windows of one tune stay in one split and the split
    does not depend on the order, the number of files or the machine. JSB: the published Boulanger-Lewandowski
    split: train + valid -> train, test -> test.

JSB chorales
    The steps are 16th notes without bar lines or metres: windows start every 16 steps from the first step
    (most chorales are in 4/4; those in 3/4 and the pickups cannot be told apart in this data). A held note and a
    repeated note look the same, so consecutive equal pitches are one held note. ``voice="highest"`` takes the
    highest sounding voice at every step instead of the soprano part (they differ where voices cross; the count
    is in ``stats['voice_crossing_steps']``).
"""
from __future__ import annotations

import hashlib
import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from seqgan.data.corpus import DATA_ENV, CorpusError
from seqgan.music.melody import (FIRST_PITCH_CLASS, MAX_PITCH, MIN_PITCH, NUM_CLASSES, STEPS_PER_BAR,
                                 StepNote, fold_pitch, melody_steps, quantize_notes,
                                 quantize_tick, window)
from seqgan.music.midi import MidiData, MidiReadError, read_midi_bytes

MIN_BPM, MAX_BPM = 10.0, 1000.0
DEFAULT_MAX_REST_FRACTION = 0.5
TEST_MODULUS = 10
KEPT_BAR_STEPS = (16, 8)                       # 4 quarter notes (4/4, 2/2) and 2 quarter notes (2/4)
SKIP_REASONS = ("corrupt", "empty", "drums_only", "absurd_tempo", "unsupported_metre")
MAX_EXAMPLES = 5
MIDI_SUFFIXES = (".mid", ".midi")


def is_test_piece(name: str) -> bool:
    """The fixed split: test when the first 8 hex digits of sha256(name) are 0 modulo 10 (about 10%)."""
    return int(hashlib.sha256(name.encode("utf-8")).hexdigest()[:8], 16) % TEST_MODULUS == 0


@dataclass
class MusicCorpus:
    name: str
    bars: int
    train: Tensor                                    # (N, bars * 16) int64, classes 0..89
    test: Tensor                                     # (M, bars * 16)
    stats: dict
    train_sources: list[tuple[str, int]] = field(default_factory=list)   # (piece, first step) per row
    test_sources: list[tuple[str, int]] = field(default_factory=list)
    num_classes: int = NUM_CLASSES

    @property
    def steps(self) -> int:
        return self.bars * STEPS_PER_BAR


@dataclass
class PieceWindows:
    """What one piece gave: its windows (and where they start), or why it was skipped."""
    name: str
    windows: list[list[int]] = field(default_factory=list)
    starts: list[int] = field(default_factory=list)
    skipped: str | None = None                       # one of SKIP_REASONS
    detail: str = ""
    metre: str = ""                                  # "4/4", "6/8", ..., "mixed"
    bars_kept: Counter = field(default_factory=Counter)      # notated bars by metre
    bars_skipped: Counter = field(default_factory=Counter)
    silent_windows: int = 0
    candidates: int = 0                              # windows that fit before the rest filter
    notes: dict = field(default_factory=dict)        # quantize_notes counts


def _rest_fraction(pitches: Sequence[int], start: int, length: int) -> float:
    return sum(1 for p in pitches[start:start + length] if p < 0) / length


def _cut(events: list[int], pitches: list[int], ranges: list[tuple[int, int, int]], steps: int,
         max_rest_fraction: float, out: PieceWindows) -> None:
    """Windows of ``steps`` starting every ``hop`` steps inside each (first, end, hop) range."""
    for first, end, hop in ranges:
        for start in range(first, end - steps + 1, hop):
            out.candidates += 1
            if _rest_fraction(pitches, start, steps) > max_rest_fraction:
                out.silent_windows += 1
                continue
            out.windows.append(window(events, pitches, start, steps))
            out.starts.append(start)


def _segments(midi: MidiData, end_tick: int) -> list[tuple[int, int, int, int]]:
    """(first tick, end tick, numerator, denominator) per time-signature segment, identical neighbours merged."""
    sigs = [(ts.tick, ts.numerator, ts.denominator) for ts in midi.time_signatures]
    if not sigs or sigs[0][0] > 0:
        sigs.insert(0, (0, 4, 4))
    merged: list[tuple[int, int, int]] = []
    for s in sigs:
        if merged and merged[-1][1:] == s[1:]:
            continue
        merged.append(s)
    out = []
    for i, (tick, num, den) in enumerate(merged):
        nxt = merged[i + 1][0] if i + 1 < len(merged) else max(end_tick, tick)
        if nxt > tick:
            out.append((tick, nxt, num, den))
    return out


def midi_windows(midi: MidiData, bars: int, *, name: str | None = None,
                 max_rest_fraction: float = DEFAULT_MAX_REST_FRACTION) -> PieceWindows:
    """The windows of one MIDI file under the rules of the module notes (never raises for bad content)."""
    name = name if name is not None else (midi.path.name if midi.path is not None else "<midi>")
    out = PieceWindows(name)
    sig_names = list(dict.fromkeys(f"{ts.numerator}/{ts.denominator}" for ts in midi.time_signatures)) or ["4/4"]
    out.metre = sig_names[0] if len(sig_names) == 1 else "mixed"
    for t in midi.tempos:
        if not MIN_BPM <= t.bpm <= MAX_BPM:
            out.skipped, out.detail = "absurd_tempo", (f"tempo {t.bpm:.6g} bpm at beat {t.beat:g} is outside "
                                                       f"{MIN_BPM:g}..{MAX_BPM:g} bpm")
            return out
    if not midi.notes:
        out.skipped, out.detail = "empty", "no notes"
        return out
    melodic = [n for n in midi.notes if not n.is_drum]
    if not melodic:
        out.skipped, out.detail = "drums_only", f"all {len(midi.notes)} notes are on the drum channel (10)"
        return out
    tpb = midi.ticks_per_beat
    end_tick = max(n.end_tick for n in melodic)
    segments = _segments(midi, end_tick)
    ranges: list[tuple[int, int, int]] = []
    for i, (t0, t1, num, den) in enumerate(segments):
        metre = f"{num}/{den}"
        a, b = quantize_tick(t0, tpb), quantize_tick(t1, tpb)
        bar_steps = num * STEPS_PER_BAR / den
        n_bars = math.ceil((b - a) / bar_steps) if bar_steps > 0 else 0
        if bar_steps not in KEPT_BAR_STEPS:
            out.bars_skipped[metre] += n_bars
            continue
        bar_steps = int(bar_steps)
        if i == len(segments) - 1:
            b = a + n_bars * bar_steps                # pad the last bar with rests
        out.bars_kept[metre] += n_bars
        ranges.append((a, b, bar_steps))
    if not ranges:
        out.skipped = "unsupported_metre"
        out.detail = f"metre {'+'.join(sig_names)}: no segment in 4/4, 2/2 or 2/4"
        return out
    notes = quantize_notes(melodic, tpb, counts=out.notes)
    events, pitches = melody_steps(notes, max(b for _, b, _ in ranges))
    _cut(events, pitches, ranges, bars * STEPS_PER_BAR, max_rest_fraction, out)
    return out


def _folder_listing_sha256(digests: dict[str, str]) -> str:
    """sha256 of ``sha256sum``'s output lines ``<hex>  <relative path>\\n`` sorted by path (bytewise), i.e.
    ``cd <corpus folder> && LC_ALL=C sha256sum MIDI/melody/*.mid | sha256sum``."""
    lines = "".join(f"{digests[p]}  {p}\n" for p in sorted(digests, key=lambda s: s.encode("utf-8")))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def _new_stats(name: str, bars: int, max_rest_fraction: float) -> dict:
    return {"corpus": name, "bars": bars, "steps": bars * STEPS_PER_BAR, "max_rest_fraction": max_rest_fraction,
            "files": 0, "files_used": 0, "skipped": {r: 0 for r in SKIP_REASONS}, "skipped_examples": {},
            "no_windows": 0, "partially_kept": 0, "files_by_metre": {}, "skipped_by_metre": {}, "bars_kept_by_metre": {},
            "bars_skipped_by_metre": {}, "windows": {"train": 0, "test": 0, "dropped_mostly_rest": 0},
            "pieces": {"train": 0, "test": 0}, "notes": {}}


def _add(counter: dict, key: str, n: int = 1) -> None:
    counter[key] = counter.get(key, 0) + n


def _record(stats: dict, piece: PieceWindows, split: str) -> None:
    stats["files"] += 1
    if piece.metre:
        _add(stats["files_by_metre"], piece.metre)
    for k, v in piece.bars_kept.items():
        _add(stats["bars_kept_by_metre"], k, v)
    for k, v in piece.bars_skipped.items():
        _add(stats["bars_skipped_by_metre"], k, v)
    for k, v in piece.notes.items():
        _add(stats["notes"], k, v)
    stats["windows"]["dropped_mostly_rest"] += piece.silent_windows
    if piece.skipped:
        stats["skipped"][piece.skipped] += 1
        examples = stats["skipped_examples"].setdefault(piece.skipped, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(f"{piece.name}: {piece.detail}")
        if piece.skipped == "unsupported_metre":
            _add(stats["skipped_by_metre"], piece.metre)
        return
    if piece.bars_kept and piece.bars_skipped:
        stats["partially_kept"] += 1
    if not piece.windows:
        stats["no_windows"] += 1
        examples = stats["skipped_examples"].setdefault("no_windows", [])
        if len(examples) < MAX_EXAMPLES:
            kept = sum(piece.bars_kept.values())
            examples.append(f"{piece.name}: " + (
                f"all {piece.candidates} windows mostly rest" if piece.candidates else
                f"no stretch in a kept metre holds a {stats['steps']}-step window ({kept} bars in kept metres)"))
        return
    stats["files_used"] += 1
    stats["pieces"][split] += 1
    stats["windows"][split] += len(piece.windows)


def _tensor(rows: list[list[int]], steps: int) -> Tensor:
    if not rows:
        return torch.empty(0, steps, dtype=torch.long)
    return torch.tensor(rows, dtype=torch.long)


def _progress(items, total: int, desc: str, progress: bool):
    from tqdm.auto import tqdm
    return tqdm(items, total=total, desc=desc, unit="file", leave=False, disable=None if progress else True)


def extract_midi_windows(paths: Sequence[str | Path], bars: int, *, name: str = "midi",
                         root: str | Path | None = None, max_rest_fraction: float = DEFAULT_MAX_REST_FRACTION,
                         progress: bool = False) -> MusicCorpus:
    """Windows from MIDI files (see the module notes); bad files are skipped and counted, never raised.

    ``root``: the folder that file names in the listing checksum are relative to (default: the files' own folder).
    ``stats['listing_sha256']`` is the checksum of the files read (``_folder_listing_sha256``).
    """
    _check_args(bars, max_rest_fraction)
    t0 = time.perf_counter()
    steps = bars * STEPS_PER_BAR
    stats = _new_stats(name, bars, max_rest_fraction)
    rows: dict[str, list] = {"train": [], "test": []}
    sources: dict[str, list] = {"train": [], "test": []}
    digests: dict[str, str] = {}
    paths = [Path(p) for p in paths]
    for path in _progress(paths, len(paths), f"{name} ({bars} bars)", progress):
        rel = path.relative_to(root).as_posix() if root is not None else path.name
        split = "test" if is_test_piece(path.name) else "train"
        try:
            data = path.read_bytes()
        except OSError as e:
            piece = PieceWindows(path.name, skipped="corrupt", detail=f"cannot read: {e.strerror or e}")
            _record(stats, piece, split)
            continue
        digests[rel] = hashlib.sha256(data).hexdigest()
        try:
            midi = read_midi_bytes(data, path)
        except MidiReadError as e:
            _record(stats, PieceWindows(path.name, skipped="corrupt", detail=e.reason), split)
            continue
        piece = midi_windows(midi, bars, name=path.name, max_rest_fraction=max_rest_fraction)
        _record(stats, piece, split)
        if not piece.skipped:
            rows[split] += piece.windows
            sources[split] += [(path.name, s) for s in piece.starts]
    stats["listing_sha256"] = _folder_listing_sha256(digests)
    stats["split"] = (f"test = files whose sha256(file name)[:8] as hex is 0 mod {TEST_MODULUS} "
                      f"({stats['pieces']['test']} of {stats['files_used']} used files)")
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return MusicCorpus(name, bars, _tensor(rows["train"], steps), _tensor(rows["test"], steps), stats,
                       sources["train"], sources["test"])


def _check_args(bars: int, max_rest_fraction: float) -> None:
    if type(bars) is not int or bars < 1:
        raise ValueError(f"bars must be a positive integer (2 or 16 as in MusicVAE), got {bars!r}")
    if not 0 <= max_rest_fraction <= 1:
        raise ValueError(f"max_rest_fraction must be between 0 and 1, got {max_rest_fraction!r}")


def _jsb_pitch(value, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not (value == -1 or 0 <= value <= 127):
        raise CorpusError(f"{where}: expected a MIDI pitch 0..127 or -1 (silence), got {value!r}")
    return int(value)


def satb_windows(data: object, bars: int, *, path: str | Path = "<satb json>", voice: str = "soprano",
                 max_rest_fraction: float = DEFAULT_MAX_REST_FRACTION, progress: bool = False,
                 name: str = "jsb_chorales") -> MusicCorpus:
    """Windows from chorales given as {"train"|"valid"|"test": [chorale: [step: [S, A, T, B]]]} (16th-note
    steps, -1 = silence; ``Jsb16thSeparated.json``). Format errors raise CorpusError naming the file and place."""
    _check_args(bars, max_rest_fraction)
    if voice not in ("soprano", "highest"):
        raise ValueError(f"voice must be 'soprano' or 'highest', got {voice!r}")
    if not (isinstance(data, dict) and set(data) >= {"train", "test"}):
        raise CorpusError(f"{path}: expected a JSON object with 'train', 'valid' and 'test' lists of chorales")
    t0 = time.perf_counter()
    steps = bars * STEPS_PER_BAR
    stats = _new_stats(name, bars, max_rest_fraction)
    stats["voice"] = voice
    stats["voice_crossing_steps"] = 0
    rows: dict[str, list] = {"train": [], "test": []}
    sources: dict[str, list] = {"train": [], "test": []}
    items = [(part, i, ch) for part in ("train", "valid", "test") for i, ch in enumerate(data.get(part) or [])]
    for part, i, chorale in _progress(items, len(items), f"{name} ({bars} bars)", progress):
        where = f"{path}: {part} chorale {i}"
        split = "test" if part == "test" else "train"
        if not isinstance(chorale, list):
            raise CorpusError(f"{where}: expected a list of steps")
        line: list[int] = []
        for s, step in enumerate(chorale):
            if not (isinstance(step, list) and step):
                raise CorpusError(f"{where}, step {s}: expected a list of voice pitches")
            ps = [_jsb_pitch(v, f"{where}, step {s}") for v in step]
            sounding = [p for p in ps if p >= 0]
            if ps[0] >= 0 and any(p > ps[0] for p in ps[1:]):
                stats["voice_crossing_steps"] += 1
            line.append(ps[0] if voice == "soprano" else max(sounding, default=-1))
        notes: list[StepNote] = []
        s = 0
        while s < len(line):
            e = s + 1
            while e < len(line) and line[e] == line[s]:
                e += 1
            if line[s] >= 0:
                notes.append(StepNote(s, e, line[s]))
            s = e
        counts = {"notes": len(notes), "transposed": sum(not MIN_PITCH <= n.pitch <= MAX_PITCH for n in notes)}
        notes = [StepNote(n.start, n.end, fold_pitch(n.pitch)) for n in notes]
        piece = PieceWindows(f"{part}/{i}", metre="16 steps per bar (assumed)", notes=counts)
        if not notes:
            piece.skipped, piece.detail = "empty", "the voice is silent throughout"
        else:
            n_bars = math.ceil(len(line) / STEPS_PER_BAR)
            piece.bars_kept[piece.metre] += n_bars
            events, pitches = melody_steps(notes, n_bars * STEPS_PER_BAR)
            _cut(events, pitches, [(0, n_bars * STEPS_PER_BAR, STEPS_PER_BAR)], steps,
                 max_rest_fraction, piece)
        _record(stats, piece, split)
        if not piece.skipped:
            rows[split] += piece.windows
            sources[split] += [(piece.name, st) for st in piece.starts]
    stats["split"] = "published split: train + valid -> train, test -> test"
    stats["seconds"] = round(time.perf_counter() - t0, 3)
    return MusicCorpus(name, bars, _tensor(rows["train"], steps), _tensor(rows["test"], steps), stats,
                       sources["train"], sources["test"])


def _music_manifests() -> dict:
    from seqgan.data import registry
    return {n: m for n, m in registry.load_manifests().items() if m.kind == "music"}


def load_music_corpus(name: str, bars: int = 2, root: str | Path | None = None, *,
                      max_rest_fraction: float = DEFAULT_MAX_REST_FRACTION, max_files: int | None = None,
                      progress: bool = True, voice: str | None = None) -> MusicCorpus:
    """Melody windows of a registered music corpus (``nottingham``, ``jsb_chorales``) or of a folder of MIDI files.

    ``root`` is the data directory (default ``$SEQGAN_DATA``). ``max_files`` reads only the first files in sorted
    order (JSB: the first chorales of each published split), for quick looks and tests. ``voice`` (JSB only):
    "soprano" or "highest"; default: the manifest's ``music.voice``. Raises CorpusError when nothing can be found or nothing is usable; single bad
    files are skipped and counted in ``stats``.
    """
    from seqgan.data import registry

    _check_args(bars, max_rest_fraction)
    manifests = _music_manifests()
    if name not in manifests:
        folder = Path(name)
        if folder.is_dir():
            paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in MIDI_SUFFIXES and p.is_file())
            if not paths:
                raise CorpusError(f"{folder}: no MIDI files (*.mid, *.midi) in this folder or below it")
            corpus = extract_midi_windows(paths[:max_files], bars, name=str(folder), root=folder,
                                          max_rest_fraction=max_rest_fraction, progress=progress)
            return _usable(corpus, f"{folder}")
        raise CorpusError(f"unknown music corpus '{name}'; known music corpora: {', '.join(manifests) or 'none'}; "
                          "or pass a folder of MIDI files")
    m = manifests[name]
    folder = registry.locate(name, root)          # CorpusError naming the place and $SEQGAN_DATA when missing
    spec = dict(m.music or {})
    fmt = spec.get("format")
    if fmt == "midi":
        pattern = spec.get("pattern")
        if not isinstance(pattern, str) or not pattern:
            raise CorpusError(f"corpus manifest {m.manifest_path}: music.pattern must name the MIDI files")
        paths = sorted(folder.glob(pattern))
        if not paths:
            raise CorpusError(f"corpus '{name}': no files match {folder / pattern}; set {DATA_ENV} to the folder "
                              f"holding {m.folder}/ (with {pattern} inside)")
        corpus = extract_midi_windows(paths[:max_files], bars, name=name, root=folder,
                                      max_rest_fraction=max_rest_fraction, progress=progress)
        expected, count = spec.get("listing_sha256"), spec.get("count")
        actual = corpus.stats.pop("listing_sha256")
        corpus.stats["listing"] = {
            "files": len(paths), "expected_files": count, "sha256": actual, "expected_sha256": expected,
            "matches": max_files is None and actual == expected and len(paths) == count}
        return _usable(corpus, f"{folder / pattern}")
    if fmt == "satb-json":
        rel = spec.get("file")
        if not isinstance(rel, str) or rel not in m.files:
            raise CorpusError(f"corpus manifest {m.manifest_path}: music.file must be one of the 'files'")
        path = folder / rel
        try:
            raw = path.read_bytes()
        except OSError as e:
            raise CorpusError(f"corpus '{name}': cannot read {path} ({e.strerror or e}); set {DATA_ENV} to the "
                              f"folder holding {m.folder}/") from None
        actual = hashlib.sha256(raw).hexdigest()
        if actual != m.files[rel]:
            raise CorpusError(f"{path}: checksum mismatch: sha256 {actual}, expected {m.files[rel]} (manifest "
                              f"{m.manifest_path}); restore the original from {m.source}")
        try:
            data = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise CorpusError(f"{path}: not valid JSON ({e})") from None
        if max_files is not None and isinstance(data, dict):
            data = {k: v[:max_files] if isinstance(v, list) else v for k, v in data.items()}
        voice = voice if voice is not None else str(spec.get("voice", "soprano"))
        corpus = satb_windows(data, bars, path=path, voice=voice, max_rest_fraction=max_rest_fraction,
                              progress=progress, name=name)
        return _usable(corpus, str(path))
    raise CorpusError(f"corpus manifest {m.manifest_path}: unknown music format {fmt!r}")


def _usable(corpus: MusicCorpus, where: str) -> MusicCorpus:
    if len(corpus.train) + len(corpus.test) == 0:
        s = corpus.stats
        skipped = ", ".join(f"{k} {v}" for k, v in s["skipped"].items() if v) or "none"
        raise CorpusError(f"{where}: no usable {corpus.bars}-bar window in {s['files']} pieces (skipped: {skipped}; "
                          f"no window: {s['no_windows']}; windows dropped as mostly rest: "
                          f"{s['windows']['dropped_mostly_rest']})")
    return corpus


# ---- transposition augmentation -------------------------------------------------------------------------------

def transpose_bounds(x: Tensor) -> tuple[Tensor, Tensor]:
    """Per row of event classes (N, T): the lowest and highest shift in semitones that keep every note-on within
    MIDI 21..108 (rows without a note-on: -87 .. 87)."""
    notes = x >= FIRST_PITCH_CLASS
    span = MAX_PITCH - MIN_PITCH
    big = torch.full_like(x, NUM_CLASSES)
    lowest = torch.where(notes, x, big).amin(dim=1)
    highest = torch.where(notes, x, torch.zeros_like(x)).amax(dim=1)
    has = notes.any(dim=1)
    low = torch.where(has, FIRST_PITCH_CLASS - lowest, torch.full_like(lowest, -span))
    high = torch.where(has, NUM_CLASSES - 1 - highest, torch.full_like(highest, span))
    return low, high


def transpose(x: Tensor, k: int | Tensor) -> Tensor:
    """Shift every note-on of ``x`` (N, T) by ``k`` semitones (an int, or one per row); raises ValueError when a
    row would leave MIDI 21..108 (use ``random_transpose`` or ``transpose_bounds``)."""
    k_rows = torch.as_tensor(k, dtype=x.dtype, device=x.device).expand(x.shape[0])
    low, high = transpose_bounds(x)
    out_of_range = (k_rows < low) | (k_rows > high)
    if bool(out_of_range.any()):
        raise ValueError(f"transposing would take {int(out_of_range.sum())} of {x.shape[0]} windows outside MIDI "
                         f"{MIN_PITCH}..{MAX_PITCH}; use random_transpose or check transpose_bounds first")
    return torch.where(x >= FIRST_PITCH_CLASS, x + k_rows[:, None], x)


def random_transpose(x: Tensor, max_shift: int = 5, generator: torch.Generator | None = None
                     ) -> tuple[Tensor, Tensor]:
    """Shift each row by its own uniform random k in -max_shift..max_shift among the shifts that keep it in range
    (0 is always allowed). Returns (shifted rows, k per row)."""
    if max_shift < 0:
        raise ValueError(f"max_shift must be >= 0, got {max_shift}")
    low, high = transpose_bounds(x)
    lo = low.clamp(-max_shift, 0)
    hi = high.clamp(0, max_shift)
    u = torch.rand(x.shape[0], generator=generator, device=x.device)
    k = torch.minimum(lo + torch.floor(u * (hi - lo + 1).to(u.dtype)).long(), hi)
    return transpose(x, k), k
