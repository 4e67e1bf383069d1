"""`seqgan audio classifier train`, `seqgan audio score DIR` and `seqgan audio plot DIR`: outputs and one-line
errors for bad input."""
import json

import pytest

from tests.test_cli import assert_user_error, run

from .helpers import digit_folder, tone, write_pcm


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return digit_folder(tmp_path_factory.mktemp("wavs"), n_per_digit=2, digits=(0, 1, 2), n=4000)


@pytest.fixture(scope="module")
def clf(folder, tmp_path_factory):
    import contextlib
    import io

    from seqgan.cli import main
    path = tmp_path_factory.mktemp("clf") / "clf.pt"
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        code = main(["audio", "classifier", "train", "--corpus", str(folder), "--epochs", "2", "--channels", "2",
                     "--n-mels", "16", "--batch-size", "3", "--out", str(path), "--quiet"])
    assert code == 0 and path.is_file()
    return path


def test_score_prints_inception_score_and_neighbour_distances(tmp_path, folder, clf, capsys):
    code, out, err = run(capsys, "audio", "score", folder, "--classifier", clf, "--reference", folder,
                         "--splits", "2", "--json", tmp_path / "s.json")
    assert code == 0, err
    result = json.loads(out)
    assert result["clips"] == 6 and result["splits"] == 2
    assert 1.0 <= result["inception_score"] <= 10.0
    assert result["nn_train"] == pytest.approx(0.0, abs=1e-6)     # the scored clips are the reference clips
    assert result["nn_self"] == pytest.approx(0.0, abs=1e-6)      # each digit's two files hold the same tone
    assert sum(result["predicted_digits"]) == 6
    assert json.loads((tmp_path / "s.json").read_text()) == result


@pytest.mark.parametrize("make, words", [
    (lambda p: None, ["holds no .wav files"]),
    (lambda p: (p / "notes.txt").write_text("x"), ["holds no .wav files", "1 other files"]),
    (lambda p: [write_pcm(p / f"{i}_a.wav", tone(300, 8000, 100), 8000) for i in range(3)]
     + [(p / "9_bad.wav").write_bytes(b"not a wav at all")], ["9_bad.wav", "not a WAV file"]),
    (lambda p: [write_pcm(p / f"{i}_a.wav", tone(300, 8000, 100), 8000) for i in range(3)],
     ["3 WAV file(s)", "--splits"]),
])
def test_score_bad_folders_are_one_line(tmp_path, clf, capsys, make, words):
    bad = tmp_path / "bad"
    bad.mkdir()
    make(bad)
    code, out, err = run(capsys, "audio", "score", bad, "--classifier", clf, "--reference", "none",
                         "--json", tmp_path / "s.json")
    assert_user_error(code, err, *words)
    assert out == "" and not (tmp_path / "s.json").exists()


def test_score_with_a_missing_or_foreign_classifier(tmp_path, folder, capsys):
    code, _, err = run(capsys, "audio", "score", folder, "--classifier", tmp_path / "nope.pt", "--reference",
                       "none", "--splits", "2")
    assert_user_error(code, err, "nope.pt", "not found")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    code, _, err = run(capsys, "audio", "score", folder, "--classifier", tmp_path / "junk.pt", "--reference",
                       "none", "--splits", "2")
    assert_user_error(code, err, "junk.pt")


def test_plot_writes_a_png(tmp_path, folder, capsys):
    code, out, err = run(capsys, "audio", "plot", folder, "--out", tmp_path / "g.png", "--max", "4")
    assert code == 0, err
    assert "4 clips" in out and (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG"
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "audio", "plot", tmp_path / "empty", "--out", tmp_path / "e.png")
    assert_user_error(code, err, "holds no .wav files")
    assert not (tmp_path / "e.png").exists()
