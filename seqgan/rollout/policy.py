"""The delayed rollout policy G_beta of SeqGAN: a copy of the generator that follows it slowly.

After each generator update, beta <- rate * beta + (1 - rate) * theta (rate 0.8 in the paper's code). In the
paper's TensorFlow code this update builds new graph tensors that the rollout graph never reads, so the rollout
network silently stays frozen at its pretrained values; here the copy's parameters really change (tested).
"""
from __future__ import annotations

import copy

import torch
from torch import nn


class DelayedPolicy:
    def __init__(self, generator: nn.Module, update_rate: float = 0.8):
        if not 0.0 <= update_rate <= 1.0:
            raise ValueError(f"rollout update rate must be in [0, 1], got {update_rate}")
        self.update_rate = update_rate
        self.model = copy.deepcopy(generator).requires_grad_(False).eval()

    @torch.no_grad()
    def reset(self, generator: nn.Module) -> None:
        """Copy the generator exactly (start of adversarial training)."""
        for beta, theta in zip(self.model.parameters(), generator.parameters()):
            beta.copy_(theta)

    @torch.no_grad()
    def update(self, generator: nn.Module) -> None:
        for beta, theta in zip(self.model.parameters(), generator.parameters()):
            beta.mul_(self.update_rate).add_(theta, alpha=1.0 - self.update_rate)

    def state_dict(self) -> dict:
        return self.model.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.model.load_state_dict(state)
