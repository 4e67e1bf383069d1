"""The corpus registry: one JSON manifest per corpus in the project's top-level ``corpora/`` folder.

A manifest says what a corpus is and where to get it; the data itself stays outside the project, in a data directory
given by ``$SEQGAN_DATA`` (``<data dir>/<folder>/<files>``). Fields (all manifests):

    name, folder, description, citation, license, source (public address for users elsewhere),
    files {path relative to folder: sha256 of the file as stored, gzip files compressed}, preprocessing (prose)

Text manifests (``"kind": "text"``) add:

    train, test, valid   file names (train may be null: a reference-only corpus; valid is optional)
    level                "word" or "char"
    tokenizer            "nltk" or "whitespace" (word level), "char" (char level); see seqgan.data.vocab
    lowercase            whether the loader lower-cases the text (false everywhere so far: the files are used as is)
    max_len              default maximum tokens per sentence (rows are max_len + 1 long: EOS and padding follow)
    split                only where train and test are the same file: {"test_last_fraction": f} makes the last
                         int(f * n) non-blank lines the test split
    stats                measured counts, for reference: lines, max_tokens per split, vocab_size

Audio manifests (``"kind": "audio"``) add ``audio``: ``{"format": "wav-folder", "pattern", "count",
"listing_sha256", "sample_rate"}`` (``files`` lists a checksummed sample; ``seqgan.audio.data`` reads the folder).

Music manifests (``"kind": "music"``) add ``music``: an object whose ``format`` says how
``seqgan.music.dataset`` reads the corpus ("midi": a folder of MIDI files, given by ``pattern``, ``count`` and
``listing_sha256``, since ``files`` lists a checksummed sample only; "satb-json": one JSON file of voices per step);
the music loader validates the rest of the object.

A manifest without ``kind`` and without ``level`` (``seqgan-oracle-lstm.json``) describes the synthetic ``oracle``
corpus: it is listed and checked like the others and loaded by ``seqgan.data.corpus.load_corpus``.
"""
from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Mapping

from seqgan.data.corpus import DATA_ENV, CorpusError, data_dir

MANIFEST_DIR = Path(__file__).resolve().parents[2] / "corpora"
COMMON_FIELDS = ("name", "folder", "description", "citation", "license", "source", "files", "preprocessing")
TEXT_FIELDS = ("train", "test", "level", "tokenizer", "lowercase", "max_len")
MUSIC_FIELDS = ("music",)
AUDIO_FIELDS = ("audio",)
MUSIC_FORMATS = ("midi", "satb-json")
LEVEL_TOKENIZERS = {"word": ("nltk", "whitespace"), "char": ("char",)}
PATH_HINT = "pass --corpus path/to/train.txt[,path/to/test.txt]"

PRESENT, MISSING, MISMATCH = "present", "missing", "checksum mismatch"


@dataclass(frozen=True)
class CorpusManifest:
    name: str
    folder: str
    description: str
    citation: str
    license: str
    source: str
    files: Mapping[str, str]          # relative path -> sha256
    preprocessing: str
    kind: str                         # "text", "music" or "oracle"
    train: str | None = None
    test: str | None = None
    valid: str | None = None
    level: str | None = None
    tokenizer: str | None = None
    lowercase: bool = False
    max_len: int | None = None
    split: Mapping[str, float] | None = None
    music: Mapping[str, object] | None = None     # kind "music" only: how seqgan.music.dataset reads it
    manifest_path: Path | None = None
    raw: Mapping[str, object] = field(default_factory=dict, repr=False)

    @property
    def splits(self) -> dict[str, str]:
        """{"train"/"valid"/"test": file name} for the splits this corpus has."""
        return {s: f for s, f in (("train", self.train), ("valid", self.valid), ("test", self.test)) if f}


@dataclass(frozen=True)
class FileStatus:
    corpus: str
    file: str                 # relative to the corpus folder
    path: Path | None         # where it was looked for (None: no data directory)
    status: str               # PRESENT, MISSING or MISMATCH
    expected: str             # sha256 from the manifest
    actual: str | None = None
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status == PRESENT


def _manifest_error(path: Path, what: str) -> CorpusError:
    return CorpusError(f"corpus manifest {path}: {what}")


