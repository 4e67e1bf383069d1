"""MusicVAE reconstruction accuracy, flat vs hierarchical decoder, 2 and 16 bars, beside the paper's table.

    python benchmarks/music.py [--corpus nottingham] [--bars 2,16] [--decoders flat,hierarchical]
                               [--steps-2 400] [--steps-16 120] [--threads 1] [--json OUT] [--md OUT]
                               [--plot OUT.png] [--keep DIR]
    python benchmarks/music.py --merge A.json,B.json --json OUT --md OUT [--plot OUT.png]   # runs side by side

Each run trains a MusicVAE (sizes of ``MusicVAEConfig``'s CPU defaults unless given: emb 32, encoder 128 x 2
directions, z 64, conductor 128, decoder 128, batch 64, lr 1e-3, beta 0.2 after a linear warm-up over 1/4 of the
steps, free bits 48, transposition augmentation, no scheduled sampling) for a fixed number of steps with one seed,
then evaluates on ``--eval-windows`` held-out windows (evenly spaced) of the corpus's fixed test split:
    teacher-forced accuracy: argmax of the teacher-forced logits from z = mu equals the input step;
    sampled accuracy: the greedy decode of z = mu through the rollout engine equals the input step;
    sampled at T = 1: the same for a decode that samples at softmax temperature 1 (the paper's protocol as we recall
    its Table 1 caption; not verified), from a fixed evaluation seed;
    by bar: each accuracy per bar position of the window (``--plot`` draws them), where a decoder that drifts
    away from the melody shows it;
    "hold" baseline: the share of no-event steps in the same windows, i.e. the accuracy of always predicting
    no-event (hold the previous note, or the silence): a model must beat it to have learnt anything about the melody.
These are REDUCED CPU runs (minutes, not the paper's GPU days on 1.5M files), so compare orders and margins only.

Paper (Roberts et al. 2018, Table 1, as transcribed in issue 5; its own 1.5M-file corpus): 16-bar melody
teacher-forced 0.883 flat vs 0.919 hierarchical, sampled 0.620 vs 0.812; 2-bar melody 0.986 / 0.951 (read here as
teacher-forced / sampled of the paper's 2-bar model, which has a flat decoder).
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from _common import require_same, stamp, write_json
from seqgan import checkpoint
from seqgan.music.melody import NO_EVENT
from seqgan.music.train import MusicVAEConfig, MusicVAETrainer, load_corpus
from seqgan.trainers.loop import LAST, checkpoint_payload

PAPER = {("16", "flat"): (0.883, 0.620), ("16", "hierarchical"): (0.919, 0.812), ("2", "flat"): (0.986, 0.951)}


def markdown(corpus: str, runs: list[dict]) -> str:
    lines = [f"MusicVAE reconstruction accuracy on `{corpus}` test windows (reduced CPU sizes; z = mu)", "",
             "| bars | decoder | free bits | steps | train s | teacher-forced | sampled (greedy) | sampled (T = 1) | "
             "always-hold baseline | test KL nats | paper TF / sampled |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for r in runs:
        paper = (f"{r['paper_teacher_forced']:.3f} / {r['paper_sampled']:.3f}"
                 if r["paper_teacher_forced"] is not None else "-")
        lines.append(f"| {r['bars']} | {r['decoder']} | {r['config']['free_bits']:g} | {r['steps']} | "
                     f"{r['train_seconds']:.0f} | {r['acc_teacher_forced']:.3f} | {r['acc_sampled']:.3f} | "
                     f"{_cell(r.get('acc_sampled_t1'))} | {r['baseline_hold_accuracy']:.3f} | {r['test_kl_nats']:.1f} | "
                     f"{paper} |")
    return "\n".join(lines) + "\n"


def _cell(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"  # results written before a column existed


def plot_by_bar(runs: list[dict], path: str) -> None:
    """Accuracy per bar position, one panel per window length: teacher-forced dashed, greedy solid, T = 1 dotted;
    one colour per decoder (and free-bits budget). Written atomically (needs matplotlib)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seqgan.atomic import atomic_write

    lengths = sorted({r["bars"] for r in runs if r.get("by_bar")})
    if not lengths:
        raise ValueError("no run holds per-bar accuracies (results written before --plot existed)")
    fig = Figure(figsize=(6.5 * len(lengths), 4.2))
    FigureCanvasAgg(fig)
    styles = {"acc_teacher_forced": ("--", "teacher-forced"), "acc_sampled": ("-", "greedy"),
              "acc_sampled_t1": (":", "sampled T = 1")}
    for k, bars in enumerate(lengths):
        ax = fig.add_subplot(1, len(lengths), k + 1)
        group = [r for r in runs if r["bars"] == bars and r.get("by_bar")]
        for i, r in enumerate(group):
            colour = f"C{i}"
            label = f"{r['decoder']} (free bits {r['config']['free_bits']:g})"
            for key, (style, name) in styles.items():
                ax.plot(range(1, bars + 1), r["by_bar"][key], style, color=colour, label=f"{label}, {name}")
        ax.axhline(group[0]["baseline_hold_accuracy"], color="0.5", linewidth=0.8, label="always hold")
        ax.set_xticks(range(1, bars + 1))
        ax.set_xlabel("bar of the window")
        ax.set_ylabel("reconstruction accuracy (test windows, z = mu)")
        ax.set_title(f"{bars}-bar MusicVAE, {group[0]['steps']} steps", fontsize=10)
        ax.legend(fontsize=6)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))


