"""Text corpora: strict reading, tokenization, vocabulary and fixed-width id rows.

``load_text_corpus(spec)`` takes a registry name (``image_coco``, ``ptb``, ...; see ``seqgan.data.registry``) or a
user's own ``path/to/train.txt[,path/to/test.txt]`` (file names must not contain commas).

Reading is strict, and each problem is one CorpusError naming the file: not found (and where it looked), not a
file, not valid gzip (``.gz`` files are decompressed), binary (NUL bytes), invalid UTF-8 (with the 1-based line
number), empty or only blank lines, and for registry corpora a sha256 that differs from the manifest. A leading
UTF-8 byte-order mark is dropped. Lines are split on "\\n" only, surrounding whitespace (and "\\r") is stripped,
blank lines are skipped and counted.

The lines then go through an in-memory HF ``datasets.Dataset`` for tokenization (offline: HF_DATASETS_OFFLINE is set
before ``datasets`` is imported, nothing is downloaded and no cache file is written). The vocabulary comes from the
training split only; valid/test tokens outside it become UNK.

Rows: the ids of a line, cut to ``max_len`` tokens (or the line dropped, or an error: ``long_lines``), then EOS,
then PAD up to ``max_len + 1``: every split is an (N, max_len + 1) int64 tensor, and every row holds exactly one EOS.
``train_lines``/``valid_lines``/``test_lines`` are the stripped raw lines of the rows, in row order (all of a
split's non-blank lines unless ``long_lines="drop"`` dropped some), used as BLEU references.
"""
from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from seqgan.data.corpus import DATA_ENV, CorpusError
from seqgan.data.registry import PATH_HINT, CorpusManifest, get_manifest, list_corpora, load_manifests, locate
from seqgan.data.vocab import BOS, EOS, PAD, UNK, Vocab, tokenize

LONG_LINES = ("truncate", "drop", "error")
LEVELS = ("word", "char", "bpe")
WORD_TOKENIZERS = ("nltk", "whitespace")


@dataclass
class TextCorpus:
    name: str
    train: Tensor                       # (N, max_len + 1) int64: ids, EOS, PAD...
    test: Tensor | None                 # (M, max_len + 1) int64, None when the corpus has no test split
    vocab: Vocab
    max_len: int                        # most real tokens per row (EOS excluded)
    level: str                          # "word", "char" or "bpe"
    train_lines: list[str]              # raw (stripped) text of each train row
    test_lines: list[str] | None        # raw text of each test row: the BLEU references
    stats: dict                         # counts per split, see load_text_corpus
    source: str                         # where the data came from, for the user and the checkpoint
    valid: Tensor | None = None
    valid_lines: list[str] | None = None

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    @property
    def seq_len(self) -> int:
        """Row width: max_len tokens + EOS."""
        return self.max_len + 1

    @property
    def start_token(self) -> int:
        return BOS

    @property
    def eos_token(self) -> int:
        return EOS

    @property
    def pad_token(self) -> int:
        return PAD


@dataclass
class _Lines:
    path: Path
    lines: list[str]          # non-blank, stripped
    linenos: list[int]        # 1-based line number of each in the file
    blank: int                # blank lines skipped


# ---------------------------------------------------------------------------------------------------------------------
# strict reading

def _read_bytes(path: Path, where: str) -> bytes:
    if not path.exists():
        raise CorpusError(f"{path}: file not found ({where})")
    if not path.is_file():
        raise CorpusError(f"{path}: not a regular file ({where}); expected a UTF-8 text file, one sentence per line")
    try:
        return path.read_bytes()
    except OSError as e:
        raise CorpusError(f"{path}: cannot be read ({e.strerror or e})") from None