def parse_manifest(data: object, path: Path) -> CorpusManifest:
    """Validate one manifest's JSON object; every problem raises CorpusError naming the manifest file."""
    if not isinstance(data, dict):
        raise _manifest_error(path, "expected a JSON object")
    kind = data.get("kind", "text" if "level" in data else "oracle")
    if kind not in ("text", "music", "audio", "oracle"):
        raise _manifest_error(path, f"unknown kind {kind!r} (expected 'text', 'music', 'audio' or 'oracle')")
    required = COMMON_FIELDS + {"text": TEXT_FIELDS, "music": MUSIC_FIELDS, "audio": AUDIO_FIELDS}.get(kind, ())
    missing = [f for f in required if f not in data]
    if missing:
        raise _manifest_error(path, f"missing fields: {', '.join(missing)}")
    for f in COMMON_FIELDS:
        if f != "files" and not (isinstance(data[f], str) and data[f].strip()):
            raise _manifest_error(path, f"field '{f}' must be a non-empty string")
    files = data["files"]
    if not (isinstance(files, dict) and files and all(
            isinstance(k, str) and isinstance(v, str) and len(v) == 64 and all(c in "0123456789abcdef" for c in v)
            for k, v in files.items())):
        raise _manifest_error(path, "'files' must map file names to lower-case hex sha256 digests")
    extra: dict[str, object] = {}
    if kind == "music":
        music = data["music"]
        if not (isinstance(music, dict) and music.get("format") in MUSIC_FORMATS):
            raise _manifest_error(path, f"'music' must be an object whose 'format' is one of "
                                        f"{', '.join(MUSIC_FORMATS)}")
        extra = dict(music=MappingProxyType(dict(music)))
    if kind == "audio" and not (isinstance(data["audio"], dict) and data["audio"].get("format") == "wav-folder"):
        raise _manifest_error(path, "'audio' must be an object whose 'format' is wav-folder")
    if kind == "text":
        level, tokenizer = data["level"], data["tokenizer"]
        if level not in LEVEL_TOKENIZERS:
            raise _manifest_error(path, f"level must be one of {', '.join(LEVEL_TOKENIZERS)}, got {level!r}")
        if tokenizer not in LEVEL_TOKENIZERS[level]:
            raise _manifest_error(path, f"tokenizer for level {level} must be one of "
                                        f"{', '.join(LEVEL_TOKENIZERS[level])}, got {tokenizer!r}")
        if not isinstance(data["lowercase"], bool):
            raise _manifest_error(path, "'lowercase' must be true or false")
        max_len = data["max_len"]
        if type(max_len) is not int or max_len < 1:
            raise _manifest_error(path, f"'max_len' must be a positive integer, got {max_len!r}")
        for split in ("train", "test", "valid"):
            name = data.get(split)
            if name is not None and name not in files:
                raise _manifest_error(path, f"{split} file {name!r} is not listed in 'files'")
        if data["test"] is None:
            raise _manifest_error(path, "a text corpus needs a test file")
        split = data.get("split")
        if (split is not None) != (data["train"] is not None and data["train"] == data["test"]):
            raise _manifest_error(path, "'split' is required exactly when train and test are the same file")
        if split is not None:
            frac = split.get("test_last_fraction") if isinstance(split, dict) else None
            if set(split) != {"test_last_fraction"} or not isinstance(frac, float) or not 0 < frac < 1:
                raise _manifest_error(path, "'split' must be {\"test_last_fraction\": a number between 0 and 1}")
            split = MappingProxyType(dict(split))
        extra = dict(train=data["train"], test=data["test"], valid=data.get("valid"), level=level,
                     tokenizer=tokenizer, lowercase=data["lowercase"], max_len=max_len, split=split)
    return CorpusManifest(**{f: data[f] for f in COMMON_FIELDS if f != "files"},
                          files=MappingProxyType(dict(files)), kind=kind, manifest_path=path,
                          raw=MappingProxyType(dict(data)), **extra)