MERGE_SAME = ("corpus", "git", "torch", "reduced_cpu_sizes")


def merge(parts: list[dict]) -> dict:
    """Result files of separate processes (e.g. one per decoder) -> one result; ValueError on a mismatch."""
    require_same(parts, MERGE_SAME)
    runs = [(r["bars"], r["decoder"], r["config"]["free_bits"]) for p in parts for r in p["runs"]]
    if len(set(runs)) != len(runs):
        raise ValueError(f"cannot merge results that repeat a (bars, decoder, free bits) run: {runs}")
    return {**parts[0], "runs": sorted((r for p in parts for r in p["runs"]),
                                       key=lambda r: (r["bars"], r["config"]["free_bits"], r["decoder"])),
            "devices": sorted({p["device"] for p in parts})}


def write_outputs(result: dict, args: argparse.Namespace) -> None:
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(markdown(result["corpus"], result["runs"]), encoding="utf-8")
    if args.plot:
        plot_by_bar(result["runs"], args.plot)
    write_json(args.json, result)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpus", default="nottingham")
    p.add_argument("--bars", default="2,16")
    p.add_argument("--decoders", default="flat,hierarchical")
    p.add_argument("--steps-2", type=int, default=400, help="training steps of the 2-bar runs")
    p.add_argument("--steps-16", type=int, default=120, help="training steps of the 16-bar runs")
    p.add_argument("--hidden", type=int, default=128, help="encoder, conductor and decoder LSTM units")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--free-bits", type=float, help="KL budget in bits (default: MusicVAEConfig's, 48; MusicVAE's "
                                                   "16-bar models used 256, as recalled, not verified)")
    p.add_argument("--eval-windows", type=int, default=256)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: torch's default)")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--md", metavar="OUT", help="write the Markdown table here too")
    p.add_argument("--log-every", type=int, default=0, help="print the training loss every N steps (0: never)")
    p.add_argument("--plot", metavar="OUT.png", help="draw the accuracies per bar position (needs matplotlib)")
    p.add_argument("--keep", metavar="DIR", help="save each trained model's checkpoint here (bars, decoder, free bits "
                                                 "and seed in the name), for `seqgan music sample` and later checks")
    p.add_argument("--merge", metavar="A.json,B.json", help="join finished result files instead of training")
    args = p.parse_args()
    if args.merge:
        try:
            write_outputs(merge([json.loads(Path(f).read_text(encoding="utf-8")) for f in args.merge.split(",")]),
                          args)
        except (OSError, ValueError, KeyError) as e:
            p.error(f"--merge: {e}")
        return
    if args.threads:
        torch.set_num_threads(args.threads)
    runs = []
    corpora = {}
    for bars in [int(b) for b in args.bars.split(",")]:
        steps = args.steps_2 if bars == 2 else args.steps_16
        for decoder in args.decoders.split(","):
            cfg = MusicVAEConfig(bars=bars, decoder=decoder, corpus=args.corpus, enc_hidden=args.hidden,
                                 conductor_hidden=args.hidden, dec_hidden=args.hidden, batch_size=args.batch_size,
                                 steps=steps, kl_anneal_steps=max(1, steps // 4), eval_windows=args.eval_windows,
                                 seed=args.seed, device=args.device,
                                 **({} if args.free_bits is None else {"free_bits": args.free_bits}))
            if bars not in corpora:
                corpora[bars] = load_corpus(cfg)
            trainer = MusicVAETrainer(cfg, corpora[bars])
            t0 = time.perf_counter()
            for i in range(steps):
                logs = trainer.train_step(i)
                if args.log_every and (i + 1) % args.log_every == 0:
                    print(f"{bars} bars {decoder} step {i + 1}/{steps}: loss {logs['loss']:.3f} acc {logs['acc']:.3f}, "
                          f"{time.perf_counter() - t0:.0f} s", flush=True)
            train_s = time.perf_counter() - t0
            if args.keep:
                keep = Path(args.keep) / f"{bars}bars_{decoder}_fb{cfg.free_bits:g}_seed{args.seed}"
                progress = {"phase": 1, "step": 0, "global_step": steps, "metrics_lines": 0, "wall_s": train_s,
                            "world_size": 1}  # a finished one-phase run, as fit() leaves it
                checkpoint.save(keep / LAST, checkpoint_payload(trainer, progress))
            t0 = time.perf_counter()
            ev, by_bar = trainer.evaluate_with_bars()
            paper = PAPER.get((str(bars), decoder))
            hold = (trainer.test_data == NO_EVENT).float().mean().item()
            runs.append({"bars": bars, "decoder": decoder, "steps": steps, "train_seconds": round(train_s, 1),
                         "baseline_hold_accuracy": hold,
                         "eval_seconds": round(time.perf_counter() - t0, 1), "final_train_loss": logs["loss"],
                         "acc_teacher_forced": ev["acc_teacher_forced"], "acc_sampled": ev["acc_sampled"],
                         "acc_sampled_t1": ev["acc_sampled_t1"], "by_bar": by_bar,
                         "test_recon_nats": ev["recon"], "test_kl_nats": ev["kl"],
                         "eval_windows": int(ev["eval_windows"]),
                         "train_windows": len(corpora[bars].train),
                         "paper_teacher_forced": paper[0] if paper else None,
                         "paper_sampled": paper[1] if paper else None,
                         "config": {k: getattr(cfg, k) for k in ("emb_dim", "enc_hidden", "z_dim", "conductor_hidden",
                                                                 "dec_hidden", "batch_size", "lr", "beta",
                                                                 "free_bits", "kl_anneal_steps", "transpose")}})
            r = runs[-1]
            print(f"{bars:>2} bars {decoder:13} steps {steps:>5}  TF {r['acc_teacher_forced']:.3f}  "
                  f"sampled {r['acc_sampled']:.3f}  T=1 {r['acc_sampled_t1']:.3f}  hold baseline {hold:.3f}  "
                  f"({r['train_seconds']:.0f} s train)",
                  flush=True)
    print()
    print(f"{'bars':>4} {'decoder':13}{'steps':>6}{'TF (ours)':>11}{'TF (paper)':>12}{'sampled (ours)':>16}"
          f"{'sampled (paper)':>17}")
    for r in runs:
        pt = f"{r['paper_teacher_forced']:.3f}" if r["paper_teacher_forced"] is not None else "-"
        ps = f"{r['paper_sampled']:.3f}" if r["paper_sampled"] is not None else "-"
        print(f"{r['bars']:>4} {r['decoder']:13}{r['steps']:>6}{r['acc_teacher_forced']:>11.3f}{pt:>12}"
              f"{r['acc_sampled']:>16.3f}{ps:>17}")
    write_outputs({"corpus": args.corpus, "protocol": __doc__.split("\n\n")[2].strip(), "runs": runs,
                   "reduced_cpu_sizes": args.device == "cpu", **stamp(args.device)}, args)


if __name__ == "__main__":
    main()
