import os
from pathlib import Path

import pytest


@pytest.fixture
def data_dir() -> Path:
    """The corpora folder from $SEQGAN_DATA (CI sets it); tests that need real files skip without it."""
    value = os.environ.get("SEQGAN_DATA")
    if not value:
        pytest.skip("SEQGAN_DATA is not set")
    return Path(value)


@pytest.fixture
def single_thread():
    """Tiny convolutions and LSTMs, where intra-op threads cost far more than they save (on a busy 2-core machine
    a tiny WaveGAN step took 7 s with 2 threads and 0.05 s with 1); the thread count is restored afterwards."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
