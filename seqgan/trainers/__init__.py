"""Algorithms: one file each (<Algo>Config + <Algo>Trainer + PRESETS), registered in ALGORITHMS by one line."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seqgan.trainers import seqgan as _seqgan
from seqgan.trainers import maligan as _maligan
from seqgan.trainers import maskgan as _maskgan
from seqgan.trainers import pgbleu as _pgbleu
from seqgan.trainers import rankgan as _rankgan
from seqgan.trainers import relgan as _relgan
from seqgan.trainers import leakgan as _leakgan


@dataclass(frozen=True)
class Algorithm:
    name: str
    config: type
    trainer: type
    presets: dict[str, dict[str, Any]]


ALGORITHMS = {
    "seqgan": Algorithm("seqgan", _seqgan.SeqGANConfig, _seqgan.SeqGANTrainer, _seqgan.PRESETS),
    "maligan": Algorithm("maligan", _maligan.MaliGANConfig, _maligan.MaliGANTrainer, _maligan.PRESETS),
    "pgbleu": Algorithm("pgbleu", _pgbleu.PGBLEUConfig, _pgbleu.PGBLEUTrainer, _pgbleu.PRESETS),
    "rankgan": Algorithm("rankgan", _rankgan.RankGANConfig, _rankgan.RankGANTrainer, _rankgan.PRESETS),
    "relgan": Algorithm("relgan", _relgan.RelGANConfig, _relgan.RelGANTrainer, _relgan.PRESETS),
    "leakgan": Algorithm("leakgan", _leakgan.LeakGANConfig, _leakgan.LeakGANTrainer, _leakgan.PRESETS),
    "maskgan": Algorithm("maskgan", _maskgan.MaskGANConfig, _maskgan.MaskGANTrainer, _maskgan.PRESETS),
}


def get_algorithm(name: str) -> Algorithm:
    if name not in ALGORITHMS:
        raise KeyError(f"unknown algorithm '{name}'; known algorithms: {', '.join(sorted(ALGORITHMS))}")
    return ALGORITHMS[name]
