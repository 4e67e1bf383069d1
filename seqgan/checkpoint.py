"""The one checkpoint format: a dict of tensors and plain values, written atomically, read with weights_only=True.

Layout: {"format": "seqgan-checkpoint", "version": 1, "algorithm": str, "config": dict, "progress": dict,
"state": dict (the trainer's state_dict), ...extra plain entries such as "vocab" or "data_source"}.
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

FORMAT = "seqgan-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, foreign, of another algorithm or shape."""


def save(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a crash leaves either the old file or the new one, never half."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {"format": FORMAT, "version": VERSION, **payload}
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(data, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load(path: str | Path, *, algorithm: str | None = None, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (no code execution) and check it is ours, of a known version and algorithm."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types for truncated/garbage files
        raise CheckpointError(f"checkpoint {path} is corrupt, truncated or not a seqgan checkpoint "
                              f"({type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqgan checkpoint (no '{FORMAT}' marker); "
                              "pass a file written by `seqgan train`")
    if data.get("version") != VERSION:
        raise CheckpointError(f"{path} has checkpoint version {data.get('version')}; this seqgan reads version "
                              f"{VERSION}")
    if algorithm is not None and data.get("algorithm") != algorithm:
        raise CheckpointError(f"{path} is a '{data.get('algorithm')}' checkpoint, not '{algorithm}'")
    return data


def load_module_state(module: torch.nn.Module, state: dict, what: str) -> None:
    """load_state_dict with a one-line error naming the module and the first mismatch."""
    try:
        module.load_state_dict(state)
    except RuntimeError as e:
        first = [line.strip() for line in str(e).splitlines() if line.strip()][1:2] or [str(e)[:200]]
        raise CheckpointError(f"the checkpoint's {what} does not fit this model (different shape or "
                              f"configuration): {first[0]}") from None
