"""Generators share one protocol: start_token, vocab_size, initial_state, step, select (see rollout.engine)."""
from __future__ import annotations

import torch
from torch import Tensor


def teacher_forced_logits(model, tokens: Tensor) -> Tensor:
    """(B, T) targets -> (B, T, V) logits, reading the start token then y_1..y_{T-1}."""
    start = torch.full_like(tokens[:, :1], model.start_token)
    logits, _ = model.step(torch.cat([start, tokens[:, :-1]], dim=1), model.initial_state(tokens.shape[0]))
    return logits
