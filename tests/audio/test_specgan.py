"""SpecGAN: the paper's 2-D DCGAN shapes, a training step on the shared WaveGAN trainer, exact resume, and the
normalisation statistics travelling in the checkpoint to `seqgan audio sample`."""
import pytest
import torch

from seqgan import checkpoint
from seqgan.audio.specgan import SpecGANDiscriminator, SpecGANGenerator
from seqgan.audio.spectral import log_magnitude
from seqgan.audio.trainer import SPEC_PRESETS, SpecGANConfig, SpecGANTrainer
from seqgan.audio.wav import read_wav
from seqgan.config import ConfigError, from_dict
from seqgan.trainers.loop import LAST, fit

from tests.test_cli import assert_user_error, run
from tests.trainers.common import assert_resume_equals_uninterrupted


def tiny(**kw):
    return from_dict(SpecGANConfig, {**SPEC_PRESETS["tiny"], **kw})


def test_paper_shapes_at_model_size_64():
    g, d = SpecGANGenerator(), SpecGANDiscriminator()
    assert g.dense.out_features == 4 * 4 * 1024
    assert [l.out_channels for l in g.layers] == [512, 256, 128, 64, 1]
    assert all(l.kernel_size == (5, 5) and l.stride == (2, 2) for l in g.layers)
    assert [c.out_channels for c in d.convs] == [64, 128, 256, 512, 1024] and d.out.in_features == 4 * 4 * 1024
    assert all(c.kernel_size == (5, 5) and c.stride == (2, 2) for c in d.convs)


def test_small_models_map_z_to_128_by_128_and_back_to_a_score():
    torch.manual_seed(0)
    g, d = SpecGANGenerator(8, 2, num_classes=10), SpecGANDiscriminator(2, num_classes=10)
    x = g(torch.randn(3, 8), torch.tensor([0, 4, 9]))
    assert x.shape == (3, 1, 128, 128) and x.abs().max() < 1
    assert d(x, torch.tensor([0, 4, 9])).shape == (3,)
    with pytest.raises(ValueError, match="needs labels"):
        d(x)


def test_trainer_normalises_the_training_spectrograms(data):
    tr = SpecGANTrainer(tiny(), data)
    logs = log_magnitude(data.audio)
    assert tr.examples.shape == (len(data), 1, 128, 128)
    assert torch.allclose(tr.norm.mean.flatten(), logs.double().mean(dim=(0, 1, 3)).float(), atol=1e-4)
    assert tr.examples.min() >= -1 and tr.examples.max() <= 1


def test_a_step_changes_both_networks(data):
    tr = SpecGANTrainer(tiny(), data)
    g0 = {n: p.detach().clone() for n, p in tr.generator.named_parameters()}
    d0 = {n: p.detach().clone() for n, p in tr.discriminator.named_parameters()}
    logs = tr._step(0)
    assert set(logs) == {"d_loss", "gp", "w_dist", "g_loss"}
    assert all(not torch.equal(g0[n], p) for n, p in tr.generator.named_parameters())
    moved = {n for n, p in tr.discriminator.named_parameters() if not torch.equal(d0[n], p)}
    assert moved == set(d0) - {"out.bias"}        # the output bias cancels in the WGAN-GP loss


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path, data):
    full = assert_resume_equals_uninterrupted(lambda **kw: SpecGANTrainer(tiny(steps=4, **kw), data), tmp_path,
                                              method="_step", step=2)
    saved = checkpoint.load(tmp_path / "full" / LAST)["state"]["spec_norm"]
    assert torch.equal(saved["mean"], full.norm.mean.flatten())


def test_sampling_from_a_checkpoint_alone_equals_the_trainer(tmp_path, data):
    from seqgan.audio_command import load_for_sampling
    tr = SpecGANTrainer(tiny(steps=2), data)
    fit(tr, tmp_path / "run")
    again = load_for_sampling(str(tmp_path / "run" / LAST))
    assert again.data is None and torch.equal(again.norm.std, tr.norm.std)
    a = tr.sample(2, rng=torch.Generator().manual_seed(5))
    b = again.sample(2, rng=torch.Generator().manual_seed(5))
    assert a.shape == (2, 1, 16384) and torch.allclose(a, b)


def test_specgan_config_refuses_what_it_cannot_do():
    with pytest.raises(ConfigError, match="16384"):
        tiny(slice_len=32768)
    with pytest.raises(ConfigError, match="phase_shuffle"):
        tiny(phase_shuffle=2)


def test_cli_train_sample_writes_wavs_and_a_grid(tmp_path, folder, capsys):
    run_dir = tmp_path / "run"
    code, out, err = run(capsys, "audio", "train", "specgan", "--preset", "tiny", "--corpus", folder,
                         "--conditional", "true", "--out-dir", run_dir, "--quiet")
    assert code == 0, err
    assert "w_dist" in out
    code, out, err = run(capsys, "audio", "sample", run_dir / LAST, "-n", "3", "--digit", "2", "--out",
                         tmp_path / "clips")
    assert code == 0, err
    files = sorted(p.name for p in (tmp_path / "clips").iterdir())
    assert files == ["digit2_000.wav", "digit2_001.wav", "digit2_002.wav", "grid.png"]
    assert (tmp_path / "clips" / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    x, info = read_wav(tmp_path / "clips" / "digit2_000.wav")
    assert (info.sample_rate, info.frames) == (16000, 16384)
    code, _, err = run(capsys, "audio", "train", "specgan", "--preset", "tiny", "--phase-shuffle", "2",
                       "--out-dir", tmp_path / "bad", "--quiet")
    assert_user_error(code, err, "phase_shuffle")
