"""MLE early stopping: held-out rows, the best generator restored, skipped epochs, resume, the CLI flag."""
import pytest
import torch
from torch import nn

from seqgan.config import ConfigError, from_dict
from seqgan.metrics.nll import sequence_nll
from seqgan.trainers.early_stop import EarlyStop, split_validation
from seqgan.trainers.leakgan import PRESETS as LEAK_PRESETS
from seqgan.trainers.leakgan import LeakGANConfig, LeakGANTrainer
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer
from tests.trainers.common import assert_resume_equals_uninterrupted, snapshot

# 40 oracle rows and a large learning rate: the validation NLL turns up after epoch 2 (seed 88)
OVERFIT = dict(mle_patience=1, mle_epochs=6, n_train=40, gen_lr=0.05, valid_fraction=0.25, gen_hidden=16)


def tiny(**overrides):
    return from_dict(SeqGANConfig, {**PRESETS["tiny"], **overrides})


def test_split_validation_holds_out_the_last_rows():
    rows = torch.arange(20).view(10, 2)
    train, valid = split_validation(rows, 0.2)
    assert torch.equal(train, rows[:8]) and torch.equal(valid, rows[8:])
    assert len(split_validation(rows, 0.01)[1]) == 1                      # at least one row
    with pytest.raises(ValueError, match="holding out 1 of 1 training rows"):
        split_validation(rows[:1], 0.5)


def test_early_stop_restores_the_best_state_after_patience_epochs():
    model = nn.Linear(2, 1)
    stop = EarlyStop(patience=2)
    states = {}
    for epoch, nll in enumerate([3.0, 2.0, 2.5, 2.1]):
        with torch.no_grad():
            model.weight.fill_(float(epoch))
        states[epoch] = snapshot(model)
        stop.update(epoch, nll, model)
        assert stop.stopped == (epoch == 3)
    assert stop.best == 2.0 and stop.best_epoch == 1
    assert torch.equal(model.weight, states[1]["weight"])                  # epoch 1's weights are back
    again = EarlyStop(patience=2)
    again.load_state_dict(stop.state_dict())
    assert again.state_dict() == stop.state_dict()


def test_trainer_stops_on_validation_nll_and_keeps_the_best_generator():
    tr = SeqGANTrainer(tiny(**OVERFIT))
    assert (len(tr.train_data), len(tr.valid_data)) == (30, 10)           # valid rows are not trained on
    logs = [tr._mle_phase_epoch(i) for i in range(6)]
    valid = [x["valid_nll"] for x in logs if "valid_nll" in x]
    best = min(range(len(valid)), key=valid.__getitem__)
    assert tr.early_stop.stopped and len(valid) == best + 2                # patience 1: one epoch past the best
    assert valid[-1] > valid[best] and logs[len(valid) - 1]["mle_stopped"] == 1.0
    assert all(x == {"mle_skipped": 1.0} for x in logs[len(valid):])
    assert sequence_nll(tr.generator, tr.valid_data) == pytest.approx(valid[best], abs=1e-6)


def test_without_patience_every_row_trains_and_every_epoch_runs():
    tr = SeqGANTrainer(tiny(**{**OVERFIT, "mle_patience": 0}))
    assert tr.valid_data is None and len(tr.train_data) == 40
    assert all("mle_loss" in tr._mle_phase_epoch(i) for i in range(3))


@pytest.mark.parametrize("step", [1, 4])  # killed before the stop (best state held) and after it (epochs skipped)
def test_resume_through_early_stopping_equals_uninterrupted(tmp_path, step):
    full = assert_resume_equals_uninterrupted(lambda **kw: SeqGANTrainer(tiny(**{**OVERFIT, **kw})), tmp_path,
                                              "_mle_phase_epoch", step)
    assert full.early_stop.stopped


def test_leakgan_uses_it_too():
    cfg = from_dict(LeakGANConfig, {**LEAK_PRESETS["tiny"], **OVERFIT})
    tr = LeakGANTrainer(cfg)
    logs = [tr._mle_phase_epoch(i) for i in range(6)]
    assert "valid_nll" in logs[0] and "manager_loss" in logs[0] and len(tr.valid_data) == 10


def test_bad_values_are_refused():
    with pytest.raises(ConfigError, match="mle_patience"):
        tiny(mle_patience=-1).validate()
    with pytest.raises(ConfigError, match=r"valid_fraction must be in \(0, 1\), got 1.0"):
        tiny(valid_fraction=1.0).validate()
    with pytest.raises(ConfigError, match="lower valid_fraction or give more training data"):
        SeqGANTrainer(tiny(mle_patience=1, n_train=1))


def test_the_best_generator_is_restored_when_the_phase_ends_before_patience_runs_out():
    # the validation NLL turns up at epoch 4 of 4, patience 2: no stop, yet the phase ends with epoch 3's weights
    tr = SeqGANTrainer(tiny(**{**OVERFIT, "mle_patience": 2, "mle_epochs": 4}))
    logs = [tr._mle_phase_epoch(i) for i in range(4)]
    valid = [x["valid_nll"] for x in logs]
    assert valid[3] > valid[2] == min(valid) and tr.early_stop.stopped
    assert sequence_nll(tr.generator, tr.valid_data) == pytest.approx(valid[2], abs=1e-6)
