"""Pure loss functions (no state, no side effects)."""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _token_log_probs(logits: Tensor, tokens: Tensor) -> Tensor:
    """(B, T, V) logits, (B, T) tokens -> (B, T) log p(token)."""
    return torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)


def mle(logits: Tensor, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
    """Mean negative log-likelihood per (unmasked) token, in nats."""
    nll = F.cross_entropy(logits.float().flatten(0, 1), tokens.flatten(), reduction="none").view(tokens.shape)
    if mask is None:
        return nll.mean()
    mask = mask.to(nll.dtype)
    return (nll * mask).sum() / mask.sum().clamp_min(1.0)


def policy_gradient(logits: Tensor, tokens: Tensor, rewards: Tensor, mask: Tensor | None = None) -> Tensor:
    """REINFORCE surrogate -sum_t log p(y_t) * Q_t, summed over batch and time as in the SeqGAN code.

    Rewards are constants (detached). The sum rather than the mean follows the paper's code; with Adam and
    global-norm clipping the two differ only in how often clipping engages.
    """
    weighted = _token_log_probs(logits, tokens) * rewards.detach().to(logits.dtype)
    if mask is not None:
        weighted = weighted * mask.to(weighted.dtype)
    return -weighted.sum()


def d_bce(logits: Tensor, labels: Tensor) -> Tensor:
    """Binary cross-entropy of discriminator logits against 1 (real) / 0 (generated), mean over the batch."""
    return F.binary_cross_entropy_with_logits(logits, labels.to(logits.dtype))
