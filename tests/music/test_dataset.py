import json
import re
from pathlib import Path

import pytest
import torch

from seqgan.data.corpus import CorpusError
from seqgan.music.dataset import (extract_midi_windows, is_test_piece, load_music_corpus, random_transpose,
                                  satb_windows, transpose, transpose_bounds)
from seqgan.music.melody import FIRST_PITCH_CLASS, NUM_CLASSES, pitch_to_class

from .helpers import scale_notes, write_midi

TPB = 480


def test_metres_kept_regridded_and_skipped(tmp_path):
    write_midi(tmp_path / "a44.mid", scale_notes(4))                                      # 4 bars of 4/4
    write_midi(tmp_path / "b24.mid", scale_notes(3), time_signatures=((0, 2, 4),))        # 6 bars of 2/4
    eighth = TPB // 2
    jig = [(62 + (i % 5), i * eighth, (i + 1) * eighth) for i in range(6 * 8)]            # 8 bars of 6/8
    write_midi(tmp_path / "c68.mid", jig, time_signatures=((0, 6, 8),))
    # 4 bars of 4/4, then 4 bars of 6/8 (at tick 4 * 4 * TPB): only the 4/4 part is used
    mixed = scale_notes(4) + [(70, 16 * TPB + i * eighth, 16 * TPB + (i + 1) * eighth) for i in range(24)]
    write_midi(tmp_path / "d_mixed.mid", mixed, time_signatures=((0, 4, 4), (16 * TPB, 6, 8)))
    corpus = extract_midi_windows(sorted(tmp_path.glob("*.mid")), 2)
    s = corpus.stats
    assert s["files"] == 4 and s["files_used"] == 3 and s["skipped"]["unsupported_metre"] == 1
    assert s["skipped_by_metre"] == {"6/8": 1} and s["files_by_metre"] == {"4/4": 1, "2/4": 1, "6/8": 1, "mixed": 1}
    assert s["bars_kept_by_metre"] == {"4/4": 8, "2/4": 6} and s["bars_skipped_by_metre"] == {"6/8": 12}
    assert s["partially_kept"] == 1
    sources = sorted(corpus.train_sources + corpus.test_sources)
    # 4/4: windows at bars 0, 1, 2 (hop 16 steps); 2/4: 8-step hop over 48 steps -> starts 0, 8, 16
    assert sources == [("a44.mid", 0), ("a44.mid", 16), ("a44.mid", 32), ("b24.mid", 0), ("b24.mid", 8),
                       ("b24.mid", 16), ("d_mixed.mid", 0), ("d_mixed.mid", 16),
                       ("d_mixed.mid", 32)]
    rows = torch.cat([corpus.train, corpus.test])
    assert rows.dtype == torch.int64 and rows.shape == (9, 32)
    # the 2/4 file is the same scale as two bars of 4/4: identical first window
    a = dict(zip(corpus.train_sources + corpus.test_sources, rows.tolist()))
    assert a[("b24.mid", 0)] == a[("a44.mid", 0)] and a[("a44.mid", 0)][:2] == [pitch_to_class(60), 1]


def test_bad_files_are_skipped_and_counted(tmp_path):
    write_midi(tmp_path / "good.mid", scale_notes(4))
    (tmp_path / "empty.mid").write_bytes(b"")
    (tmp_path / "garbage.mid").write_bytes(b"\x00\x01 not a midi file")
    (tmp_path / "truncated.mid").write_bytes((tmp_path / "good.mid").read_bytes()[:40])
    write_midi(tmp_path / "drums.mid", [(36, i * TPB, i * TPB + 100, 9) for i in range(16)])
    write_midi(tmp_path / "silent.mid", [])
    write_midi(tmp_path / "fast.mid", scale_notes(4), tempos=((0, 30_000),))           # 2000 bpm
    write_midi(tmp_path / "zero_tempo.mid", scale_notes(4), tempos=((0, 0),))          # infinitely fast
    write_midi(tmp_path / "short.mid", scale_notes(1))                                  # 1 bar < a 2-bar window
    write_midi(tmp_path / "rests.mid", [(60, 0, 120), (62, 7 * TPB, 8 * TPB)])         # 2 bars, mostly rest
    corpus = extract_midi_windows(sorted(tmp_path.glob("*.mid")), 2, progress=False)
    s = corpus.stats
    assert s["skipped"] == {"corrupt": 3, "empty": 1, "drums_only": 1, "absurd_tempo": 2, "unsupported_metre": 0}
    assert s["no_windows"] == 2 and s["files"] == 10 and s["files_used"] == 1
    assert s["windows"]["dropped_mostly_rest"] == 1
    assert len(corpus.train) + len(corpus.test) == 3
    ex = s["skipped_examples"]
    assert any(e.startswith("empty.mid: the file is empty") for e in ex["corrupt"])
    assert any(e.startswith("truncated.mid:") and "truncated" in e for e in ex["corrupt"])
    assert any("2000 bpm" in e for e in ex["absurd_tempo"]) and any("inf bpm" in e for e in ex["absurd_tempo"])
    assert ex["drums_only"] == ["drums.mid: all 16 notes are on the drum channel (10)"]


