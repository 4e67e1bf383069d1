"""WaveGAN (C. Donahue, J. McAuley, M. Puckette, "Adversarial Audio Synthesis", ICLR 2019), written from the paper.

Generator (paper Table 2, model size d = 64, latent size 100): dense z -> 16 x 16d, ReLU, then five transposed
1-D convolutions of kernel 25 and stride 4 (16d -> 8d -> 4d -> 2d -> d -> 1 channels), ReLU between them and tanh
at the end: 16 * 4^5 = 16384 samples. Longer slices follow the authors' later release: the dense layer gives
16 x 32d, the five stride-4 layers go 32d -> 16d -> 8d -> 4d -> 2d -> d, and a sixth transposed convolution of
stride 2 (32768 samples) or 4 (65536) gives the single output channel. Other lengths are refused.

Discriminator (paper Table 3): five convolutions of kernel 25 and stride 4 (1 -> d -> 2d -> 4d -> 8d -> 16d), each
followed by LeakyReLU(0.2) and, except after the last, phase shuffle; then a dense layer on the flattened 16 x 16d
features gives the critic score. For 32768/65536 a sixth convolution (16d -> 32d, stride 2 or 4, LeakyReLU) comes
before the dense layer, mirroring the generator. Padding is "same" (PyTorch padding 11 for stride 4; 12 for stride
2), so each layer divides the length exactly by its stride. No batch normalisation (as in the paper's WaveGAN).

Phase shuffle (paper section 3.3) as the paper's code applies it: ONE integer shift k uniform in [-n, n] is drawn
per call and shared by the whole batch; the activations are shifted by k along time (y[t] = x[t - k]) and the
k samples that enter at the edge are filled by reflection (y[t] = x[k - t] for t < k when k > 0; symmetrically on
the right when k < 0). Radius 0 is the identity. The shift is drawn from an explicit ``torch.Generator`` so runs are
reproducible and resumable.

Conditional WaveGAN (``num_classes > 0``): the generator reads z concatenated with the one-hot class; the
discriminator adds a projection term <embed(y), h> to its score (Miyato and Koyama, "cGANs with projection
discriminator", ICLR 2018), h being the flattened features.

Loss: WGAN-GP (Gulrajani et al. 2017) with lambda = 10; :func:`gradient_penalty` interpolates real and fake with one
uniform alpha per example and penalises (||grad_x D(x_hat)||_2 - 1)^2.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KERNEL = 25
SLICE_LENGTHS = (16384, 32768, 65536)


class SliceLengthError(ValueError):
    """A slice length WaveGAN has no architecture for."""


def check_slice_len(slice_len: int) -> None:
    if slice_len not in SLICE_LENGTHS:
        raise SliceLengthError(f"WaveGAN slice length must be one of {', '.join(map(str, SLICE_LENGTHS))} "
                               f"samples, got {slice_len}")


def _last_stride(slice_len: int) -> int | None:
    """Stride of the extra (sixth) layer, None for 16384."""
    return {16384: None, 32768: 2, 65536: 4}[slice_len]


def _pads(stride: int) -> tuple[int, int]:
    """(padding, output_padding) giving 'same' shapes: conv divides, transposed conv multiplies by ``stride``."""
    return {4: (11, 1), 2: (12, 1)}[stride]


def init_weights(module: nn.Module) -> None:
    """Glorot-uniform weights and zero biases for every dense and (transposed) convolution layer, the defaults of
    the framework the paper used (PyTorch's own defaults give small, partly negative biases that can silence whole
    channels of a small model)."""
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv1d, nn.ConvTranspose1d, nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            nn.init.zeros_(m.bias)


def conditioned(z: Tensor, labels: Tensor | None, num_classes: int, model: str) -> Tensor:
    """A generator's input: z, or z concatenated with the one-hot class when conditional (``num_classes > 0``)."""
    if not num_classes:
        return z
    if labels is None:
        raise ValueError(f"a conditional {model} generator needs labels")
    return torch.cat([z, F.one_hot(labels, num_classes).to(z.dtype)], dim=1)


def upsample(h: Tensor, layers: nn.ModuleList) -> Tensor:
    """A generator's transposed convolutions: ReLU between them, tanh after the last (output in (-1, 1))."""
    for i, layer in enumerate(layers):
        h = layer(h)
        h = torch.tanh(h) if i == len(layers) - 1 else F.relu(h)
    return h


def class_embedding(num_classes: int, features: int) -> nn.Embedding | None:
    """The projection discriminator's class embedding (Glorot-uniform); None when unconditional."""
    if not num_classes:
        return None
    embed = nn.Embedding(num_classes, features)
    nn.init.xavier_uniform_(embed.weight)
    return embed


def critic_score(out: nn.Linear, embed: nn.Embedding | None, h: Tensor, labels: Tensor | None, model: str) -> Tensor:
    """(B,) critic scores of flattened features ``h``: the dense layer, plus <embed(y), h> when conditional."""
    score = out(h).squeeze(1)
    if embed is not None:
        if labels is None:
            raise ValueError(f"a conditional {model} discriminator needs labels")
        score = score + (embed(labels) * h).sum(dim=1)
    return score


