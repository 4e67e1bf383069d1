"""RelGAN: the relational memory generator, Gumbel-softmax, the beta schedule, the RSGAN losses by hand, the
multiple-representation discriminator, each phase trains what it should, resume is exact, `seqgan train relgan`."""
import dataclasses
import json
import math

import pytest
import torch

from seqgan import checkpoint
from seqgan.cli import main
from seqgan.config import ConfigError, build, from_dict
from seqgan.discriminators.relgan_cnn import MultiRepCNNDiscriminator
from seqgan.generators import teacher_forced_logits
from seqgan.generators.relational import RelationalMemoryGenerator
from seqgan.rollout.engine import RolloutEngine
from seqgan.trainers import ALGORITHMS
from seqgan.trainers.loop import LAST
from seqgan.trainers.relgan import (PRESETS, RelGANConfig, RelGANTrainer, gumbel_generate, gumbel_noise,
                                    gumbel_softmax, inverse_temperature, rsgan_d_loss, rsgan_g_loss)
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot

FAST = dict(mle_epochs=1, adv_epochs=2, n_eval_samples=32, n_test=64)


def tiny(**overrides):
    return from_dict(RelGANConfig, {**PRESETS["tiny"], **FAST, **overrides})


def small_generator(**kw):
    torch.manual_seed(0)
    return RelationalMemoryGenerator(11, emb_dim=6, mem_slots=2, num_heads=2, head_size=4, start_token=0, **kw)


# --- generator --------------------------------------------------------------------------------------------------
def test_relational_memory_steps_equal_the_teacher_forced_pass():
    g = small_generator()
    tokens = torch.randint(0, 11, (3, 7), generator=torch.Generator().manual_seed(1))
    full = teacher_forced_logits(g, tokens)
    assert full.shape == (3, 7, 11)
    state = g.initial_state(3)
    assert state.shape == (3, 2, 8) and torch.equal(state[0], torch.eye(2, 8))
    inputs = torch.cat([torch.zeros(3, 1, dtype=torch.long), tokens[:, :-1]], dim=1)
    steps = []
    for t in range(7):
        logits, state = g.step(inputs[:, t:t + 1], state)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, dim=1), full)
    # select: gathering rows of the memory equals running those rows alone
    _, mem = g.hidden(inputs, g.initial_state(3))
    idx = torch.tensor([2, 0, 2])
    _, alone = g.hidden(inputs[idx], g.initial_state(3))
    torch.testing.assert_close(g.select(mem, idx), alone)


def test_relational_generator_samples_through_the_engine_and_learns_by_mle():
    g = RelationalMemoryGenerator(9, emb_dim=6, mem_slots=1, num_heads=2, head_size=4, start_token=0,
                                  eos_token=2, pad_token=1)
    engine = RolloutEngine()
    rng = torch.Generator().manual_seed(0)
    rows = engine.sample(g, 16, 10, rng=rng)
    assert rows.shape == (16, 10) and rows.dtype == torch.long and rows.min() >= 0 and rows.max() < 9
    for row in rows.tolist():  # padding only after the first EOS
        if 2 in row:
            assert all(t == 1 for t in row[row.index(2) + 1:])
    again = engine.sample(g, 16, 10, rng=torch.Generator().manual_seed(0))
    assert torch.equal(rows, again)
    q = engine.rewards(g, rows[:4], lambda x: x.float().mean(1), 2, rng=rng)  # rollouts use select too
    assert q.shape == (4, 10) and torch.isfinite(q).all()
    data = torch.randint(3, 9, (32, 6), generator=torch.Generator().manual_seed(2))
    opt = torch.optim.Adam(g.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = torch.nn.functional.cross_entropy(teacher_forced_logits(g, data).flatten(0, 1), data.flatten())
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.1


# --- Gumbel-softmax and the schedule ------------------------------------------------------------------------------
def test_gumbel_softmax_is_a_relaxed_exact_sample():
    logits = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.4])).expand(40_000, 4)
    g = gumbel_noise(logits.shape, torch.Generator().manual_seed(0))
    assert torch.isfinite(g).all()
    for beta in (1.0, 10.0, 1000.0):
        hard, soft = gumbel_softmax(logits, beta, g)
        torch.testing.assert_close(soft.sum(-1), torch.ones(40_000))
        assert (soft >= 0).all()
        assert torch.equal(soft.argmax(-1), hard) and torch.equal(hard, (logits + g).argmax(-1))  # Gumbel-max
    freq = torch.bincount(hard, minlength=4).float() / 40_000
    # binomial standard error at n = 40000 is at most 0.0025; 5 sigma
    torch.testing.assert_close(freq, torch.tensor([0.1, 0.2, 0.3, 0.4]), atol=0.0125, rtol=0)
    _, sharp = gumbel_softmax(logits[:100], 1000.0, g[:100])
    assert (sharp.amax(-1) > 0.99).float().mean() > 0.9  # large beta: nearly one-hot
    # the same seed gives the same noise
    assert torch.equal(g, gumbel_noise(logits.shape, torch.Generator().manual_seed(0)))


