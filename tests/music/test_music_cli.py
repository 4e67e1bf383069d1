"""`seqgan music train|sample|interpolate|reconstruct` in process: files written, one-line errors for bad input."""
import json

import pytest
import torch

from seqgan.cli import main
from seqgan.music.dataset import is_test_piece
from tests.music.helpers import scale_notes, write_midi
from tests.test_cli import assert_user_error, run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder of small MIDI tunes (some in the test split) and a tiny hierarchical 2-bar checkpoint."""
    root = tmp_path_factory.mktemp("music_cli")
    tunes = root / "tunes"
    tunes.mkdir()
    names = [f"tune{i}.mid" for i in range(200)]
    test_names = [n for n in names if is_test_piece(n)][:2]
    train_names = [n for n in names if not is_test_piece(n)][:6]
    for k, name in enumerate(train_names + test_names):
        write_midi(tunes / name, scale_notes(4, base=55 + k))
    out = root / "run"
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = main(["music", "train", "--preset", "tiny", "--quiet", "--corpus", str(tunes), "--out-dir", str(out)])
    finally:
        torch.set_num_threads(before)
    assert code == 0
    return root, tunes, out / "last.pt", tunes / test_names[0], tunes / train_names[0]


def test_train_writes_checkpoint_and_metrics(trained, capsys):
    root, tunes, ckpt, _, _ = trained
    assert ckpt.is_file()
    lines = [json.loads(x) for x in (ckpt.parent / "metrics.jsonl").read_text().splitlines()]
    evals = [x for x in lines if x["kind"] == "eval"]
    assert evals and 0 <= evals[-1]["acc_sampled"] <= 1
    # the same out-dir again without --resume is refused; --resume with a changed setting too
    code, _, err = run(capsys, "music", "train", "--preset", "tiny", "--quiet", "--corpus", tunes,
                       "--out-dir", ckpt.parent)
    assert_user_error(code, err, "--resume")
    code, _, err = run(capsys, "music", "train", "--resume", "--quiet", "--out-dir", ckpt.parent, "--bars", "16")
    assert_user_error(code, err, "bars")


def test_sample_writes_midi_and_png(trained, capsys, tmp_path):
    _, _, ckpt, _, _ = trained
    code, out, err = run(capsys, "music", "sample", ckpt, "-n", 3, "--out", tmp_path / "s", "--seed", 1)
    assert code == 0, err
    for k in range(3):
        assert (tmp_path / "s" / f"sample_{k:03d}.mid").stat().st_size > 0
        assert (tmp_path / "s" / f"sample_{k:03d}.png").read_bytes()[:4] == b"\x89PNG"
    first = (tmp_path / "s" / "sample_000.mid").read_bytes()
    code, _, _ = run(capsys, "music", "sample", ckpt, "-n", 3, "--out", tmp_path / "t", "--seed", 1)
    assert (tmp_path / "t" / "sample_000.mid").read_bytes() == first   # seeded: reproducible


def test_interpolate_and_reconstruct(trained, capsys, tmp_path):
    _, _, ckpt, a, b = trained
    code, out, err = run(capsys, "music", "interpolate", ckpt, a, b, "--steps", 4, "--out", tmp_path / "i")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "i").iterdir()) == sorted(
        f"interp_{k:02d}.{ext}" for k in range(4) for ext in ("mid", "png"))
    code, out, err = run(capsys, "music", "reconstruct", ckpt, a, "--out", tmp_path / "r")
    assert code == 0, err
    stem = a.stem
    for name in (f"{stem}_input", f"{stem}_reconstruction"):
        assert (tmp_path / "r" / f"{name}.mid").is_file() and (tmp_path / "r" / f"{name}.png").is_file()
    assert "accuracy" in out


def test_bad_midi_is_one_line_exit_2(trained, capsys, tmp_path):
    _, _, ckpt, a, _ = trained
    corrupt = tmp_path / "corrupt.mid"
    corrupt.write_bytes(b"MThd garbage")
    short = write_midi(tmp_path / "short.mid", scale_notes(1))          # one bar: no 2-bar window
    waltz = write_midi(tmp_path / "waltz.mid", scale_notes(4), time_signatures=((0, 3, 4),))
    out = tmp_path / "out"
    cases = [(("reconstruct", ckpt, tmp_path / "missing.mid"), "missing.mid"),
             (("reconstruct", ckpt, corrupt), "corrupt.mid"),
             (("reconstruct", ckpt, short), "no usable 2-bar window"),
             (("interpolate", ckpt, a, waltz), "waltz.mid"),
             (("interpolate", ckpt, a, a, "--steps", 1), "--steps")]
    for argv, word in cases:
        code, _, err = run(capsys, "music", *argv, "--out", out)
        assert_user_error(code, err, word)
    assert not out.exists()                                               # nothing half-written
    code, _, err = run(capsys, "music", "sample", tmp_path / "nope.pt", "--out", out)
    assert_user_error(code, err, "nope.pt")
