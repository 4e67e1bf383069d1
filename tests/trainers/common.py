"""Shared by the trainer tests: parameter snapshots (of one module, or of every network a trainer checkpoints),
interrupting a run at a chosen step, and the resume check every trainer with an adversarial phase must pass (a run
killed in its second adversarial epoch and resumed from the checkpoint ends with the same parameters and the same
metrics.jsonl as an uninterrupted run)."""
import pytest
import torch

from seqgan import checkpoint
from seqgan.trainers.loop import LAST, fit


def snapshot(module):
    return {k: v.detach().clone() for k, v in module.state_dict().items()}


def changed(before, module):
    """Names of the entries of ``module``'s state that differ from the ``snapshot`` ``before``."""
    return [k for k, v in module.state_dict().items() if not torch.equal(v, before[k])]


def networks(trainer) -> dict[str, torch.nn.Module]:
    """The networks in the trainer's state_dict, by their key there: modules (generator, discriminator, critic...)
    and holders of one (the delayed rollout policy's ``model``)."""
    out = {}
    for name in trainer.state_dict():
        held = getattr(trainer, name, None)
        held = getattr(held, "model", held)
        if isinstance(held, torch.nn.Module):
            out[name] = held
    return out


def snapshot_networks(trainer) -> dict[str, dict[str, torch.Tensor]]:
    """``snapshot`` of every network of ``networks(trainer)`` (plain tensors: torch.save/load(weights_only) it)."""
    return {name: snapshot(module) for name, module in networks(trainer).items()}


def assert_same_networks(a: dict, b: dict, atol: float = 0.0) -> None:
    """Two ``snapshot_networks`` hold the same networks with equal (or, with ``atol``, close) parameters."""
    assert set(a) == set(b) and a
    for name in a:
        assert set(a[name]) == set(b[name]), name
        for k in a[name]:
            if atol:
                torch.testing.assert_close(a[name][k], b[name][k], atol=atol, rtol=0, msg=f"{name}.{k}")
            else:
                assert torch.equal(a[name][k], b[name][k]), f"{name}.{k}"


def interrupt_at(trainer, method: str = "_adversarial_epoch", step: int = 1) -> None:
    """Make step ``step`` of the trainer's phase method ``method`` raise KeyboardInterrupt (a killed run)."""
    real_step = getattr(trainer, method)

    def dies(i):
        if i == step:
            raise KeyboardInterrupt
        return real_step(i)

    setattr(trainer, method, dies)


def assert_resume_equals_uninterrupted(make_trainer, tmp_path, method: str = "_adversarial_epoch", step: int = 1):
    """``make_trainer(**config_overrides)`` builds a fresh trainer of the tiny configuration (a checkpoint every
    step); the killed run dies at step ``step`` of the phase method ``method``."""
    full = make_trainer()
    fit(full, tmp_path / "full")

    killed = make_trainer()
    interrupt_at(killed, method, step)
    with pytest.raises(KeyboardInterrupt):
        fit(killed, tmp_path / "resumed")
    assert checkpoint.load(tmp_path / "resumed" / LAST)["progress"]["step"] == step  # the last finished step
    resumed = make_trainer(seed=12345)  # state comes from the checkpoint, not the constructor
    resumed.config = full.config
    fit(resumed, tmp_path / "resumed", resume=True)

    assert_same_networks(snapshot_networks(full), snapshot_networks(resumed))
    assert (tmp_path / "full" / "metrics.jsonl").read_text() == (tmp_path / "resumed" / "metrics.jsonl").read_text()
    return full
