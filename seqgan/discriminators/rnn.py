"""MaskGAN's per-token discriminator and its critic (Fedus, Goodfellow and Dai, ICLR 2018).

``RNNDiscriminator`` has the generator's encoder-decoder shape (``seqgan.generators.infill.EncoderDecoder``): the
encoder reads the same masked context the generator saw, the decoder reads the filled sequence, and at every
position t, having read x_1..x_t, it gives the logit of P(x_t is real).

``Critic`` estimates the value V_t of position t, the baseline for the generator's return R_t. It must not see
the token x_t it judges (a baseline that depends on the action biases the policy gradient), so it reads the
discriminator's decoder output at t-1 (x_1..x_{t-1} read, zeros at t = 1) and the encoder output at t. The critic
is a separate small network on detached discriminator features: its MSE trains only the critic, never the
discriminator's features (our choice; the paper shares the discriminator's layers).
"""
from __future__ import annotations

import torch
from torch import Tensor, nn

from seqgan.generators.infill import EncoderDecoder


class RNNDiscriminator(nn.Module):
    def __init__(self, vocab_size: int, emb_dim: int = 32, hidden_dim: int = 32, num_layers: int = 1,
                 dropout: float = 0.0):
        super().__init__()
        self.core = EncoderDecoder(vocab_size, emb_dim, hidden_dim, num_layers)
        self.dropout = nn.Dropout(dropout)
        self.output = nn.Linear(hidden_dim, 1)

    def features(self, context: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor]:
        """Decoder outputs (B, T, H) after reading each token of ``tokens``, and the encoder outputs (B, T, H)."""
        memory, hc = self.core.encode(context)
        out, _ = self.core.decode(tokens, hc, memory, 0)
        return out, memory

    def forward(self, context: Tensor, tokens: Tensor) -> Tensor:
        """(B, T) logits of P(real) for each token of ``tokens`` given the masked ``context``."""
        out, _ = self.features(context, tokens)
        return self.output(self.dropout(out)).squeeze(-1)

    @torch.no_grad()
    def score(self, context: Tensor, tokens: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """(B, T) log D(x_t) with the ``features`` they came from, in eval mode (no dropout) and without
        gradient; the previous train/eval mode is restored."""
        was_training = self.training
        self.eval()
        try:
            out, memory = self.features(context, tokens)
            return torch.nn.functional.logsigmoid(self.output(out).squeeze(-1).float()), out, memory
        finally:
            self.train(was_training)


class Critic(nn.Module):
    def __init__(self, hidden_dim: int, critic_hidden: int = 32):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(2 * hidden_dim, critic_hidden), nn.Tanh(), nn.Linear(critic_hidden, 1))

    def forward(self, dis_outputs: Tensor, memory: Tensor) -> Tensor:
        """(B, T) values from the discriminator's ``features`` (detached here: the critic trains only itself)."""
        before = torch.cat([torch.zeros_like(dis_outputs[:, :1]), dis_outputs[:, :-1]], dim=1).detach()
        return self.net(torch.cat([before, memory.detach()], dim=-1)).squeeze(-1)
