"""Quality-diversity view of a text generator: sweep the sampling temperature, score every temperature.

Caccia et al. ("Language GANs Falling Short", ICLR 2020; arXiv 2018) showed that one BLEU number rewards mode
collapse: lowering the temperature raises BLEU (quality) while the samples repeat themselves. Comparing models fairly
needs the whole curve, BLEU-n (quality) against Self-BLEU-n (lack of diversity), one point per temperature.

The caller wraps its model in ``sample_lines(n, temperature, seed) -> list[str]``; nothing here knows about
trainers, checkpoints or the CLI. Scores follow :mod:`seqgan.metrics.bleu` (Texygen protocol, exact to NLTK); the
reference index is built once and reused for every temperature.
"""
from __future__ import annotations

import json
import math
import numbers
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from seqgan.atomic import atomic_write, atomic_write_text
from seqgan.metrics.text import PROTOCOL, References, text_report

DEFAULT_TEMPERATURES = (0.6, 0.8, 1.0, 1.2, 1.5)
ORDERS = (2, 3, 4, 5)  # the BLEU orders a sweep may report
SampleLines = Callable[[int, float, int], Sequence[str]]


def _check_temperatures(temperatures: Sequence[float]) -> list[float]:
    if isinstance(temperatures, (str, bytes)) or not isinstance(temperatures, Sequence):
        raise ValueError(f"temperatures must be a sequence of numbers, got {type(temperatures).__name__}")
    if not temperatures:
        raise ValueError("temperatures is empty: give at least one sampling temperature")
    out = []
    for t in temperatures:
        if isinstance(t, bool) or not isinstance(t, numbers.Real):
            raise ValueError(f"temperatures must be numbers, got {t!r}")
        t = float(t)
        if not math.isfinite(t) or t <= 0:
            raise ValueError(f"temperatures must be positive and finite, got {t!r}")
        out.append(t)
    if len(set(out)) != len(out):
        raise ValueError(f"temperatures has duplicates: {out}")
    return out


def _check_ns(ns: Sequence[int]) -> tuple[int, ...]:
    ns = tuple(ns)
    if not ns:
        raise ValueError(f"ns is empty: give BLEU orders from {ORDERS}")
    for k in ns:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k not in ORDERS:
            raise ValueError(f"ns holds BLEU order {k!r}, outside {ORDERS[0]}..{ORDERS[-1]}")
    return tuple(sorted(set(int(k) for k in ns)))


def _check_lines(lines: Any, name: str) -> list[str]:
    if isinstance(lines, (str, bytes)):
        raise ValueError(f"{name} must be a list of text lines, not one string")
    lines = list(lines)
    for line in lines:
        if not isinstance(line, str):
            raise ValueError(f"{name} must hold text lines (str), got {type(line).__name__}")
    return lines


