"""temperature_sweep scores every temperature exactly as bleu()/self_bleu() would, reuses one reference index,
validates its inputs; write_sweep_json and plot_sweep write complete files atomically."""
import json
import random
import struct
import sys

import pytest

import seqgan.metrics.text as text
from seqgan.metrics.bleu import bleu, self_bleu
from seqgan.metrics.ngrams import tokenize, unique_ngram_share
from seqgan.metrics.sweep import plot_sweep, temperature_sweep, write_sweep_json

WORDS = "a the man woman dog cat sits runs on near red blue table street park .".split()
_pool_rng = random.Random(1234)
POOL = [" ".join(_pool_rng.choice(WORDS) for _ in range(_pool_rng.randint(4, 10))) for _ in range(30)]
REFERENCES = [" ".join(_pool_rng.choice(WORDS) for _ in range(_pool_rng.randint(4, 10))) for _ in range(25)]
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def fake_sampler(n, temperature, seed):
    """Deterministic stand-in for a model: low temperatures draw from few pool lines, high ones from many."""
    spread = max(2, min(len(POOL), round(len(POOL) * temperature / 1.5)))
    rng = random.Random(f"{seed}/{temperature}")
    return [rng.choice(POOL[:spread]) for _ in range(n)]


def run(**kwargs):
    args = dict(sample_lines=fake_sampler, references=REFERENCES, temperatures=(0.1, 0.8, 1.5), n=30, seed=7,
                progress=False)
    args.update(kwargs)
    return temperature_sweep(**args)


def test_points_equal_direct_bleu_and_self_bleu_calls():
    result = run(nll_test=lambda t: 3.0 + t)
    assert result["temperatures"] == [0.1, 0.8, 1.5] and result["n"] == 30
    assert isinstance(result["protocol"], str) and "Self-BLEU" in result["protocol"]
    assert [p["temperature"] for p in result["points"]] == [0.1, 0.8, 1.5]
    for point in result["points"]:
        lines = fake_sampler(30, point["temperature"], 7)
        expected_bleu, expected_self = bleu(lines, REFERENCES), self_bleu(lines)
        for k in (2, 3, 4, 5):
            assert point[f"bleu{k}"] == expected_bleu[k]  # exact: same arithmetic, same order
            assert point[f"self_bleu{k}"] == expected_self[k]
            assert point[f"unique_{k}gram"] == unique_ngram_share(tokenize(lines), k)
        assert point["nll_test"] == 3.0 + point["temperature"]
    low, high = result["points"][0], result["points"][-1]
    assert low["self_bleu4"] == 1.0 > high["self_bleu4"]  # 2 distinct lines in 30 samples: every one has a twin


def test_subset_of_orders_and_no_nll():
    result = run(ns=(3, 2), temperatures=(1.0,))
    (point,) = result["points"]
    assert set(point) == {"temperature", "bleu2", "bleu3", "self_bleu2", "self_bleu3", "unique_2gram",
                          "unique_3gram"}
    lines = fake_sampler(30, 1.0, 7)
    assert point["bleu3"] == bleu(lines, REFERENCES, ns=(2, 3))[3]
    assert point["bleu3"] == bleu(lines, REFERENCES)[3]


def test_collapsed_sampler_has_self_bleu_one_at_every_order():
    result = run(sample_lines=lambda n, t, s: ["a man rides a red bike down the street ."] * n)
    for point in result["points"]:
        for k in (2, 3, 4, 5):
            assert point[f"self_bleu{k}"] == 1.0
        assert point["unique_2gram"] == pytest.approx(1 / 30)  # 9 distinct bigrams, each seen 30 times


def test_sample_lines_gets_requested_n_temperature_and_seed():
    calls = []

    def sampler(n, temperature, seed):
        calls.append((n, temperature, seed))
        return fake_sampler(n, temperature, seed)

    run(sample_lines=sampler, temperatures=(0.6, 1.2), n=12, seed=99)
    assert calls == [(12, 0.6, 99), (12, 1.2, 99)]


def test_references_tokenized_and_indexed_once(monkeypatch):
    tokenized, indexes = [], []
    real_tokenize, real_index = text.tokenize, text.BleuIndex  # the sweep scores through seqgan.metrics.text

    def counting_tokenize(lines):
        lines = list(lines)
        tokenized.append(lines)
        return real_tokenize(lines)

    class CountingIndex(real_index):
        def __init__(self, *args, **kwargs):
            indexes.append(self)
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(text, "tokenize", counting_tokenize)
    monkeypatch.setattr(text, "BleuIndex", CountingIndex)
    run(temperatures=(0.5, 1.0, 1.5, 2.0))
    assert sum(1 for lines in tokenized if lines == REFERENCES) == 1
    assert len(tokenized) == 1 + 4  # the references once, then each temperature's samples
    assert len(indexes) == 1


def test_wrong_sample_count_is_an_error():
    with pytest.raises(ValueError, match="sample_lines"):
        run(sample_lines=lambda n, t, s: fake_sampler(n - 1, t, s))
    with pytest.raises(ValueError, match="sample_lines"):
        run(sample_lines=lambda n, t, s: "one string")


