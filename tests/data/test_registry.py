import json
import re

import pytest

from seqgan.data import registry
from seqgan.data.corpus import CorpusError
from seqgan.data.registry import COMMON_FIELDS, MANIFEST_DIR, MISMATCH, MISSING, PRESENT, TEXT_FIELDS
from seqgan.data.text import load_text_corpus

TEXT_CORPORA = ("chinese_poems", "emnlp_news", "image_coco", "imdb40", "obama_speeches", "ptb", "texygen_poems")


def test_every_manifest_loads_with_all_fields():
    names = registry.list_corpora()
    assert set(names) == set(TEXT_CORPORA) | {"oracle", "nottingham", "jsb_chorales", "fsdd"} and names == sorted(names)
    for name in TEXT_CORPORA:
        m = registry.get_manifest(name)
        raw = json.loads((MANIFEST_DIR / f"{name}.json").read_text(encoding="utf-8"))
        assert raw["name"] == name == m.name and m.kind == "text"
        for f in COMMON_FIELDS + TEXT_FIELDS:
            assert f in raw, f"{name}: {f}"
        assert m.source.startswith("https://") and m.level in ("word", "char") and m.max_len > 0
        assert set(m.splits.values()) <= set(m.files)
        assert all(re.fullmatch(r"[0-9a-f]{64}", h) for h in m.files.values())
    assert registry.get_manifest("oracle").kind == "oracle"
    assert registry.get_manifest("nottingham").kind == registry.get_manifest("jsb_chorales").kind == "music"
    assert registry.get_manifest("fsdd").kind == "audio"
    assert registry.get_manifest("emnlp_news").train is None
    assert registry.get_manifest("ptb").valid == "ptb.valid.txt"
    assert registry.get_manifest("texygen_poems").split == {"test_last_fraction": 0.1}


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(CorpusError, match="unknown corpus 'coco'; known corpora: chinese_poems, emnlp_news, fsdd, "
                                          "image_coco, imdb40, jsb_chorales, nottingham, obama_speeches, oracle, "
                                          "ptb, texygen_poems"):
        registry.get_manifest("coco")
    assert issubclass(CorpusError, ValueError)


def test_locate_explains_a_missing_data_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("SEQGAN_DATA", str(tmp_path))
    with pytest.raises(CorpusError) as e:
        registry.locate("image_coco")
    msg = str(e.value)
    assert f"$SEQGAN_DATA={tmp_path}" in msg and str(tmp_path / "texygen-image-coco") in msg and "not found" in msg
    assert "set SEQGAN_DATA to the folder holding texygen-image-coco/" in msg and "--corpus path/to/train.txt" in msg
    monkeypatch.delenv("SEQGAN_DATA")
    with pytest.raises(CorpusError, match=re.escape("$SEQGAN_DATA is not set")):
        registry.locate("ptb")
    with pytest.raises(CorpusError, match="SEQGAN_DATA"):
        load_text_corpus("ptb")
    # check never raises for data problems
    statuses = registry.check("ptb")
    assert [s.status for s in statuses] == [MISSING] * 3 and "SEQGAN_DATA" in statuses[0].message


def test_check_reports_missing_and_mismatching_files(tmp_path):
    folder = tmp_path / "texygen-image-coco"
    folder.mkdir()
    (folder / "image_coco.txt").write_text("changed\n")
    by_file = {s.file: s for s in registry.check("image_coco", tmp_path)}
    assert by_file["image_coco.txt"].status == MISMATCH and not by_file["image_coco.txt"].ok
    assert by_file["image_coco.txt"].expected in by_file["image_coco.txt"].message
    assert by_file["test_coco.txt"].status == MISSING and by_file["test_coco.txt"].path == folder / "test_coco.txt"


