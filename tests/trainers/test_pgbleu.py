"""PG-BLEU: the reward is NLTK's sentence BLEU against the training rows, the engine uses it for every prefix, only
the generator trains, resume is exact, and `seqgan train pgbleu` runs."""
import json
import math

import pytest
import torch
from nltk.translate.bleu_score import SmoothingFunction, sentence_bleu

from seqgan import checkpoint
from seqgan.cli import main
from seqgan.config import ConfigError, build, from_dict
from seqgan.generators.lstm import LSTMGenerator
from seqgan.rollout.engine import RolloutEngine
from seqgan.trainers import ALGORITHMS
from seqgan.trainers.loop import LAST
from seqgan.trainers.pgbleu import PRESETS, BleuReward, PGBLEUConfig, PGBLEUTrainer

# short runs: one MLE epoch, two adversarial epochs, small evaluations
FAST = dict(mle_epochs=1, adv_epochs=2, n_eval_samples=32, n_test=64)
from tests.trainers.common import assert_resume_equals_uninterrupted, changed, snapshot


def tiny(**overrides):
    return from_dict(PGBLEUConfig, {**PRESETS["tiny"], **FAST, **overrides})


def nltk_bleu(references, hyp, n=4):
    return sentence_bleu([list(r) for r in references], list(hyp), weights=(1.0 / n,) * n,
                         smoothing_function=SmoothingFunction().method1)


REFS = torch.tensor([[3, 4, 5, 6, 7, 8], [3, 4, 9, 6, 7, 1], [5, 5, 5, 3, 4, 5]])


def test_reward_is_nltk_sentence_bleu_against_the_training_rows():
    reward = BleuReward(REFS, order=4, eos_token=None)
    rows = torch.tensor([[3, 4, 5, 6, 7, 1], [2, 2, 2, 2, 2, 2], [5, 5, 3, 4, 9, 6], [3, 4, 5, 6, 7, 8]])
    got = reward(rows)
    want = [nltk_bleu(REFS.tolist(), row) for row in rows.tolist()]
    assert got.dtype == torch.float32 and got.shape == (4,)
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float32), rtol=0, atol=0)
    assert got[1] == 0 and got[3] == 1 and 0 < got[0] < 1  # no match, a training row, in between
    # by hand, row 0: every 1-, 2- and 3-gram occurs in some reference (p1 = p2 = p3 = 1), of the 4-grams only
    # 3 4 5 6 and 4 5 6 7 (p4 = 2/3); same length as the references, so no brevity penalty
    assert got[0].item() == pytest.approx((2 / 3) ** 0.25, abs=1e-7)
    # another order
    bleu2 = BleuReward(REFS, order=2, eos_token=None)(rows[:1])
    assert bleu2.item() == pytest.approx(nltk_bleu(REFS.tolist(), rows[0].tolist(), n=2), abs=1e-7)


def test_reward_scores_the_tokens_before_eos_only():
    eos, pad = 1, 0
    refs = torch.tensor([[3, 4, 5, 1, 0, 0], [3, 4, 5, 6, 7, 1]])
    reward = BleuReward(refs, order=4, eos_token=eos)
    rows = torch.tensor([[3, 4, 5, 6, 1, pad], [3, 4, 5, 6, 7, 8], [1, pad, pad, pad, pad, pad]])
    want = [nltk_bleu([[3, 4, 5], [3, 4, 5, 6, 7]], hyp) for hyp in ([3, 4, 5, 6], [3, 4, 5, 6, 7, 8])] + [0.0]
    torch.testing.assert_close(reward(rows), torch.tensor(want), rtol=0, atol=1e-7)


class ConstantPolicy(LSTMGenerator):
    """Deterministic: always continues with token ``token`` (its logit is far above every other)."""

    def __init__(self, vocab_size, token):
        super().__init__(vocab_size, 4, 4, start_token=0)
        self.token = token

    def project(self, outputs):
        logits = torch.zeros(*outputs.shape[:-1], self.vocab_size, device=outputs.device)
        logits[..., self.token] = 1e4
        return logits


def test_engine_rewards_use_bleu_of_every_completion():
    reward = BleuReward(REFS, order=4, eos_token=None)
    policy = ConstantPolicy(10, token=7).eval()
    y = torch.tensor([[3, 4, 5, 6, 2, 2], [5, 5, 9, 3, 4, 6]])
    q = RolloutEngine(reward_chunk=5).rewards(policy, y, reward, 3, rng=torch.Generator().manual_seed(0))
    T = y.shape[1]
    want = [[nltk_bleu(REFS.tolist(), row[:t] + [7] * (T - t)) for t in range(1, T + 1)] for row in y.tolist()]
    torch.testing.assert_close(q, torch.tensor(want, dtype=torch.float32), rtol=0, atol=1e-6)
    assert len(set(q.flatten().tolist())) > 2  # the prefixes do get different rewards


def test_config_has_no_discriminator_phases_and_checks_bleu_order():
    assert ALGORITHMS["pgbleu"].config is PGBLEUConfig and ALGORITHMS["pgbleu"].presets is PRESETS
    assert set(PRESETS) >= {"tiny", "paper"}
    for name in PRESETS:
        cfg = build(PGBLEUConfig, PRESETS, name, None, {})
        assert (cfg.d_pretrain_rounds, cfg.adv_d_rounds, cfg.bleu_order) == (0, 0, 4)
    assert PGBLEUConfig().out_dir == "runs/pgbleu"
    with pytest.raises(ConfigError, match="adv_d_rounds"):
        from_dict(PGBLEUConfig, {"adv_d_rounds": 1})
    with pytest.raises(ConfigError, match="bleu_order"):
        from_dict(PGBLEUConfig, {"bleu_order": 0})


def test_only_the_generator_trains():
    tr = PGBLEUTrainer(tiny())
    assert [p.name for p in tr.phases()] == ["mle", "adversarial"]
    g0, d0 = snapshot(tr.generator), snapshot(tr.discriminator)
    tr._mle_epoch(0)
    assert set(changed(g0, tr.generator)) == set(g0) and not changed(d0, tr.discriminator)

    g1 = snapshot(tr.generator)
    logs = tr._adversarial_epoch(0)
    assert set(changed(g1, tr.generator)) == set(g1) and not changed(d0, tr.discriminator)
    for k, beta in tr.rollout.model.state_dict().items():  # G_beta: reset to g1, then 20% towards the update
        torch.testing.assert_close(beta, 0.8 * g1[k] + 0.2 * tr.generator.state_dict()[k])
    assert 0.0 <= logs["bleu"] <= 1.0 and 0.0 <= logs["mean_reward"] <= 1.0 and math.isfinite(logs["pg_loss"])


def test_killed_and_resumed_run_equals_uninterrupted(tmp_path):
    assert_resume_equals_uninterrupted(lambda **kw: PGBLEUTrainer(tiny(**kw)), tmp_path)
    lines = [json.loads(x) for x in (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()]
    assert [r["phase"] for r in lines if r["kind"] == "train"] == ["mle", "adversarial", "adversarial"]


def test_cli_train_pgbleu(tmp_path, capsys):
    out_dir = tmp_path / "run"
    code = main(["train", "pgbleu", "--preset", "tiny", "--quiet", "--out-dir", str(out_dir)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert math.isfinite(json.loads(out.strip().splitlines()[-1])["nll_oracle"])
    saved = checkpoint.load(out_dir / LAST, algorithm="pgbleu")
    assert saved["progress"]["phase"] == 2 and saved["config"]["bleu_order"] == 4
