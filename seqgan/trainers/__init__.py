"""Algorithms: one file each (<Algo>Config + <Algo>Trainer + PRESETS), registered in ALGORITHMS by one line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqgan.trainers import seqgan as _seqgan


@dataclass(frozen=True)
class Algorithm:
    name: str
    config: type
    trainer: type
    presets: dict[str, dict[str, Any]]


ALGORITHMS = {
    "seqgan": Algorithm("seqgan", _seqgan.SeqGANConfig, _seqgan.SeqGANTrainer, _seqgan.PRESETS),
}


def get_algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise KeyError(f"unknown algorithm '{name}'; known algorithms: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]
