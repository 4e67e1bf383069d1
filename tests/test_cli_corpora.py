"""`seqgan corpora list|info|check`: the registry from the command line (outputs, exit codes, --json)."""
import hashlib
import json
import shutil

import pytest

from seqgan.data import registry
from tests.test_cli import assert_user_error, run

SMALL = 20 * 1024 * 1024  # tests hash real files only below this size


def line_of(out, name):
    """The table row of corpus ``name`` in `seqgan corpora list` output."""
    rows = [line for line in out.splitlines() if line.split(" ", 1)[0] == name]
    assert len(rows) == 1, out
    return rows[0]


def coco_files(data_dir):
    m = registry.get_manifest("image_coco")
    folder = data_dir / m.folder
    paths = [folder / rel for rel in m.files]
    if not all(p.is_file() for p in paths):
        pytest.skip(f"image_coco is not in {data_dir}")
    if sum(p.stat().st_size for p in paths) > SMALL:
        pytest.skip("image_coco files are unexpectedly large")
    return m, folder


def test_list_is_the_default_and_marks_present_corpora(data_dir, capsys):
    code, out, err = run(capsys, "corpora")
    assert code == 0, err
    assert run(capsys, "corpora", "list")[1] == out
    assert f"$SEQGAN_DATA): {data_dir}" in out.splitlines()[0]
    for name, m in registry.load_manifests().items():
        row = line_of(out, name)
        exists = [(data_dir / m.folder / rel).is_file() for rel in m.files]
        if all(exists) or (m.kind == "oracle" and any(exists)):
            assert " present " in row, row
        elif not any(exists):
            assert " missing" in row, row
    assert "test only" in line_of(out, "emnlp_news")
    assert "text/word" in line_of(out, "image_coco") and "text/char" in line_of(out, "chinese_poems")
    assert "status:" in out  # the oracle's own line: published or seeded random oracle
    assert "(--corpus): jsb_chorales_melody, nottingham_melody, or melody:<folder" in out  # music as text rows


