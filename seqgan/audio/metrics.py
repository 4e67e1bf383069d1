"""Audio GAN evaluation as Donahue et al. (ICLR 2019, section 6) report it: the Inception score of a pretrained digit
classifier and nearest-neighbour distances.

Inception score (Salimans et al., "Improved Techniques for Training GANs", 2016): with p(y|x) the classifier's
probabilities of clip x and p(y) their mean over a split, IS = exp(E_x KL(p(y|x) || p(y))); the clips are cut into
``splits`` equal parts (10, as in both papers; the remainder of an uneven count is dropped) and the mean and
(population) standard deviation of the per-split scores are reported. The clips are first put in a fixed random
order (``shuffle_seed``): files sorted by name (or a conditional model's digits in blocks) would otherwise give each
split only one or two digits, and a split's score measures the spread of its own predictions. The score lies in
[1, classes]: 1 when every clip gets the same prediction, the number of classes when predictions are confident and
spread uniformly.

Nearest neighbours (the paper's |D|_self and |D|_train): in the classifier's standardised log-mel feature space, the
mean Euclidean distance from each clip to its nearest other clip of the same set (small: little diversity, e.g.
mode collapse) and to its nearest training clip (small: memorisation). Real test clips give the reference values.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor


def inception_score(probs: Tensor, splits: int = 10, shuffle_seed: int | None = 0) -> tuple[float, float]:
    """(mean, std) over ``splits`` of exp(mean_x KL(p(y|x) || p(y))); ``probs`` (N, classes), N >= splits.
    ``shuffle_seed`` None keeps the given order (consecutive splits)."""
    if splits < 1 or len(probs) < splits:
        raise ValueError(f"the Inception score over {splits} splits needs at least {splits} clips, got {len(probs)}")
    p = probs.double()
    if shuffle_seed is not None:
        p = p[torch.randperm(len(p), generator=torch.Generator().manual_seed(shuffle_seed))]
    size = len(p) // splits
    scores = []
    for k in range(splits):
        part = p[k * size:(k + 1) * size]
        marginal = part.mean(dim=0, keepdim=True)
        # 0 log 0 = 0: classes a clip gives no probability contribute nothing to its KL
        kl = torch.where(part > 0, part * (torch.log(part) - torch.log(marginal)), torch.zeros_like(part)).sum(1)
        scores.append(math.exp(float(kl.mean())))
    mean = sum(scores) / splits
    std = math.sqrt(sum((s - mean) ** 2 for s in scores) / splits)
    return mean, std


def nearest_distances(queries: Tensor, references: Tensor, *, exclude_self: bool = False,
                      chunk: int = 256) -> Tensor:
    """(Nq,) Euclidean distance from each query row to its nearest reference row. ``exclude_self``: queries and
    references are the same set and a row may not be its own neighbour (needs at least two rows)."""
    if exclude_self and len(references) < 2:
        raise ValueError("nearest-neighbour distances within a set need at least 2 clips")
    q, r = queries.double(), references.double()
    out = []
    for s in range(0, len(q), chunk):
        d = torch.cdist(q[s:s + chunk], r)
        if exclude_self:
            rows = torch.arange(len(d))
            d[rows, rows + s] = math.inf
        out.append(d.min(dim=1).values)
    return torch.cat(out)


def nn_stats(features: Tensor, train_features: Tensor | None) -> dict[str, float]:
    """{"nn_self": mean distance to the nearest other clip, "nn_train": to the nearest training clip}."""
    stats = {"nn_self": float(nearest_distances(features, features, exclude_self=True).mean())}
    if train_features is not None:
        stats["nn_train"] = float(nearest_distances(features, train_features).mean())
    return stats
