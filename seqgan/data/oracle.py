"""The SeqGAN synthetic-data oracle ("target LSTM", Yu et al. 2017): V=5000, E=H=32, T=20, start token 0.

The published parameters are 15 float32 arrays (emb, Wi, Ui, bi, Wf, Uf, bf, Wog, Uog, bog, Wc, Uc, bc, Wo, bo),
row-vector convention: i = sigmoid(x Wi + h Ui + bi), ..., logits = h Wo + bo. They map one-to-one onto an
``LSTMGenerator`` (torch's LSTM stacks its gates as i, f, g, o and computes W x, so each block is transposed).
They are read from the pickle-free ``.npz`` or, failing that, from the original pickle through an unpickler that
admits nothing but numpy's array reconstruction.
"""
from __future__ import annotations

import hashlib
import io
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from seqgan.generators.lstm import LSTMGenerator

ORACLE_VOCAB, ORACLE_EMB, ORACLE_HIDDEN, ORACLE_LEN, ORACLE_START = 5000, 32, 32, 20, 0
ARRAY_NAMES = ("emb", "Wi", "Ui", "bi", "Wf", "Uf", "bf", "Wog", "Uog", "bog", "Wc", "Uc", "bc", "Wo", "bo")
_GATE = [(ORACLE_EMB, ORACLE_HIDDEN), (ORACLE_HIDDEN, ORACLE_HIDDEN), (ORACLE_HIDDEN,)]
ARRAY_SHAPES = tuple([(ORACLE_VOCAB, ORACLE_EMB)] + _GATE * 4 + [(ORACLE_HIDDEN, ORACLE_VOCAB), (ORACLE_VOCAB,)])
ORACLE_DIR = "seqgan-oracle-lstm"
PUBLISHED_PREFIX = "published SeqGAN oracle from "  # how OracleSource.description starts for the published one
# sha256 from the corpus PROVENANCE.md; a file that differs is refused rather than silently used.
SHA256 = {
    "target_params.npz": "4b7076e744d926c08c3b2c2eed0e08083db9275faff8474179ac6f593f8ad2ff",
    "target_params_py3.pkl": "5ac794a695dd6e0eb2bb689f3dfda55e4e0053e8c0399e6242630a95f1e60e8a",
    "target_params.pkl": "6a0b3b967aa03a952b353709493e2b430fc261d15f9dd658823019b4eaab6c1c",
}


class OracleFileError(ValueError):
    """The oracle parameter file exists but cannot be used (checksum, layout)."""