def _decode(path: Path, data: bytes, keep_blank: bool = False) -> _Lines:
    if path.suffix == ".gz":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise CorpusError(f"{path}: not a valid gzip file ({e}); re-download it or remove the .gz suffix "
                              "if it is plain text") from None
    nul = data.find(b"\x00")
    if nul >= 0:
        hint = ""
        if data[:2] in (b"\xff\xfe", b"\xfe\xff"):
            hint = " (it looks like UTF-16: convert it to UTF-8)"
        elif data[:2] == b"\x1f\x8b":
            hint = " (it looks gzip-compressed: name it .gz)"
        raise CorpusError(f"{path}: binary file (NUL byte at offset {nul}){hint}; expected UTF-8 text, one sentence "
                          "per line")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        column = e.start - (data.rfind(b"\n", 0, e.start) + 1) + 1
        raise CorpusError(f"{path}, line {line}: invalid UTF-8 (byte 0x{data[e.start]:02x} at byte column "
                          f"{column}); convert the file to UTF-8") from None
    if text.startswith("\ufeff"):
        text = text[1:]
    raw = text.split("\n")
    if raw and raw[-1] == "":
        raw.pop()  # the final newline ends the last line, it does not start a blank one
    lines, linenos, blank = [], [], 0
    for i, line in enumerate(raw, 1):
        line = line.strip()
        if line or keep_blank:
            lines.append(line)
            linenos.append(i)
        if not line:
            blank += 1
    if not any(lines):
        raise CorpusError(f"{path}: empty file" if not raw else
                          f"{path}: only blank lines ({blank}); expected one sentence per line")
    return _Lines(path, lines, linenos, blank)


def _read(path: Path, where: str, expected_sha256: str | None = None, manifest: CorpusManifest | None = None
          ) -> _Lines:
    data = _read_bytes(path, where)
    if expected_sha256 is not None:
        actual = hashlib.sha256(data).hexdigest()
        if actual != expected_sha256:
            origin = f"{manifest.manifest_path}" if manifest is not None else "the corpus manifest"
            source = f" from {manifest.source}" if manifest is not None else ""
            raise CorpusError(f"{path}: checksum mismatch: sha256 {actual}, expected {expected_sha256} ({origin}); "
                              f"the file is corrupt or a different version: restore the original{source}, or use "
                              f"it as your own corpus with --corpus {path}")
    return _decode(path, data)


def read_lines(path: str | Path, *, expected_sha256: str | None = None, keep_blank: bool = False) -> list[str]:
    """The non-blank, stripped lines of a UTF-8 text file (``.gz``: gzip), read strictly (see the module doc).

    ``keep_blank``: keep blank lines as "" (generated samples: an empty sentence is a sample too)."""
    path = Path(path)
    where = f"working directory {Path.cwd()}"
    if keep_blank:
        return _decode(path, _read_bytes(path, where), keep_blank=True).lines
    return _read(path, where, expected_sha256).lines


def read_corpus_lines(name: str, split: str = "test", *, root: Path | str | None = None) -> list[str]:
    """The raw lines of one split of a registry corpus, checksum-verified (e.g. emnlp_news' test references)."""
    manifest = _text_manifest(name)
    files = _registry_splits(manifest, root)
    if split not in files:
        raise CorpusError(f"corpus '{name}' has no {split} split; it has: {', '.join(files)}")
    return files[split].lines


# ---------------------------------------------------------------------------------------------------------------------
# spec resolution

def _text_manifest(name: str) -> CorpusManifest:
    manifest = get_manifest(name)
    if manifest.kind != "text":
        loader = ("seqgan.music.dataset.load_music_corpus" if manifest.kind == "music"
                  else "seqgan.data.corpus.load_corpus")
        raise CorpusError(f"corpus '{name}' is not a text corpus ({manifest.kind}); load it with {loader}")
    return manifest


