"""LeakGAN: generator steps against slow recomputation, the engine against the slow loop, hand-computed rewards and
losses, a tiny run that trains manager, worker and discriminator, exact resume."""
import json
import math

import pytest
import torch
import torch.nn.functional as F

from seqgan.config import ConfigError, from_dict
from seqgan.discriminators.cnn import CNNDiscriminator
from seqgan.generators.leakgan import LeakGANGenerator
from seqgan.rollout.engine import DiscriminatorReward, RolloutEngine
from seqgan.rollout.policy import DelayedPolicy
from seqgan.rollout.reference import naive_rewards
from seqgan.trainers import leakgan as leakgan_module
from seqgan.trainers.leakgan import (PRESETS, LeakGANConfig, LeakGANTrainer, block_ends, block_rewards, centred,
                                     intrinsic_rewards, manager_loss, rescaled_activation, worker_advantage)
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot

V, T = 13, 6


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    yield


def tiny(**overrides):
    return from_dict(LeakGANConfig, {**PRESETS["tiny"], **overrides})


def model(step_size=3, cls=LeakGANGenerator, seed=0):
    torch.manual_seed(seed)
    disc = CNNDiscriminator(V, 6, (1, 2, 3), (3, 4, 5), dropout=0.5)
    gen = cls(V, T, 12, emb_dim=5, hidden_dim=7, manager_dim=6, goal_dim=4, step_size=step_size, start_token=0,
              init_std=0.5)
    gen.attach(disc)
    return gen.eval(), disc


