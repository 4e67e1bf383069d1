import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread():
    """The audio tests use tiny convolutions, where intra-op threads cost far more than they save (on a busy
    2-core machine a tiny WaveGAN step took 7 s with 2 threads and 0.05 s with 1); restored afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
