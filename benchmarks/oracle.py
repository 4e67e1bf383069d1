"""The SeqGAN synthetic-oracle experiment: NLL-oracle after MLE pretraining and after adversarial training.

    python benchmarks/oracle.py [--preset paper|cpu-small] [--device cpu|cuda] [--json OUT] [--plot PNG]

Needs $SEQGAN_DATA pointing at a folder holding seqgan-oracle-lstm/ (the published oracle); without it the run
uses a seeded random oracle and the JSON says so (numbers then are not comparable with the paper).
Paper (Yu et al. 2017, Table 1): MLE 9.038, SeqGAN 8.736; the oracle's own samples 5.752.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from _common import stamp, write_json
from seqgan.config import from_dict
from seqgan.logging import RunLogger
from seqgan.trainers.loop import fit
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer

PAPER = {"nll_oracle_mle": 9.038, "nll_oracle_adv": 8.736, "oracle_samples": 5.752}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="cpu-small", choices=sorted(PRESETS))
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=88)
    p.add_argument("--out-dir", help="keep the run here (default: a temporary folder)")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="PNG", help="draw NLL-oracle against training step (needs matplotlib)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()

    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="seqgan-oracle-"))
    cfg = from_dict(SeqGANConfig, {**PRESETS[args.preset], "device": args.device, "seed": args.seed,
                                   "out_dir": str(out_dir)})
    t0 = time.perf_counter()
    trainer = SeqGANTrainer(cfg)
    logger = RunLogger(out_dir, console=not args.quiet)
    final = fit(trainer, out_dir, logger=logger, checkpoint_every=cfg.checkpoint_every)
    wall = time.perf_counter() - t0

    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    mle_last = [r for r in evals if r["phase"] == "mle"][-1]
    result = {"preset": args.preset, "nll_oracle_mle": mle_last["nll_oracle"], "nll_oracle_adv": final["nll_oracle"],
              "nll_test_mle": mle_last["nll_test"], "nll_test_adv": final["nll_test"], "wall_s": wall,
              "data_source": trainer.corpus.source, "paper": PAPER, "config": json.loads(json.dumps(cfg.__dict__)),
              "curve": [{k: r[k] for k in ("phase", "global_step", "nll_oracle", "nll_test")} for r in evals],
              **stamp(args.device)}
    print(f"preset {args.preset} on {result['device']}: {wall / 60:.1f} min   data: {trainer.corpus.source}")
    print(f"{'':12}{'ours':>8}{'paper':>8}")
    print(f"{'MLE':12}{result['nll_oracle_mle']:>8.3f}{PAPER['nll_oracle_mle']:>8.3f}")
    print(f"{'SeqGAN':12}{result['nll_oracle_adv']:>8.3f}{PAPER['nll_oracle_adv']:>8.3f}")
    write_json(args.json, result)
    if args.plot:
        plot(evals, args.plot, f"SeqGAN oracle, preset {args.preset}")


def plot(evals: list[dict], path: str, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for phase, colour in (("mle", "tab:blue"), ("adversarial", "tab:red")):
        pts = [(r["global_step"], r["nll_oracle"]) for r in evals if r["phase"] == phase]
        if pts:
            ax.plot(*zip(*pts), "o-", color=colour, label=phase, markersize=3)
    ax.axhline(PAPER["nll_oracle_adv"], color="gray", ls="--", lw=0.8, label="paper SeqGAN 8.736")
    ax.set_xlabel("training step (MLE epoch / D round / adversarial epoch)")
    ax.set_ylabel("NLL-oracle (nats/token)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    main()
