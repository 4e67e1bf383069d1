"""BLEU-n and Self-BLEU-n under the Texygen protocol, exact to NLTK and built for 10k x 10k sample sets.

Protocol (Zhu et al., "Texygen", SIGIR 2018, as its code computes it):

* hypotheses and references are tokenized with NLTK's word tokenizer (:func:`seqgan.metrics.ngrams.tokenize`);
* BLEU-n: every hypothesis is scored with NLTK's ``sentence_bleu`` against ALL reference sentences, uniform
  weights ``(1/n,) * n``, ``SmoothingFunction().method1`` (epsilon 0.1), and the scores are averaged;
* Self-BLEU-n: every sample is scored the same way against all OTHER samples (leave-one-out), then averaged.

The scores here equal ``nltk.translate.bleu_score.sentence_bleu`` (nltk 3.10) for every input; the same float
operations run in the same order, so they agree to the last bit, not merely to 1e-12. The speed comes from indexing
the references once: for every n-gram (n <= max_n) the largest count it has in any single reference, which is all
that NLTK's clipped ("modified") precision needs; for Self-BLEU, the two largest counts and which sample holds the
largest, so that leaving one sample out is one comparison. NLTK instead rebuilds every reference's n-gram counts for
every hypothesis.

NLTK's arithmetic for one hypothesis of length h, with m_k clipped k-gram matches and reference length r (the
reference length closest to h, the shorter one on a tie), which we replicate:

* if m_1 == 0 (this covers h == 0) the score is 0;
* p_k = m_k / max(1, h - k + 1), or 0.1 / max(1, h - k + 1) when m_k == 0 (method1; this also covers h < k);
* BLEU-n = bp * exp(fsum(w * log(p_k) for k = 1..n)) with w = 1.0 / n and bp = 1 if h > r else exp(1 - r / h).
"""
from __future__ import annotations

import math
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Sequence

from seqgan.metrics.ngrams import ngrams, tokenize

DEFAULT_ORDERS = (2, 3, 4, 5)
EPSILON = 0.1  # SmoothingFunction().method1's default, added to zero match counts

Progress = Callable[[int, int], None]  # called as progress(done, total) after each scored hypothesis


class _Lengths:
    """The closest length to h in a multiset of sentence lengths, ties to the shorter, as NLTK's
    ``closest_ref_length``; optionally with one occurrence of h itself left out (Self-BLEU)."""

    def __init__(self, lengths: Iterable[int]):
        self._count = Counter(lengths)
        self._sorted = sorted(self._count)

    def closest(self, h: int, leave_out_own: bool = False) -> int:
        if self._count.get(h, 0) > (1 if leave_out_own else 0):
            return h
        below = bisect_left(self._sorted, h) - 1  # largest length < h
        above = bisect_right(self._sorted, h)  # smallest length > h
        lo = self._sorted[below] if below >= 0 else None
        hi = self._sorted[above] if above < len(self._sorted) else None
        if lo is None and hi is None:
            raise ValueError("no reference sentences to compare with")
        if hi is None or (lo is not None and h - lo <= hi - h):
            return lo
        return hi


def _check_orders(ns: Sequence[int], max_n: int | None = None) -> tuple[int, ...]:
    ns = tuple(ns)
    if not ns:
        raise ValueError("no BLEU orders given")
    for n in ns:
        if n < 1 or (max_n is not None and n > max_n):
            raise ValueError(f"BLEU order {n} outside 1..{max_n or 'max_n'}")
    return ns


def _scores_from_matches(matches: Sequence[int], hyp_len: int, ref_len: int, ns: Sequence[int]) -> list[float]:
    """Smoothed sentence BLEU-n for each n in ``ns`` from the clipped match counts ``matches[k - 1]`` of every
    order k <= max(ns), with NLTK's exact float operations (see the module docstring)."""
    if matches[0] == 0:  # NLTK returns 0 when no unigram matches, before any smoothing
        return [0.0] * len(ns)
    logs = []
    for k, m in enumerate(matches):  # k is order - 1
        total = max(1, hyp_len - k)  # NLTK's denominator floor, for hypotheses shorter than the order
        # A nonzero m is a Fraction in NLTK whose float is the correctly rounded m / total, like ours.
        logs.append(math.log(m / total if m else EPSILON / total))
    bp = 1.0 if hyp_len > ref_len else math.exp(1 - ref_len / hyp_len)
    out = []
    for n in ns:
        w = 1.0 / n  # Texygen's weight: tuple(1. / n for _ in range(n))
        out.append(bp * math.exp(math.fsum([w * log_p for log_p in logs[:n]])))
    return out


