"""The slow, obviously correct rollout reward: the double loop most public implementations run.

For every rollout n and prefix length t: re-run the policy over y_1..t from its initial state, sample the rest
token by token at batch B with ``torch.multinomial(softmax(logits))``, and score the batch with reward_fn. Variable-length policies (with an ``eos_token``) get every position after the
first EOS replaced by padding afterwards, the plainest statement of what the engine does while sampling.
Used as the reference in tests and as the baseline in benchmarks/rollout.py; never in training.
"""
from __future__ import annotations

import torch
from torch import Tensor

from seqgan.generators import pad_after_eos


def multinomial_sampler(logits: Tensor, rng: torch.Generator | None) -> Tensor:
    return torch.multinomial(torch.softmax(logits.float(), dim=-1), 1, generator=rng).squeeze(1)


@torch.no_grad()
def naive_rewards(policy, tokens: Tensor, reward_fn, num_rollouts: int, rng: torch.Generator | None = None,
                  sampler=multinomial_sampler) -> tuple[Tensor, int]:
    """Q (B, T) as RolloutEngine.rewards computes it, and the number of tokens sampled."""
    B, T = tokens.shape
    q = torch.zeros(B, T, device=tokens.device)
    sampled = 0
    for _ in range(num_rollouts):
        for t in range(1, T):
            start = torch.full((B, 1), policy.start_token, dtype=torch.long, device=tokens.device)
            logits, state = policy.step(torch.cat([start, tokens[:, :t]], dim=1), policy.initial_state(B))
            seq = [tokens[:, :t]]
            for _ in range(t, T):
                nxt = sampler(logits[:, -1], rng)[:, None]
                seq.append(nxt)
                sampled += B
                if sum(s.shape[1] for s in seq) < T:
                    logits, state = policy.step(nxt, state)
            completed = pad_after_eos(torch.cat(seq, dim=1), getattr(policy, "eos_token", None),
                                      getattr(policy, "pad_token", 0))
            q[:, t - 1] += reward_fn(completed).reshape(-1).float()
    q[:, : T - 1] /= num_rollouts
    q[:, T - 1] = reward_fn(tokens).reshape(-1).float()
    return q, sampled


class RecomputePrefix:
    """A policy without a cache: its state is the tokens read so far, and every ``hidden`` call re-runs the model's
    full causal pass over the whole prefix (``model.causal_hidden`` when it has one, else ``hidden`` from the
    initial state) and keeps the last outputs. What a KV cache saves; the baseline of ``benchmarks/rollout.py
    --generator transformer``. Same outputs as the wrapped model's cached path (up to float rounding)."""

    def __init__(self, model):
        self.model = model
        self.start_token, self.vocab_size = model.start_token, model.vocab_size
        self.eos_token = getattr(model, "eos_token", None)
        self.pad_token = getattr(model, "pad_token", 0)

    def parameters(self):
        return self.model.parameters()

    def initial_state(self, batch_size: int, context: Tensor | None = None) -> Tensor:
        del context
        return torch.empty(batch_size, 0, dtype=torch.long, device=next(self.model.parameters()).device)

    def hidden(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        prefix = torch.cat([state, tokens], dim=1)
        full = getattr(self.model, "causal_hidden", None)
        if full is not None:
            out = full(prefix)
        else:
            out, _ = self.model.hidden(prefix, self.model.initial_state(prefix.shape[0]))
        return out[:, -tokens.shape[1]:], prefix

    def project(self, outputs: Tensor) -> Tensor:
        return self.model.project(outputs)

    def step(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        out, state = self.hidden(tokens, state)
        return self.project(out), state

    def select(self, state: Tensor, index: Tensor) -> Tensor:
        return state.index_select(0, index)