def _registry_splits(manifest: CorpusManifest, root: Path | str | None, *, need_train: bool = False
                     ) -> dict[str, _Lines]:
    if need_train and manifest.train is None:
        raise CorpusError(
            f"corpus '{manifest.name}' has no training split: only its test file {manifest.folder}/{manifest.test} "
            f"is available (see {manifest.manifest_path}). It can serve as BLEU references "
            f"(seqgan.data.text.read_corpus_lines('{manifest.name}', 'test')) but cannot be trained on; to train, "
            f"{PATH_HINT} with your own training file, e.g. "
            f"--corpus path/to/train.txt,${DATA_ENV}/{manifest.folder}/{manifest.test}")
    folder = locate(manifest.name, root)
    where = f"corpus '{manifest.name}' in {folder}"
    read: dict[str, _Lines] = {}
    out: dict[str, _Lines] = {}
    for split, rel in manifest.splits.items():
        if rel not in read:
            read[rel] = _read(folder / rel, where, manifest.files[rel], manifest)
        out[split] = read[rel]
    if manifest.split is not None:  # one file, the last fraction held out
        whole = out["train"]
        n_test = int(len(whole.lines) * manifest.split["test_last_fraction"])
        cut = len(whole.lines) - n_test
        out["train"] = _Lines(whole.path, whole.lines[:cut], whole.linenos[:cut], whole.blank)
        out["test"] = _Lines(whole.path, whole.lines[cut:], whole.linenos[cut:], 0)
    return out


def _path_splits(spec: str) -> dict[str, _Lines]:
    parts = [p.strip() for p in spec.split(",")]
    if len(parts) > 2 or not all(parts):
        raise CorpusError(f"corpus spec '{spec}': expected path/to/train.txt or path/to/train.txt,path/to/test.txt "
                          "(one comma at most, no empty parts)")
    where = f"from --corpus '{spec}', working directory {Path.cwd()}"
    out = {"train": _read(Path(parts[0]).expanduser(), where)}
    if len(parts) == 2:
        out["test"] = _read(Path(parts[1]).expanduser(), where)
    return out


def _looks_like_path(spec: str) -> bool:
    return "," in spec or "/" in spec or os.sep in spec or "." in spec or Path(spec).exists()


# ---------------------------------------------------------------------------------------------------------------------
# tokenization through an in-memory datasets.Dataset

def _datasets():
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    import datasets

    return datasets


@contextmanager
def _no_progress_bars():
    from datasets.utils import logging as dlog

    was_enabled = dlog.is_progress_bar_enabled()
    dlog.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            dlog.enable_progress_bar()


def _map_lines(lines: Sequence[str], fn, column: str) -> list[list]:
    """``fn`` (a list of lines -> a list of lists) over the lines, batched through an in-memory Dataset."""
    datasets = _datasets()
    with _no_progress_bars():
        ds = datasets.Dataset.from_dict({"text": list(lines)})
        ds = ds.map(lambda batch: {column: fn(batch["text"])}, batched=True, batch_size=2000, keep_in_memory=True,
                    load_from_cache_file=False, remove_columns=["text"], new_fingerprint=f"seqgan-{column}")
        return ds.to_dict()[column]


# ---------------------------------------------------------------------------------------------------------------------
# rows

def _encode_rows(split: str, src: _Lines, ids: list[list[int]], max_len: int, long_lines: str
                 ) -> tuple[Tensor, list[str], dict]:
    rows, kept_lines = [], []
    truncated = dropped = 0
    width = max_len + 1
    for line, lineno, seq in zip(src.lines, src.linenos, ids):
        if len(seq) > max_len:
            if long_lines == "error":
                raise CorpusError(f"{src.path}, line {lineno}: {len(seq)} tokens, more than max_len={max_len} "
                                  f"(long_lines='error'); raise max_len (--max-len {len(seq)} or more), or use "
                                  "long_lines='truncate' or 'drop'")
            if long_lines == "drop":
                dropped += 1
                continue
            truncated += 1
            seq = seq[:max_len]
        rows.append(seq + [EOS] + [PAD] * (max_len - len(seq)))
        kept_lines.append(line)
    if not rows:
        raise CorpusError(f"{src.path}: all {len(src.lines)} {split} lines are longer than max_len={max_len} "
                          "and were dropped; raise max_len or use long_lines='truncate'")
    tensor = torch.tensor(rows, dtype=torch.int64).reshape(len(rows), width)
    n_tokens = sum(len(s) for s in ids)
    unk = sum(s.count(UNK) for s in ids)
    stats = {"file": str(src.path), "lines": len(src.lines), "blank_skipped": src.blank, "rows": len(rows),
             "tokens": n_tokens, "max_tokens": max((len(s) for s in ids), default=0), "truncated": truncated,
             "dropped": dropped, "unk": unk, "unk_rate": unk / n_tokens if n_tokens else 0.0}
    return tensor, kept_lines, stats


