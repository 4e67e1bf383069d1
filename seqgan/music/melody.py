"""The MusicVAE melody encoding (Roberts et al., "A Hierarchical Latent Vector Model for Learning Long-Term Structure
in Music", ICML 2018), written from the paper's description.

Grid
    4 steps per quarter note (sixteenth notes), so 16 steps per 4/4 bar. Positions are quantised from MIDI ticks
    and ``ticks_per_beat`` (the beat grid), never from seconds, so tempo changes do not move notes off the grid:
    ``step = round(tick * 4 / ticks_per_beat)``, halves rounded up. A note's end is rounded the same way; a note
    that would be shorter than one step is made one step long.

Classes (90)
    0 = note-off, 1 = no-event (hold the sounding note, or stay silent), 2..89 = note-on of MIDI pitch 21..108
    (``class = pitch - 19``).

Monophonic reduction
    At every step the highest sounding note is the melody. Ties between notes of that pitch go to a note starting
    at that step (a re-attack), else to the one that started last. A note-on is emitted when the melody note
    changes, except that a different note of the same pitch that did not start at this step simply continues the
    held pitch; a note that becomes the highest only because a higher note ended (it was covered) is re-attacked
    at that step. Where nothing sounds, a note-off follows the last note and no-events follow a note-off. Notes of
    the same onset step: the highest one wins, the others are lost (counted by ``quantize_notes`` callers as
    collisions if they wish).

Pitches outside 21..108
    ``fold_pitch`` transposes them by whole octaves into range (the pitch class is kept; the melody's contour is
    bent at that note). ``quantize_notes(out_of_range="drop")`` drops them instead. The default is to transpose,
    because a melody that loses notes changes its rhythm as well.

Round trip
    ``decode(encode(notes)) == monophonic(notes)`` for step notes; ``encode(decode(events)) == canonical(events)``,
    where ``canonical`` removes note-offs that end nothing (a note-off at the start or after another note-off means
    the same as no-event).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence

STEPS_PER_QUARTER = 4
STEPS_PER_BAR = 16
NOTE_OFF = 0
NO_EVENT = 1
MIN_PITCH = 21
MAX_PITCH = 108
FIRST_PITCH_CLASS = 2
NUM_CLASSES = FIRST_PITCH_CLASS + MAX_PITCH - MIN_PITCH + 1   # 90


@dataclass(frozen=True, order=True)
class StepNote:
    """A note on the step grid: sounds on steps start .. end - 1."""
    start: int
    end: int
    pitch: int

    @property
    def start_beat(self) -> float:
        return self.start / STEPS_PER_QUARTER

    @property
    def end_beat(self) -> float:
        return self.end / STEPS_PER_QUARTER


def pitch_to_class(pitch: int) -> int:
    if not MIN_PITCH <= pitch <= MAX_PITCH:
        raise ValueError(f"pitch {pitch} is outside the melody range {MIN_PITCH}..{MAX_PITCH}")
    return pitch - MIN_PITCH + FIRST_PITCH_CLASS


def class_to_pitch(cls: int) -> int:
    if not FIRST_PITCH_CLASS <= cls < NUM_CLASSES:
        raise ValueError(f"class {cls} is not a note-on (note-ons are {FIRST_PITCH_CLASS}..{NUM_CLASSES - 1})")
    return cls - FIRST_PITCH_CLASS + MIN_PITCH


def fold_pitch(pitch: int) -> int:
    """Transpose a pitch by whole octaves into MIN_PITCH..MAX_PITCH (unchanged when already inside)."""
    while pitch < MIN_PITCH:
        pitch += 12
    while pitch > MAX_PITCH:
        pitch -= 12
    return pitch


def quantize_tick(tick: int, ticks_per_beat: int, steps_per_quarter: int = STEPS_PER_QUARTER) -> int:
    """The nearest step to ``tick`` (halves rounded up), in exact integer arithmetic."""
    if ticks_per_beat <= 0:
        raise ValueError(f"ticks_per_beat must be positive, got {ticks_per_beat}")
    return (2 * tick * steps_per_quarter + ticks_per_beat) // (2 * ticks_per_beat)


def quantize_notes(notes: Iterable, ticks_per_beat: int, *, steps_per_quarter: int = STEPS_PER_QUARTER,
                   out_of_range: str = "transpose", counts: dict | None = None) -> list[StepNote]:
    """MIDI notes (objects with ``pitch``, ``start_tick``, ``end_tick``; e.g. ``midi.Note``) -> sorted StepNotes.

    ``out_of_range``: "transpose" (by octaves, ``fold_pitch``) or "drop". When ``counts`` is a dict, it gets
    ``notes``, ``transposed``, ``dropped`` and ``off_grid`` (onsets more than 1/100 step away from a step) added.
    """
    if out_of_range not in ("transpose", "drop"):
        raise ValueError(f"out_of_range must be 'transpose' or 'drop', got {out_of_range!r}")
    out = []
    n_transposed = n_dropped = n_off = 0
    for n in notes:
        pitch = n.pitch
        if not MIN_PITCH <= pitch <= MAX_PITCH:
            if out_of_range == "drop":
                n_dropped += 1
                continue
            pitch = fold_pitch(pitch)
            n_transposed += 1
        start = quantize_tick(n.start_tick, ticks_per_beat, steps_per_quarter)
        end = max(quantize_tick(n.end_tick, ticks_per_beat, steps_per_quarter), start + 1)
        exact = n.start_tick * steps_per_quarter / ticks_per_beat
        if abs(exact - round(exact)) > 0.01:
            n_off += 1
        out.append(StepNote(start, end, pitch))
    out.sort()
    if counts is not None:
        for k, v in (("notes", len(out)), ("transposed", n_transposed), ("dropped", n_dropped),
                     ("off_grid", n_off)):
            counts[k] = counts.get(k, 0) + v
    return out


def melody_steps(notes: Sequence[StepNote], num_steps: int | None = None) -> tuple[list[int], list[int]]:
    """The monophonic reduction: (events, sounding pitch per step or -1), ``num_steps`` long.

    ``num_steps`` defaults to the last note's end. Notes are clipped to 0 .. num_steps.
    """
    if num_steps is None:
        num_steps = max((n.end for n in notes), default=0)
    best: list[int] = [-1] * num_steps
    for i, n in enumerate(notes):
        if not MIN_PITCH <= n.pitch <= MAX_PITCH:
            raise ValueError(f"pitch {n.pitch} is outside {MIN_PITCH}..{MAX_PITCH}; quantize_notes folds or drops "
                             "such notes")
        for s in range(max(n.start, 0), min(n.end, num_steps)):
            b = best[s]
            if b < 0:
                best[s] = i
                continue
            o = notes[b]
            if n.pitch != o.pitch:
                if n.pitch > o.pitch:
                    best[s] = i
            else:
                n_on, o_on = n.start == s, o.start == s
                if (n_on and not o_on) or (n_on == o_on and n.start >= o.start):
                    best[s] = i
    events: list[int] = []
    pitches: list[int] = []
    prev = -1
    for s in range(num_steps):
        cur = best[s]
        if cur < 0:
            events.append(NOTE_OFF if prev >= 0 else NO_EVENT)
            pitches.append(-1)
        else:
            n = notes[cur]
            held = prev >= 0 and (cur == prev or (n.pitch == notes[prev].pitch and n.start != s))
            events.append(NO_EVENT if held else pitch_to_class(n.pitch))
            pitches.append(n.pitch)
        prev = cur
    return events, pitches


def encode(notes: Sequence[StepNote], num_steps: int | None = None) -> list[int]:
    """Step notes -> event classes (see the module notes)."""
    return melody_steps(notes, num_steps)[0]


def _check(events: Sequence[int]) -> list[int]:
    out = [int(e) for e in events]
    bad = [e for e in out if not 0 <= e < NUM_CLASSES]
    if bad:
        raise ValueError(f"event classes must be in 0..{NUM_CLASSES - 1}; got {bad[0]}")
    return out


def decode(events: Sequence[int]) -> list[StepNote]:
    """Event classes -> step notes: a note-on starts a note that lasts until the next note-on or note-off (or the
    end). Accepts a list or a 1-D tensor."""
    if hasattr(events, "tolist"):
        events = events.tolist()
    out: list[StepNote] = []
    cur_pitch, cur_start = -1, 0
    ev = _check(events)
    for s, e in enumerate(ev):
        if e == NO_EVENT:
            continue
        if cur_pitch >= 0:
            out.append(StepNote(cur_start, s, cur_pitch))
            cur_pitch = -1
        if e != NOTE_OFF:
            cur_pitch, cur_start = class_to_pitch(e), s
    if cur_pitch >= 0:
        out.append(StepNote(cur_start, len(ev), cur_pitch))
    return out


def canonical(events: Sequence[int]) -> list[int]:
    """The same melody with note-offs that end nothing written as no-events."""
    if hasattr(events, "tolist"):
        events = events.tolist()
    out, sounding = [], False
    for e in _check(events):
        if e == NOTE_OFF:
            out.append(NOTE_OFF if sounding else NO_EVENT)
            sounding = False
        else:
            out.append(e)
            sounding = sounding or e != NO_EVENT
    return out


def window(events: Sequence[int], pitches: Sequence[int], start: int, length: int) -> list[int]:
    """``events[start:start + length]`` as a self-contained melody: a note already sounding at ``start`` is
    re-attacked there (note-on instead of no-event), and a note-off at ``start`` that ends nothing in the window
    becomes no-event."""
    out = list(events[start:start + length])
    if len(out) != length:
        raise ValueError(f"window {start}..{start + length} runs past the melody's {len(events)} steps")
    if out and out[0] == NO_EVENT and pitches[start] >= 0:
        out[0] = pitch_to_class(pitches[start])
    elif out and out[0] == NOTE_OFF:
        out[0] = NO_EVENT
    return out


def events_to_midi(path: str | Path, events: Sequence[int], *, bpm: float = 120.0, velocity: int = 80,
                   program: int = 0, ticks_per_beat: int = 480) -> Path:
    """Write an event sequence as a one-track 4/4 MIDI file (atomically); returns the path."""
    from seqgan.music.midi import write_melody

    notes = [(n.pitch, n.start_beat, n.end_beat) for n in decode(events)]
    return write_melody(path, notes, bpm=bpm, velocity=velocity, program=program, ticks_per_beat=ticks_per_beat)
