"""The text-quality table of one set of generated lines: BLEU-n against references, Self-BLEU-n among the lines,
and the share of unique n-grams, under one stated protocol (see ``seqgan.metrics.bleu``)."""
from __future__ import annotations

from collections.abc import Sequence

from seqgan.metrics.bleu import DEFAULT_ORDERS, BleuIndex, SelfBleuIndex
from seqgan.metrics.ngrams import tokenize, unique_ngram_share

PROTOCOL = ("Texygen BLEU-n: NLTK word tokenizer (NLTKWordTokenizer), every hypothesis scored by sentence BLEU "
            "against all references, uniform weights, method1 smoothing, mean over hypotheses; Self-BLEU-n: every "
            "sample against all other samples (leave-one-out)")
UNIQUE_ORDERS = (2, 3, 4)


class References:
    """Reference lines tokenized and indexed once, to score many sets of hypotheses against them."""

    def __init__(self, lines: Sequence[str], max_n: int = max(DEFAULT_ORDERS)):
        if not lines:
            raise ValueError("no reference lines to score against")
        self.n = len(lines)
        self.index = BleuIndex(tokenize(lines), max_n=max_n)


def text_report(hypotheses: Sequence[str], references: References | Sequence[str] | None,
                ns: Sequence[int] = DEFAULT_ORDERS, with_self_bleu: bool = True,
                unique_orders: Sequence[int] = UNIQUE_ORDERS) -> dict:
    """``bleu{n}`` (when references are given), ``self_bleu{n}`` (needs two or more lines), ``unique_{n}gram`` for
    n in ``unique_orders``, ``n_hypotheses`` and ``n_references`` for generated text lines."""
    if not hypotheses:
        raise ValueError("no generated lines to score")
    tokens = tokenize(hypotheses)
    out: dict = {"n_hypotheses": len(tokens)}
    if references is not None:
        refs = references if isinstance(references, References) else References(references)
        out["n_references"] = refs.n
        out.update({f"bleu{n}": v for n, v in refs.index.corpus_means(tokens, ns).items()})
    if with_self_bleu:
        if len(tokens) < 2:
            raise ValueError("Self-BLEU needs at least two generated lines")
        out.update({f"self_bleu{n}": v for n, v in SelfBleuIndex(tokens, max_n=max(ns)).corpus_means(ns).items()})
    out.update({f"unique_{n}gram": unique_ngram_share(tokens, n) for n in unique_orders})
    return out
