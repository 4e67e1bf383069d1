"""RelGAN's multiple-representation CNN discriminator (Nie, Narodytska and Patel, ICLR 2019, Section 2.3).

S embedding matrices E_1..E_S (each V x E) give S representations of one input sequence; the same CNN (one
convolution per filter width, ReLU, max-over-time pooling, highway layer, dropout, linear) scores each, and the
output is the mean of the S scores. The input is either (B, T) int64 tokens (real data: embedding = E_s[y]) or
(B, T, V) float rows of (soft) one-hot vectors (the generator's Gumbel-softmax output: embedding = y @ E_s); a
one-hot row gives exactly the token's embedding, so both paths score a hard sequence alike. Sequences shorter than
the widest filter are right-padded with ``pad_token`` (a one-hot ``pad_token`` row for soft input).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqgan.discriminators.cnn import Highway


class MultiRepCNNDiscriminator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 64, num_rep: int = 64, filter_sizes=(2, 3, 4, 5),
                 num_filters=(300, 300, 300, 300), dropout: float = 0.25, pad_token: int = 0):
        super().__init__()
        if len(filter_sizes) != len(num_filters) or not filter_sizes:
            raise ValueError(f"need as many filter counts as (>= 1) filter widths, got {tuple(filter_sizes)} and "
                             f"{tuple(num_filters)}")
        if min(filter_sizes) < 1 or min(num_filters) < 1 or num_rep < 1 or emb_dim < 1:
            raise ValueError("filter widths and counts, num_rep and emb_dim must be >= 1")
        self.vocab_size, self.pad_token, self.num_rep = vocab_size, pad_token, num_rep
        self.filter_sizes = tuple(filter_sizes)
        self.embeddings = nn.Parameter(torch.empty(num_rep, vocab_size, emb_dim))
        nn.init.uniform_(self.embeddings, -1.0, 1.0)
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, w) for w, n in zip(filter_sizes, num_filters))
        features = sum(num_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features, 1)

    def _embed(self, x: Tensor) -> Tensor:
        """(B, T) tokens or (B, T, V) one-hot rows -> (B, S, T, E), padded to the widest filter."""
        short = max(self.filter_sizes) - x.shape[1]
        if x.dim() == 2:
            if short > 0:
                x = F.pad(x, (0, short), value=self.pad_token)
            return self.embeddings[:, x].transpose(0, 1)                        # (S, B, T, E) -> (B, S, T, E)
        if x.dim() != 3 or x.shape[-1] != self.vocab_size:
            raise ValueError(f"expected (B, T) tokens or (B, T, {self.vocab_size}) one-hot rows, got "
                             f"{tuple(x.shape)}")
        if short > 0:
            pad = F.one_hot(torch.full(x.shape[:1] + (short,), self.pad_token, device=x.device, dtype=torch.long),
                            self.vocab_size).to(x.dtype)
            x = torch.cat([x, pad], dim=1)
        return torch.einsum("btv,sve->bste", x, self.embeddings)

    def scores(self, x: Tensor) -> Tensor:
        """(B, S) logits, one per representation."""
        emb = self._embed(x)
        B, S, T, E = emb.shape
        h = emb.reshape(B * S, T, E).transpose(1, 2)                             # (B*S, E, T)
        pooled = torch.cat([torch.relu(conv(h).amax(dim=2)) for conv in self.convs], dim=1)
        return self.output(self.dropout(self.highway(pooled))).view(B, S)

    def forward(self, x: Tensor) -> Tensor:
        """(B,) logits of "real": the mean over the S representations."""
        return self.scores(x).mean(dim=1)
