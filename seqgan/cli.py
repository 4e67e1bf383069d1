"""`seqgan train|sample|eval|corpora`: the command line. Flags of `train ALGO` are generated from ALGO's config."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from seqgan import checkpoint, config
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError
from seqgan.data.corpus import CORPORA, DATA_ENV, CorpusError, data_dir
from seqgan.data.oracle import OracleFileError, find_oracle_arrays
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


def _train(args: argparse.Namespace) -> int:
    algo = get_algorithm(args.algorithm)
    flags = config.flag_values(args)
    if args.resume:
        out_dir = Path(flags.get("out_dir") or config.build(algo.config, algo.presets, args.preset, args.config,
                                                            {}).out_dir)
        saved = checkpoint.load(out_dir / LAST, algorithm=algo.name)
        cfg = config.from_dict(algo.config, saved["config"])
        given = config.build(algo.config, algo.presets, args.preset, args.config, flags) if (
            args.preset or args.config or set(flags) - {"out_dir"}) else cfg
        changed = [k for k, v in config.to_dict(given).items() if v != config.to_dict(cfg)[k]]
        if changed:
            raise UserError(f"--resume continues {out_dir} with its saved configuration; these settings differ "
                            f"from it: {', '.join(changed)}. Drop them or start a new --out-dir")
    else:
        cfg = config.build(algo.config, algo.presets, args.preset, args.config, flags)
    logger = RunLogger(cfg.out_dir, console=not args.quiet)
    trainer = algo.trainer(cfg)
    logger.message(f"data: {trainer.corpus.source}")
    result = fit(trainer, cfg.out_dir, resume=args.resume, logger=logger, checkpoint_every=cfg.checkpoint_every)
    logger.close()
    print(json.dumps({k: v for k, v in result.items() if k != "kind"}))
    return 0


def _load_trainer(path: str):
    payload = checkpoint.load(path)
    algo = ALGORITHMS.get(payload.get("algorithm"))
    if algo is None:
        raise CheckpointError(f"{path} was written by algorithm '{payload.get('algorithm')}', which this seqgan "
                              f"does not know ({', '.join(sorted(ALGORITHMS))})")
    cfg = config.from_dict(algo.config, payload["config"])
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        cfg = config.from_dict(algo.config, {"device": "cpu"}, base=cfg)
    trainer = algo.trainer(cfg)
    trainer.load_state_dict(payload["state"])
    return trainer


def _sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UserError(f"-n must be >= 1, got {args.n}")
    if args.temperature <= 0:
        raise UserError(f"--temperature must be > 0, got {args.temperature}")
    trainer = _load_trainer(args.checkpoint)
    rng = torch.Generator(trainer.device).manual_seed(args.seed)
    lines = [" ".join(map(str, row)) for row in trainer.sample(args.n, temperature=args.temperature, rng=rng).tolist()]
    text = "\n".join(lines) + "\n"
    if args.out:
        _write_atomic(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0


def _eval(args: argparse.Namespace) -> int:
    metrics = _load_trainer(args.checkpoint).evaluate()
    for k, v in metrics.items():
        print(f"{k}\t{v:.4f}")
    if args.json:
        _write_atomic(Path(args.json), json.dumps(metrics, indent=2) + "\n")
    return 0


def _corpora(_: argparse.Namespace) -> int:
    root = data_dir()
    print(f"data directory (${DATA_ENV}): {root if root else 'not set'}")
    for name, info in sorted(CORPORA.items()):
        if name == "oracle":
            arrays, where = find_oracle_arrays(root)
            status = f"published oracle: {where}" if arrays is not None else f"seeded random oracle ({where})"
        else:
            status = "?"
        print(f"{name:<12} {info.description}\n{'':<12} needs: {info.files}\n{'':<12} status: {status}")
    return 0


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


COMMANDS = {"train": _train, "sample": _sample, "eval": _eval, "corpora": _corpora}


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except (UserError, *USER_ERRORS) as e:
        print(f"seqgan: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("seqgan: interrupted; a training run continues from its last checkpoint with --resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