@lru_cache(maxsize=8)
def load_manifests(directory: Path = MANIFEST_DIR) -> Mapping[str, CorpusManifest]:
    """All manifests in ``directory`` (``*.json``), by corpus name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise CorpusError(f"corpus manifest folder {directory} not found")
    found: dict[str, CorpusManifest] = {}
    for path in sorted(directory.glob("*.json")):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise _manifest_error(path, f"not valid JSON ({e})") from None
        manifest = parse_manifest(data, path)
        if manifest.name in found:
            raise _manifest_error(path, f"corpus name '{manifest.name}' is also used by "
                                        f"{found[manifest.name].manifest_path}")
        found[manifest.name] = manifest
    return MappingProxyType(dict(sorted(found.items())))


def list_corpora() -> list[str]:
    """Names of all registered corpora (the synthetic ``oracle`` included), sorted."""
    return list(load_manifests())


def known_names() -> str:
    return ", ".join(list_corpora())


def get_manifest(name: str) -> CorpusManifest:
    manifests = load_manifests()
    if name not in manifests:
        raise CorpusError(f"unknown corpus '{name}'; known corpora: {known_names()}; or {PATH_HINT}")
    return manifests[name]


def _data_root(root: Path | str | None) -> tuple[Path | None, str]:
    """The data directory and how to describe it in messages."""
    if root is not None:
        return Path(root), f"data directory {root}"
    found = data_dir()
    if found is None:
        return None, f"${DATA_ENV} is not set"
    return found, f"${DATA_ENV}={os.environ.get(DATA_ENV)}"


def locate(name: str, root: Path | str | None = None) -> Path:
    """The corpus folder ``<data dir>/<folder>``; the data dir is ``root`` or ``$SEQGAN_DATA``.

    Raises CorpusError saying where it looked and what to do when the folder is not there.
    """
    manifest = get_manifest(name)
    base, described = _data_root(root)
    advice = f"set {DATA_ENV} to the folder holding {manifest.folder}/ or {PATH_HINT}"
    if base is None:
        raise CorpusError(f"corpus '{name}': {described}; {advice}")
    folder = base / manifest.folder
    if not folder.is_dir():
        raise CorpusError(f"corpus '{name}': {described}: {folder} not found; {advice}")
    return folder


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def listing_sha256(folder: Path, pattern: str) -> str:
    """sha256 of ``cd folder && LC_ALL=C sha256sum PATTERN | sha256sum``: pins a whole folder (names and contents)
    in one digest, as an audio manifest's ``listing_sha256`` records it."""
    paths = sorted(folder.glob(pattern), key=lambda p: p.relative_to(folder).as_posix().encode())
    lines = "".join(f"{sha256_file(p)}  {p.relative_to(folder).as_posix()}\n" for p in paths if p.is_file())
    return hashlib.sha256(lines.encode()).hexdigest()


def check(name: str, root: Path | str | None = None) -> list[FileStatus]:
    """Status of every file of a corpus (present / missing / checksum mismatch); never raises for data problems.

    An unknown corpus name still raises CorpusError (it is a usage error, not a data problem).
    """
    manifest = get_manifest(name)
    base, described = _data_root(root)
    out = []
    for rel, expected in manifest.files.items():
        if base is None:
            out.append(FileStatus(name, rel, None, MISSING, expected,
                                  message=f"{described}; set {DATA_ENV} to the folder holding {manifest.folder}/"))
            continue
        path = base / manifest.folder / rel
        if not path.is_file():
            out.append(FileStatus(name, rel, path, MISSING, expected, message=f"{path} not found ({described})"))
            continue
        try:
            actual = sha256_file(path)
        except OSError as e:
            out.append(FileStatus(name, rel, path, MISSING, expected, message=f"{path} cannot be read: {e}"))
            continue
        if actual != expected:
            out.append(FileStatus(name, rel, path, MISMATCH, expected, actual,
                                  f"{path}: sha256 {actual} differs from the manifest's {expected}; restore the "
                                  f"original from {manifest.source}"))
        else:
            out.append(FileStatus(name, rel, path, PRESENT, expected, actual, f"{path}: ok"))
    if base is not None:
        out += _check_listing(manifest, base / manifest.folder)
    return out


def _check_listing(manifest: CorpusManifest, folder: Path) -> list[FileStatus]:
    """The whole-folder digest of an audio or MIDI-folder manifest (``files`` checks only a sample), as one status
    named after the pattern; nothing for manifests without one."""
    spec = manifest.raw.get("audio") or manifest.raw.get("music") or {}
    pattern, expected = spec.get("pattern"), spec.get("listing_sha256")
    if not (isinstance(pattern, str) and isinstance(expected, str)):
        return []
    rel = f"{pattern} (all files)"
    count = sum(1 for p in folder.glob(pattern) if p.is_file()) if folder.is_dir() else 0
    if not count:
        return [FileStatus(manifest.name, rel, folder, MISSING, expected, message=f"no files match {folder / pattern}")]
    try:
        actual = listing_sha256(folder, pattern)
    except OSError as e:
        return [FileStatus(manifest.name, rel, folder, MISSING, expected, message=f"{folder}: cannot be read: {e}")]
    if actual != expected:
        return [FileStatus(manifest.name, rel, folder, MISMATCH, expected, actual,
                           f"{folder / pattern}: the listing's sha256 {actual} ({count} files) differs from the "
                           f"manifest's {expected} (files added, removed or changed); restore the original from "
                           f"{manifest.source}")]
    return [FileStatus(manifest.name, rel, folder, PRESENT, expected, actual, f"{folder / pattern}: {count} files ok")]


def check_all(root: Path | str | None = None) -> dict[str, list[FileStatus]]:
    """``check`` for every registered corpus."""
    return {name: check(name, root) for name in list_corpora()}
