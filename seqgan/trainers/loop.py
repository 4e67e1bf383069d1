"""The shared training loop: phases of steps, periodic evaluation, atomic checkpoints, exact resume.

A trainer is a list of phases (e.g. mle, d_pretrain, adversarial), each a step function run ``steps`` times.
``fit`` runs them in order, evaluates every ``eval_every`` steps and at the end of each phase, checkpoints every
``checkpoint_every`` steps and at the end of each phase, and stops with ``NonFiniteLossError`` (leaving the last
good checkpoint untouched) when a step reports a NaN or infinite loss. All randomness lives in the trainer's
state (its generators and the global torch RNG), so a resumed run repeats an uninterrupted one exactly on CPU.
"""
from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from seqgan import checkpoint
from seqgan.checkpoint import CheckpointError
from seqgan.config import to_dict
from seqgan.logging import RunLogger

LAST = "last.pt"


class NonFiniteLossError(RuntimeError):
    """A step produced a NaN or infinite loss."""


class RunExistsError(RuntimeError):
    """The output directory already holds a run and --resume was not given."""


@dataclass(frozen=True)
class Phase:
    name: str
    steps: int
    step: Callable[[int], dict[str, float]]  # runs step i of the phase, returns scalar logs (losses...)
    eval_every: int = 0                       # 0: evaluate only at the end of the phase


class Trainer(ABC):
    algorithm: str = ""
    STATE_KEYS: tuple[str, ...] = ()  # what state_dict() holds; a checkpoint lacking any of them is refused

    @classmethod
    def check_state(cls, state: dict) -> None:
        missing = [k for k in cls.STATE_KEYS if k not in state]
        if missing:
            raise CheckpointError(f"the checkpoint's trainer state lacks {', '.join(missing)}; it is incomplete or "
                                  "was written by another version of seqgan")

    def __init__(self, config: Any):
        self.config = config

    @abstractmethod
    def phases(self) -> list[Phase]: ...

    @abstractmethod
    def evaluate(self) -> dict[str, float]: ...

    @abstractmethod
    def sample(self, n: int) -> torch.Tensor: ...

    @abstractmethod
    def state_dict(self) -> dict: ...

    @abstractmethod
    def load_state_dict(self, state: dict) -> None: ...

    def checkpoint_extra(self) -> dict:
        """Plain entries stored beside the state (vocabulary, data source...)."""
        return {}


def checkpoint_payload(trainer: Trainer, progress: dict) -> dict:
    state = trainer.state_dict()
    state["torch_rng"] = torch.get_rng_state()
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    return {"algorithm": trainer.algorithm, "config": to_dict(trainer.config), "progress": dict(progress),
            "state": state, **trainer.checkpoint_extra()}


def restore(trainer: Trainer, payload: dict) -> dict:
    state = dict(payload["state"])
    torch.set_rng_state(state.pop("torch_rng"))
    cuda_rng = state.pop("cuda_rng", None)
    if cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(cuda_rng)
    trainer.load_state_dict(state)
    return dict(payload["progress"])


def fit(trainer: Trainer, out_dir: str | Path, *, resume: bool = False, logger: RunLogger | None = None,
        checkpoint_every: int = 1) -> dict[str, float]:
    """Run (or continue) all phases; returns the final evaluation."""
    out_dir = Path(out_dir)
    logger = logger or RunLogger(out_dir)
    ckpt_path = out_dir / LAST
    phases = trainer.phases()
    progress = {"phase": 0, "step": 0, "global_step": 0, "metrics_lines": 0, "wall_s": 0.0}
    if resume:
        progress = restore(trainer, checkpoint.load(ckpt_path, algorithm=trainer.algorithm))
        logger.truncate(progress["metrics_lines"])
        logger.message(f"resuming from {ckpt_path} at phase {phases[progress['phase']].name if progress['phase'] < len(phases) else 'end'}, "
                       f"step {progress['step']}")
    elif ckpt_path.exists():
        raise RunExistsError(f"{out_dir} already holds a run ({ckpt_path}); pass --resume to continue it, "
                             "or choose another --out-dir")
    else:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "metrics.jsonl").unlink(missing_ok=True)

    started = time.perf_counter() - progress["wall_s"]

    def save() -> None:
        progress["metrics_lines"] = logger.count_lines()
        progress["wall_s"] = time.perf_counter() - started
        checkpoint.save(ckpt_path, checkpoint_payload(trainer, progress))

    def evaluate(phase: str) -> dict[str, float]:
        record = {"kind": "eval", "phase": phase, "global_step": progress["global_step"], **trainer.evaluate()}
        logger.log(record)
        return record

    last_eval: dict[str, float] = {}
    for p_index in range(progress["phase"], len(phases)):
        phase = phases[p_index]
        first = progress["step"] if p_index == progress["phase"] else 0
        with logger.progress(phase.steps, desc=phase.name, initial=first) as bar:
            for i in range(first, phase.steps):
                logs = phase.step(i)
                bad = {k: v for k, v in logs.items() if not math.isfinite(v)}
                if bad:
                    where = f"{ckpt_path}" if ckpt_path.exists() else "none was written yet"
                    raise NonFiniteLossError(
                        f"{', '.join(f'{k}={v}' for k, v in bad.items())} at {phase.name} step {i + 1}; stopped. "
                        f"The last good checkpoint is {where}; lower the learning rate or resume from it")
                progress.update(phase=p_index, step=i + 1, global_step=progress["global_step"] + 1)
                logger.log({"kind": "train", "phase": phase.name, "step": i + 1,
                            "global_step": progress["global_step"], **logs})
                bar.set_postfix({k: f"{v:.3f}" for k, v in logs.items()})
                bar.update(1)
                done = i + 1 == phase.steps
                if done or (phase.eval_every and (i + 1) % phase.eval_every == 0):
                    last_eval = evaluate(phase.name)
                if done or (i + 1) % checkpoint_every == 0:
                    if done:
                        progress.update(phase=p_index + 1, step=0)
                    save()
        progress.update(phase=p_index + 1, step=0)
    if not last_eval:
        last_eval = evaluate("final")
    return last_eval
