"""The shared training loop: phases of steps, periodic evaluation, atomic checkpoints, exact resume.

A trainer is a list of phases (e.g. mle, d_pretrain, adversarial), each a step function run ``steps`` times.
``fit`` runs them in order, evaluates every ``eval_every`` steps and at the end of each phase, checkpoints every
``checkpoint_every`` steps and at the end of each phase, and stops with ``NonFiniteLossError`` (leaving the last
good checkpoint untouched) when a step reports a NaN or infinite loss. All randomness lives in the trainer's
state (its generators and the global torch RNG), so a resumed run repeats an uninterrupted one exactly on CPU.

Several processes (``torchrun``, see seqgan.distributed): every rank runs the same phases on its slice of each
global batch. At the start rank 0's trainer state is copied to every rank (as DDP copies parameters), and ranks
above 0 reseed their own random streams from (seed, rank). Each step's logs are reduced over ranks; only rank 0
evaluates, writes metrics.jsonl and checkpoints (the others wait for it). A checkpoint also holds every rank's
random streams and the world size, and is resumed only under the same world size.
"""
from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import torch

from seqgan import checkpoint, distributed
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError, to_dict
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
    SUMMED_LOGS: tuple[str, ...] = ()  # step logs that are sums over the batch: summed over ranks, not averaged

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

    def rank_state(self) -> dict:
        """The random streams that differ from rank to rank (besides torch's global one): ``self.rng``."""
        rng = getattr(self, "rng", None)
        return {"rng": rng.get_state()} if isinstance(rng, torch.Generator) else {}

    def load_rank_state(self, state: dict) -> None:
        if "rng" in state:
            self.rng.set_state(state["rng"].cpu())


