"""The engine's precision knob and its GPU-minded sampler paths, checked on the CPU."""
import pytest
import torch

from seqgan.discriminators.cnn import CNNDiscriminator
from seqgan.generators import sampling
from seqgan.generators.lstm import LSTMGenerator
from seqgan.rollout.engine import DiscriminatorReward, RolloutEngine

# bf16 keeps 8 bits of mantissa: a discriminator probability carries an error of a few 1e-3, and a Monte Carlo
# mean of N scores a little less. Tokens sampled under bf16 logits may also differ now and then from float32's
# (the same uniform falls on the other side of a shifted boundary). The stated bound on the rewards Q:
BF16_ATOL = 0.02


def models(vocab=50):
    torch.manual_seed(0)
    gen = LSTMGenerator(vocab, 16, 16).eval()
    disc = CNNDiscriminator(vocab, 16, (2, 3), (8, 8), 0.0)
    return gen, DiscriminatorReward(disc)


@pytest.mark.usefixtures("single_thread")
def test_bf16_rewards_stay_within_the_stated_tolerance_of_float32():
    gen, reward = models()
    tokens = RolloutEngine().sample(gen, 8, 10, rng=torch.Generator().manual_seed(1))
    q32 = RolloutEngine().rewards(gen, tokens, reward, 8, rng=torch.Generator().manual_seed(2))
    q16 = RolloutEngine(precision="bf16").rewards(gen, tokens, reward, 8, rng=torch.Generator().manual_seed(2))
    assert q16.dtype == torch.float32 and q16.shape == q32.shape
    assert (q16 - q32).abs().max().item() < BF16_ATOL
    # bf16 really ran: the scores are not bit-identical to float32's
    assert not torch.equal(q16, q32)
    # the full sequences' own scores (no sampling involved) differ only by bf16 arithmetic
    torch.testing.assert_close(q16[:, -1], q32[:, -1], atol=1e-2, rtol=0)


def test_tf32_on_cpu_is_float32():
    gen, reward = models()
    tokens = RolloutEngine().sample(gen, 4, 6, rng=torch.Generator().manual_seed(1))
    a = RolloutEngine().rewards(gen, tokens, reward, 4, rng=torch.Generator().manual_seed(3))
    b = RolloutEngine(precision="tf32").rewards(gen, tokens, reward, 4, rng=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_unknown_precision_is_refused():
    with pytest.raises(ValueError, match="precision must be one of fp32, bf16, tf32"):
        RolloutEngine(precision="fp8")


def test_inverse_cdf_picks_the_bin_of_its_uniform_whatever_the_row_chunking():
    """The GPU path takes up to CUDA_ROW_CHUNK rows of a step at once, the CPU path 512: given the same
    uniforms, the rows are independent, and each picks the token whose CDF interval holds u."""
    torch.manual_seed(0)
    logits, u = torch.randn(1200, 37) * 3, torch.rand(1200, 1)
    whole = sampling._inverse_cdf(logits, u)
    chunked = torch.cat([sampling._inverse_cdf(a, b) for a, b in zip(logits.split(512), u.split(512))])
    assert torch.equal(whole, chunked)
    cdf = torch.softmax(logits.double(), -1).cumsum(-1)
    hi = cdf.gather(1, whole[:, None])
    lo = torch.where(whole[:, None] > 0, cdf.gather(1, (whole[:, None] - 1).clamp(min=0)), torch.zeros_like(hi))
    assert bool(((lo - 1e-5 <= u) & (u < hi + 1e-5)).all())
