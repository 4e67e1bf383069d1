"""Run logging: metrics.jsonl always; console lines and progress bars only when asked (the CLI asks).

The library never prints by itself: trainers hand records to a RunLogger, and a RunLogger made with
``console=False`` (the default) only writes the JSONL file. TensorBoard scalars are written too when the
``tensorboard`` package is installed and ``tensorboard=True``.
"""
from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

METRICS_FILE = "metrics.jsonl"


class RunLogger:
    def __init__(self, out_dir: str | Path | None = None, *, console: bool = False, tensorboard: bool = False):
        self.out_dir = Path(out_dir) if out_dir is not None else None
        self.console = console
        self._tb = None
        if tensorboard and self.out_dir is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
                self._tb = SummaryWriter(str(self.out_dir / "tensorboard"))
            except ImportError:
                self.message("tensorboard is not installed; logging to metrics.jsonl only")

    @property
    def metrics_path(self) -> Path | None:
        return None if self.out_dir is None else self.out_dir / METRICS_FILE

    def count_lines(self) -> int:
        p = self.metrics_path
        if p is None or not p.exists():
            return 0
        with p.open("rb") as f:
            return sum(1 for _ in f)

    def truncate(self, lines: int) -> None:
        """Keep the first ``lines`` records (on resume, drop what was logged after the checkpoint)."""
        p = self.metrics_path
        if p is None or not p.exists():
            return
        kept = p.read_text(encoding="utf-8").splitlines(keepends=True)[:lines]
        p.write_text("".join(kept), encoding="utf-8")

    def log(self, record: dict[str, Any]) -> None:
        p = self.metrics_path
        if p is not None:
            p.parent.mkdir(parents=True, exist_ok=True)
            with p.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record, allow_nan=True) + "\n")
        if self._tb is not None and "global_step" in record:
            for k, v in record.items():
                if isinstance(v, (int, float)) and k != "global_step":
                    self._tb.add_scalar(f"{record.get('phase', 'run')}/{k}", v, record["global_step"])
        if self.console and record.get("kind") == "eval":
            shown = "  ".join(f"{k}={_fmt(v)}" for k, v in record.items() if k not in ("kind", "global_step"))
            tqdm.write(shown, file=sys.stderr)

    def message(self, text: str) -> None:
        if self.console:
            tqdm.write(text, file=sys.stderr)

    def progress(self, total: int, desc: str, initial: int = 0):
        return tqdm(total=total, initial=initial, desc=desc, disable=not self.console, file=sys.stderr,
                    dynamic_ncols=True, leave=True)

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4f}" if math.isfinite(v) else str(v)
    return str(v)
