"""The benchmark scripts run end to end on tiny sizes and write the JSON keys the README relies on."""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(script, *args):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, env=env, check=True, timeout=600)


def test_rollout_benchmark_counts_minimum_work(tmp_path):
    out = tmp_path / "r.json"
    run("rollout.py", "--batch", "4", "--length", "6", "--rollouts", "3", "--vocab", "50", "--repeats", "1",
        "--json", str(out))
    r = json.loads(out.read_text())
    for key in ("engine_s", "naive_s", "ratio", "token_steps", "min_token_steps", "peak_mem_mb", "device"):
        assert key in r
    assert r["token_steps"] == r["min_token_steps"] == r["naive_token_steps"] == 4 * 3 * 6 * 5 // 2
    assert r["ratio"] > 0 and r["torch"] and r["git"]


def test_oracle_benchmark_tiny(tmp_path):
    out = tmp_path / "o.json"
    run("oracle.py", "--preset", "tiny", "--quiet", "--json", str(out), "--out-dir", str(tmp_path / "run"))
    r = json.loads(out.read_text())
    for key in ("nll_oracle_mle", "nll_oracle_adv", "wall_s", "device"):
        assert key in r
    assert r["nll_oracle_mle"] > 0 and r["curve"][-1]["phase"] == "adversarial"


def test_text_quality_benchmark_tiny(data_dir, tmp_path):
    out = tmp_path / "t.json"
    run("text_quality.py", "--preset", "tiny", "--corpora", "obama_speeches", "--quiet", "--json", str(out),
        "--out-dir", str(tmp_path / "runs"), "--sweep", str(tmp_path / "sweep"), "--sweep-n", "50")
    r = json.loads(out.read_text())
    assert r["device"] and r["git"] and len(r["runs"]) == 1
    run_ = r["runs"][0]
    assert run_["preset"] == "tiny" and run_["max_len"] == 40 and run_["n_references"] == 291
    for row in ("mle", "seqgan"):
        assert set(run_[row]) == {"nll_test", *(f"bleu{n}" for n in range(2, 6)), *(f"self_bleu{n}" for n in range(2, 6))}
        assert all(0 <= run_[row][f"bleu{n}"] <= 1 for n in range(2, 6))
    # the MLE row is the last evaluation of the MLE phase, the SeqGAN row the final one
    mle_evals = [c for c in run_["curve"] if c["phase"] == "mle"]
    assert run_["mle"]["bleu4"] == mle_evals[-1]["bleu4"] and run_["seqgan"]["bleu4"] == run_["curve"][-1]["bleu4"]
    sweep = json.loads((tmp_path / "sweep" / "sweep_obama_speeches.json").read_text())
    assert len(sweep["points"]) == 5


def test_music_data_benchmark_counts(data_dir, tmp_path):
    out = tmp_path / "m.json"
    run("music_data.py", "--json", str(out))
    rows = {(r["corpus"], r["bars"]): r for r in json.loads(out.read_text())["runs"]}
    assert set(rows) == {("nottingham", 2), ("nottingham", 16), ("jsb_chorales", 2), ("jsb_chorales", 16)}
    nott = rows[("nottingham", 2)]
    # every file is either used, skipped with a reason, or counted as giving no window
    assert nott["pieces_train"] + nott["pieces_test"] + sum(nott["skipped"].values()) + nott["no_windows"] == nott["files"]
    assert rows[("nottingham", 16)]["windows_train"] < nott["windows_train"]


def test_rollout_benchmark_transformer_tiny(tmp_path):
    out = tmp_path / "t.json"
    run("rollout.py", "--generator", "transformer", "--d-model", "16", "--batch", "4", "--length", "6",
        "--rollouts", "3", "--vocab", "50", "--repeats", "1", "--json", str(out))
    r = json.loads(out.read_text())
    for key in ("engine_s", "recompute_s", "ratio", "token_steps", "device", "gather_s"):
        assert key in r
    assert r["token_steps"] == r["recompute_token_steps"] == r["min_token_steps"] == 4 * 3 * 6 * 5 // 2
    assert r["ratio"] > 0 and r["generator"] == "transformer" and r["config"]["d_model"] == 16


