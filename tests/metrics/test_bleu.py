"""BLEU-n and Self-BLEU-n equal NLTK's sentence_bleu (Texygen protocol: method1 smoothing, uniform weights) on
random, edge-case and real inputs; unique_ngram_share on a hand example."""
import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan.metrics.bleu import BleuIndex, SelfBleuIndex, bleu, self_bleu
from seqgan.metrics.ngrams import ngram_counts, ngrams, tokenize, unique_ngram_share

ROOT = Path(__file__).resolve().parents[2]
TOL = 1e-12
SMOOTH = SmoothingFunction().method1


def nltk_bleu(refs, hyp, n):
    return sentence_bleu(refs, hyp, (1.0 / n,) * n, smoothing_function=SMOOTH)


def nltk_self_bleu_scores(samples, n):
    return [nltk_bleu(samples[:i] + samples[i + 1:], s, n) for i, s in enumerate(samples)]


def random_sentences(rng, count, vocab, max_len=15):
    return [[f"w{rng.randrange(vocab)}" for _ in range(rng.randint(0, max_len))] for _ in range(count)]


@pytest.mark.parametrize("seed", range(4))
def test_sentence_bleu_matches_nltk_on_random_inputs(seed):
    rng = random.Random(seed)
    for _ in range(60):
        vocab = rng.choice([2, 3, 4, 6, 10])  # small vocabularies so n-grams repeat within and across sentences
        refs = random_sentences(rng, rng.randint(1, 6), vocab)
        index = BleuIndex(refs)
        for hyp in random_sentences(rng, 6, vocab):
            for n in range(1, 6):
                assert abs(index.score(hyp, n) - nltk_bleu(refs, hyp, n)) <= TOL, (refs, hyp, n)


REF_A = "the cat sat on the mat".split()
REF_B = "there is a cat on the mat today".split()


@pytest.mark.parametrize("refs, hyp", [
    ([REF_A, REF_B], []),                                     # empty hypothesis: NLTK returns 0
    ([REF_A, REF_B], ["cat"]),                                # one token
    ([REF_A, REF_B], ["dog"]),                                # one token, no match
    ([REF_A, REF_B], "the cat".split()),                      # shorter than n = 3, 4, 5
    ([REF_A, REF_B], "on the mat".split()),
    ([REF_A, REF_B], "the the the the the the the".split()),  # repeated unigrams clipped by the max reference count
    ([REF_A, "the the the x".split()], "the the the the".split()),
    ([REF_A, REF_B], "on the mat on the mat on the mat".split()),  # repeated higher-order n-grams
    ([REF_A, REF_B], "dog ran far away quickly".split()),   # no overlap at all: 0
    ([["a"] * 10, ["a"] * 14], ["a"] * 12),                   # closest length tie 10 / 14: the shorter one, bp = 1
    ([["a"] * 14, ["a"] * 10], ["a"] * 12),                   # same, other reference order
    ([["a", "b"] * 4 + ["a"], ["a", "b"] * 6 + ["a"]], ["a", "b"] * 5 + ["a"]),  # tie 9 / 13 around 11
    ([["a"] * 13, ["a"] * 2], ["a"] * 12),                    # closest is longer: brevity penalty applies
    ([[], REF_A], ["the"]),                                   # an empty reference
    ([REF_A], REF_A),                                         # identical: 1
])
def test_sentence_bleu_matches_nltk_on_edge_cases(refs, hyp):
    index = BleuIndex(refs)
    for n in range(1, 6):
        assert abs(index.score(hyp, n) - nltk_bleu(refs, hyp, n)) <= TOL, n


def test_edge_case_values():
    index = BleuIndex([REF_A, REF_B])
    assert index.score([], 2) == 0.0
    assert index.score("dog ran far away quickly".split(), 4) == 0.0
    assert BleuIndex([REF_A]).score(REF_A, 4) == pytest.approx(1.0, abs=TOL)
    # Tie between reference lengths 10 and 14 for a 12-token hypothesis: the shorter wins, so no brevity penalty.
    assert BleuIndex([["a"] * 14, ["a"] * 10]).score(["a"] * 12, 2) == pytest.approx(1.0, abs=TOL)


def test_scores_for_many_orders_equal_single_order_scores():
    rng = random.Random(7)
    refs = random_sentences(rng, 5, 4)
    index = BleuIndex(refs)
    for hyp in random_sentences(rng, 20, 4):
        assert index.scores(hyp, (2, 3, 4, 5)) == [index.score(hyp, n) for n in (2, 3, 4, 5)]


@pytest.mark.parametrize("seed", range(3))
def test_self_bleu_matches_leave_one_out_nltk_loop(seed):
    rng = random.Random(100 + seed)
    for _ in range(8):
        samples = random_sentences(rng, rng.randint(2, 12), rng.choice([2, 3, 5]))
        samples += [list(samples[0])]  # an exact duplicate: its twin stays among the "others"
        index = SelfBleuIndex(samples)
        for n in range(1, 6):
            expected = nltk_self_bleu_scores(samples, n)
            got = [index.score(i, n) for i in range(len(samples))]
            assert max(abs(a - b) for a, b in zip(got, expected)) <= TOL, n
        means = self_bleu(samples, ns=(2, 3, 4, 5), tokenized=True)
        for n, mean in means.items():
            expected = nltk_self_bleu_scores(samples, n)
            assert abs(mean - sum(expected) / len(expected)) <= TOL