def slow_logits(gen, disc, tokens):
    """Logits for every position by recomputing everything from scratch per step: D on each explicitly padded
    prefix, the LSTM cells one step at a time, the goal window summed in a loop, O built as a (V, k) matrix."""
    B, L = tokens.shape
    hw = cw = torch.zeros(B, gen.worker.hidden_size)
    hm = cm = torch.zeros(B, gen.manager.hidden_size)
    wcell, mcell = torch.nn.LSTMCell(5, 7), torch.nn.LSTMCell(12, 6)
    for cell, lstm in ((wcell, gen.worker), (mcell, gen.manager)):
        cell.load_state_dict({k[:-3]: v for k, v in lstm.state_dict().items()})
    goals, out = [], []
    x = torch.cat([torch.zeros(B, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    for t in range(L):
        prefix = torch.zeros(B, T, dtype=torch.long)  # pad_token 0
        prefix[:, :t] = tokens[:, :t]
        f = disc.features(prefix)
        hm, cm = mcell(f, (hm, cm))
        goals.append(F.normalize(gen.goal_out(hm), dim=-1))
        w = gen.psi(sum(goals[max(0, t - gen.step_size + 1): t + 1]))
        hw, cw = wcell(gen.embedding(x[:, t]), (hw, cw))
        # O[b, v, j] = sum_i W[i*k + j, v] h_i + b[j, v]
        Wt = gen.out_weight.view(-1, gen.goal_dim, V)             # (H, k, V)
        O = torch.einsum("bh,hkv->bvk", hw, Wt) + gen.out_bias.T  # (B, V, k)
        out.append(torch.einsum("bvk,bk->bv", O, w))
    return torch.stack(out, dim=1)


@torch.no_grad()
def test_incremental_steps_equal_full_pass_and_slow_recomputation():
    gen, disc = model()
    tokens = torch.randint(1, V, (3, T))
    full, goals, feats = gen.teacher_forced(tokens)
    state = gen.initial_state(3)
    inputs = torch.cat([torch.zeros(3, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    steps = []
    for t in range(T):
        logits, state = gen.step(inputs[:, t:t + 1], state)
        steps.append(logits[:, 0])
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(full, slow_logits(gen, disc, tokens), rtol=1e-4, atol=1e-4)
    # goals are unit vectors; the last feature is D's view of the whole sequence
    torch.testing.assert_close(goals.norm(dim=-1), torch.ones(3, T))
    torch.testing.assert_close(feats[:, -1], disc.features(tokens))
    # select() forks rows with their own prefixes and goal windows
    _, st = gen.step(inputs[:, :3], gen.initial_state(3))
    picked = gen.select(st, torch.tensor([2, 2, 0]))
    a, _ = gen.step(tokens[[2, 2, 0], 2:3], picked)
    torch.testing.assert_close(a[:, 0], full[[2, 2, 0], 3], rtol=1e-5, atol=1e-5)


def test_generator_parameters_exclude_the_discriminator_and_copies_share_it():
    gen, disc = model()
    names = dict(gen.named_parameters())
    assert not any(n.startswith("_leak") for n in names)
    assert set(map(id, gen.worker_parameters())) | set(map(id, gen.manager_parameters())) == set(
        map(id, gen.parameters()))
    policy = DelayedPolicy(gen)
    assert policy.model._leak is disc and len(list(policy.model.parameters())) == len(names)


class SharpLeakGAN(LeakGANGenerator):
    """A deterministic policy: one token takes all the mass in float32."""

    def project(self, outputs):
        logits = super().project(outputs)
        return (logits - logits.amax(-1, keepdim=True)) * 1e4


def test_engine_rewards_equal_slow_loop_under_deterministic_policy():
    gen, disc = model(cls=SharpLeakGAN, seed=3)
    reward = DiscriminatorReward(disc)
    tokens = torch.randint(1, V, (4, T))
    q = RolloutEngine(reward_chunk=7).rewards(gen, tokens, reward, 3, rng=torch.Generator().manual_seed(1))
    ref, _ = naive_rewards(gen, tokens, reward, 3, rng=torch.Generator().manual_seed(2))
    torch.testing.assert_close(q, ref, rtol=0, atol=1e-6)
    assert q[:, :-1].std() > 0


def test_rescaled_activation_by_hand():
    r = torch.tensor([[0.2, 5.0], [0.9, 1.0], [0.5, 1.0], [0.1, -3.0]])
    # column 0 ranks (1 = highest): 0.9 -> 1, 0.5 -> 2, 0.2 -> 3, 0.1 -> 4; column 1: 5.0, then the tie in row
    # order (row 1 before row 2), then -3.0
    ranks = torch.tensor([[3.0, 1.0], [1.0, 2.0], [2.0, 3.0], [4.0, 4.0]])
    expected = 1 / (1 + torch.exp(-12 * (0.5 - ranks / 4)))
    torch.testing.assert_close(rescaled_activation(r, 12.0), expected)
    assert rescaled_activation(r, 12.0)[1, 0].item() == pytest.approx(1 / (1 + math.exp(-12 * 0.25)))


def test_block_rewards_use_every_cth_column():
    assert block_ends(6, 4) == [3, 5] and block_ends(8, 4) == [3, 7] and block_ends(5, 1) == [0, 1, 2, 3, 4]
    q = torch.tensor([[0.0, 0, 0, 0.9, 0, 0.1], [0.0, 0, 0, 0.1, 0, 0.9]])
    out = block_rewards(q, 4, 12.0)
    hi, lo = 1 / (1 + math.exp(-12 * 0.0)), 1 / (1 + math.exp(-12 * -0.5))  # ranks 1 and 2 of B = 2
    torch.testing.assert_close(out, torch.tensor([[hi] * 4 + [lo] * 2, [lo] * 4 + [hi] * 2]))


def test_intrinsic_reward_and_manager_loss_by_hand():
    # one row, T = 3, c = 2, 2-d features and goals
    f = torch.tensor([[[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]])   # f_0..f_3
    g = torch.tensor([[[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]])              # g_0..g_2
    s = 1 / math.sqrt(2)
    # token y_1: cos(f1-f0, g0) = cos((1,0),(1,0)) = 1
    # token y_2: cos(f2-f1, g1) = cos((0,1),(0,1)) = 1;  cos(f2-f0, g0) = cos((1,1),(1,0)) = s
    # token y_3: cos(f3-f2, g2) = cos((-1,0),(-1,0)) = 1; cos(f3-f1, g1) = cos((-1,1),(0,1)) = s
    expected = torch.tensor([[1.0, 1 + s, 1 + s]]) / 2
    torch.testing.assert_close(intrinsic_rewards(f, g, 2), expected)
    # manager: t = 0..T-c = 0, 1: cos(f2-f0, g0) = s, cos(f3-f1, g1) = s; weights 0.5 and 2
    w = torch.tensor([[0.5, 2.0, 7.0]])
    assert manager_loss(f, g, w, 2).item() == pytest.approx(-(0.5 * s + 2 * s))
    assert manager_loss(f, g, w, 2, mask=torch.tensor([[True, False, True]])).item() == pytest.approx(-0.5 * s)
    # gradients reach the goals (manager) but never the weights
    g = g.clone().requires_grad_(True)
    w = w.clone().requires_grad_(True)
    manager_loss(f, g, w, 2).backward()
    assert g.grad.abs().sum() > 0 and w.grad is None


def test_centred_advantage_by_hand():
    r = torch.tensor([[1.0, 4.0], [3.0, 0.0], [5.0, 9.0]])
    # column means 3 and 13/3; with the last row masked out of column 1: mean 2 over rows 0-1, row 2 -> 0
    torch.testing.assert_close(centred(r), torch.tensor([[-2.0, -1 / 3], [0.0, -13 / 3], [2.0, 14 / 3]]))
    mask = torch.tensor([[True, True], [True, True], [True, False]])
    torch.testing.assert_close(centred(r, mask), torch.tensor([[-2.0, 2.0], [0.0, -2.0], [2.0, 0.0]]))
    # a fully masked column stays 0 instead of dividing by zero
    assert centred(r, torch.zeros(3, 2, dtype=torch.bool)).abs().sum() == 0


def test_worker_advantage_is_not_all_positive():
    """The rescaled activation is in (0, 1) for every rank: used raw, it would raise the probability of every
    sampled token. Centred, ranks above the middle gain and those below lose; B = 4, delta = 12: sigma(3), sigma(0),
    sigma(-3), sigma(-6) minus their mean."""
    q = torch.tensor([[0.9, 0.2], [0.1, 0.4], [0.5, 0.8], [0.3, 0.6]])
    rescaled = rescaled_activation(q, 12.0)
    assert (rescaled > 0).all()
    sig = [1 / (1 + math.exp(-x)) for x in (3.0, 0.0, -3.0, -6.0)]
    mean = sum(sig) / 4
    intrinsic = torch.tensor([[0.5, 0.5], [0.7, 0.1], [0.9, 0.3], [0.3, 0.3]])  # column means 0.6 and 0.3
    adv = worker_advantage(rescaled, intrinsic, 0.5, None)
    # row 0: ranks 1 and 4; row 1: ranks 4 and 3
    assert adv[0, 0].item() == pytest.approx(sig[0] - mean + 0.5 * (0.5 - 0.6))
    assert adv[0, 1].item() == pytest.approx(sig[3] - mean + 0.5 * (0.5 - 0.3))
    assert adv[1, 1].item() == pytest.approx(sig[2] - mean + 0.5 * (0.1 - 0.3))
    torch.testing.assert_close(adv.sum(0), torch.zeros(2), rtol=0, atol=1e-6)


def test_adversarial_step_feeds_the_worker_a_zero_mean_advantage(monkeypatch):
    """The trainer's policy-gradient weights sum to 0 over the batch's real tokens in every column (fails with the
    raw rescaled + intrinsic rewards, which are positive on average)."""
    seen = []
    pg = leakgan_module.losses.policy_gradient

    def spy(logits, tokens, rewards, mask=None):
        seen.append((rewards.detach().clone(), mask))
        return pg(logits, tokens, rewards, mask)

    monkeypatch.setattr(leakgan_module.losses, "policy_gradient", spy)
    tr = LeakGANTrainer(tiny(mle_interval=0, intrinsic_weight=1.0))
    tr._adversarial_epoch(0)
    assert seen
    for rewards, mask in seen:
        real = torch.ones_like(rewards) if mask is None else mask.to(rewards.dtype)
        torch.testing.assert_close((rewards * real).sum(0), torch.zeros(rewards.shape[1]), rtol=0, atol=1e-5)
        assert (rewards * real).abs().sum() > 0


def test_tiny_run_trains_manager_worker_and_discriminator():
    tr = LeakGANTrainer(tiny())
    gen = tr.generator
    worker = {n for n, p in gen.named_parameters() if any(p is q for q in gen.worker_parameters())}
    manager = {n for n, p in gen.named_parameters() if any(p is q for q in gen.manager_parameters())}
    g0, d0 = snapshot(gen), snapshot(tr.discriminator)
    logs = tr._mle_epoch(0)
    assert set(changed(g0, gen)) == worker | manager and not changed(d0, tr.discriminator)
    assert math.isfinite(logs["mle_loss"]) and logs["manager_loss"] < 0
    tr._d_pretrain_round(0)
    g1, d1 = snapshot(gen), snapshot(tr.discriminator)
    tr.config = from_dict(LeakGANConfig, {"mle_interval": 0}, base=tr.config)  # the adversarial step alone
    logs = tr._adversarial_epoch(0)
    assert set(changed(g1, gen)) == worker | manager and set(changed(d1, tr.discriminator)) == set(d1)
    assert 0 < logs["mean_reward"] < 1 and math.isfinite(logs["manager_loss"]) and "intrinsic" in logs
    assert tr.rollout.model._leak is tr.discriminator


def test_adversarial_phase_uses_its_own_learning_rate():
    tr = LeakGANTrainer(tiny(gen_lr=0.02, adv_lr=0.003))
    assert [g["lr"] for g in tr.mle_opt.param_groups] == [0.02]
    assert [g["lr"] for g in tr.pg_opt.param_groups] == [0.003]


def test_interleaved_mle_epoch_runs_every_k_adversarial_epochs():
    tr = LeakGANTrainer(tiny(mle_interval=2))
    assert "interleaved_mle_loss" not in tr._adversarial_epoch(0)
    assert "interleaved_mle_loss" in tr._adversarial_epoch(1)


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: LeakGANTrainer(tiny(**kw)), tmp_path)


def test_bad_config_is_refused_with_the_field_name():
    for values, field in (({"step_size": 0}, "step_size"), ({"generator": "lstm"}, "generator"),
                          ({"mle_interval": -1}, "mle_interval"), ({"rescale_delta": 0}, "rescale_delta"),
                          ({"adv_lr": 0}, "adv_lr")):
        with pytest.raises(ConfigError, match=field):
            tiny(**values)


def test_cli_train_sample_eval_and_bad_flag(tmp_path, capsys):
    from tests.test_cli import assert_user_error, run

    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "leakgan", "--preset", "tiny", "--quiet", "--out-dir", out_dir)
    assert code == 0, err
    assert json.loads(out.strip().splitlines()[-1])["nll_oracle"] > 0
    code, out, err = run(capsys, "sample", out_dir / "last.pt", "-n", 3)
    assert code == 0, err
    lines = out.strip().splitlines()
    assert len(lines) == 3 and all(len(line.split()) == 8 for line in lines)
    code, out, err = run(capsys, "eval", out_dir / "last.pt")
    assert code == 0 and "nll_oracle" in out and "nll_test" in out, err
    code, _, err = run(capsys, "train", "leakgan", "--preset", "tiny", "--step-size", "0", "--out-dir",
                       tmp_path / "bad")
    assert_user_error(code, err, "step_size")
    assert not (tmp_path / "bad").exists()
