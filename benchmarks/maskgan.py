"""MaskGAN on PTB, reduced for a CPU: an LSTM language model (MLE), MaskMLE and MaskGAN, scored by unique
2/3/4-gram shares of their samples, the perplexity of the samples under a separately trained LSTM LM, and the
masked test perplexity, beside the paper's unique 4-gram shares.

    python benchmarks/maskgan.py [--json OUT] [--md OUT] [--train-rows 10000] [--max-vocab 5000] [--mle-epochs 8]
                                 [--adv-epochs 500] [--hidden 128] [--device cpu] [--threads 1]

Rows. LM: an LSTM generator trained by MLE, unconditional samples. MaskMLE: the MaskGAN generator at the end of
MaskMLE pretraining. MaskGAN: the same run after its adversarial phase. Every row's samples are scored by the
evaluator LM, a second LSTM trained like the LM row but with another seed (so the LM row is not scored by itself).
MaskMLE/MaskGAN samples are the test rows with their masks filled (contiguous, half the words missing; the given
words are part of the row, as for the n-gram shares). The LM row's masked perplexity conditions on the left
context only (it cannot see past the gap). Needs $SEQGAN_DATA (PTB).
"""
from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

import torch

from _common import stamp, write_json
from seqgan.config import from_dict, to_dict
from seqgan.generators import teacher_forced_logits
from seqgan.generators.infill import make_present, word_positions
from seqgan.losses import mle
from seqgan.metrics.lm import lm_perplexity, train_lm
from seqgan.metrics.ngrams import unique_ngram_share
from seqgan.rollout.engine import RolloutEngine
from seqgan.trainers.maskgan import PRESETS, MaskGANConfig, MaskGANTrainer

# Fedus, Goodfellow and Dai (ICLR 2018), PTB unique 4-gram percentages, transcribed: indicative only (their
# samples, sizes, sequence length and counting protocol differ from this reduced run).
PAPER_UNIQUE_4GRAM = {"LM": 91.9, "MaskMLE": 92.6, "MaskGAN": 88.2}


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sample_stats(trainer: MaskGANTrainer, rows: torch.Tensor, evaluator) -> dict:
    tokens = [trainer.corpus.vocab.decode(r) for r in rows.tolist()]
    out = {f"unique_{n}gram_pct": 100 * unique_ngram_share(tokens, n) for n in (2, 3, 4)}
    out["lm_ppl_of_samples"] = lm_perplexity(evaluator, rows)
    return out


@torch.no_grad()
def lm_masked_ppl(lm, trainer: MaskGANTrainer, rows: torch.Tensor, seed: int) -> float:
    """The LM's perplexity of the same missing test tokens as ``masked_perplexity`` (same masks), left context."""
    rng = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for chunk in rows.split(512):
        c = trainer.config
        missing = ~make_present(word_positions(chunk, trainer.corpus.eos_token), c.mask_kind, c.present_rate, rng)
        n = int(missing.sum())
        total += mle(teacher_forced_logits(lm, chunk), chunk, missing).item() * n
        count += n
    return math.exp(total / count)


