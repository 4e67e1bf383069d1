"""SeqGAN on a text corpus: EOS/PAD through training, rewards only on real tokens, vocabulary in the checkpoint."""
import dataclasses

import pytest
import torch

from seqgan import losses
from seqgan.checkpoint import CheckpointError
from seqgan.config import from_dict
from seqgan.data.corpus import corpus_from_metadata
from seqgan.data.vocab import EOS, PAD
from seqgan.generators import real_token_mask
from seqgan.metrics.text import text_report
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer
from tests.text_fixtures import write_corpus


@pytest.fixture(scope="module")
def spec(tmp_path_factory):
    return write_corpus(tmp_path_factory.mktemp("text"))


def tiny_text(spec, **overrides):
    return from_dict(SeqGANConfig, {**PRESETS["tiny"], "corpus": spec, "n_eval_samples": 50, **overrides})


def test_text_corpus_sets_eos_padding_and_row_width(spec):
    tr = SeqGANTrainer(tiny_text(spec))
    assert tr.generator.eos_token == EOS and tr.generator.pad_token == PAD
    assert tr.discriminator.pad_token == PAD
    longest = max(len(line.split()) for line in open(spec.split(",")[0]))
    assert tr.seq_len == longest + 1 == tr.train_data.shape[1]  # the longest line, then its EOS
    samples = tr.sample(64, rng=torch.Generator().manual_seed(0))
    assert samples.shape == (64, tr.seq_len)
    after_eos = real_token_mask(samples, EOS).logical_not()
    assert (samples[after_eos] == PAD).all()


def test_policy_gradient_sees_only_real_tokens(spec, monkeypatch):
    tr = SeqGANTrainer(tiny_text(spec))
    seen = {}
    original = losses.policy_gradient

    def spy(logits, tokens, rewards, mask=None):
        seen.update(tokens=tokens.clone(), mask=mask.clone())
        return original(logits, tokens, rewards, mask)

    monkeypatch.setattr(losses, "policy_gradient", spy)
    tr._adversarial_epoch(0)
    tokens, mask = seen["tokens"], seen["mask"]
    for row, m in zip(tokens.tolist(), mask.tolist()):
        end = row.index(EOS) + 1 if EOS in row else len(row)
        assert m == [True] * end + [False] * (len(row) - end)
    assert not mask.all(), "some samples should end before the last position"


def test_evaluate_reports_nll_test_and_bleu(spec):
    tr = SeqGANTrainer(tiny_text(spec))
    metrics = tr.evaluate()
    assert {"nll_test", "bleu2", "bleu5", "self_bleu2", "self_bleu5", "unique_4gram"} <= set(metrics)
    # the same numbers as scoring the decoded samples directly (same private evaluation stream)
    lines = tr.sample_text(50, rng=torch.Generator().manual_seed(tr.config.seed + 3))
    direct = text_report(lines, tr.corpus.references)
    assert metrics["bleu3"] == direct["bleu3"] and metrics["self_bleu4"] == direct["self_bleu4"]


def test_checkpoint_alone_rebuilds_a_model_that_samples_the_same_text(spec):
    tr = SeqGANTrainer(tiny_text(spec))
    tr._mle_epoch(0)
    state = tr.state_dict()
    assert state["corpus"]["vocab"] == tr.corpus.vocab.to_state()
    restored = SeqGANTrainer(tr.config, corpus_from_metadata(state["corpus"]))
    restored.load_state_dict(state)
    assert restored.corpus.vocab == tr.corpus.vocab and len(restored.corpus.train) == 0
    a = tr.sample_text(20, rng=torch.Generator().manual_seed(5))
    b = restored.sample_text(20, rng=torch.Generator().manual_seed(5))
    assert a == b and any(a)


def test_vocabulary_mismatch_is_refused(spec, tmp_path):
    tr = SeqGANTrainer(tiny_text(spec))
    other = write_corpus(tmp_path / "other", n_train=12)  # fewer lines: a smaller vocabulary
    other_tr = SeqGANTrainer(tiny_text(other))
    assert len(other_tr.corpus.vocab) != len(tr.corpus.vocab)
    with pytest.raises(CheckpointError, match="vocabulary mismatch"):
        other_tr.load_state_dict(tr.state_dict())
    # same size, different words: still refused
    state = tr.state_dict()
    tokens = list(state["corpus"]["vocab"]["tokens"])
    tokens[-1], tokens[-2] = tokens[-2], tokens[-1]
    state["corpus"] = {**state["corpus"], "vocab": {**state["corpus"]["vocab"], "tokens": tokens}}
    with pytest.raises(CheckpointError, match="vocabulary mismatch"):
        tr.load_state_dict(state)


def test_bad_text_settings_are_config_errors(spec):
    from seqgan.config import ConfigError
    for changes, field in [({"long_lines": "wrap"}, "long_lines"), ({"level": "byte"}, "level"),
                           ({"max_len": 0}, "max_len"), ({"max_vocab": 4}, "max_vocab")]:
        with pytest.raises(ConfigError, match=field):
            dataclasses.replace(tiny_text(spec), **changes).validate()
