"""Melodies as token sequences, so that the text trainers (SeqGAN and kin) train on music unchanged.

Encoding (why): one token per sixteenth-note step, the 90 MusicVAE event classes of ``seqgan.music.melody``
(note-off, no-event, note-on of MIDI pitch 21..108). The SeqGAN paper (Yu et al. 2017, "Music generation") sampled
one of 88 pitch values every 0.4 s; its preprocessing was never published. A pitch-per-step code cannot tell a held
note from a repeated one and has no rests, so it does not round-trip to MIDI; the event code does (rhythm, rests and
re-attacks), keeps the paper's 88 pitches (+ 2 control events) and reuses the MusicVAE windows and their fixed split.
Rows are 2-bar windows = 32 steps, the paper's sequence length (32 sixteenths at 120 bpm are 4 s, not 12.8 s).

Token names: ``off`` (note-off), ``hold`` (no-event: the sounding note goes on, or the silence), and note names with
flats and the octave number of scientific pitch notation (MIDI 60 = ``C4``, 21 = ``A0``, 61 = ``Db4``), chosen so
that NLTK's word tokenizer keeps every name whole ("C#4" would split at "#"): BLEU through the text pipeline then
sees the same tokens as here. Ids: the 4 special tokens of ``seqgan.data.vocab`` first (never in the data), then
``id = event class + 4``. Rows are fixed-length (no EOS), like the synthetic oracle's.

Corpus specs: ``<music corpus>_melody`` (``nottingham_melody``, ``jsb_chorales_melody``: the registered corpus'
2-bar windows) or ``melody:<folder of MIDI files>`` (the same rules on one's own files).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import torch
from torch import Tensor

from seqgan.data.vocab import BOS, PAD, SPECIAL_TOKENS, Vocab
from seqgan.music.melody import FIRST_PITCH_CLASS, MIN_PITCH, NO_EVENT, NOTE_OFF, NUM_CLASSES, STEPS_PER_BAR

OFFSET = len(SPECIAL_TOKENS)          # id of event class 0
BARS = 2                              # 32 steps: the SeqGAN paper's sequence length
SUFFIX = "_melody"
FOLDER_PREFIX = "melody:"
NOTE_NAMES = ("C", "Db", "D", "Eb", "E", "F", "Gb", "G", "Ab", "A", "Bb", "B")
CONTROL_NAMES = {NOTE_OFF: "off", NO_EVENT: "hold"}


def pitch_name(pitch: int) -> str:
    """Scientific pitch name with flats: 60 -> "C4", 21 -> "A0", 61 -> "Db4"."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def class_name(cls: int) -> str:
    if cls in CONTROL_NAMES:
        return CONTROL_NAMES[cls]
    return pitch_name(cls - FIRST_PITCH_CLASS + MIN_PITCH)


TOKEN_NAMES = tuple(class_name(c) for c in range(NUM_CLASSES))
# special names (a generator may emit their ids; `seqgan sample` writes "<unk>") read as hold, like ids_to_events
_CLASS_OF = {**{name: NO_EVENT for name in SPECIAL_TOKENS}, **{name: c for c, name in enumerate(TOKEN_NAMES)}}


def melody_vocab() -> Vocab:
    """The fixed vocabulary: 4 special tokens + 90 event names (94 ids), whitespace-tokenized."""
    return Vocab(list(SPECIAL_TOKENS) + list(TOKEN_NAMES), tokenizer="whitespace")


def events_to_ids(events: Tensor) -> Tensor:
    """Event classes (any shape) -> token ids."""
    return events + OFFSET


def ids_to_events(ids: Tensor) -> tuple[Tensor, int]:
    """Token ids (any shape) -> (event classes, how many special ids were met). A generator may still put a little
    probability on the 4 special ids, which no training row holds; they are read as ``hold`` (nothing happens)."""
    special = ids < OFFSET
    return torch.where(special, torch.full_like(ids, NO_EVENT), ids - OFFSET), int(special.sum())


def events_to_tokens(events: Sequence[int]) -> list[str]:
    return [TOKEN_NAMES[int(e)] for e in events]


def tokens_to_events(tokens: Sequence[str], where: str = "tokens") -> list[int]:
    """Token names -> event classes; an unknown name raises ValueError naming it and ``where``."""
    out = []
    for k, t in enumerate(tokens):
        cls = _CLASS_OF.get(t)
        if cls is None:
            raise ValueError(f"{where}: token {k + 1} {t!r} is not a melody token (expected off, hold or a note "
                             f"name {TOKEN_NAMES[FIRST_PITCH_CLASS]}..{TOKEN_NAMES[-1]} such as C4 or Bb3)")
        out.append(cls)
    return out


def rows_to_lines(ids: Tensor) -> list[str]:
    """(N, T) token ids -> one line of token names per row (special ids written as their names)."""
    names = list(SPECIAL_TOKENS) + list(TOKEN_NAMES)
    return [" ".join(names[i] for i in row) for row in ids.tolist()]


def is_melody_spec(spec: str) -> bool:
    """``melody:<folder>``, or a bare name ending in ``_melody`` (never a path: those stay text files)."""
    bare = not any(c in spec for c in "/\\,.")
    return spec.startswith(FOLDER_PREFIX) or (bare and spec.endswith(SUFFIX))


def load_melody_corpus(spec: str, *, max_files: int | None = None, progress: bool = True):
    """``seqgan.data.corpus.Corpus`` of 2-bar melody windows as token ids (see the module notes).

    Raises CorpusError (one line) for an unknown music corpus, a missing folder or no usable window."""
    from seqgan.data import registry
    from seqgan.data.corpus import Corpus, CorpusError
    from seqgan.music.dataset import load_music_corpus

    if spec.startswith(FOLDER_PREFIX):
        source = spec[len(FOLDER_PREFIX):]
        if not Path(source).is_dir():
            raise CorpusError(f"corpus '{spec}': {source} is not a folder; give melody:<folder of MIDI files>")
    else:
        source = spec[: -len(SUFFIX)]
        music = [n for n, m in registry.load_manifests().items() if m.kind == "music"]
        if source not in music:
            known = ", ".join(f"{n}{SUFFIX}" for n in music)
            raise CorpusError(f"unknown melody corpus '{spec}'; known: {known}; or melody:<folder of MIDI files>")
    mc = load_music_corpus(source, BARS, max_files=max_files, progress=progress)
    if len(mc.train) == 0:
        raise CorpusError(f"corpus '{spec}': all {len(mc.test)} usable windows fall in the test split (by file name, "
                          "see seqgan.music.dataset); add more MIDI files")
    vocab = melody_vocab()
    train, test = events_to_ids(mc.train), events_to_ids(mc.test)
    s = mc.stats
    described = (f"{source}: {BARS}-bar melody windows ({BARS * STEPS_PER_BAR} sixteenth-note steps, MusicVAE event "
                 f"classes as tokens), {len(train):,} train / {len(test):,} test windows from "
                 f"{s['pieces']['train']} / {s['pieces']['test']} pieces ({s['files']} files read)")
    return Corpus(spec, train, test if len(test) else None, len(vocab), BOS, source=described, eos_token=None,
                  pad_token=PAD, vocab=vocab, references=rows_to_lines(test) if len(test) else None)