def test_inverse_temperature_schedules():
    assert inverse_temperature(0, 100, 1000.0) == 1.0
    assert inverse_temperature(50, 100, 100.0) == pytest.approx(10.0)
    assert inverse_temperature(100, 100, 100.0) == pytest.approx(100.0)
    assert inverse_temperature(25, 100, 16.0, "exp") == pytest.approx(2.0)
    assert inverse_temperature(25, 100, 101.0, "lin") == pytest.approx(26.0)
    assert inverse_temperature(0, 100, 101.0, "lin") == 1.0
    values = [inverse_temperature(n, 10, 100.0) for n in range(11)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert inverse_temperature(3, 10, 1.0) == 1.0  # beta_max = 1: no annealing
    with pytest.raises(ValueError, match="schedule"):
        inverse_temperature(1, 10, 10.0, "cosine")


def test_gumbel_generate_soft_rows_and_gradient():
    g = RelationalMemoryGenerator(9, emb_dim=6, mem_slots=1, num_heads=2, head_size=4, start_token=0,
                                  eos_token=2, pad_token=1)
    hard, soft = gumbel_generate(g, 32, 8, 3.0, torch.Generator().manual_seed(0))
    assert hard.shape == (32, 8) and soft.shape == (32, 8, 9)
    torch.testing.assert_close(soft.sum(-1), torch.ones(32, 8))
    ended = torch.zeros(32, dtype=torch.bool)
    for t in range(8):
        assert torch.equal(soft[~ended, t].argmax(-1), hard[~ended, t])
        assert (hard[ended, t] == 1).all() and (soft[ended, t, 1] == 1).all()
        ended |= hard[:, t] == 2
    (soft[..., 3] * torch.arange(8.0)).sum().backward()
    assert all(p.grad is not None for p in g.parameters())


# --- losses by hand -------------------------------------------------------------------------------------------------
def test_rsgan_losses_by_hand():
    real = torch.tensor([2.0, 0.0, -1.0])
    fake = torch.tensor([1.0, 0.0, 1.0])
    # differences real - fake = 1, 0, -2
    d_hand = -(math.log(1 / (1 + math.exp(-1))) + math.log(0.5) + math.log(1 / (1 + math.exp(2)))) / 3
    g_hand = -(math.log(1 / (1 + math.exp(1))) + math.log(0.5) + math.log(1 / (1 + math.exp(-2)))) / 3
    assert rsgan_d_loss(real, fake).item() == pytest.approx(d_hand, rel=1e-6)
    assert rsgan_g_loss(real, fake).item() == pytest.approx(g_hand, rel=1e-6)
    assert rsgan_d_loss(torch.tensor([5.0]), torch.tensor([5.0])).item() == pytest.approx(math.log(2))
    assert math.isfinite(rsgan_d_loss(torch.tensor([-1e4]), torch.tensor([1e4])).item())  # no overflow
    # (B, S) logits: every (sequence, representation) pair counts once
    real2, fake2 = real.view(3, 1).expand(3, 2).clone(), fake.view(3, 1).expand(3, 2).clone()
    real2[:, 1], fake2[:, 1] = 0.0, 0.0
    pairs = -(math.log(1 / (1 + math.exp(-1))) + 4 * math.log(0.5) + math.log(1 / (1 + math.exp(2)))) / 6
    assert rsgan_d_loss(real2, fake2).item() == pytest.approx(pairs, rel=1e-6)


# --- discriminator -------------------------------------------------------------------------------------------------
def test_multi_representation_discriminator_accepts_tokens_and_soft_rows():
    torch.manual_seed(0)
    d = MultiRepCNNDiscriminator(7, emb_dim=6, num_rep=3, filter_sizes=(1, 2, 4), num_filters=(2, 3, 2),
                                 dropout=0.0, pad_token=1).eval()
    assert d.embedding.shape == (7, 6) and d.rep_dim == 2
    tokens = torch.randint(0, 7, (4, 3))  # shorter than the widest filter: padded
    one_hot = torch.nn.functional.one_hot(tokens, 7).float()
    assert d.scores(tokens).shape == (4, 3)
    torch.testing.assert_close(d(tokens), d(one_hot))
    torch.testing.assert_close(d(tokens), d.scores(tokens).mean(1))
    soft = torch.softmax(torch.randn(4, 3, 7, requires_grad=True), -1)
    d(soft).sum().backward()
    assert d.embedding.grad is not None and (d.embedding.grad.abs().sum(dim=0) > 0).all()  # every column
    with pytest.raises(ValueError, match="one-hot"):
        d(torch.zeros(4, 3, 6))
    with pytest.raises(ValueError, match="multiple of the number of representations"):
        MultiRepCNNDiscriminator(7, emb_dim=5, num_rep=3)


def test_each_representation_reads_only_its_own_columns():
    torch.manual_seed(0)
    d = MultiRepCNNDiscriminator(9, emb_dim=8, num_rep=4, filter_sizes=(2, 3), num_filters=(3, 3),
                                 dropout=0.0).eval()
    tokens = torch.randint(0, 9, (5, 6), generator=torch.Generator().manual_seed(1))
    before = d.scores(tokens)
    with torch.no_grad():
        d.embedding[:, 4:6] += torch.randn(9, 2)  # the columns of representation 2
    after = d.scores(tokens)
    torch.testing.assert_close(after[:, [0, 1, 3]], before[:, [0, 1, 3]], rtol=0, atol=0)
    assert (after[:, 2] != before[:, 2]).all()
    # one CNN for all: representation s of a sequence equals the one-representation network on its columns
    single = MultiRepCNNDiscriminator(9, emb_dim=2, num_rep=1, filter_sizes=(2, 3), num_filters=(3, 3),
                                      dropout=0.0).eval()
    single.load_state_dict({**d.state_dict(), "embedding": d.embedding[:, 2:4]})
    torch.testing.assert_close(single.scores(tokens)[:, 0], after[:, 1])


# --- trainer -----------------------------------------------------------------------------------------------------
def test_config_and_registration():
    assert ALGORITHMS["relgan"].config is RelGANConfig and ALGORITHMS["relgan"].trainer is RelGANTrainer
    assert set(PRESETS) >= {"tiny", "paper"}
    for name in PRESETS:
        build(RelGANConfig, PRESETS, name, None, {})
    RelGANConfig().validate()
    assert RelGANConfig().out_dir == "runs/relgan" and RelGANConfig().gen_adv_lr == 1e-4
    for bad, field in [({"beta_max": 0.5}, "beta_max"), ({"temperature_schedule": "cos"}, "temperature_schedule"),
                       ({"num_rep": 0}, "num_rep"), ({"head_size": 0}, "head_size"), ({"generator": "gru"},
                                                                                         "generator"),
                       ({"dis_emb": 30, "num_rep": 8}, "multiple of num_rep"),
                       ({"temperature_horizon": -1}, "temperature_horizon")]:
        with pytest.raises(ConfigError, match=field):
            from_dict(RelGANConfig, bad)


def test_each_phase_updates_what_it_should():
    tr = RelGANTrainer(tiny())
    assert [p.name for p in tr.phases()] == ["mle", "adversarial"]
    assert isinstance(tr.generator, RelationalMemoryGenerator)
    assert isinstance(tr.discriminator, MultiRepCNNDiscriminator)
    assert tr.pg_opt.param_groups[0]["lr"] == 1e-4 and tr.pg_opt.param_groups[0]["betas"] == (0.9, 0.999)
    g0, d0 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._mle_epoch(0)
    assert set(changed(g0, tr.generator)) == set(g0) and not changed(d0, tr.discriminator)

    g1, d1 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._adversarial_epoch(0)
    # the output bias of D cancels in C(real) - C(fake): the relativistic loss never moves it
    assert set(changed(g1, tr.generator)) == set(g1)
    assert set(changed(d1, tr.discriminator)) == set(d1) - {"output.bias"}
    assert logs["beta"] == 1.0 and all(math.isfinite(v) for v in logs.values())

    tr.config = dataclasses.replace(tr.config, adv_d_steps=0)  # the generator step alone leaves D alone
    g2, d2 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._adversarial_epoch(1)
    assert set(changed(g2, tr.generator)) == set(g2) and not changed(d2, tr.discriminator)
    assert logs["beta"] == pytest.approx(math.sqrt(10.0))  # beta_max^(1/2) with N = 2
    tr.config = dataclasses.replace(tr.config, adv_d_steps=0, temperature_horizon=4)  # the published fixed N
    assert tr._adversarial_epoch(1)["beta"] == pytest.approx(10.0 ** 0.25)
    tr.config = dataclasses.replace(tr.config, temperature_horizon=0)

    tr.config = dataclasses.replace(tr.config, adv_d_steps=1, adv_g_steps=0)  # the discriminator step alone
    g3, d3 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._adversarial_epoch(1)
    assert not changed(g3, tr.generator) and set(changed(d3, tr.discriminator)) == set(d3) - {"output.bias"}


def test_lstm_generator_option():
    tr = RelGANTrainer(tiny(generator="lstm"))
    assert not isinstance(tr.generator, RelationalMemoryGenerator)
    assert math.isfinite(tr._adversarial_epoch(0)["g_loss"])


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: RelGANTrainer(tiny(**kw)), tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in lines if r["kind"] == "train"] == ["mle", "adversarial", "adversarial"]


