"""MaskGAN's per-token rewards, discounted returns and clipped advantages against hand-computed values."""
import math

import pytest
import torch

from seqgan import losses
from seqgan.rollout.returns import MASKGAN_GAMMA, clipped_advantages, discounted_returns, masked_rewards


def test_masked_rewards_are_log_d_on_missing_positions_only():
    log_d = torch.tensor([[-0.1, -2.0, -0.5], [-1.0, -3.0, -0.2]])
    missing = torch.tensor([[False, True, True], [True, False, False]])
    expected = torch.tensor([[0.0, -2.0, -0.5], [-1.0, 0.0, 0.0]])
    assert torch.equal(masked_rewards(log_d, missing), expected)


def test_discounted_returns_by_hand():
    rewards = torch.tensor([[0.0, -1.0, 0.0, -2.0], [1.0, 1.0, 1.0, 1.0]])
    # gamma 0.5, row 0: R3 = -2, R2 = 0 + 0.5 * -2 = -1, R1 = -1 + 0.5 * -1 = -1.5, R0 = 0 + 0.5 * -1.5 = -0.75
    # row 1: R3 = 1, R2 = 1.5, R1 = 1.75, R0 = 1.875
    expected = torch.tensor([[-0.75, -1.5, -1.0, -2.0], [1.875, 1.75, 1.5, 1.0]])
    torch.testing.assert_close(discounted_returns(rewards, 0.5), expected)
    torch.testing.assert_close(discounted_returns(rewards, 0.0), rewards)          # no look-ahead
    torch.testing.assert_close(discounted_returns(rewards, 1.0)[:, 0], rewards.sum(1))  # undiscounted sum
    with pytest.raises(ValueError, match="gamma"):
        discounted_returns(rewards, 1.5)


def test_discounted_returns_match_the_definition_with_the_paper_gamma():
    assert MASKGAN_GAMMA == 0.89
    torch.manual_seed(0)
    rewards = -torch.rand(3, 7)
    slow = torch.tensor([[sum(MASKGAN_GAMMA ** (s - t) * rewards[b, s].item() for s in range(t, 7))
                          for t in range(7)] for b in range(3)])
    torch.testing.assert_close(discounted_returns(rewards), slow)


def test_clipped_advantages_by_hand():
    returns = torch.tensor([[-7.0, 1.0, 3.0, 0.5]])
    values = torch.tensor([[0.0, 2.0, -4.0, 0.25]], requires_grad=True)
    adv = clipped_advantages(returns, values, 5.0)
    # R - V = -7, -1, 7, 0.25 -> clipped to [-5, 5]
    assert torch.equal(adv, torch.tensor([[-5.0, -1.0, 5.0, 0.25]]))
    assert not adv.requires_grad  # a constant weight: the critic is trained by its own loss
    with pytest.raises(ValueError, match="clip"):
        clipped_advantages(returns, values, 0.0)


def test_generator_loss_is_minus_advantage_times_log_p_over_missing_positions():
    torch.manual_seed(1)
    logits = torch.randn(2, 3, 5, requires_grad=True)
    tokens = torch.tensor([[1, 4, 0], [2, 2, 3]])
    adv = torch.tensor([[0.5, -2.0, 1.0], [3.0, 0.25, -1.0]])
    missing = torch.tensor([[True, False, True], [False, True, True]])
    log_p = torch.log_softmax(logits, -1)
    by_hand = -(0.5 * log_p[0, 0, 1] + 1.0 * log_p[0, 2, 0] + 0.25 * log_p[1, 1, 2] - 1.0 * log_p[1, 2, 3])
    loss = losses.policy_gradient(logits, tokens, adv, missing)
    assert loss.item() == pytest.approx(by_hand.item(), rel=1e-6)
    loss.backward()
    assert logits.grad[0, 1].abs().sum() == 0 and logits.grad[1, 0].abs().sum() == 0  # given positions: no gradient
    assert math.isfinite(loss.item())
