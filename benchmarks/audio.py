"""Audio GAN evaluation on FSDD, after Donahue et al. (ICLR 2019) Table 1: the digit classifier's test accuracy, the
Inception score (10 splits) of real test clips and of clips from reduced WaveGAN / SpecGAN (/ conditional WaveGAN)
runs, each model's score as a fraction of the real one, and nearest-neighbour distances (|D|_self, |D|_train) in
the classifier's log-mel feature space.

This is a REDUCED CPU run: model size d, batch and step counts far below the paper's (d = 64, batch 64, orders of
magnitude more generator steps on a GPU), so the GANs have barely started to learn; the same protocol runs unchanged
with ``--model-size 64 --batch-size 64 --steps N --device cuda``. The paper's SC09 numbers are printed beside
ours for orientation only (a different data set: SC09 has many speakers, FSDD 6).

    SEQGAN_DATA=../shared/corpora python benchmarks/audio.py --json benchmarks/results/audio_cpu.json \\
        --md benchmarks/results/audio_cpu.md --grid benchmarks/results/audio_grid_cpu.png
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import stamp, write_json  # noqa: E402

from seqgan.audio.classifier import ClassifierConfig, train_classifier  # noqa: E402
from seqgan.audio.data import load_fsdd  # noqa: E402
from seqgan.audio.metrics import inception_score, nn_stats  # noqa: E402
from seqgan.audio.plot import save_clip_grid  # noqa: E402
from seqgan.audio.trainer import ALGORITHMS  # noqa: E402
from seqgan.logging import RunLogger  # noqa: E402
from seqgan.trainers.loop import fit  # noqa: E402

# Donahue et al. 2019, Table 1 (SC09 Inception scores), transcribed
PAPER = [("real data (SC09 test)", 9.18), ("WaveGAN", 4.67), ("SpecGAN", 6.03)]


def score(clf, audio: torch.Tensor, train_feats: torch.Tensor, splits: int) -> dict:
    probs = clf.probabilities(audio)
    mean, std = inception_score(probs, splits)
    return {"inception_score": mean, "inception_std": std, **nn_stats(clf.features(audio), train_feats),
            "predicted_digits": torch.bincount(probs.argmax(1), minlength=10).tolist(), "_probs": probs}


def train_gan(name: str, conditional: bool, args, train, workdir: Path) -> tuple[object, float]:
    cfg_cls, trainer_cls, _ = ALGORITHMS[name]
    cfg = dataclasses.replace(cfg_cls(), model_size=args.model_size, batch_size=args.batch_size, steps=args.steps
                              if not conditional else args.cond_steps, conditional=conditional,
                              eval_every=max(1, args.steps // 4), checkpoint_every=10 ** 9, seed=args.seed,
                              out_dir=str(workdir), device=args.device)
    trainer = trainer_cls(cfg, train)
    start = time.perf_counter()
    fit(trainer, workdir, logger=RunLogger(workdir), checkpoint_every=cfg.checkpoint_every)
    return trainer, time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model-size", type=int, default=8, help="d of both GANs (paper: 64)")
    ap.add_argument("--batch-size", type=int, default=32, help="paper: 64")
    ap.add_argument("--steps", type=int, default=200, help="generator steps of WaveGAN and SpecGAN")
    ap.add_argument("--cond-steps", type=int, default=100, help="generator steps of conditional WaveGAN (0: skip)")
    ap.add_argument("--n-generated", type=int, default=500, help="generated clips scored per model")
    ap.add_argument("--classifier-epochs", type=int, default=20)
    ap.add_argument("--splits", type=int, default=10)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--device", default="cpu", help="device of the GAN training (the classifier runs on the CPU)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--max-files", type=int, default=None,
                    help="use only the first k FSDD files of each split (smoke tests; default: all)")
    ap.add_argument("--json")
    ap.add_argument("--md")
    ap.add_argument("--grid")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    t0 = time.perf_counter()
    train, test = load_fsdd("train", max_files=args.max_files), load_fsdd("test", max_files=args.max_files)
    print(f"FSDD: {len(train)} train / {len(test)} test clips", flush=True)

    start = time.perf_counter()
    clf = train_classifier(ClassifierConfig(epochs=args.classifier_epochs, seed=args.seed), train, test)
    clf_time = time.perf_counter() - start
    print(f"classifier: test accuracy {clf.test_accuracy:.4f} ({clf_time:.0f} s)", flush=True)
    train_feats = clf.features(train.audio)
    real = score(clf, test.audio, train_feats, args.splits)
    real.pop("_probs")
    print(f"real test IS {real['inception_score']:.3f} +- {real['inception_std']:.3f}", flush=True)

    rows, grid_clips, grid_titles = [], [test.audio[:4]], [f"real {n.split('/')[-1]}" for n in test.names[:4]]
    runs = [("wavegan", False), ("specgan", False)] + ([("wavegan", True)] if args.cond_steps > 0 else [])
    with tempfile.TemporaryDirectory() as tmp:
        for name, cond in runs:
            label = ("conditional " if cond else "") + {"wavegan": "WaveGAN", "specgan": "SpecGAN"}[name]
            trainer, secs = train_gan(name, cond, args, train, Path(tmp) / f"{name}{'_cond' if cond else ''}")
            g = torch.Generator().manual_seed(args.seed + 10)
            labels = torch.arange(args.n_generated) % 10 if cond else None
            clips = trainer.sample(args.n_generated, labels, rng=g)
            row = {"model": label, "steps": trainer.config.steps, "train_s": secs,
                   "s_per_step": secs / trainer.config.steps, **score(clf, clips, train_feats, args.splits)}
            probs = row.pop("_probs")
            row["is_ratio_to_real"] = row["inception_score"] / real["inception_score"]
            if cond:      # does the classifier hear the digit the model was asked for?
                row["label_accuracy"] = float((probs.argmax(1) == labels).double().mean())
            rows.append(row)
            grid_clips.append(clips[:4])
            grid_titles += [f"{label} {i}" for i in range(4)]
            print(f"{label}: {secs:.0f} s, IS {row['inception_score']:.3f} +- {row['inception_std']:.3f} "
                  f"({row['is_ratio_to_real']:.1%} of real), nn_self {row['nn_self']:.1f}, "
                  f"nn_train {row['nn_train']:.1f}", flush=True)

    result = {
        "benchmark": "audio", **stamp(args.device), "threads": args.threads,
        "note": f"GANs trained on {args.device} with model size {args.model_size}, batch {args.batch_size}, "
                f"{args.steps} steps (paper: 64, 64, far more steps on a GPU); reduced runs are not comparable with "
                "the paper's numbers",
        "protocol": {"data": "FSDD at 16 kHz, 16384 samples; train = recordings 5-49 (2,700), test = 0-4 (300)",
                     "classifier": "log-mel (40 mels, 25 ms / 10 ms) CNN trained on FSDD train",
                     "inception_score": f"exp E KL(p(y|x) || p(y)), {args.splits} splits, mean and std",
                     "generated_clips": args.n_generated,
                     "max_files_per_split": args.max_files,  # None: all of FSDD
                     "nn": "mean Euclidean distance in standardised log-mel space to the nearest other clip of the "
                           "set (nn_self) and to the nearest FSDD training clip (nn_train)",
                     "gan": {"model_size": args.model_size, "batch_size": args.batch_size, "d_steps": 5,
                             "lr": 1e-4, "gp_lambda": 10, "steps": args.steps, "cond_steps": args.cond_steps,
                             "griffin_lim_iterations": 16}},
        "classifier": {"test_accuracy": clf.test_accuracy, "train_s": clf_time,
                       "epochs": args.classifier_epochs},
        "real_test": real, "models": rows,
        "paper_sc09": {k: v for k, v in PAPER},
        "total_s": time.perf_counter() - t0,
    }
    write_json(args.json, result)
    table = markdown(result)
    print(table)
    if args.md:
        Path(args.md).write_text(table, encoding="utf-8")
    if args.grid:
        save_clip_grid(torch.cat(grid_clips), args.grid, titles=grid_titles)


def markdown(r: dict) -> str:
    real, gan = r["real_test"], r["protocol"]["gan"]
    lines = [f"{r['device']}, torch {r['torch']}: {r['note']}.", "",
             "| data / model | Inception score (10 splits) | % of real | nn_self | nn_train | steps | notes |",
             "| --- | --- | --- | --- | --- | --- | --- |",
             f"| FSDD test (real), ours | {real['inception_score']:.2f} ± {real['inception_std']:.2f} | 100% | "
             f"{real['nn_self']:.1f} | {real['nn_train']:.1f} | - | classifier test accuracy "
             f"{r['classifier']['test_accuracy']:.1%} |"]
    for m in r["models"]:
        note = f"{m['train_s'] / 60:.1f} min"
        if "label_accuracy" in m:
            note += f"; asked digit heard {m['label_accuracy']:.1%}"
        lines.append(f"| {m['model']}, ours (d={gan['model_size']}, batch {gan['batch_size']}) | "
                     f"{m['inception_score']:.2f} ± {m['inception_std']:.2f} | "
                     f"{m['is_ratio_to_real']:.0%} | {m['nn_self']:.1f} | {m['nn_train']:.1f} | {m['steps']} | "
                     f"{note} |")
    paper_real = r["paper_sc09"]["real data (SC09 test)"]
    for name, v in r["paper_sc09"].items():
        lines.append(f"| {name}, paper (Donahue et al. 2019, SC09) | {v:.2f} | {v / paper_real:.0%} | - | - | - | "
                     "transcribed; other data set |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
