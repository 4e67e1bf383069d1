"""`seqgan audio train wavegan|specgan [flags]`, `seqgan audio sample CKPT -n 16 --out DIR [--digit 7]`,
`seqgan audio classifier train --out clf.pt`, `seqgan audio score DIR [--classifier clf.pt]` and
`seqgan audio plot DIR --out grid.png`.

Training flags are generated from the model's config dataclass (defaults < --preset < --config < flags, as `seqgan
train`); ``--slice`` is an alias of ``--slice-len``. Sampling needs only the checkpoint (WaveGAN or SpecGAN) and
writes 16-bit mono WAV files ``DIR/sample_000.wav`` ... (``digit{d}_000.wav`` with ``--digit``) and ``DIR/grid.png``
(waveforms and spectrograms of the first 16); all clips are generated before the first file is written, and each
file is written atomically. Scoring prints the Inception score and the nearest-neighbour distances of a folder of
WAV files as one JSON line; without ``--classifier`` it uses ``runs/digit_classifier.pt``, training it there first
when it does not exist.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path

import torch

from seqgan import checkpoint, config
from seqgan.atomic import atomic_write_text
from seqgan.audio.classifier import ClassifierConfig, DigitClassifier, train_classifier
from seqgan.audio.data import load_audio, load_wav_folder
from seqgan.audio.metrics import inception_score, nn_stats
from seqgan.audio.plot import save_clip_grid
from seqgan.audio.trainer import ALGORITHMS, NUM_DIGITS
from seqgan.audio.wav import AudioError, write_wav
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError
from seqgan.logging import RunLogger
from seqgan.runs import add_train_flags, train


DEFAULT_CLASSIFIER = "runs/digit_classifier.pt"
GRID_CLIPS = 16


def add_parser(sub) -> None:
    a = sub.add_parser("audio", help="raw-audio GANs: `audio train wavegan|specgan`, `audio sample CKPT`, "
                       "`audio classifier train`, `audio score DIR`, `audio plot DIR`",
                       description=__doc__)
    cmds = a.add_subparsers(dest="audio_command", required=True, metavar="SUBCOMMAND")
    train = cmds.add_parser("train", help="train an audio model (see `seqgan audio train wavegan --help`)")
    algos = train.add_subparsers(dest="audio_algorithm", required=True, metavar="ALGO",
                                 help=f"one of: {', '.join(sorted(ALGORITHMS))}")
    for name, (cfg_cls, trainer_cls, presets) in ALGORITHMS.items():
        doc = sys.modules[trainer_cls.__module__].__doc__ or name
        t = algos.add_parser(name, help=doc.split("\n")[0], description=doc)
        add_train_flags(t, presets, "start from a named configuration (paper: the published setting; tiny: "
                        "seconds, for tests)")
        t.add_argument("--slice", dest="cfg_slice_len", default=None, metavar="INT",
                       help="alias of --slice-len: 16384, 32768 or 65536 samples")
        config.add_flags(t, cfg_cls)
    s = cmds.add_parser("sample", help="write generated clips as WAV files")
    s.add_argument("checkpoint", help="last.pt of `seqgan audio train`")
    s.add_argument("-n", type=int, default=16, help="number of clips (default 16)")
    s.add_argument("--out", metavar="DIR", required=True, help="folder for the WAV files (created)")
    s.add_argument("--digit", type=int, help="conditional models: the digit to generate (default: random digits)")
    s.add_argument("--seed", type=int, default=0)
    c = cmds.add_parser("classifier", help="the digit classifier behind `audio score`")
    c_cmds = c.add_subparsers(dest="classifier_command", required=True, metavar="SUBCOMMAND")
    ct = c_cmds.add_parser("train", help="train it on FSDD's training split and report its test accuracy")
    ct.add_argument("--out", required=True, metavar="FILE", help="where the classifier is written (e.g. clf.pt)")
    ct.add_argument("--quiet", action="store_true", help="no progress bar")
    config.add_flags(ct, ClassifierConfig)
    sc = cmds.add_parser("score", help="Inception score and nearest-neighbour distances of a folder of WAV files")
    sc.add_argument("folder", help="folder of WAV files (resampled to 16 kHz, padded or cut to 16384 samples)")
    sc.add_argument("--classifier", metavar="FILE", default=DEFAULT_CLASSIFIER,
                    help=f"digit classifier (default {DEFAULT_CLASSIFIER}, trained there first if missing)")
    sc.add_argument("--reference", default="fsdd", help="training clips for the nearest-neighbour distance: fsdd "
                    "(train split), a folder of WAV files, or none")
    sc.add_argument("--splits", type=int, default=10, help="Inception-score splits (default 10)")
    sc.add_argument("--json", metavar="FILE", help="also write the result to FILE")
    pl = cmds.add_parser("plot", help="PNG grid of waveforms and spectrograms of a folder of WAV files")
    pl.add_argument("folder", help="folder of WAV files")
    pl.add_argument("--out", required=True, metavar="FILE", help="the PNG to write (e.g. grid.png)")
    pl.add_argument("--max", type=int, default=16, help="draw at most this many clips, in name order (default 16)")


def _train(args: argparse.Namespace) -> int:
    cfg_cls, trainer_cls, presets = ALGORITHMS[args.audio_algorithm]
    return train(args, cfg_cls, presets, args.audio_algorithm, trainer_cls,
                 lambda trainer: [f"data: {trainer.data.source}: {json.dumps(trainer.data.stats)}"])


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
    grid = save_clip_grid(clips[:GRID_CLIPS], out / "grid.png", titles=[p.name for p in paths[:GRID_CLIPS]],
                          sample_rate=trainer.config.sample_rate)
    print(f"wrote {len(paths)} WAV files ({trainer.config.sample_rate} Hz, {clips.shape[-1]} samples) and {grid.name} "
          f"to {out}")
    return 0


def _classifier_train(args: argparse.Namespace, out: str | None = None) -> DigitClassifier:
    """Train the classifier of ``args`` (flags) and write it to ``out``; FSDD's test split measures it."""
    cfg = config.build(ClassifierConfig, {}, None, None, config.flag_values(args))
    out = Path(out or args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as {out / 'clf.pt'}")
    logger = RunLogger(None, console=not getattr(args, "quiet", False))
    train = load_audio(cfg.corpus, "train", sample_rate=cfg.sample_rate, max_files=cfg.max_files)
    test = load_audio(cfg.corpus, "test", sample_rate=cfg.sample_rate) if cfg.corpus == "fsdd" else None
    logger.message(f"classifier: {len(train)} training clips from {train.source}")
    clf = train_classifier(cfg, train, test, logger)
    clf.save(out)
    return clf


def _classifier(args: argparse.Namespace) -> int:
    clf = _classifier_train(args)
    acc = clf.test_accuracy
    print(json.dumps({"classifier": str(args.out), "test_accuracy": acc,
                      "test_split": "fsdd recordings 0-4" if acc is not None else None}))
    return 0


def _score(args: argparse.Namespace) -> int:
    if args.splits < 1:
        raise ConfigError(f"--splits must be >= 1, got {args.splits}")
    if args.json and Path(args.json).is_dir():
        raise ConfigError(f"--json {args.json} is a folder; give a file name such as {Path(args.json) / 'score.json'}")
    clips = load_wav_folder(args.folder)
    if len(clips) < max(args.splits, 2):
        raise ConfigError(f"{args.folder} holds {len(clips)} WAV file(s); the Inception score over {args.splits} "
                          f"splits needs at least {max(args.splits, 2)} (lower --splits or add clips)")
    reference = None
    if args.reference != "none":
        reference = load_audio(args.reference, "train")
    path = Path(args.classifier)
    if path.exists() or args.classifier != DEFAULT_CLASSIFIER:
        clf = DigitClassifier.load(path)
    else:
        print(f"no classifier at {path}: training one (about a minute or two on a CPU)", file=sys.stderr)
        defaults = argparse.Namespace(quiet=True)
        clf = _classifier_train(defaults, str(path))
    probs = clf.probabilities(clips.audio)
    mean, std = inception_score(probs, args.splits)
    feats = clf.features(clips.audio)
    train_feats = clf.features(reference.audio) if reference is not None else None
    result = {"folder": str(args.folder), "clips": len(clips), "inception_score": mean, "inception_std": std,
              "splits": args.splits, **nn_stats(feats, train_feats),
              "reference": reference.source if reference is not None else None,
              "classifier": str(path), "classifier_test_accuracy": clf.test_accuracy,
              "predicted_digits": torch.bincount(probs.argmax(1), minlength=NUM_DIGITS).tolist()}
    if args.json:
        atomic_write_text(args.json, json.dumps(result, indent=2) + "\n")
    print(json.dumps(result))
    return 0


def _plot(args: argparse.Namespace) -> int:
    if args.max < 1:
        raise ConfigError(f"--max must be >= 1, got {args.max}")
    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a folder; give a file name such as {out / 'grid.png'}")
    clips = load_wav_folder(args.folder, max_files=args.max)
    save_clip_grid(clips.audio, out, titles=clips.names, sample_rate=clips.sample_rate)
    print(f"wrote {out} ({len(clips)} clips)")
    return 0


def run(args: argparse.Namespace) -> int:
    return {"train": _train, "sample": _sample, "classifier": _classifier, "score": _score,
            "plot": _plot}[args.audio_command](args)
