"""`seqgan train|sample|eval|corpora`: the command line. Flags of `train ALGO` are generated from ALGO's config."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import torch

from seqgan import checkpoint, config
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError
from seqgan.data.corpus import CORPORA, DATA_ENV, CorpusError, data_dir
from seqgan.data.oracle import PUBLISHED_PREFIX, OracleFileError, find_oracle_arrays
from seqgan.logging import RunLogger
from seqgan.trainers import ALGORITHMS, get_algorithm
from seqgan.trainers.loop import LAST, NonFiniteLossError, RunExistsError, fit

USER_ERRORS = (ConfigError, CheckpointError, CorpusError, OracleFileError, NonFiniteLossError, RunExistsError)


class UserError(Exception):
    """A problem the user can fix; printed as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqgan", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model (see `seqgan train ALGO --help`)")
    algos = train.add_subparsers(dest="algorithm", required=True, metavar="ALGO",
                                 help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    for name, algo in ALGORITHMS.items():
        summary = (sys.modules[algo.trainer.__module__].__doc__ or name).split("\n")[0]
        a = algos.add_parser(name, help=summary, description=sys.modules[algo.trainer.__module__].__doc__)
        a.add_argument("--preset", choices=sorted(algo.presets), help="start from a named configuration "
                       "(paper: the published schedule; cpu-small: reduced for a CPU; tiny: seconds, for tests)")
        a.add_argument("--config", metavar="FILE", help="JSON file of config fields (applied after --preset)")
        a.add_argument("--resume", action="store_true", help="continue the run in --out-dir from its last.pt")
        a.add_argument("--quiet", action="store_true", help="no progress bars or console metrics")
        config.add_flags(a, algo.config)

    sample = sub.add_parser("sample", help="sample sequences from a checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("-n", type=int, default=10, help="number of sequences (default 10)")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")

    ev = sub.add_parser("eval", help="evaluate a checkpoint: NLL-oracle (oracle corpus) and NLL-test")
    ev.add_argument("checkpoint")
    ev.add_argument("--json", metavar="OUT", help="also write the metrics as JSON to OUT")

    sub.add_parser("corpora", help="list the corpora and whether their files are present")
    return p


def _check_device(name: str) -> None:
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


def _train(args: argparse.Namespace) -> int:
    algo = get_algorithm(args.algorithm)
    flags = config.flag_values(args)
    if args.resume:
        out_dir = Path(flags.get("out_dir") or config.build(algo.config, algo.presets, args.preset, args.config,
                                                            flags).out_dir)
        if not (out_dir / LAST).exists():
            raise UserError(f"nothing to resume in {out_dir}: it holds no {LAST}; drop --resume to start a new run")
        saved = config.from_dict(algo.config, checkpoint.load(out_dir / LAST, algorithm=algo.name)["config"])
        # What the user says on resume is laid over the saved configuration, so only settings actually given
        # are compared; out_dir is where the run lives (it may have been moved), not a setting of the run.
        given = config.build(algo.config, algo.presets, args.preset, args.config, flags, base=saved)
        old, new = config.to_dict(saved), config.to_dict(given)
        changed = [f"{k} (saved {old[k]}, given {new[k]})" for k in old if k != "out_dir" and new[k] != old[k]]
        if changed:
            raise UserError(f"--resume continues {out_dir} with its saved configuration; these settings differ "
                            f"from it: {', '.join(changed)}. Drop them or start a new --out-dir")
        cfg = dataclasses.replace(saved, out_dir=str(out_dir))
    else:
        cfg = config.build(algo.config, algo.presets, args.preset, args.config, flags)
        if (Path(cfg.out_dir) / LAST).exists():  # checked before the (possibly slow) data loading
            raise RunExistsError(f"{cfg.out_dir} already holds a run ({Path(cfg.out_dir) / LAST}); pass --resume "
                                 "to continue it, or choose another --out-dir")
    _check_device(cfg.device)
    logger = RunLogger(cfg.out_dir, console=not args.quiet)
    trainer = algo.trainer(cfg)
    logger.message(f"data: {trainer.corpus.source}")
    result = fit(trainer, cfg.out_dir, resume=args.resume, logger=logger, checkpoint_every=cfg.checkpoint_every)
    logger.close()
    print(json.dumps({k: v for k, v in result.items() if k != "kind"}))
    return 0


def _load_trainer(path: str):
    payload = checkpoint.load(path)
    algo = ALGORITHMS.get(payload["algorithm"])
    if algo is None:
        raise CheckpointError(f"{path} was written by algorithm '{payload['algorithm']}', which this seqgan "
                              f"does not know ({', '.join(sorted(ALGORITHMS))})")
    try:
        cfg = config.from_dict(algo.config, payload["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path} holds a configuration this seqgan cannot use: {e}") from None
    state = dict(payload["state"])
    on_cpu_instead = cfg.device.startswith("cuda") and not torch.cuda.is_available()
    if on_cpu_instead:
        cfg = config.from_dict(algo.config, {"device": "cpu"}, base=cfg)
    trainer = algo.trainer(cfg)
    if on_cpu_instead and "rng" in state:
        # A CUDA generator's state cannot be restored into a CPU generator; sample and eval draw from their
        # own freshly seeded generators, so the training stream is not needed here.
        state["rng"] = trainer.rng.get_state()
    try:
        trainer.load_state_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} holds a trainer state this seqgan cannot restore "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return trainer, payload


def _sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UserError(f"-n must be >= 1, got {args.n}")
    if args.temperature <= 0:
        raise UserError(f"--temperature must be > 0, got {args.temperature}")
    trainer, _ = _load_trainer(args.checkpoint)
    rng = torch.Generator(trainer.device).manual_seed(args.seed)
    lines = [" ".join(map(str, row)) for row in trainer.sample(args.n, temperature=args.temperature, rng=rng).tolist()]
    text = "\n".join(lines) + "\n"
    if args.out:
        _write_atomic(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0


def _eval(args: argparse.Namespace) -> int:
    trainer, payload = _load_trainer(args.checkpoint)
    saved, now = str(payload.get("data_source", "")), trainer.corpus.source
    if saved and _published(saved) != _published(now):
        was, is_ = ("the published", "a seeded random") if _published(saved) else ("a seeded random", "the published")
        raise UserError(f"{args.checkpoint} was trained on {was} oracle but {is_} oracle is in use now, so its NLL "
                        f"numbers would mean nothing; set ${DATA_ENV} as it was for training")
    metrics = trainer.evaluate()
    for k, v in metrics.items():
        print(f"{k}\t{v:.4f}")
    if args.json:
        _write_atomic(Path(args.json), json.dumps(metrics, indent=2) + "\n")
    return 0


def _published(source: str) -> bool:
    return source.startswith(PUBLISHED_PREFIX)


def _corpora(_: argparse.Namespace) -> int:
    root = data_dir()
    print(f"data directory (${DATA_ENV}): {root if root else 'not set'}")
    for name, info in sorted(CORPORA.items()):
        if name == "oracle":
            try:
                arrays, where = find_oracle_arrays(root)
                status = f"published oracle: {where}" if arrays is not None else f"seeded random oracle ({where})"
            except OracleFileError as e:
                status = f"unusable: {e}"
        else:
            status = "?"
        print(f"{name:<12} {info.description}\n{'':<12} needs: {info.files}\n{'':<12} status: {status}")
    return 0


def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same folder: never a half-written file."""
    if path.is_dir():
        raise UserError(f"{path} is a directory; give a file name to write to")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            tmp.write_text(text, encoding="utf-8")
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


COMMANDS = {"train": _train, "sample": _sample, "eval": _eval, "corpora": _corpora}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UserError, *USER_ERRORS) as e:
        print(f"seqgan: error: {e}", file=sys.stderr)
        return 2
    except OSError as e:  # unwritable --out-dir, disk full, ...: one line, not a traceback
        print(f"seqgan: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("seqgan: interrupted; a training run continues from its last checkpoint with --resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
