"""The SeqGAN oracle: the published parameters, their safe loading, and the mapping onto our LSTM."""
import os
import pickle
import shutil

import numpy as np
import pytest
import torch

from seqgan.data import oracle as om
from seqgan.data.oracle import (ARRAY_NAMES, ORACLE_DIR, OracleFileError, find_oracle_arrays, load_arrays_from_pickle,
                                load_oracle, oracle_from_arrays, random_oracle)
from seqgan.generators.sampling import sample_sequences
from seqgan.metrics.nll import sequence_nll

SHAPES = [(5000, 32)] + [(32, 32), (32, 32), (32,)] * 4 + [(32, 5000), (5000,)]


@pytest.fixture
def oracle_dir(data_dir):
    folder = data_dir / ORACLE_DIR
    if not (folder / "target_params.npz").is_file():
        pytest.skip(f"{folder}/target_params.npz is absent")
    return folder


def numpy_oracle_logits(arrays, tokens):
    """PROVENANCE.md's gate equations, row-vector convention, h0 = c0 = 0, input at step 0 = START token 0.

    Returns (B, T, V): logits[:, t] is the distribution of token t given tokens[:, :t].
    """
    emb, Wi, Ui, bi, Wf, Uf, bf, Wog, Uog, bog, Wc, Uc, bc, Wo, bo = [np.asarray(a, np.float64) for a in arrays]

    def sigmoid(z):
        return 1.0 / (1.0 + np.exp(-z))

    B, T = tokens.shape
    h = np.zeros((B, 32))
    c = np.zeros((B, 32))
    inputs = np.concatenate([np.zeros((B, 1), np.int64), tokens[:, :-1]], axis=1)
    out = []
    for t in range(T):
        x = emb[inputs[:, t]]
        i = sigmoid(x @ Wi + h @ Ui + bi)
        f = sigmoid(x @ Wf + h @ Uf + bf)
        o = sigmoid(x @ Wog + h @ Uog + bog)
        c_tilde = np.tanh(x @ Wc + h @ Uc + bc)
        c = f * c + i * c_tilde
        h = o * np.tanh(c)
        out.append(h @ Wo + bo)
    return np.stack(out, axis=1)


def random_arrays(seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return [(rng.standard_normal(s) * scale).astype(np.float32) for s in SHAPES]


def torch_logits(model, tokens):
    start = torch.full((tokens.shape[0], 1), model.start_token)
    with torch.no_grad():
        logits, _ = model.step(torch.cat([start, torch.from_numpy(tokens[:, :-1])], dim=1),
                               model.initial_state(tokens.shape[0]))
    return logits.double().numpy()


# every token id 0..4999 may appear, including the start token 0 as an ordinary item
TOKENS = np.array([[0, 4999, 17, 17, 2500, 3, 0, 1234],
                   [42, 0, 0, 4998, 1, 2, 3, 4]], dtype=np.int64)


def test_mapping_equals_numpy_gate_equations_random_arrays():
    arrays = random_arrays(0)
    model = oracle_from_arrays(arrays)
    assert model.start_token == 0 and model.vocab_size == 5000
    np.testing.assert_allclose(torch_logits(model, TOKENS), numpy_oracle_logits(arrays, TOKENS), atol=1e-4, rtol=1e-5)


def test_mapping_distinguishes_the_gates():
    # swapping two gates' parameters must change the logits, or the test above could not catch a wrong order
    arrays = random_arrays(1)
    swapped = list(arrays)
    swapped[7:10], swapped[10:13] = arrays[10:13], arrays[7:10]  # output gate <-> candidate
    assert not np.allclose(torch_logits(oracle_from_arrays(swapped), TOKENS), numpy_oracle_logits(arrays, TOKENS),
                           atol=1e-3)


def test_mapping_equals_numpy_gate_equations_published(oracle_dir):
    with np.load(oracle_dir / "target_params.npz", allow_pickle=False) as z:
        arrays = [z[k] for k in ARRAY_NAMES]
    model, source = load_oracle(oracle_dir.parent)
    assert source.published and "target_params.npz" in source.description
    np.testing.assert_allclose(torch_logits(model, TOKENS), numpy_oracle_logits(arrays, TOKENS), atol=1e-4, rtol=1e-5)


def test_published_oracle_nll_of_its_own_samples(oracle_dir):
    model, source = load_oracle(oracle_dir.parent)
    assert source.published
    samples = sample_sequences(model, 5000, 20, torch.Generator().manual_seed(0), batch_size=1000)
    assert samples.shape == (5000, 20) and samples.min() >= 0 and samples.max() < 5000
    nll = sequence_nll(model, samples, batch_size=500)
    assert abs(nll - 5.752) < 0.05, nll


def test_npz_and_both_pickles_are_identical(oracle_dir):
    with np.load(oracle_dir / "target_params.npz", allow_pickle=False) as z:
        assert sorted(z.files) == sorted(ARRAY_NAMES)
        npz = [z[k] for k in ARRAY_NAMES]
    py3 = load_arrays_from_pickle(oracle_dir / "target_params_py3.pkl")
    py2 = load_arrays_from_pickle(oracle_dir / "target_params.pkl")
    for arrays in (npz, py3, py2):
        assert [a.shape for a in arrays] == SHAPES and all(a.dtype == np.float32 for a in arrays)
    for a, b, c in zip(npz, py3, py2):
        assert np.array_equal(a, b) and np.array_equal(a, c)
    # the published parameters look like N(0, 1) draws
    assert abs(float(npz[0].std()) - 1.0) < 0.02 and abs(float(npz[13].std()) - 1.0) < 0.02


def test_find_oracle_arrays_prefers_npz_and_checks_sums(oracle_dir):
    arrays, where = find_oracle_arrays(oracle_dir.parent)
    assert where.endswith("target_params.npz") and len(arrays) == 15
    for name, digest in om.SHA256.items():
        assert om._sha256(oracle_dir / name) == digest


def test_restricted_unpickler_refuses_code_without_running_it(tmp_path):
    marker = tmp_path / "ran"

    class Evil:
        def __reduce__(self):
            return (os.system, (f"echo hi > {marker}",))

    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"evil{protocol}.pkl"
        path.write_bytes(pickle.dumps([np.zeros(2, np.float32), Evil()], protocol=protocol))
        with pytest.raises(pickle.UnpicklingError) as e:
            load_arrays_from_pickle(path)
        assert "system" in str(e.value)
    assert not marker.exists()


def test_restricted_unpickler_admits_codecs_only_for_latin1(tmp_path):
    import codecs

    class Rot13:
        def __reduce__(self):
            return (codecs.encode, ("abc", "rot13"))

    path = tmp_path / "codec.pkl"
    path.write_bytes(pickle.dumps([Rot13()], protocol=2))
    with pytest.raises(pickle.UnpicklingError, match="rot13"):
        load_arrays_from_pickle(path)


def test_restricted_unpickler_loads_plain_arrays_only(tmp_path):
    arrays = [np.arange(6, dtype=np.float32).reshape(2, 3), np.ones(4, np.float32)]
    for protocol in (0, 2, pickle.HIGHEST_PROTOCOL):
        path = tmp_path / f"ok{protocol}.pkl"
        path.write_bytes(pickle.dumps(arrays, protocol=protocol))
        loaded = load_arrays_from_pickle(path)
        assert all(np.array_equal(a, b) and a.dtype == b.dtype for a, b in zip(loaded, arrays))
    path = tmp_path / "dict.pkl"
    path.write_bytes(pickle.dumps({"emb": arrays[0]}))
    with pytest.raises(OracleFileError, match="list of numpy arrays"):
        load_arrays_from_pickle(path)
    path.write_bytes(pickle.dumps([np.array(["a"], dtype=object)]))
    with pytest.raises((OracleFileError, pickle.UnpicklingError)):
        load_arrays_from_pickle(path)


def corrupt(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("name", ["target_params.npz", "target_params_py3.pkl"])
def test_corrupted_copy_is_refused_naming_the_file(oracle_dir, tmp_path, name):
    folder = tmp_path / ORACLE_DIR
    folder.mkdir()
    shutil.copy(oracle_dir / name, folder / name)
    corrupt(folder / name)
    with pytest.raises(OracleFileError) as e:
        load_oracle(tmp_path)
    assert str(folder / name) in str(e.value) and "sha256" in str(e.value)


def test_intact_copy_of_py3_pickle_alone_is_used(oracle_dir, tmp_path):
    folder = tmp_path / ORACLE_DIR
    folder.mkdir()
    shutil.copy(oracle_dir / "target_params_py3.pkl", folder)
    model, source = load_oracle(tmp_path)
    assert source.published and "target_params_py3.pkl" in source.description
    ref, _ = load_oracle(oracle_dir.parent)
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), ref.state_dict().values()))