def _means(scores: Iterable[list[float]], ns: Sequence[int], progress: Progress | None, total: int) -> dict[int, float]:
    """Average the per-hypothesis score lists, in hypothesis order with a plain sum as Texygen does."""
    columns: list[list[float]] = [[] for _ in ns]
    done = 0
    for row in scores:
        for column, value in zip(columns, row):
            column.append(value)
        done += 1
        if progress is not None:
            progress(done, total)
    if done == 0:
        raise ValueError("no hypotheses to score")
    return {n: sum(column) / len(column) for n, column in zip(ns, columns)}


class BleuIndex:
    """Reference n-gram statistics for scoring any number of hypotheses with sentence BLEU-n against ALL the
    references (the Texygen protocol; equals NLTK's ``sentence_bleu(references, hyp, (1/n,) * n,
    smoothing_function=SmoothingFunction().method1)``).

    ``references`` are token lists (strings or any hashable tokens); orders 1..``max_n`` can be scored.
    """

    def __init__(self, references: Sequence[Sequence], max_n: int = 5):
        if not references:
            raise ValueError("BleuIndex needs at least one reference")
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        self.max_n = max_n
        self._lengths = _Lengths(len(ref) for ref in references)
        # n-grams of every order share one dict: tuples of different lengths never collide.
        self._max_count: dict[tuple, int] = {}
        for ref in references:
            self._add(ref)

    def _add(self, tokens: Sequence) -> None:
        max_count = self._max_count
        for k in range(1, min(self.max_n, len(tokens)) + 1):
            for gram, count in Counter(ngrams(tokens, k)).items():
                if count > max_count.get(gram, 0):
                    max_count[gram] = count

    def _matches(self, tokens: Sequence, max_n: int) -> list[int]:
        """Clipped match counts of ``tokens`` for orders 1..max_n: each n-gram counts at most as often as it
        occurs in the single reference where it occurs most."""
        max_count = self._max_count
        out = []
        for k in range(1, max_n + 1):
            matched = 0
            for gram, count in Counter(ngrams(tokens, k)).items():
                ref_count = max_count.get(gram, 0)
                matched += count if count < ref_count else ref_count
            out.append(matched)
        return out

    def scores(self, hyp: Sequence, ns: Sequence[int] = DEFAULT_ORDERS) -> list[float]:
        """Sentence BLEU-n of the token list ``hyp`` for each order in ``ns``."""
        ns = _check_orders(ns, self.max_n)
        return _scores_from_matches(self._matches(hyp, max(ns)), len(hyp), self._lengths.closest(len(hyp)), ns)

    def score(self, hyp: Sequence, n: int) -> float:
        """Sentence BLEU-n of the token list ``hyp``."""
        return self.scores(hyp, (n,))[0]

    def corpus_means(self, hyps: Sequence[Sequence], ns: Sequence[int] = DEFAULT_ORDERS,
                     progress: Progress | None = None) -> dict[int, float]:
        """Mean sentence BLEU-n over ``hyps`` for each n in ``ns``, in one pass over the hypotheses."""
        ns = _check_orders(ns, self.max_n)
        top, closest = max(ns), self._lengths.closest
        rows = (_scores_from_matches(self._matches(h, top), len(h), closest(len(h)), ns) for h in hyps)
        return _means(rows, ns, progress, len(hyps))

    def corpus_mean(self, hyps: Sequence[Sequence], n: int) -> float:
        """Mean sentence BLEU-n over ``hyps`` (Texygen's BLEU-n)."""
        return self.corpus_means(hyps, (n,))[n]


