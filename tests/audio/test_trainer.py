"""WaveGAN trainer on the shared loop (a step moves both networks; killed and resumed equals uninterrupted) and
`seqgan audio train|sample` (WAV files out, one-line errors for bad input)."""

import pytest
import torch

from seqgan.audio.data import load_wav_folder
from seqgan.audio.trainer import PRESETS, WaveGANConfig, WaveGANTrainer
from seqgan.audio.wav import AudioError, read_wav
from seqgan.config import from_dict
from seqgan.trainers.loop import LAST

from tests.test_cli import assert_user_error, run
from tests.trainers.common import assert_resume_equals_uninterrupted, snapshot_networks

from .helpers import tone, write_pcm


def tiny(**kw):
    return from_dict(WaveGANConfig, {**PRESETS["tiny"], **kw})


def test_a_step_changes_both_networks(data):
    tr = WaveGANTrainer(tiny(), data)
    g0 = [p.detach().clone() for p in tr.generator.parameters()]
    d0 = {n: p.detach().clone() for n, p in tr.discriminator.named_parameters()}
    logs = tr._step(0)
    assert set(logs) == {"d_loss", "gp", "w_dist", "g_loss"}
    assert all(not torch.equal(a, b) for a, b in zip(g0, tr.generator.parameters()))
    # every critic parameter but the output bias, which cancels in E[D(fake)] - E[D(real)] and the penalty
    moved = {n for n, p in tr.discriminator.named_parameters() if not torch.equal(d0[n], p)}
    assert moved == set(d0) - {"out.bias"}
    assert tr.g_opt.param_groups[0]["betas"] == (0.5, 0.9) and tr.g_opt.param_groups[0]["lr"] == 1e-4


def test_paper_defaults():
    c = WaveGANConfig()
    assert (c.model_size, c.latent_dim, c.phase_shuffle, c.gp_lambda, c.d_steps, c.batch_size) == (64, 100, 2, 10.0, 5, 64)
    assert (c.lr, c.beta1, c.beta2, c.slice_len, c.sample_rate) == (1e-4, 0.5, 0.9, 16384, 16000)


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, data):
    full = assert_resume_equals_uninterrupted(lambda **kw: WaveGANTrainer(tiny(steps=4, **kw), data), tmp_path,
                                              method="_step", step=2)
    assert set(snapshot_networks(full)) == {"generator", "discriminator"}


def test_conditional_needs_labels(tmp_path, data):
    tr = WaveGANTrainer(tiny(conditional=True), data)
    tr._step(0)
    assert tr.sample(3, torch.tensor([0, 1, 2])).shape == (3, 1, 16384)
    write_pcm(tmp_path / "speech.wav", tone(300, 8000, 100), 8000)
    with pytest.raises(AudioError, match="label"):
        WaveGANTrainer(tiny(conditional=True), load_wav_folder(tmp_path))


def test_cli_train_then_sample_wav_files(tmp_path, folder, capsys):
    run_dir = tmp_path / "run"
    code, out, err = run(capsys, "audio", "train", "wavegan", "--preset", "tiny", "--corpus", folder,
                         "--slice", "16384", "--conditional", "true", "--out-dir", run_dir, "--quiet")
    assert code == 0, err
    assert "w_dist" in out and (run_dir / LAST).is_file()
    code, out, err = run(capsys, "audio", "sample", run_dir / LAST, "-n", "3", "--digit", "7", "--out",
                         tmp_path / "wavs")
    assert code == 0, err
    files = sorted((tmp_path / "wavs").glob("*.wav"))
    assert [f.name for f in files] == ["digit7_000.wav", "digit7_001.wav", "digit7_002.wav"]
    x, info = read_wav(files[0])
    assert (info.sample_rate, info.channels, info.frames) == (16000, 1, 16384)
    # a second run in the same folder is refused (it would overwrite the first)
    code, out, err = run(capsys, "audio", "train", "wavegan", "--preset", "tiny", "--corpus", folder,
                         "--out-dir", run_dir, "--quiet")
    assert_user_error(code, err, "--resume")
    code, out, err = run(capsys, "audio", "sample", run_dir / LAST, "-n", "2", "--digit", "12", "--out", tmp_path / "x")
    assert_user_error(code, err, "--digit")


def test_cli_bad_input_is_one_line(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    code, _, err = run(capsys, "audio", "train", "wavegan", "--preset", "tiny", "--corpus", tmp_path / "empty",
                       "--out-dir", tmp_path / "r1", "--quiet")
    assert_user_error(code, err, "holds no .wav files")
    assert not (tmp_path / "r1" / LAST).exists()
    code, _, err = run(capsys, "audio", "train", "wavegan", "--preset", "tiny", "--slice", "16000",
                       "--out-dir", tmp_path / "r2", "--quiet")
    assert_user_error(code, err, "slice_len", "16384")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    code, _, err = run(capsys, "audio", "sample", tmp_path / "junk.pt", "--out", tmp_path / "o")
    assert_user_error(code, err, "junk.pt")
    assert not (tmp_path / "o").exists()
