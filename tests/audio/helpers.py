"""Tiny WAV fixtures written with the standard library (no data directory needed)."""
import wave
from pathlib import Path

import numpy as np


def write_pcm(path: Path, samples: np.ndarray, rate: int, width: int = 2, channels: int = 1) -> Path:
    """Write float samples (frames, channels) or (frames,) in [-1, 1) as ``width``-byte PCM with ``wave``."""
    x = np.asarray(samples, dtype=np.float64).reshape(len(samples), channels)
    if width == 1:
        raw = np.round(x * 128 + 128).clip(0, 255).astype(np.uint8).tobytes()
    elif width == 2:
        raw = np.round(x * 32768).clip(-32768, 32767).astype("<i2").tobytes()
    elif width == 3:
        v = np.round(x * (1 << 23)).clip(-(1 << 23), (1 << 23) - 1).astype(np.int64).reshape(-1) & 0xFFFFFF
        raw = np.stack([v & 0xFF, (v >> 8) & 0xFF, (v >> 16) & 0xFF], axis=1).astype(np.uint8).tobytes()
    else:
        raw = np.round(x * 2147483648.0).clip(-2147483648, 2147483647).astype("<i4").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(raw)
    return path


def tone(freq: float, rate: int, n: int, amp: float = 0.5) -> np.ndarray:
    return amp * np.sin(2 * np.pi * freq * np.arange(n) / rate)


def digit_folder(root: Path, n_per_digit: int = 1, digits=(0, 1, 2), rate: int = 8000, n: int = 2000) -> Path:
    """FSDD-style files {digit}_{speaker}_{index}.wav with a different tone per digit."""
    for d in digits:
        for i in range(n_per_digit):
            write_pcm(root / f"{d}_spk_{i}.wav", tone(200 + 100 * d, rate, n), rate)
    return root
