import torch

from seqgan.generators import teacher_forced_logits
from seqgan.generators.lstm import LSTMGenerator


def test_incremental_steps_equal_one_full_pass():
    gen = LSTMGenerator(20, 6, 5, num_layers=2, init_std=0.5)
    x = torch.randint(0, 20, (3, 7))
    full, _ = gen.step(x, gen.initial_state(3))
    state = gen.initial_state(3)
    parts = []
    for t in range(7):
        logits, state = gen.step(x[:, t:t + 1], state)
        parts.append(logits)
    torch.testing.assert_close(torch.cat(parts, 1), full)
    assert full.shape == (3, 7, 20)


def test_select_gathers_and_repeats_rows():
    gen = LSTMGenerator(20, 6, 5)
    x = torch.randint(0, 20, (3, 4))
    _, state = gen.step(x, gen.initial_state(3))
    idx = torch.tensor([2, 2, 0])
    picked = gen.select(state, idx)
    _, single = gen.step(x[idx], gen.initial_state(3))
    torch.testing.assert_close(picked[0], single[0])
    torch.testing.assert_close(picked[1], single[1])


def test_teacher_forcing_reads_start_token_then_shifted_targets():
    gen = LSTMGenerator(20, 6, 5, start_token=7)
    y = torch.randint(0, 20, (2, 5))
    manual, _ = gen.step(torch.cat([torch.full((2, 1), 7), y[:, :-1]], 1), gen.initial_state(2))
    torch.testing.assert_close(teacher_forced_logits(gen, y), manual)


def test_init_std_and_step_is_hidden_then_project():
    gen = LSTMGenerator(500, 32, 32, init_std=0.1)
    assert abs(gen.output.weight.std().item() - 0.1) < 0.01
    x = torch.randint(0, 500, (2, 3))
    h, _ = gen.hidden(x, gen.initial_state(2))
    logits, _ = gen.step(x, gen.initial_state(2))
    torch.testing.assert_close(gen.project(h), logits)
