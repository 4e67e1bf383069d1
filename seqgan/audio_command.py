"""`seqgan audio train wavegan [flags]` and `seqgan audio sample CKPT -n 16 --out DIR [--digit 7]`.

Training flags are generated from ``WaveGANConfig`` (defaults < --preset < --config < flags, as `seqgan train`);
``--slice`` is an alias of ``--slice-len``. Sampling needs only the checkpoint and writes 16-bit mono WAV files
``DIR/sample_000.wav`` ... (``digit{d}_000.wav`` with ``--digit``); all clips are generated before the first file is
written, and each file is written atomically.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

from seqgan import checkpoint, config
from seqgan.audio.trainer import ALGORITHMS, NUM_DIGITS
from seqgan.audio.wav import AudioError, write_wav
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError
from seqgan.logging import RunLogger
from seqgan.runs import fit_and_report, run_config


def add_parser(sub) -> None:
    a = sub.add_parser("audio", help="raw-audio GANs: `audio train wavegan`, `audio sample CKPT`",
                       description=__doc__)
    cmds = a.add_subparsers(dest="audio_command", required=True, metavar="SUBCOMMAND")
    train = cmds.add_parser("train", help="train an audio model (see `seqgan audio train wavegan --help`)")
    algos = train.add_subparsers(dest="audio_algorithm", required=True, metavar="ALGO",
                                 help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    for name, (cfg_cls, trainer_cls, presets) in ALGORITHMS.items():
        doc = sys.modules[trainer_cls.__module__].__doc__ or name
        t = algos.add_parser(name, help=doc.split("\n")[0], description=doc)
        t.add_argument("--preset", choices=sorted(presets), help="start from a named configuration (paper: the "
                       "published setting; tiny: seconds, for tests)")
        t.add_argument("--config", metavar="FILE", help="JSON file of config fields (applied after --preset)")
        t.add_argument("--resume", action="store_true", help="continue the run in --out-dir from its last.pt")
        t.add_argument("--quiet", action="store_true", help="no progress bars or console metrics")
        t.add_argument("--slice", dest="cfg_slice_len", default=None, metavar="INT",
                       help="alias of --slice-len: 16384, 32768 or 65536 samples")
        config.add_flags(t, cfg_cls)
    s = cmds.add_parser("sample", help="write generated clips as WAV files")
    s.add_argument("checkpoint", help="last.pt of `seqgan audio train`")
    s.add_argument("-n", type=int, default=16, help="number of clips (default 16)")
    s.add_argument("--out", metavar="DIR", required=True, help="folder for the WAV files (created)")
    s.add_argument("--digit", type=int, help="conditional models: the digit to generate (default: random digits)")
    s.add_argument("--seed", type=int, default=0)


def _train(args: argparse.Namespace) -> int:
    cfg_cls, trainer_cls, presets = ALGORITHMS[args.audio_algorithm]
    cfg = run_config(cfg_cls, presets, args.audio_algorithm, args)
    logger = RunLogger(cfg.out_dir, console=not args.quiet)
    trainer = trainer_cls(cfg)
    logger.message(f"data: {trainer.data.source}: {json.dumps(trainer.data.stats)}")
    return fit_and_report(trainer, cfg, args, logger)


def load_for_sampling(path: str):
    """The trainer of an audio checkpoint, built from the checkpoint alone (no data)."""
    payload = checkpoint.load(path)
    if payload["algorithm"] not in ALGORITHMS:
        raise CheckpointError(f"{path} is a '{payload['algorithm']}' checkpoint, not an audio model "
                              f"({', '.join(sorted(ALGORITHMS))}); use `seqgan sample` for it")
    cfg_cls, trainer_cls, _ = ALGORITHMS[payload["algorithm"]]
    try:
        cfg = config.from_dict(cfg_cls, payload["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path} holds a configuration this seqgan cannot use: {e}") from None
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        cfg = dataclasses.replace(cfg, device="cpu")
    trainer = trainer_cls(cfg, load_data=False)
    state = dict(payload["state"])
    try:
        trainer.load_state_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} holds a trainer state this seqgan cannot restore ({type(e).__name__})") from None
    return trainer


def _sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out} is a file; give a folder for the WAV files")
    trainer = load_for_sampling(args.checkpoint)
    labels = None
    if args.digit is not None:
        if not trainer.num_classes:
            raise ConfigError(f"--digit: {args.checkpoint} is not a conditional model (train with --conditional "
                              "true); drop --digit")
        if not 0 <= args.digit < NUM_DIGITS:
            raise ConfigError(f"--digit must be in 0..{NUM_DIGITS - 1}, got {args.digit}")
        labels = torch.full((args.n,), args.digit, dtype=torch.long)
    clips = trainer.sample(args.n, labels, rng=torch.Generator().manual_seed(args.seed))
    if not torch.isfinite(clips).all():
        raise AudioError(f"{args.checkpoint} generated NaN or infinite samples; the model diverged")
    stem = f"digit{args.digit}" if args.digit is not None else "sample"
    width = max(3, len(str(args.n - 1)))
    paths = []
    for i, clip in enumerate(clips):
        path = out / f"{stem}_{i:0{width}d}.wav"
        write_wav(path, clip[0], trainer.config.sample_rate)
        paths.append(path)
    print(f"wrote {len(paths)} WAV files ({trainer.config.sample_rate} Hz, {clips.shape[-1]} samples) to {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"train": _train, "sample": _sample}[args.audio_command](args)