def _rank_local_state(trainer: Trainer) -> dict:
    state = {"torch_rng": torch.get_rng_state(), **trainer.rank_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda_rng"] = torch.cuda.get_rng_state()
    return state


def _load_rank_local_state(trainer: Trainer, state: dict) -> None:
    state = dict(state)
    torch.set_rng_state(state.pop("torch_rng"))
    cuda_rng = state.pop("cuda_rng", None)
    if cuda_rng is not None and torch.cuda.is_available():
        torch.cuda.set_rng_state(cuda_rng)
    trainer.load_rank_state(state)


def _to_cpu(obj: Any) -> Any:
    if isinstance(obj, torch.Tensor):
        return obj.cpu()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def _start_ranks(trainer: Trainer) -> None:
    """Every rank starts from rank 0's state (models built after the seeded initialisation may differ), keeps
    its own sampling stream, and ranks above 0 reseed torch's global RNG (dropout) from (seed, rank)."""
    ctx = distributed.current()
    state = distributed.broadcast_from_main(lambda: _to_cpu(trainer.state_dict()))
    if not ctx.is_main:
        own = trainer.rank_state()
        trainer.load_state_dict(state)
        trainer.load_rank_state(own)
        torch.manual_seed(distributed.rank_seed(getattr(trainer.config, "seed", 0), ctx.rank))


def checkpoint_payload(trainer: Trainer, progress: dict, rank_states: list[dict] | None = None) -> dict:
    state = trainer.state_dict()
    state["torch_rng"] = torch.get_rng_state()
    if torch.cuda.is_available():
        state["cuda_rng"] = torch.cuda.get_rng_state_all()
    if rank_states is not None and len(rank_states) > 1:
        state["rank_states"] = rank_states
    return {"algorithm": trainer.algorithm, "config": to_dict(trainer.config), "progress": dict(progress),
            "state": state, **trainer.checkpoint_extra()}


def saved_world_size(payload: dict) -> int:
    return int(payload["progress"].get("world_size", 1))


def restore(trainer: Trainer, payload: dict) -> dict:
    ctx = distributed.current()
    saved = saved_world_size(payload)
    if saved != ctx.world_size:
        raise CheckpointError(
            f"this run was trained with {saved} process(es) and is being resumed with {ctx.world_size}; every "
            f"process's random streams are in the checkpoint, so resume it with the same number: --nproc {saved} "
            f"(or torchrun --nproc-per-node ... for {saved} processes in all)")
    state = dict(payload["state"])
    rank_states = state.pop("rank_states", None)
    torch.set_rng_state(state.pop("torch_rng"))
    cuda_rng = state.pop("cuda_rng", None)
    if cuda_rng is not None and torch.cuda.is_available() and not ctx.active:
        torch.cuda.set_rng_state_all(cuda_rng)
    trainer.load_state_dict(state)
    if rank_states is not None:
        if len(rank_states) != ctx.world_size:
            raise CheckpointError(f"the checkpoint holds random streams for {len(rank_states)} processes but says "
                                  f"it was written by {saved}; it is corrupt")
        _load_rank_local_state(trainer, rank_states[ctx.rank])
    return dict(payload["progress"])


def fit(trainer: Trainer, out_dir: str | Path, *, resume: bool = False, logger: RunLogger | None = None,
        checkpoint_every: int = 1) -> dict[str, float]:
    """Run (or continue) all phases; returns the final evaluation (on every rank, computed by rank 0)."""
    out_dir = Path(out_dir)
    ctx = distributed.current()
    if ctx.active and not distributed.supports_data_parallel(type(trainer)):
        raise ConfigError(f"algorithm '{trainer.algorithm}' does not train in several processes yet; run it in one")
    if not ctx.is_main:
        logger = RunLogger(None)  # rank 0 alone writes metrics.jsonl and shows progress
    logger = logger or RunLogger(out_dir)
    ckpt_path = out_dir / LAST
    phases = trainer.phases()
    progress = {"phase": 0, "step": 0, "global_step": 0, "metrics_lines": 0, "wall_s": 0.0,
                "world_size": ctx.world_size}
    if resume:
        # rank 0 reads the file and hands it to all (other machines need not see rank 0's disk)
        progress = restore(trainer, distributed.broadcast_from_main(
            lambda: checkpoint.load(ckpt_path, algorithm=trainer.algorithm)))
        logger.truncate(progress["metrics_lines"])
        logger.message(f"resuming from {ckpt_path} at phase {phases[progress['phase']].name if progress['phase'] < len(phases) else 'end'}, "
                       f"step {progress['step']}")
    else:
        distributed.broadcast_from_main(lambda: _new_run_dir(out_dir, ckpt_path))
        if ctx.active:
            _start_ranks(trainer)

    started = time.perf_counter() - progress["wall_s"]

    def save() -> None:
        rank_states = distributed.gather_to_main(_rank_local_state(trainer)) if ctx.active else None
        if ctx.is_main:
            progress["metrics_lines"] = logger.count_lines()
            progress["wall_s"] = time.perf_counter() - started
            checkpoint.save(ckpt_path, checkpoint_payload(trainer, progress, rank_states))
        distributed.barrier()  # no rank runs ahead of the checkpoint it would resume from

    def evaluate(phase: str) -> dict[str, float]:
        def main_only() -> dict:
            record = {"kind": "eval", "phase": phase, "global_step": progress["global_step"], **trainer.evaluate()}
            logger.log(record)
            return record
        return distributed.broadcast_from_main(main_only)

    last_eval: dict[str, float] = {}
    for p_index in range(progress["phase"], len(phases)):
        phase = phases[p_index]
        first = progress["step"] if p_index == progress["phase"] else 0
        with logger.progress(phase.steps, desc=phase.name, initial=first) as bar:
            for i in range(first, phase.steps):
                logs = distributed.reduce_logs(phase.step(i), trainer.SUMMED_LOGS)
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


def _new_run_dir(out_dir: Path, ckpt_path: Path) -> None:
    if ckpt_path.exists():
        raise RunExistsError(f"{out_dir} already holds a run ({ckpt_path}); pass --resume to continue it, "
                             "or choose another --out-dir")
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.jsonl").unlink(missing_ok=True)
