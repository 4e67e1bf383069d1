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
