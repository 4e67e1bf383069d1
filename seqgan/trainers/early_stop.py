"""Early stopping of MLE pretraining on held-out rows: the generator the adversarial phase starts from is the one
with the best validation NLL, not whatever the last pretraining epoch left.

Why: a generator with many output weights (LeakGAN's worker, H * k * V of them) memorises 10,000 oracle rows within
a few epochs -- its NLL-test climbs while NLL-oracle falls, because samples that copy training rows are likely under
the oracle. A fixed epoch count then rewards over-fitting in the NLL-oracle column.
"""
from __future__ import annotations

import math

from torch import Tensor, nn


def split_validation(rows: Tensor, fraction: float) -> tuple[Tensor, Tensor]:
    """(training rows, validation rows): the last ``fraction`` of ``rows`` (at least one) are held out."""
    n_valid = max(1, int(round(len(rows) * fraction)))
    if n_valid >= len(rows):
        raise ValueError(f"holding out {n_valid} of {len(rows)} training rows for validation leaves none to train on")
    return rows[:-n_valid], rows[-n_valid:]


class EarlyStop:
    """Tracks validation NLL after each MLE epoch; after ``patience`` epochs without a new best it restores the
    best generator and reports stopped (every later MLE epoch of the run is skipped)."""

    def __init__(self, patience: int):
        self.patience = patience
        self.best = math.inf
        self.best_epoch = -1
        self.epochs_without_gain = 0
        self.stopped = False
        self.best_state: dict[str, Tensor] | None = None

    def update(self, epoch: int, nll: float, model: nn.Module) -> None:
        if nll < self.best:
            self.best, self.best_epoch, self.epochs_without_gain = nll, epoch, 0
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
            return
        self.epochs_without_gain += 1
        if self.epochs_without_gain >= self.patience:
            model.load_state_dict(self.best_state)
            self.stopped = True

    def finish(self, model: nn.Module) -> None:
        """The phase's last epoch ran without a stop: the best generator still becomes the phase's result."""
        if not self.stopped and self.best_state is not None and self.epochs_without_gain:
            model.load_state_dict(self.best_state)
        self.stopped = True

    def logs(self, nll: float) -> dict[str, float]:
        return {"valid_nll": nll, "best_valid_nll": self.best, "best_epoch": float(self.best_epoch),
                "mle_stopped": float(self.stopped)}

    def state_dict(self) -> dict:
        return {"best": self.best, "best_epoch": self.best_epoch, "epochs_without_gain": self.epochs_without_gain,
                "stopped": self.stopped, "best_state": self.best_state}

    def load_state_dict(self, state: dict) -> None:
        self.best, self.best_epoch = float(state["best"]), int(state["best_epoch"])
        self.epochs_without_gain, self.stopped = int(state["epochs_without_gain"]), bool(state["stopped"])
        self.best_state = state["best_state"]
