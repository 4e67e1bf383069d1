"""LSTM generator with the step / initial_state / select interface used by the rollout engine.

State is the pair (h, c), each (num_layers, B, H). ``step`` takes (B, L) tokens so one call serves both
teacher forcing (L = T) and incremental decoding (L = 1). The SeqGAN oracle is this same module with the
published parameters loaded (see ``seqgan.data.oracle``): torch's LSTM gates equal the paper code's gates.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]


class LSTMGenerator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, num_layers: int = 1,
                 start_token: int = 0, init_std: float | None = 0.1, eos_token: int | None = None,
                 pad_token: int = 0):
        super().__init__()
        self.vocab_size = vocab_size
        self.start_token = start_token
        self.eos_token = eos_token  # None: fixed-length sequences (the oracle)
        self.pad_token = pad_token
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden_dim, num_layers=num_layers, batch_first=True)
        self.output = nn.Linear(hidden_dim, vocab_size)
        if init_std is not None:
            # The SeqGAN code initialises every generator matrix from N(0, 0.1^2).
            for p in self.parameters():
                nn.init.normal_(p, 0.0, init_std)

    def initial_state(self, batch_size: int, context: Tensor | None = None) -> State:
        del context  # an unconditional LM; the argument is part of the Generator protocol
        shape = (self.lstm.num_layers, batch_size, self.lstm.hidden_size)
        p = self.output.weight
        return torch.zeros(shape, device=p.device, dtype=p.dtype), torch.zeros(shape, device=p.device, dtype=p.dtype)

    def step(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """(B, L) tokens -> (B, L, V) logits for the next token after each position, and the new state."""
        out, new_state = self.hidden(tokens, state)
        return self.project(out), new_state

    def hidden(self, tokens: Tensor, state: State) -> tuple[Tensor, State]:
        """Like ``step`` but returns the (B, L, H) outputs before the vocabulary projection (the engine projects
        them a chunk of rows at a time)."""
        return self.lstm(self.embedding(tokens), state)

    def project(self, outputs: Tensor) -> Tensor:
        return self.output(outputs)

    def select(self, state: State, index: Tensor) -> State:
        """Gather (or repeat) batch rows of the state: row i of the result is row index[i] of ``state``."""
        h, c = state
        return h.index_select(1, index), c.index_select(1, index)