def test_unusable_corpus_raises_one_clear_error(tmp_path, monkeypatch):
    (tmp_path / "x.mid").write_bytes(b"junk")
    with pytest.raises(CorpusError, match=re.escape(f"{tmp_path}: no usable 2-bar window in 1 pieces "
                                                    "(skipped: corrupt 1")):
        load_music_corpus(str(tmp_path), 2, progress=False)
    empty = tmp_path / "none"
    empty.mkdir()
    with pytest.raises(CorpusError, match="no MIDI files"):
        load_music_corpus(str(empty))
    monkeypatch.setenv("SEQGAN_DATA", str(empty))
    with pytest.raises(CorpusError) as e:
        load_music_corpus("nottingham")
    assert str(empty / "nottingham") in str(e.value) and "SEQGAN_DATA" in str(e.value)
    (empty / "nottingham").mkdir()
    with pytest.raises(CorpusError, match=re.escape(f"no files match {empty / 'nottingham' / 'MIDI/melody/*.mid'}")):
        load_music_corpus("nottingham")
    monkeypatch.delenv("SEQGAN_DATA")
    with pytest.raises(CorpusError, match=re.escape("$SEQGAN_DATA is not set")):
        load_music_corpus("jsb_chorales")
    with pytest.raises(CorpusError, match="unknown music corpus 'ptb'"):
        load_music_corpus("ptb")
    with pytest.raises(ValueError, match="bars"):
        load_music_corpus("nottingham", bars=0)


def test_split_is_fixed_and_about_ten_percent():
    names = [f"tune{i}.mid" for i in range(2000)]
    test = [n for n in names if is_test_piece(n)]
    assert 150 < len(test) < 250
    assert is_test_piece("tune0.mid") == is_test_piece("tune0.mid")
    # pinned values: the split must never change between versions
    assert [is_test_piece(n) for n in ("ashover1.mid", "jigs1.mid", "reelsa-c1.mid")] == [False, False, False]
    assert sum(is_test_piece(f"jigs{i}.mid") for i in range(1, 341)) == 31


def test_transposition_stays_in_range():
    low_row = [pitch_to_class(21), 1, pitch_to_class(30), 0]
    high_row = [pitch_to_class(100), 1, pitch_to_class(108), 1]
    rest_row = [1, 1, 0, 1]
    x = torch.tensor([low_row, high_row, rest_row])
    low, high = transpose_bounds(x)
    assert low.tolist() == [0, -79, -87] and high.tolist() == [78, 0, 87]
    assert transpose(x[:1], 5)[0].tolist() == [pitch_to_class(26), 1, pitch_to_class(35), 0]
    with pytest.raises(ValueError, match="1 of 3 windows"):
        transpose(x, 3)
    g = torch.Generator().manual_seed(0)
    big = x.repeat(200, 1)
    y, k = random_transpose(big, 6, generator=g)
    assert y.shape == big.shape and y.dtype == torch.int64
    assert (y[big >= FIRST_PITCH_CLASS] >= FIRST_PITCH_CLASS).all() and (y < NUM_CLASSES).all()
    assert ((big < FIRST_PITCH_CLASS) == (y < FIRST_PITCH_CLASS)).all()   # note-offs and no-events stay
    assert set(k[0::3].tolist()) == set(range(0, 7)) and set(k[1::3].tolist()) == set(range(-6, 1))
    assert set(k[2::3].tolist()) == set(range(-6, 7))
    y2, k2 = random_transpose(big, 6, generator=torch.Generator().manual_seed(0))
    assert torch.equal(y, y2) and torch.equal(k, k2)


