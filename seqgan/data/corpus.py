"""Corpus registry and loading. The data directory comes from $SEQGAN_DATA (CI points it at ../shared/corpora).

So far the registry holds the built-in synthetic ``oracle`` corpus: sequences sampled from the SeqGAN oracle LSTM
(the published one when its files are in the data directory, else a seeded random one, said loudly).
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from seqgan.generators.sampling import sample_sequences
from seqgan.data.oracle import ORACLE_DIR, OracleSource, load_oracle

DATA_ENV = "SEQGAN_DATA"


class CorpusError(ValueError):
    """Unknown corpus name or unusable corpus files."""


@dataclass(frozen=True)
class CorpusInfo:
    name: str
    description: str
    files: str  # what it needs in the data directory


CORPORA = {
    "oracle": CorpusInfo("oracle", "synthetic sequences from the SeqGAN oracle LSTM (V=5000, T=20); NLL-oracle "
                                   "available", f"{ORACLE_DIR}/target_params.npz (optional: falls back to a seeded "
                                                 "random oracle)"),
}


@dataclass
class Corpus:
    name: str
    train: Tensor            # (N, T) int64
    test: Tensor             # (M, T) held-out split, for NLL-test
    vocab_size: int
    start_token: int
    oracle: nn.Module | None = None
    source: str = ""         # where the data came from, for the user and the checkpoint


def data_dir() -> Path | None:
    value = os.environ.get(DATA_ENV)
    return Path(value) if value else None


def known_corpora() -> str:
    return ", ".join(sorted(CORPORA))


def load_corpus(name: str, *, seq_len: int, n_train: int, n_test: int, data_seed: int) -> Corpus:
    if name not in CORPORA:
        raise CorpusError(f"unknown corpus '{name}'; known corpora: {known_corpora()}")
    oracle, source = oracle_and_source(data_seed)
    # Separate streams so the training set does not change when the held-out size does.
    train = sample_sequences(oracle, n_train, seq_len, torch.Generator().manual_seed(data_seed), batch_size=512)
    test = sample_sequences(oracle, n_test, seq_len, torch.Generator().manual_seed(data_seed + 1), batch_size=512)
    return Corpus("oracle", train, test, oracle.vocab_size, oracle.start_token, oracle, source.description)


def oracle_and_source(seed: int) -> tuple[nn.Module, OracleSource]:
    return load_oracle(data_dir(), seed=seed)
