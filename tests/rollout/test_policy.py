"""The delayed rollout policy really moves: beta <- rate * beta + (1 - rate) * theta."""
import torch

from seqgan.generators.lstm import LSTMGenerator
from seqgan.rollout.policy import DelayedPolicy


def test_update_applies_the_rate_to_every_parameter():
    gen = LSTMGenerator(10, 4, 4)
    delayed = DelayedPolicy(gen, 0.8)
    before = {k: v.clone() for k, v in delayed.model.state_dict().items()}
    with torch.no_grad():
        for p in gen.parameters():
            p.add_(1.0)
    delayed.update(gen)
    for name, theta in gen.state_dict().items():
        torch.testing.assert_close(delayed.model.state_dict()[name], 0.8 * before[name] + 0.2 * theta)


def test_rollout_copy_is_independent_and_changes_its_outputs():
    gen = LSTMGenerator(10, 4, 4)
    delayed = DelayedPolicy(gen, 0.8)
    x = torch.randint(0, 10, (2, 5))
    out0, _ = delayed.model.step(x, delayed.model.initial_state(2))
    with torch.no_grad():
        for p in gen.parameters():
            p.mul_(3.0)
    out_same, _ = delayed.model.step(x, delayed.model.initial_state(2))
    torch.testing.assert_close(out0, out_same)  # a copy, not an alias
    delayed.update(gen)
    out1, _ = delayed.model.step(x, delayed.model.initial_state(2))
    assert (out1 - out0).abs().max() > 1e-3
    assert not any(p.requires_grad for p in delayed.model.parameters())


def test_reset_copies_exactly():
    gen = LSTMGenerator(10, 4, 4)
    delayed = DelayedPolicy(gen, 0.8)
    with torch.no_grad():
        for p in gen.parameters():
            p.normal_()
    delayed.reset(gen)
    for a, b in zip(delayed.model.parameters(), gen.parameters()):
        assert torch.equal(a, b)
