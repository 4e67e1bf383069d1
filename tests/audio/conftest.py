import pytest


@pytest.fixture(autouse=True)
def _one_thread(single_thread):
    """Every audio test runs on one thread (see tests/conftest.py single_thread)."""