def test_self_bleu_leaves_out_own_length_once():
    # Lengths 3, 5, 5, 7, 3, 9: a length-5 sample still sees the other length-5 one; the length-7 sample sees
    # 5 and 9 at distance 2 (tie: 5, the shorter); the length-9 one sees 7.
    samples = [["x"] * 3, ["a"] * 5, ["b"] * 5, ["c"] * 7, ["x"] * 2 + ["a"], ["c"] * 9]
    index = SelfBleuIndex(samples)
    for i in range(len(samples)):
        for n in (1, 2, 3):
            assert abs(index.score(i, n) - nltk_bleu(samples[:i] + samples[i + 1:], samples[i], n)) <= TOL


def test_bleu_function_tokenizes_and_averages_like_texygen():
    refs = ["a man rides a horse on the beach.", "two dogs play in the snow.", "a man is riding a horse!"]
    hyps = ["a man rides a horse.", "dogs play in snow", "", "a cat, a hat."]
    got = bleu(hyps, refs)
    ref_tokens, hyp_tokens = tokenize(refs), tokenize(hyps)
    for n in (2, 3, 4, 5):
        scores = [nltk_bleu(ref_tokens, h, n) for h in hyp_tokens]
        assert abs(got[n] - sum(scores) / len(scores)) <= TOL
    assert bleu(hyp_tokens, ref_tokens, ns=(3,), tokenized=True) == {3: got[3]}
    assert BleuIndex(ref_tokens).corpus_mean(hyp_tokens, 4) == got[4]


def test_progress_callback_and_errors():
    calls = []
    bleu([["a", "b"], ["b"]], [["a", "b", "c"]], tokenized=True, progress=lambda *args: calls.append(args))
    assert calls == [(1, 2), (2, 2)]
    with pytest.raises(ValueError):
        BleuIndex([])
    with pytest.raises(ValueError):
        BleuIndex([["a"]], max_n=3).score(["a"], 4)
    with pytest.raises(ValueError):
        bleu([["a"]], [["a"]], ns=(0,), tokenized=True)
    with pytest.raises(ValueError):
        bleu([], [["a"]], tokenized=True)
    with pytest.raises(ValueError):
        self_bleu([["a"]], tokenized=True)


def test_tokenize_uses_nltk_word_tokenizer():
    assert tokenize(["a dog on the bed.\n", "it's red, isn't it?", ""]) == [
        ["a", "dog", "on", "the", "bed", "."], ["it", "'s", "red", ",", "is", "n't", "it", "?"], []]


def test_ngram_helpers_and_unique_ngram_share():
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []
    assert ngram_counts(["a", "b", "a", "b"], 2) == {("a", "b"): 2, ("b", "a"): 1}
    samples = [["a", "b", "a", "b"], ["a", "b", "c"], ["z"]]
    # bigrams: ab, ba, ab | ab, bc | (none): 5 occurrences, 3 distinct (ab, ba, bc)
    assert unique_ngram_share(samples, 2) == pytest.approx(3 / 5)
    # unigrams: 8 occurrences, 4 distinct (a, b, c, z)
    assert unique_ngram_share(samples, 1) == pytest.approx(4 / 8)
    assert unique_ngram_share(samples, 4) == pytest.approx(1.0)  # one 4-gram
    assert unique_ngram_share(samples, 5) == 0.0
    assert unique_ngram_share([], 2) == 0.0


def coco_lines(data_dir, name, count):
    path = data_dir / "texygen-image-coco" / name
    if not path.is_file():
        pytest.skip(f"{path} is missing")
    return path.read_text(encoding="utf-8").splitlines()[:count]


def test_real_coco_bleu_and_self_bleu_match_nltk(data_dir):
    hyps = tokenize(coco_lines(data_dir, "image_coco.txt", 50))
    refs = tokenize(coco_lines(data_dir, "test_coco.txt", 500))
    index = BleuIndex(refs)
    weights = [(1.0 / n,) * n for n in (2, 3, 4, 5)]
    for hyp in hyps:
        expected = sentence_bleu(refs, hyp, weights, smoothing_function=SMOOTH)
        assert max(abs(a - b) for a, b in zip(index.scores(hyp), expected)) <= TOL
    samples = hyps[:40]
    index = SelfBleuIndex(samples)
    for i, hyp in enumerate(samples):
        expected = sentence_bleu(samples[:i] + samples[i + 1:], hyp, weights, smoothing_function=SMOOTH)
        assert max(abs(a - b) for a, b in zip(index.scores(i), expected)) <= TOL


def test_benchmark_script_runs_tiny(data_dir, tmp_path):
    coco_lines(data_dir, "test_coco.txt", 1)  # skips without the data
    out = tmp_path / "bleu.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bleu.py"), "--n-hyp", "40", "--n-ref", "60",
                    "--nltk-sample", "3", "--json", str(out)], check=True, capture_output=True, env=env, timeout=300)
    r = json.loads(out.read_text())
    for key in ("ours_s", "nltk_s_extrapolated", "ratio", "max_abs_diff", "n_hypotheses", "n_references",
                "device", "torch", "git"):
        assert key in r
    assert r["n_hypotheses"] == 40 and r["n_references"] == 60 and r["max_abs_diff"] <= TOL