def test_cli_train_relgan(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(["train", "relgan", "--preset", "tiny", "--quiet", "--out-dir", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert math.isfinite(json.loads(out.strip().splitlines()[-1])["nll_oracle"])
    saved = checkpoint.load(out_dir / LAST, algorithm="relgan")
    assert saved["progress"]["phase"] == 2 and saved["config"]["num_rep"] == 2
    assert main(["sample", str(out_dir / LAST), "-n", "3"]) == 0


def test_iteration_runs_the_generator_step_before_the_discriminator_steps(monkeypatch):
    from seqgan.trainers import relgan
    order = []
    for name, tag in (("rsgan_g_loss", "g"), ("rsgan_d_loss", "d")):
        original = getattr(relgan, name)
        monkeypatch.setattr(relgan, name, lambda r, f, _o=original, _t=tag: order.append(_t) or _o(r, f))
    tr = RelGANTrainer(tiny(adv_d_steps=2))
    tr._adversarial_epoch(0)
    assert order == ["g", "d", "d"]  # as the published loop: G steps, then D steps


def test_paper_preset_is_the_published_oracle_run():
    c = build(RelGANConfig, PRESETS, "paper", None, {})
    assert (c.mle_epochs, c.gen_lr, c.adv_epochs, c.adv_g_steps, c.adv_d_steps) == (150, 1e-2, 3000, 1, 5)
    assert (c.dis_emb, c.num_rep, c.dis_num_filters, c.head_size, c.num_heads, c.mem_slots) == (
        64, 64, (300, 300, 300, 300), 256, 2, 1)
    assert inverse_temperature(3000, c.temperature_horizon, c.beta_max) == pytest.approx(100.0 ** 0.6)
