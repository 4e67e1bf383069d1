"""SpecGAN's networks (Donahue et al., ICLR 2019, section 4 and appendix tables): a 2-D DCGAN (Radford et al. 2016)
on 128 x 128 normalised log-magnitude spectrograms (see :mod:`seqgan.audio.spectral`).

Generator: a dense layer maps z (100) to a 4 x 4 x 16d image, then five transposed convolutions of kernel 5 x 5 and
stride 2 (16d -> 8d -> 4d -> 2d -> d -> 1 channel) grow it to 128 x 128; ReLU between layers, tanh at the end.
Discriminator: five convolutions of kernel 5 x 5 and stride 2 (1 -> d -> 2d -> 4d -> 8d -> 16d), each followed by
LeakyReLU(0.2), then a dense layer on the flattened 4 x 4 x 16d features. Model size d = 64 in the paper; no batch
normalisation (WGAN-GP, as WaveGAN) and no phase shuffle (the paper applies it to WaveGAN only). Padding "same": a
convolution halves each side exactly, a transposed convolution doubles it.

Conditional SpecGAN (``num_classes > 0``) mirrors conditional WaveGAN: z concatenated with the one-hot class, and a
projection term <embed(y), h> added to the critic score. The discriminator takes (and ignores) the phase-shuffle
``rng`` so that the WaveGAN trainer drives both models through one interface.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqgan.audio.spectral import SPEC_SIZE
from seqgan.audio.wavegan import class_embedding, conditioned, critic_score, init_weights, upsample

KERNEL = 5
LAYERS = 5
START = SPEC_SIZE // 2 ** LAYERS          # 4 x 4 after the dense layer


class SpecGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, model_size: int = 64, num_classes: int = 0):
        super().__init__()
        self.latent_dim, self.model_size, self.num_classes = latent_dim, model_size, num_classes
        d = model_size
        widths = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
        self.dense = nn.Linear(latent_dim + num_classes, START * START * widths[0])
        self.layers = nn.ModuleList(
            nn.ConvTranspose2d(widths[i], widths[i + 1], KERNEL, stride=2, padding=2, output_padding=1)
            for i in range(LAYERS))
        init_weights(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """(B, latent_dim) [+ labels (B,)] -> (B, 1, 128, 128) in (-1, 1)."""
        z = conditioned(z, labels, self.num_classes, "SpecGAN")
        return upsample(F.relu(self.dense(z)).view(z.shape[0], 16 * self.model_size, START, START), self.layers)


class SpecGANDiscriminator(nn.Module):
    def __init__(self, model_size: int = 64, num_classes: int = 0):
        super().__init__()
        self.model_size, self.num_classes = model_size, num_classes
        d = model_size
        widths = [1, d, 2 * d, 4 * d, 8 * d, 16 * d]
        self.convs = nn.ModuleList(nn.Conv2d(widths[i], widths[i + 1], KERNEL, stride=2, padding=2)
                                   for i in range(LAYERS))
        self.features = START * START * 16 * d
        self.out = nn.Linear(self.features, 1)
        init_weights(self)
        self.embed = class_embedding(num_classes, self.features)

    def forward(self, x: Tensor, labels: Tensor | None = None, rng: torch.Generator | None = None) -> Tensor:
        """(B, 1, 128, 128) -> (B,) critic scores."""
        h = x
        for conv in self.convs:
            h = F.leaky_relu(conv(h), 0.2)
        return critic_score(self.out, self.embed, h.flatten(1), labels, "SpecGAN")
