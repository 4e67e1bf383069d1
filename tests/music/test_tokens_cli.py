"""SeqGAN on melody tokens through the CLI: train, sample (text and MIDI), eval, tokens-to-midi, bad input."""
import json

import pytest
import torch

from seqgan.cli import main
from seqgan.music.dataset import is_test_piece
from seqgan.music.melody import encode, quantize_notes
from seqgan.music.midi import read_midi
from seqgan.music.tokens import TOKEN_NAMES, events_to_tokens
from tests.music.helpers import scale_notes, write_midi
from tests.test_cli import assert_user_error, run

SPECIALS = ("<unk>",)   # `seqgan sample` skips PAD/BOS and stops at EOS; UNK is written


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny SeqGAN run on `nottingham_melody` read from a fixture data directory of 8 small tunes."""
    root = tmp_path_factory.mktemp("seqgan_melody")
    folder = root / "data" / "nottingham" / "MIDI" / "melody"
    folder.mkdir(parents=True)
    names = [f"tune{i}.mid" for i in range(200)]
    chosen = [n for n in names if not is_test_piece(n)][:6] + [n for n in names if is_test_piece(n)][:2]
    for k, name in enumerate(chosen):
        write_midi(folder / name, scale_notes(4, base=55 + k))
    mp = pytest.MonkeyPatch()
    mp.setenv("SEQGAN_DATA", str(root / "data"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        code = main(["train", "seqgan", "--corpus", "nottingham_melody", "--preset", "tiny", "--quiet",
                     "--out-dir", str(root / "run")])
    finally:
        torch.set_num_threads(before)
    assert code == 0
    yield root / "run" / "last.pt"
    mp.undo()


def test_train_evaluates_bleu_on_melody_tokens(trained):
    evals = [json.loads(x) for x in (trained.parent / "metrics.jsonl").read_text().splitlines()]
    last = [e for e in evals if e["kind"] == "eval"][-1]
    assert last["phase"] == "adversarial" and 0 < last["bleu4"] <= 1 and last["nll_test"] > 0


def test_sample_writes_32_melody_tokens_per_line(trained, capsys, tmp_path):
    code, out, err = run(capsys, "sample", trained, "-n", 5, "--seed", 3)
    assert code == 0, err
    lines = out.splitlines()
    assert len(lines) == 5
    for line in lines:
        tokens = line.split()
        assert len(tokens) <= 32 and set(tokens) <= set(TOKEN_NAMES) | set(SPECIALS)
    code, _, err = run(capsys, "sample", trained, "-n", 5, "--seed", 3, "--out", tmp_path / "s.txt")
    assert (tmp_path / "s.txt").read_text() == out

    # the lines become MIDI files whose melodies read back as the same tokens
    code, out, err = run(capsys, "music", "tokens-to-midi", tmp_path / "s.txt", "--out", tmp_path / "midi")
    assert code == 0, err
    for k, line in enumerate(lines):
        tokens = ["hold" if t in SPECIALS else t for t in line.split()]
        if not tokens:   # a sample that began with EOS: a blank line, no file
            assert not (tmp_path / "midi" / f"melody_{k:03d}.mid").exists()
            continue
        midi = read_midi(tmp_path / "midi" / f"melody_{k:03d}.mid")
        back = events_to_tokens(encode(quantize_notes(midi.notes, midi.ticks_per_beat), len(tokens)))
        # a leading "off" ends nothing: it reads back as "hold" (seqgan.music.melody.canonical)
        assert back[1:] == tokens[1:] and back[0] in (tokens[0], "hold")
        assert (tmp_path / "midi" / f"melody_{k:03d}.png").read_bytes()[:4] == b"\x89PNG"


def test_music_sample_accepts_a_seqgan_melody_checkpoint(trained, capsys, tmp_path):
    code, out, err = run(capsys, "music", "sample", trained, "-n", 2, "--seed", 1, "--out", tmp_path / "m")
    assert code == 0, err
    first = (tmp_path / "m" / "sample_000.mid").read_bytes()
    assert read_midi(tmp_path / "m" / "sample_000.mid").ticks_per_beat > 0
    assert (tmp_path / "m" / "sample_001.png").is_file()
    run(capsys, "music", "sample", trained, "-n", 2, "--seed", 1, "--out", tmp_path / "again")
    assert (tmp_path / "again" / "sample_000.mid").read_bytes() == first   # seeded


def test_eval_reports_bleu(trained, capsys):
    code, out, err = run(capsys, "eval", trained, "-n", 20)
    assert code == 0, err
    assert "bleu4\t" in out and "nll_test\t" in out


def test_music_eval_reports_bleu_and_mse(trained, capsys, tmp_path):
    code, out, err = run(capsys, "music", "eval", trained, "-n", 30, "--json", tmp_path / "e.json")
    assert code == 0, err
    report = json.loads((tmp_path / "e.json").read_text())
    assert report["n_hypotheses"] == 30 and report["n_references"] == 6
    assert 0 < report["bleu4"] <= 1 and report["mse"] >= 0 and report["protocol"].startswith("BLEU-n")
    assert f"mse\t{report['mse']:.4f}" in out


def test_bad_token_file_is_one_line_and_writes_nothing(capsys, tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_text("C4 hold hold hold\nC4 hold H9 hold\n")
    code, _, err = run(capsys, "music", "tokens-to-midi", bad, "--out", tmp_path / "out")
    assert_user_error(code, err, "bad.txt, line 2", "'H9'")
    assert not (tmp_path / "out").exists()
    code, _, err = run(capsys, "music", "tokens-to-midi", tmp_path / "missing.txt", "--out", tmp_path / "out")
    assert_user_error(code, err, "missing.txt")


def test_music_sample_refuses_a_text_checkpoint(capsys, tmp_path):
    code, _, err = run(capsys, "train", "seqgan", "--preset", "tiny", "--quiet", "--mle-epochs", 1,
                       "--d-pretrain-rounds", 0, "--adv-epochs", 0, "--out-dir", tmp_path / "oracle")
    assert code == 0, err
    code, _, err = run(capsys, "music", "sample", tmp_path / "oracle" / "last.pt", "--out", tmp_path / "m")
    assert_user_error(code, err, "not on melody tokens", "seqgan sample")
    assert not (tmp_path / "m").exists()