def test_parse_manifest_names_the_file_and_the_problem(tmp_path):
    good = json.loads((MANIFEST_DIR / "image_coco.json").read_text(encoding="utf-8"))
    path = tmp_path / "x.json"
    with pytest.raises(CorpusError, match=re.escape(f"corpus manifest {path}: missing fields: citation")):
        registry.parse_manifest({k: v for k, v in good.items() if k != "citation"}, path)
    with pytest.raises(CorpusError, match="not listed in 'files'"):
        registry.parse_manifest({**good, "test": "other.txt"}, path)
    with pytest.raises(CorpusError, match="tokenizer for level char"):
        registry.parse_manifest({**good, "level": "char"}, path)
    audio = json.loads((MANIFEST_DIR / "fsdd.json").read_text(encoding="utf-8"))
    with pytest.raises(CorpusError, match="missing fields: audio"):
        registry.parse_manifest({k: v for k, v in audio.items() if k != "audio"}, path)
    with pytest.raises(CorpusError, match="'audio' must be an object whose 'format' is wav-folder"):
        registry.parse_manifest({**audio, "audio": {"format": "mp3"}}, path)
    (tmp_path / "a.json").write_text(json.dumps(good))
    (tmp_path / "b.json").write_text(json.dumps(good))
    with pytest.raises(CorpusError, match="also used by"):
        registry.load_manifests(tmp_path)


# --- real corpora ($SEQGAN_DATA) ------------------------------------------------------------------------------------

def test_checksums_match_the_real_files(data_dir):
    results = registry.check_all(data_dir)
    assert set(results) == set(registry.list_corpora())
    bad = [f"{s.corpus}/{s.file}: {s.message}" for statuses in results.values() for s in statuses if not s.ok]
    assert not bad, bad
    assert all(s.status == PRESENT for s in results["imdb40"])
    assert registry.locate("image_coco", data_dir) == data_dir / "texygen-image-coco"


@pytest.mark.parametrize("name", ["chinese_poems", "texygen_poems", "obama_speeches"])
def test_manifest_stats_match_what_the_loader_measures(data_dir, name):
    stats = registry.get_manifest(name).raw["stats"]
    c = load_text_corpus(name, root=data_dir)
    assert len(c.vocab) == stats["vocab_size"]
    for split in ("train", "test"):
        assert c.stats[split]["lines"] == stats[split]["lines"]
        assert c.stats[split]["max_tokens"] == stats[split]["max_tokens"] <= c.max_len
        assert c.stats[split]["truncated"] == 0


def test_listing_sha256_equals_sha256sum_of_sha256sum(tmp_path):
    import hashlib
    from seqgan.data.registry import listing_sha256
    (tmp_path / "rec").mkdir()
    (tmp_path / "rec" / "b.wav").write_bytes(b"bee")
    (tmp_path / "rec" / "B.wav").write_bytes(b"BEE")     # LC_ALL=C order: upper case first
    (tmp_path / "rec" / "a.txt").write_bytes(b"not matched")
    h = {n: hashlib.sha256(b).hexdigest() for n, b in [("B.wav", b"BEE"), ("b.wav", b"bee")]}
    expected = hashlib.sha256(f"{h['B.wav']}  rec/B.wav\n{h['b.wav']}  rec/b.wav\n".encode()).hexdigest()
    assert listing_sha256(tmp_path, "rec/*.wav") == expected
    (tmp_path / "rec" / "b.wav").write_bytes(b"bee!")
    assert listing_sha256(tmp_path, "rec/*.wav") != expected


def test_check_covers_the_whole_folder_of_an_audio_corpus(tmp_path):
    rec = tmp_path / "fsdd" / "recordings"
    rec.mkdir(parents=True)
    listing = "recordings/*.wav (all files)"
    assert {s.file: s.status for s in registry.check("fsdd", tmp_path)}[listing] == MISSING   # folder, no files
    (rec / "0_x_0.wav").write_bytes(b"not the published recordings")
    status = {s.file: s for s in registry.check("fsdd", tmp_path)}[listing]
    assert status.status == MISMATCH and status.actual == registry.listing_sha256(tmp_path / "fsdd", "recordings/*.wav")
    assert "1 files" in status.message and "files added, removed or changed" in status.message
    assert not any(s.file.endswith("(all files)") for s in registry.check("image_coco", tmp_path))  # text: no listing
