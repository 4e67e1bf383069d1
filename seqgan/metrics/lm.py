"""Perplexity of generated text under a separately trained language model (the MaskGAN paper's sample-quality
measure): the toolkit's own LSTM generator trained by maximum likelihood on the training rows, then
exp(mean per-token NLL) of the samples, over real tokens (up to and including EOS, never padding)."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from seqgan import losses
from seqgan.generators import real_token_mask, teacher_forced_logits
from seqgan.generators.lstm import LSTMGenerator
from seqgan.metrics.nll import sequence_nll


def train_lm(rows: Tensor, vocab_size: int, *, start_token: int, eos_token: int | None, pad_token: int = 0,
             emb_dim: int = 32, hidden_dim: int = 32, epochs: int = 10, batch_size: int = 64, lr: float = 0.01,
             grad_clip: float = 5.0, seed: int = 0, on_epoch=None) -> LSTMGenerator:
    """An LSTM LM trained by MLE (Adam, global-norm clipping) on (N, T) id ``rows``; ``on_epoch(i, loss)``
    is called after each epoch. Seeded: the same arguments give the same model on CPU."""
    if len(rows) == 0:
        raise ValueError("train_lm needs at least one training row")
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lm = LSTMGenerator(vocab_size, emb_dim, hidden_dim, start_token=start_token, eos_token=eos_token,
                           pad_token=pad_token).to(rows.device)
    opt = torch.optim.Adam(lm.parameters(), lr=lr)
    lm.train()
    for epoch in range(epochs):
        total, count = 0.0, 0
        for idx in torch.randperm(len(rows), generator=gen).split(batch_size):
            batch = rows[idx.to(rows.device)]
            loss = losses.mle(teacher_forced_logits(lm, batch), batch, real_token_mask(batch, eos_token))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lm.parameters(), grad_clip)
            opt.step()
            total, count = total + loss.item() * len(idx), count + len(idx)
        if on_epoch is not None:
            on_epoch(epoch, total / count)
    return lm.eval()


def lm_perplexity(lm, rows: Tensor) -> float:
    """exp of the LM's mean per-token NLL of (N, T) ``rows`` (real tokens only)."""
    return math.exp(sequence_nll(lm, rows))
