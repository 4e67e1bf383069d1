"""The fast sampler against exact softmax probabilities."""
import pytest
import torch

from seqgan.generators.sampling import _block_size, sample_logits


def frequencies(logits, n, seed=0, temperature=1.0):
    rows = logits.expand(n, -1).contiguous()
    draws = sample_logits(rows, torch.Generator().manual_seed(seed), temperature)
    return torch.bincount(draws, minlength=logits.shape[-1]).float() / n


@pytest.mark.parametrize("vocab", [7, 100, 4999, 5000])  # 4999 is prime: the zero-padded block path
def test_frequencies_match_softmax(vocab):
    g = torch.Generator().manual_seed(vocab)
    logits = torch.randn(1, vocab, generator=g) * 3
    probs = torch.softmax(logits, -1)[0]
    n = 200_000 if vocab <= 100 else 40_000
    counts = frequencies(logits, n) * n
    # Pearson chi-square over bins of consecutive tokens (sorted by probability) holding >= 50 expected draws;
    # under the null it has mean df and sd sqrt(2 df): allow 5 sd.
    order = probs.argsort()
    expected, observed, stat, bins = 0.0, 0.0, 0.0, 0
    for i in order.tolist():
        expected += probs[i].item() * n
        observed += counts[i].item()
        if expected >= 50:
            stat += (observed - expected) ** 2 / expected
            bins, expected, observed = bins + 1, 0.0, 0.0
    df = bins - 1
    assert df >= 5
    assert stat < df + 5 * (2 * df) ** 0.5, (stat, df)


def test_zero_probability_tokens_are_never_drawn():
    logits = torch.full((1, 4999), float("-inf"))
    logits[0, [0, 63, 64, 4998]] = torch.tensor([0.0, 1.0, 2.0, 0.5])
    freq = frequencies(logits, 20_000)
    assert set(torch.nonzero(freq).flatten().tolist()) == {0, 63, 64, 4998}


def test_temperature_sharpens():
    logits = torch.tensor([[0.0, 1.0, 2.0]])
    cold = frequencies(logits, 100_000, temperature=0.5)
    expected = torch.softmax(logits / 0.5, -1)[0]
    assert (cold - expected).abs().max() < 0.01
    with pytest.raises(ValueError, match="temperature"):
        sample_logits(logits, temperature=0)


def test_same_generator_state_same_draws():
    logits = torch.randn(1000, 300)
    a = sample_logits(logits, torch.Generator().manual_seed(3))
    b = sample_logits(logits, torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_block_size_divides_vocab_when_it_can():
    assert 5000 % _block_size(5000) == 0
    assert _block_size(4999) == 64
