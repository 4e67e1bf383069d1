"""Piano-roll pictures of melody event sequences (PNG), to lie beside every MIDI file the toolkit writes.

matplotlib is imported inside the function (it is an optional extra: ``pip install seqgan[plot]``) and drives the
Agg canvas directly, so no global pyplot state or display is touched. The file is written atomically.
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

from seqgan.atomic import atomic_write
from seqgan.music.melody import STEPS_PER_BAR, decode


def save_piano_roll(events: Sequence[int], path: str | Path, *, title: str | None = None,
                    steps_per_bar: int = STEPS_PER_BAR, dpi: int = 100) -> Path:
    """Draw the melody of ``events`` (a list or 1-D tensor of classes) as a piano roll; returns the PNG path.

    x: steps (bar lines every ``steps_per_bar``), y: MIDI pitch; each note is a bar from its note-on to its end.
    """
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:  # pragma: no cover - depends on the installation
        raise RuntimeError("piano-roll pictures need matplotlib: pip install 'seqgan[plot]'") from None
    if hasattr(events, "tolist"):
        events = events.tolist()
    notes = decode(events)
    n_steps = max(len(events), 1)
    width = min(24.0, max(4.0, n_steps / 16))
    fig = Figure(figsize=(width, 3.0), dpi=dpi)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    if notes:
        lo = min(n.pitch for n in notes) - 2
        hi = max(n.pitch for n in notes) + 2
        for n in notes:
            ax.broken_barh([(n.start, n.end - n.start - 0.1)], (n.pitch - 0.4, 0.8), facecolors="tab:blue")
    else:
        lo, hi = 58, 72
    ax.yaxis.get_major_locator().set_params(integer=True)
    ax.set_xlim(0, n_steps)
    ax.set_ylim(lo, hi)
    for bar in range(0, n_steps + 1, steps_per_bar):
        ax.axvline(bar, color="0.6", linewidth=0.8)
    ax.set_xlabel(f"step (16th note; bar lines every {steps_per_bar})")
    ax.set_ylabel("MIDI pitch")
    ax.set_title(title if title is not None else f"{len(notes)} notes, {n_steps} steps", fontsize=9)
    fig.tight_layout()
    return atomic_write(path, lambda f: fig.savefig(f, format="png"))