@pytest.mark.parametrize("kwargs, name", [
    ({"references": []}, "references"),
    ({"references": "a single string"}, "references"),
    ({"temperatures": ()}, "temperatures"),
    ({"temperatures": (1.0, 0.0)}, "temperatures"),
    ({"temperatures": (-0.5,)}, "temperatures"),
    ({"temperatures": (float("nan"),)}, "temperatures"),
    ({"temperatures": (1.0, 1.0)}, "temperatures"),
    ({"n": 1}, "n"),
    ({"n": 0}, "n"),
    ({"ns": ()}, "ns"),
    ({"ns": (1, 2)}, "ns"),
    ({"ns": (2, 6)}, "ns"),
    ({"nll_test": 3.0}, "nll_test"),
    ({"sample_lines": None}, "sample_lines"),
])
def test_invalid_arguments_raise_value_error_naming_them(kwargs, name):
    calls = []
    kwargs.setdefault("sample_lines", lambda n, t, s: calls.append(1) or fake_sampler(n, t, s))
    with pytest.raises(ValueError, match=rf"\b{name}\b"):
        run(**kwargs)
    assert calls == []  # validated before any sampling


def test_json_round_trips_atomically(tmp_path):
    result = run(nll_test=lambda t: 2.5 * t)
    path = tmp_path / "new" / "folder" / "sweep.json"
    assert write_sweep_json(result, path) == path
    assert json.loads(path.read_text(encoding="utf-8")) == result
    assert [p.name for p in path.parent.iterdir()] == ["sweep.json"]
    with pytest.raises(TypeError):
        write_sweep_json({"points": [object()]}, path)
    assert json.loads(path.read_text(encoding="utf-8")) == result  # the old file survives a failed write
    assert [p.name for p in path.parent.iterdir()] == ["sweep.json"]


def png_size(path):
    data = path.read_bytes()
    assert data[:8] == PNG_SIGNATURE and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_plot_writes_png_and_adds_nll_panel(tmp_path):
    pytest.importorskip("matplotlib")
    result = run(temperatures=(1.5, 0.1, 0.8))  # unsorted on purpose
    one = tmp_path / "plots" / "sweep.png"
    assert plot_sweep(result, one, title="test") == one
    assert one.stat().st_size > 1000
    assert sorted(p.name for p in one.parent.iterdir()) == ["sweep.png"]
    two = tmp_path / "plots" / "sweep_nll.png"
    plot_sweep(run(nll_test=lambda t: 4.0 - t), two, n_order=2)
    assert sorted(p.name for p in two.parent.iterdir()) == ["sweep.png", "sweep_nll.png"]
    (w1, h1), (w2, h2) = png_size(one), png_size(two)
    assert w2 > 1.5 * w1 and h1 == h2  # a second panel beside the first


def test_plot_joins_points_in_temperature_order_and_labels_them(tmp_path, monkeypatch):
    figure = pytest.importorskip("matplotlib.figure")
    drawn, real_savefig = [], figure.Figure.savefig

    def recording_savefig(fig, *args, **kwargs):
        drawn.append(fig)
        return real_savefig(fig, *args, **kwargs)

    monkeypatch.setattr(figure.Figure, "savefig", recording_savefig)
    result = run(temperatures=(1.5, 0.1, 0.8), nll_test=lambda t: 10 * t)
    plot_sweep(result, tmp_path / "s.png", n_order=3)
    (fig,) = drawn
    by_t = {p["temperature"]: p for p in result["points"]}
    order = [0.1, 0.8, 1.5]
    quality, nll = fig.axes
    assert list(quality.lines[0].get_xdata()) == [by_t[t]["self_bleu3"] for t in order]
    assert list(quality.lines[0].get_ydata()) == [by_t[t]["bleu3"] for t in order]
    assert list(nll.lines[0].get_ydata()) == [10 * t for t in order]
    assert [a.get_text() for a in quality.texts] == ["T=0.1", "T=0.8", "T=1.5"]
    assert "Self-BLEU-3" in quality.get_xlabel() and "BLEU-3" in quality.get_ylabel()


def test_failed_plot_leaves_old_file_and_no_temporary(tmp_path, monkeypatch):
    figure = pytest.importorskip("matplotlib.figure")
    path = tmp_path / "s.png"
    path.write_bytes(b"old")

    def broken_savefig(fig, f, **kwargs):
        f.write(b"partial")
        raise RuntimeError("disk full")

    monkeypatch.setattr(figure.Figure, "savefig", broken_savefig)
    with pytest.raises(RuntimeError, match="disk full"):
        plot_sweep(run(temperatures=(1.0,)), path)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["s.png"]


def test_plot_errors(tmp_path, monkeypatch):
    result = run(ns=(2, 3))
    with pytest.raises(ValueError, match="n_order"):
        plot_sweep(result, tmp_path / "x.png", n_order=4)
    with pytest.raises(ValueError, match="points"):
        plot_sweep({"points": []}, tmp_path / "x.png")
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.backends", "matplotlib.backends.backend_agg"):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match="pip install matplotlib"):
        plot_sweep(result, tmp_path / "x.png", n_order=2)
    assert list(tmp_path.iterdir()) == []


def test_sweep_module_does_not_import_trainers_or_cli():
    import subprocess
    code = ("import sys, seqgan.metrics.sweep; "
            "bad = [m for m in sys.modules if m.startswith(('seqgan.trainers', 'seqgan.cli', 'matplotlib'))]; "
            "print(bad); sys.exit(1 if bad else 0)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
