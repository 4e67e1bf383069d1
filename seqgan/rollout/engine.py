"""The one batched rollout engine: plain sampling and Monte Carlo rollout rewards for any Generator.

A policy needs ``start_token``, ``initial_state(B)``, ``hidden(tokens (B, L), state) -> (outputs (B, L, D), state)``,
``project(outputs) -> logits`` (``step`` is the two together) and ``select(state, index)``. Nothing else: the engine knows no model type, so LSTMs, Transformers (KV cache in
the state) and music decoders all roll out here.

Rewards (SeqGAN, Yu et al. 2017, eq. 4): for y of shape (B, T) and prefix length t < T,
Q(t) = mean over N continuations of reward_fn(y_1..t + continuation); Q(T) = reward_fn(y).

Schedule ("triangular"). One combined batch holds B teacher-forced rows (which walk through y and so produce the
state after every prefix exactly once) followed by the rollout rows. At sequential step k = 1..T-1 the teacher rows
read y_k, the rollout rows read their last sampled token, and B*N new rollout rows for prefix k are forked from the
teacher rows by ``select`` (the prefix state is shared, never recomputed). Then every rollout row samples token
k+1. All rows finish together at token T, so the work is exactly B*N*T*(T-1)/2 sampled tokens in T-1 sequential
steps, followed by one (chunked) reward call over all B*N*(T-1) completions plus y itself.

GPU fast path. The step loop never reads a device tensor on the host (no ``.item()``, no boolean-mask indexing:
shapes are known from B, N and k), so CUDA kernels queue back to back; on CUDA the sampler takes all rows of a
step at once (see ``generators.sampling``). ``precision``: "fp32" (default), "bf16" (policy steps and reward
scoring under ``torch.autocast`` in bfloat16; the sampler itself always works in float32), or "tf32" (float32
with TF32 matmuls and convolutions on CUDA; on a CPU the same as fp32). ``compile=True`` compiles the sampler's
arithmetic with ``torch.compile`` on CUDA (ignored elsewhere).
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Callable, Protocol

import torch
from torch import Tensor, nn

from seqgan.generators.sampling import sample_from_hidden, sample_sequences, use_compiled_sampler

RewardFn = Callable[[Tensor], Tensor]  # (M, T) int64 tokens -> (M,) reward, no grad needed


class Policy(Protocol):
    start_token: int
    vocab_size: int

    def initial_state(self, batch_size: int, context: Tensor | None = None): ...
    def hidden(self, tokens: Tensor, state): ...
    def project(self, outputs: Tensor) -> Tensor: ...
    def select(self, state, index: Tensor): ...


@dataclass
class RolloutStats:
    """Counters of the last call, for benchmarks and tests."""
    token_steps: int = 0        # tokens sampled by rollout rows
    sequential_steps: int = 0   # policy.step calls
    reward_rows: int = 0        # rows scored by reward_fn
    reward_calls: int = 0       # reward_fn invocations (chunks)
    extra: dict = field(default_factory=dict)


def min_token_steps(batch: int, length: int, num_rollouts: int) -> int:
    """The least number of sampled tokens any MC-rollout method needs: sum over t of N*B*(T-t)."""
    return batch * num_rollouts * length * (length - 1) // 2


PRECISIONS = ("fp32", "bf16", "tf32")


def precision_context(precision: str, device: torch.device):
    """The numeric mode of policy steps and reward scoring (see the module docstring)."""
    if precision == "bf16":
        return torch.autocast(device.type, dtype=torch.bfloat16)
    if precision == "tf32" and device.type == "cuda":
        return _tf32()
    return contextlib.nullcontext()


@contextlib.contextmanager
def _tf32():
    before = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = True
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = before


def _device_of(policy, fallback: torch.device | None = None) -> torch.device:
    try:
        return next(policy.parameters()).device
    except (AttributeError, StopIteration):
        return fallback or torch.device("cpu")


class RolloutEngine:
    def __init__(self, temperature: float = 1.0, reward_chunk: int = 1024, precision: str = "fp32",
                 compile: bool = False):
        if reward_chunk < 1:
            raise ValueError("reward_chunk must be >= 1")
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
        self.temperature = temperature
        self.reward_chunk = reward_chunk
        self.precision = precision
        self.compile = compile
        self.stats = RolloutStats()

    def _mode(self, device: torch.device):
        stack = contextlib.ExitStack()
        stack.enter_context(precision_context(self.precision, device))
        if self.compile and device.type == "cuda":
            stack.enter_context(use_compiled_sampler())
        return stack

    def sample(self, policy: Policy, batch_size: int, length: int, *, state=None, temperature: float | None = None,
               rng: torch.Generator | None = None, chunk: int | None = None) -> Tensor:
        """(batch_size, length) tokens sampled from the policy, starting from its start token."""
        temperature = self.temperature if temperature is None else temperature
        with self._mode(_device_of(policy)):
            out = sample_sequences(policy, batch_size, length, rng, temperature, batch_size=chunk, state=state)
        self.stats = RolloutStats(token_steps=batch_size * length, sequential_steps=length)
        return out

    @torch.no_grad()
    def fill(self, policy: Policy, known: Tensor, keep: Tensor, *, context=None, temperature: float | None = None,
             rng: torch.Generator | None = None) -> Tensor:
        """In-filling (MaskGAN): (B, T) tokens equal to ``known`` where ``keep`` is True, sampled elsewhere.

        The policy starts from ``initial_state(B, context)`` and reads its own output left to right, so a sampled
        token conditions the ones after it and a kept token is fed exactly as given. Only missing positions draw
        random numbers; decoding stops after the last missing column. No EOS handling: ``known`` fixes the layout.
        """
        if known.shape != keep.shape or known.dim() != 2:
            raise ValueError(f"known and keep must be the same (batch, length) shape, got {tuple(known.shape)} "
                             f"and {tuple(keep.shape)}")
        temperature = self.temperature if temperature is None else temperature
        out = known.clone()
        missing_cols = (~keep).any(dim=0).nonzero()
        stats = RolloutStats()
        if len(missing_cols):
            B = known.shape[0]
            state = policy.initial_state(B, context)
            token = torch.full((B, 1), policy.start_token, dtype=torch.long, device=known.device)
            for t in range(int(missing_cols.max()) + 1):
                hidden, state = policy.hidden(token, state)
                rows = (~keep[:, t]).nonzero().squeeze(1)
                if len(rows):
                    out[rows, t] = sample_from_hidden(policy, hidden[rows, -1], rng, temperature)
                    stats.token_steps += len(rows)
                stats.sequential_steps += 1
                token = out[:, t:t + 1]
        self.stats = stats
        return out

    @torch.no_grad()
    def rewards(self, policy: Policy, tokens: Tensor, reward_fn: RewardFn, num_rollouts: int, *,
                rng: torch.Generator | None = None) -> Tensor:
        """Q of shape (B, T): row b, column t-1 is the rollout reward of prefix y_b[:t] (column T-1: reward of y_b)."""
        with self._mode(tokens.device):
            return self._rewards(policy, tokens, reward_fn, num_rollouts, rng)

    def _rewards(self, policy: Policy, tokens: Tensor, reward_fn: RewardFn, num_rollouts: int,
                 rng: torch.Generator | None) -> Tensor:
        if tokens.dim() != 2:
            raise ValueError(f"tokens must be (batch, length), got shape {tuple(tokens.shape)}")
        if num_rollouts < 1:
            raise ValueError(f"num_rollouts must be >= 1, got {num_rollouts}")
        B, T = tokens.shape
        N = num_rollouts
        device = tokens.device
        stats = RolloutStats()

        # completions[t-1] holds the B*N rollouts of prefix t (row b*N + n), prefilled with y for the prefix part.
        completions = tokens.repeat_interleave(N, dim=0).unsqueeze(0).repeat(max(T - 1, 0), 1, 1)
        state = policy.initial_state(B)
        start = torch.full((B, 1), policy.start_token, dtype=torch.long, device=device)
        _, state = policy.hidden(start, state)
        stats.sequential_steps += 1
        fork = torch.arange(B, device=device).repeat_interleave(N)  # new rollout rows copy teacher row b, N times
        pending = tokens.new_empty(0)                               # last token sampled by each rollout row
        ends = _EndOfSequence.of(policy, B, device)
        for k in range(1, T):
            hidden, state = policy.hidden(torch.cat([tokens[:, k - 1], pending])[:, None], state)
            stats.sequential_steps += 1
            hidden = hidden[:, -1]
            # older rollout rows, then the new forks of prefix k (the teacher rows' outputs, N times each)
            pending = sample_from_hidden(policy, torch.cat([hidden[B:], hidden[:B].index_select(0, fork)]), rng,
                                         self.temperature)
            pending = ends.step(tokens[:, k - 1], fork, pending)
            completions[:k, :, k] = pending.view(k, B * N)
            stats.token_steps += pending.numel()
            if k < T - 1:
                # keep the teacher rows and the k-1 older groups, append the fork for prefix k
                keep = torch.arange(B + (k - 1) * B * N, device=device)
                state = policy.select(state, torch.cat([keep, fork]))

        scores = self._score(torch.cat([completions.reshape(-1, T), tokens]), reward_fn, stats)
        rollout_part = scores[: (T - 1) * B * N].view(T - 1, B, N).mean(dim=2).T  # (B, T-1)
        q = torch.cat([rollout_part, scores[(T - 1) * B * N:, None]], dim=1)
        self.stats = stats
        return q

    def _score(self, rows: Tensor, reward_fn: RewardFn, stats: RolloutStats) -> Tensor:
        out = []
        for chunk in rows.split(self.reward_chunk):
            out.append(reward_fn(chunk).reshape(-1).float())
            stats.reward_calls += 1
        stats.reward_rows = rows.shape[0]
        return torch.cat(out)


class DiscriminatorReward:
    """reward_fn = P(real) from a discriminator, scored in eval mode (no dropout) and without gradients.

    The module's previous train/eval mode is restored afterwards, so a training loop can call it freely.
    """

    def __init__(self, discriminator: nn.Module):
        self.discriminator = discriminator

    @torch.no_grad()
    def __call__(self, tokens: Tensor) -> Tensor:
        was_training = self.discriminator.training
        self.discriminator.eval()
        try:
            return torch.sigmoid(self.discriminator(tokens))
        finally:
            self.discriminator.train(was_training)


class _EndOfSequence:
    """Variable-length sequences: once a row has produced ``eos_token`` it continues with ``pad_token``.

    Tracks, for the teacher rows, whether y_1..y_k already ended, and for every rollout row whether its own
    sequence (prefix plus samples) has ended. A no-op for policies without an ``eos_token``.
    """

    def __init__(self, eos: int | None, pad: int, batch: int, device: torch.device):
        self.eos, self.pad = eos, pad
        self.prefix_ended = torch.zeros(batch, dtype=torch.bool, device=device)
        self.row_ended = torch.zeros(0, dtype=torch.bool, device=device)

    @classmethod
    def of(cls, policy, batch: int, device: torch.device) -> "_EndOfSequence":
        eos = getattr(policy, "eos_token", None)
        return cls(eos, getattr(policy, "pad_token", 0), batch, device)

    def step(self, prefix_token: Tensor, fork: Tensor, sampled: Tensor) -> Tensor:
        if self.eos is None:
            return sampled
        self.prefix_ended |= prefix_token == self.eos
        self.row_ended = torch.cat([self.row_ended, self.prefix_ended.index_select(0, fork)])
        sampled = torch.where(self.row_ended, torch.full_like(sampled, self.pad), sampled)
        self.row_ended |= sampled == self.eos
        return sampled
