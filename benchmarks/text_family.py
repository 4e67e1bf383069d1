"""The text family side by side: every unconditional text algorithm in ALGORITHMS (and plain MLE) trained with one
shared budget on the synthetic oracle and on image_coco, beside published reference rows.

    python benchmarks/text_family.py [--corpora oracle,image_coco] [--algorithms mle,seqgan,...] [--budget family]
                                     [--mle-epochs N] [--adv-epochs N] [--rollouts N] [--n-eval N] [--n-train N]
                                     [--threads 1]
                                     [--json OUT] [--markdown OUT.md] [--plot OUT.png] [--out-dir DIR]
    python benchmarks/text_family.py --merge A.json,B.json --json OUT --markdown OUT.md [--plot OUT.png]

``--merge`` joins result files of the same budget run as separate processes (side by side, each some corpora and
algorithms) into one result and table, refusing files whose budget, seed, threads, torch or git revision differ
or that repeat a (corpus, algorithm) run; command-line overrides may differ per corpus (e.g. fewer MLE epochs on
the larger corpus; the same within a corpus) and are kept per corpus.

Shared budget (the same for every algorithm; :data:`BUDGETS`): generator embedding and hidden size, batch size,
MLE epochs, discriminator pretraining rounds, the SAME NUMBER OF ADVERSARIAL GENERATOR UPDATES (``adv_epochs``,
each one generator step on one batch; for RelGAN an iteration is one generator step too), rollouts per prefix,
discriminator size and rounds, evaluation sample count. Not a wall-clock budget: the wall time of each run is
reported instead. Each algorithm starts from its own ``cpu-small`` preset (its own extra sizes: RankGAN's ranker,
RelGAN's memory, LeakGAN's manager) with the budget laid over it; PG-BLEU keeps its zero discriminator rounds.
The MLE row is the seqgan run's generator at the end of its MLE phase (its last MLE evaluation).

Algorithms whose configuration is not SeqGAN's (MaskGAN: in-filling, other metrics) are listed as skipped.
Protocol: NLL-oracle = the oracle's mean per-token NLL of the model's samples (nats); NLL-test = the model's NLL
of the held-out split; BLEU-2..5 (Texygen: NLTK word tokenizer, all test lines as references, method1 smoothing)
and Self-BLEU-2..5 (leave-one-out) over ``n_eval_samples`` samples at temperature 1. Needs $SEQGAN_DATA for
image_coco and the published oracle.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from _common import require_same, stamp, write_json
from seqgan.config import ConfigError, from_dict, to_dict
from seqgan.logging import RunLogger
from seqgan.trainers import ALGORITHMS
from seqgan.trainers.loop import fit
from seqgan.trainers.seqgan import SeqGANConfig

CORPORA = ("oracle", "image_coco")
ORACLE_METRICS = ["nll_oracle", "nll_test"]
TEXT_METRICS = ["nll_test"] + [f"bleu{n}" for n in range(2, 6)] + [f"self_bleu{n}" for n in range(2, 6)]
SMALL_D = dict(dis_emb=32, dis_filter_sizes=(2, 3, 4, 5), dis_num_filters=(32, 32, 32, 32))
BUDGETS = {
    # A 2-core CPU in about half an hour per corpus: far below any paper's schedule (labelled "reduced").
    "reduced": dict(gen_emb=32, gen_hidden=32, batch_size=64, mle_epochs=5, d_pretrain_rounds=2, d_epochs=1,
                    d_samples=1_000, adv_epochs=8, adv_g_steps=1, adv_d_rounds=1, rollouts=4, n_train=5_000,
                    n_test=2_000, n_eval_samples=2_000, eval_every=1_000, checkpoint_every=1_000, **SMALL_D),
    # The second family run (issue 7): longer MLE and adversarial phases, sized for a shared 2-core CPU, one process
    # per core, about 30 minutes; run with --n-train 10000 on the oracle and --mle-epochs 3 --n-eval 1000 on COCO
    # (LeakGAN's MLE epoch there takes minutes), see the README.
    "family": dict(gen_emb=32, gen_hidden=32, batch_size=64, mle_epochs=8, d_pretrain_rounds=3, d_epochs=1,
                   d_samples=1_000, adv_epochs=10, adv_g_steps=1, adv_d_rounds=1, rollouts=4, n_train=5_000,
                   n_test=2_000, n_eval_samples=2_000, eval_every=1_000, checkpoint_every=1_000, **SMALL_D),
    # The third family run (issue 7): "family" with MLE early stopping (patience 2 on 10% held-out training rows,
    # the best generator restored) for every algorithm -- LeakGAN's worker memorised the oracle rows under a fixed
    # epoch count, which the NLL-oracle column rewards (see seqgan/trainers/early_stop.py).
    "family-es": dict(gen_emb=32, gen_hidden=32, batch_size=64, mle_epochs=8, mle_patience=2, valid_fraction=0.1,
                      d_pretrain_rounds=3, d_epochs=1, d_samples=1_000, adv_epochs=10, adv_g_steps=1, adv_d_rounds=1,
                      rollouts=4, n_train=5_000, n_test=2_000, n_eval_samples=2_000, eval_every=1_000,
                      checkpoint_every=1_000, **SMALL_D),
    # The fourth family run (issue 7): "family-es" with 200 adversarial generator updates (the SeqGAN paper's
    # count) instead of 10, evaluated every 25; the curves show where each algorithm goes, not just its end point.
    "family-long": dict(gen_emb=32, gen_hidden=32, batch_size=64, mle_epochs=8, mle_patience=2, valid_fraction=0.1,
                        d_pretrain_rounds=3, d_epochs=1, d_samples=1_000, adv_epochs=200, adv_g_steps=1,
                        adv_d_rounds=1, rollouts=4, n_train=5_000, n_test=2_000, n_eval_samples=2_000,
                        eval_every=25, checkpoint_every=25, **SMALL_D),
    # Seconds: the smoke test.
    "tiny": dict(gen_emb=8, gen_hidden=8, batch_size=16, mle_epochs=1, d_pretrain_rounds=1, d_epochs=1,
                 d_samples=32, adv_epochs=1, adv_g_steps=1, adv_d_rounds=1, rollouts=2, seq_len=8, n_train=64,
                 n_test=32, n_eval_samples=32, eval_every=1_000, checkpoint_every=1_000, dis_emb=8,
                 dis_filter_sizes=(1, 2, 3), dis_num_filters=(4, 4, 4)),
}
# command-line knob -> config field, over the budget
OVERRIDES = {"mle_epochs": "mle_epochs", "adv_epochs": "adv_epochs", "rollouts": "rollouts",
             "n_eval": "n_eval_samples", "n_train": "n_train", "eval_every": "eval_every"}
KEEP_PRESET = {"pgbleu": ("d_pretrain_rounds", "adv_d_rounds")}  # no discriminator: its zeros stay
# LeakGAN's interleaved MLE epochs would give it more MLE epochs than the shared budget (and land one right before
# the final evaluation of a 10-update phase): off outside the smoke test.
SHARED_MLE = {"leakgan": dict(mle_interval=0)}
# Per-algorithm extras of the tiny budget (sizes that have no shared field).
TINY_EXTRAS = {"rankgan": dict(ref_size=4, comparison_size=8, ranker_dim=8),
               "relgan": dict(head_size=4, num_rep=2), "leakgan": dict(manager_hidden=8, goal_dim=4, step_size=2)}
# Transcribed from the papers; not the same runs, sizes or (for RelGAN) oracle: indicative only.
PUBLISHED = {
    "oracle": [
        {"row": "SeqGAN (Yu et al. 2017, Table 1), T = 20", "nll_oracle": 8.736},
        {"row": "LeakGAN (Guo et al. 2018, Table 1), T = 20 (transcribed from memory, indicative)",
         "nll_oracle": 7.038},
        {"row": "RelGAN (Nie et al. 2019), T = 20 (~, not the same oracle)", "nll_oracle": 6.68},
    ],
    "image_coco": [],
}


def comparable(name: str) -> bool:
    return name == "mle" or issubclass(ALGORITHMS[name].config, SeqGANConfig)


def run_config(name: str, corpus: str, args: argparse.Namespace, out_dir: Path):
    algo = ALGORITHMS[name]
    extras = TINY_EXTRAS if args.budget == "tiny" else SHARED_MLE
    budget = {**BUDGETS[args.budget], **extras.get(name, {})}
    for flag, field in OVERRIDES.items():
        if getattr(args, flag) is not None:
            budget[field] = getattr(args, flag)
    if corpus != "oracle":
        budget = {k: v for k, v in budget.items() if k not in ("seq_len", "n_train", "n_test")}
    for key in KEEP_PRESET.get(name, ()):
        budget.pop(key, None)
    base = algo.presets.get("cpu-small", {})
    values = {**base, **budget, "corpus": corpus, "device": args.device, "seed": args.seed, "out_dir": str(out_dir)}
    return from_dict(algo.config, values)


def run_one(name: str, corpus: str, args: argparse.Namespace, root: Path) -> dict:
    out_dir = root / corpus / name
    cfg = run_config(name, corpus, args, out_dir)
    t0 = time.perf_counter()
    trainer = ALGORITHMS[name].trainer(cfg)
    final = fit(trainer, out_dir, logger=RunLogger(out_dir, console=not args.quiet),
                checkpoint_every=cfg.checkpoint_every)
    wall = time.perf_counter() - t0
    metrics = ORACLE_METRICS if corpus == "oracle" else TEXT_METRICS
    records = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    mle = [r for r in records if r["kind"] == "eval" and r["phase"] == "mle"]
    stops = [r for r in records if r["kind"] == "train" and r["phase"] == "mle" and "best_epoch" in r]
    adv = [r for r in records if r["phase"] == "adversarial"]
    offset = next((r["global_step"] - r["step"] for r in adv if r["kind"] == "train"), 0)
    curve = [{"update": r["global_step"] - offset, **{k: r[k] for k in metrics}} for r in adv if r["kind"] == "eval"]
    return {"algorithm": name, "corpus": corpus, "wall_s": wall, "data_source": trainer.corpus.source, "curve": curve,
            "mle_early_stop": {"best_epoch": int(stops[-1]["best_epoch"]) + 1, "epochs_run": len(stops),
                               "best_valid_nll": stops[-1]["best_valid_nll"]} if stops else None,
            "final": {k: final[k] for k in metrics}, "after_mle": {k: mle[-1][k] for k in metrics} if mle else None,
            "config": to_dict(cfg)}


def rows_of(results: list[dict], corpus: str) -> list[dict]:
    """Table rows of one corpus: MLE (from the seqgan run) first when asked for, then each algorithm."""
    runs = [r for r in results if r["corpus"] == corpus]
    rows = []
    for r in runs:
        if r["algorithm"] == "seqgan" and r.get("mle_row") and r["after_mle"]:
            rows.append({"row": "MLE (seqgan run after MLE)", **r["after_mle"], "wall_s": None})
    for r in runs:
        if not r.get("final_row", True):
            continue
        row = {"row": r["algorithm"], **r["final"], "wall_s": r["wall_s"]}
        curve = r.get("curve") or []
        if corpus == "oracle" and len(curve) > 1:  # the lowest NLL-oracle of the run, where it was reached
            row["best"] = min(curve, key=lambda point: point["nll_oracle"])
        rows.append(row)
        if r["config"].get("generator") not in (None, "lstm") and r["after_mle"]:
            # its own generator: its own MLE baseline, for telling the adversarial phase's effect apart
            rows.append({"row": f"{r['algorithm']} after its MLE phase", **r["after_mle"], "wall_s": None})
    return rows


def markdown(result: dict) -> str:
    lines = [f"Budget `{result['budget']}` ({result['device']}, {result['threads']} thread(s) per process, "
             f"torch {result['torch']}, git {result['git'][:10]}): "
             f"{json.dumps({**result['budget_values'], **result.get('overrides', {})})}", ""]
    for corpus in result["corpora"]:
        metrics = ORACLE_METRICS if corpus == "oracle" else TEXT_METRICS
        rows = rows_of(result["runs"], corpus) + [{**p, "wall_s": None} for p in PUBLISHED[corpus]]
        best = any("best" in row for row in rows)
        head = ["row", *metrics, *(["lowest nll_oracle of the run (update, nll_test there)"] if best else []), "wall"]
        own = result.get("overrides_by_corpus", {}).get(corpus)
        title = f"**{corpus}**" + (f" (overrides: {json.dumps(own)})" if own else "")
        lines += [title, "", "| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
        for row in rows:
            cells = [f"{row[m]:.3f}" if row.get(m) is not None else "-" for m in metrics]
            if best:
                b = row.get("best")
                cells.append(f"{b['nll_oracle']:.3f} ({b['update']}, {b['nll_test']:.3f})" if b else "-")
            wall = "(in the run)" if "MLE" in row["row"] else (
                f"{row['wall_s'] / 60:.1f} min" if row.get("wall_s") is not None else "-")
            lines.append("| " + " | ".join([row["row"], *cells, wall]) + " |")
        stops = [f"{r['algorithm']} {r['mle_early_stop']['best_epoch']}/{r['mle_early_stop']['epochs_run']}"
                 for r in result["runs"] if r["corpus"] == corpus and r.get("mle_early_stop")]
        if stops:
            lines += ["", "MLE early stopping, best epoch / epochs run: " + ", ".join(stops)]
        lines.append("")
    if result["skipped"]:
        lines.append("Skipped (not an unconditional text generator with these metrics): "
                     + ", ".join(result["skipped"]))
    return "\n".join(lines) + "\n"


MERGE_SAME = ("budget", "budget_values", "threads", "seed", "git", "torch")


def merge(parts: list[dict]) -> dict:
    """Results of the same budget (one per process, each its own corpora) -> one result; ValueError on a mismatch."""
    first = parts[0]
    require_same(parts, MERGE_SAME)
    runs = [(r["corpus"], r["algorithm"]) for p in parts for r in p["runs"]]
    if len(set(runs)) != len(runs):
        raise ValueError(f"cannot merge results that repeat a (corpus, algorithm) run: {runs}")
    corpora = list(dict.fromkeys(c for p in parts for c in p["corpora"]))
    overrides: dict[str, dict] = {}
    for p in parts:
        for c in p["corpora"]:
            own = p.get("overrides_by_corpus", {}).get(c, p.get("overrides", {}))
            if overrides.setdefault(c, own) != own:
                raise ValueError(f"cannot merge {c} runs with different overrides: {overrides[c]} and {own}")
    return {**first, "corpora": corpora, "runs": [r for p in parts for r in p["runs"]], "overrides": {},
            "overrides_by_corpus": overrides,
            "skipped": sorted({s for p in parts for s in p["skipped"]}),
            "commands": [c for p in parts for c in p.get("commands", [p.get("command")]) if c]}


def plot_curves(result: dict, path: str) -> None:
    """NLL-oracle and NLL-test of every oracle run against its adversarial generator updates (needs matplotlib);
    written atomically."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from seqgan.atomic import atomic_write

    runs = [r for r in result["runs"] if r["corpus"] == "oracle" and len(r.get("curve") or []) > 1]
    if not runs:
        raise ValueError("no oracle run holds an adversarial curve of more than one evaluation")
    fig = Figure(figsize=(11, 4.2))
    FigureCanvasAgg(fig)
    for k, metric in enumerate(ORACLE_METRICS):
        ax = fig.add_subplot(1, 2, k + 1)
        for i, r in enumerate(runs):
            start = r["after_mle"] or r["curve"][0]  # update 0: the generator the adversarial phase starts from
            xs = [0] + [point["update"] for point in r["curve"]]
            ys = [start[metric]] + [point[metric] for point in r["curve"]]
            ax.plot(xs, ys, marker=".", color=f"C{i}", label=r["algorithm"])
        ax.set_xlabel("adversarial generator update")
        ax.set_ylabel(f"{metric} (nats per token)")
        ax.set_title(f"{metric}, budget {result['budget']}", fontsize=10)
        ax.legend(fontsize=7)
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=110))