def test_text_family_benchmark_tiny_fills_every_cell(tmp_path):
    out, md = tmp_path / "f.json", tmp_path / "f.md"
    run("text_family.py", "--budget", "tiny", "--corpora", "oracle", "--algorithms", "mle,seqgan,leakgan",
        "--quiet", "--json", str(out), "--markdown", str(md), "--out-dir", str(tmp_path / "runs"))
    r = json.loads(out.read_text())
    assert r["device"] and r["git"] and r["budget"] == "tiny" and r["skipped"] == []
    assert [x["algorithm"] for x in r["runs"]] == ["seqgan", "leakgan"]
    assert all(x["config"]["gen_hidden"] == 8 and x["config"]["adv_epochs"] == 1 for x in r["runs"])
    rows = [line for line in md.read_text().splitlines()
            if line.startswith("| ") and not line.startswith(("| row", "| ---"))]
    ours = [line for line in rows if not line.startswith(("| SeqGAN (", "| LeakGAN (", "| RelGAN ("))]
    assert [line.split(" | ")[0][2:] for line in ours] == ["MLE (seqgan run after MLE)", "seqgan", "leakgan",
                                                          "leakgan after its MLE phase"]
    for line in ours:
        cells = [c.strip() for c in line.strip("| ").split(" | ")[1:-1]]
        assert len(cells) == 2 and all(float(c) > 0 for c in cells), line


def test_text_family_curves_give_the_lowest_value_of_each_run_and_a_plot(tmp_path):
    out, md, png = tmp_path / "f.json", tmp_path / "f.md", tmp_path / "f.png"
    run("text_family.py", "--budget", "tiny", "--corpora", "oracle", "--algorithms", "seqgan,relgan",
        "--adv-epochs", "3", "--eval-every", "1", "--quiet", "--json", str(out), "--markdown", str(md),
        "--plot", str(png))
    r = json.loads(out.read_text())
    for x in r["runs"]:
        assert [p["update"] for p in x["curve"]] == [1, 2, 3]
        assert x["curve"][-1]["nll_oracle"] == x["final"]["nll_oracle"]
        low = min(x["curve"], key=lambda p: p["nll_oracle"])
        line = next(row for row in md.read_text().splitlines() if row.startswith(f"| {x['algorithm']} |"))
        assert f"{low['nll_oracle']:.3f} ({low['update']}, {low['nll_test']:.3f})" in line
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_scaling_benchmark_tiny_has_one_and_two_process_rows(tmp_path):
    out = tmp_path / "s.json"
    run("scaling.py", "--epochs", "1", "--batch", "4", "--length", "4", "--rollouts", "1", "--d-samples", "8",
        "--processes", "1,2", "--json", str(out))
    r = json.loads(out.read_text())
    cpu = [row for row in r["rows"] if row["device"] == "cpu"]
    assert [row["processes"] for row in cpu] == [1, 2]
    # 4 samples + 4*1*3 rollout completions + 8 negatives per epoch, whatever the number of processes
    assert all(row["sequences"] == 24 and row["sequences_per_s"] > 0 for row in cpu)
    assert r["config"]["sequences_per_epoch"] == 24 and r["device"] and r["torch"] and r["git"]


def test_maskgan_benchmark_tiny(data_dir, tmp_path):
    out, md = tmp_path / "m.json", tmp_path / "m.md"
    run("maskgan.py", "--train-rows", "64", "--max-vocab", "100", "--hidden", "8", "--mle-epochs", "1",
        "--d-pretrain-steps", "1", "--adv-epochs", "1", "--json", str(out), "--md", str(md))
    r = json.loads(out.read_text())
    assert r["train_rows"] == 64 and r["vocab_size"] <= 100 and r["device"] and r["git"]
    assert set(r["rows"]) == {"LM", "MaskMLE", "MaskGAN"}
    for row in r["rows"].values():
        assert all(0 < row[f"unique_{n}gram_pct"] <= 100 for n in (2, 3, 4))
        assert row["masked_ppl"] > 1 and row["lm_ppl_of_samples"] > 1
    assert md.read_text().count("\n| MaskGAN |") == 1


def test_audio_benchmark_tiny(data_dir, tmp_path):
    out = tmp_path / "a.json"
    run("audio.py", "--max-files", "40", "--model-size", "2", "--batch-size", "4", "--steps", "1",
        "--cond-steps", "1", "--n-generated", "10", "--classifier-epochs", "1", "--splits", "2", "--json", str(out))
    r = json.loads(out.read_text())
    assert r["protocol"]["max_files_per_split"] == 40 and r["device"] and r["git"]
    assert [m["model"] for m in r["models"]] == ["WaveGAN", "SpecGAN", "conditional WaveGAN"]
    for m in r["models"]:
        assert m["steps"] == 1 and m["inception_score"] >= 1 - 1e-6 and sum(m["predicted_digits"]) == 10
    assert 0 <= r["classifier"]["test_accuracy"] <= 1 and 0 <= r["models"][2]["label_accuracy"] <= 1


