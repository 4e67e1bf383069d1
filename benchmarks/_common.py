"""Shared by the benchmark scripts: the environment stamp every JSON result carries, and writing it."""
from __future__ import annotations

import json
import platform
import subprocess
from pathlib import Path

import torch


def device_name(device: str) -> str:
    if device.startswith("cuda"):
        return torch.cuda.get_device_name(torch.device(device))
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def git_revision() -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def uncommitted() -> list[str]:
    """Tracked files that differ from the recorded git revision (the numbers come from the working tree)."""
    try:
        out = subprocess.run(["git", "diff", "--name-only", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).parent)
        return out.stdout.split()
    except (OSError, subprocess.CalledProcessError):
        return []


# Read when a script starts (it imports this module first), not when it writes: a long run records the code it
# ran, even if commits land while it trains.
_SOURCE = {"git": git_revision(), "uncommitted": uncommitted()}


def stamp(device: str) -> dict:
    return {"device": device_name(device), "torch": torch.__version__, **_SOURCE}


def write_json(path: str | None, result: dict) -> None:
    if path:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        Path(path).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


def require_same(parts: list[dict], keys: tuple[str, ...]) -> None:
    """Result files to merge must agree on ``keys``; ValueError naming the first that differs."""
    for key in keys:
        values = {json.dumps(p.get(key), sort_keys=True) for p in parts}
        if len(values) > 1:
            raise ValueError(f"cannot merge results with different {key!r}: {sorted(values)}")
