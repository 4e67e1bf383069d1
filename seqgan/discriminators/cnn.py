"""The SeqGAN CNN discriminator (Yu et al. 2017, after Kim 2014 and the paper's code).

Embedding -> one convolution per filter width over the whole embedding (widths 1..10, 15, 20) -> ReLU ->
max-over-time pooling -> highway layer -> dropout -> one logit for "real". The L2 penalty of the paper's code
applies to the output layer only (``l2_penalty``). Sequences shorter than the widest filter are right-padded
with ``pad_token`` so every filter has at least one position.
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

PAPER_FILTER_SIZES = (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
PAPER_NUM_FILTERS = (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)


class Highway(nn.Module):
    """y = t * relu(W x + b) + (1 - t) * x with t = sigmoid(W_t x + b_t) (Srivastava et al. 2015)."""

    def __init__(self, dim: int):
        super().__init__()
        self.transform = nn.Linear(dim, dim)
        self.gate = nn.Linear(dim, dim)

    def forward(self, x: Tensor) -> Tensor:
        t = torch.sigmoid(self.gate(x))
        return t * torch.relu(self.transform(x)) + (1 - t) * x


class CNNDiscriminator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 64, filter_sizes=PAPER_FILTER_SIZES,
                 num_filters=PAPER_NUM_FILTERS, dropout: float = 0.25, pad_token: int = 0):
        super().__init__()
        if len(filter_sizes) != len(num_filters):
            raise ValueError(f"{len(filter_sizes)} filter sizes but {len(num_filters)} filter counts")
        if not filter_sizes:
            raise ValueError("the discriminator needs at least one filter width")
        if min(filter_sizes) < 1 or min(num_filters) < 1:
            raise ValueError(f"filter widths and counts must be >= 1, got widths {tuple(filter_sizes)} and counts "
                             f"{tuple(num_filters)}")
        self.vocab_size = vocab_size
        self.pad_token = pad_token
        self.filter_sizes = tuple(filter_sizes)
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        # Conv1d over the embedding channels = the paper's (w x E) Conv2d, and 2-3x faster on CPU.
        self.convs = nn.ModuleList(nn.Conv1d(emb_dim, n, w) for w, n in zip(filter_sizes, num_filters))
        features = sum(num_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features, 1)
        # Initialisation of the paper's code: embeddings U(-1, 1), conv weights N(0, 0.1^2), conv biases 0.1.
        nn.init.uniform_(self.embedding.weight, -1.0, 1.0)
        for conv in self.convs:
            nn.init.trunc_normal_(conv.weight, std=0.1, a=-0.2, b=0.2)
            nn.init.constant_(conv.bias, 0.1)

    def features(self, tokens: Tensor) -> Tensor:
        """(B, T) tokens -> (B, sum(num_filters)) highway features (before dropout)."""
        short = max(self.filter_sizes) - tokens.shape[1]
        if short > 0:
            tokens = torch.nn.functional.pad(tokens, (0, short), value=self.pad_token)
        x = self.embedding(tokens).transpose(1, 2)  # (B, E, T)
        # relu and max commute, so pool first: relu runs on (B, n) instead of (B, n, T).
        pooled = [torch.relu(conv(x).amax(dim=2)) for conv in self.convs]
        return self.highway(torch.cat(pooled, dim=1))

    def forward(self, tokens: Tensor) -> Tensor:
        """(B, T) tokens -> (B,) logits of P(real)."""
        return self.output(self.dropout(self.features(tokens))).squeeze(1)

    def l2_penalty(self) -> Tensor:
        """sum(W^2)/2 + sum(b^2)/2 of the output layer, as tf.nn.l2_loss in the paper's code."""
        return 0.5 * (self.output.weight.square().sum() + self.output.bias.square().sum())
