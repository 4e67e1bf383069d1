"""`seqgan train|sample|eval|corpora`: the command line. Flags of `train ALGO` are generated from ALGO's config."""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from pathlib import Path

import torch

from seqgan import audio_command, checkpoint, config, corpora_command
from seqgan import distributed, music_command
from seqgan import infill_command
from seqgan.atomic import atomic_write_text
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError
from seqgan.data import registry
from seqgan.data.corpus import DATA_ENV, CorpusError, corpus_from_metadata
from seqgan.data.text import describe_stats, read_corpus_lines, read_lines
from seqgan.metrics.nll import sequence_nll
from seqgan.metrics.sweep import plot_sweep, temperature_sweep, write_sweep_json
from seqgan.metrics.text import PROTOCOL, text_report
from seqgan.data.oracle import PUBLISHED_PREFIX, OracleFileError
from seqgan import runs
from seqgan.runs import UserError, add_train_flags
from seqgan.trainers import ALGORITHMS, get_algorithm
from seqgan.trainers.loop import NonFiniteLossError, RunExistsError

USER_ERRORS = (ConfigError, CheckpointError, CorpusError, OracleFileError, NonFiniteLossError, RunExistsError,
               distributed.DistributedSetupError)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="seqgan", description=__doc__)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="train a model (see `seqgan train ALGO --help`)")
    algos = train.add_subparsers(dest="algorithm", required=True, metavar="ALGO",
                                 help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    for name, algo in ALGORITHMS.items():
        summary = (sys.modules[algo.trainer.__module__].__doc__ or name).split("\n")[0]
        a = algos.add_parser(name, help=summary, description=sys.modules[algo.trainer.__module__].__doc__)
        add_train_flags(a, algo.presets, "start from a named configuration (paper: the published schedule; "
                        "cpu-small: reduced for a CPU; tiny: seconds, for tests)")
        config.add_flags(a, algo.config)

    sample = sub.add_parser("sample", help="sample sequences from a checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("-n", type=int, default=10, help="number of sequences (default 10)")
    sample.add_argument("--temperature", type=float, default=1.0)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--out", metavar="FILE", help="write to FILE instead of standard output")

    ev = sub.add_parser("eval", help="evaluate a checkpoint (NLL-test; NLL-oracle or BLEU) or a file of samples "
                        "(BLEU-2..5, Self-BLEU-2..5)", description=f"BLEU protocol: {PROTOCOL}.")
    ev.add_argument("checkpoint", nargs="?", help="a checkpoint written by `seqgan train`")
    ev.add_argument("--samples", metavar="FILE", help="score this file of generated lines (one per line; blank lines "
                    "count as empty sentences) instead of a checkpoint")
    ev.add_argument("--references", metavar="FILE|CORPUS", help="with --samples: a reference file, or a registry "
                    "corpus name for its test split (e.g. image_coco)")
    ev.add_argument("-n", type=int, help="with a checkpoint: generated lines to score (default: its n_eval_samples)")
    ev.add_argument("--json", metavar="OUT", help="also write the metrics as JSON to OUT")

    sw = sub.add_parser("sweep", help="quality-diversity view: BLEU-n against Self-BLEU-n (and NLL-test) at several "
                        "sampling temperatures, as JSON and PNG", description=f"BLEU protocol: {PROTOCOL}.")
    sw.add_argument("checkpoint", help="a checkpoint trained on a text corpus")
    sw.add_argument("--temperatures", default="0.6,0.8,1.0,1.2,1.5", help="comma-separated (default %(default)s)")
    sw.add_argument("-n", type=int, default=1000, help="generated lines per temperature (default %(default)s)")
    sw.add_argument("--seed", type=int, default=0)
    sw.add_argument("--out", metavar="DIR", default="sweep", help="writes DIR/sweep.json and DIR/sweep.png "
                    "(default %(default)s)")

    corpora_command.add_parser(sub)
    audio_command.add_parser(sub)
    music_command.add_parser(sub)
    infill_command.add_parser(sub)
    return p


def _train(args: argparse.Namespace) -> int:
    algo = get_algorithm(args.algorithm)

    def describe(trainer) -> list[str]:
        stats = [f"data: {describe_stats(trainer.corpus.stats)}"] if trainer.corpus.stats else []
        return [f"data: {trainer.corpus.source}", *stats]
    return runs.train(args, algo.config, algo.presets, algo.name, algo.trainer, describe)


def _load_trainer(path: str, *, with_data: bool = True):
    """The trainer of a checkpoint; ``with_data=False`` builds it from the checkpoint alone (enough to sample)."""
    payload = checkpoint.load(path)
    algo = ALGORITHMS.get(payload["algorithm"])
    if algo is None:
        raise CheckpointError(f"{path} was written by algorithm '{payload['algorithm']}', which this seqgan "
                              f"does not know ({', '.join(sorted(ALGORITHMS))}); audio and music checkpoints "
                              "are used through `seqgan audio ...` and `seqgan music ...`")
    try:
        cfg = config.from_dict(algo.config, payload["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path} holds a configuration this seqgan cannot use: {e}") from None
    state = dict(payload["state"])
    try:
        algo.trainer.check_state(state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    on_cpu_instead = cfg.device.startswith("cuda") and not torch.cuda.is_available()
    if on_cpu_instead:
        cfg = config.from_dict(algo.config, {"device": "cpu"}, base=cfg)
    corpus = None
    if not with_data:
        try:
            corpus = corpus_from_metadata(state["corpus"])
        except (KeyError, TypeError, ValueError) as e:
            raise CheckpointError(f"{path} holds no usable corpus metadata ({type(e).__name__}: {e}); it was not "
                                  "written by this version of seqgan") from None
    trainer = algo.trainer(cfg, corpus)
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
    trainer, _ = _load_trainer(args.checkpoint, with_data=False)
    rng = torch.Generator(trainer.device).manual_seed(args.seed)
    text = "\n".join(trainer.sample_text(args.n, temperature=args.temperature, rng=rng)) + "\n"
    if args.out:
        _write_atomic(Path(args.out), text)
    else:
        sys.stdout.write(text)
    return 0


def _eval(args: argparse.Namespace) -> int:
    if args.samples or args.references:
        return _eval_samples(args)
    if not args.checkpoint:
        raise UserError("give a checkpoint to evaluate, or --samples FILE --references FILE|CORPUS")
    if args.n is not None and args.n < 2:
        raise UserError(f"-n must be >= 2 (Self-BLEU compares each line with the others), got {args.n}")
    trainer, payload = _load_trainer(args.checkpoint)
    if args.n is not None:
        trainer.config = dataclasses.replace(trainer.config, n_eval_samples=args.n)
    saved, now = str(payload.get("data_source", "")), trainer.corpus.source
    if saved and _published(saved) != _published(now):
        was, is_ = ("the published", "a seeded random") if _published(saved) else ("a seeded random", "the published")
        raise UserError(f"{args.checkpoint} was trained on {was} oracle but {is_} oracle is in use now, so its NLL "
                        f"numbers would mean nothing; set ${DATA_ENV} as it was for training")
    metrics = trainer.evaluate()
    if "bleu2" in metrics:
        metrics.update(n_hypotheses=trainer.config.n_eval_samples, n_references=len(trainer.corpus.references),
                       protocol=PROTOCOL)
    _report(metrics, args.json)
    return 0


def _eval_samples(args: argparse.Namespace) -> int:
    if args.checkpoint:
        raise UserError("give either a checkpoint or --samples FILE, not both")
    if not (args.samples and args.references):
        raise UserError("--samples FILE needs --references FILE|CORPUS (a reference file, or a corpus name such as "
                        "image_coco for its test split), and the other way round")
    hypotheses = read_lines(args.samples, keep_blank=True)
    if args.references in registry.load_manifests():
        references = read_corpus_lines(args.references, "test")
    else:
        references = read_lines(args.references)
    try:
        metrics = text_report(hypotheses, references)
    except ValueError as e:
        raise UserError(f"{args.samples}: {e}") from None
    _report({**metrics, "protocol": PROTOCOL}, args.json)
    return 0


def _report(metrics: dict, json_path: str | None) -> None:
    for k, v in metrics.items():
        print(f"{k}\t{v:.4f}" if isinstance(v, float) else f"{k}\t{v}")
    if json_path:
        _write_atomic(Path(json_path), json.dumps(metrics, indent=2) + "\n")


def _sweep(args: argparse.Namespace) -> int:
    try:
        temperatures = [float(t) for t in args.temperatures.split(",") if t.strip()]
    except ValueError:
        raise UserError(f"--temperatures: expected comma-separated numbers, got {args.temperatures!r}") from None
    trainer, _ = _load_trainer(args.checkpoint)
    if not trainer.corpus.references:
        raise UserError(f"{args.checkpoint} was not trained on a text corpus with a test split; the sweep needs "
                        "BLEU references")

    def sample_lines(n: int, temperature: float, seed: int) -> list[str]:
        return trainer.sample_text(n, temperature, torch.Generator(trainer.device).manual_seed(seed))

    def nll_test(temperature: float) -> float:
        return sequence_nll(trainer.generator, trainer.test_data, temperature=temperature)

    try:
        result = temperature_sweep(sample_lines, trainer.corpus.references, temperatures, n=args.n, seed=args.seed,
                                   nll_test=nll_test)
    except ValueError as e:
        raise UserError(str(e)) from None
    out = Path(args.out)
    write_sweep_json(result, out / "sweep.json")
    try:
        plot_sweep(result, out / "sweep.png", title=f"{trainer.corpus.name}: {Path(args.checkpoint).name}")
    except ImportError as e:
        raise UserError(f"wrote {out / 'sweep.json'}, but {e}") from None
    for point in result["points"]:
        print("\t".join(f"{k} {v:.4f}" for k, v in point.items()))
    print(f"wrote {out / 'sweep.json'} and {out / 'sweep.png'}")
    return 0


def _published(source: str) -> bool:
    return source.startswith(PUBLISHED_PREFIX)


# --- seqgan corpora list|info|check -------------------------------------------------------------------------------

def _write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically (never a half-written file); problems are one-line user errors."""
    if path.is_dir():
        raise UserError(f"{path} is a directory; give a file name to write to")
    try:
        atomic_write_text(path, text)
    except OSError as e:
        raise UserError(f"cannot write {path}: {e.strerror or e}") from None


COMMANDS = {"train": _train, "sample": _sample, "eval": _eval, "sweep": _sweep, "corpora": corpora_command.run,
            "audio": audio_command.run, "music": music_command.run}
COMMANDS["infill"] = infill_command.run


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)  # what --nproc relaunches in each process
    try:
        return COMMANDS[args.command](args)
    except (UserError, *USER_ERRORS) as e:
        if distributed.current().is_main and os.environ.get("RANK", "0") == "0":  # one message, not one per rank
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
