"""Melody metrics of the SeqGAN paper's music experiment (Yu et al. 2017, "Music generation": BLEU-4 and MSE),
on rows of MusicVAE event classes (``seqgan.music.melody``: 0 note-off, 1 no-event, 2..89 note-on of MIDI 21..108).

The paper does not define its protocols beyond their names, so ours are stated here and next to every number:

BLEU-n (``bleu`` key ``bleu{n}``)
    Every generated window (its 32 event tokens: one token per sixteenth step) is scored with NLTK's
    ``sentence_bleu`` against ALL test windows as references, uniform weights, ``SmoothingFunction().method1``, and
    the scores are averaged (the Texygen protocol of ``seqgan.metrics.bleu``, exact to NLTK, on the tokens as they
    are: no text tokenizer). BLEU over event classes equals BLEU over the token names, one name per class.
Self-BLEU-4
    The same, each generated window against all OTHER generated windows: high means the samples repeat each other.
MSE
    The pitch contour of a window gives every step a MIDI pitch: the pitch of the latest note-on at or before the
    step (during a rest, the note before it; before the window's first note, that first note). For a generated
    window g and a test window r, d(g, r) = mean over the 32 steps of (g_t - r_t)^2 in semitones^2; a window's MSE
    is min over all test windows of d(g, r), and ``mse`` is its mean over the generated windows. Computed exactly:
    the contours are integers and the float64 sums stay far below 2^53. Windows without any note-on have no contour:
    they are left out of the mean and counted (``mse_skipped_silent``); test windows always hold a note (the corpus
    drops windows that are mostly rest).
"""
from __future__ import annotations

import torch
from torch import Tensor

from seqgan.metrics.bleu import BleuIndex, SelfBleuIndex
from seqgan.music.melody import FIRST_PITCH_CLASS, MIN_PITCH

PROTOCOL = ("BLEU-n: every generated window (32 sixteenth-step event tokens) scored by NLTK sentence BLEU against "
            "all test windows, uniform weights, method1 smoothing, mean over windows; Self-BLEU-4: against the other "
            "generated windows; MSE: per generated window, the least mean squared difference (semitones^2) of its "
            "pitch contour (latest note-on pitch at every step) to any test window's, averaged over the windows")


def pitch_contours(events: Tensor) -> tuple[Tensor, Tensor]:
    """(N, T) event classes -> ((N, T) int64 pitch contour, (N,) bool: the row has a note-on). Rows without a
    note-on get a contour of zeros (and False)."""
    if events.dim() != 2:
        raise ValueError(f"expected (N, T) event classes, got shape {tuple(events.shape)}")
    on = events >= FIRST_PITCH_CLASS
    steps = torch.arange(events.shape[1], device=events.device).expand_as(events)
    latest = torch.where(on, steps, torch.full_like(steps, -1)).cummax(dim=1).values
    first = on.to(torch.int8).argmax(dim=1, keepdim=True).expand_as(latest)
    index = torch.where(latest < 0, first, latest)
    pitches = torch.gather(events, 1, index) - FIRST_PITCH_CLASS + MIN_PITCH
    has_note = on.any(dim=1)
    return torch.where(has_note[:, None], pitches, torch.zeros_like(pitches)), has_note


def nearest_mse(generated: Tensor, references: Tensor, chunk: int = 1024) -> Tensor:
    """(N,) float64: for each generated contour (N, T), the least mean squared difference to a reference (M, T)."""
    if generated.shape[1] != references.shape[1] or len(references) == 0:
        raise ValueError(f"need references of the same length: generated {tuple(generated.shape)}, references "
                         f"{tuple(references.shape)}")
    r = references.to(torch.float64)
    r2 = (r * r).sum(dim=1)
    out = []
    for g in generated.to(torch.float64).split(chunk):
        # |g - r|^2 = |g|^2 + |r|^2 - 2 g.r, all integers: exact in float64
        d = (g * g).sum(dim=1, keepdim=True) + r2[None, :] - 2.0 * (g @ r.T)
        out.append(d.min(dim=1).values / generated.shape[1])
    return torch.cat(out) if out else torch.empty(0, dtype=torch.float64)


def melody_report(generated: Tensor, test: Tensor, ns: tuple[int, ...] = (4,)) -> dict:
    """BLEU-n (``bleu{n}``), ``self_bleu4`` and ``mse`` (see the module notes) of generated event rows (N, T) against
    the test rows (M, T), with the counts behind them."""
    if len(generated) < 2 or len(test) == 0:
        raise ValueError(f"need at least 2 generated and 1 test window, got {len(generated)} and {len(test)}")
    hyps, refs = generated.tolist(), test.tolist()
    out: dict = {"n_hypotheses": len(hyps), "n_references": len(refs)}
    out.update({f"bleu{n}": v for n, v in BleuIndex(refs, max_n=max(ns)).corpus_means(hyps, ns).items()})
    out["self_bleu4"] = SelfBleuIndex(hyps, max_n=4).corpus_means((4,))[4]
    g, g_ok = pitch_contours(generated)
    r, r_ok = pitch_contours(test)
    per_row = nearest_mse(g[g_ok], r[r_ok])
    out["mse"] = float(per_row.mean()) if len(per_row) else float("nan")
    out["mse_skipped_silent"] = int((~g_ok).sum())
    return out
