import torch

from seqgan.generators import pad_after_eos, real_token_mask, teacher_forced_logits
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


def test_real_token_mask_and_padding():
    y = torch.tensor([[3, 1, 4, 1], [5, 6, 7, 8], [1, 1, 1, 1]])
    mask = real_token_mask(y, 1)
    assert mask.tolist() == [[True, True, False, False], [True] * 4, [True, False, False, False]]
    assert pad_after_eos(y, 1, 0).tolist() == [[3, 1, 0, 0], [5, 6, 7, 8], [1, 0, 0, 0]]
    assert real_token_mask(y, None).all()


def test_sampling_a_variable_length_model_pads_after_eos():
    from seqgan.generators.sampling import sample_sequences
    gen = LSTMGenerator(4, 4, 4, init_std=1.0, eos_token=3, pad_token=0)
    with torch.no_grad():
        gen.output.bias[3] += 1.0
    x = sample_sequences(gen, 200, 10, torch.Generator().manual_seed(0), batch_size=64)
    assert (x == 3).any()
    assert torch.equal(x, pad_after_eos(x, 3, 0))
