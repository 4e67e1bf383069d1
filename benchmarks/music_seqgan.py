"""SeqGAN on Nottingham melodies (the SeqGAN paper's "Music generation" experiment): BLEU-4 and MSE after MLE
pretraining and after SeqGAN, beside the paper's values and the real training windows.

    python benchmarks/music_seqgan.py [--preset cpu-text|paper] [--corpus nottingham_melody] [--device cpu|cuda]
                                      [--n 2000] [--json OUT] [--md OUT] [--out-dir DIR]

Corpus: ``nottingham_melody`` (``seqgan.music.tokens``: 2-bar windows = 32 sixteenth-note steps, MusicVAE event
classes as tokens). Protocols: ``seqgan.metrics.music`` (BLEU-4 against all test windows, nearest-test-window pitch
MSE). "MLE" is the same run's generator at the end of MLE pretraining. The paper's preprocessing (88 pitches sampled
every 0.4 s, length 32) was never published, so its numbers are indicative only. ``cpu-text`` is the reduced CPU
schedule of the text benchmark (labelled as such); ``paper`` is the paper's schedule (a GPU job). Needs $SEQGAN_DATA.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from _common import stamp, write_json
from seqgan.config import from_dict, to_dict
from seqgan.logging import RunLogger
from seqgan.metrics.music import PROTOCOL, melody_report
from seqgan.music.tokens import ids_to_events
from seqgan.trainers.loop import fit
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer

# Yu et al. 2017, Table 4 (Nottingham): transcribed; different preprocessing, indicative only.
PAPER = {"mle": {"bleu4": 0.9210, "mse": 22.38}, "seqgan": {"bleu4": 0.9406, "mse": 20.62}}
ROWS = (("data", "real training windows (a random subset)"), ("mle", "ours MLE"), ("seqgan", "ours SeqGAN"))


class RecordingTrainer(SeqGANTrainer):
    """SeqGAN that scores its generator once MLE pretraining is over (before the first discriminator round)."""

    n_melody = 2_000
    mle_report: dict | None = None

    def melody_eval(self) -> dict:
        # a private, freshly seeded stream: the evaluation never changes training
        rng = torch.Generator(self.device).manual_seed(self.config.seed + 3)
        events, specials = ids_to_events(self.sample(self.n_melody, rng=rng).cpu())
        self.generator.train()
        test, _ = ids_to_events(self.corpus.test)
        return {**melody_report(events, test), "special_tokens": specials}

    def _d_pretrain_round(self, i: int) -> dict[str, float]:
        if self.mle_report is None:
            self.mle_report = self.melody_eval()
        return super()._d_pretrain_round(i)


def data_row(trainer: SeqGANTrainer, n: int, seed: int) -> dict:
    pick = torch.randperm(len(trainer.corpus.train), generator=torch.Generator().manual_seed(seed))[:n]
    events, _ = ids_to_events(trainer.corpus.train[pick])
    test, _ = ids_to_events(trainer.corpus.test)
    return melody_report(events, test)


def markdown(result: dict) -> str:
    cols = ("bleu4", "mse", "self_bleu4", "nll_test")
    lines = [f"SeqGAN on `{result['corpus']}` ({result['preset']} schedule, {result['device']}, "
             f"{result['wall_s'] / 60:.1f} min; {result['n_hypotheses']:,} generated windows vs "
             f"{result['n_references']:,} test windows)", "",
             "| row | BLEU-4 | MSE | Self-BLEU-4 | NLL-test |", "| --- | --- | --- | --- | --- |"]
    for key, label in ROWS:
        v = result[key]
        lines.append(f"| {label} | " + " | ".join(f"{v[c]:.4f}" if c in v else "-" for c in cols) + " |")
    for key in ("mle", "seqgan"):
        p = PAPER[key]
        lines.append(f"| paper {key.upper() if key == 'mle' else 'SeqGAN'} (Yu et al. 2017, Table 4; other "
                     f"preprocessing) | {p['bleu4']:.4f} | {p['mse']:.2f} | - | - |")
    lines += ["", f"Protocol: {PROTOCOL}."]
    return "\n".join(lines) + "\n"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="cpu-text", choices=sorted(PRESETS))
    p.add_argument("--corpus", default="nottingham_melody")
    p.add_argument("--adv-epochs", type=int, help="override the preset's adversarial epochs")
    p.add_argument("--n", type=int, default=2_000, help="generated windows scored (default %(default)s)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=88)
    p.add_argument("--out-dir", help="keep the run here (default: a temporary folder)")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--md", metavar="OUT", help="write the Markdown table here too")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="seqgan-music-"))
    extra = {"adv_epochs": args.adv_epochs} if args.adv_epochs is not None else {}
    cfg = from_dict(SeqGANConfig, {**PRESETS[args.preset], "n_eval_samples": args.n, **extra, "corpus": args.corpus,
                                   "device": args.device, "seed": args.seed, "out_dir": str(out_dir)})
    t0 = time.perf_counter()
    trainer = RecordingTrainer(cfg)
    trainer.n_melody = args.n
    final = fit(trainer, out_dir, logger=RunLogger(out_dir, console=not args.quiet),
                checkpoint_every=cfg.checkpoint_every)
    wall = time.perf_counter() - t0
    seqgan = {**trainer.melody_eval(), "nll_test": final["nll_test"]}
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    mle = {**(trainer.mle_report or {}), "nll_test": [r for r in evals if r["phase"] == "mle"][-1]["nll_test"]}
    result = {"corpus": args.corpus, "preset": args.preset, "wall_s": wall, "data_source": trainer.corpus.source,
              "n_hypotheses": args.n, "n_references": len(trainer.corpus.test), "protocol": PROTOCOL,
              "data": data_row(trainer, args.n, args.seed), "mle": mle, "seqgan": seqgan, "paper": PAPER,
              "config": to_dict(cfg), "checkpoint": str(out_dir / "last.pt"),
              "curve": [{k: r.get(k) for k in ("phase", "global_step", "nll_test", "bleu4", "self_bleu4")}
                        for r in evals], **stamp(args.device)}
    write_json(args.json, result)
    table = markdown(result)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(table, encoding="utf-8")
    print(table)


if __name__ == "__main__":
    main()
