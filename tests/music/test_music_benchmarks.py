"""benchmarks/music_seqgan.py end to end on a tiny schedule and a fixture corpus: JSON and Markdown written."""
import json
import os
import subprocess
import sys
from pathlib import Path

from seqgan.music.dataset import is_test_piece
from tests.music.helpers import scale_notes, write_midi

ROOT = Path(__file__).resolve().parents[2]


def test_music_seqgan_benchmark_writes_rows_beside_the_paper(tmp_path):
    folder = tmp_path / "tunes"
    folder.mkdir()
    names = [f"tune{i}.mid" for i in range(200)]
    for k, name in enumerate([n for n in names if not is_test_piece(n)][:6] + [n for n in names if is_test_piece(n)][:2]):
        write_midi(folder / name, scale_notes(4, base=55 + k))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    subprocess.run([sys.executable, str(ROOT / "benchmarks" / "music_seqgan.py"), "--preset", "tiny", "--n", "16",
                    "--corpus", f"melody:{folder}", "--quiet", "--out-dir", str(tmp_path / "run"),
                    "--json", str(tmp_path / "r.json"), "--md", str(tmp_path / "r.md")],
                   check=True, capture_output=True, text=True, env=env, timeout=300)
    r = json.loads((tmp_path / "r.json").read_text())
    for row in ("data", "mle", "seqgan"):
        assert r[row]["n_hypotheses"] == 16 and r[row]["n_references"] == 6 and r[row]["mse"] >= 0
    assert r["mle"]["nll_test"] > 0 and r["paper"]["seqgan"] == {"bleu4": 0.9406, "mse": 20.62}
    assert r["torch"] and r["git"] and r["device"]
    table = (tmp_path / "r.md").read_text()
    assert "| ours SeqGAN |" in table and "22.38" in table
