"""Per-token rewards, discounted returns and clipped advantages of MaskGAN's actor-critic (Fedus et al. 2018).

Pure functions on (B, T) tensors, no gradient flows out of them:

    r_t = log D(x_t) at missing positions, 0 at given ones
    R_t = sum_{s >= t} gamma^(s - t) r_s          (the paper uses gamma = 0.89)
    A_t = clip(R_t - V_t, -c, c)                  (V_t: the critic's value, the baseline)

The generator's loss is then ``seqgan.losses.policy_gradient(logits, x, A, mask=missing)``, i.e.
-sum over missing positions of A_t log p(x_t).
"""
from __future__ import annotations

import torch
from torch import Tensor

MASKGAN_GAMMA = 0.89


def masked_rewards(log_d: Tensor, missing: Tensor) -> Tensor:
    """r_t = log D(x_t) where ``missing``, else 0."""
    return torch.where(missing, log_d.detach(), torch.zeros_like(log_d))


def discounted_returns(rewards: Tensor, gamma: float = MASKGAN_GAMMA) -> Tensor:
    """R_t = r_t + gamma * R_{t+1}, R_T = r_T, computed right to left along dim 1."""
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    rewards = rewards.detach()
    out = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[:, 0])
    for t in range(rewards.shape[1] - 1, -1, -1):
        running = rewards[:, t] + gamma * running
        out[:, t] = running
    return out


def clipped_advantages(returns: Tensor, values: Tensor, clip: float) -> Tensor:
    """A_t = clamp(R_t - V_t, -clip, clip), detached (a constant weight for the policy gradient)."""
    if not clip > 0:
        raise ValueError(f"advantage clip must be > 0, got {clip}")
    return (returns.detach() - values.detach()).clamp(-clip, clip)
