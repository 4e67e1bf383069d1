"""MIDI in and out with ``mido``: a file becomes a list of notes plus its tempo and time-signature maps.

Reading (``read_midi``)
    All tracks are merged on absolute ticks (type 0 and 1 files; a type 2 file's tracks are read the same way, each
    from tick 0). A ``note_on`` with velocity 0 is a note-off. Note-offs close the oldest open note of the same
    (track, channel, pitch) (first in, first out); notes still open at the end of their track are closed there.
    Each note carries its pitch, velocity, channel (0-based: MIDI channel 10 is ``channel == 9``, ``is_drum``),
    the program in force on its channel when it started, its track, and its start and end in ticks, in beats
    (quarter notes: ``tick / ticks_per_beat``) and in seconds (through the tempo map; 120 bpm until the first
    ``set_tempo``, as the MIDI standard says). Tempo and time-signature events are listed in time order; when
    several fall on the same tick the last one wins. A file with no time signature has none listed: the MIDI
    default (4/4) is the caller's to assume.

    Any reading problem (empty, truncated or corrupt file, not a MIDI file, SMPTE time division, unreadable path)
    raises ``MidiReadError``, whose message names the file. Nothing is judged here (tempo ranges, drums-only
    files, metres): ``seqgan.music.dataset`` decides what to keep.

Writing (``write_melody``)
    A type-0 file with one tempo, one time signature, one program and the given notes (times in beats), written
    atomically (temporary file next to the target, fsync, ``os.replace``), so a failure never leaves half a file.
"""
from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from seqgan.atomic import atomic_write

DEFAULT_TEMPO = 500_000          # microseconds per quarter note: 120 bpm, the MIDI default
DRUM_CHANNEL = 9                 # channel 10 in 1-based numbering


class MidiReadError(ValueError):
    """A MIDI file that cannot be read; the message names the file and the problem."""

    def __init__(self, path: str | Path, reason: str):
        self.path = Path(path) if not isinstance(path, Path) else path
        self.reason = reason
        super().__init__(f"{path}: cannot read as MIDI: {reason}")


@dataclass(frozen=True)
class Note:
    pitch: int
    velocity: int
    start_tick: int
    end_tick: int
    start_beat: float        # quarter notes from the start of the file
    end_beat: float
    start: float             # seconds
    end: float
    channel: int             # 0..15; 9 is the General MIDI drum channel
    program: int             # program in force on the channel at the note's start (0 when none was set)
    track: int
    is_drum: bool


@dataclass(frozen=True)
class TempoEvent:
    tick: int
    beat: float
    time: float                      # seconds
    microseconds_per_beat: int

    @property
    def bpm(self) -> float:
        """Quarter notes per minute; infinite for a tempo of 0 microseconds per beat."""
        return math.inf if self.microseconds_per_beat <= 0 else 60e6 / self.microseconds_per_beat


@dataclass(frozen=True)
class TimeSignature:
    tick: int
    beat: float
    time: float
    numerator: int
    denominator: int

    @property
    def name(self) -> str:
        return f"{self.numerator}/{self.denominator}"

    @property
    def quarters_per_bar(self) -> float:
        return self.numerator * 4 / self.denominator


@dataclass
class MidiData:
    path: Path | None
    ticks_per_beat: int
    midi_type: int
    notes: list[Note]                               # sorted by (start_tick, pitch)
    tempos: list[TempoEvent] = field(default_factory=list)
    time_signatures: list[TimeSignature] = field(default_factory=list)
    end_tick: int = 0                               # the longest track's length in ticks

    @property
    def end_beat(self) -> float:
        return self.end_tick / self.ticks_per_beat


