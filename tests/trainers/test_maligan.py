"""MaliGAN: the generator loss by hand, each phase trains what it should, resume is exact, `seqgan train maligan`."""
import dataclasses
import json
import math

import pytest
import torch

from seqgan import checkpoint, losses
from seqgan.cli import main
from seqgan.config import ConfigError, build, from_dict
from seqgan.trainers import ALGORITHMS
from seqgan.trainers.loop import LAST
from seqgan.trainers.maligan import (PRESETS, MaliGANConfig, MaliGANTrainer, maligan_loss, maligan_weights,
                                     sequence_log_probs)

# short runs: one MLE epoch, one D-pretraining round, two adversarial epochs, small evaluations
FAST = dict(mle_epochs=1, adv_epochs=2, n_eval_samples=32, n_test=64)
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot


def tiny(**overrides):
    return from_dict(MaliGANConfig, {**PRESETS["tiny"], **FAST, **overrides})


def test_loss_by_hand():
    d = torch.tensor([0.5, 0.8, 0.2, 0.9])
    log_p = torch.tensor([-3.0, -5.0, -2.0, -7.0], requires_grad=True)
    # r = D / (1 - D) = 1, 4, 1/4, 9; sum 57/4; w = 4/57, 16/57, 1/57, 36/57; b = 1/m = 1/4
    w = torch.tensor([4 / 57, 16 / 57, 1 / 57, 36 / 57], dtype=torch.float64)
    torch.testing.assert_close(maligan_weights(d), w, rtol=1e-6, atol=0)
    loss = maligan_loss(log_p, d)
    # -sum_i (w_i - 1/4) log p_i = (4*3 + 16*5 + 1*2 + 36*7) / 57 - (3 + 5 + 2 + 7) / 4 = 346/57 - 17/4
    assert loss.item() == pytest.approx(346 / 57 - 17 / 4, rel=1e-6)
    loss.backward()
    torch.testing.assert_close(log_p.grad, -(w - 0.25).float())  # the paper's gradient, sum_i (w_i - b) grad log p
    assert log_p.grad.sum().abs() < 1e-6  # the advantages sum to zero


def test_loss_clamps_a_saturated_discriminator_and_checks_shapes():
    d = torch.tensor([0.0, 1.0, 0.5])
    w = maligan_weights(d, eps=1e-3)
    r = torch.tensor([1e-3 / (1 - 1e-3), (1 - 1e-3) / 1e-3, 1.0], dtype=torch.float64)
    torch.testing.assert_close(w, r / r.sum())
    assert math.isfinite(maligan_loss(torch.tensor([-1.0, -2.0, -3.0]), d).item())
    assert maligan_loss(torch.tensor([-4.0]), torch.tensor([0.7])).item() == 0  # m = 1: w = b = 1
    with pytest.raises(ValueError, match="m,"):
        maligan_loss(torch.zeros(3), torch.zeros(4))


def test_loss_is_a_sequence_reward_on_every_real_token():
    torch.manual_seed(0)
    logits = torch.randn(3, 5, 7, requires_grad=True)
    tokens = torch.randint(0, 7, (3, 5))
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 0, 0, 0], [1, 1, 1, 1, 0]], dtype=torch.bool)
    d = torch.tensor([0.3, 0.6, 0.9])
    by_hand = torch.log_softmax(logits, -1).gather(-1, tokens[..., None]).squeeze(-1)
    torch.testing.assert_close(sequence_log_probs(logits, tokens, mask), (by_hand * mask).sum(1))
    advantage = (maligan_weights(d) - 1 / 3).float()
    pg = losses.policy_gradient(logits, tokens, advantage[:, None].expand(3, 5), mask)
    torch.testing.assert_close(maligan_loss(sequence_log_probs(logits, tokens, mask), d), pg)


def test_config_and_registration():
    assert ALGORITHMS["maligan"].config is MaliGANConfig and ALGORITHMS["maligan"].trainer is MaliGANTrainer
    assert set(PRESETS) >= {"tiny", "paper"}
    for name in PRESETS:
        build(MaliGANConfig, PRESETS, name, None, {})
    assert MaliGANConfig().out_dir == "runs/maligan"
    with pytest.raises(ConfigError, match="d_clamp"):
        from_dict(MaliGANConfig, {"d_clamp": 0.5})


def test_each_phase_updates_what_it_should():
    tr = MaliGANTrainer(tiny(adv_d_rounds=0))
    assert [p.name for p in tr.phases()] == ["mle", "d_pretrain", "adversarial"]
    r0 = snapshot(tr.rollout.model)
    g0, d0 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._mle_epoch(0)
    assert set(changed(g0, tr.generator)) == set(g0) and not changed(d0, tr.discriminator)

    g1, d1 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._d_pretrain_round(0)
    assert not changed(g1, tr.generator) and set(changed(d1, tr.discriminator)) == set(d1)

    g2, d2 = snapshot(tr.generator), snapshot(tr.discriminator)  # the MaliGAN generator step alone
    logs = tr._adversarial_epoch(0)
    assert set(changed(g2, tr.generator)) == set(g2) and not changed(d2, tr.discriminator)
    assert 0 < logs["mean_d"] < 1 and 1 <= logs["ess"] <= tr.config.batch_size and math.isfinite(logs["mali_loss"])

    tr.config = dataclasses.replace(tr.config, adv_g_steps=0, adv_d_rounds=1)  # the adversarial D round alone
    g3, d3 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._adversarial_epoch(1)
    assert not changed(g3, tr.generator) and set(changed(d3, tr.discriminator)) == set(d3)
    assert not changed(r0, tr.rollout.model)  # no rollouts in basic MaliGAN


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: MaliGANTrainer(tiny(**kw)), tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in lines if r["kind"] == "train"] == ["mle", "d_pretrain", "adversarial", "adversarial"]


def test_cli_train_maligan(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(["train", "maligan", "--preset", "tiny", "--quiet", "--out-dir", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert math.isfinite(json.loads(out.strip().splitlines()[-1])["nll_oracle"])
    saved = checkpoint.load(out_dir / LAST, algorithm="maligan")
    assert saved["progress"]["phase"] == 3 and saved["config"]["d_clamp"] == 1e-6