@pytest.mark.parametrize("make_dir", [False, True])
def test_missing_files_give_random_oracle_said_loudly(tmp_path, make_dir):
    if make_dir:
        (tmp_path / ORACLE_DIR).mkdir()
    model, source = load_oracle(tmp_path, seed=3)
    assert source.published is False
    assert "not found" in source.description and "random" in source.description
    assert "seed 3" in source.description and "NOT comparable" in source.description
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), random_oracle(3).state_dict().values()))


def test_no_data_dir_gives_random_oracle():
    model, source = load_oracle(None, seed=0)
    assert not source.published and "SEQGAN_DATA" in source.description
    assert model.vocab_size == 5000


def test_random_oracle_is_deterministic_and_standard_normal():
    a, b, c = random_oracle(7), random_oracle(7), random_oracle(8)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not torch.equal(sa["embedding.weight"], sc["embedding.weight"])
    for k in ("embedding.weight", "lstm.weight_ih_l0", "lstm.weight_hh_l0", "output.weight"):
        assert abs(sa[k].std().item() - 1.0) < 0.1, k
        assert abs(sa[k].mean().item()) < 0.1, k
    assert sa["embedding.weight"].std().item() == pytest.approx(1.0, abs=0.01)
    assert torch.count_nonzero(sa["lstm.bias_hh_l0"]) == 0  # the published LSTM has one bias per gate
    assert not any(p.requires_grad for p in a.parameters()) and not a.training
    x = sample_sequences(a, 4, 6, torch.Generator().manual_seed(0))
    y = sample_sequences(b, 4, 6, torch.Generator().manual_seed(0))
    assert torch.equal(x, y)


@pytest.mark.parametrize("drop,reshape", [(1, None), (0, (0, (5000, 31))), (0, (13, (5000, 32)))])
def test_wrong_arrays_are_refused(drop, reshape):
    arrays = random_arrays(2)[: 15 - drop]
    if reshape:
        i, shape = reshape
        arrays[i] = np.zeros(shape, np.float32)
    with pytest.raises(OracleFileError) as e:
        oracle_from_arrays(arrays)
    assert ("15" in str(e.value)) if drop else (ARRAY_NAMES[reshape[0]] in str(e.value))
