"""`seqgan train|sample|eval|corpora`, in process: outputs, files, exit codes, and one-line errors for bad input."""
import contextlib
import io
import json
import math
import os
import shutil

import pytest
import torch

from seqgan import checkpoint
from seqgan.cli import main
from seqgan.data.oracle import ORACLE_DIR

TINY = ["train", "seqgan", "--preset", "tiny", "--quiet"]


def run(capsys, *argv):
    """main(argv) -> (exit code, stdout, stderr); argparse's SystemExit counts as an exit code too."""
    capsys.readouterr()
    try:
        code = main([str(a) for a in argv])
    except SystemExit as e:
        code = e.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(code, err, *words, status=2):
    assert code == status, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("seqgan: error: "), err
    for w in words:
        assert str(w) in err, err


def published_oracle_present():
    root = os.environ.get("SEQGAN_DATA")
    return bool(root) and os.path.isfile(os.path.join(root, ORACLE_DIR, "target_params.npz"))


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """One tiny run shared by the tests below (they copy it before changing anything)."""
    out_dir = tmp_path_factory.mktemp("cli") / "run"
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(TINY + ["--out-dir", str(out_dir)])
    return {"dir": out_dir, "code": code, "out": stdout.getvalue(), "err": stderr.getvalue()}


@pytest.fixture
def run_copy(trained, tmp_path):
    dst = tmp_path / "run"
    shutil.copytree(trained["dir"], dst)
    return dst


def snapshot(folder):
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


# --- train -----------------------------------------------------------------------------------------------------

