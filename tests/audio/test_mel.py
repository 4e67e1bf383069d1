"""The mel filterbank written here: triangles peaking at mel-spaced frequencies and summing to one between them."""
import pytest
import torch

from seqgan.audio.mel import hz_to_mel, log_mel, mel_filterbank, mel_points, mel_to_hz


def test_mel_scale_round_trip_and_known_value():
    assert hz_to_mel(1000.0) == pytest.approx(1000.0, abs=0.1)       # the scale is built so 1 kHz ~ 1000 mel
    m = torch.tensor([0.0, 500.0, 2000.0], dtype=torch.float64)
    assert torch.allclose(hz_to_mel(mel_to_hz(m)), m)


def test_triangles_peak_at_their_mel_spaced_centres():
    fb = mel_filterbank(40, n_fft=512, sample_rate=16000).double()
    assert fb.shape == (40, 257)
    freqs = torch.linspace(0, 8000, 257, dtype=torch.float64)
    centres = mel_points(40, 0.0, 8000.0)[1:-1]
    spacing = torch.diff(hz_to_mel(mel_points(40, 0.0, 8000.0)))
    assert torch.allclose(spacing, spacing[0].expand_as(spacing))      # evenly spaced in mel
    for m in range(40):
        row = fb[m]
        assert row.max() <= 1 + 1e-6 and row.min() == 0
        # the largest response is at the FFT bin nearest to the centre frequency
        nearest = (freqs - centres[m]).abs().argmin()
        assert abs(int(row.argmax()) - int(nearest)) <= 1
        support = freqs[row > 0]
        assert support.min() > mel_points(40, 0.0, 8000.0)[m] - 1e-9
        assert support.max() < mel_points(40, 0.0, 8000.0)[m + 2] + 1e-9


def test_filters_sum_to_one_between_first_and_last_centre():
    fb = mel_filterbank(40, n_fft=512, sample_rate=16000)
    freqs = torch.linspace(0, 8000, 257)
    centres = mel_points(40, 0.0, 8000.0)
    inside = (freqs >= centres[1]) & (freqs <= centres[-2])
    assert torch.allclose(fb.sum(0)[inside], torch.ones(int(inside.sum())), atol=1e-5)
    assert (fb.sum(0)[freqs < centres[1]] < 1).all()


def test_log_mel_of_a_tone_peaks_in_the_band_holding_it():
    fb = mel_filterbank(40)
    t = torch.arange(16384) / 16000
    x = (0.5 * torch.sin(2 * torch.pi * 1000 * t)).view(1, 1, -1)
    feats = log_mel(x, fb)
    assert feats.shape == (1, 40, 103)
    band = int(feats[0, :, 50].argmax())
    lo, hi = mel_points(40, 0.0, 8000.0)[band], mel_points(40, 0.0, 8000.0)[band + 2]
    assert lo < 1000 < hi


def test_bad_range_is_refused():
    with pytest.raises(ValueError, match="f_max"):
        mel_filterbank(40, sample_rate=16000, f_max=9000)
