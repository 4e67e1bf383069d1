import pytest

from seqgan.audio.data import load_wav_folder

from .helpers import digit_folder


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every audio test runs on one thread (see tests/conftest.py single_thread)."""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    """Two tiny clips of each of the digits 0, 1 and 2 (a module may override it)."""
    return digit_folder(tmp_path_factory.mktemp("wavs"), n_per_digit=2, digits=(0, 1, 2))


@pytest.fixture(scope="module")
def data(folder):
    return load_wav_folder(folder)