def test_satb_soprano_windows_and_format_errors(tmp_path):
    chorale = [[72, 67, 64, 48]] * 8 + [[74, 76, 62, 50]] * 8 + [[-1, -1, -1, -1]] * 4 + [[71, 67, 62, 43]] * 12
    data = {"train": [chorale], "valid": [chorale], "test": [chorale[:16]]}
    c = satb_windows(data, 1)
    assert c.train.shape == (4, 16) and c.test.shape == (1, 16)
    first = c.train[0].tolist()
    assert first[0] == pitch_to_class(72) and first[8] == pitch_to_class(74) and first[1:8] == [1] * 7
    # the second window starts in the rest: the note-off that ends the previous window's note is not repeated
    assert c.train[1].tolist()[:6] == [1, 1, 1, 1, pitch_to_class(71), 1]
    assert c.stats["voice_crossing_steps"] == 8 * 3  # alto 76 above soprano 74 (train, valid, test)
    hi = satb_windows(data, 1, voice="highest")
    assert hi.train[0].tolist()[8] == pitch_to_class(76)
    with pytest.raises(CorpusError, match="test chorale 0, step 0"):
        satb_windows({"train": [], "test": [[[60.5, 1, 2, 3]]]}, 1, path="x.json")


def test_real_nottingham_windows(data_dir):
    folder = data_dir / "nottingham"
    if not folder.is_dir():
        pytest.skip(f"{folder} not found")
    for bars in (2, 16):
        corpus = load_music_corpus("nottingham", bars, data_dir, max_files=12, progress=False)
        steps = 16 * bars
        for rows in (corpus.train, corpus.test):
            assert rows.dtype == torch.int64 and rows.ndim == 2 and rows.shape[1] == steps
            assert rows.numel() == 0 or (int(rows.min()) >= 0 and int(rows.max()) < NUM_CLASSES)
        assert len(corpus.train) > 0 and len(corpus.train_sources) == len(corpus.train)
        # a window never starts with a note-off (it would end nothing)
        assert all(r[0] != 0 for r in corpus.train.tolist())
        s = corpus.stats
        assert s["files"] == 12 and sum(s["files_by_metre"].values()) == 12
        # the first ashover tunes include 3/4, 6/8 and mixed-metre files: skipped and counted
        assert s["skipped"]["unsupported_metre"] > 0 and s["files_used"] + s["no_windows"] + sum(
            s["skipped"].values()) == 12
        assert s["listing"]["files"] == 1034 and s["listing"]["matches"] is False    # only 12 were read
    again = load_music_corpus("nottingham", 16, data_dir, max_files=12, progress=False)
    assert torch.equal(again.train, corpus.train) and again.train_sources == corpus.train_sources


def test_real_jsb_windows(data_dir):
    path = data_dir / "jsb-chorales" / "Jsb16thSeparated.json"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    corpus = load_music_corpus("jsb_chorales", 2, data_dir, max_files=3, progress=False)
    assert corpus.train.shape[1] == 32 and len(corpus.test) > 0 and int(corpus.train.max()) < NUM_CLASSES
    assert corpus.stats["pieces"] == {"train": 6, "test": 3}


def test_manifests_are_registered():
    from seqgan.data import registry

    for name, folder in (("nottingham", "nottingham"), ("jsb_chorales", "jsb-chorales")):
        m = registry.get_manifest(name)
        assert m.kind == "music" and m.folder == folder and m.music["format"] in ("midi", "satb-json")
        raw = json.loads(Path(m.manifest_path).read_text())
        assert raw["source"].startswith("https://github.com/")


def test_registry_validates_the_music_block(tmp_path):
    from seqgan.data import registry

    good = json.loads((registry.MANIFEST_DIR / "nottingham.json").read_text(encoding="utf-8"))
    path = tmp_path / "m.json"
    assert registry.parse_manifest(good, path).music["pattern"] == "MIDI/melody/*.mid"
    with pytest.raises(CorpusError, match=re.escape(f"corpus manifest {path}: missing fields: music")):
        registry.parse_manifest({k: v for k, v in good.items() if k != "music"}, path)
    with pytest.raises(CorpusError, match="'format' is one of midi, satb-json"):
        registry.parse_manifest({**good, "music": {"format": "abc"}}, path)
