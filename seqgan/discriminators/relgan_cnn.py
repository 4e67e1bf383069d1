"""RelGAN's multiple-representation CNN discriminator (Nie, Narodytska and Patel, ICLR 2019, Section 2.3), laid out
as the authors' code has it (weilinie/RelGAN, models/rmc_vanilla.py, ``discriminator``).

ONE embedding matrix E (V x ``emb_dim``) whose columns are cut into ``num_rep`` consecutive slices of
``emb_dim / num_rep`` each: slice s is the s-th representation of the sequence (the published oracle run: 64
columns in 64 representations of one column). The same CNN scores every representation on its own -- one
convolution per filter width over (time, slice), ReLU, max over time, a highway layer, dropout, a linear logit --
so a batch of B sequences gives B x S logits, one per (sequence, representation), and the GAN loss is averaged
over all of them (each representation is a discriminator of its own, sharing the CNN). The published code puts a
100-unit linear layer with no activation before the logit; two linear maps in a row are one linear map, so it is
left out. The input is either (B, T) int64 tokens (real data: E[y]) or (B, T, V) float rows of (soft) one-hot
vectors (the generator's Gumbel-softmax output: y @ E); a one-hot row gives exactly the token's embedding, so
both paths score a hard sequence alike. Sequences shorter than the widest filter are right-padded with
``pad_token`` (a one-hot ``pad_token`` row for soft input). E starts as the published code's truncated normal
with standard deviation 1/sqrt(V).
"""
from __future__ import annotations

import math

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
        if emb_dim % num_rep:
            raise ValueError(f"the embedding size ({emb_dim}) must be a multiple of the number of representations "
                             f"({num_rep}): each representation is emb_dim / num_rep of its columns")
        self.vocab_size, self.pad_token, self.num_rep = vocab_size, pad_token, num_rep
        self.rep_dim = emb_dim // num_rep
        self.filter_sizes = tuple(filter_sizes)
        self.embedding = nn.Parameter(torch.empty(vocab_size, emb_dim))
        std = 1.0 / math.sqrt(vocab_size)
        nn.init.trunc_normal_(self.embedding, std=std, a=-2 * std, b=2 * std)
        self.convs = nn.ModuleList(nn.Conv1d(self.rep_dim, n, w) for w, n in zip(filter_sizes, num_filters))
        features = sum(num_filters)
        self.highway = Highway(features)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(features, 1)

    def _embed(self, x: Tensor) -> Tensor:
        """(B, T) tokens or (B, T, V) one-hot rows -> (B, T, emb_dim), padded to the widest filter."""
        short = max(self.filter_sizes) - x.shape[1]
        if x.dim() == 2:
            if short > 0:
                x = F.pad(x, (0, short), value=self.pad_token)
            return self.embedding[x]
        if x.dim() != 3 or x.shape[-1] != self.vocab_size:
            raise ValueError(f"expected (B, T) tokens or (B, T, {self.vocab_size}) one-hot rows, got "
                             f"{tuple(x.shape)}")
        if short > 0:
            pad = F.one_hot(torch.full(x.shape[:1] + (short,), self.pad_token, device=x.device, dtype=torch.long),
                            self.vocab_size).to(x.dtype)
            x = torch.cat([x, pad], dim=1)
        return x @ self.embedding

    def scores(self, x: Tensor) -> Tensor:
        """(B, S) logits, one per (sequence, representation): what the RelGAN loss pairs and averages."""
        emb = self._embed(x)
        B, T, _ = emb.shape
        S, r = self.num_rep, self.rep_dim
        h = emb.view(B, T, S, r).permute(0, 2, 3, 1).reshape(B * S, r, T)         # one row per representation
        pooled = torch.cat([torch.relu(conv(h).amax(dim=2)) for conv in self.convs], dim=1)
        return self.output(self.dropout(self.highway(pooled))).view(B, S)

    def forward(self, x: Tensor) -> Tensor:
        """(B,) logits of "real": the mean over the S representations (for reporting; the loss uses ``scores``)."""
        return self.scores(x).mean(dim=1)
