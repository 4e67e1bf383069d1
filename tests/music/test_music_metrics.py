"""Melody metrics (seqgan.metrics.music): pitch contours, the exact nearest-window MSE, BLEU against NLTK."""
from fractions import Fraction

import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan.metrics.music import melody_report, nearest_mse, pitch_contours
from seqgan.music.tokens import events_to_tokens, tokens_to_events


def ev(line):
    return tokens_to_events(line.split())


def test_pitch_contour_carries_the_last_note_through_rests():
    rows = torch.tensor([ev("hold hold C4 hold off hold D4 off"), ev("hold off hold hold hold hold hold hold")])
    contour, has_note = pitch_contours(rows)
    assert contour[0].tolist() == [60, 60, 60, 60, 60, 60, 62, 62]
    assert has_note.tolist() == [True, False]


def brute_force(gen, ref):
    out = []
    for g in gen.tolist():
        out.append(min(Fraction(sum((a - b) ** 2 for a, b in zip(g, r)), len(g)) for r in ref.tolist()))
    return out


def test_nearest_mse_is_exact_against_brute_force():
    g = torch.Generator().manual_seed(0)
    gen = torch.randint(21, 109, (37, 32), generator=g)
    ref = torch.randint(21, 109, (53, 32), generator=g)
    got = nearest_mse(gen, ref, chunk=8).tolist()
    assert got == [float(x) for x in brute_force(gen, ref)]   # equal, not approximately equal


def test_mse_by_hand_and_silent_rows_are_left_out():
    c4, d4, a3 = ("C4 " + "hold " * 7).split(), ("D4 " + "hold " * 7).split(), ("A3 " + "hold " * 7).split()
    gen = torch.tensor([tokens_to_events(c4), ev("hold " * 8)])
    test = torch.tensor([tokens_to_events(d4), tokens_to_events(a3)])
    r = melody_report(gen, test)
    assert r["mse"] == 4.0                   # C4 is 2 semitones from D4 (and 3 from A3) at all 8 steps
    assert r["mse_skipped_silent"] == 1


def test_bleu_and_self_bleu_equal_nltk_on_tokens():
    g = torch.Generator().manual_seed(1)
    pool = torch.tensor([ev("C4 hold D4 hold E4 hold off hold"), ev("C4 hold hold hold G4 hold E4 hold")])
    gen = torch.where(torch.rand(6, 8, generator=g) < 0.3, torch.randint(0, 90, (6, 8), generator=g), pool[[0, 1] * 3])
    test = torch.cat([pool, torch.tensor([ev("E4 hold D4 hold C4 hold hold hold")])])
    hyps = [events_to_tokens(r) for r in gen.tolist()]
    refs = [events_to_tokens(r) for r in test.tolist()]
    smooth = SmoothingFunction().method1
    nltk_bleu = sum(sentence_bleu(refs, h, smoothing_function=smooth) for h in hyps) / len(hyps)
    nltk_self = sum(sentence_bleu(hyps[:i] + hyps[i + 1:], h, smoothing_function=smooth)
                    for i, h in enumerate(hyps)) / len(hyps)
    r = melody_report(gen, test)
    assert r["bleu4"] == pytest.approx(nltk_bleu, abs=1e-12) and 0 < r["bleu4"] < 1
    assert r["self_bleu4"] == pytest.approx(nltk_self, abs=1e-12)
    assert r["n_hypotheses"] == 6 and r["n_references"] == 3
