"""Time BLEU-2..5 and Self-BLEU-2..5 (Texygen protocol) against NLTK's sentence_bleu, same process, same values.

    python benchmarks/bleu.py [--n-hyp 10000] [--n-ref 10000] [--nltk-sample 20] [--seed 0] [--json OUT]

Hypotheses: the first --n-hyp lines of $SEQGAN_DATA/texygen-image-coco/image_coco.txt (stand-in generated text);
references: the first --n-ref lines of test_coco.txt; both tokenized with NLTK's word tokenizer (timed apart).
Ours: BleuIndex over the references + one pass over the hypotheses, and SelfBleuIndex over the hypotheses + one
pass, all four orders at once. NLTK: sentence_bleu with method1 smoothing on --nltk-sample randomly drawn
hypotheses, against all references (BLEU) and against all other hypotheses (Self-BLEU), its per-hypothesis time
extrapolated to the full set. NLTK gets all four weight tuples in one call, which is faster than Texygen's one call
per order, so the ratio is conservative. Every sampled score is compared with ours.
"""
from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path

import nltk
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from _common import device_name, git_revision, write_json
from seqgan.metrics.bleu import BleuIndex, SelfBleuIndex
from seqgan.metrics.ngrams import tokenize

ORDERS = (2, 3, 4, 5)


def read_lines(path: Path, count: int) -> list[str]:
    if not path.is_file():
        sys.exit(f"error: {path} not found (set SEQGAN_DATA to the corpora folder)")
    lines = path.read_text(encoding="utf-8").splitlines()[:count]
    if len(lines) < count:
        print(f"note: {path.name} has only {len(lines)} lines", file=sys.stderr)
    return lines


def timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def nltk_on_sample(hyps, refs, sample, ours_bleu: BleuIndex, ours_self: SelfBleuIndex) -> dict:
    """NLTK's seconds per hypothesis for BLEU and Self-BLEU over ``sample``, and the largest gap to our scores."""
    weights = [(1.0 / n,) * n for n in ORDERS]
    smooth = SmoothingFunction().method1
    bleu_s = self_s = 0.0
    max_diff = 0.0
    for i in sample:
        t0 = time.perf_counter()
        expected = sentence_bleu(refs, hyps[i], weights, smoothing_function=smooth)
        t1 = time.perf_counter()
        expected_self = sentence_bleu(hyps[:i] + hyps[i + 1:], hyps[i], weights, smoothing_function=smooth)
        t2 = time.perf_counter()
        bleu_s += t1 - t0
        self_s += t2 - t1
        got = ours_bleu.scores(hyps[i], ORDERS) + ours_self.scores(i, ORDERS)
        max_diff = max([max_diff] + [abs(a - b) for a, b in zip(got, expected + expected_self)])
    return {"bleu_per_hyp_s": bleu_s / len(sample), "self_per_hyp_s": self_s / len(sample),
            "sample_s": bleu_s + self_s, "max_abs_diff": max_diff}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n-hyp", type=int, default=10000)
    p.add_argument("--n-ref", type=int, default=10000)
    p.add_argument("--nltk-sample", type=int, default=20, help="hypotheses NLTK scores (time is extrapolated)")
    p.add_argument("--seed", type=int, default=0, help="seed of the NLTK subsample")
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args()
    folder = Path(os.environ.get("SEQGAN_DATA", "")) / "texygen-image-coco"
    hyp_lines = read_lines(folder / "image_coco.txt", args.n_hyp)
    ref_lines = read_lines(folder / "test_coco.txt", args.n_ref)

    tokenize_s, (hyps, refs) = timed(lambda: (tokenize(hyp_lines), tokenize(ref_lines)))
    bleu_index_s, bleu_index = timed(lambda: BleuIndex(refs, max_n=max(ORDERS)))
    bleu_pass_s, bleu_scores = timed(lambda: bleu_index.corpus_means(hyps, ORDERS))
    self_index_s, self_index = timed(lambda: SelfBleuIndex(hyps, max_n=max(ORDERS)))
    self_pass_s, self_scores = timed(lambda: self_index.corpus_means(ORDERS))
    ours_bleu_s, ours_self_s = bleu_index_s + bleu_pass_s, self_index_s + self_pass_s
    ours_s = ours_bleu_s + ours_self_s

    sample = sorted(random.Random(args.seed).sample(range(len(hyps)), min(args.nltk_sample, len(hyps))))
    nltk_run = nltk_on_sample(hyps, refs, sample, bleu_index, self_index)
    nltk_bleu_s = nltk_run["bleu_per_hyp_s"] * len(hyps)
    nltk_self_s = nltk_run["self_per_hyp_s"] * len(hyps)
    nltk_s = nltk_bleu_s + nltk_self_s

    result = {
        "ours_s": ours_s, "ours_bleu_s": ours_bleu_s, "ours_self_bleu_s": ours_self_s,
        "ours_index_s": {"bleu": bleu_index_s, "self_bleu": self_index_s},
        "tokenize_s": tokenize_s, "ours_with_tokenize_s": ours_s + tokenize_s,
        "nltk_s_extrapolated": nltk_s, "nltk_bleu_s_extrapolated": nltk_bleu_s,
        "nltk_self_bleu_s_extrapolated": nltk_self_s, "nltk_sample": len(sample), "nltk_sample_s": nltk_run["sample_s"],
        "ratio": nltk_s / ours_s, "ratio_bleu": nltk_bleu_s / ours_bleu_s, "ratio_self_bleu": nltk_self_s / ours_self_s,
        "max_abs_diff": nltk_run["max_abs_diff"],
        "bleu": {str(n): v for n, v in bleu_scores.items()}, "self_bleu": {str(n): v for n, v in self_scores.items()},
        "n_hypotheses": len(hyps), "n_references": len(refs),
        "device": "cpu", "cpu": device_name("cpu"), "torch": torch.__version__, "nltk": nltk.__version__,
        "python": platform.python_version(), "git": git_revision(),
    }
    print(f"{len(hyps):,} hypotheses (image_coco.txt), {len(refs):,} references (test_coco.txt); "
          f"NLTK on {len(sample)} sampled hypotheses, extrapolated; tokenizing took {tokenize_s:.2f} s")
    print(f"{'':10}" + "".join(f"{f'n={n}':>9}" for n in ORDERS) + f"{'ours s':>10}{'NLTK s':>11}{'ratio':>9}")
    for name, scores, ours, theirs in (("BLEU", bleu_scores, ours_bleu_s, nltk_bleu_s),
                                       ("Self-BLEU", self_scores, ours_self_s, nltk_self_s)):
        print(f"{name:10}" + "".join(f"{scores[n]:>9.4f}" for n in ORDERS)
              + f"{ours:>10.2f}{theirs:>11.1f}{theirs / ours:>8.0f}x")
    print(f"total: ours {ours_s:.2f} s ({ours_s + tokenize_s:.2f} s with tokenizing), NLTK ~{nltk_s:.0f} s, "
          f"ratio {result['ratio']:.0f}x, max |ours - NLTK| on the sample {result['max_abs_diff']:.1e}")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
