"""SeqGAN trainer on the tiny preset: parameters move in every phase, resume is exact, NaN stops cleanly."""
import json
import math

import pytest
import torch

from seqgan import checkpoint
from seqgan.config import from_dict
from seqgan.trainers.loop import LAST, NonFiniteLossError, fit
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot


def tiny(**overrides):
    return from_dict(SeqGANConfig, {**PRESETS["tiny"], **overrides})


def test_each_phase_updates_what_it_should():
    tr = SeqGANTrainer(tiny())
    g0, d0 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._mle_epoch(0)
    assert set(changed(g0, tr.generator)) == set(g0) and not changed(d0, tr.discriminator)
    assert math.isfinite(logs["mle_loss"])

    g1, d1 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._d_pretrain_round(0)
    assert not changed(g1, tr.generator) and set(changed(d1, tr.discriminator)) == set(d1)
    assert 0.0 <= logs["d_acc"] <= 1.0

    g2, r2 = snapshot(tr.generator), snapshot(tr.rollout.model)
    logs = tr._adversarial_epoch(0)
    assert set(changed(g2, tr.generator)) == set(g2)
    # G_beta was reset to the pretrained generator, then moved 20% of the way to the updated one
    for k, beta in tr.rollout.model.state_dict().items():
        torch.testing.assert_close(beta, 0.8 * g2[k] + 0.2 * tr.generator.state_dict()[k])
    assert changed(r2, tr.rollout.model)
    assert 0.0 < logs["mean_reward"] < 1.0


def test_fit_writes_metrics_and_checkpoint(tmp_path):
    result = fit(SeqGANTrainer(tiny()), tmp_path)
    lines = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    phases = [r["phase"] for r in lines if r["kind"] == "train"]
    assert phases == ["mle"] * 2 + ["d_pretrain"] + ["adversarial"] * 2
    evals = [r for r in lines if r["kind"] == "eval"]
    assert evals[-1]["nll_oracle"] == result["nll_oracle"] and "nll_test" in result
    saved = checkpoint.load(tmp_path / LAST, algorithm="seqgan")
    assert saved["progress"]["phase"] == 3 and saved["config"]["seq_len"] == 8


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: SeqGANTrainer(tiny(**kw)), tmp_path)


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path):
    tr = SeqGANTrainer(tiny())
    real = tr._mle_epoch
    tr._mle_epoch = lambda i: {"mle_loss": float("nan")} if i == 1 else real(i)
    with pytest.raises(NonFiniteLossError, match=r"mle_loss=nan at mle step 2.*last good checkpoint"):
        fit(tr, tmp_path)
    saved = checkpoint.load(tmp_path / LAST)
    assert saved["progress"] == {**saved["progress"], "phase": 0, "step": 1}
    assert not list(tmp_path.glob("*.tmp"))
    # and the run continues from it once the cause is fixed
    again = SeqGANTrainer(tiny())
    fit(again, tmp_path, resume=True)
    assert checkpoint.load(tmp_path / LAST)["progress"]["phase"] == 3


def test_generator_step_never_applies_a_nan():
    tr = SeqGANTrainer(tiny())
    before = snapshot(tr.generator)
    bad = sum(p.sum() for p in tr.generator.parameters()) * float("nan")
    tr._generator_step(tr.mle_opt, bad)
    assert not changed(before, tr.generator)