def temperature_sweep(sample_lines: SampleLines, references: Sequence[str],
                      temperatures: Sequence[float] = DEFAULT_TEMPERATURES, n: int = 1000,
                      ns: Sequence[int] = ORDERS, seed: int = 0,
                      nll_test: Callable[[float], float] | None = None, progress: bool = True) -> dict:
    """Score ``n`` samples at each temperature: BLEU-n against ``references``, Self-BLEU-n among the samples,
    the unique n-gram share for each order in ``ns``, and ``nll_test(temperature)`` when given.

    ``sample_lines(n, temperature, seed)`` must return ``n`` text lines; it is called once per temperature with
    the same ``seed``, so a sampler that seeds its generator with it draws with common random numbers.
    Returns ``{"temperatures", "n", "ns", "seed", "protocol", "points"}`` where ``points`` holds one dict per
    temperature (in the given order) with keys ``temperature``, ``bleu{k}``, ``self_bleu{k}``,
    ``unique_{k}gram`` for each k in ``ns``, and ``nll_test`` when ``nll_test`` is given.
    """
    if not callable(sample_lines):
        raise ValueError("sample_lines must be callable as sample_lines(n, temperature, seed)")
    if nll_test is not None and not callable(nll_test):
        raise ValueError("nll_test must be None or callable as nll_test(temperature) -> float")
    temps = _check_temperatures(temperatures)
    if isinstance(n, bool) or not isinstance(n, numbers.Integral) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (Self-BLEU needs two samples), got {n!r}")
    n = int(n)
    ns = _check_ns(ns)
    references = _check_lines(references, "references")
    if not references:
        raise ValueError("references is empty: BLEU needs at least one reference line")

    refs = References(references, max_n=max(ns))  # tokenized and indexed once, shared by every temperature
    points = []
    for t in tqdm(temps, desc="temperature sweep", unit="T", disable=not progress, file=sys.stderr):
        lines = _check_lines(sample_lines(n, t, seed), "sample_lines output")
        if len(lines) != n:
            raise ValueError(f"sample_lines returned {len(lines)} lines at temperature {t}, expected n={n}")
        report = text_report(lines, refs, ns, unique_orders=ns)
        point: dict[str, float] = {"temperature": t, **{k: v for k, v in report.items() if not k.startswith("n_")}}
        if nll_test is not None:
            point["nll_test"] = float(nll_test(t))
        points.append(point)
    return {"temperatures": temps, "n": n, "ns": list(ns), "seed": seed, "protocol": PROTOCOL, "points": points}


def write_sweep_json(result: dict, path: str | Path) -> Path:
    """Write a :func:`temperature_sweep` result as indented JSON, atomically."""
    text = json.dumps(result, indent=2) + "\n"
    return atomic_write_text(path, text)


def plot_sweep(result: dict, path: str | Path, n_order: int = 4, title: str | None = None) -> Path:
    """Plot BLEU-``n_order`` (quality, y) against Self-BLEU-``n_order`` (lack of diversity, x) with one point per
    temperature, joined in temperature order and labelled; a second panel shows NLL-test against
    Self-BLEU-``n_order`` when the result holds it. Writes a PNG to ``path`` atomically (needs matplotlib)."""
    points = result.get("points") if isinstance(result, dict) else None
    if not points:
        raise ValueError("result has no points: pass the dict returned by temperature_sweep")
    bkey, skey = f"bleu{n_order}", f"self_bleu{n_order}"
    if any(bkey not in p or skey not in p for p in points):
        raise ValueError(f"n_order={n_order!r}: the result has no BLEU-{n_order} / Self-BLEU-{n_order} scores")
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as e:
        raise ImportError("plot_sweep needs matplotlib: pip install matplotlib "
                          "(or install seqgan with the plot extra: pip install 'seqgan[plot]')") from e

    points = sorted(points, key=lambda p: p["temperature"])
    with_nll = all(p.get("nll_test") is not None for p in points)
    panels = [(bkey, f"BLEU-{n_order} (quality, higher is better)")]
    if with_nll:
        panels.append(("nll_test", "NLL-test (lower is better)"))

    # A bare Figure on the Agg canvas: no pyplot, so the caller's backend and global state are untouched.
    fig = Figure(figsize=(5.5 * len(panels), 4.5), layout="constrained")
    FigureCanvasAgg(fig)
    x = [p[skey] for p in points]
    for i, (key, ylabel) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), i + 1)
        y = [p[key] for p in points]
        ax.plot(x, y, "-o", color="C0" if i == 0 else "C1")
        for p, xi, yi in zip(points, x, y):
            ax.annotate(f"T={p['temperature']:g}", (xi, yi), textcoords="offset points", xytext=(5, 5),
                        fontsize=8)
        ax.set_xlabel(f"Self-BLEU-{n_order} (lower is more diverse)")
        ax.set_ylabel(ylabel)
        ax.grid(True, alpha=0.3)
    if title is None:
        n = result.get("n")
        title = "Quality vs diversity over sampling temperature" + (f" ({n} samples each)" if n else "")
    fig.suptitle(title)
    return atomic_write(path, lambda f: fig.savefig(f, format="png", dpi=120))
