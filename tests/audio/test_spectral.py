"""SpecGAN's spectrograms: the paper's 128 x 128 shape, the STFT's exact inverse, per-bin normalisation round trip,
and Griffin-Lim on a sine."""
import math

import pytest
import torch

from seqgan.audio.spectral import (CLIP_STD, LOG_EPS, SpecNorm, griffin_lim, istft, log_magnitude,
                                   spectral_convergence, stft)


def sine(freq, n=16384, rate=16000, amp=0.5):
    return (amp * torch.sin(2 * math.pi * freq * torch.arange(n) / rate)).view(1, 1, n)


def test_16384_samples_give_128_frames_by_128_bins_at_the_right_frequency():
    x = sine(1000.0)
    spec = log_magnitude(x)
    assert spec.shape == (1, 1, 128, 128)
    # bins are 16000 / 256 = 62.5 Hz apart: 1000 Hz is bin 16, in every frame but the last (half zero padding)
    assert (spec[0, 0, :, :-1].argmax(dim=0) == 16).all()
    assert spec.min() >= math.log(LOG_EPS) - 1e-6


def test_istft_inverts_stft_except_the_first_sample():
    # sample 0 is only seen by the first frame, where the periodic Hann window is exactly 0
    x = torch.randn(2, 16384, dtype=torch.float64)
    y = istft(stft(x), 16384)
    assert torch.allclose(y[:, 1:], x[:, 1:], atol=1e-9)


def test_normalisation_round_trip_and_clipping():
    torch.manual_seed(0)
    scale, offset = torch.linspace(0.5, 2, 128).view(1, 1, -1, 1), torch.arange(128.0).view(1, 1, -1, 1)
    logs = torch.randn(50, 1, 128, 128) * scale + offset
    norm = SpecNorm.fit(logs)
    assert torch.allclose(norm.mean.flatten(), logs.mean(dim=(0, 1, 3)), atol=1e-4)
    assert torch.allclose(norm.std.flatten(), logs.std(dim=(0, 1, 3), unbiased=False), atol=1e-4)
    z = norm.normalise(logs)
    assert z.min() >= -1 and z.max() <= 1
    inside = ((logs - norm.mean).abs() < CLIP_STD * norm.std)
    assert torch.allclose(norm.denormalise(z)[inside], logs[inside], atol=1e-4)
    far = norm.mean + 5 * norm.std                       # beyond 3 std: saturates at 1
    assert torch.all(norm.normalise(far.expand(1, 1, 128, 4)) == 1)
    again = SpecNorm.from_state(norm.state_dict())
    assert torch.equal(again.mean, norm.mean) and torch.equal(again.std, norm.std)


def test_griffin_lim_recovers_a_sine_spectrogram():
    target = log_magnitude(sine(440.0))
    sc = {it: spectral_convergence(target, griffin_lim(target, 16384, it)) for it in (0, 16, 64)}
    # zero-phase start: 0.98 before any iteration, 0.28 after the default 16, 0.13 after 64 (measured)
    assert sc[16] < 0.35 and sc[64] < 0.15
    assert sc[64] < sc[16] < sc[0]
    audio = griffin_lim(target, 16384, 16)
    assert audio.shape == (1, 1, 16384)
    peak = torch.fft.rfft(audio.flatten()).abs().argmax().item() * 16000 / 16384
    assert abs(peak - 440) < 62.5 / 2                    # within half an STFT bin (it measured 444 Hz)


@pytest.mark.parametrize("iterations", [0, 3])
def test_griffin_lim_batches_are_independent(iterations):
    a, b = log_magnitude(sine(300.0)), log_magnitude(sine(2000.0, amp=0.2))
    both = griffin_lim(torch.cat([a, b]), 16384, iterations)
    assert torch.allclose(both[1:], griffin_lim(b, 16384, iterations), atol=1e-5)
