"""A PNG grid of clips: for each clip its waveform above its log-magnitude spectrogram (SpecGAN's STFT, 0-8 kHz).

matplotlib is imported inside the function (an optional extra, as for the piano rolls) and drives the Agg canvas
directly, so no global pyplot state is touched; the file is written atomically.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import torch

from seqgan.atomic import atomic_write
from seqgan.audio.spectral import log_magnitude


def save_clip_grid(clips: torch.Tensor, path: str | Path, *, titles: Sequence[str] | None = None,
                   sample_rate: int = 16000, columns: int = 4, dpi: int = 80) -> Path:
    """Draw (N, 1, T) or (N, T) clips (N >= 1) in ``columns`` columns; returns the PNG path."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError("audio pictures need matplotlib: pip install 'seqgan[plot]'") from None
    x = clips.detach().float().cpu().reshape(len(clips), 1, -1)
    if len(x) == 0:
        raise ValueError("no clips to draw")
    n = len(x)
    cols = min(columns, n)
    rows = math.ceil(n / cols)
    spec = log_magnitude(x)[:, 0]                                          # (N, bins, frames)
    seconds = x.shape[-1] / sample_rate
    fig = Figure(figsize=(3.2 * cols, 3.4 * rows), dpi=dpi)
    FigureCanvasAgg(fig)
    grid = fig.add_gridspec(2 * rows, cols, height_ratios=[1, 1.6] * rows)
    t = torch.arange(x.shape[-1]) / sample_rate
    for i in range(n):
        r, c = divmod(i, cols)
        wave = fig.add_subplot(grid[2 * r, c])
        wave.plot(t.numpy(), x[i, 0].numpy(), linewidth=0.4, color="tab:blue")
        wave.set_xlim(0, seconds)
        wave.set_ylim(-1, 1)
        wave.set_xticks([])
        wave.tick_params(labelsize=6)
        wave.set_title(titles[i] if titles is not None else f"clip {i}", fontsize=8)
        img = fig.add_subplot(grid[2 * r + 1, c])
        img.imshow(spec[i].numpy(), origin="lower", aspect="auto", cmap="magma",
                   extent=(0, seconds, 0, sample_rate / 2000), vmin=-12, vmax=float(spec.max()))
        img.tick_params(labelsize=6)
        if c == 0:
            img.set_ylabel("kHz", fontsize=7)
        if r == rows - 1:
            img.set_xlabel("s", fontsize=7)
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png"))
