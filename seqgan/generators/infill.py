"""MaskGAN's in-filling generator (Fedus, Goodfellow and Dai, ICLR 2018) and the masks it fills.

An LSTM encoder reads the sequence with its missing positions replaced by ``mask_token`` (an extra, encoder-only id
``vocab_size``: the decoder never emits it). An LSTM decoder then writes the whole sequence left to right. Its input
at position t is [embedding of the token read (the start token, then y_{t-1}); the encoder output at t], so it knows
whether position t is given and what the context there says; Luong "general" attention over all encoder outputs
gives it the words on both sides of a gap. The decoder starts from the encoder's final state.

It is a rollout-engine Policy: ``initial_state(B, context)`` encodes the masked context and the state is
(h, c, memory, position). ``RolloutEngine.fill`` feeds the real token at given positions and samples only the
missing ones, so given tokens are copied exactly. The start, EOS and padding ids are never emitted (their logits
are -1e9): a gap is always filled with a word (UNK included).

``EncoderDecoder`` is shared with the per-token discriminator (``seqgan.discriminators.rnn``), which has the same
shape. Model files import only torch.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

MASK_KINDS = ("contiguous", "random")
NEVER_LOGIT = -1e9  # exp() of it underflows to exactly 0 in float32

State = tuple[Tensor, Tensor, Tensor, int]  # decoder (h, c), encoder outputs (B, T, H), next position


class EncoderDecoder(nn.Module):
    """Encoder over the masked context; decoder reading tokens, aligned with and attending to the encoder."""

    def __init__(self, vocab_size: int, emb_dim: int, hidden_dim: int, num_layers: int = 1):
        super().__init__()
        self.mask_token = vocab_size
        self.embedding = nn.Embedding(vocab_size + 1, emb_dim)
        self.encoder = nn.LSTM(emb_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.decoder = nn.LSTM(emb_dim + hidden_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.attention = nn.Linear(hidden_dim, hidden_dim, bias=False)
        self.combine = nn.Linear(2 * hidden_dim, hidden_dim)

    def encode(self, context: Tensor) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(B, T) masked tokens -> encoder outputs (B, T, H) and its final (h, c)."""
        return self.encoder(self.embedding(context))

    def decode(self, tokens: Tensor, hc: tuple[Tensor, Tensor], memory: Tensor, position: int
               ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """Read (B, L) tokens at positions position..position+L-1 -> (B, L, H) outputs and the new (h, c)."""
        L = tokens.shape[1]
        if position + L > memory.shape[1]:
            raise ValueError(f"decoding positions {position}..{position + L - 1} past the context's "
                             f"{memory.shape[1]} positions")
        aligned = memory[:, position:position + L]
        out, hc = self.decoder(torch.cat([self.embedding(tokens), aligned], dim=-1), hc)
        weights = torch.softmax(self.attention(out) @ memory.transpose(1, 2), dim=-1)  # (B, L, T)
        return torch.tanh(self.combine(torch.cat([out, weights @ memory], dim=-1))), hc


class InfillGenerator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, num_layers: int = 1,
                 start_token: int = 1, eos_token: int | None = None, pad_token: int = 0):
        super().__init__()
        self.vocab_size = vocab_size
        self.start_token = start_token
        self.eos_token = eos_token
        self.pad_token = pad_token
        self.core = EncoderDecoder(vocab_size, emb_dim, hidden_dim, num_layers)
        self.output = nn.Linear(hidden_dim, vocab_size)
        # A gap always holds a word: the control ids (start, EOS, padding) get no probability.
        never = torch.zeros(vocab_size, dtype=torch.bool)
        never[[t for t in (start_token, eos_token, pad_token) if t is not None]] = True
        self.register_buffer("never_filled", never, persistent=False)

    @property
    def mask_token(self) -> int:
        return self.core.mask_token

    def initial_state(self, batch_size: int, context: Tensor | None = None) -> State:
        if context is None:
            raise ValueError("the in-filling generator needs the masked sequence as its context")
        if context.shape[0] != batch_size:
            raise ValueError(f"context has {context.shape[0]} rows for a batch of {batch_size}")
        memory, hc = self.core.encode(context)
        return hc[0], hc[1], memory, 0

    def hidden(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        h, c, memory, position = state
        out, (h, c) = self.core.decode(tokens, (h, c), memory, position)
        return out, (h, c, memory, position + tokens.shape[1])

    def project(self, outputs: Tensor) -> Tensor:
        # finite, so that a loss masked to the gaps stays finite (0 * inf would be NaN) at the given positions
        return self.output(outputs).masked_fill(self.never_filled, NEVER_LOGIT)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        out, state = self.hidden(tokens, state)
        return self.project(out), state

    def select(self, state: State, index: Tensor) -> State:
        h, c, memory, position = state
        return h.index_select(1, index), c.index_select(1, index), memory.index_select(0, index), position

    def logits(self, context: Tensor, tokens: Tensor) -> Tensor:
        """Teacher-forced (B, T, V) logits of ``tokens`` given the masked ``context`` (one decoder pass)."""
        start = torch.full_like(tokens[:, :1], self.start_token)
        logits, _ = self.step(torch.cat([start, tokens[:, :-1]], dim=1), self.initial_state(len(tokens), context))
        return logits


def masked_context(tokens: Tensor, present: Tensor, mask_token: int) -> Tensor:
    """``tokens`` with every position where ``present`` is False replaced by ``mask_token``."""
    return torch.where(present, tokens, torch.full_like(tokens, mask_token))


def word_positions(tokens: Tensor, eos_token: int | None) -> Tensor:
    """(B, T) bool: the positions before each row's first EOS (all of them without an EOS token)."""
    if eos_token is None:
        return torch.ones_like(tokens, dtype=torch.bool)
    is_eos = (tokens == eos_token).long()
    return is_eos.cumsum(1) == 0


def missing_counts(lengths: Tensor, present_rate: float) -> Tensor:
    """Missing words per row: round((1 - present_rate) * length), half up, at least 1 in a non-empty row."""
    n = torch.floor((1.0 - present_rate) * lengths.double() + 0.5).long()
    return torch.minimum(n.clamp_min(1), lengths)


def make_present(words: Tensor, kind: str, present_rate: float, generator: torch.Generator | None = None
                 ) -> Tensor:
    """(B, T) bool, True where the token is given. Only ``words`` positions can go missing (EOS and padding stay).

    ``contiguous``: one block of ``missing_counts`` words at a uniformly random start (the paper's setting);
    ``random``: that many word positions drawn uniformly without replacement. Randomness comes from ``generator``
    (a CPU generator, so the masks are the same on every device).
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"mask kind must be one of {', '.join(MASK_KINDS)}, got {kind!r}")
    if not 0.0 <= present_rate < 1.0:
        raise ValueError(f"present_rate must be in [0, 1), got {present_rate}")
    B, T = words.shape
    cpu_words = words.cpu()
    lengths = cpu_words.sum(1)
    n = missing_counts(lengths, present_rate)
    pos = torch.arange(T)[None, :]
    if kind == "contiguous":
        u = torch.rand(B, generator=generator, dtype=torch.float64)
        start = torch.floor(u * (lengths - n + 1).double()).long()
        missing = (pos >= start[:, None]) & (pos < (start + n)[:, None])
    else:
        scores = torch.rand(B, T, generator=generator)
        scores = torch.where(cpu_words, scores, torch.full_like(scores, 2.0))  # non-words rank last
        rank = scores.argsort(dim=1).argsort(dim=1)
        missing = rank < n[:, None]
    return (~(missing & cpu_words)).to(words.device)
