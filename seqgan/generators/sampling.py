"""Exact categorical sampling from logits, and autoregressive sampling of whole sequences.

Two-level inverse CDF: per row, exp(logits - max) once, sums over blocks of about sqrt(V) entries, a binary search over the
block sums with ONE uniform, then a search inside the chosen block. Rows go through in chunks that stay in
cache. On a 2-core CPU this is about 15x faster than Gumbel-max or ``torch.multinomial(softmax(...))`` at
(20000, 5000), which draw V random numbers per row. It is exact up to float32 rounding of the sums.

On CUDA the rows go through in much larger chunks (one kernel sequence per step instead of one per 512 rows), no
step reads a device value on the host, and inside ``use_compiled_sampler()`` the inverse-CDF arithmetic (the
uniforms are drawn outside it, from the same explicit generator) runs through ``torch.compile``.
"""
from __future__ import annotations

import contextlib
import contextvars
import functools

import torch
import torch.nn.functional as F
from torch import Tensor

ROW_CHUNK = 512  # rows per chunk: about 10 MB of logits at V=5000, reused from the heap instead of fresh pages
CUDA_ROW_CHUNK = 16384  # on a GPU: about 330 MB of logits at V=5000; big enough to keep the device busy
_INVERSE_CDF = contextvars.ContextVar("seqgan_inverse_cdf", default=None)  # the compiled sampler, when in use


def _block_size(vocab: int) -> int:
    """A divisor of V near sqrt(V) (no padding copy), else 64 with zero-mass padding."""
    for d in sorted(range(16, 257), key=lambda d: abs(d * d - vocab)):
        if vocab % d == 0:
            return d
    return 64


def _row_chunk(device: torch.device) -> int:
    return CUDA_ROW_CHUNK if device.type == "cuda" else ROW_CHUNK


@functools.cache
def _compiled_inverse_cdf():
    return torch.compile(_inverse_cdf, dynamic=True)


@contextlib.contextmanager
def use_compiled_sampler():
    """Sample through the ``torch.compile``d inverse CDF inside this block (same draws, same tokens up to float
    rounding of fused sums)."""
    token = _INVERSE_CDF.set(_compiled_inverse_cdf())
    try:
        yield
    finally:
        _INVERSE_CDF.reset(token)


def _sample_rows(logits: Tensor, rng: torch.Generator | None) -> Tensor:
    u = torch.rand(logits.shape[0], 1, generator=rng, device=logits.device, dtype=logits.dtype)
    return (_INVERSE_CDF.get() or _inverse_cdf)(logits, u)


def _inverse_cdf(logits: Tensor, u: Tensor) -> Tensor:
    """The token whose cumulative mass first exceeds u (R, 1) in [0, 1) times the row's total mass."""
    rows, vocab = logits.shape
    block = _block_size(vocab)
    mass = (logits - logits.amax(dim=-1, keepdim=True)).exp_()  # <= 1: no overflow, no normalisation needed
    pad = (-vocab) % block
    if pad:
        mass = F.pad(mass, (0, pad))  # zero mass: never chosen
    blocks = mass.view(rows, -1, block)
    block_cdf = blocks.sum(dim=-1).cumsum_(dim=-1)
    u = u * block_cdf[:, -1:]
    # right=True: the first bin whose cumulative mass exceeds u, so zero-mass bins are never picked.
    b = torch.searchsorted(block_cdf, u, right=True).clamp_(max=block_cdf.shape[1] - 1)
    before = torch.where(b > 0, block_cdf.gather(1, (b - 1).clamp_(min=0)), torch.zeros_like(u))
    inner_cdf = blocks[torch.arange(rows, device=logits.device), b[:, 0]].cumsum_(dim=-1)
    j = torch.searchsorted(inner_cdf, u - before, right=True).clamp_(max=block - 1)
    return (b * block + j).squeeze(1).clamp_(max=vocab - 1)


def sample_logits(logits: Tensor, rng: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
    """Draw one token per row of (R, V) logits from softmax(logits / temperature); returns (R,) int64."""
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    x = logits.float()
    if temperature != 1.0:
        x = x / temperature
    if x.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=x.device)
    return torch.cat([_sample_rows(chunk, rng) for chunk in x.split(_row_chunk(x.device))])


def sample_from_hidden(model, hidden: Tensor, rng: torch.Generator | None = None,
                       temperature: float = 1.0) -> Tensor:
    """Project (R, D) hidden outputs to logits and sample, a chunk of rows at a time.

    Never holding all R x V logits at once keeps memory bounded and, on CPU, lets the allocator reuse one
    cached buffer instead of faulting in fresh pages for every step (that alone was 40% of rollout time).
    """
    if hidden.shape[0] == 0:
        return torch.empty(0, dtype=torch.long, device=hidden.device)
    return torch.cat([sample_logits(model.project(chunk), rng, temperature)
                      for chunk in hidden.split(_row_chunk(hidden.device))])


@torch.no_grad()
def sample_sequences(model, n: int, length: int, rng: torch.Generator | None = None, temperature: float = 1.0,
                     batch_size: int | None = None, state=None) -> Tensor:
    """(n, length) tokens sampled autoregressively from a Generator, starting from its start token.

    ``batch_size`` bounds memory for large n (the logits of one step are batch_size x V). For a model with an
    ``eos_token``, every position after a row's first EOS holds the model's ``pad_token``.
    """
    batch_size = batch_size or n
    device = next(model.parameters()).device
    eos, pad = getattr(model, "eos_token", None), getattr(model, "pad_token", 0)
    out = []
    for begin in range(0, n, batch_size):
        b = min(batch_size, n - begin)
        st = model.initial_state(b) if state is None else state
        token = torch.full((b, 1), model.start_token, dtype=torch.long, device=device)
        rows = torch.empty(b, length, dtype=torch.long, device=device)
        ended = torch.zeros(b, dtype=torch.bool, device=device)
        for t in range(length):
            hidden, st = model.hidden(token, st)
            token = sample_from_hidden(model, hidden[:, -1], rng, temperature)[:, None]
            if eos is not None:  # after the end of a sequence only padding follows (no host sync: no mask index)
                token = torch.where(ended[:, None], torch.full_like(token, pad), token)
                ended |= token[:, 0] == eos
            rows[:, t] = token[:, 0]
        out.append(rows)
    return torch.cat(out) if out else torch.empty(0, length, dtype=torch.long, device=device)