class SelfBleuIndex:
    """Leave-one-out n-gram statistics of a sample set: sample i scored with sentence BLEU-n against all the
    other samples, exactly as NLTK's ``sentence_bleu(samples[:i] + samples[i+1:], samples[i], (1/n,) * n,
    smoothing_function=SmoothingFunction().method1)``.

    Per n-gram it keeps the largest count in any sample, which sample holds it (the first to reach it) and the
    second largest count over the other samples, so the maximum over "all samples but i" is one comparison.
    """

    def __init__(self, samples: Sequence[Sequence], max_n: int = 5):
        if len(samples) < 2:
            raise ValueError("Self-BLEU needs at least two samples")
        if max_n < 1:
            raise ValueError(f"max_n must be >= 1, got {max_n}")
        self.max_n = max_n
        self.samples = samples
        self._lengths = _Lengths(len(s) for s in samples)
        self._top: dict[tuple, list[int]] = {}  # n-gram -> [largest count, its sample, second largest count]
        for index, tokens in enumerate(samples):
            self._add(index, tokens)

    def _add(self, index: int, tokens: Sequence) -> None:
        top = self._top
        for k in range(1, min(self.max_n, len(tokens)) + 1):
            for gram, count in Counter(ngrams(tokens, k)).items():
                entry = top.get(gram)
                if entry is None:
                    top[gram] = [count, index, 0]
                elif count > entry[0]:
                    entry[2], entry[0], entry[1] = entry[0], count, index
                elif count > entry[2]:  # ties with the largest land here, so entry[2] == entry[0] then
                    entry[2] = count

    def _matches(self, index: int, max_n: int) -> list[int]:
        tokens, top = self.samples[index], self._top
        out = []
        for k in range(1, max_n + 1):
            matched = 0
            for gram, count in Counter(ngrams(tokens, k)).items():
                largest, holder, second = top[gram]  # every n-gram of a sample is in the index
                other = second if holder == index else largest
                matched += count if count < other else other
            out.append(matched)
        return out

    def scores(self, index: int, ns: Sequence[int] = DEFAULT_ORDERS) -> list[float]:
        """Sentence BLEU-n of sample ``index`` against all the other samples, for each order in ``ns``."""
        ns = _check_orders(ns, self.max_n)
        h = len(self.samples[index])
        return _scores_from_matches(self._matches(index, max(ns)), h, self._lengths.closest(h, True), ns)

    def score(self, index: int, n: int) -> float:
        """Sentence BLEU-n of sample ``index`` against all the other samples."""
        return self.scores(index, (n,))[0]

    def corpus_means(self, ns: Sequence[int] = DEFAULT_ORDERS, progress: Progress | None = None) -> dict[int, float]:
        """Self-BLEU-n (the mean leave-one-out score over all samples) for each n in ``ns``."""
        ns = _check_orders(ns, self.max_n)
        rows = (self.scores(i, ns) for i in range(len(self.samples)))
        return _means(rows, ns, progress, len(self.samples))


def bleu(hypotheses: Sequence, references: Sequence, ns: Sequence[int] = DEFAULT_ORDERS, tokenized: bool = False,
         progress: Progress | None = None) -> dict[int, float]:
    """Texygen BLEU-n of generated ``hypotheses`` against ``references`` (both lines of text, or token lists with
    ``tokenized=True``): the mean over hypotheses of NLTK's method1-smoothed sentence BLEU-n against all
    references. Returns ``{n: score}`` for each n in ``ns``."""
    if not tokenized:
        hypotheses, references = tokenize(hypotheses), tokenize(references)
    ns = _check_orders(ns)
    return BleuIndex(references, max_n=max(ns)).corpus_means(hypotheses, ns, progress)


def self_bleu(samples: Sequence, ns: Sequence[int] = DEFAULT_ORDERS, tokenized: bool = False,
              progress: Progress | None = None) -> dict[int, float]:
    """Texygen Self-BLEU-n of ``samples`` (lines of text, or token lists with ``tokenized=True``): the mean over
    samples of NLTK's method1-smoothed sentence BLEU-n of each sample against all the others (leave-one-out).
    Returns ``{n: score}`` for each n in ``ns``; higher means less diverse."""
    if not tokenized:
        samples = tokenize(samples)
    ns = _check_orders(ns)
    return SelfBleuIndex(samples, max_n=max(ns)).corpus_means(ns, progress)
