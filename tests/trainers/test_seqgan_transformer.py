"""SeqGAN with generator=transformer on the tiny preset: every phase moves what it should, resume is exact."""
import math

import pytest
import torch

from seqgan.config import ConfigError, from_dict
from seqgan.generators.transformer import TransformerGenerator
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot


def tiny(**overrides):
    return from_dict(SeqGANConfig, {**PRESETS["tiny"], "generator": "transformer", **overrides})


def test_each_phase_updates_what_it_should():
    tr = SeqGANTrainer(tiny())
    assert isinstance(tr.generator, TransformerGenerator) and isinstance(tr.rollout.model, TransformerGenerator)
    assert tr.generator.d_model == 8 and tr.generator.max_len == tr.seq_len
    g0, d0 = snapshot(tr.generator), snapshot(tr.discriminator)
    logs = tr._mle_epoch(0)
    assert set(changed(g0, tr.generator)) == set(g0) and not changed(d0, tr.discriminator)
    assert math.isfinite(logs["mle_loss"])

    g1, d1 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._d_pretrain_round(0)
    assert not changed(g1, tr.generator) and set(changed(d1, tr.discriminator)) == set(d1)

    g2, r2 = snapshot(tr.generator), snapshot(tr.rollout.model)
    logs = tr._adversarial_epoch(0)
    assert set(changed(g2, tr.generator)) == set(g2)
    for k, beta in tr.rollout.model.state_dict().items():  # G_beta: reset, then 20% towards the new generator
        torch.testing.assert_close(beta, 0.8 * g2[k] + 0.2 * tr.generator.state_dict()[k])
    assert changed(r2, tr.rollout.model)
    assert 0.0 < logs["mean_reward"] < 1.0


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: SeqGANTrainer(tiny(**kw)), tmp_path)


def test_generator_choice_is_validated():
    with pytest.raises(ConfigError, match="'generator' must be one of lstm, transformer"):
        tiny(generator="gru").validate()
    with pytest.raises(ConfigError, match="'gen_emb' must be a multiple of 4"):
        tiny(gen_emb=6).validate()
    tiny(generator="lstm", gen_emb=6).validate()
