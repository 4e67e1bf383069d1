"""WAV reading/writing (every PCM width, stereo, bad files) and the band-limited resampler on sines."""
import struct

import numpy as np
import pytest

from seqgan.audio.wav import AudioError, read_wav, resample, write_wav
from seqgan.data.corpus import CorpusError

from .helpers import tone, write_pcm


def test_write_then_read_16_bit_round_trip(tmp_path):
    x = tone(440, 16000, 1000, amp=0.9)
    path = write_wav(tmp_path / "a.wav", x, 16000)
    y, info = read_wav(path)
    assert (info.sample_rate, info.channels, info.sample_width, info.frames) == (16000, 1, 2, 1000)
    assert y.dtype == np.float32 and np.abs(y - x).max() <= 0.5 / 32768 + 1e-7
    assert not list(tmp_path.glob("*.tmp")) and not list(tmp_path.glob(".*"))


def test_write_clips_and_refuses_nan(tmp_path):
    y, _ = read_wav(write_wav(tmp_path / "c.wav", np.array([2.0, -2.0, 0.0]), 8000))
    assert np.array_equal(y, np.array([32767 / 32768, -1.0, 0.0], dtype=np.float32))
    with pytest.raises(ValueError, match="NaN"):
        write_wav(tmp_path / "n.wav", np.array([0.0, np.nan]), 8000)
    assert not (tmp_path / "n.wav").exists()


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_every_pcm_width_reads_to_the_same_signal(tmp_path, width):
    x = tone(300, 8000, 800, amp=0.7)
    y, info = read_wav(write_pcm(tmp_path / f"w{width}.wav", x, 8000, width=width))
    assert info.sample_width == width
    assert np.abs(y - x).max() <= 1.0 / 2 ** (8 * width - 1) + 1e-7


def test_stereo_is_mixed_down_to_the_mean_with_a_note(tmp_path):
    left, right = tone(300, 8000, 500, 0.4), tone(700, 8000, 500, 0.2)
    y, info = read_wav(write_pcm(tmp_path / "s.wav", np.stack([left, right], axis=1), 8000, channels=2))
    assert info.channels == 2 and any("mono" in n for n in info.notes)
    assert np.abs(y - (left + right) / 2).max() < 1e-4


def _header(fmt_code: int, channels=1, rate=8000, bits=32, data=b"\0" * 8) -> bytes:
    block = channels * bits // 8
    fmt = struct.pack("<HHIIHH", fmt_code, channels, rate, rate * block, block, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.mark.parametrize("content, words", [
    (b"", ["empty"]),
    (b"hello, not audio at all", ["not a WAV file"]),
    (_header(3), ["IEEE float", "convert"]),
    (_header(1)[:30], ["corrupt or truncated"]),
    (_header(1, bits=16, data=b""), ["no audio samples"]),
])
def test_bad_files_get_one_clear_audio_error(tmp_path, content, words):
    path = tmp_path / "bad.wav"
    path.write_bytes(content)
    with pytest.raises(AudioError) as e:
        read_wav(path)
    assert isinstance(e.value, CorpusError)  # the CLI prints it as one line, exit 2
    assert str(path) in str(e.value) and "\n" not in str(e.value)
    for w in words:
        assert w in str(e.value)


def test_truncated_data_is_read_with_a_note(tmp_path):
    path = write_pcm(tmp_path / "t.wav", tone(300, 8000, 400), 8000)
    path.write_bytes(path.read_bytes()[:-101])     # cut inside the data chunk (odd: half a frame too)
    y, info = read_wav(path)
    assert info.frames == 349 and any("truncated" in n for n in info.notes)


def _band_energy_db(y: np.ndarray, rate: int, above: float) -> float:
    spec = np.abs(np.fft.rfft(y * np.blackman(len(y)))) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / rate)
    return 10 * np.log10(spec[freqs > above].sum() / spec.sum())


@pytest.mark.parametrize("freq", [440.0, 1000.0, 3000.0])
def test_upsampling_8k_to_16k_preserves_a_sine_and_leaves_no_image(freq):
    x = tone(freq, 8000, 8000)
    y = resample(x, 8000, 16000)
    assert len(y) == 16000
    inner = slice(500, -500)                       # away from the zero-padded edges
    assert np.abs(y - tone(freq, 16000, 16000))[inner].max() < 1e-3
    peak = np.fft.rfftfreq(len(y[inner]), 1 / 16000)[np.argmax(np.abs(np.fft.rfft(y[inner])))]
    assert abs(peak - freq) <= 1.0
    assert _band_energy_db(y[inner], 16000, 4100) < -80  # the image at 8000 - f would be above 4 kHz


def test_downsampling_removes_what_would_alias():
    x = tone(6000, 16000, 16000)                   # above the new Nyquist: would alias to 2 kHz
    y = resample(x, 16000, 8000)
    assert len(y) == 8000 and 20 * np.log10(np.abs(y[300:-300]).max() / 0.5) < -80
    low = resample(tone(1000, 16000, 16000), 16000, 8000)
    assert np.abs(low - tone(1000, 8000, 8000))[300:-300].max() < 1e-4


def test_any_rational_ratio_and_unit_dc_gain():
    y = resample(tone(440, 44100, 4410), 44100, 16000)
    assert len(y) == 1600 and np.abs(y - tone(440, 16000, 1600))[100:-100].max() < 1e-3
    assert np.allclose(resample(np.ones(400), 8000, 16000)[100:-100], 1.0, atol=1e-6)
    assert np.array_equal(resample(np.arange(5.0), 8000, 8000), np.arange(5.0, dtype=np.float32))