@dataclass(frozen=True)
class OracleSource:
    published: bool
    description: str  # where the parameters came from, for logs and the user


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """What protocol-2 pickles written by Python 3 use to rebuild ``bytes`` (the array data): only latin-1."""
    if not (isinstance(text, str) and isinstance(encoding, str)
            and encoding.lower().replace("_", "-") in ("latin1", "latin-1")):
        raise pickle.UnpicklingError(f"refusing codecs.encode with encoding {encoding!r}")
    return text.encode("latin-1")


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Admits numpy's ndarray reconstruction and nothing else, so a pickle cannot run code."""

    _ALLOWED = {
        ("numpy", "ndarray"): np.ndarray,
        ("numpy", "dtype"): np.dtype,
        ("numpy.core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
        ("numpy._core.multiarray", "_reconstruct"): np.ndarray.__reduce__(np.zeros(0))[0],
        ("_codecs", "encode"): _latin1_encode,
        # protocol 5 (pickle.HIGHEST_PROTOCOL): numpy rebuilds an array with frombuffer(data, dtype).reshape
        ("numpy.core.numeric", "_frombuffer"): np.zeros(1, np.float32).__reduce_ex__(5)[0],
        ("numpy._core.numeric", "_frombuffer"): np.zeros(1, np.float32).__reduce_ex__(5)[0],
    }

    def find_class(self, module: str, name: str):
        try:
            return self._ALLOWED[(module, name)]
        except KeyError:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed") from None


def load_arrays_from_pickle(path: Path) -> list[np.ndarray]:
    data = path.read_bytes()
    arrays = _ArraysOnlyUnpickler(io.BytesIO(data), encoding="latin1").load()
    if not isinstance(arrays, list) or not all(isinstance(a, np.ndarray) for a in arrays):
        raise OracleFileError(f"{path}: expected a list of numpy arrays")
    if any(not np.issubdtype(a.dtype, np.floating) for a in arrays):
        raise OracleFileError(f"{path}: expected floating-point arrays, got {sorted({str(a.dtype) for a in arrays})}")
    return arrays


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_oracle_arrays(data_dir: Path | None) -> tuple[list[np.ndarray] | None, str]:
    """The 15 published arrays from ``data_dir/seqgan-oracle-lstm``, or None and the places looked at."""
    if data_dir is None:
        return None, "no data directory set (SEQGAN_DATA)"
    folder = Path(data_dir) / ORACLE_DIR
    for name in ("target_params.npz", "target_params_py3.pkl", "target_params.pkl"):
        path = folder / name
        if not path.is_file():
            continue
        if _sha256(path) != SHA256[name]:
            raise OracleFileError(f"{path} does not match its published sha256 {SHA256[name]}; "
                                  "restore the original file or remove it to use a seeded random oracle")
        if name.endswith(".npz"):
            with np.load(path, allow_pickle=False) as z:
                arrays = [z[k] for k in ARRAY_NAMES]
        else:
            arrays = load_arrays_from_pickle(path)
        return arrays, str(path)
    return None, f"no target_params.npz or .pkl in {folder}"


def oracle_from_arrays(arrays: list[np.ndarray]) -> LSTMGenerator:
    """The oracle LSTM from the 15 arrays in the published order (``ARRAY_NAMES``, shapes ``ARRAY_SHAPES``)."""
    if len(arrays) != len(ARRAY_NAMES):
        raise OracleFileError(f"expected {len(ARRAY_NAMES)} oracle arrays ({', '.join(ARRAY_NAMES)}), got {len(arrays)}")
    wrong = [f"{n} {tuple(np.shape(a))} (expected {s})" for n, a, s in zip(ARRAY_NAMES, arrays, ARRAY_SHAPES)
             if tuple(np.shape(a)) != s]
    if wrong:
        raise OracleFileError(f"oracle arrays of the wrong shape: {'; '.join(wrong)}")
    emb, Wi, Ui, bi, Wf, Uf, bf, Wog, Uog, bog, Wc, Uc, bc, Wo, bo = (torch.from_numpy(np.asarray(a, np.float32))
                                                                      for a in arrays)
    model = LSTMGenerator(ORACLE_VOCAB, ORACLE_EMB, ORACLE_HIDDEN, start_token=ORACLE_START, init_std=None)
    with torch.no_grad():
        model.embedding.weight.copy_(emb)
        model.lstm.weight_ih_l0.copy_(torch.cat([Wi, Wf, Wc, Wog], dim=1).T)
        model.lstm.weight_hh_l0.copy_(torch.cat([Ui, Uf, Uc, Uog], dim=1).T)
        model.lstm.bias_ih_l0.copy_(torch.cat([bi, bf, bc, bog]))
        model.lstm.bias_hh_l0.zero_()
        model.output.weight.copy_(Wo.T)
        model.output.bias.copy_(bo)
    return model.requires_grad_(False).eval()


def random_oracle(seed: int) -> LSTMGenerator:
    """Same shapes and N(0,1) initialisation as the published oracle, drawn from ``seed``."""
    g = torch.Generator().manual_seed(seed)
    return oracle_from_arrays([torch.randn(s, generator=g).numpy() for s in ARRAY_SHAPES])


def load_oracle(data_dir: Path | None, seed: int = 0) -> tuple[LSTMGenerator, OracleSource]:
    arrays, where = find_oracle_arrays(data_dir)
    if arrays is not None:
        return oracle_from_arrays(arrays), OracleSource(True, f"{PUBLISHED_PREFIX}{where}")
    return random_oracle(seed), OracleSource(
        False, f"published oracle not found ({where}); using a seeded random oracle (seed {seed}) with the same "
               "N(0,1) initialisation: NLL-oracle numbers are NOT comparable to the paper's. Set SEQGAN_DATA to a "
               f"folder containing {ORACLE_DIR}/target_params.npz to use the published one")
