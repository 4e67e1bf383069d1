"""MusicVAE trainer on the shared loop: the loss falls, evaluation is in range, resume equals an uninterrupted run."""
import dataclasses

import pytest
import torch

from seqgan import checkpoint
from seqgan.config import ConfigError, from_dict
from seqgan.music.dataset import MusicCorpus
from seqgan.music.train import MusicVAEConfig, MusicVAETrainer
from seqgan.trainers.loop import LAST, fit


def melody_corpus(bars=2, n_train=24, n_test=6) -> MusicCorpus:
    """Windows of eighth notes on a few scales (note-on, no-event, ...): learnable in a few steps."""
    steps = bars * 16
    rows = []
    for i in range(n_train + n_test):
        base = 40 + (i % 6) * 2
        row = []
        for s in range(steps):
            row.append(base + (s // 2) % 8 if s % 2 == 0 else 1)
        rows.append(row)
    x = torch.tensor(rows, dtype=torch.long)
    return MusicCorpus("synthetic", bars, x[:n_train], x[n_train:], {"files_used": 0})


def tiny_config(tmp_path, **kw) -> MusicVAEConfig:
    base = dict(bars=2, emb_dim=8, enc_hidden=16, z_dim=8, conductor_hidden=16, dec_hidden=16, batch_size=8,
                steps=6, eval_every=3, eval_windows=0, kl_anneal_steps=4, checkpoint_every=1, free_bits=2.0,
                out_dir=str(tmp_path / "run"))
    base.update(kw)
    return MusicVAEConfig(**base)


def test_config_validation():
    with pytest.raises(ConfigError, match="bars must be 2 or 16"):
        from_dict(MusicVAEConfig, {"bars": 4})
    with pytest.raises(ConfigError, match="decoder"):
        from_dict(MusicVAEConfig, {"decoder": "deep"})


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
def test_tiny_training_lowers_the_loss(tmp_path, decoder):
    cfg = tiny_config(tmp_path, decoder=decoder, steps=40, lr=1e-2, transpose=False, batch_size=24)
    trainer = MusicVAETrainer(cfg, melody_corpus())
    before = trainer.evaluate()
    first = trainer.train_step(0)
    for i in range(1, 40):
        last = trainer.train_step(i)
    assert last["recon"] < 0.5 * first["recon"]
    ev = trainer.evaluate()
    assert 0 <= ev["acc_sampled"] <= 1 and 0 <= ev["acc_teacher_forced"] <= 1
    assert ev["acc_teacher_forced"] >= 0.5 > before["acc_teacher_forced"]
    assert ev["eval_windows"] == 6


def test_temperature_one_accuracy_is_seeded_and_meets_greedy_on_a_peaked_decoder(tmp_path):
    trainer = MusicVAETrainer(tiny_config(tmp_path, decoder="hierarchical"), melody_corpus())
    first, again = trainer.evaluate(), trainer.evaluate()
    assert first == again                                  # the temperature-1 draws come from a private seed
    assert 0 <= first["acc_sampled_t1"] <= 1
    with torch.no_grad():                                  # an untrained decoder samples near-uniformly at T = 1
        assert first["acc_sampled_t1"] < first["acc_sampled"] or first["acc_sampled"] < 0.05
        trainer.model.decoder.output.weight.mul_(1e4)      # a near one-hot softmax: sampling is the argmax
        trainer.model.decoder.output.bias.mul_(1e4)
    peaked = trainer.evaluate()
    assert peaked["acc_sampled_t1"] == peaked["acc_sampled"]


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
def test_accuracy_by_bar_averages_to_evaluate(tmp_path, decoder):
    trainer = MusicVAETrainer(tiny_config(tmp_path, decoder=decoder), melody_corpus())
    for i in range(5):
        trainer.train_step(i)
    total, by_bar = trainer.evaluate(), trainer.accuracy_by_bar()
    for mode in ("acc_teacher_forced", "acc_sampled", "acc_sampled_t1"):
        assert len(by_bar[mode]) == 2
        assert sum(by_bar[mode]) / 2 == pytest.approx(total[mode], abs=1e-12), mode


class Interrupted(Exception):
    pass


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
def test_resume_equals_uninterrupted(tmp_path, decoder):
    kw = dict(decoder=decoder, ss_rate=2.0, transpose=True)
    full = MusicVAETrainer(tiny_config(tmp_path / "a", **kw), melody_corpus())
    fit(full, tmp_path / "a")

    cfg = tiny_config(tmp_path / "b", **kw)
    killed = MusicVAETrainer(cfg, melody_corpus())
    step = killed.train_step

    def dies_at_4(i):
        if i == 4:
            raise Interrupted
        return step(i)

    killed.train_step = dies_at_4
    with pytest.raises(Interrupted):
        fit(killed, tmp_path / "b")
    torch.manual_seed(12345)                            # the global RNG is restored from the checkpoint
    resumed = MusicVAETrainer(cfg, melody_corpus())
    result = fit(resumed, tmp_path / "b", resume=True)
    for k, v in full.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    a = (tmp_path / "a" / "metrics.jsonl").read_text().splitlines()
    b = (tmp_path / "b" / "metrics.jsonl").read_text().splitlines()
    assert len(a) == len(b)
    assert result["acc_sampled"] == full.evaluate()["acc_sampled"]
    payload = checkpoint.load(tmp_path / "b" / LAST, algorithm="music_vae")
    assert payload["progress"]["global_step"] == 6
    assert payload["config"]["decoder"] == decoder


def test_sample_through_engine_is_seeded(tmp_path):
    trainer = MusicVAETrainer(tiny_config(tmp_path), melody_corpus())
    a = trainer.sample(3, rng=torch.Generator().manual_seed(0))
    b = trainer.sample(3, rng=torch.Generator().manual_seed(0))
    assert a.shape == (3, 32) and torch.equal(a, b)
    with pytest.raises(ConfigError, match="16-bar"):
        MusicVAETrainer(dataclasses.replace(tiny_config(tmp_path), bars=2), melody_corpus(bars=16))
