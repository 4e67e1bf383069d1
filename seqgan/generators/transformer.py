"""Decoder-only causal Transformer generator with the LSTM's interface (initial_state, hidden, project, step, select).

Pre-LayerNorm blocks (x + attn(LN(x)), x + FFN(LN(x))), learned positional embeddings for ``max_len`` positions, a
final LayerNorm, then the vocabulary projection. Dropout (0 by default) acts on the embeddings and on both residual
branches, not on attention probabilities, so the cached and the full pass are the same function.

State: a KV cache that the N rollouts of a prefix share
------------------------------------------------------
The rollout engine keeps B teacher rows, which only ever append, and at every step forks B*N rollout rows from them
with ``select``. Each rollout row's history is a prefix of its teacher row's history followed by its own samples.
``TransformerState`` therefore stores:

* ``base``: the K/V of one set of G rows (the rows of ``initial_state``), positions [0, base_len);
* ``parts``: consecutive groups of rows. The *owner* part is the base rows themselves (identity): its new tokens are
  appended to the base. Any other part has ``split`` (positions < split are read from base row ``group[i]``) and
  its own K/V for positions [split, pos). When ``group`` is arange(G) repeated ``stride`` times each (the engine's
  forks), attention over the base runs as one batched matmul per base row, without gathering the prefix for each
  rollout; otherwise the base prefix is gathered for that part (correct for any index, just slower).

``select`` splits its index into runs by part. A run that keeps a whole part in order reuses it (no copy); rows
picked from the owner become a new part that reads the base and owns nothing yet (no copy); only rows picked out of
another part have their own K/V gathered. The engine's pattern (keep every row, append B*N forks of the teacher
rows) thus copies nothing, and each rollout row stores only the K/V of its own samples: the prefix is stored once.

Storage is append-only with capacity (doubling, bounded by ``max_len``) and shared between states; a state reads
positions [0, its length) only. A write in place happens only when nobody has written past that length
(``_Store.filled``), and claims the slots at once; otherwise the prefix is copied first. So states behave as
values: stepping a state twice, or two parts of one state reading the same storage, never corrupts anything. With
autograd on (teacher forcing in training) nothing is written in place: new K/V are concatenated instead.

``cache="gather"`` selects the plain cache (per layer K, V of shape (B, heads, pos, head_dim); ``select`` =
``index_select``, append = ``torch.cat``): the reference the shared cache is tested against.
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

CACHES = ("shared", "gather")
MIN_CAPACITY = 8  # positions first allocated for a store; it then doubles (bounded by max_len)


class _Store:
    """Append-only K/V of one set of rows for every layer: keys[l], values[l] of shape (rows, heads, capacity, dh).

    ``filled``: how many positions some state has written (or claimed). Shared by all states that read the store.
    """
    __slots__ = ("keys", "values", "filled")

    def __init__(self, keys: list, values: list, filled: int):
        self.keys, self.values, self.filled = keys, values, filled

    @property
    def capacity(self) -> int:
        return self.keys[0].shape[2] if self.keys and self.keys[0] is not None else 0


@dataclass(frozen=True, eq=False)
class _Part:
    """Consecutive rows of a state. ``owner``: these are the base rows, in order (new K/V go to the base).
    Otherwise row i reads base row ``group[i]`` at positions < ``split`` and ``own`` at positions split..pos-1."""
    rows: int
    owner: bool
    group: Tensor | None = None
    stride: int | None = None  # group == arange(G).repeat_interleave(stride): no gather of the base
    split: int = 0
    own: _Store | None = None


@dataclass(frozen=True)
class TransformerState:
    """The shared KV cache (see the module docs). ``pos``: tokens read so far by every row."""
    pos: int
    base: _Store
    base_rows: int  # G
    base_len: int
    parts: tuple[_Part, ...]

    @property
    def batch_size(self) -> int:
        return sum(p.rows for p in self.parts)


@dataclass(frozen=True)
class GatherState:
    """The plain KV cache: per layer keys and values of shape (B, heads, pos, head_dim)."""
    pos: int
    keys: tuple[Tensor, ...]
    values: tuple[Tensor, ...]

    @property
    def batch_size(self) -> int:
        return self.keys[0].shape[0]


class _Layer(nn.Module):
    def __init__(self, d_model: int, n_heads: int, d_ff: int):
        super().__init__()
        self.n_heads = n_heads
        self.ln1 = nn.LayerNorm(d_model)
        self.qkv = nn.Linear(d_model, 3 * d_model)
        self.proj = nn.Linear(d_model, d_model)
        self.ln2 = nn.LayerNorm(d_model)
        self.ff = nn.Sequential(nn.Linear(d_model, d_ff), nn.GELU(), nn.Linear(d_ff, d_model))

    def heads(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(R, L, D) -> q, k, v, each (R, heads, L, head_dim)."""
        R, L, D = x.shape
        q, k, v = self.qkv(self.ln1(x)).view(R, L, 3, self.n_heads, D // self.n_heads).permute(2, 0, 3, 1, 4)
        return q, k, v


class TransformerGenerator(nn.Module):
    def __init__(self, vocab_size: int, d_model: int = 64, n_heads: int = 4, n_layers: int = 2,
                 d_ff: int | None = None, max_len: int = 256, dropout: float = 0.0, start_token: int = 0,
                 eos_token: int | None = None, pad_token: int = 0, init_std: float = 0.02, cache: str = "shared"):
        super().__init__()
        if d_model % n_heads:
            raise ValueError(f"d_model ({d_model}) must be a multiple of n_heads ({n_heads})")
        if cache not in CACHES:
            raise ValueError(f"cache must be one of {', '.join(CACHES)}, got {cache!r}")
        if max_len < 1 or n_layers < 1:
            raise ValueError("max_len and n_layers must be >= 1")
        self.vocab_size = vocab_size
        self.start_token = start_token
        self.eos_token = eos_token  # None: fixed-length sequences
        self.pad_token = pad_token
        self.d_model, self.n_heads, self.max_len, self.cache = d_model, n_heads, max_len, cache
        self.head_dim = d_model // n_heads
        self.embedding = nn.Embedding(vocab_size, d_model)
        self.position = nn.Embedding(max_len, d_model)
        self.drop = nn.Dropout(dropout)
        self.layers = nn.ModuleList(_Layer(d_model, n_heads, d_ff or 4 * d_model) for _ in range(n_layers))
        self.ln_f = nn.LayerNorm(d_model)
        self.output = nn.Linear(d_model, vocab_size)
        for name, p in self.named_parameters():
            if name.endswith("bias"):
                nn.init.zeros_(p)
            elif p.dim() > 1:  # GPT-2: residual output projections scaled down with depth
                last = name.endswith("proj.weight") or name.endswith("ff.2.weight")
                nn.init.normal_(p, 0.0, init_std / (2 * n_layers) ** 0.5 if last else init_std)

    # --- the full causal pass ------------------------------------------------------------------------------
    def causal_hidden(self, tokens: Tensor) -> Tensor:
        """(B, L) tokens from position 0 -> (B, L, D) outputs, no state: one causal pass."""
        def attend(_, q, k, v):
            return F.scaled_dot_product_attention(q, k, v, is_causal=q.shape[2] > 1)
        return self._run(tokens, 0, attend)

    def forward(self, tokens: Tensor) -> Tensor:
        """(B, L) tokens from position 0 -> (B, L, V) next-token logits (equal to ``step`` from ``initial_state``)."""
        return self.project(self.causal_hidden(tokens))

    def _check_positions(self, pos: int, L: int) -> None:
        if pos + L > self.max_len:
            raise ValueError(f"TransformerGenerator has {self.max_len} positions (max_len); reading {L} token(s) at "
                             f"position {pos} goes past them: build it with a larger max_len")

    def _run(self, tokens: Tensor, pos: int, attend) -> Tensor:
        R, L = tokens.shape
        self._check_positions(pos, L)
        positions = torch.arange(pos, pos + L, device=tokens.device)
        x = self.drop(self.embedding(tokens) + self.position(positions))
        for i, layer in enumerate(self.layers):
            q, k, v = layer.heads(x)
            a = attend(i, q, k, v)  # (R, heads, L, head_dim)
            x = x + self.drop(layer.proj(a.transpose(1, 2).reshape(R, L, self.d_model)))
            x = x + self.drop(layer.ff(layer.ln2(x)))
        return self.ln_f(x)

    # --- the Generator protocol ----------------------------------------------------------------------------
    def initial_state(self, batch_size: int, context: Tensor | None = None):
        del context  # an unconditional LM; the argument is part of the Generator protocol
        p = self.output.weight
        if self.cache == "gather":
            empty = tuple(p.new_empty(batch_size, self.n_heads, 0, self.head_dim) for _ in self.layers)
            return GatherState(0, empty, empty)
        parts = (_Part(batch_size, owner=True),) if batch_size else ()
        return TransformerState(0, _Store([None] * len(self.layers), [None] * len(self.layers), 0), batch_size, 0,
                                parts)

    def step(self, tokens: Tensor, state) -> tuple[Tensor, object]:
        """(B, L) tokens -> (B, L, V) logits for the next token after each position, and the new state."""
        out, new_state = self.hidden(tokens, state)
        return self.project(out), new_state

    def project(self, outputs: Tensor) -> Tensor:
        return self.output(outputs)

    def hidden(self, tokens: Tensor, state) -> tuple[Tensor, object]:
        """(B, L) tokens read after the state's ``pos`` tokens -> (B, L, D) outputs and the new state. Attention
        reads the cache; the prefix is never recomputed."""
        if tokens.shape[0] != state.batch_size:
            raise ValueError(f"tokens have {tokens.shape[0]} rows but the state has {state.batch_size}")
        if isinstance(state, GatherState):
            return self._hidden_gather(tokens, state)
        return self._hidden_shared(tokens, state)

    def select(self, state, index: Tensor):
        """Row i of the result is row index[i] of ``state`` (gather, repeat or permute rows)."""
        if isinstance(state, GatherState):
            return GatherState(state.pos, tuple(k.index_select(0, index) for k in state.keys),
                               tuple(v.index_select(0, index) for v in state.values))
        return self._select_shared(state, index)

    # --- plain cache -----------------------------------------------------------------------------------------
    def _hidden_gather(self, tokens: Tensor, state: GatherState) -> tuple[Tensor, GatherState]:
        pos, L = state.pos, tokens.shape[1]
        keys, values = list(state.keys), list(state.values)
        mask = _causal_mask(pos, L, tokens.device)

        def attend(i, q, k, v):
            keys[i] = torch.cat([keys[i], k], 2)
            values[i] = torch.cat([values[i], v], 2)
            return F.scaled_dot_product_attention(q, keys[i], values[i], attn_mask=None if pos == 0 else mask,
                                                  is_causal=pos == 0 and L > 1)

        out = self._run(tokens, pos, attend)
        return out, GatherState(pos + L, tuple(keys), tuple(values))

    # --- shared cache ----------------------------------------------------------------------------------------
    def _reserve(self, store: _Store | None, length: int, extra: int, rows: int, start: int,
                 grad: bool) -> _Store:
        """A store whose positions [length, length + extra) this call may write, with [0, length) as in ``store``."""
        n_layers = len(self.layers)
        need = length + extra
        if grad:  # autograd: concatenate (``_write``), never write into a tensor the graph has saved
            return _Store([None] * n_layers, [None] * n_layers, need)
        if store is not None and store.filled == length and store.capacity >= need:
            store.filled = need  # claim the slots now: a second writer from the same length copies instead
            return store
        old = store.capacity if store is not None else 0
        cap = min(self.max_len - start, max(need, 2 * old, MIN_CAPACITY))
        p = self.output.weight
        keys = [p.new_empty(rows, self.n_heads, cap, self.head_dim) for _ in range(n_layers)]
        values = [p.new_empty(rows, self.n_heads, cap, self.head_dim) for _ in range(n_layers)]
        if length:
            for i in range(n_layers):
                keys[i][:, :, :length] = store.keys[i][:, :, :length]
                values[i][:, :, :length] = store.values[i][:, :, :length]
        return _Store(keys, values, need)

    @staticmethod
    def _write(target: _Store, source: _Store | None, length: int, i: int, k: Tensor, v: Tensor,
               grad: bool) -> tuple[Tensor, Tensor]:
        """Append k, v (rows, heads, L, dh) at ``length`` in layer i; return the keys and values up to the end."""
        n = length + k.shape[2]
        if grad:
            if length:
                k = torch.cat([source.keys[i][:, :, :length], k], 2)
                v = torch.cat([source.values[i][:, :, :length], v], 2)
            target.keys[i], target.values[i] = k, v
            return k, v
        target.keys[i][:, :, length:n] = k
        target.values[i][:, :, length:n] = v
        return target.keys[i][:, :, :n], target.values[i][:, :, :n]

    def _hidden_shared(self, tokens: Tensor, state: TransformerState) -> tuple[Tensor, TransformerState]:
        pos, L = state.pos, tokens.shape[1]
        self._check_positions(pos, L)
        if not state.parts:  # no rows
            return self._run(tokens, pos, lambda i, q, k, v: q), TransformerState(
                pos + L, state.base, state.base_rows, state.base_len, ())
        grad = torch.is_grad_enabled()
        has_owner = any(p.owner for p in state.parts)
        base = self._reserve(state.base, state.base_len, L, state.base_rows, 0, grad) if has_owner else state.base
        owns = [None if p.owner else self._reserve(p.own, pos - p.split, L, p.rows, p.split, grad)
                for p in state.parts]
        sizes = [p.rows for p in state.parts]
        mask = _causal_mask(pos, L, tokens.device)
        scale = self.head_dim ** -0.5

        def attend(i, q, k, v):
            outs = []
            for part, own, qp, kp, vp in zip(state.parts, owns, q.split(sizes), k.split(sizes), v.split(sizes)):
                if part.owner:
                    keys, values = self._write(base, state.base, state.base_len, i, kp, vp, grad)
                    outs.append(F.scaled_dot_product_attention(qp, keys, values, attn_mask=None if pos == 0 else mask,
                                                               is_causal=pos == 0 and L > 1))
                    continue
                own_k, own_v = self._write(own, part.own, pos - part.split, i, kp, vp, grad)
                # the prefix this part reads lies in [0, base_len) of the old base (a new one may still be empty)
                base_k = state.base.keys[i][:, :, :part.split] if part.split else None
                base_v = state.base.values[i][:, :, :part.split] if part.split else None
                outs.append(_split_attention(qp * scale, part, base_k, base_v, own_k, own_v,
                                             None if mask is None else mask[:, part.split:]))
            return torch.cat(outs) if len(outs) > 1 else outs[0]

        out = self._run(tokens, pos, attend)
        parts = tuple(p if p.owner else _Part(p.rows, False, p.group, p.stride, p.split, own)
                      for p, own in zip(state.parts, owns))
        return out, TransformerState(pos + L, base, state.base_rows, pos + L if has_owner else state.base_len, parts)

    def _select_shared(self, state: TransformerState, index: Tensor) -> TransformerState:
        index = index.to(torch.long)
        n, R = index.numel(), state.batch_size
        if n == 0:
            return TransformerState(state.pos, state.base, state.base_rows, state.base_len, ())
        if int(index.min()) < 0 or int(index.max()) >= R:
            raise IndexError(f"select: index out of range for a state of {R} rows")
        offsets = list(itertools.accumulate((p.rows for p in state.parts), initial=0))
        if len(state.parts) > 1:
            bounds = torch.tensor(offsets[1:-1], device=index.device)
            part_of = torch.bucketize(index, bounds, right=True)
            starts = [0] + (torch.nonzero(part_of[1:] != part_of[:-1]).flatten() + 1).tolist()
            which = part_of[starts].tolist()
        else:
            starts, which = [0], [0]
        G = state.base_rows
        runs = []  # (part, local indices or None for the whole part in order)
        for a, b, w in zip(starts, starts[1:] + [n], which):
            part, local = state.parts[w], index[a:b] - offsets[w]
            identity = torch.arange(part.rows, device=local.device)
            while len(local) >= part.rows and torch.equal(local[:part.rows], identity):
                runs.append((part, None))  # a whole part in order (e.g. the engine keeping its rows)
                local = local[part.rows:]
            if len(local):
                runs.append((part, local))
        parts, owner_taken = [], False
        for part, local in runs:
            if local is None and not (part.owner and owner_taken):
                parts.append(part)  # kept as it is: no copy
                owner_taken |= part.owner
            elif part.owner:  # forks of base rows: they read the base up to here, own nothing yet
                local = torch.arange(part.rows, device=index.device) if local is None else local
                parts.append(_Part(len(local), False, local, _stride(local, G), state.pos, None))
            else:
                group = part.group.index_select(0, local)
                length = state.pos - part.split
                own = None
                if length:
                    own = _Store([k[:, :, :length].index_select(0, local) for k in part.own.keys],
                                 [v[:, :, :length].index_select(0, local) for v in part.own.values], length)
                parts.append(_Part(len(local), False, group, _stride(group, G), part.split, own))
        return TransformerState(state.pos, state.base, state.base_rows, state.base_len, tuple(parts))


def _causal_mask(pos: int, L: int, device) -> Tensor | None:
    """(L, pos + L) bool, True where query i (position pos + i) may read key j; None when nothing is masked."""
    if L == 1:
        return None
    return torch.ones(L, pos + L, dtype=torch.bool, device=device).tril(pos)


def _stride(group: Tensor, G: int | None) -> int | None:
    """c when ``group`` is arange(G).repeat_interleave(c), else None."""
    n = group.numel()
    if not G or n % G:
        return None
    c = n // G
    return c if torch.equal(group, torch.arange(G, device=group.device).repeat_interleave(c)) else None


def _split_attention(q: Tensor, part: _Part, base_k: Tensor | None, base_v: Tensor | None, own_k: Tensor,
                     own_v: Tensor, own_mask: Tensor | None) -> Tensor:
    """Attention of a non-owner part (q already scaled, (R, heads, L, dh)) over base positions < split, read from
    each row's base row, and its own positions. One softmax over both."""
    R, H, L, dh = q.shape
    scores_own = q @ own_k.transpose(-1, -2)  # (R, H, L, n_own)
    if own_mask is not None:
        scores_own = scores_own.masked_fill(~own_mask, float("-inf"))
    if base_k is None:
        return torch.softmax(scores_own, -1) @ own_v
    s = base_k.shape[2]
    c = part.stride
    if c is not None:  # rows grouped by base row: (G, H, c*L, dh) @ (G, H, dh, s), the prefix is read once
        G = base_k.shape[0]
        qg = q.reshape(G, c, H, L, dh).transpose(1, 2).reshape(G, H, c * L, dh)
        scores_base = (qg @ base_k.transpose(-1, -2)).view(G, H, c, L, s).transpose(1, 2).reshape(R, H, L, s)
    else:
        base_k = base_k.index_select(0, part.group)
        base_v = base_v.index_select(0, part.group)
        scores_base = q @ base_k.transpose(-1, -2)
    probs = torch.softmax(torch.cat([scores_base, scores_own], -1), -1)
    p_base, p_own = probs.split([s, scores_own.shape[-1]], -1)
    out = p_own @ own_v
    if c is not None:
        pg = p_base.reshape(G, c, H, L, s).transpose(1, 2).reshape(G, H, c * L, s)
        return out + (pg @ base_v).view(G, H, c, L, dh).transpose(1, 2).reshape(R, H, L, dh)
    return out + p_base @ base_v
