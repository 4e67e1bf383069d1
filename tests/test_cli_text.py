"""The command line on text: train on a user's files, sample from the checkpoint alone, eval and sweep."""
import json
import shutil

import pytest

from seqgan.metrics.bleu import bleu, self_bleu
from tests.test_cli import TINY, assert_user_error, run
from tests.text_fixtures import write_corpus


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("clitext")
    spec = write_corpus(root / "data")
    out = root / "run"
    from seqgan.cli import main
    assert main(TINY + ["--corpus", spec, "--n-eval-samples", "40", "--out-dir", str(out)]) == 0
    return {"root": root, "spec": spec, "out": out, "ckpt": out / "last.pt"}


def test_sample_needs_only_the_checkpoint(text_run, tmp_path, capsys, monkeypatch):
    ckpt = tmp_path / "moved.pt"
    shutil.copy(text_run["ckpt"], ckpt)
    monkeypatch.delenv("SEQGAN_DATA", raising=False)
    monkeypatch.chdir(tmp_path)  # the relative or absolute corpus paths are not needed either
    code, out, err = run(capsys, "sample", ckpt, "-n", "8", "--seed", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 8
    vocab = set(open(text_run["spec"].split(",")[0]).read().split()) | {"<unk>"}
    assert all(set(line.split()) <= vocab for line in lines)  # words, not ids
    code, again, _ = run(capsys, "sample", ckpt, "-n", "8", "--seed", "3")
    assert again == out


def test_eval_checkpoint_reports_bleu_and_nll_test(text_run, tmp_path, capsys):
    code, out, err = run(capsys, "eval", text_run["ckpt"], "-n", "30", "--json", tmp_path / "m.json")
    assert code == 0, err
    m = json.loads((tmp_path / "m.json").read_text())
    assert {f"bleu{n}" for n in range(2, 6)} | {f"self_bleu{n}" for n in range(2, 6)} <= set(m)
    assert m["n_hypotheses"] == 30 and m["n_references"] == 40 and "nll_test" in m and "NLTK" in m["protocol"]


def test_eval_samples_file_equals_the_metrics_module(tmp_path, capsys):
    samples = tmp_path / "s.txt"
    samples.write_text("a man sits on the table .\n\nthe cat looks at a tree in the park .\ntwo dogs .\n")
    refs = tmp_path / "r.txt"
    refs.write_text("a man sits on a tree .\nthe cat walks past the table .\n")
    code, out, err = run(capsys, "eval", "--samples", samples, "--references", refs, "--json", tmp_path / "b.json")
    assert code == 0, err
    m = json.loads((tmp_path / "b.json").read_text())
    hyps = samples.read_text().splitlines()  # the blank line is an empty sample: it scores 0
    expected, expected_self = bleu(hyps, refs.read_text().splitlines()), self_bleu(hyps)
    assert [m[f"bleu{n}"] for n in range(2, 6)] == [expected[n] for n in range(2, 6)]
    assert [m[f"self_bleu{n}"] for n in range(2, 6)] == [expected_self[n] for n in range(2, 6)]
    assert (m["n_hypotheses"], m["n_references"]) == (4, 2)
    assert "bleu2\t" in out


def test_eval_samples_against_a_registry_corpus(data_dir, tmp_path, capsys):
    samples = tmp_path / "s.txt"
    samples.write_text("a man riding a bike down a street .\na cat sitting on a couch .\n")
    code, out, err = run(capsys, "eval", "--samples", samples, "--references", "image_coco", "--json",
                         tmp_path / "b.json")
    assert code == 0, err
    assert json.loads((tmp_path / "b.json").read_text())["n_references"] == 10_000


@pytest.mark.parametrize("make,argv,words", [
    (None, ["eval", "--samples", "{d}/missing.txt", "--references", "{d}/r.txt"], ["missing.txt", "not found"]),
    (b"ok line\n\xff\xfe bad\n", ["eval", "--samples", "{d}/f.txt", "--references", "{d}/r.txt"],
     ["f.txt", "line 2", "UTF-8"]),
    (b"", ["eval", "--samples", "{d}/f.txt", "--references", "{d}/r.txt"], ["f.txt", "empty"]),
    (b"x\n", ["eval", "--samples", "{d}/f.txt"], ["--references"]),
    (b"x\n", ["eval"], ["checkpoint"]),
])
def test_eval_bad_input_is_one_line(tmp_path, capsys, make, argv, words):
    (tmp_path / "r.txt").write_text("a reference .\n")
    if make is not None:
        (tmp_path / "f.txt").write_bytes(make)
    code, out, err = run(capsys, *[a.format(d=tmp_path) for a in argv])
    assert_user_error(code, err, *words)


def test_changed_training_file_is_a_vocabulary_mismatch(text_run, tmp_path, capsys):
    data = tmp_path / "data"
    shutil.copytree(text_run["root"] / "data", data)
    out = tmp_path / "run"
    shutil.copytree(text_run["out"], out)
    spec = f"{data / 'train.txt'},{data / 'test.txt'}"
    # the checkpoint's config points at the original files; rewrite it to the copies, then change the words
    from seqgan import checkpoint
    payload = checkpoint.load(out / "last.pt")
    payload["config"]["corpus"] = spec
    checkpoint.save(out / "last.pt", {k: v for k, v in payload.items() if k not in ("format", "version")})
    code, _, err = run(capsys, "eval", out / "last.pt", "-n", "10")
    assert code == 0, err
    (data / "train.txt").write_text("entirely different words here .\nand more of them .\n")
    code, _, err = run(capsys, "eval", out / "last.pt", "-n", "10")
    assert_user_error(code, err, "vocabulary mismatch", "--corpus")
    code, _, err = run(capsys, "train", "seqgan", "--quiet", "--out-dir", out, "--resume")
    assert_user_error(code, err, "vocabulary mismatch")


def test_sweep_writes_json_and_png(text_run, tmp_path, capsys):
    code, out, err = run(capsys, "sweep", text_run["ckpt"], "--temperatures", "0.7,1.3", "-n", "20", "--out",
                         tmp_path / "sw")
    assert code == 0, err
    result = json.loads((tmp_path / "sw" / "sweep.json").read_text())
    assert [p["temperature"] for p in result["points"]] == [0.7, 1.3]
    assert all("nll_test" in p and "self_bleu4" in p for p in result["points"])
    # a colder softmax puts more mass on the likely tokens the held-out data mostly uses... or not; but it differs
    assert result["points"][0]["nll_test"] != result["points"][1]["nll_test"]
    assert (tmp_path / "sw" / "sweep.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_sweep_refuses_the_oracle(tmp_path, capsys):
    from seqgan.cli import main
    assert main(TINY + ["--out-dir", str(tmp_path / "o"), "--mle-epochs", "1", "--adv-epochs", "0",
                        "--d-pretrain-rounds", "0"]) == 0
    code, _, err = run(capsys, "sweep", tmp_path / "o" / "last.pt")
    assert_user_error(code, err, "text corpus")


def test_training_reports_what_max_len_did(text_run, tmp_path, capsys):
    code, out, err = run(capsys, "train", "seqgan", "--preset", "tiny", "--corpus", text_run["spec"], "--max-len",
                         "5", "--mle-epochs", "1", "--d-pretrain-rounds", "0", "--adv-epochs", "0",
                         "--n-eval-samples", "10", "--out-dir", tmp_path / "o")
    assert code == 0, err
    longest = max(len(line.split()) for line in open(text_run["spec"].split(",")[0]))
    assert f"train 160 lines (longest {longest} tokens, 160 truncated" in err and "max_len 5" in err
    code, out, err = run(capsys, "train", "seqgan", "--preset", "tiny", "--quiet", "--corpus", text_run["spec"],
                         "--max-len", "5", "--long-lines", "error", "--out-dir", tmp_path / "e")
    assert_user_error(code, err, "train.txt", "line 1", "max_len=5")
    assert not (tmp_path / "e" / "last.pt").exists()
