"""RankGAN: rank scores and the ranker loss by hand, each phase trains what it should, resume is exact,
`seqgan train rankgan`."""
import dataclasses
import json
import math

import pytest
import torch

from seqgan import checkpoint
from seqgan.cli import main
from seqgan.config import ConfigError, build, from_dict
from seqgan.discriminators.ranker import CNNRanker, RankReward, log_rank_scores, rank_scores, relevance
from seqgan.rollout.engine import RolloutEngine
from seqgan.trainers import ALGORITHMS
from seqgan.trainers.loop import LAST
from seqgan.trainers.rankgan import PRESETS, RankGANConfig, RankGANTrainer, ranker_loss
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot

# short runs: one MLE epoch, one ranker-pretraining round, two adversarial epochs, small evaluations
FAST = dict(mle_epochs=1, adv_epochs=2, n_eval_samples=32, n_test=64)


def tiny(**overrides):
    return from_dict(RankGANConfig, {**PRESETS["tiny"], **FAST, **overrides})


def test_rank_scores_by_hand():
    refs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])                 # U = {u1, u2}
    comparison = torch.tensor([[1.0, 0.0], [0.0, 2.0]])           # C = {c1, c2}: cos(c1, u) = 1, 0; cos(c2, u) = 0, 1
    candidates = torch.tensor([[3.0, 4.0], [-1.0, 0.0]])          # cos(s1, u) = 0.6, 0.8; cos(s2, u) = -1, 0
    gamma = 2.0
    e = math.exp
    # P(s|u, C) = exp(g a(s|u)) / (exp(g a(s|u)) + exp(g a(c1|u)) + exp(g a(c2|u))); R = mean over u1, u2
    r1 = (e(1.2) / (e(1.2) + e(2) + e(0)) + e(1.6) / (e(1.6) + e(0) + e(2))) / 2
    r2 = (e(-2) / (e(-2) + e(2) + e(0)) + e(0) / (e(0) + e(0) + e(2))) / 2
    torch.testing.assert_close(relevance(candidates, refs), torch.tensor([[0.6, 0.8], [-1.0, 0.0]]))
    torch.testing.assert_close(rank_scores(candidates, refs, comparison, gamma), torch.tensor([r1, r2]))
    torch.testing.assert_close(log_rank_scores(candidates, refs, comparison, gamma), torch.tensor([r1, r2]).log())
    # each candidate is ranked against C alone: scoring row by row gives the same scores (chunking is harmless)
    one_by_one = torch.cat([rank_scores(candidates[i:i + 1], refs, comparison, gamma) for i in range(2)])
    torch.testing.assert_close(one_by_one, torch.tensor([r1, r2]))
    # a candidate equal to every member of C (one reference) shares the rank with them: 1 / (|C| + 1)
    assert rank_scores(torch.ones(1, 2), torch.ones(1, 2), torch.ones(3, 2), 5.0).item() == pytest.approx(0.25)
    # a huge gamma stays finite: a candidate more relevant than all of C ranks first (R -> 1), the others R -> 0
    big = rank_scores(torch.tensor([[1.0, 0.0], [0.0, 1.0]]), refs[:1], torch.tensor([[1.0, 1.0], [0.0, 1.0]]), 1e4)
    assert torch.isfinite(big).all() and big[0] == pytest.approx(1.0) and big[1] == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="empty"):
        rank_scores(candidates, refs, comparison[:0])


def test_ranker_loss_by_hand():
    r_human = torch.tensor([0.5, 0.25], requires_grad=True)
    r_machine = torch.tensor([0.2, 0.6])
    loss = ranker_loss(r_human.log(), r_machine.log())
    # -mean log R(human) - mean log(1 - R(machine))
    expected = -(math.log(0.5) + math.log(0.25)) / 2 - (math.log(0.8) + math.log(0.4)) / 2
    assert loss.item() == pytest.approx(expected, rel=1e-6)
    loss.backward()
    torch.testing.assert_close(r_human.grad, torch.tensor([-1 / (2 * 0.5), -1 / (2 * 0.25)]))
    assert math.isfinite(ranker_loss(torch.zeros(1), torch.zeros(1)).item())  # R(machine) = 1: clamped


