"""The LeakGAN generator (Guo, Lu, Cai, Zhang, Yu and Wang, "Long Text Generation via Adversarial Training with
Leaked Information", AAAI 2018): a MANAGER LSTM that reads the discriminator's leaked feature vector and a WORKER
LSTM whose output matrix is steered by the manager's goal.

At read step t (t = 0 reads the start token, t >= 1 reads y_t; s_t = y_1..y_t is the prefix so far):

    f_t   = D.features(s_t right-padded with pad_token to seq_len)       leaked, no gradient
    g_t   = normalise(W_m h^M_t + b_m),  h^M_t = LSTM_M(f_t, h^M_{t-1})  unit-norm goal, dim F = feature size
    w_t   = psi(g_t + g_{t-1} + ... + g_{t-c+1})                         goal embedding, dim k, psi linear no bias
    O_t   = reshape(W_o h^W_t + b_o, V x k),  h^W_t = LSTM_W(emb(x_t), h^W_{t-1})
    p(y_{t+1} | s_t) = softmax(O_t w_t)

The window sum runs over the current goal and the c - 1 before it (fewer at the start of a sequence). The paper
writes psi(sum_{i=1..c} g_{t-i}), the c goals *before* t, which leaves w_0 = 0 (a uniform first token); its code
instead holds a learned initial goal for the first block. Including g_t is our choice; it keeps every step steered.
Goals reach the worker detached: the manager learns only from its own loss (as in the paper, where manager and
worker have separate objectives), psi belongs to the worker.

Interface (seqgan.rollout.engine): ``hidden`` returns (B, L, H + k) = [h^W_t, w_t] and ``project`` computes
O_t w_t from them as the bilinear form (h^W outer w) @ W + w @ b, which is the same arithmetic as building O_t but
never materialises a (rows, V, k) tensor. The State holds both LSTM states, the last c - 1 goals and the prefix
tokens (so features of every row are recomputed from its own prefix after ``select``), which keeps the engine
algorithm-agnostic. All rows of a state sit at the same position (the engine and samplers keep them in step), so
the position is one Python int. For a call with L tokens the L prefixes of every row go through the discriminator
in ONE batched call.

The discriminator is attached with ``attach`` and held by reference, not as a submodule: its parameters are not
the generator's (optimisers, checkpoints and the delayed rollout copy never see them).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import Tensor, nn


@dataclass(frozen=True)
class LeakState:
    worker: tuple[Tensor, Tensor]    # (1, B, H) each
    manager: tuple[Tensor, Tensor]   # (1, B, H_M) each
    goals: Tensor                    # (B, c - 1, F): the last c - 1 goals, oldest first (zeros before the start)
    prefix: Tensor                   # (B, seq_len) tokens read after the start token, pad_token beyond
    read: int                        # tokens read so far, the start token included


@dataclass(frozen=True)
class Trace:
    """Per read step of one ``unroll``: worker outputs [h^W, w], goals g (with grad), leaked features f."""
    hidden: Tensor    # (B, L, H + k)
    goals: Tensor     # (B, L, F)
    features: Tensor  # (B, L, F)


class LeakGANGenerator(nn.Module):
    def __init__(self, vocab_size: int, seq_len: int, feature_dim: int, emb_dim: int = 32, hidden_dim: int = 32,
                 manager_dim: int = 32, goal_dim: int = 16, step_size: int = 4, start_token: int = 0,
                 eos_token: int | None = None, pad_token: int = 0, init_std: float = 0.1):
        super().__init__()
        if min(vocab_size, seq_len, feature_dim, emb_dim, hidden_dim, manager_dim, goal_dim, step_size) < 1:
            raise ValueError("LeakGAN sizes must all be >= 1")
        self.vocab_size, self.seq_len, self.feature_dim = vocab_size, seq_len, feature_dim
        self.goal_dim, self.step_size = goal_dim, step_size
        self.start_token, self.eos_token, self.pad_token = start_token, eos_token, pad_token
        # worker
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.worker = nn.LSTM(emb_dim, hidden_dim, batch_first=True)
        self.out_weight = nn.Parameter(torch.empty(hidden_dim * goal_dim, vocab_size))  # row i*k + j: O[:, j] from h_i
        self.out_bias = nn.Parameter(torch.empty(goal_dim, vocab_size))
        self.psi = nn.Linear(feature_dim, goal_dim, bias=False)
        # manager
        self.manager = nn.LSTM(feature_dim, manager_dim, batch_first=True)
        self.goal_out = nn.Linear(manager_dim, feature_dim)
        for p in self.parameters():  # N(0, 0.1^2) for every matrix, as the SeqGAN-family code initialises
            nn.init.normal_(p, 0.0, init_std)
        self._leak = None  # the discriminator whose features() leak; see attach()

    # --- parameters of the two modules (separate objectives, separate gradient clipping) --------------------
    def worker_parameters(self) -> list[nn.Parameter]:
        return [*self.embedding.parameters(), *self.worker.parameters(), self.out_weight, self.out_bias,
                *self.psi.parameters()]

    def manager_parameters(self) -> list[nn.Parameter]:
        return [*self.manager.parameters(), *self.goal_out.parameters()]

    def attach(self, discriminator) -> None:
        """Leak this discriminator's ``features`` (a (B, T) -> (B, F) function) to the manager."""
        # object.__setattr__: nn.Module's would register it as a submodule, making its parameters ours
        object.__setattr__(self, "_leak", discriminator)

    def __deepcopy__(self, memo):
        # A copy (the delayed rollout policy) shares the attached discriminator instead of copying it.
        clone = type(self).__new__(type(self))
        memo[id(self)] = clone
        for key, value in self.__dict__.items():
            clone.__dict__[key] = value if key == "_leak" else copy.deepcopy(value, memo)
        return clone

    @torch.no_grad()
    def leaked_features(self, tokens: Tensor) -> Tensor:
        """(R, T) padded prefixes -> (R, F) discriminator features, without gradient."""
        if self._leak is None:
            raise RuntimeError("LeakGANGenerator has no discriminator attached; call attach(discriminator) first")
        return self._leak.features(tokens).float()

    # --- the Generator protocol --------------------------------------------------------------------------------
    def initial_state(self, batch_size: int, context: Tensor | None = None) -> LeakState:
        del context
        p = self.out_weight
        zeros = lambda n: torch.zeros(1, batch_size, n, device=p.device, dtype=p.dtype)  # noqa: E731
        return LeakState(worker=(zeros(self.worker.hidden_size), zeros(self.worker.hidden_size)),
                         manager=(zeros(self.manager.hidden_size), zeros(self.manager.hidden_size)),
                         goals=torch.zeros(batch_size, self.step_size - 1, self.feature_dim, device=p.device,
                                           dtype=p.dtype),
                         prefix=torch.full((batch_size, self.seq_len), self.pad_token, dtype=torch.long,
                                           device=p.device),
                         read=0)

    def unroll(self, tokens: Tensor, state: LeakState) -> tuple[Trace, LeakState]:
        """Read (B, L) tokens: worker outputs, goals and leaked features of each step, and the new state."""
        B, L = tokens.shape
        first = 1 if state.read == 0 else 0  # the start token is read but never part of the prefix
        written = state.read - 1 + first     # prefix tokens before this call
        if written + L - first > self.seq_len:
            raise ValueError(f"LeakGAN prefix would exceed seq_len={self.seq_len} tokens")
        prefix = state.prefix.clone()
        prefix[:, written: written + L - first] = tokens[:, first:]
        # the prefix seen at step j holds written + j + 1 - first tokens; all B*L prefixes go to D in one call
        lengths = written + 1 - first + torch.arange(L, device=tokens.device)
        visible = torch.arange(self.seq_len, device=tokens.device)[None, :] < lengths[:, None]       # (L, T)
        prefixes = torch.where(visible[None], prefix[:, None, :], torch.full_like(prefix[:, None, :], self.pad_token))
        features = self.leaked_features(prefixes.reshape(B * L, self.seq_len)).view(B, L, -1)

        manager_out, manager_state = self.manager(features, state.manager)
        goals = F.normalize(self.goal_out(manager_out), dim=-1)
        window = torch.cat([state.goals, goals], dim=1)                  # (B, c - 1 + L, F)
        goal_sums = window.unfold(1, self.step_size, 1).sum(-1)         # (B, L, F): each step's last c goals
        w = self.psi(goal_sums.detach())
        worker_out, worker_state = self.worker(self.embedding(tokens), state.worker)
        new_state = LeakState(worker=worker_state, manager=manager_state,
                              goals=window[:, window.shape[1] - (self.step_size - 1):], prefix=prefix,
                              read=state.read + L)
        return Trace(torch.cat([worker_out, w], dim=-1), goals, features), new_state

    def hidden(self, tokens: Tensor, state: LeakState) -> tuple[Tensor, LeakState]:
        trace, state = self.unroll(tokens, state)
        return trace.hidden, state

    def project(self, outputs: Tensor) -> Tensor:
        """[h^W, w] (..., H + k) -> logits O w (..., V) with O = reshape(W_o h^W + b_o, V x k)."""
        h, w = outputs.split([outputs.shape[-1] - self.goal_dim, self.goal_dim], dim=-1)
        outer = (h.unsqueeze(-1) * w.unsqueeze(-2)).flatten(-2)          # (..., H * k), index i*k + j
        return outer @ self.out_weight + w @ self.out_bias

    def step(self, tokens: Tensor, state: LeakState) -> tuple[Tensor, LeakState]:
        out, state = self.hidden(tokens, state)
        return self.project(out), state

    def select(self, state: LeakState, index: Tensor) -> LeakState:
        pick = lambda hc: (hc[0].index_select(1, index), hc[1].index_select(1, index))  # noqa: E731
        return replace(state, worker=pick(state.worker), manager=pick(state.manager),
                       goals=state.goals.index_select(0, index), prefix=state.prefix.index_select(0, index))

    def teacher_forced(self, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """For (B, T) targets y: logits (B, T, V) of y_1..y_T, goals g_0..g_{T-1} (B, T, F, with grad) and
        features f_0..f_T (B, T + 1, F; f_T = D's features of the whole of y)."""
        start = torch.full_like(tokens[:, :1], self.start_token)
        trace, _ = self.unroll(torch.cat([start, tokens[:, :-1]], dim=1), self.initial_state(tokens.shape[0]))
        last = self.leaked_features(_fit(tokens, self.seq_len, self.pad_token))[:, None]
        return self.project(trace.hidden), trace.goals, torch.cat([trace.features, last], dim=1)


def _fit(tokens: Tensor, width: int, pad: int) -> Tensor:
    """(B, T) -> (B, width): right-padded with ``pad`` or cut."""
    if tokens.shape[1] >= width:
        return tokens[:, :width]
    return F.pad(tokens, (0, width - tokens.shape[1]), value=pad)
