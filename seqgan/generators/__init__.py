"""Generators share one protocol: start_token, vocab_size, initial_state, step, select (see rollout.engine)."""
from __future__ import annotations

import torch
from torch import Tensor


def teacher_forced_logits(model, tokens: Tensor) -> Tensor:
    """(B, T) targets -> (B, T, V) logits, reading the start token then y_1..y_{T-1}."""
    start = torch.full_like(tokens[:, :1], model.start_token)
    logits, _ = model.step(torch.cat([start, tokens[:, :-1]], dim=1), model.initial_state(tokens.shape[0]))
    return logits


def real_token_mask(tokens: Tensor, eos_token: int | None) -> Tensor:
    """(B, T) bool: True up to and including each row's first EOS (all True without an EOS token)."""
    if eos_token is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    is_eos = (tokens == eos_token).long()
    # positions strictly after the first EOS have a positive count of EOS before them
    before = is_eos.cumsum(1) - is_eos
    return before == 0


def pad_after_eos(tokens: Tensor, eos_token: int | None, pad_token: int) -> Tensor:
    """A copy of (B, T) tokens with every position after the first EOS set to ``pad_token``."""
    return torch.where(real_token_mask(tokens, eos_token), tokens, torch.full_like(tokens, pad_token))
