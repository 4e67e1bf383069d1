"""Tokenization and n-gram counting shared by the text metrics (BLEU, Self-BLEU, n-gram diversity).

Text is tokenized as Texygen did for its BLEU tables: NLTK's Treebank-style word tokenizer, one line at a time,
no lower-casing. We call ``NLTKWordTokenizer`` directly rather than ``nltk.word_tokenize`` because the latter first
splits sentences with the punkt model, which needs downloaded data; on one-sentence lines (captions) the tokens agree.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence

Ngram = tuple


def tokenize(lines: Iterable[str]) -> list[list[str]]:
    """Token lists of ``lines`` by ``nltk.tokenize.NLTKWordTokenizer``; surrounding whitespace is ignored."""
    from nltk.tokenize import NLTKWordTokenizer  # local: the metrics that take token lists never need NLTK

    tokenizer = NLTKWordTokenizer()
    return [tokenizer.tokenize(line) for line in lines]


def ngrams(tokens: Sequence, n: int) -> list[Ngram]:
    """The contiguous ``n``-grams of ``tokens`` as tuples, in order; empty when ``len(tokens) < n``."""
    if n < 1:
        raise ValueError(f"n-gram order must be >= 1, got {n}")
    return list(zip(*(tokens[i:] for i in range(n))))


def ngram_counts(tokens: Sequence, n: int) -> Counter:
    """How often each ``n``-gram occurs in ``tokens``."""
    return Counter(ngrams(tokens, n))


def unique_ngram_share(token_lists: Iterable[Sequence], n: int) -> float:
    """Distinct ``n``-grams over all ``n``-gram occurrences, pooled over every sample (0.0 when there are none).

    1.0 means no ``n``-gram occurs twice anywhere in the samples; a collapsed generator that repeats itself
    scores near 0.
    """
    distinct: set[Ngram] = set()
    total = 0
    for tokens in token_lists:
        grams = ngrams(tokens, n)
        total += len(grams)
        distinct.update(grams)
    return len(distinct) / total if total else 0.0