def run_phases(trainer: MaskGANTrainer, names: set[str]) -> None:
    for phase in trainer.phases():
        if phase.name not in names:
            continue
        t0 = time.perf_counter()
        for i in range(phase.steps):
            logs = phase.step(i)
            if (i + 1) % max(1, phase.steps // 10) == 0 or i + 1 == phase.steps:
                log(f"{phase.name} {i + 1}/{phase.steps} " + " ".join(f"{k}={v:.3f}" for k, v in logs.items()))
        log(f"{phase.name} done in {time.perf_counter() - t0:.0f} s")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--train-rows", type=int, default=10_000, help="first k PTB training rows (of <= max-len words)")
    p.add_argument("--max-len", type=int, default=20)
    p.add_argument("--max-vocab", type=int, default=5_000)
    p.add_argument("--hidden", type=int, default=128, help="embedding and LSTM size of every network")
    p.add_argument("--mle-epochs", type=int, default=8, help="MaskMLE epochs (the LMs train as many)")
    p.add_argument("--d-pretrain-steps", type=int, default=200)
    p.add_argument("--adv-epochs", type=int, default=500)
    p.add_argument("--seed", type=int, default=88)
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", metavar="OUT")
    p.add_argument("--md", metavar="OUT", help="write the Markdown table here too")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    t_start = time.perf_counter()
    h = args.hidden
    cfg = from_dict(MaskGANConfig, {**PRESETS["cpu-small"], "corpus": "ptb", "max_len": args.max_len,
                                    "long_lines": "drop", "max_vocab": args.max_vocab, "train_rows": args.train_rows,
                                    "emb": h, "hidden": h, "dis_emb": h, "dis_hidden": h,
                                    "mle_epochs": args.mle_epochs, "d_pretrain_steps": args.d_pretrain_steps,
                                    "adv_epochs": args.adv_epochs, "seed": args.seed, "device": args.device})
    trainer = MaskGANTrainer(cfg)
    train, test = trainer.train_data, trainer.test_data
    log(f"data: {len(train)} train rows, {len(test)} test rows, vocabulary {trainer.corpus.vocab_size}")
    tokens = dict(start_token=trainer.corpus.start_token, eos_token=trainer.corpus.eos_token,
                  pad_token=trainer.corpus.pad_token)

    def lm(seed: int, what: str):
        t0 = time.perf_counter()
        model = train_lm(train, trainer.corpus.vocab_size, emb_dim=h, hidden_dim=h, epochs=args.mle_epochs,
                         lr=cfg.gen_lr, seed=seed, **tokens,
                         on_epoch=lambda i, loss: log(f"{what} epoch {i + 1}: nll {loss:.3f}"))
        log(f"{what} trained in {time.perf_counter() - t0:.0f} s")
        return model

    evaluator = lm(args.seed + 100, "evaluator LM")
    baseline = lm(args.seed + 200, "LM row")
    seed = cfg.seed + 3
    rows = {}
    lm_samples = RolloutEngine().sample(baseline, len(test), trainer.seq_len,
                                        rng=torch.Generator(args.device).manual_seed(seed), chunk=512)
    rows["LM"] = {**sample_stats(trainer, lm_samples, evaluator),
                  "masked_ppl": lm_masked_ppl(baseline, trainer, test, seed), "masked_ppl_context": "left only"}
    log(f"LM: {rows['LM']}")

    run_phases(trainer, {"mle"})
    rows["MaskMLE"] = {**sample_stats(trainer, trainer.sample(len(test)), evaluator),
                       "masked_ppl": trainer.masked_perplexity(test, seed), "masked_ppl_context": "both sides"}
    log(f"MaskMLE: {rows['MaskMLE']}")
    run_phases(trainer, {"d_pretrain", "adversarial"})
    rows["MaskGAN"] = {**sample_stats(trainer, trainer.sample(len(test)), evaluator),
                       "masked_ppl": trainer.masked_perplexity(test, seed), "masked_ppl_context": "both sides"}
    log(f"MaskGAN: {rows['MaskGAN']}")
    examples = [{"given": " ".join(w if p else "<m>" for w, p in zip(trainer.corpus.vocab.decode(r.tolist()), pr)),
                 "filled": " ".join(trainer.corpus.vocab.decode(f.tolist()))}
                for r, f, pr in zip(test[:5], *trainer.fill_rows(test[:5], seed))]
    for row, value in PAPER_UNIQUE_4GRAM.items():
        rows[row]["paper_unique_4gram_pct"] = value
    wall = time.perf_counter() - t_start
    result = {"benchmark": "maskgan", "corpus": "ptb", "reduced": True, "wall_s": wall, "threads": args.threads,
              "train_rows": len(train), "test_rows": len(test), "vocab_size": trainer.corpus.vocab_size,
              "max_len": args.max_len, "samples_per_row": len(test), "rows": rows, "examples": examples,
              "config": to_dict(cfg), "lm_config": {"emb": h, "hidden": h, "epochs": args.mle_epochs,
                                                   "lr": cfg.gen_lr, "seeds": [args.seed + 100, args.seed + 200]},
              "command": "python " + " ".join(sys.argv), **stamp(args.device)}
    write_json(args.json, result)
    table = markdown(result)
    print(table)
    if args.md:
        Path(args.md).parent.mkdir(parents=True, exist_ok=True)
        Path(args.md).write_text(table + "\n", encoding="utf-8")


def markdown(r: dict) -> str:
    lines = [f"PTB reduced: {r['train_rows']:,} training rows of <= {r['max_len']} words, vocabulary "
             f"{r['vocab_size']:,}, {r['samples_per_row']:,} samples per row; {r['device']}, torch {r['torch']}, "
             f"{r['wall_s'] / 60:.1f} min", "",
             "| model | unique 2-grams % | unique 3-grams % | unique 4-grams % | paper unique 4-grams % | "
             "LM perplexity of samples | masked test perplexity |",
             "| --- | --- | --- | --- | --- | --- | --- |"]
    for name, v in r["rows"].items():
        ctx = " (left context)" if v["masked_ppl_context"] == "left only" else ""
        lines.append(f"| {name} | {v['unique_2gram_pct']:.1f} | {v['unique_3gram_pct']:.1f} | "
                     f"{v['unique_4gram_pct']:.1f} | {v['paper_unique_4gram_pct']} | {v['lm_ppl_of_samples']:.1f} | "
                     f"{v['masked_ppl']:.1f}{ctx} |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
