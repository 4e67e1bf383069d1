"""WaveGAN: shapes for every slice length, phase shuffle exactly as specified, the WGAN-GP loss by hand."""
import pytest
import torch

from seqgan.audio.wavegan import (SliceLengthError, WaveGANDiscriminator, WaveGANGenerator, gradient_penalty,
                                  phase_shuffle, wgan_g_loss, wgan_gp_d_loss)


@pytest.mark.parametrize("slice_len", [16384, 32768, 65536])
def test_shapes_for_every_slice_length(slice_len):
    torch.manual_seed(0)
    g = WaveGANGenerator(latent_dim=8, model_size=2, slice_len=slice_len)
    d = WaveGANDiscriminator(model_size=2, slice_len=slice_len)
    x = g(torch.randn(3, 8))
    assert x.shape == (3, 1, slice_len) and x.abs().max() < 1
    assert d(x).shape == (3,)
    assert len(g.layers) == (5 if slice_len == 16384 else 6) and len(d.convs) == len(g.layers)


def test_paper_sizes_at_model_size_64():
    g, d = WaveGANGenerator(), WaveGANDiscriminator()
    assert g.dense.out_features == 16 * 1024 and [l.kernel_size[0] for l in g.layers] == [25] * 5
    assert [l.stride[0] for l in g.layers] == [4] * 5 and [l.out_channels for l in g.layers] == [512, 256, 128, 64, 1]
    assert [c.out_channels for c in d.convs] == [64, 128, 256, 512, 1024] and d.out.in_features == 16 * 1024


def test_other_slice_lengths_are_refused():
    with pytest.raises(SliceLengthError, match="16384, 32768, 65536"):
        WaveGANGenerator(slice_len=16000)
    with pytest.raises(SliceLengthError):
        WaveGANDiscriminator(slice_len=8192)


def test_conditional_models_use_the_label():
    torch.manual_seed(0)
    g = WaveGANGenerator(latent_dim=8, model_size=2, num_classes=10)
    d = WaveGANDiscriminator(model_size=2, num_classes=10).eval()
    z = torch.randn(1, 8).repeat(2, 1)
    x = g(z, torch.tensor([1, 7]))
    assert not torch.equal(x[0], x[1])
    s = d(x[:1].repeat(2, 1, 1), torch.tensor([1, 7]))
    assert s[0] != s[1]
    with pytest.raises(ValueError, match="needs labels"):
        g(z)


def test_phase_shuffle_reflect_padding_exact_values():
    x = torch.arange(6.0).view(1, 1, 6)
    assert phase_shuffle(x, 2, shift=2).flatten().tolist() == [2, 1, 0, 1, 2, 3]
    assert phase_shuffle(x, 2, shift=1).flatten().tolist() == [1, 0, 1, 2, 3, 4]
    assert phase_shuffle(x, 2, shift=-2).flatten().tolist() == [2, 3, 4, 5, 4, 3]
    assert phase_shuffle(x, 2, shift=-1).flatten().tolist() == [1, 2, 3, 4, 5, 4]
    assert phase_shuffle(x, 2, shift=0).flatten().tolist() == [0, 1, 2, 3, 4, 5]


def test_radius_zero_is_the_identity():
    x = torch.randn(3, 4, 10)
    assert phase_shuffle(x, 0, torch.Generator().manual_seed(1)) is x


def test_one_shift_shared_by_the_batch_and_every_shift_in_range_drawn():
    x = torch.randn(8, 3, 20)
    rng = torch.Generator().manual_seed(0)
    seen = set()
    for _ in range(60):
        y = phase_shuffle(x, 2, rng)
        shifts = [k for k in range(-2, 3) if torch.equal(y, phase_shuffle(x, 2, shift=k))]
        assert len(shifts) == 1                # the whole batch (every row and channel) moved by the same k
        seen.add(shifts[0])
    assert seen == {-2, -1, 0, 1, 2}


@torch.no_grad()
def test_discriminator_shuffles_in_training_only_and_per_batch():
    torch.manual_seed(0)
    d = WaveGANDiscriminator(model_size=2, phase_shuffle=2)
    x = torch.randn(1, 1, 16384).repeat(4, 1, 1)
    scores = d(x, rng=torch.Generator().manual_seed(3))
    assert torch.allclose(scores, scores[0].expand(4))   # identical rows stay identical: one shift for the batch
    outs = {round(float(d(x[:1], rng=torch.Generator().manual_seed(s))[0]), 6) for s in range(8)}
    assert len(outs) > 1                                 # training mode: shifts change the score
    d.eval()
    assert len({round(float(d(x[:1], rng=torch.Generator().manual_seed(s))[0]), 6) for s in range(4)}) == 1


def test_gradient_penalty_on_a_linear_critic_by_hand():
    torch.manual_seed(0)
    w, b = torch.randn(1, 2, 5), 0.3
    critic = lambda x: (x * w).sum(dim=(1, 2)) + b      # noqa: E731 - grad is w everywhere
    real, fake = torch.randn(4, 2, 5), torch.randn(4, 2, 5)
    gp = gradient_penalty(critic, real, fake, torch.rand(4))
    assert torch.allclose(gp, (w.norm() - 1) ** 2, atol=1e-6)


def test_gradient_penalty_on_a_quadratic_critic_by_hand():
    real, fake = torch.randn(3, 1, 4), torch.randn(3, 1, 4)
    alpha = torch.tensor([0.0, 0.5, 1.0])
    gp = gradient_penalty(lambda x: (x ** 2).sum(dim=(1, 2)), real, fake, alpha)
    x_hat = real + alpha.view(-1, 1, 1) * (fake - real)  # grad of sum x^2 is 2 x_hat
    expected = ((2 * x_hat.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(gp, expected, atol=1e-5)


def test_gradient_penalty_trains_the_critic():
    lin = torch.nn.Linear(4, 1)
    gp = gradient_penalty(lambda x: lin(x).squeeze(1), torch.randn(2, 4), torch.randn(2, 4), torch.rand(2))
    gp.backward()
    assert lin.weight.grad is not None and lin.weight.grad.abs().sum() > 0


def test_wgan_losses():
    d_real, d_fake = torch.tensor([1.0, 3.0]), torch.tensor([0.5, -0.5])
    assert wgan_gp_d_loss(d_real, d_fake, torch.tensor(0.25), 10.0).item() == pytest.approx(0.0 - 2.0 + 2.5)
    assert wgan_g_loss(d_fake).item() == 0.0
