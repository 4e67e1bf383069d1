"""SeqGAN on real text: BLEU-2..5, Self-BLEU-2..5 and NLL-test after MLE pretraining and after SeqGAN, beside the
published rows, for image_coco, chinese_poems and obama_speeches.

    python benchmarks/text_quality.py [--preset cpu-text|paper] [--corpora image_coco,...] [--device cpu|cuda]
                                      [--json OUT] [--plot PNG] [--sweep DIR]

Protocol: see seqgan.metrics.text.PROTOCOL (Texygen BLEU, all test lines as references). The MLE row is the same
run's generator at the end of MLE pretraining. `cpu-text` is a reduced schedule for a 2-core CPU, labelled as such
in the output; `paper` is the SeqGAN paper's schedule (a GPU job). Needs $SEQGAN_DATA.
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
from seqgan.metrics.sweep import plot_sweep, temperature_sweep, write_sweep_json
from seqgan.trainers.loop import fit
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer

# Per corpus: settings on top of the preset, and how many generated lines the evaluation scores.
CORPORA = {
    # Texygen scores as many samples as there are test captions (10,000).
    "image_coco": {"n_eval_samples": 10_000},
    "chinese_poems": {"n_eval_samples": 2_000},
    # Paragraphs of up to 222 words: rollouts cost T^2, so the CPU run keeps each paragraph's first 40 words.
    "obama_speeches": {"n_eval_samples": 2_000, "max_len": 40, "max_vocab": 5_000},
}
# Transcribed from the papers; different corpus versions and preprocessing: indicative only.
PUBLISHED = {
    "image_coco": [
        {"row": "Texygen MLE (Zhu et al. 2018, Table 3)", "bleu2": 0.731, "bleu3": 0.497, "bleu4": 0.305,
         "bleu5": 0.189},
        {"row": "Texygen SeqGAN (Zhu et al. 2018, Tables 3, 4)", "bleu2": 0.745, "bleu3": 0.498, "bleu4": 0.294,
         "bleu5": 0.180, "self_bleu2": 0.950, "self_bleu3": 0.840, "self_bleu4": 0.670, "self_bleu5": 0.489}],
    "chinese_poems": [
        {"row": "SeqGAN paper MLE, quatrains (Yu et al. 2017, Table 3)", "bleu2": 0.667},
        {"row": "SeqGAN paper SeqGAN, quatrains (Yu et al. 2017, Table 3)", "bleu2": 0.739}],
    "obama_speeches": [],
}
METRICS = ["nll_test"] + [f"bleu{n}" for n in range(2, 6)] + [f"self_bleu{n}" for n in range(2, 6)]


def run_corpus(name: str, args: argparse.Namespace) -> dict:
    out_dir = Path(args.out_dir or tempfile.mkdtemp(prefix="seqgan-text-")) / name
    cfg = from_dict(SeqGANConfig, {**PRESETS[args.preset], **CORPORA[name], "corpus": name, "device": args.device,
                                   "seed": args.seed, "out_dir": str(out_dir)})
    t0 = time.perf_counter()
    trainer = SeqGANTrainer(cfg)
    final = fit(trainer, out_dir, logger=RunLogger(out_dir, console=not args.quiet),
                checkpoint_every=cfg.checkpoint_every)
    wall = time.perf_counter() - t0
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    mle = [r for r in evals if r["phase"] == "mle"][-1]
    result = {"corpus": name, "preset": args.preset, "wall_s": wall, "data_source": trainer.corpus.source,
              "n_hypotheses": cfg.n_eval_samples, "n_references": len(trainer.corpus.references),
              "vocab_size": trainer.corpus.vocab_size, "max_len": trainer.seq_len - 1,
              "mle": {k: mle[k] for k in METRICS}, "seqgan": {k: final[k] for k in METRICS},
              "published": PUBLISHED[name], "config": to_dict(cfg),
              "curve": [{k: r[k] for k in ["phase", "global_step"] + METRICS} for r in evals]}
    if args.sweep:
        result["sweep"] = sweep(trainer, Path(args.sweep), name, args.seed, args.sweep_n)
    return result


def sweep(trainer: SeqGANTrainer, folder: Path, name: str, seed: int, n: int) -> str:
    def sample_lines(n: int, temperature: float, s: int) -> list[str]:
        return trainer.sample_text(n, temperature, torch.Generator(trainer.device).manual_seed(s))

    result = temperature_sweep(sample_lines, trainer.corpus.references, n=n, seed=seed)
    write_sweep_json(result, folder / f"sweep_{name}.json")
    plot_sweep(result, folder / f"sweep_{name}.png", title=f"SeqGAN on {name}: temperature sweep ({n:,} samples)")
    return str(folder / f"sweep_{name}.json")


def print_table(results: list[dict]) -> None:
    cols = METRICS
    print(f"{'corpus / row':58}" + "".join(f"{c:>11}" for c in cols))
    for r in results:
        label = f"{r['corpus']} ({r['preset']}, {r['n_hypotheses']} samples vs {r['n_references']} refs)"
        print(label)
        for row, values in (("ours MLE", r["mle"]), ("ours SeqGAN", r["seqgan"]), *((p["row"], p)
                                                                                    for p in r["published"])):
            print(f"  {row:56}" + "".join(f"{values[c]:>11.3f}" if c in values else f"{'-':>11}" for c in cols))


def plot_curves(results: list[dict], path: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(results), figsize=(4.8 * len(results), 3.6), squeeze=False)
    for ax, r in zip(axes[0], results):
        for key, colour in (("bleu4", "tab:blue"), ("self_bleu4", "tab:orange")):
            pts = [(c["global_step"], c[key]) for c in r["curve"]]
            ax.plot(*zip(*pts), "o-", color=colour, markersize=3, label=key.replace("_", "-").upper())
        end_mle = max(c["global_step"] for c in r["curve"] if c["phase"] == "mle")
        ax.axvline(end_mle, color="gray", ls=":", lw=0.8)
        ax.set_title(f"{r['corpus']} ({r['preset']})")
        ax.set_xlabel("step (MLE epochs | D rounds, adversarial epochs)")
        ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--preset", default="cpu-text", choices=sorted(PRESETS))
    p.add_argument("--corpora", default=",".join(CORPORA), help="comma-separated (default: all three)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=88)
    p.add_argument("--out-dir", help="keep the runs here (default: a temporary folder)")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--plot", metavar="PNG", help="BLEU-4 and Self-BLEU-4 during training (needs matplotlib)")
    p.add_argument("--sweep", metavar="DIR", help="also write a temperature sweep of each final model to DIR")
    p.add_argument("--sweep-n", type=int, default=2_000, help="samples per temperature (default %(default)s)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    names = [n for n in args.corpora.split(",") if n]
    unknown = sorted(set(names) - set(CORPORA))
    if unknown:
        p.error(f"unknown corpora {', '.join(unknown)}; choose from {', '.join(CORPORA)}")
    results = []
    for name in names:
        results.append(run_corpus(name, args))
        write_json(args.json, {"runs": results, **stamp(args.device)})  # after every corpus: nothing lost
    print_table(results)
    if args.plot:
        plot_curves(results, args.plot)


if __name__ == "__main__":
    main()
