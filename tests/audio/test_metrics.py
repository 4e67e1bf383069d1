"""Inception score against hand-computed cases and nearest-neighbour distances against a brute-force loop."""
import math

import pytest
import torch

from seqgan.audio.metrics import inception_score, nearest_distances, nn_stats


def test_confident_uniform_predictions_score_the_number_of_classes():
    probs = torch.eye(10).repeat(10, 1)                  # 100 clips, each split holds every class once
    mean, std = inception_score(probs, 10, shuffle_seed=None)
    assert mean == pytest.approx(10.0, abs=1e-9) and std == pytest.approx(0.0, abs=1e-9)


def test_identical_predictions_score_one():
    probs = torch.tensor([[0.7, 0.2, 0.1] + [0.0] * 7]).repeat(40, 1)
    mean, std = inception_score(probs, 10)
    assert mean == pytest.approx(1.0, abs=1e-12) and std == pytest.approx(0.0, abs=1e-12)


def test_a_hand_computed_two_class_example():
    # split 1: p(y|x) = (1, 0) and (0.5, 0.5); marginal (0.75, 0.25)
    # KL1 = log(1 / 0.75); KL2 = 0.5 log(0.5 / 0.75) + 0.5 log(0.5 / 0.25)
    # split 2: two identical confident clips -> KL = 0 -> score 1
    probs = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0], [0.0, 1.0]])
    kl1 = math.log(1 / 0.75)
    kl2 = 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(0.5 / 0.25)
    s1, s2 = math.exp((kl1 + kl2) / 2), 1.0
    mean, std = inception_score(probs, 2, shuffle_seed=None)
    assert mean == pytest.approx((s1 + s2) / 2, rel=1e-12)
    assert std == pytest.approx(abs(s1 - s2) / 2, rel=1e-12)


def test_clips_sorted_by_digit_are_shuffled_before_splitting():
    probs = torch.eye(10).repeat_interleave(10, dim=0)    # 10 clips of digit 0, then 10 of digit 1, ...
    assert inception_score(probs, 10, shuffle_seed=None)[0] == pytest.approx(1.0)   # one digit per split
    assert inception_score(probs, 10)[0] > 5


def test_too_few_clips_for_the_splits():
    with pytest.raises(ValueError, match="at least 10 clips"):
        inception_score(torch.full((9, 10), 0.1), 10)


def test_nearest_distances_equal_brute_force():
    g = torch.Generator().manual_seed(0)
    q, r = torch.randn(37, 5, generator=g), torch.randn(53, 5, generator=g)
    brute = torch.tensor([min(float((a - b).norm()) for b in r) for a in q], dtype=torch.float64)
    assert torch.allclose(nearest_distances(q, r, chunk=8), brute, atol=1e-9)
    self_brute = torch.tensor([min(float((q[i] - q[j]).norm()) for j in range(len(q)) if j != i)
                               for i in range(len(q))], dtype=torch.float64)
    assert torch.allclose(nearest_distances(q, q, exclude_self=True, chunk=10), self_brute, atol=1e-9)
    stats = nn_stats(q, r)
    assert stats["nn_self"] == pytest.approx(float(self_brute.mean()))
    assert stats["nn_train"] == pytest.approx(float(brute.mean()))
    assert "nn_train" not in nn_stats(q, None)


def test_a_copied_training_clip_is_at_distance_zero():
    r = torch.randn(10, 4)
    assert nearest_distances(r[3:5], r).abs().max() < 1e-6
    with pytest.raises(ValueError, match="at least 2"):
        nearest_distances(r[:1], r[:1], exclude_self=True)
