"""What every `train` command shares (seqgan, audio, music): its run flags, the configuration a run gets, new or
resumed, the device check, launching several processes, and the fit with its final report. Errors here are ``UserError``: one line, exit status 2."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
from pathlib import Path
from typing import Any, Callable

import torch

from seqgan import checkpoint, config, distributed
from seqgan.logging import RunLogger
from seqgan.trainers.loop import LAST, RunExistsError, Trainer, fit, saved_world_size


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def add_train_flags(parser: argparse.ArgumentParser, presets: dict, preset_help: str) -> None:
    """The flags of every train command besides its config fields."""
    parser.add_argument("--preset", choices=sorted(presets), help=preset_help)
    parser.add_argument("--config", metavar="FILE", help="JSON file of config fields (applied after --preset)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out-dir from its last.pt")
    parser.add_argument("--quiet", action="store_true", help="no progress bars or console metrics")
    parser.add_argument("--nproc", type=int, metavar="K", help="train data-parallel in K processes on this machine "
                        "(one per GPU with --device cuda; gloo on CPU), launched through torch.distributed.run; "
                        "see README for torchrun and several machines")


def train(args: argparse.Namespace, cfg_cls: type, presets: dict, algorithm: str, trainer_cls: type,
          describe: Callable[[Trainer], list[str]]) -> int:
    """A train command: configuration, process count (relaunching itself in --nproc processes), the trainer,
    ``describe(trainer)``'s lines about its data, then the fit and its report."""
    cfg = run_config(cfg_cls, presets, algorithm, args)
    check_nproc(args.nproc, cfg, args.resume)
    if (args.nproc or 1) > 1 and not distributed.supports_data_parallel(trainer_cls):
        raise UserError(f"{algorithm} does not train in several processes yet; drop --nproc")
    if args.nproc and args.nproc > 1 and not distributed.launched_by_torchrun():
        return distributed.launch(args.nproc, args.argv)  # each process comes back here under torchrun
    main_rank = distributed.init(cfg.device).is_main
    try:
        logger = RunLogger(cfg.out_dir, console=not args.quiet and main_rank)
        trainer = trainer_cls(cfg)
        for line in describe(trainer):
            logger.message(line)
        return fit_and_report(trainer, cfg, args, logger)
    finally:
        distributed.shutdown()


def run_config(cfg_cls: type, presets: dict, algorithm: str, args: argparse.Namespace) -> Any:
    """The configuration of a new run (defaults < --preset < --config < flags), or, with --resume, the saved one.

    On resume what the user gives is laid over the saved configuration, so only settings actually given are
    compared; out_dir is where the run lives (it may have been moved), not a setting of the run."""
    flags = config.flag_values(args)
    if args.resume:
        out_dir = Path(flags.get("out_dir") or config.build(cfg_cls, presets, args.preset, args.config,
                                                            flags).out_dir)
        if not (out_dir / LAST).exists():
            raise UserError(f"nothing to resume in {out_dir}: it holds no {LAST}; drop --resume to start a new run")
        saved = config.from_dict(cfg_cls, checkpoint.load(out_dir / LAST, algorithm=algorithm)["config"])
        given = config.build(cfg_cls, presets, args.preset, args.config, flags, base=saved)
        old, new = config.to_dict(saved), config.to_dict(given)
        changed = [f"{k} (saved {old[k]}, given {new[k]})" for k in old if k != "out_dir" and new[k] != old[k]]
        if changed:
            raise UserError(f"--resume continues {out_dir} with its saved configuration; these settings differ "
                            f"from it: {', '.join(changed)}. Drop them or start a new --out-dir")
        cfg = dataclasses.replace(saved, out_dir=str(out_dir))
    else:
        cfg = config.build(cfg_cls, presets, args.preset, args.config, flags)
        if (Path(cfg.out_dir) / LAST).exists():  # checked before the (possibly slow) data loading
            raise RunExistsError(f"{cfg.out_dir} already holds a run ({Path(cfg.out_dir) / LAST}); pass --resume "
                                 "to continue it, or choose another --out-dir")
    check_device(cfg.device)
    return cfg


def check_device(name: str) -> None:
    """Refuse a device this machine cannot use before any work is done (torch would fail mid-run)."""
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UserError(f"--device {name!r} is not a torch device; use cpu, cuda, cuda:1, ... or mps") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"--device {name}: CUDA is not available on this machine; use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise UserError(f"--device {name}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise UserError(f"--device {name}: MPS is not available on this machine; use --device cpu")
    elif dev.type != "cpu":
        raise UserError(f"--device {name}: only cpu, cuda and mps devices are supported")


def fit_and_report(trainer: Trainer, cfg: Any, args: argparse.Namespace, logger: RunLogger) -> int:
    """Run (or continue) every phase, then print the final evaluation as one JSON line (rank 0 only)."""
    result = fit(trainer, cfg.out_dir, resume=args.resume, logger=logger, checkpoint_every=cfg.checkpoint_every)
    logger.close()
    if distributed.current().is_main:
        print(json.dumps({k: v for k, v in result.items() if k != "kind"}))
    return 0


def check_nproc(nproc: int | None, cfg: Any, resume: bool) -> None:
    """Refuse a process count that cannot work, before any process is started."""
    if nproc is None:
        return
    if nproc < 1:
        raise UserError(f"--nproc must be >= 1, got {nproc}")
    if distributed.launched_by_torchrun():
        local = int(os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"]))
        if nproc != local:
            raise UserError(f"--nproc {nproc} disagrees with torchrun's {local} processes on this node; drop --nproc "
                            "when launching with torchrun")
        return
    if torch.device(cfg.device).type == "cuda" and nproc > torch.cuda.device_count():
        raise UserError(f"--nproc {nproc} with --device {cfg.device}: this machine has {torch.cuda.device_count()} "
                        "GPU(s), one per process is needed")
    if resume:
        saved = saved_world_size(checkpoint.load(Path(cfg.out_dir) / LAST))
        if saved != nproc:
            raise UserError(f"{cfg.out_dir} was trained with {saved} process(es); resume it with --nproc {saved}, "
                            f"not {nproc}")