def phase_shuffle(x: Tensor, radius: int, rng: torch.Generator | None = None, shift: int | None = None) -> Tensor:
    """Shift (B, C, T) activations by one k in [-radius, radius] for the whole batch, reflect-padding the edge.

    ``shift`` forces k (tests); otherwise it is drawn from ``rng`` (on the CPU, so any device gives the same k)."""
    if radius == 0 and shift is None:
        return x
    if shift is None:
        shift = int(torch.randint(-radius, radius + 1, (1,), generator=rng).item())
    if shift == 0:
        return x
    t = x.shape[-1]
    if abs(shift) >= t:
        raise ValueError(f"phase shuffle shift {shift} needs more than {t} time steps")
    left, right = max(shift, 0), max(-shift, 0)
    padded = F.pad(x, (left, right), mode="reflect")
    return padded[..., right:right + t]


class WaveGANGenerator(nn.Module):
    def __init__(self, latent_dim: int = 100, model_size: int = 64, slice_len: int = 16384, num_classes: int = 0,
                 channels: int = 1):
        super().__init__()
        check_slice_len(slice_len)
        self.latent_dim, self.model_size, self.slice_len = latent_dim, model_size, slice_len
        self.num_classes, self.channels = num_classes, channels
        d = model_size
        extra = _last_stride(slice_len)
        mul = 16 if extra is None else 32
        self.start_channels = mul * d
        self.dense = nn.Linear(latent_dim + num_classes, 16 * mul * d)
        widths = [mul * d // 2 ** i for i in range(6)]      # 16d: 16d,8d,4d,2d,d,d/2 ; 32d: 32d,...,d
        layers = []
        for i in range(5):
            c_in = widths[i]
            c_out = channels if (extra is None and i == 4) else widths[i + 1]
            p, op = _pads(4)
            layers.append(nn.ConvTranspose1d(c_in, c_out, KERNEL, stride=4, padding=p, output_padding=op))
        if extra is not None:
            p, op = _pads(extra)
            layers.append(nn.ConvTranspose1d(widths[5], channels, KERNEL, stride=extra, padding=p,
                                             output_padding=op))
        self.layers = nn.ModuleList(layers)
        init_weights(self)

    def forward(self, z: Tensor, labels: Tensor | None = None) -> Tensor:
        """(B, latent_dim) [+ labels (B,)] -> (B, channels, slice_len) in (-1, 1)."""
        z = conditioned(z, labels, self.num_classes, "WaveGAN")
        return upsample(F.relu(self.dense(z)).view(z.shape[0], self.start_channels, 16), self.layers)


class WaveGANDiscriminator(nn.Module):
    def __init__(self, model_size: int = 64, slice_len: int = 16384, phase_shuffle: int = 2, num_classes: int = 0,
                 channels: int = 1):
        super().__init__()
        check_slice_len(slice_len)
        self.model_size, self.slice_len, self.shuffle_radius = model_size, slice_len, phase_shuffle
        self.num_classes = num_classes
        d = model_size
        widths = [channels, d, 2 * d, 4 * d, 8 * d, 16 * d]
        p, _ = _pads(4)
        convs = [nn.Conv1d(widths[i], widths[i + 1], KERNEL, stride=4, padding=p) for i in range(5)]
        extra = _last_stride(slice_len)
        if extra is not None:
            convs.append(nn.Conv1d(16 * d, 32 * d, KERNEL, stride=extra, padding=_pads(extra)[0]))
        self.convs = nn.ModuleList(convs)
        self.features = 16 * (16 * d if extra is None else 32 * d)
        self.out = nn.Linear(self.features, 1)
        init_weights(self)
        self.embed = class_embedding(num_classes, self.features)

    def forward(self, x: Tensor, labels: Tensor | None = None, rng: torch.Generator | None = None) -> Tensor:
        """(B, channels, slice_len) -> (B,) critic scores. In training mode phase shuffle draws one shift per layer
        and call from ``rng``, shared by the batch; in eval mode there is no phase shuffle."""
        h = x
        for i, conv in enumerate(self.convs):
            h = F.leaky_relu(conv(h), 0.2)
            if i < len(self.convs) - 1 and self.training:
                h = phase_shuffle(h, self.shuffle_radius, rng)
        return critic_score(self.out, self.embed, h.flatten(1), labels, "WaveGAN")


def gradient_penalty(critic, real: Tensor, fake: Tensor, alpha: Tensor) -> Tensor:
    """mean_i (||grad D(x_hat_i)||_2 - 1)^2 with x_hat = real + alpha * (fake - real), alpha (B,) in [0, 1].

    ``critic`` maps (B, ...) to (B,) scores (close over labels and rng); the graph is kept (create_graph) so the
    penalty trains the critic."""
    shape = (-1,) + (1,) * (real.dim() - 1)
    x_hat = (real + alpha.view(shape).to(real.dtype) * (fake - real)).detach().requires_grad_(True)
    scores = critic(x_hat)
    (grads,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = torch.sqrt(grads.flatten(1).pow(2).sum(dim=1) + 1e-12)
    return (norms - 1.0).pow(2).mean()


def wgan_gp_d_loss(d_real: Tensor, d_fake: Tensor, penalty: Tensor, gp_lambda: float = 10.0) -> Tensor:
    """Critic loss E[D(fake)] - E[D(real)] + lambda * GP."""
    return d_fake.mean() - d_real.mean() + gp_lambda * penalty


def wgan_g_loss(d_fake: Tensor) -> Tensor:
    """Generator loss -E[D(G(z))]."""
    return -d_fake.mean()
