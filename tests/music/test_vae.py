"""MusicVAE model: shapes, loss formulas, slerp, the per-bar conductor embeddings, sampling through the engine."""
import math

import pytest
import torch

from seqgan.music.melody import NUM_CLASSES
from seqgan.music.vae import (ArgmaxPolicy, MusicVAE, free_bits_penalty, kl_beta, kl_normal, sampling_probability,
                              slerp, vae_loss)
from seqgan.rollout.engine import RolloutEngine


def tiny(decoder, bars=2, seed=0):
    torch.manual_seed(seed)
    return MusicVAE(bars, decoder, emb_dim=6, enc_hidden=8, z_dim=5, conductor_hidden=7, dec_hidden=9)


def windows(n, bars, seed=0):
    return torch.randint(0, NUM_CLASSES, (n, bars * 16), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
@pytest.mark.parametrize("bars", [2, 16])
def test_shapes(decoder, bars):
    m = tiny(decoder, bars)
    x = windows(3, bars)
    logits, mu, sigma = m(x)
    assert logits.shape == (3, bars * 16, NUM_CLASSES)
    assert mu.shape == sigma.shape == (3, 5)
    assert bool((sigma > 0).all())
    # step-by-step decoding (scheduled sampling with probability 0 of own samples is teacher forcing) equals the
    # one-call teacher-forced pass
    z = mu.detach()
    full = m.decode_logits(z, x)
    stepwise = m.decode_logits(z, x, sample_prob=1e-30, rng=torch.Generator().manual_seed(0))
    assert torch.allclose(full, stepwise, atol=1e-5)


def test_kl_free_bits_and_annealing_formulas():
    mu = torch.tensor([[1.0, 0.0], [0.0, 0.0]])
    sigma = torch.tensor([[1.0, 2.0], [1.0, 1.0]])
    # row 0: 0.5 * (1 + 1 - 1 - 0) + 0.5 * (0 + 4 - 1 - 2 ln 2) = 0.5 + 1.5 - ln 2
    kl = kl_normal(mu, sigma)
    assert kl[0].item() == pytest.approx(2.0 - math.log(2.0), abs=1e-6)
    assert kl[1].item() == pytest.approx(0.0, abs=1e-7)
    # free bits: tau = 1 bit = ln 2 nats -> row 0 penalty 2 - 2 ln 2, row 1 zero
    pen = free_bits_penalty(kl, 1.0)
    assert pen[0].item() == pytest.approx(2.0 - 2 * math.log(2.0), abs=1e-6)
    assert pen[1].item() == 0.0
    assert free_bits_penalty(kl, 10.0).sum().item() == 0.0
    # linear annealing
    assert kl_beta(0, 0.2, 100) == 0.0
    assert kl_beta(50, 0.2, 100) == pytest.approx(0.1)
    assert kl_beta(100, 0.2, 100) == pytest.approx(0.2)
    assert kl_beta(1000, 0.2, 100) == pytest.approx(0.2)
    assert kl_beta(0, 0.2, 0) == pytest.approx(0.2)
    # inverse sigmoid scheduled sampling: 1 - k / (k + exp(i / k))
    assert sampling_probability(0, 0) == 0.0
    assert sampling_probability(0, 10.0) == pytest.approx(1 - 10 / 11)
    assert sampling_probability(30, 10.0) == pytest.approx(1 - 10 / (10 + math.exp(3)))
    assert sampling_probability(10 ** 9, 10.0) == 1.0
    # the total loss
    logits = torch.zeros(2, 3, 4)
    targets = torch.zeros(2, 3, dtype=torch.long)
    out = vae_loss(logits, targets, mu, sigma, beta=0.5, free_bits=1.0)
    assert out["recon"].item() == pytest.approx(3 * math.log(4.0), abs=1e-5)
    assert out["kl"].item() == pytest.approx((2.0 - math.log(2.0)) / 2, abs=1e-6)
    expected = 3 * math.log(4.0) + 0.5 * (2.0 - 2 * math.log(2.0)) / 2
    assert out["loss"].item() == pytest.approx(expected, abs=1e-5)


def test_slerp_endpoints_and_norm():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(16, generator=g)
    b = torch.randn(16, generator=g)
    b = b / b.norm() * a.norm()
    assert torch.allclose(slerp(a, b, 0.0), a, atol=1e-5)
    assert torch.allclose(slerp(a, b, 1.0), b, atol=1e-5)
    for t in (0.25, 0.5, 0.8):
        assert slerp(a, b, t).norm().item() == pytest.approx(a.norm().item(), rel=1e-5)
    mid = slerp(a, b, 0.5)   # equal angles to both ends
    cos = lambda u, v: (u @ v / u.norm() / v.norm()).item()  # noqa: E731
    assert cos(mid, a) == pytest.approx(cos(mid, b), abs=1e-5)
    assert torch.allclose(slerp(a, a, 0.3), a, atol=1e-5)   # parallel: no NaN


def test_hierarchical_bar_embedding_only_changes_its_bar():
    m = tiny("hierarchical", bars=4)
    x = windows(2, 4)
    dec = m.decoder
    z = torch.randn(2, 5, generator=torch.Generator().manual_seed(1))
    emb = dec.conduct(z)
    assert emb.shape == (2, 4, 7)
    with torch.no_grad():
        base, _ = dec.hidden(m.shifted(x), dec.state_from_embeddings(emb))
        changed = emb.clone()
        changed[:, 2] += 1.0
        out, _ = dec.hidden(m.shifted(x), dec.state_from_embeddings(changed))
    diff = (out - base).abs().amax(dim=(0, 2))          # per step
    assert float(diff[32:48].min()) > 0                  # bar 2 changes everywhere
    assert float(diff[:32].max()) == 0 and float(diff[48:].max()) == 0
    # and the initial state from z is exactly the conductor's embeddings
    with torch.no_grad():
        via_z, _ = dec.hidden(m.shifted(x), dec.initial_state(2, z))
    assert torch.equal(via_z, base)


@pytest.mark.parametrize("decoder", ["flat", "hierarchical"])
def test_engine_sampling_is_valid_and_reproducible(decoder):
    m = tiny(decoder, bars=2)
    engine = RolloutEngine()
    z = torch.randn(4, 5, generator=torch.Generator().manual_seed(2))
    a = m.decode(z, engine, greedy=False, rng=torch.Generator().manual_seed(7))
    b = m.decode(z, engine, greedy=False, rng=torch.Generator().manual_seed(7))
    c = m.decode(z, engine, greedy=False, rng=torch.Generator().manual_seed(8))
    assert a.shape == (4, 32) and a.dtype == torch.long
    assert int(a.min()) >= 0 and int(a.max()) < NUM_CLASSES
    assert torch.equal(a, b) and not torch.equal(a, c)
    # greedy through the engine equals a hand-written argmax loop over the same policy
    g = m.decode(z, engine, greedy=True, rng=torch.Generator().manual_seed(9))
    dec = m.decoder
    state = dec.initial_state(4, z)
    tok = torch.full((4, 1), dec.start_token)
    ref = []
    with torch.no_grad():
        for _ in range(32):
            out, state = dec.hidden(tok, state)
            tok = dec.project(out[:, -1]).argmax(-1, keepdim=True)
            ref.append(tok)
    assert torch.equal(g, torch.cat(ref, 1))
    assert ArgmaxPolicy(dec).vocab_size == NUM_CLASSES
