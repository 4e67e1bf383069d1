import json
from pathlib import Path

from seqgan.data import oracle

ROOT = Path(__file__).resolve().parents[1]


def test_oracle_manifest_matches_the_checksums_the_loader_enforces():
    manifest = json.loads((ROOT / "corpora" / "seqgan-oracle-lstm.json").read_text())
    assert manifest["folder"] == oracle.ORACLE_DIR
    assert manifest["files"] == oracle.SHA256