def write_outputs(result: dict, args: argparse.Namespace) -> None:
    write_json(args.json, result)
    table = markdown(result)
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table, encoding="utf-8")
    if args.plot:
        plot_curves(result, args.plot)
    print(table)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--corpora", default=",".join(CORPORA))
    p.add_argument("--algorithms", default="mle," + ",".join(ALGORITHMS),
                   help="comma-separated; 'mle' is the seqgan run's generator after MLE (runs seqgan)")
    p.add_argument("--budget", default="reduced", choices=sorted(BUDGETS))
    p.add_argument("--mle-epochs", type=int)
    p.add_argument("--adv-epochs", type=int)
    p.add_argument("--rollouts", type=int)
    p.add_argument("--eval-every", type=int, help="evaluate every N generator updates (and MLE epochs)")
    p.add_argument("--n-eval", type=int, help="samples per evaluation (NLL-oracle, BLEU, Self-BLEU)")
    p.add_argument("--n-train", type=int, help="oracle training sequences (text corpora use their train split)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default %(default)s)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--seed", type=int, default=88)
    p.add_argument("--out-dir", help="keep the runs here (default: a temporary folder)")
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--markdown", metavar="OUT.md")
    p.add_argument("--quiet", action="store_true")
    p.add_argument("--plot", metavar="OUT.png", help="draw the oracle runs' NLL-oracle and NLL-test against the "
                                                     "adversarial updates (needs matplotlib)")
    p.add_argument("--merge", metavar="A.json,B.json", help="join finished result files instead of training")
    args = p.parse_args()
    if args.merge:
        try:
            parts = [json.loads(Path(f).read_text(encoding="utf-8")) for f in args.merge.split(",") if f]
            write_outputs(merge(parts), args)
        except (OSError, ValueError, KeyError) as e:
            p.error(f"--merge: {e}")
        return
    torch.set_num_threads(args.threads)
    corpora = [c for c in args.corpora.split(",") if c]
    names = [a for a in args.algorithms.split(",") if a]
    unknown = sorted(set(names) - set(ALGORITHMS) - {"mle"}) + sorted(set(corpora) - set(CORPORA))
    if unknown:
        p.error(f"unknown algorithms or corpora {', '.join(unknown)}; algorithms: mle, {', '.join(ALGORITHMS)}; "
                f"corpora: {', '.join(CORPORA)}")
    skipped = [n for n in names if not comparable(n)]
    runs_needed = [n for n in dict.fromkeys("seqgan" if n == "mle" else n for n in names) if comparable(n)]
    root = Path(args.out_dir or tempfile.mkdtemp(prefix="seqgan-family-"))
    result = {"budget": args.budget, "budget_values": {k: list(v) if isinstance(v, tuple) else v
                                                       for k, v in BUDGETS[args.budget].items()},
              "overrides": {field: getattr(args, flag) for flag, field in OVERRIDES.items()
                            if getattr(args, flag) is not None},
              "threads": args.threads, "corpora": corpora, "skipped": skipped, "runs": [],
              "published": PUBLISHED, "seed": args.seed, "command": " ".join(["python", *sys.argv]),
              **stamp(args.device)}
    try:
        for corpus in corpora:
            for name in runs_needed:
                run = run_one(name, corpus, args, root)
                run["mle_row"] = name == "seqgan" and "mle" in names
                if name == "seqgan" and "seqgan" not in names:
                    run["final_row"] = False
                result["runs"].append(run)
                write_json(args.json, result)  # after every run: nothing lost
    except ConfigError as e:
        p.error(str(e))
    write_outputs(result, args)


if __name__ == "__main__":
    main()
