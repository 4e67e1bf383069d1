import pytest

from seqgan.music.melody import (NO_EVENT, NOTE_OFF, NUM_CLASSES, StepNote, canonical, class_to_pitch, decode,
                                 encode, fold_pitch, melody_steps, pitch_to_class, quantize_notes, quantize_tick,
                                 window)
from seqgan.music.midi import Note

ON = pitch_to_class


def midi_note(pitch, start_tick, end_tick):
    return Note(pitch, 90, start_tick, end_tick, 0.0, 0.0, 0.0, 0.0, 0, 0, 0, False)


def test_class_layout():
    assert NUM_CLASSES == 90 and NOTE_OFF == 0 and NO_EVENT == 1
    assert ON(21) == 2 and ON(108) == 89 and class_to_pitch(89) == 108
    with pytest.raises(ValueError):
        ON(20)
    with pytest.raises(ValueError):
        class_to_pitch(1)


def test_encode_notes_rests_and_note_off_placement():
    notes = [StepNote(0, 4, 60), StepNote(4, 6, 62), StepNote(8, 9, 64)]
    ev = encode(notes, 12)
    assert ev == [ON(60), 1, 1, 1, ON(62), 1, NOTE_OFF, 1, ON(64), NOTE_OFF, 1, 1]
    assert decode(ev) == notes
    # a repeated pitch is re-attacked, a note held to the end has no note-off
    ev = encode([StepNote(0, 2, 60), StepNote(2, 4, 60)], 4)
    assert ev == [ON(60), 1, ON(60), 1]
    assert decode(ev) == [StepNote(0, 2, 60), StepNote(2, 4, 60)]


def test_overlap_highest_note_wins():
    # a chord: only the top note; a lower note that outlasts the higher one is re-attacked when it surfaces
    notes = [StepNote(0, 8, 60), StepNote(0, 4, 67), StepNote(2, 3, 72)]
    ev, pitches = melody_steps(notes, 10)
    assert ev == [ON(67), 1, ON(72), ON(67), ON(60), 1, 1, 1, NOTE_OFF, 1]
    assert pitches == [67, 67, 72, 67, 60, 60, 60, 60, -1, -1]
    # a lower note starting under a held higher note is not heard until the higher one ends
    ev = encode([StepNote(0, 4, 70), StepNote(2, 6, 65)], 6)
    assert ev == [ON(70), 1, 1, 1, ON(65), 1]
    # same pitch, overlapping: the newer note's onset counts, then it simply continues
    ev = encode([StepNote(0, 6, 60), StepNote(3, 8, 60)], 8)
    assert ev == [ON(60), 1, 1, ON(60), 1, 1, 1, 1]


def test_round_trip_decode_encode_and_canonical():
    events = [NOTE_OFF, 1, ON(60), 1, NOTE_OFF, NOTE_OFF, ON(62), ON(62), 1, NOTE_OFF, 1, ON(108), ON(21)]
    assert canonical(events) == [1, 1, ON(60), 1, NOTE_OFF, 1, ON(62), ON(62), 1, NOTE_OFF, 1, ON(108), ON(21)]
    assert encode(decode(events), len(events)) == canonical(events)
    notes = [StepNote(0, 3, 55), StepNote(5, 6, 88), StepNote(6, 16, 21)]
    assert decode(encode(notes, 16)) == notes


def test_quantisation_from_ticks_not_seconds():
    tpb = 96  # 24 ticks per step
    assert [quantize_tick(t, tpb) for t in (0, 11, 12, 24, 35, 36, 96)] == [0, 0, 1, 1, 1, 2, 4]
    counts = {}
    notes = quantize_notes([midi_note(60, 0, 90), midi_note(62, 97, 100), midi_note(64, 32, 64)], tpb,
                           counts=counts)
    # 97 ticks -> step 4 (4.04), too short -> one step long; 32 ticks is a triplet position: off the grid
    assert notes == [StepNote(0, 4, 60), StepNote(1, 3, 64), StepNote(4, 5, 62)]
    assert counts == {"notes": 3, "transposed": 0, "dropped": 0, "off_grid": 2}


def test_out_of_range_pitches_fold_by_octaves_or_drop():
    assert fold_pitch(12) == 24 and fold_pitch(120) == 108 and fold_pitch(127) == 103 and fold_pitch(60) == 60
    counts = {}
    notes = quantize_notes([midi_note(10, 0, 96), midi_note(115, 96, 192)], 96, counts=counts)
    assert [n.pitch for n in notes] == [22, 103] and counts["transposed"] == 2
    notes = quantize_notes([midi_note(10, 0, 96), midi_note(60, 96, 192)], 96, out_of_range="drop")
    assert [n.pitch for n in notes] == [60]


def test_window_re_attacks_a_held_note():
    ev, pitches = melody_steps([StepNote(0, 6, 60), StepNote(6, 7, 62)], 10)
    assert window(ev, pitches, 2, 4) == [ON(60), 1, 1, 1]
    assert window(ev, pitches, 7, 3) == [1, 1, 1]        # the note-off at the start ends nothing in the window
    with pytest.raises(ValueError):
        window(ev, pitches, 8, 4)
