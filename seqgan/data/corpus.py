"""One entry point for training data: ``load_corpus(spec)`` gives a ``Corpus`` of fixed-width id rows.

``spec`` is ``oracle`` (sequences sampled from the SeqGAN oracle LSTM: the published one when its files are in the
data directory, else a seeded random one, said loudly), a text corpus of the registry (``corpora/*.json``, loaded by
``seqgan.data.text``) or a user's ``path/to/train.txt[,path/to/test.txt]``. The data directory is $SEQGAN_DATA.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from seqgan.generators.sampling import sample_sequences
from seqgan.data.oracle import OracleSource, load_oracle

if TYPE_CHECKING:
    from seqgan.data.vocab import Vocab

DATA_ENV = "SEQGAN_DATA"
ORACLE = "oracle"


class CorpusError(ValueError):
    """Unknown corpus name or unusable corpus files."""


@dataclass
class Corpus:
    name: str
    train: Tensor            # (N, T) int64; text corpora: ids, EOS, then PAD
    test: Tensor | None      # (M, T) held-out split for NLL-test; None when the corpus has none
    vocab_size: int
    start_token: int
    oracle: nn.Module | None = None
    source: str = ""         # where the data came from, for the user and the checkpoint
    eos_token: int | None = None   # None: fixed-length sequences (the oracle)
    pad_token: int = 0
    vocab: Vocab | None = None     # text corpora: turns ids back into text
    references: list[str] | None = None  # raw test lines: the BLEU references
    stats: dict = field(default_factory=dict)

    @property
    def seq_len(self) -> int:
        return self.train.shape[1]

    def metadata(self) -> dict:
        """What a checkpoint keeps so that sampling needs no data: plain types, safe for weights_only loading."""
        return {"name": self.name, "seq_len": self.seq_len, "vocab_size": self.vocab_size,
                "start_token": self.start_token, "eos_token": self.eos_token, "pad_token": self.pad_token,
                "vocab": self.vocab.to_state() if self.vocab is not None else None}


def corpus_from_metadata(meta: dict) -> Corpus:
    """A data-less Corpus (no rows) from ``Corpus.metadata()``: enough to rebuild and sample a model."""
    from seqgan.data.vocab import Vocab

    vocab = Vocab.from_state(meta["vocab"]) if meta.get("vocab") is not None else None
    return Corpus(meta["name"], torch.empty(0, meta["seq_len"], dtype=torch.long), None, meta["vocab_size"],
                  meta["start_token"], eos_token=meta["eos_token"], pad_token=meta["pad_token"], vocab=vocab,
                  source="checkpoint metadata (no data loaded)")


def data_dir() -> Path | None:
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


def load_corpus(spec: str, *, seq_len: int, n_train: int, n_test: int, data_seed: int,
                max_len: int | None = None, long_lines: str = "truncate", max_vocab: int | None = None,
                level: str | None = None) -> Corpus:
    """The oracle corpus (``seq_len``, ``n_train``, ``n_test``, ``data_seed`` apply) or a text corpus (the rest)."""
    if spec != ORACLE:
        from seqgan.music.tokens import is_melody_spec, load_melody_corpus  # here: seqgan.music sits above data
        if is_melody_spec(spec):
            given = [f for f, v in (("max_len", max_len), ("max_vocab", max_vocab), ("level", level)) if v is not None]
            if given:
                raise CorpusError(f"corpus '{spec}' has fixed rows of 32 melody tokens and a fixed vocabulary; "
                                  f"drop {', '.join('--' + f.replace('_', '-') for f in given)}")
            return load_melody_corpus(spec)
        return _text_corpus(spec, max_len=max_len, long_lines=long_lines, max_vocab=max_vocab, level=level)
    oracle, source = oracle_and_source(data_seed)
    # Separate streams so the training set does not change when the held-out size does.
    train = sample_sequences(oracle, n_train, seq_len, torch.Generator().manual_seed(data_seed), batch_size=512)
    test = sample_sequences(oracle, n_test, seq_len, torch.Generator().manual_seed(data_seed + 1), batch_size=512)
    return Corpus(ORACLE, train, test, oracle.vocab_size, oracle.start_token, oracle, source.description)


def _text_corpus(spec: str, **options) -> Corpus:
    from seqgan.data.text import load_text_corpus  # imported here: seqgan.data.text itself imports this module

    tc = load_text_corpus(spec, **options)
    return Corpus(tc.name, tc.train, tc.test, tc.vocab_size, tc.start_token, source=tc.source,
                  eos_token=tc.eos_token, pad_token=tc.pad_token, vocab=tc.vocab, references=tc.test_lines,
                  stats=tc.stats)


def oracle_and_source(seed: int) -> tuple[nn.Module, OracleSource]:
    return load_oracle(data_dir(), seed=seed)


def check_same_corpus(saved: dict | None, corpus: Corpus) -> None:
    """Refuse to pair a checkpoint's model with data it was not trained on: the token ids would mean other words."""
    from seqgan.checkpoint import CheckpointError

    if not isinstance(saved, dict):
        raise CheckpointError("the checkpoint holds no corpus metadata (vocabulary, sequence length); it was not "
                              "written by this version of seqgan")
    now = corpus.metadata()
    differ = [key for key in ("vocab_size", "seq_len", "start_token", "eos_token", "pad_token", "vocab")
              if saved.get(key) != now[key]]
    if differ:
        what = "vocabulary" if "vocab" in differ or "vocab_size" in differ else ", ".join(differ)
        raise CheckpointError(
            f"{what} mismatch: the checkpoint was trained on corpus '{saved.get('name')}' (vocabulary "
            f"{saved.get('vocab_size')}, rows of {saved.get('seq_len')} tokens) but corpus '{corpus.name}' gives "
            f"vocabulary {now['vocab_size']}, rows of {now['seq_len']} tokens; load it with the corpus and the "
            "--corpus/--max-len/--max-vocab/--level settings it was trained with")