def test_ranker_features_and_reward():
    torch.manual_seed(0)
    ranker = CNNRanker(11, 8, (1, 2), (3, 3), dropout=0.5, feature_dim=5)
    tokens = torch.randint(0, 11, (6, 4))
    assert ranker(tokens).shape == (6, 5)
    refs, comparison = torch.randint(0, 11, (3, 4)), torch.randint(0, 11, (4, 4))
    reward = RankReward(ranker, refs, comparison, 1.5)
    assert ranker.training  # mode restored
    ranker.eval()
    with torch.no_grad():
        expected = rank_scores(ranker(tokens), ranker(refs), ranker(comparison), 1.5)
    ranker.train()
    torch.testing.assert_close(reward(tokens), expected)
    assert ((0 < expected) & (expected < 1)).all()
    # through the engine: rewards are the same whatever the reward chunk
    policy = RankGANTrainer(tiny()).generator
    samples = torch.randint(0, policy.vocab_size, (3, 5))
    reward = RankReward(CNNRanker(policy.vocab_size, 8, (1, 2), (3, 3)), refs % policy.vocab_size,
                        comparison % policy.vocab_size, 1.0)
    a = RolloutEngine(reward_chunk=1).rewards(policy, samples, reward, 2, rng=torch.Generator().manual_seed(1))
    b = RolloutEngine(reward_chunk=1000).rewards(policy, samples, reward, 2, rng=torch.Generator().manual_seed(1))
    torch.testing.assert_close(a, b)


def test_config_and_registration():
    algo = ALGORITHMS["rankgan"]
    assert algo.config is RankGANConfig and algo.trainer is RankGANTrainer and algo.presets is PRESETS
    assert set(PRESETS) >= {"tiny", "paper"}
    for name in PRESETS:
        build(RankGANConfig, PRESETS, name, None, {})
    cfg = RankGANConfig()
    assert cfg.out_dir == "runs/rankgan" and cfg.gamma == 1.0
    for field, value in [("gamma", 0.0), ("ref_size", 0), ("comparison_size", 0), ("ranker_dim", 0)]:
        with pytest.raises(ConfigError, match=field):
            from_dict(RankGANConfig, {field: value})
    with pytest.raises(ConfigError, match="d_samples"):
        from_dict(RankGANConfig, {"comparison_size": 65, "d_samples": 64})
    with pytest.raises(ConfigError, match="training"):
        RankGANTrainer(tiny(ref_size=200, comparison_size=60, d_samples=64))


def test_each_phase_updates_what_it_should():
    tr = RankGANTrainer(tiny(adv_d_rounds=0))
    assert [p.name for p in tr.phases()] == ["mle", "d_pretrain", "adversarial"]
    assert isinstance(tr.ranker, CNNRanker) and tr.ranker is tr.discriminator
    g0, d0 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._mle_epoch(0)
    assert set(changed(g0, tr.generator)) == set(g0) and not changed(d0, tr.discriminator)

    g1, d1 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._d_pretrain_round(0)
    assert not changed(g1, tr.generator) and set(changed(d1, tr.discriminator)) == set(d1)
    assert math.isfinite(logs["d_loss"]) and 0 < logs["r_machine"] < 1 and 0 < logs["r_human"] < 1

    g2, d2, r2 = snapshot(tr.generator), snapshot(tr.discriminator), snapshot(tr.rollout.model)
    logs = tr._adversarial_epoch(0)  # the generator step alone (and the rollout policy update)
    assert set(changed(g2, tr.generator)) == set(g2) and not changed(d2, tr.discriminator)
    assert changed(r2, tr.rollout.model)
    assert 0 < logs["mean_reward"] < 1 and 0 < logs["rank"] < 1 and math.isfinite(logs["pg_loss"])

    tr.config = dataclasses.replace(tr.config, adv_g_steps=0, adv_d_rounds=1)  # the adversarial ranker round alone
    g3, d3 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._adversarial_epoch(1)
    assert not changed(g3, tr.generator) and set(changed(d3, tr.discriminator)) == set(d3)
    assert "d_loss" in logs


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: RankGANTrainer(tiny(**kw)), tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in lines if r["kind"] == "train"] == ["mle", "d_pretrain", "adversarial", "adversarial"]


def test_cli_train_rankgan(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(["train", "rankgan", "--preset", "tiny", "--quiet", "--out-dir", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert math.isfinite(json.loads(out.strip().splitlines()[-1])["nll_oracle"])
    saved = checkpoint.load(out_dir / LAST, algorithm="rankgan")
    assert saved["progress"]["phase"] == 3 and saved["config"]["gamma"] == 1.0 and saved["config"]["ref_size"] == 4
