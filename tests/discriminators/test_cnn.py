"""The SeqGAN CNN discriminator: shapes, the paper's filters, padding, L2 penalty, Conv1d == the paper's Conv2d."""
import pytest
import torch
import torch.nn.functional as F

from seqgan.discriminators.cnn import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator

V = 50


def small(**kw):
    torch.manual_seed(0)
    args = dict(emb_dim=6, filter_sizes=(1, 2, 4), num_filters=(3, 5, 2), dropout=0.25)
    args.update(kw)
    return CNNDiscriminator(V, **args)


def tokens(b, t, seed=1):
    return torch.randint(0, V, (b, t), generator=torch.Generator().manual_seed(seed))


def test_output_shape_and_features():
    d = small().eval()
    x = tokens(7, 9)
    out = d(x)
    assert out.shape == (7,) and out.dtype == torch.float32 and torch.isfinite(out).all()
    assert d.features(x).shape == (7, 10)
    # one sequence scored alone gets the same logit as inside the batch (rows are independent)
    torch.testing.assert_close(d(x[2:3]), out[2:3])


def test_paper_defaults():
    assert PAPER_FILTER_SIZES == (1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20)
    assert PAPER_NUM_FILTERS == (100, 200, 200, 200, 200, 100, 100, 100, 100, 100, 160, 160)
    d = CNNDiscriminator(V, emb_dim=64)
    assert [c.kernel_size[0] for c in d.convs] == list(PAPER_FILTER_SIZES)
    assert [c.out_channels for c in d.convs] == list(PAPER_NUM_FILTERS)
    assert all(c.in_channels == 64 for c in d.convs)
    assert d.highway.transform.in_features == 1720 and d.output.in_features == 1720 and d.output.out_features == 1
    assert d.dropout.p == 0.25
    assert d.eval()(tokens(3, 20)).shape == (3,)
    # the paper's initialisation: embeddings U(-1, 1), conv weights truncated N(0, 0.1^2) within 2 std, biases 0.1
    assert d.embedding.weight.abs().max() <= 1.0
    w = torch.cat([c.weight.flatten() for c in d.convs])
    assert w.abs().max() <= 0.2 and 0.07 < w.std() < 0.1
    assert all(torch.all(c.bias == 0.1) for c in d.convs)


@pytest.mark.parametrize("t", [1, 2, 3, 4])
def test_sequences_shorter_than_widest_filter(t):
    d = small().eval()
    x = tokens(5, t)
    out = d(x)
    assert out.shape == (5,) and torch.isfinite(out).all()
    # short sequences are right-padded with pad_token up to the widest filter
    padded = torch.cat([x, torch.full((5, 4 - t), d.pad_token)], dim=1)
    torch.testing.assert_close(out, d(padded))


def test_short_sequences_with_paper_filters():
    d = CNNDiscriminator(V).eval()
    assert d(tokens(2, 5)).shape == (2,)


def test_l2_penalty_is_half_sum_of_squares_of_output_layer():
    d = small()
    with torch.no_grad():
        d.output.weight.copy_(torch.arange(10.0).view(1, 10) / 10)
        d.output.bias.fill_(-3.0)
    expected = 0.5 * (sum((i / 10) ** 2 for i in range(10)) + 9.0)
    assert d.l2_penalty().item() == pytest.approx(expected, rel=1e-6)
    # only the output layer counts, and the penalty has a gradient there
    d.l2_penalty().backward()
    torch.testing.assert_close(d.output.weight.grad, d.output.weight.detach())
    assert d.embedding.weight.grad is None and d.convs[0].weight.grad is None


def paper_conv2d_features(d: CNNDiscriminator, x: torch.Tensor) -> torch.Tensor:
    """The paper's formulation: a (B, 1, T, E) 'image', one Conv2d with kernel (w, E) per width, relu, max-pool."""
    emb = d.embedding(x).unsqueeze(1)                      # (B, 1, T, E)
    pooled = []
    for conv, w in zip(d.convs, d.filter_sizes):
        kernel = conv.weight.permute(0, 2, 1).unsqueeze(1)  # Conv1d (n, E, w) -> Conv2d (n, 1, w, E)
        assert kernel.shape[2:] == (w, d.embedding.embedding_dim)
        h = torch.relu(F.conv2d(emb, kernel, conv.bias))   # (B, n, T - w + 1, 1)
        pooled.append(h.amax(dim=(2, 3)))
    return d.highway(torch.cat(pooled, dim=1))


def test_conv1d_equals_paper_conv2d():
    d = small(filter_sizes=(1, 2, 3, 5), num_filters=(4, 3, 2, 6)).eval()
    with torch.no_grad():
        for conv in d.convs:  # random weights of both signs, biases too, so relu and max both matter
            conv.weight.normal_()
            conv.bias.normal_()
    x = tokens(6, 11)
    torch.testing.assert_close(d.features(x), paper_conv2d_features(d, x), rtol=1e-5, atol=1e-5)


def test_highway_formula():
    d = small().eval()
    z = torch.randn(4, 10)
    t = torch.sigmoid(z @ d.highway.gate.weight.T + d.highway.gate.bias)
    expected = t * torch.relu(z @ d.highway.transform.weight.T + d.highway.transform.bias) + (1 - t) * z
    torch.testing.assert_close(d.highway(z), expected)


def test_dropout_in_train_mode_only():
    d = small(dropout=0.5)
    x = tokens(32, 9)
    d.eval()
    a, b = d(x), d(x)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, d.output(d.features(x)).squeeze(1))
    d.train()
    torch.manual_seed(1)
    c = d(x)
    torch.manual_seed(2)
    e = d(x)
    assert not torch.allclose(c, e) and not torch.allclose(c, a)


def test_dropout_zero_train_equals_eval():
    d = small(dropout=0.0)
    x = tokens(4, 6)
    torch.testing.assert_close(d.train()(x), d.eval()(x))


@pytest.mark.parametrize("sizes,counts", [((1, 2), (3,)), ((), ()), ((0, 2), (3, 3)), ((1, 2), (3, 0))])
def test_bad_filter_configuration(sizes, counts):
    with pytest.raises(ValueError):
        CNNDiscriminator(V, 4, sizes, counts)


def test_gradients_reach_every_parameter():
    d = small(dropout=0.0).train()
    with torch.no_grad():
        for conv in d.convs:
            conv.bias.fill_(1.0)  # keep every relu alive
    d(tokens(8, 7)).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())