def test_text_family_merge_joins_processes_and_refuses_mismatches(tmp_path):
    base = {"budget": "family", "budget_values": {"mle_epochs": 8}, "threads": 1, "seed": 88, "git": "abc",
            "torch": "2", "device": "cpu", "skipped": [], "overrides": {}}
    oracle = {"corpus": "oracle", "wall_s": 60.0, "final": {"nll_oracle": 9.5, "nll_test": 7.5}, "after_mle": None,
              "config": {"generator": "lstm"}}
    parts = [{**base, "corpora": ["oracle"], "command": "a", "runs": [{**oracle, "algorithm": "seqgan"}]},
             {**base, "corpora": ["oracle"], "command": "b", "runs": [{**oracle, "algorithm": "relgan"}]},
             {**base, "corpora": ["image_coco"], "command": "c", "overrides": {"mle_epochs": 3}, "runs": []}]
    names = []
    for i, part in enumerate(parts):
        names.append(tmp_path / f"{i}.json")
        names[-1].write_text(json.dumps(part))
    out, md = tmp_path / "m.json", tmp_path / "m.md"
    run("text_family.py", "--merge", ",".join(map(str, names)), "--json", str(out), "--markdown", str(md))
    r = json.loads(out.read_text())
    assert r["corpora"] == ["oracle", "image_coco"] and r["commands"] == ["a", "b", "c"]
    assert [x["algorithm"] for x in r["runs"]] == ["seqgan", "relgan"]
    assert r["overrides_by_corpus"] == {"oracle": {}, "image_coco": {"mle_epochs": 3}}
    assert "| seqgan | 9.500 | 7.500 | 1.0 min |" in md.read_text() and '{"mle_epochs": 3}' in md.read_text()
    # the same run twice, or another seed: refused with the reason, nothing written
    names[1].write_text(json.dumps({**parts[0], "seed": 1}))
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "text_family.py"), "--merge",
                          f"{names[0]},{names[0]}", "--json", str(tmp_path / "bad.json")], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert bad.returncode == 2 and "repeat a (corpus, algorithm)" in bad.stderr
    assert not (tmp_path / "bad.json").exists()
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "text_family.py"), "--merge",
                          f"{names[0]},{names[1]}"], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert bad.returncode == 2 and "'seed'" in bad.stderr


def test_music_benchmark_tiny_runs_side_by_side_and_merges(data_dir, tmp_path):
    parts = []
    for decoder in ("flat", "hierarchical"):
        parts.append(tmp_path / f"{decoder}.json")
        run("music.py", "--bars", "2", "--decoders", decoder, "--steps-2", "2", "--hidden", "8", "--batch-size", "4",
            "--eval-windows", "4", "--log-every", "1", "--json", str(parts[-1]), "--keep", str(tmp_path / "keep"))
    out, md, png = tmp_path / "m.json", tmp_path / "m.md", tmp_path / "m.png"
    run("music.py", "--merge", f"{parts[1]},{parts[0]}", "--json", str(out), "--md", str(md), "--plot", str(png))
    r = json.loads(out.read_text())
    assert [(x["bars"], x["decoder"], x["steps"]) for x in r["runs"]] == [(2, "flat", 2), (2, "hierarchical", 2)]
    assert all(0 <= x["acc_sampled"] <= 1 and 0 < x["baseline_hold_accuracy"] < 1 for x in r["runs"])
    for x in r["runs"]:  # per bar: two bars whose mean is the window's accuracy
        for mode in ("acc_teacher_forced", "acc_sampled", "acc_sampled_t1"):
            assert len(x["by_bar"][mode]) == 2 and abs(sum(x["by_bar"][mode]) / 2 - x[mode]) < 1e-9
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the kept checkpoints are finished runs that `seqgan music sample` reads
    from seqgan import checkpoint
    kept = checkpoint.load(tmp_path / "keep" / "2bars_flat_fb48_seed0" / "last.pt", algorithm="music_vae")
    assert kept["config"]["decoder"] == "flat" and kept["progress"]["global_step"] == 2
    assert r["git"] and isinstance(r["uncommitted"], list) and "| 2 | flat | 48 | 2 |" in md.read_text()
    bad = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "music.py"), "--merge", f"{parts[0]},{parts[0]}",
                          "--json", str(tmp_path / "bad.json")], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=600)
    assert bad.returncode == 2 and "repeat a (bars, decoder, free bits) run" in bad.stderr
    assert not (tmp_path / "bad.json").exists()
