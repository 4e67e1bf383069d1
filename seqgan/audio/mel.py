"""Log-mel features in torch: the digit classifier's input and the space of the nearest-neighbour statistics.

Mel scale (O'Shaughnessy 1987, the HTK formula): mel(f) = 2595 log10(1 + f / 700). :func:`mel_filterbank` places
``n_mels + 2`` points evenly on the mel scale from ``f_min`` to ``f_max``; filter m is a triangle in Hz rising from
point m to a peak of 1 at point m + 1 and falling to 0 at point m + 2. Adjacent triangles cross where each is 1/2,
so between the first and the last peak the filters sum to exactly 1 at every frequency (no area normalisation).

:func:`log_mel`: power spectrum of 25 ms Hann windows every 10 ms (400 / 160 samples at 16 kHz, FFT size 512,
centred frames), projected on the filterbank, log(energy + 1e-6): (B, n_mels, frames), 103 frames for 16384 samples.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor

N_FFT = 512
WIN = 400
HOP = 160
LOG_EPS = 1e-6


def hz_to_mel(f):
    """Hz -> mel for a float or a tensor."""
    if isinstance(f, torch.Tensor):
        return 2595.0 * torch.log10(1.0 + f / 700.0)
    return 2595.0 * math.log10(1.0 + f / 700.0)


def mel_to_hz(m):
    """mel -> Hz for a float or a tensor."""
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


def mel_points(n_mels: int, f_min: float, f_max: float) -> Tensor:
    """The ``n_mels + 2`` edge/peak frequencies (Hz), evenly spaced in mel."""
    return mel_to_hz(torch.linspace(hz_to_mel(f_min), hz_to_mel(f_max), n_mels + 2, dtype=torch.float64))


def mel_filterbank(n_mels: int = 40, n_fft: int = N_FFT, sample_rate: int = 16000, f_min: float = 0.0,
                   f_max: float | None = None) -> Tensor:
    """(n_mels, n_fft // 2 + 1) triangular filters over the FFT bin frequencies, each peaking at 1."""
    f_max = sample_rate / 2 if f_max is None else f_max
    if not 0 <= f_min < f_max <= sample_rate / 2:
        raise ValueError(f"mel filterbank needs 0 <= f_min < f_max <= {sample_rate / 2}, got {f_min}, {f_max}")
    pts = mel_points(n_mels, f_min, f_max)
    freqs = torch.linspace(0, sample_rate / 2, n_fft // 2 + 1, dtype=torch.float64)
    lo, peak, hi = pts[:-2, None], pts[1:-1, None], pts[2:, None]
    rising = (freqs - lo) / (peak - lo)
    falling = (hi - freqs) / (hi - peak)
    return torch.minimum(rising, falling).clamp_min(0.0).float()


def log_mel(audio: Tensor, filterbank: Tensor) -> Tensor:
    """(B, 1, T) or (B, T) clips -> (B, n_mels, frames) log mel energies."""
    x = audio.flatten(1) if audio.dim() == 3 else audio
    window = torch.hann_window(WIN, device=x.device, dtype=x.dtype)
    spec = torch.stft(x, N_FFT, HOP, WIN, window, center=True, pad_mode="constant", return_complex=True)
    power = spec.real.pow(2) + spec.imag.pow(2)                                # (B, bins, frames)
    return torch.log(filterbank.to(x.device) @ power + LOG_EPS)