def test_train_prints_json_and_writes_checkpoint_and_metrics(trained):
    assert trained["code"] == 0, trained["err"]
    assert trained["err"] == ""  # --quiet: no progress bars, no console metrics
    lines = trained["out"].strip().splitlines()
    assert len(lines) == 1
    result = json.loads(lines[0])
    assert math.isfinite(result["nll_oracle"]) and math.isfinite(result["nll_test"])
    assert 0 < result["nll_test"] < 20 and 0 < result["nll_oracle"] < 20
    files = sorted(p.name for p in trained["dir"].iterdir())
    assert files == ["last.pt", "metrics.jsonl"]
    saved = checkpoint.load(trained["dir"] / "last.pt", algorithm="seqgan")
    assert saved["config"]["seq_len"] == 8 and saved["config"]["out_dir"] == str(trained["dir"])
    assert saved["progress"]["phase"] == 3 and saved["vocab_size"] == 5000
    records = [json.loads(line) for line in (trained["dir"] / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in records if r["kind"] == "eval"]
    assert evals[-1]["nll_oracle"] == result["nll_oracle"] and evals[-1]["nll_test"] == result["nll_test"]
    assert [r["phase"] for r in records if r["kind"] == "train"] == ["mle"] * 2 + ["d_pretrain"] + ["adversarial"] * 2
    if published_oracle_present():
        assert saved["data_source"].startswith("published SeqGAN oracle")


def test_train_again_without_resume_refuses_and_changes_nothing(run_copy, capsys):
    before = snapshot(run_copy)
    code, out, err = run(capsys, *TINY, "--out-dir", run_copy)
    assert_user_error(code, err, "--resume", run_copy)
    assert out == "" and snapshot(run_copy) == before


def test_resume_with_a_differing_flag_names_only_that_field(run_copy, capsys):
    before = snapshot(run_copy)
    code, out, err = run(capsys, "train", "seqgan", "--resume", "--quiet", "--out-dir", run_copy, "--seed", "5")
    assert_user_error(code, err, "seed", "88", "5", "--out-dir")
    assert "seq_len" not in err and "n_train" not in err  # settings the user did not give are not "differences"
    assert out == "" and snapshot(run_copy) == before


def test_resume_a_finished_run(trained, run_copy, capsys):
    before = json.loads(trained["out"])
    for extra in ([], ["--preset", "tiny", "--seed", "88"]):  # repeating the original settings is fine too
        code, out, err = run(capsys, "train", "seqgan", "--resume", "--quiet", "--out-dir", run_copy, *extra)
        assert code == 0, err
        after = json.loads(out.strip().splitlines()[-1])
        # the same restored model, evaluated with the same private seed, gives the same numbers
        assert after["nll_oracle"] == before["nll_oracle"] and after["nll_test"] == before["nll_test"]
    assert checkpoint.load(run_copy / "last.pt")["progress"]["phase"] == 3


def test_resume_a_moved_run_writes_where_it_now_is(trained, tmp_path, capsys):
    moved = tmp_path / "elsewhere"
    shutil.copytree(trained["dir"], moved)
    original = snapshot(trained["dir"])
    lines_before = len((moved / "metrics.jsonl").read_text().splitlines())
    code, out, err = run(capsys, "train", "seqgan", "--resume", "--quiet", "--out-dir", moved)
    assert code == 0, err
    assert len((moved / "metrics.jsonl").read_text().splitlines()) == lines_before + 1  # the final evaluation
    assert snapshot(trained["dir"]) == original  # the saved out_dir is not written to


def test_resume_with_nothing_to_resume(tmp_path, capsys):
    code, out, err = run(capsys, "train", "seqgan", "--resume", "--quiet", "--out-dir", tmp_path / "empty")
    assert_user_error(code, err, "--resume", tmp_path / "empty")
    assert not (tmp_path / "empty").exists()


def test_train_without_data_dir_uses_seeded_random_oracle(tmp_path, capsys, monkeypatch):
    monkeypatch.delenv("SEQGAN_DATA", raising=False)
    code, out, err = run(capsys, *TINY, "--out-dir", tmp_path / "r")
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert math.isfinite(result["nll_oracle"])
    source = checkpoint.load(tmp_path / "r" / "last.pt")["data_source"]
    assert "random oracle" in source and "SEQGAN_DATA" in source and "NOT comparable" in source


def test_eval_refuses_when_the_oracle_changed_since_training(trained, data_dir, tmp_path, capsys, monkeypatch):
    if not published_oracle_present():
        pytest.skip("the published oracle is not in SEQGAN_DATA")
    monkeypatch.delenv("SEQGAN_DATA")
    code, out, err = run(capsys, "eval", trained["dir"] / "last.pt", "--json", tmp_path / "m.json")
    assert_user_error(code, err, "SEQGAN_DATA", "published")
    assert out == "" and not (tmp_path / "m.json").exists()


def test_train_unknown_algorithm(capsys):
    code, out, err = run(capsys, "train", "bogus")
    assert code == 2 and "invalid choice" in err and "'seqgan'" in err and "Traceback" not in err


def test_train_unknown_corpus_lists_known(tmp_path, capsys):
    code, out, err = run(capsys, *TINY, "--out-dir", tmp_path / "c", "--corpus", "bogus")
    assert_user_error(code, err, "'bogus'", "oracle")
    assert not (tmp_path / "c" / "last.pt").exists()


@pytest.mark.parametrize("flags,words", [
    (["--seq-len", "abc"], ["seq_len", "'abc'"]),
    (["--dis-num-filters", "4,4"], ["dis_filter_sizes", "dis_num_filters"]),
    (["--rollouts", "0"], ["rollouts", ">= 1"]),
    (["--preset", "tiny", "--config", "NOFILE"], ["NOFILE", "not found"]),
    (["--device", "bogus"], ["--device", "bogus"]),
    (["--device", "cuda:99"], ["--device", "cuda:99"]),
])
def test_bad_train_settings(tmp_path, capsys, flags, words):
    flags = [str(tmp_path / "none.json") if f == "NOFILE" else f for f in flags]
    words = [str(tmp_path / "none.json") if w == "NOFILE" else w for w in words]
    code, out, err = run(capsys, "train", "seqgan", "--quiet", "--out-dir", tmp_path / "o", *flags)
    assert_user_error(code, err, *words)
    assert not (tmp_path / "o").exists()


def test_zero_filter_width_is_a_config_error_before_any_training(tmp_path, capsys):
    # validate() does not check filter widths; a width of 0 used to crash inside torch after MLE had run
    code, out, err = run(capsys, *TINY, "--out-dir", tmp_path / "o", "--dis-filter-sizes", "0,2,3")
    assert_user_error(code, err, "dis_filter_sizes")
    assert not (tmp_path / "o" / "last.pt").exists()


def test_config_file_and_flag_precedence(tmp_path, capsys):
    cfg = tmp_path / "c.json"
    cfg.write_text(json.dumps({"seq_len": 6, "seed": 1}))
    code, out, err = run(capsys, *TINY, "--config", cfg, "--seed", "2", "--adv-epochs", "0", "--mle-epochs", "1",
                         "--out-dir", tmp_path / "o")
    assert code == 0, err
    saved = checkpoint.load(tmp_path / "o" / "last.pt")
    assert (saved["config"]["seq_len"], saved["config"]["seed"], saved["config"]["batch_size"]) == (6, 2, 32)


def test_out_dir_that_cannot_be_created(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, out, err = run(capsys, *TINY, "--out-dir", blocker / "sub")
    assert code != 0
    assert_user_error(code, err, blocker, status=code)
    assert blocker.read_text() == "x"


def test_help_lists_generated_flags(capsys):
    code, out, err = run(capsys, "train", "seqgan", "--help")
    assert code == 0
    for flag in ("--rollouts", "--dis-num-filters", "--dis-filter-sizes", "--preset", "--resume", "--config",
                 "--out-dir", "--seed", "--device", "--rollout-update-rate"):
        assert flag in out
    assert "tiny" in out and "paper" in out
    code, out, err = run(capsys, "--help")
    assert code == 0 and all(c in out for c in ("train", "sample", "eval", "corpora"))


def test_corpora_lists_oracle_and_status(capsys, monkeypatch, tmp_path):
    code, out, err = run(capsys, "corpora")
    assert code == 0 and "oracle" in out and "status:" in out
    if published_oracle_present():
        assert "published oracle" in out and "target_params.npz" in out
    monkeypatch.delenv("SEQGAN_DATA", raising=False)
    code, out, err = run(capsys, "corpora")
    assert code == 0 and "not set" in out and "seeded random oracle" in out
    monkeypatch.setenv("SEQGAN_DATA", str(tmp_path))
    code, out, err = run(capsys, "corpora")
    assert code == 0 and str(tmp_path) in out and "seeded random oracle" in out


def test_corpora_and_train_with_a_corrupt_oracle_file(data_dir, tmp_path, capsys, monkeypatch):
    src = data_dir / ORACLE_DIR / "target_params.npz"
    if not src.is_file():
        pytest.skip(f"{src} is absent")
    bad = tmp_path / ORACLE_DIR / "target_params.npz"
    bad.parent.mkdir()
    data = bytearray(src.read_bytes())
    data[1000] ^= 0xFF
    bad.write_bytes(bytes(data))
    monkeypatch.setenv("SEQGAN_DATA", str(tmp_path))
    code, out, err = run(capsys, "corpora")
    assert code == 0 and "unusable" in out and str(bad) in out
    code, out, err = run(capsys, *TINY, "--out-dir", tmp_path / "o")
    assert_user_error(code, err, bad, "sha256")
    assert not (tmp_path / "o" / "last.pt").exists()


# --- sample and eval -----------------------------------------------------------------------------------------------

def test_sample_prints_n_lines_of_tokens(trained, capsys):
    ckpt = trained["dir"] / "last.pt"
    code, out, err = run(capsys, "sample", ckpt, "-n", "3")
    assert code == 0, err
    rows = [[int(t) for t in line.split()] for line in out.splitlines()]
    assert len(rows) == 3 and all(len(r) == 8 for r in rows)
    assert all(0 <= t < 5000 for r in rows for t in r)
    assert run(capsys, "sample", ckpt, "-n", "3")[1] == out  # same --seed, same samples
    assert run(capsys, "sample", ckpt, "-n", "3", "--seed", "1")[1] != out


def test_sample_out_file(trained, tmp_path, capsys):
    target = tmp_path / "new" / "samples.txt"
    code, out, err = run(capsys, "sample", trained["dir"] / "last.pt", "-n", "3", "--out", target)
    assert code == 0 and out == "", err
    lines = target.read_text().splitlines()
    assert len(lines) == 3 and lines == run(capsys, "sample", trained["dir"] / "last.pt", "-n", "3")[1].splitlines()
    assert sorted(p.name for p in target.parent.iterdir()) == ["samples.txt"]


def test_sample_out_is_a_directory(trained, tmp_path, capsys):
    code, out, err = run(capsys, "sample", trained["dir"] / "last.pt", "-n", "2", "--out", tmp_path)
    assert_user_error(code, err, tmp_path, "directory")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("argv,words", [(["-n", "0"], ["-n"]), (["--temperature", "0"], ["--temperature"])])
def test_sample_bad_arguments(trained, capsys, argv, words):
    code, out, err = run(capsys, "sample", trained["dir"] / "last.pt", *argv)
    assert_user_error(code, err, *words)


def test_eval_json_matches_printed(trained, tmp_path, capsys):
    target = tmp_path / "m.json"
    code, out, err = run(capsys, "eval", trained["dir"] / "last.pt", "--json", target)
    assert code == 0, err
    printed = {k: float(v) for k, v in (line.split("\t") for line in out.splitlines())}
    written = json.loads(target.read_text())
    assert set(printed) == set(written) == {"nll_oracle", "nll_test"}
    for k in printed:
        assert printed[k] == round(written[k], 4)
    final = json.loads(trained["out"])
    assert written["nll_oracle"] == final["nll_oracle"] and written["nll_test"] == final["nll_test"]


def bad_checkpoints(tmp_path, good):
    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(good.read_bytes()[:5000])
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(2048))
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    foreign = tmp_path / "foreign.pt"
    torch.save({"model": {"w": torch.zeros(2)}}, foreign)
    payload = checkpoint.load(good)
    other_algo = tmp_path / "other.pt"
    checkpoint.save(other_algo, {**{k: v for k, v in payload.items() if k not in ("format", "version")},
                                 "algorithm": "no-such-algo"})
    no_state = tmp_path / "nostate.pt"
    checkpoint.save(no_state, {**{k: v for k, v in payload.items() if k not in ("format", "version")},
                               "state": {}})
    reshaped = tmp_path / "reshaped.pt"
    checkpoint.save(reshaped, {**{k: v for k, v in payload.items() if k not in ("format", "version")},
                               "config": {**payload["config"], "gen_hidden": 16}})
    bad_config = tmp_path / "badconfig.pt"
    checkpoint.save(bad_config, {**{k: v for k, v in payload.items() if k not in ("format", "version")},
                                 "config": {**payload["config"], "no_such_field": 1}})
    return [(truncated, "corrupt"), (garbage, "corrupt"), (text, "corrupt"), (foreign, "not a seqgan checkpoint"),
            (other_algo, "no-such-algo"), (no_state, "generator"), (reshaped, "generator"),
            (bad_config, "no_such_field"), (tmp_path / "missing.pt", "not found"), (tmp_path, "directory")]


@pytest.mark.parametrize("command", ["sample", "eval"])
def test_bad_checkpoints_give_one_line(trained, tmp_path, capsys, command):
    for path, word in bad_checkpoints(tmp_path, trained["dir"] / "last.pt"):
        code, out, err = run(capsys, command, path)
        assert_user_error(code, err, path, word)
        assert out == ""


def test_checkpoint_from_a_cuda_machine_samples_on_cpu(trained, tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("checks the CPU fallback")
    payload = checkpoint.load(trained["dir"] / "last.pt")
    body = {k: v for k, v in payload.items() if k not in ("format", "version")}
    # what a CUDA run stores: device "cuda" and a CUDA generator state (seed + offset, 16 bytes)
    body["config"] = {**payload["config"], "device": "cuda"}
    body["state"] = {**payload["state"], "rng": torch.zeros(16, dtype=torch.uint8)}
    ckpt = checkpoint.save(tmp_path / "cuda.pt", body)
    code, out, err = run(capsys, "sample", ckpt, "-n", "2")
    assert code == 0, err
    assert out == run(capsys, "sample", trained["dir"] / "last.pt", "-n", "2")[1]
