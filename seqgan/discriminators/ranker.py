"""The RankGAN ranker (Lin, Li, He, Zhang and Sun, "Adversarial Ranking for Language Generation", NeurIPS 2017):
the SeqGAN CNN feature extractor followed by a linear projection to a feature vector y_s, and the pure ranking
functions of the paper's Section 3.

For a candidate s, a reference set U and a comparison set C (s not in C):

    alpha(s|u)   = cos(y_s, y_u) = y_s . y_u / (|y_s| |y_u|)                                      (relevance)
    P(s|u, C)    = exp(gamma alpha(s|u)) / sum_{s' in C u {s}} exp(gamma alpha(s'|u))              (softmax over C')
    R(s|U, C)    = (1/|U|) sum_{u in U} P(s|u, C)                                                  (expected rank)

Each candidate is ranked against the same C independently of the other candidates, so scoring a batch in chunks
(as the rollout engine does) gives the same scores as scoring it at once. Computed in log space (logaddexp and
logsumexp), so a large gamma neither overflows nor underflows.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqgan.discriminators.cnn import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator


def relevance(features: Tensor, ref_features: Tensor) -> Tensor:
    """(M, D), (K, D) -> (M, K) cosine similarities alpha(s|u)."""
    return F.normalize(features, dim=1, eps=1e-8) @ F.normalize(ref_features, dim=1, eps=1e-8).T


def log_rank_scores(features: Tensor, ref_features: Tensor, comparison_features: Tensor,
                    gamma: float = 1.0) -> Tensor:
    """(M, D) candidates, (K, D) references U, (C, D) comparison set -> (M,) log R(s|U, C), each candidate s ranked
    in C u {s}. Differentiable with respect to all three feature sets."""
    if features.dim() != 2 or ref_features.dim() != 2 or comparison_features.dim() != 2:
        raise ValueError("features, ref_features and comparison_features must all be (rows, dim)")
    if len(ref_features) == 0 or len(comparison_features) == 0:
        raise ValueError("the reference set and the comparison set must not be empty")
    a_s = gamma * relevance(features, ref_features)                                          # (M, K)
    lse_c = torch.logsumexp(gamma * relevance(comparison_features, ref_features), dim=0)     # (K,)
    log_p = a_s - torch.logaddexp(a_s, lse_c[None, :])                                       # log P(s|u, C)
    return torch.logsumexp(log_p, dim=1) - math.log(len(ref_features))                       # log mean_u P


def rank_scores(features: Tensor, ref_features: Tensor, comparison_features: Tensor, gamma: float = 1.0) -> Tensor:
    """(M,) rank scores R(s|U, C) in (0, 1); see :func:`log_rank_scores`."""
    return log_rank_scores(features, ref_features, comparison_features, gamma).exp()


class CNNRanker(CNNDiscriminator):
    """SeqGAN's CNN (embedding, convolutions, max-over-time pooling, highway, dropout) whose output layer is a linear
    projection to ``feature_dim`` features y_s instead of one logit. ``forward`` returns (B, feature_dim)."""

    def __init__(self, vocab_size: int, emb_dim: int = 64, filter_sizes=PAPER_FILTER_SIZES,
                 num_filters=PAPER_NUM_FILTERS, dropout: float = 0.25, pad_token: int = 0, feature_dim: int = 64):
        super().__init__(vocab_size, emb_dim, filter_sizes, num_filters, dropout, pad_token)
        if feature_dim < 1:
            raise ValueError(f"feature_dim must be >= 1, got {feature_dim}")
        self.output = nn.Linear(sum(num_filters), feature_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        """(B, T) tokens -> (B, feature_dim) feature vectors y_s."""
        return self.output(self.dropout(self.features(tokens)))


class RankReward:
    """``reward_fn`` (M, T) -> (M,): R(s|U, C) of each row against fixed reference and comparison token sets.

    Their features are computed once, here; everything is scored in eval mode (no dropout) and without gradients,
    and the ranker's previous train/eval mode is restored afterwards.
    """

    def __init__(self, ranker: nn.Module, references: Tensor, comparison: Tensor, gamma: float):
        self.ranker, self.gamma = ranker, gamma
        self.ref_features = self._features(references)
        self.comparison_features = self._features(comparison)

    @torch.no_grad()
    def _features(self, tokens: Tensor) -> Tensor:
        was_training = self.ranker.training
        self.ranker.eval()
        try:
            return self.ranker(tokens).float()
        finally:
            self.ranker.train(was_training)

    @torch.no_grad()
    def __call__(self, tokens: Tensor) -> Tensor:
        return rank_scores(self._features(tokens), self.ref_features, self.comparison_features, self.gamma)
