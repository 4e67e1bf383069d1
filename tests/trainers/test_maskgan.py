"""MaskGAN: configuration, what each phase trains, the adversarial step's pieces, exact resume, `seqgan train
maskgan` and evaluation."""
import dataclasses
import json
import math

import pytest
import torch

from seqgan import checkpoint, losses
from seqgan.config import ConfigError, build, from_dict
from seqgan.trainers import ALGORITHMS
from seqgan.trainers.loop import LAST
from seqgan.trainers.maskgan import PRESETS, MaskGANConfig, MaskGANTrainer
from tests.test_cli import assert_user_error, run
from tests.text_fixtures import write_corpus
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot, snapshot_networks


@pytest.fixture(scope="module")
def corpus_spec(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("maskgan") / "data")


@pytest.fixture
def make(corpus_spec, single_thread):
    def build_trainer(**overrides):
        cfg = from_dict(MaskGANConfig, {**PRESETS["tiny"], "corpus": corpus_spec, "max_len": 12, **overrides})
        return MaskGANTrainer(cfg)
    return build_trainer


def test_config_presets_and_registration():
    assert ALGORITHMS["maskgan"].trainer is MaskGANTrainer and ALGORITHMS["maskgan"].config is MaskGANConfig
    assert set(PRESETS) == {"paper", "cpu-small", "tiny"}
    for name in PRESETS:
        build(MaskGANConfig, PRESETS, name, None, {})
    paper = build(MaskGANConfig, PRESETS, "paper", None, {})
    assert paper.gamma == 0.89 and paper.present_rate == 0.5 and paper.mask_kind == "contiguous"
    for bad, word in [({"present_rate": 1.0}, "present_rate"), ({"mask_kind": "x"}, "mask_kind"),
                      ({"corpus": "oracle"}, "text corpus"), ({"gamma": 2.0}, "gamma"),
                      ({"advantage_clip": 0.0}, "advantage_clip"), ({"train_rows": 0}, "train_rows")]:
        with pytest.raises(ConfigError, match=word):
            from_dict(MaskGANConfig, bad)


def test_adversarial_learning_rate_defaults_to_the_mle_one(make):
    assert make().adv_opt.param_groups[0]["lr"] == make().mle_opt.param_groups[0]["lr"] == 1e-2
    assert make(adv_lr=3e-4).adv_opt.param_groups[0]["lr"] == 3e-4
    with pytest.raises(ConfigError, match="adv_lr"):
        make(adv_lr=0.0)


def test_each_phase_trains_what_it_should(make):
    tr = make()
    assert [p.name for p in tr.phases()] == ["mle", "d_pretrain", "adversarial"]
    nets = {"generator": tr.generator, "discriminator": tr.discriminator, "critic": tr.critic}

    def moved(step):
        before = {k: snapshot(m) for k, m in nets.items()}
        logs = step()
        return {k for k, m in nets.items() if changed(before[k], m)}, logs

    who, logs = moved(lambda: tr._mle_epoch(0))
    assert who == {"generator"} and 0 < logs["mask_mle_loss"] < 10
    who, logs = moved(lambda: tr._d_pretrain_step(0))
    assert who == {"discriminator", "critic"} and 0 <= logs["d_acc"] <= 1 and logs["mean_log_d"] < 0
    tr.config = dataclasses.replace(tr.config, adv_d_steps=0)
    g0 = snapshot(tr.generator)
    who, logs = moved(lambda: tr._adversarial_epoch(0))
    assert who == {"generator", "critic"} and math.isfinite(logs["pg_loss"])
    assert set(changed(g0, tr.generator)) == set(g0)  # every generator tensor gets a policy gradient
    tr.config = dataclasses.replace(tr.config, adv_g_steps=0, adv_d_steps=1)
    who, _ = moved(lambda: tr._adversarial_epoch(1))
    assert who == {"discriminator"}


def test_adv_epochs_zero_stops_after_maskmle(make):
    tr = make(adv_epochs=0, d_pretrain_steps=5)
    assert [(p.name, p.steps) for p in tr.phases()] == [("mle", 2), ("d_pretrain", 0), ("adversarial", 0)]


def test_maskmle_learns_only_from_missing_positions(make):
    """Corrupting the given tokens' targets cannot change the MaskMLE gradient: they are never scored."""
    tr = make()
    batch = tr.train_data[:8]
    present, context = tr._masked(batch, torch.Generator().manual_seed(0))
    corrupted = torch.where(present, torch.full_like(batch, 5), batch)

    def grads(targets):
        tr.generator.zero_grad()
        # the decoder reads the real tokens; only the targets differ
        logits = tr.generator.logits(context, batch)
        losses.mle(logits, targets, ~present).backward()
        return [p.grad.clone() for p in tr.generator.parameters()]

    for a, b in zip(grads(batch), grads(corrupted)):
        torch.testing.assert_close(a, b)


def test_evaluate_and_sample(make):
    tr = make()
    out = tr.evaluate()
    assert set(out) == {"masked_ppl", "unique_2gram", "unique_3gram", "unique_4gram"}
    assert 1 < out["masked_ppl"] < 2 * tr.corpus.vocab_size
    assert all(0 < out[f"unique_{n}gram"] <= 1 for n in (2, 3, 4))
    assert tr.evaluate() == out  # fixed evaluation seeds
    rows = tr.sample(5)
    held = tr.test_data[:5]
    filled, present = tr.fill_rows(held, tr.config.seed + 3)
    assert torch.equal(rows, filled) and torch.equal(filled[present], held[present])


def test_killed_and_resumed_run_equals_uninterrupted(make, tmp_path):
    full = assert_resume_equals_uninterrupted(make, tmp_path)
    assert set(snapshot_networks(full)) == {"generator", "discriminator", "critic"}
    phases = [json.loads(x)["phase"] for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
              if json.loads(x)["kind"] == "train"]
    assert phases == ["mle", "mle", "d_pretrain", "adversarial", "adversarial"]


def test_cli_train_maskgan_then_sample_points_to_infill(corpus_spec, tmp_path, capsys, single_thread):
    out_dir = tmp_path / "run"
    code, out, err = run(capsys, "train", "maskgan", "--preset", "tiny", "--quiet", "--corpus", corpus_spec,
                         "--max-len", "12", "--out-dir", out_dir)
    assert code == 0, err
    result = json.loads(out.strip().splitlines()[-1])
    assert math.isfinite(result["masked_ppl"]) and 0 < result["unique_4gram"] <= 1
    saved = checkpoint.load(out_dir / LAST, algorithm="maskgan")
    assert saved["progress"]["phase"] == 3 and saved["config"]["present_rate"] == 0.5
    code, _, err = run(capsys, "sample", out_dir / LAST)
    assert_user_error(code, err, "seqgan infill")
    code, out, err = run(capsys, "eval", out_dir / LAST)
    assert code == 0 and "masked_ppl" in out, err
