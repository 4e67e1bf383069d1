"""In-filling: masks, the encoder-decoder generator's incremental decoding, RolloutEngine.fill, `seqgan infill`."""
import shutil

import pytest
import torch

from seqgan import checkpoint
from seqgan.cli import main
from seqgan.discriminators.rnn import Critic, RNNDiscriminator
from seqgan.generators.infill import (InfillGenerator, make_present, masked_context, missing_counts,
                                      word_positions)
from seqgan.rollout.engine import RolloutEngine
from tests.test_cli import assert_user_error, run
from tests.text_fixtures import write_corpus

EOS, PAD = 2, 0


def rows_with_lengths(lengths, width, vocab=30, seed=0):
    g = torch.Generator().manual_seed(seed)
    rows = torch.full((len(lengths), width), PAD)
    for i, n in enumerate(lengths):
        rows[i, :n] = torch.randint(4, vocab, (n,), generator=g)
        rows[i, n] = EOS
    return rows


# --- masks ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["contiguous", "random"])
@pytest.mark.parametrize("rate", [0.0, 0.3, 0.5, 0.8])
def test_masks_have_the_present_rate_and_touch_only_words(kind, rate):
    lengths = [1, 2, 5, 9, 10, 3]
    rows = rows_with_lengths(lengths, 11)
    words = word_positions(rows, EOS)
    assert words.sum(1).tolist() == lengths
    present = make_present(words, kind, rate, torch.Generator().manual_seed(3))
    assert present.shape == rows.shape and present.dtype == torch.bool
    missing = ~present
    assert not (missing & ~words).any()  # EOS and padding are always given
    for i, n in enumerate(lengths):
        expected = min(n, max(1, int((1 - rate) * n + 0.5)))  # round half up, at least one
        assert missing[i].sum() == expected, (i, n)
        if kind == "contiguous":
            cols = missing[i].nonzero().squeeze(1)
            assert torch.equal(cols, torch.arange(cols[0], cols[0] + expected))  # one block
    assert torch.equal(missing_counts(torch.tensor(lengths), rate), missing.sum(1))


