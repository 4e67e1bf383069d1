"""Shared by the trainer tests: parameter snapshots, and the resume check every SeqGAN-family trainer must pass (a
run killed in its second adversarial epoch and resumed from the checkpoint ends with the same parameters and the
same metrics.jsonl as an uninterrupted run)."""
import pytest
import torch

from seqgan.trainers.loop import fit


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    """Names of the entries of ``module``'s state that differ from the ``snapshot`` ``before``."""
    return [k for k, v in module.state_dict().items() if not torch.equal(v, before[k])]


def assert_resume_equals_uninterrupted(make_trainer, tmp_path, modules=("generator", "discriminator")):
    """``make_trainer(**config_overrides)`` builds a fresh trainer of the tiny configuration."""
    full = make_trainer()
    fit(full, tmp_path / "full")

    killed = make_trainer()
    real_step = killed._adversarial_epoch

    def dies_at_second(i):
        if i == 1:
            raise KeyboardInterrupt
        return real_step(i)

    killed._adversarial_epoch = dies_at_second
    with pytest.raises(KeyboardInterrupt):
        fit(killed, tmp_path / "resumed")
    resumed = make_trainer(seed=12345)  # state comes from the checkpoint, not the constructor
    resumed.config = full.config
    fit(resumed, tmp_path / "resumed", resume=True)

    for name in modules:
        a, b = getattr(full, name).state_dict(), getattr(resumed, name).state_dict()
        assert all(torch.equal(a[k], b[k]) for k in a), name
    assert all(torch.equal(a, b) for a, b in zip(full.rollout.model.parameters(), resumed.rollout.model.parameters()))
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == (tmp_path / "resumed" / "metrics.jsonl").read_text()
    return full
