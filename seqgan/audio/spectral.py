"""SpecGAN's spectrogram representation (Donahue, McAuley and Puckette, "Adversarial Audio Synthesis", ICLR 2019,
section 4) and its Griffin-Lim inversion.

Forward (:func:`log_magnitude`): a 16384-sample clip at 16 kHz is padded with ``hop`` zeros at the end and cut into
frames of ``window`` = 256 samples every ``hop`` = 128 (the paper's 16 ms windows, 8 ms stride; the end padding is
what gives exactly 128 frames, as the paper's TensorFlow ``stft(..., pad_end=True)`` does), each frame weighted by a
periodic Hann window; the real FFT gives 129 bins of which the top (Nyquist) bin is dropped, leaving 128 bins
linearly spaced from 0 to 8 kHz (minus one bin). The image is log(|X| + 1e-6): (B, 1, 128 bins, 128 frames).

Normalisation (:class:`SpecNorm`): per frequency bin, the mean and standard deviation of the log magnitude over the
training set (all clips and frames); a spectrogram becomes (x - mean) / std, divided by 3 and clipped to [-1, 1]
(values beyond 3 std saturate), the range of the generator's tanh. :meth:`SpecNorm.denormalise` inverts it (exact
for values that were not clipped).

Inverse (:func:`griffin_lim`): Griffin and Lim (1984). Starting from the magnitude with zero phase, repeat
``iterations`` times: synthesise the least-squares signal of the current complex spectrogram (inverse FFT of each
frame, times the window, overlap-added, divided by the summed squared window), take its STFT and keep only its
phase, under the target magnitude. The inverse STFT is written here (overlap-add with ``fold``) rather than with
``torch.istft``, which refuses un-centred frames whose window envelope vanishes at the clip's ends; the dropped
Nyquist bin is restored as zero.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

WINDOW = 256
HOP = 128
LOG_EPS = 1e-6
CLIP_STD = 3.0
SPEC_SIZE = 128


def _window(device, dtype=torch.float32) -> Tensor:
    return torch.hann_window(WINDOW, periodic=True, device=device, dtype=dtype)


def stft(audio: Tensor) -> Tensor:
    """(B, T) real -> (B, WINDOW // 2 + 1, T // HOP) complex, frames starting at 0, HOP, ... (zero end padding)."""
    x = F.pad(audio, (0, HOP))
    return torch.stft(x, WINDOW, HOP, WINDOW, _window(audio.device, audio.dtype), center=False,
                      return_complex=True)


def istft(spec: Tensor, length: int) -> Tensor:
    """Least-squares inverse of :func:`stft`: (B, bins, frames) complex -> (B, length) real."""
    frames = torch.fft.irfft(spec.transpose(1, 2), n=WINDOW)               # (B, frames, WINDOW)
    w = _window(spec.device, frames.dtype)
    n = frames.shape[1]
    total = (n - 1) * HOP + WINDOW
    ola = F.fold((frames * w).transpose(1, 2), (1, total), (1, WINDOW), stride=(1, HOP)).view(-1, total)
    env = F.fold((w * w).view(1, WINDOW, 1).expand(1, WINDOW, n), (1, total), (1, WINDOW),
                 stride=(1, HOP)).view(total)
    out = ola / env.clamp_min(1e-8)
    return out[:, :length]


def log_magnitude(audio: Tensor) -> Tensor:
    """(B, 1, T) clips -> (B, 1, 128, T // 128) log(|STFT| + 1e-6), Nyquist bin dropped (128 x 128 for 16384)."""
    mag = stft(audio.flatten(1)).abs()[:, :-1]
    return torch.log(mag + LOG_EPS).unsqueeze(1)


def griffin_lim(log_mag: Tensor, length: int, iterations: int = 16) -> Tensor:
    """(B, 1, 128, frames) log magnitudes -> (B, 1, length) clips by ``iterations`` Griffin-Lim updates."""
    mag = (torch.exp(log_mag.squeeze(1)) - LOG_EPS).clamp_min(0.0)
    mag = F.pad(mag, (0, 0, 0, 1))                                           # the dropped Nyquist bin: zero
    spec = mag.to(torch.complex64)
    for _ in range(iterations):
        rebuilt = stft(istft(spec, length))
        spec = mag * torch.exp(1j * torch.angle(rebuilt))
    return istft(spec, length).unsqueeze(1)


def spectral_convergence(target_log_mag: Tensor, audio: Tensor) -> float:
    """|| |S| - |STFT(audio)| ||_F / || |S| ||_F, magnitudes (not logs) of the 128 kept bins."""
    target = (torch.exp(target_log_mag) - LOG_EPS).clamp_min(0.0)
    got = (torch.exp(log_magnitude(audio)) - LOG_EPS).clamp_min(0.0)
    return float((target - got).norm() / target.norm())


class SpecNorm:
    """Per-frequency-bin statistics of the training spectrograms and the [-1, 1] scaling built on them."""

    def __init__(self, mean: Tensor, std: Tensor):
        self.mean = mean.reshape(1, 1, -1, 1).float()                         # (1, 1, bins, 1)
        self.std = std.reshape(1, 1, -1, 1).float()

    @classmethod
    def fit(cls, log_mags: Tensor) -> "SpecNorm":
        """Moments over every clip and frame of (N, 1, bins, frames); std floored so a silent bin cannot divide by 0."""
        x = log_mags.double()
        mean = x.mean(dim=(0, 1, 3))
        std = x.std(dim=(0, 1, 3), unbiased=False).clamp_min(1e-3)
        return cls(mean, std)

    def normalise(self, log_mag: Tensor) -> Tensor:
        z = (log_mag - self.mean.to(log_mag.device)) / self.std.to(log_mag.device)
        return (z / CLIP_STD).clamp(-1.0, 1.0)

    def denormalise(self, x: Tensor) -> Tensor:
        return x * CLIP_STD * self.std.to(x.device) + self.mean.to(x.device)

    def state_dict(self) -> dict:
        return {"mean": self.mean.flatten().clone(), "std": self.std.flatten().clone()}

    @classmethod
    def from_state(cls, state: dict) -> "SpecNorm":
        return cls(state["mean"], state["std"])