class _TempoMap:
    """Ticks -> seconds through piecewise-constant tempo."""

    def __init__(self, changes: list[tuple[int, int]], ticks_per_beat: int):
        self.tpb = ticks_per_beat
        self.ticks = [0]
        self.tempo = [DEFAULT_TEMPO]
        self.seconds = [0.0]
        for tick, tempo in changes:
            if tick == self.ticks[-1]:
                self.tempo[-1] = tempo
                continue
            self.seconds.append(self.seconds[-1] + (tick - self.ticks[-1]) * self.tempo[-1] / (1e6 * self.tpb))
            self.ticks.append(tick)
            self.tempo.append(tempo)

    def time(self, tick: int) -> float:
        # binary search for the last change at or before tick
        lo, hi = 0, len(self.ticks) - 1
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.ticks[mid] <= tick:
                lo = mid
            else:
                hi = mid - 1
        return self.seconds[lo] + (tick - self.ticks[lo]) * self.tempo[lo] / (1e6 * self.tpb)


def read_midi(path: str | Path) -> MidiData:
    """Read a MIDI file (see the module notes); raises MidiReadError naming the file on any problem."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise MidiReadError(path, e.strerror or str(e)) from None
    return read_midi_bytes(data, path)


def read_midi_bytes(data: bytes, path: str | Path | None = None) -> MidiData:
    """``read_midi`` on bytes already in memory; ``path`` only names the file in messages and in the result."""
    import mido

    where = path if path is not None else "<bytes>"
    if not data:
        raise MidiReadError(where, "the file is empty (0 bytes)")
    try:
        mid = mido.MidiFile(file=io.BytesIO(data))
    except EOFError:
        raise MidiReadError(where, "the file is truncated (it ends inside a chunk or event)") from None
    except Exception as e:  # mido raises OSError, ValueError, KeyError, IndexError, ... on bad bytes
        raise MidiReadError(where, f"{type(e).__name__}: {e}" if str(e) else type(e).__name__) from None
    tpb = mid.ticks_per_beat
    if not isinstance(tpb, int) or tpb <= 0 or tpb >= 0x8000:
        raise MidiReadError(where, f"unsupported time division {tpb!r} (SMPTE or zero); only ticks per beat "
                                   "are supported")
    try:
        return _parse(mid, tpb, Path(path) if path is not None else None)
    except MidiReadError:
        raise
    except Exception as e:  # pragma: no cover - defensive: mido produced something unexpected
        raise MidiReadError(where, f"{type(e).__name__}: {e}") from None


def _parse(mid, tpb: int, path: Path | None) -> MidiData:
    events = []          # (tick, track, order, message)
    track_end: dict[int, int] = {}
    for ti, track in enumerate(mid.tracks):
        tick = 0
        for order, msg in enumerate(track):
            tick += msg.time
            events.append((tick, ti, order, msg))
        track_end[ti] = tick
    end_tick = max(track_end.values(), default=0)
    events.sort(key=lambda e: (e[0], e[1], e[2]))

    tempo_changes = [(t, m.tempo) for t, _, _, m in events if m.type == "set_tempo"]
    tmap = _TempoMap(tempo_changes, tpb)
    tempos: list[TempoEvent] = []
    for tick, tempo in tempo_changes:
        ev = TempoEvent(tick, tick / tpb, tmap.time(tick), tempo)
        if tempos and tempos[-1].tick == tick:
            tempos[-1] = ev
        else:
            tempos.append(ev)
    sigs: list[TimeSignature] = []
    for tick, _, _, m in events:
        if m.type == "time_signature":
            ts = TimeSignature(tick, tick / tpb, tmap.time(tick), m.numerator, m.denominator)
            if sigs and sigs[-1].tick == tick:
                sigs[-1] = ts
            else:
                sigs.append(ts)

    programs = [0] * 16
    open_notes: dict[tuple[int, int, int], list[tuple[int, int, int]]] = {}  # key -> [(start tick, vel, program)]
    raw: list[tuple[int, int, int, int, int, int, int]] = []  # pitch, vel, start, end, channel, program, track

    for tick, ti, _, m in events:
        kind = m.type
        if kind == "program_change":
            programs[m.channel] = m.program
        elif kind == "note_on" and m.velocity > 0:
            open_notes.setdefault((ti, m.channel, m.note), []).append((tick, m.velocity, programs[m.channel]))
        elif kind == "note_off" or kind == "note_on":
            stack = open_notes.get((ti, m.channel, m.note))
            if stack:
                start, vel, prog = stack.pop(0)
                raw.append((m.note, vel, start, tick, m.channel, prog, ti))
    for (ti, channel, pitch), stack in open_notes.items():
        for start, vel, prog in stack:
            raw.append((pitch, vel, start, max(start, track_end[ti]), channel, prog, ti))

    raw.sort(key=lambda r: (r[2], r[0], r[3]))
    notes = [Note(pitch=p, velocity=v, start_tick=s, end_tick=e, start_beat=s / tpb, end_beat=e / tpb,
                  start=tmap.time(s), end=tmap.time(e), channel=c, program=prog, track=ti,
                  is_drum=(c == DRUM_CHANNEL))
             for p, v, s, e, c, prog, ti in raw]
    return MidiData(path=path, ticks_per_beat=tpb, midi_type=mid.type, notes=notes, tempos=tempos,
                    time_signatures=sigs, end_tick=end_tick)


def write_melody(path: str | Path, notes: Iterable, *, bpm: float = 120.0, ticks_per_beat: int = 480,
                 time_signature: tuple[int, int] = (4, 4), program: int = 0, velocity: int = 80,
                 channel: int = 0) -> Path:
    """Write notes to a type-0 MIDI file, atomically; returns the path.

    ``notes``: ``(pitch, start_beat, end_beat)`` or ``(pitch, start_beat, end_beat, velocity)`` tuples, or objects
    with ``pitch``, ``start_beat`` and ``end_beat`` (and optionally ``velocity``) attributes; beats are quarter
    notes. Times are rounded to the nearest tick; a note shorter than one tick is written one tick long. At equal
    ticks note-offs come before note-ons, so a repeated pitch re-sounds.
    """
    import mido

    if not (isinstance(bpm, (int, float)) and math.isfinite(bpm) and bpm > 0):
        raise ValueError(f"tempo must be a positive number of beats per minute, got {bpm!r}")
    if not (isinstance(ticks_per_beat, int) and 0 < ticks_per_beat < 0x8000):
        raise ValueError(f"ticks_per_beat must be an integer in 1..32767, got {ticks_per_beat!r}")
    timeline: list[tuple[int, int, mido.Message]] = []   # (tick, 0 = off / 1 = on, message)
    for n in notes:
        if isinstance(n, tuple):
            pitch, start, end, *rest = n
            vel = rest[0] if rest else velocity
        else:
            pitch, start, end = n.pitch, n.start_beat, n.end_beat
            vel = getattr(n, "velocity", velocity)
        if not 0 <= int(pitch) <= 127:
            raise ValueError(f"MIDI pitch must be in 0..127, got {pitch!r}")
        if start < 0 or end < start:
            raise ValueError(f"note {pitch} has start {start} and end {end} (beats): need 0 <= start <= end")
        s = round(start * ticks_per_beat)
        e = max(round(end * ticks_per_beat), s + 1)
        vel = min(127, max(1, int(vel)))
        timeline.append((s, 1, mido.Message("note_on", channel=channel, note=int(pitch), velocity=vel)))
        timeline.append((e, 0, mido.Message("note_off", channel=channel, note=int(pitch), velocity=0)))
    timeline.sort(key=lambda x: (x[0], x[1]))
    track = mido.MidiTrack()
    track.append(mido.MetaMessage("set_tempo", tempo=max(1, min(0xFFFFFF, round(60e6 / bpm))), time=0))
    num, den = time_signature
    track.append(mido.MetaMessage("time_signature", numerator=num, denominator=den, time=0))
    track.append(mido.Message("program_change", channel=channel, program=program, time=0))
    last = 0
    for tick, _, msg in timeline:
        track.append(msg.copy(time=tick - last))
        last = tick
    track.append(mido.MetaMessage("end_of_track", time=0))
    mid = mido.MidiFile(type=0, ticks_per_beat=ticks_per_beat)
    mid.tracks.append(track)
    return atomic_write(path, lambda f: mid.save(file=f))
