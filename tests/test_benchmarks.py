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
