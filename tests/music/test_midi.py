import mido
import pytest

from seqgan.music.melody import decode, encode, events_to_midi, pitch_to_class, quantize_notes
from seqgan.music.midi import MidiReadError, read_midi, write_melody

from .helpers import write_midi


def test_write_then_read_round_trip(tmp_path):
    notes = [(60, 0.0, 1.0), (64, 1.0, 1.5), (67, 1.5, 3.0), (72, 3.25, 4.0)]
    path = write_melody(tmp_path / "out" / "m.mid", notes, bpm=90, time_signature=(4, 4), program=40)
    assert path.exists() and not list(path.parent.glob(".*.tmp"))
    midi = read_midi(path)
    assert [(n.pitch, n.start_beat, n.end_beat) for n in midi.notes] == notes
    assert all(n.program == 40 and n.channel == 0 and not n.is_drum for n in midi.notes)
    assert midi.tempos[0].bpm == pytest.approx(90.0)
    assert midi.notes[2].start == pytest.approx(1.5 * 60 / 90) and midi.notes[2].end == pytest.approx(2.0)
    assert [(ts.numerator, ts.denominator) for ts in midi.time_signatures] == [(4, 4)]


def test_events_to_midi_and_back(tmp_path):
    events = [pitch_to_class(60), 1, 1, 1, pitch_to_class(62), 1, 0, 1, pitch_to_class(67)] + [1] * 7
    path = events_to_midi(tmp_path / "e.mid", events, bpm=120)
    midi = read_midi(path)
    steps = quantize_notes(midi.notes, midi.ticks_per_beat)
    assert encode(steps, len(events)) == events and steps == decode(events)


def test_write_is_atomic_on_error(tmp_path):
    path = tmp_path / "keep.mid"
    path.write_bytes(b"old")
    with pytest.raises(ValueError):
        write_melody(path, [(60, 0.0, 1.0), (200, 1.0, 2.0)])
    with pytest.raises(ValueError):
        write_melody(path, [(60, 0.0, 1.0)], bpm=0)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["keep.mid"]


def test_tempo_map_drums_programs_and_type0(tmp_path):
    tpb = 480
    path = write_midi(tmp_path / "t.mid", [(60, 0, 480), (62, 960, 1440), (36, 0, 240, 9)], tpb=tpb,
                      tempos=((0, 500_000), (960, 1_000_000)), midi_type=0)
    midi = read_midi(path)
    assert midi.midi_type == 0 and [round(t.bpm) for t in midi.tempos] == [120, 60]
    by_pitch = {n.pitch: n for n in midi.notes}
    assert by_pitch[36].is_drum and by_pitch[36].channel == 9 and not by_pitch[60].is_drum
    assert by_pitch[62].start == pytest.approx(1.0) and by_pitch[62].end == pytest.approx(2.0)  # 1 beat at 60 bpm


def test_reading_errors_name_the_file(tmp_path):
    cases = {"empty.mid": b"", "text.mid": b"hello, this is not a MIDI file at all"}
    good = write_midi(tmp_path / "good.mid", [(60, 0, 480)])
    cases["truncated.mid"] = good.read_bytes()[:30]
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
        with pytest.raises(MidiReadError) as e:
            read_midi(tmp_path / name)
        assert str(tmp_path / name) in str(e.value) and isinstance(e.value, ValueError)
    with pytest.raises(MidiReadError, match="missing.mid"):
        read_midi(tmp_path / "missing.mid")


def test_unterminated_note_is_closed_at_track_end(tmp_path):
    mid = mido.MidiFile(ticks_per_beat=96)
    track = mido.MidiTrack([mido.Message("note_on", note=60, velocity=80, time=0),
                            mido.MetaMessage("end_of_track", time=192)])
    mid.tracks.append(track)
    mid.save(str(tmp_path / "open.mid"))
    (note,) = read_midi(tmp_path / "open.mid").notes
    assert (note.start_tick, note.end_tick) == (0, 192)