# ---------------------------------------------------------------------------------------------------------------------
# the loader

def load_text_corpus(spec: str, *, level: str | None = None, max_len: int | None = None,
                     long_lines: str = "truncate", min_freq: int = 1, max_vocab: int | None = None,
                     bpe_vocab_size: int = 8000, tokenizer: str | None = None, lowercase: bool | None = None,
                     root: Path | str | None = None) -> TextCorpus:
    """Load a text corpus as fixed-width id rows.

    spec        a registry name (``seqgan.data.registry.list_corpora()``) or ``path/to/train.txt[,path/to/test.txt]``
    level       "word", "char" or "bpe"; None: the manifest's level (user files: "word")
    max_len     most tokens per row before EOS; None: the manifest's default when the level is the manifest's,
                otherwise the longest training line
    long_lines  what to do with a line longer than max_len: "truncate" (keep its first max_len tokens), "drop", or
                "error" (CorpusError naming file and line)
    min_freq, max_vocab   vocabulary from the training split: tokens seen at least min_freq times, at most
                max_vocab entries including the 4 specials (most frequent first)
    bpe_vocab_size        BPE vocabulary size including the specials (capped by max_vocab when that is given)
    tokenizer   word level only: "nltk" or "whitespace"; None: the manifest's (user files: "nltk", the BLEU one)
    lowercase   None: the manifest's setting (user files: False)
    root        data directory; None: $SEQGAN_DATA

    ``stats``: per split ("train", "valid", "test") a dict with file, lines (non-blank lines read), blank_skipped,
    rows, tokens, max_tokens (before truncation), truncated, dropped, unk (tokens mapped to UNK, including text that
    literally reads "<unk>", as in PTB) and unk_rate; top level: vocab_size, level, tokenizer, lowercase, max_len,
    long_lines, checksums ("verified" or "none (user files)"), test_unk_rate (None without a test split).
    """
    if long_lines not in LONG_LINES:
        raise CorpusError(f"long_lines must be one of {', '.join(LONG_LINES)}, got {long_lines!r}")
    if level is not None and level not in LEVELS:
        raise CorpusError(f"level must be one of {', '.join(LEVELS)}, got {level!r}")
    if tokenizer is not None and tokenizer not in WORD_TOKENIZERS:
        raise CorpusError(f"tokenizer must be one of {', '.join(WORD_TOKENIZERS)} (word level), got {tokenizer!r}")
    if max_len is not None and (type(max_len) is not int or max_len < 1):
        raise CorpusError(f"max_len must be a positive integer, got {max_len!r}")
    if type(min_freq) is not int or min_freq < 1:
        raise CorpusError(f"min_freq must be a positive integer, got {min_freq!r}")
    if max_vocab is not None and (type(max_vocab) is not int or max_vocab <= 4):
        raise CorpusError(f"max_vocab must be an integer above 4 (the special tokens), got {max_vocab!r}")

    manifest: CorpusManifest | None = None
    if spec in load_manifests():
        manifest = _text_manifest(spec)
        splits = _registry_splits(manifest, root, need_train=True)
        name = manifest.name
    elif _looks_like_path(spec):
        splits = _path_splits(spec)
        name = spec
    else:
        raise CorpusError(f"unknown corpus '{spec}'; known corpora: {', '.join(list_corpora())}; or {PATH_HINT}")

    # tokenizer settings: explicit arguments, else the manifest's, else word level with NLTK's tokenizer
    level = level or (manifest.level if manifest else "word")
    if tokenizer is not None and level != "word":
        raise CorpusError(f"tokenizer={tokenizer!r} applies to word level only (level is {level!r})")
    if level == "word":
        tok_name = tokenizer or (manifest.tokenizer if manifest and manifest.level == "word" else "nltk")
    else:
        tok_name = level
    if lowercase is None:
        lowercase = manifest.lowercase if manifest else False

    train_src = splits["train"]
    if tok_name == "bpe":
        size = bpe_vocab_size if max_vocab is None else min(bpe_vocab_size, max_vocab)
        vocab = Vocab.train_bpe(train_src.lines, vocab_size=size, min_freq=min_freq, lowercase=lowercase)
        ids = {s: _map_lines(src.lines, vocab.encode_lines, "ids") for s, src in splits.items()}
    else:
        tokens = {s: _map_lines(src.lines, lambda batch: [tokenize(x, tok_name, lowercase=lowercase) for x in batch],
                                "tokens") for s, src in splits.items()}
        vocab = Vocab.build(tokens["train"], min_freq=min_freq, max_size=max_vocab, tokenizer=tok_name,
                            lowercase=lowercase)
        ids = {s: [vocab.encode(t) for t in toks] for s, toks in tokens.items()}

    if max_len is None:
        same = manifest is not None and manifest.level == level and manifest.tokenizer == tok_name
        max_len = manifest.max_len if same else max(len(s) for s in ids["train"])

    stats: dict = {"vocab_size": len(vocab), "level": level, "tokenizer": tok_name, "lowercase": lowercase,
                   "max_len": max_len, "long_lines": long_lines,
                   "checksums": "verified" if manifest else "none (user files)"}
    tensors, lines = {}, {}
    for s in ("train", "valid", "test"):
        if s in splits:
            tensors[s], lines[s], stats[s] = _encode_rows(s, splits[s], ids[s], max_len, long_lines)
    stats["test_unk_rate"] = stats["test"]["unk_rate"] if "test" in stats else None

    if manifest is not None:
        files = ", ".join(f"{s} {splits[s].path.name}" for s in ("train", "valid", "test") if s in splits)
        held = (f"; test = last {manifest.split['test_last_fraction']:.0%} of the lines"
                if manifest.split is not None else "")
        source = (f"corpus '{manifest.name}' from {train_src.path.parent} ({files}{held}; sha256 verified); "
                  f"originally {manifest.source}")
    else:
        source = "user files: " + ", ".join(f"{s} {splits[s].path.resolve()}" for s in ("train", "test")
                                            if s in splits) + " (no checksums)"
    return TextCorpus(name=name, train=tensors["train"], test=tensors.get("test"), vocab=vocab, max_len=max_len,
                      level=level, train_lines=lines["train"], test_lines=lines.get("test"), stats=stats,
                      source=source, valid=tensors.get("valid"), valid_lines=lines.get("valid"))


def decode_rows(vocab: Vocab, tensor: Tensor) -> list[str]:
    """Text of each row of an (N, T) id tensor: up to its first EOS, PAD/BOS skipped, detokenized."""
    if tensor.dim() != 2:
        raise ValueError(f"expected an (N, T) tensor of token ids, got shape {tuple(tensor.shape)}")
    return [vocab.decode_text(row) for row in tensor.tolist()]


def describe_stats(stats: dict) -> str:
    """One line for the user: per split the rows kept and what max_len did to the rest; the vocabulary."""
    parts = []
    for split in ("train", "valid", "test"):
        st = stats.get(split)
        if st:
            cut = f", {st['truncated']} truncated" if st["truncated"] else ""
            cut += f", {st['dropped']} dropped" if st["dropped"] else ""
            parts.append(f"{split} {st['rows']} lines (longest {st['max_tokens']} tokens{cut}, UNK {st['unk_rate']:.1%})")
    return (f"{'; '.join(parts)}; {stats['level']} level ({stats['tokenizer']}), vocabulary {stats['vocab_size']}, "
            f"max_len {stats['max_len']} ({stats['long_lines']} longer lines)")
