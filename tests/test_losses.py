import math

import torch

from seqgan import losses


def test_mle_is_mean_negative_log_probability_of_targets():
    logits = torch.tensor([[[0.0, 1.0, 2.0], [1.0, 1.0, 1.0]]])
    tokens = torch.tensor([[2, 0]])
    p2 = math.exp(2) / (1 + math.e + math.exp(2))
    expected = (-math.log(p2) + math.log(3)) / 2
    assert abs(losses.mle(logits, tokens).item() - expected) < 1e-6
    mask = torch.tensor([[1, 0]])
    assert abs(losses.mle(logits, tokens, mask).item() + math.log(p2)) < 1e-6


def test_policy_gradient_is_reward_weighted_sum_with_constant_rewards():
    logits = torch.tensor([[[0.0, 0.0], [0.0, math.log(3.0)]]], requires_grad=True)
    tokens = torch.tensor([[0, 1]])
    rewards = torch.tensor([[0.5, 2.0]], requires_grad=True)
    loss = losses.policy_gradient(logits, tokens, rewards)
    expected = -(0.5 * math.log(0.5) + 2.0 * math.log(0.75))
    assert abs(loss.item() - expected) < 1e-6
    loss.backward()
    assert rewards.grad is None  # rewards are treated as constants
    # d/dlogit of -r*log softmax = r * (softmax - onehot)
    torch.testing.assert_close(logits.grad, torch.tensor([[[-0.25, 0.25], [0.5, -0.5]]]))


def test_policy_gradient_mask_drops_positions():
    logits = torch.zeros(1, 3, 4)
    tokens = torch.zeros(1, 3, dtype=torch.long)
    full = losses.policy_gradient(logits, tokens, torch.ones(1, 3))
    masked = losses.policy_gradient(logits, tokens, torch.ones(1, 3), torch.tensor([[1, 1, 0]]))
    assert abs(masked.item() - full.item() * 2 / 3) < 1e-6


def test_d_bce():
    logits = torch.tensor([0.0, 2.0])
    labels = torch.tensor([1, 0])
    expected = (math.log(2) + math.log(1 + math.exp(2))) / 2
    assert abs(losses.d_bce(logits, labels).item() - expected) < 1e-6
