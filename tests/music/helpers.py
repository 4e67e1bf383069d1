"""Small MIDI files written with mido for the music tests."""
from __future__ import annotations

from pathlib import Path

import mido


def write_midi(path: Path, notes, *, tpb: int = 480, time_signatures=((0, 4, 4),), tempos=((0, 500_000),),
               channel: int = 0, midi_type: int = 1) -> Path:
    """notes: (pitch, start_tick, end_tick) or (pitch, start, end, channel); meta events in track 0 (type 1: notes
    in track 1)."""
    meta = [(t, 0, mido.MetaMessage("time_signature", numerator=n, denominator=d)) for t, n, d in time_signatures]
    meta += [(t, 0, mido.MetaMessage("set_tempo", tempo=tempo)) for t, tempo in tempos]
    body = []
    for note in notes:
        pitch, start, end, *ch = note
        c = ch[0] if ch else channel
        body.append((start, 1, mido.Message("note_on", note=pitch, velocity=90, channel=c)))
        body.append((end, 0, mido.Message("note_off", note=pitch, velocity=0, channel=c)))
    mid = mido.MidiFile(type=midi_type, ticks_per_beat=tpb)
    tracks = [meta, body] if midi_type == 1 else [meta + body]
    for events in tracks:
        track = mido.MidiTrack()
        last = 0
        for tick, _, msg in sorted(events, key=lambda e: (e[0], e[1])):
            track.append(msg.copy(time=tick - last))
            last = tick
        mid.tracks.append(track)
    mid.save(str(path))
    return path


def scale_notes(bars: int, tpb: int = 480, base: int = 60):
    """Eighth notes up and down a C major scale for ``bars`` 4/4 bars."""
    steps = [0, 2, 4, 5, 7, 9, 11, 12, 11, 9, 7, 5, 4, 2]
    eighth = tpb // 2
    return [(base + steps[i % len(steps)], i * eighth, (i + 1) * eighth) for i in range(bars * 8)]