def test_masks_are_seeded_and_vary():
    words = word_positions(rows_with_lengths([10] * 50, 11), EOS)
    a = make_present(words, "random", 0.5, torch.Generator().manual_seed(1))
    b = make_present(words, "random", 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and len({tuple(r.tolist()) for r in a}) > 10
    starts = {int((~r).nonzero()[0]) for r in make_present(words, "contiguous", 0.5, torch.Generator().manual_seed(2))}
    assert starts == set(range(6))  # every start 0..L-n occurs among 50 rows
    with pytest.raises(ValueError, match="mask kind"):
        make_present(words, "stripes", 0.5)
    with pytest.raises(ValueError, match="present_rate"):
        make_present(words, "random", 1.0)


def test_masked_context_uses_the_encoder_only_mask_id():
    gen = InfillGenerator(12)
    rows = rows_with_lengths([4], 6, vocab=12)
    present = torch.tensor([[True, False, True, False, True, True]])
    ctx = masked_context(rows, present, gen.mask_token)
    assert gen.mask_token == 12 and ctx[0, 1] == 12 and ctx[0, 3] == 12 and torch.equal(ctx[present], rows[present])


# --- models --------------------------------------------------------------------------------------------------------

def test_incremental_decoding_equals_the_teacher_forced_pass():
    torch.manual_seed(0)
    gen = InfillGenerator(20, emb_dim=6, hidden_dim=7, num_layers=2, start_token=1).eval()
    rows = rows_with_lengths([5, 7, 3], 8, vocab=20)
    present = make_present(word_positions(rows, EOS), "random", 0.5, torch.Generator().manual_seed(0))
    ctx = masked_context(rows, present, gen.mask_token)
    full = gen.logits(ctx, rows)
    assert full.shape == (3, 8, 20)
    state = gen.initial_state(3, ctx)
    token = torch.full((3, 1), 1)
    steps = []
    for t in range(8):
        logits, state = gen.step(token, state)
        steps.append(logits[:, -1])
        token = rows[:, t:t + 1]
    torch.testing.assert_close(torch.stack(steps, 1), full, rtol=1e-5, atol=1e-6)
    # select forks rows, the context included
    picked = gen.select(gen.initial_state(3, ctx), torch.tensor([2, 2, 0]))
    assert picked[2].shape == (3, 8, 7) and torch.equal(picked[2][0], picked[2][1])
    with pytest.raises(ValueError, match="context"):
        gen.initial_state(3)


def test_discriminator_scores_every_token_and_the_critic_never_sees_the_token_it_values():
    torch.manual_seed(0)
    dis, critic = RNNDiscriminator(20, 6, 7), Critic(7, 5)
    rows = rows_with_lengths([6, 4], 8, vocab=20)
    ctx = masked_context(rows, torch.ones_like(rows, dtype=torch.bool), 20)
    assert dis(ctx, rows).shape == (2, 8)
    out, memory = dis.features(ctx, rows)
    values = critic(out, memory)
    changed = rows.clone()
    changed[:, 3] = 5  # change token 3: values up to position 3 must not move, later ones may
    out2, memory2 = dis.features(ctx, changed)
    values2 = critic(out2, memory2)
    torch.testing.assert_close(values[:, :4], values2[:, :4])
    assert not torch.allclose(values[:, 4:], values2[:, 4:])
    log_d, _, _ = dis.train().score(ctx, rows)
    assert dis.training and (log_d <= 0).all()


# --- the engine's fill ---------------------------------------------------------------------------------------------

def test_fill_changes_only_missing_positions():
    torch.manual_seed(0)
    gen = InfillGenerator(15, 6, 6, start_token=1, eos_token=EOS).eval()
    rows = rows_with_lengths([7, 9, 2, 5], 10, vocab=15)
    present = make_present(word_positions(rows, EOS), "contiguous", 0.5, torch.Generator().manual_seed(4))
    ctx = masked_context(rows, present, gen.mask_token)
    engine = RolloutEngine()
    filled = engine.fill(gen, rows, present, context=ctx, rng=torch.Generator().manual_seed(0))
    assert torch.equal(filled[present], rows[present])
    assert (filled[~present] < 15).all() and not torch.equal(filled, rows)  # samples, never the mask id
    assert engine.stats.token_steps == int((~present).sum())
    again = engine.fill(gen, rows, present, context=ctx, rng=torch.Generator().manual_seed(0))
    assert torch.equal(filled, again)
    everything = engine.fill(gen, rows, torch.ones_like(present), context=ctx)
    assert torch.equal(everything, rows) and engine.stats.token_steps == 0


def test_fill_feeds_each_sampled_token_to_the_next_step():
    """A policy that copies the token it read: a filled gap repeats the last given token before it."""

    class Copy(torch.nn.Module):
        start_token, vocab_size = 1, 9

        def initial_state(self, batch_size, context=None):
            return None

        def hidden(self, tokens, state):
            return torch.nn.functional.one_hot(tokens, 9).float(), state

        def project(self, outputs):
            return outputs * 1e4

        def select(self, state, index):
            return state

    rows = torch.tensor([[5, 6, 7, 8, 4]])
    present = torch.tensor([[True, False, False, True, False]])
    filled = RolloutEngine().fill(Copy(), rows, present)
    assert filled.tolist() == [[5, 5, 5, 8, 8]]


# --- seqgan infill -------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def model(tmp_path_factory):
    root = tmp_path_factory.mktemp("infill")
    spec = write_corpus(root / "data")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny LSTMs: threads cost more than they save
    try:
        code = main(["train", "maskgan", "--preset", "tiny", "--quiet", "--corpus", spec, "--max-len", "12",
                     "--out-dir", str(root / "run")])
    finally:
        torch.set_num_threads(threads)
    assert code == 0
    return root / "run" / "last.pt"


def test_infill_fills_the_masks_and_keeps_the_rest(model, capsys):
    code, out, err = run(capsys, "infill", model, "the cat <m> on the <m> .", "--seed", "3")
    assert code == 0, err
    words = out.strip().split(" ")
    assert len(words) == 7 and words[:2] == ["the", "cat"] and words[3:5] == ["on", "the"] and words[6] == "."
    assert "<m>" not in out
    code2, out2, _ = run(capsys, "infill", model, "the cat <m> on the <m> .", "--seed", "3")
    assert out2 == out  # seeded


def test_infill_file_mode_writes_one_line_per_input_line(model, capsys, tmp_path):
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("a man <m> on the table .\n<m> dogs\nthe cat looks at <m> <m> tree .\n")
    code, out, err = run(capsys, "infill", model, "--file", src, "--out", dst, "--temperature", "0.7")
    assert code == 0 and out == "", err
    lines = dst.read_text().splitlines()
    assert len(lines) == 3
    assert lines[0].startswith("a man ") and lines[0].endswith(" on the table .") and len(lines[0].split()) == 7
    assert lines[1].endswith(" dogs") and len(lines[1].split()) == 2
    assert lines[2].split()[:4] == ["the", "cat", "looks", "at"] and lines[2].split()[-2:] == ["tree", "."]


def test_infill_bad_input(model, capsys, tmp_path):
    code, _, err = run(capsys, "infill", model, "the cat sat .")
    assert_user_error(code, err, "has no <m>")
    code, _, err = run(capsys, "infill", model, "the zebra <m> on the qwerty .")
    assert_user_error(code, err, "'zebra'", "'qwerty'", "not in the model's vocabulary", "<unk>")
    code, _, err = run(capsys, "infill", model, " ".join(["the"] * 12 + ["<m>"]))
    assert_user_error(code, err, "13 tokens", "at most 12")
    code, out, err = run(capsys, "infill", model, "the <unk> <m> .")  # a literal <unk> is accepted
    assert code == 0, err
    src, dst = tmp_path / "in.txt", tmp_path / "out.txt"
    src.write_text("the cat <m> .\n\nthe <m> .\n")
    code, _, err = run(capsys, "infill", model, "--file", src, "--out", dst)
    assert_user_error(code, err, "in.txt line 2 has no <m>")
    assert not dst.exists()  # no partial output
    code, _, err = run(capsys, "infill", model)
    assert_user_error(code, err, "neither")
    code, _, err = run(capsys, "infill", model, "the <m>", "--temperature", "0")
    assert_user_error(code, err, "--temperature")

    other = tmp_path / "other.pt"
    payload = checkpoint.load(model)
    payload.pop("format"), payload.pop("version")
    checkpoint.save(other, {**payload, "algorithm": "seqgan"})
    code, _, err = run(capsys, "infill", other, "the <m> .")
    assert_user_error(code, err, "'seqgan' checkpoint", "seqgan train maskgan")
    broken = tmp_path / "broken.pt"
    shutil.copy(model, broken)
    broken.write_bytes(broken.read_bytes()[:100])
    code, _, err = run(capsys, "infill", broken, "the <m> .")
    assert_user_error(code, err, "corrupt")