def test_list_does_not_hash(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEQGAN_DATA", str(tmp_path))
    folder = tmp_path / registry.get_manifest("image_coco").folder
    folder.mkdir()
    for rel in registry.get_manifest("image_coco").files:
        (folder / rel).write_text("not the real file\n")  # present, though its checksum is wrong
    (tmp_path / "ptb").mkdir()
    (tmp_path / "ptb" / "ptb.train.txt").write_text("x\n")

    def no_hashing(*_):
        raise AssertionError("list hashed a corpus file")
    monkeypatch.setattr(registry, "sha256_file", no_hashing)
    monkeypatch.setattr(registry, "check", no_hashing)
    code, out, err = run(capsys, "corpora", "list")
    assert code == 0, err
    assert " present " in line_of(out, "image_coco")
    assert "partial (1/3 files)" in line_of(out, "ptb")
    assert " missing " in line_of(out, "imdb40")
    assert "missing (optional)" in line_of(out, "oracle") and "seeded random oracle" in out


def test_list_without_a_data_directory(capsys, monkeypatch):
    monkeypatch.delenv("SEQGAN_DATA", raising=False)
    code, out, err = run(capsys, "corpora")
    assert code == 0, err
    assert "not set" in out.splitlines()[0] and "export SEQGAN_DATA=" in out.splitlines()[0]
    for name in registry.list_corpora():
        assert "no data directory" in line_of(out, name)
    assert "seeded random oracle" in out


def test_list_json(data_dir, capsys):
    code, out, err = run(capsys, "corpora", "list", "--json")
    assert code == 0, err
    report = json.loads(out)
    assert report["data_dir"] == str(data_dir) and report["data_env"] == "SEQGAN_DATA"
    by_name = {c["name"]: c for c in report["corpora"]}
    assert list(by_name) == registry.list_corpora()
    assert by_name["emnlp_news"]["test_only"] is True and by_name["image_coco"]["test_only"] is False
    assert set(by_name["image_coco"]["files"]) == set(registry.get_manifest("image_coco").files)
    assert "oracle" in by_name["oracle"]
    assert json.loads(run(capsys, "corpora", "--json")[1]) == report  # the option also before the sub-command


def test_info_shows_every_field(capsys):
    m = registry.get_manifest("image_coco")
    code, out, err = run(capsys, "corpora", "info", "image_coco")
    assert code == 0, err
    assert m.source in out and "https://github.com/geek-ai/Texygen" in out
    for rel, digest in m.files.items():
        assert any(rel in line and digest in line for line in out.splitlines()), (rel, out)
    for word in ("description:", "citation:", "license:", "level:", "word", "tokenizer:", "nltk", "lowercase:",
                 "max_len:", "37", "preprocessing:", "stats:", "vocab_size: 4663", "train: image_coco.txt",
                 "test: test_coco.txt", "texygen-image-coco", "location:"):
        assert word in out, word


def test_info_test_only_split_rule_and_oracle(capsys):
    code, out, err = run(capsys, "corpora", "info", "emnlp_news")
    assert code == 0 and "test only" in out and "test: test_emnlp.txt" in out
    code, out, err = run(capsys, "corpora", "info", "texygen_poems")
    assert code == 0 and "last 10%" in out
    code, out, err = run(capsys, "corpora", "info", "oracle")
    assert code == 0 and "target_params.npz" in out and "reference_numbers" in out and "status:" in out


@pytest.mark.parametrize("argv", [["info", "coco"], ["check", "image_coco", "coco"]])
def test_unknown_name_lists_the_known_ones(capsys, argv):
    code, out, err = run(capsys, "corpora", *argv)
    assert_user_error(code, err, "'coco'", *registry.list_corpora())
    assert out == ""


def test_check_passes_on_the_real_data(data_dir, capsys):
    m, _ = coco_files(data_dir)
    code, out, err = run(capsys, "corpora", "check", "image_coco")
    assert code == 0, out + err
    for rel in m.files:
        assert f"{rel}: ok" in out
    assert "0 missing, 0 checksum mismatch" in out


def test_check_reports_a_mismatch(data_dir, tmp_path, capsys, monkeypatch):
    m, real = coco_files(data_dir)
    fake = tmp_path / m.folder
    fake.mkdir()
    shutil.copy(real / m.test, fake / m.test)
    (fake / m.train).write_text("a caption that is not in the corpus\n")
    actual = hashlib.sha256((fake / m.train).read_bytes()).hexdigest()
    monkeypatch.setenv("SEQGAN_DATA", str(tmp_path))
    for argv in (["image_coco"], []):  # a mismatch fails whether or not the corpus is named
        code, out, err = run(capsys, "corpora", "check", *argv)
        assert code == 1, out + err
        assert "Traceback" not in err
        assert f"{m.train}: checksum mismatch" in out and str(fake / m.train) in out
        assert m.files[m.train] in out and actual in out
        assert f"{m.test}: ok" in out
    code, out, err = run(capsys, "corpora", "check", "image_coco", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["ok"] is False and report["corpora"]["image_coco"]["ok"] is False
    files = {f["file"]: f for f in report["corpora"]["image_coco"]["files"]}
    assert files[m.train]["status"] == "checksum mismatch" and files[m.train]["actual"] == actual
    assert files[m.train]["expected"] == m.files[m.train] and files[m.test]["ok"] is True


def test_check_missing_files(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("SEQGAN_DATA", str(tmp_path))
    code, out, err = run(capsys, "corpora", "check", "ptb")
    assert code == 1, out + err
    for rel in registry.get_manifest("ptb").files:
        assert f"{rel}: missing" in out and str(tmp_path / "ptb" / rel) in out
    # without names a missing corpus is reported but does not fail: a user may hold only some corpora
    code, out, err = run(capsys, "corpora", "check")
    assert code == 0, out + err
    assert "missing" in out and "0 checksum mismatch" in out
    assert all(f"{name} " in out for name in registry.list_corpora())
    code, out, err = run(capsys, "corpora", "check", "--json")
    report = json.loads(out)
    assert code == 0 and report["ok"] is True and report["named"] is False
    assert {f["status"] for c in report["corpora"].values() for f in c["files"]} == {"missing"}
    monkeypatch.delenv("SEQGAN_DATA")
    code, out, err = run(capsys, "corpora", "check", "image_coco")
    assert code == 1 and "missing" in out and "SEQGAN_DATA" in out


def test_check_help_explains_the_exit_status(capsys):
    code, out, err = run(capsys, "corpora", "check", "--help")
    assert code == 0 and "Exit status" in out and "mismatch" in out and "only" in out
