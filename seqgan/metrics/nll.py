"""NLL metrics. NLL-oracle: the oracle's mean per-token NLL of a model's samples. NLL-test: a model's mean
per-token NLL of held-out data (never the training data). Both in nats per token."""
from __future__ import annotations

import torch
from torch import Tensor

from seqgan.generators import real_token_mask, teacher_forced_logits
from seqgan.losses import mle


@torch.no_grad()
def sequence_nll(model, tokens: Tensor, batch_size: int = 64, temperature: float = 1.0) -> float:
    """Mean per-token negative log-likelihood of (N, T) ``tokens`` under ``model``, teacher-forced, in nats.

    For a variable-length model (with an ``eos_token``) the mean runs over real tokens: up to and including
    each row's EOS, never the padding after it. ``temperature`` scores under softmax(logits / temperature), the
    distribution that sampling at that temperature draws from.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if tokens.numel() == 0:
        raise ValueError("sequence_nll needs at least one sequence")
    was_training = getattr(model, "training", False)
    if was_training:
        model.eval()
    try:
        total, count = 0.0, 0
        eos = getattr(model, "eos_token", None)
        for chunk in tokens.split(batch_size):
            mask = real_token_mask(chunk, eos)
            n = int(mask.sum())
            total += mle(teacher_forced_logits(model, chunk) / temperature, chunk, mask).item() * n
            count += n
        return total / count
    finally:
        if was_training:
            model.train()
