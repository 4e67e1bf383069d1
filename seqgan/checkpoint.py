"""The one checkpoint format: a dict of tensors and plain values, written atomically, read with weights_only=True.

Layout: {"format": "seqgan-checkpoint", "version": 1, "algorithm": str, "config": dict, "progress": dict,
"state": dict (the trainer's state_dict), ...extra plain entries such as "vocab" or "data_source"}.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from seqgan.atomic import atomic_write

FORMAT = "seqgan-checkpoint"
VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used: missing, corrupt, foreign, of another algorithm or shape."""


RESERVED = ("format", "version")
REQUIRED = {"algorithm": str, "config": dict, "progress": dict, "state": dict}


def save(path: str | Path, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically: a crash leaves either the old file or the new one, never half.

    The data goes to a fresh temporary file in the same folder (created with the usual umask-derived
    permissions, not mkstemp's 0600), is flushed and fsynced, then renamed over ``path``; on any error the
    temporary file is removed and ``path`` is left as it was.
    """
    path = Path(path)
    clash = [k for k in RESERVED if k in payload]
    if clash:
        raise ValueError(f"checkpoint payload may not set {', '.join(clash)}: they are written by seqgan.checkpoint")
    data = {"format": FORMAT, "version": VERSION, **payload}
    return atomic_write(path, lambda f: torch.save(data, f))


def load(path: str | Path, *, algorithm: str | None = None, map_location: str | torch.device = "cpu") -> dict:
    """Read a checkpoint safely (no code execution) and check it is ours, of a known version and algorithm."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(f"checkpoint {path} is a directory; pass the .pt file inside it (e.g. {path / 'last.pt'})")
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} not found")
    try:
        with path.open("rb"):
            pass
    except OSError as e:
        raise CheckpointError(f"cannot read checkpoint {path}: {e.strerror or e}") from None
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:  # torch raises many types (even OSError) for truncated/garbage files
        first = next((line.strip() for line in str(e).splitlines() if line.strip()), "")[:200]
        raise CheckpointError(f"checkpoint {path} is corrupt, truncated or not a seqgan checkpoint "
                              f"({type(e).__name__}{': ' + first if first else ''})") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a seqgan checkpoint (no '{FORMAT}' marker); "
                              "pass a file written by `seqgan train`")
    if data.get("version") != VERSION or isinstance(data.get("version"), bool):
        raise CheckpointError(f"{path} has checkpoint version {data.get('version')!r}; this seqgan reads version "
                              f"{VERSION}")
    for key, kind in REQUIRED.items():
        if not isinstance(data.get(key), kind):
            raise CheckpointError(f"{path} is an incomplete seqgan checkpoint: its '{key}' entry is "
                                  f"{'missing' if key not in data else type(data[key]).__name__}, not a "
                                  f"{kind.__name__}")
    if algorithm is not None and data["algorithm"] != algorithm:
        raise CheckpointError(f"{path} is a '{data['algorithm']}' checkpoint, not '{algorithm}'")
    return data


def load_module_state(module: torch.nn.Module, state: dict, what: str) -> None:
    """load_state_dict with a one-line error naming the module and the first mismatch."""
    if not isinstance(state, dict):
        raise CheckpointError(f"the checkpoint's {what} state is a {type(state).__name__}, not a state dict")
    try:
        module.load_state_dict(state)
    except (RuntimeError, TypeError, AttributeError) as e:
        first = [line.strip() for line in str(e).splitlines() if line.strip()][1:2] or [str(e)[:200]]
        raise CheckpointError(f"the checkpoint's {what} does not fit this model (different shape or "
                              f"configuration): {first[0]}") from None
