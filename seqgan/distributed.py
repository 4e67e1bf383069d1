"""Data-parallel training over several processes (torch.distributed): who this process is, its share of a batch,
gradient averaging, gathering, and launching K processes through torchrun's own launcher.

Nothing here holds state of its own: the rank and world size are torch.distributed's. Without a process group
(a plain `seqgan train`) every helper is the single-process identity, so single-process runs are unchanged.

Why an explicit gradient all-reduce and not DistributedDataParallel. DDP averages gradients from hooks armed in
the wrapped module's ``forward``. Our generators are driven through ``step``/``hidden``/``project`` (teacher
forcing, Gumbel unrolls), so their forward never runs; discriminators are called several times per backward
(RelGAN: real and generated batches, and again inside the generator's loss) and, without gradient, a different
number of times per rank when scoring rollouts. DDP would also average the ranks' gradients with equal weights,
which is wrong when the slices of a global batch differ in size (the last batch of an epoch). So every optimiser
step goes through :func:`optimizer_step`: backward on the local slice, then one all-reduce of all gradients
weighted by each rank's share of the global loss, then the same clip and step on every rank. Parameters stay
bit-identical across ranks (same start, same reduced gradients, same optimiser arithmetic).
"""
from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import torch
import torch.distributed as dist
from torch import Tensor

ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK")


class DistributedSetupError(RuntimeError):
    """The process group cannot be set up as asked (bad --nproc, a CUDA rank without its GPU, ...)."""


@dataclass(frozen=True)
class Context:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def current() -> Context:
    """This process's rank and world size (0 and 1 without a process group)."""
    if dist.is_available() and dist.is_initialized():
        return Context(dist.get_rank(), dist.get_world_size())
    return Context()


def supports_data_parallel(trainer_cls: type) -> bool:
    """Whether a trainer class itself (not a parent) declares ``DATA_PARALLEL = True``: its steps shard their
    batches and reduce their gradients here. A subclass with steps of its own must say so again."""
    return bool(vars(trainer_cls).get("DATA_PARALLEL", False))


def launched_by_torchrun() -> bool:
    return all(v in os.environ for v in ENV_VARS) and int(os.environ["WORLD_SIZE"]) > 1


def init(device: str) -> Context:
    """Join the process group described by torchrun's environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR...):
    NCCL for CUDA devices, gloo otherwise. A no-op in a single process or when already initialised."""
    if not launched_by_torchrun() or dist.is_initialized():
        return current()
    cuda = torch.device(device).type == "cuda"
    if cuda:
        local = int(os.environ["LOCAL_RANK"])
        if local >= torch.cuda.device_count():
            raise DistributedSetupError(f"process {local} on this machine has no GPU of its own (this machine has "
                                        f"{torch.cuda.device_count()}); use at most that many processes per node")
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if cuda else "gloo")
    return current()


def shutdown() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def local_device(device: str) -> torch.device:
    """The device of this rank: a bare ``cuda`` means this process's own GPU (cuda:LOCAL_RANK)."""
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None and current().active:
        return torch.device("cuda", torch.cuda.current_device())
    return dev


def rank_seed(seed: int, rank: int) -> int:
    """The seed of a per-rank random stream: ``seed`` itself on rank 0 (so one process equals a plain run), and an
    unrelated 63-bit value derived from (seed, rank) on other ranks (nearby seeds give no overlapping streams)."""
    if rank == 0:
        return seed
    digest = hashlib.sha256(f"seqgan:{seed}:{rank}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def shard_sizes(n: int, world_size: int) -> list[int]:
    """Rows of a global batch of ``n`` held by each rank: contiguous, sizes differing by at most one."""
    return [n // world_size + (1 if r < n % world_size else 0) for r in range(world_size)]


def shard(rows: Tensor, ctx: Context | None = None) -> Tensor:
    """This rank's contiguous slice of ``rows`` (all of it in a single process)."""
    ctx = ctx or current()
    if not ctx.active:
        return rows
    return rows.tensor_split(ctx.world_size)[ctx.rank]


def local_count(n: int, ctx: Context | None = None) -> int:
    ctx = ctx or current()
    return shard_sizes(n, ctx.world_size)[ctx.rank] if ctx.active else n


def all_gather_rows(rows: Tensor) -> Tensor:
    """Concatenate every rank's rows (sizes may differ by rank), in rank order."""
    ctx = current()
    if not ctx.active:
        return rows
    sizes = torch.tensor([rows.shape[0]], device=rows.device)
    all_sizes = [torch.zeros_like(sizes) for _ in range(ctx.world_size)]
    dist.all_gather(all_sizes, sizes)
    counts = [int(s) for s in all_sizes]
    top = max(counts)
    padded = torch.zeros((top, *rows.shape[1:]), dtype=rows.dtype, device=rows.device)
    padded[: rows.shape[0]] = rows
    parts = [torch.empty_like(padded) for _ in range(ctx.world_size)]
    dist.all_gather(parts, padded)
    return torch.cat([p[:c] for p, c in zip(parts, counts)])


def _reduce_gradients(params: list[Tensor], weight: float, finite: bool, divide_by_total: bool) -> bool:
    """sum_r weight_r * grad_r over ranks, divided by sum_r weight_r when ``divide_by_total``; in place.

    One flat all-reduce carries every gradient, a has-gradient flag per parameter (a parameter no rank touched
    keeps ``grad=None``, so the optimiser skips it exactly as in one process), the ranks' weights and a
    non-finite flag. Returns False (all gradients cleared) when any rank's loss was not finite."""
    device = params[0].device
    parts = [(p.grad.reshape(-1).float() * weight) if (finite and p.grad is not None)
             else torch.zeros(p.numel(), device=device) for p in params]
    flags = [1.0 if (finite and p.grad is not None) else 0.0 for p in params]
    tail = torch.tensor(flags + [weight, 0.0 if finite else 1.0], device=device)
    flat = torch.cat(parts + [tail])
    dist.all_reduce(flat)
    n = len(params)
    has_grad, total, bad = flat[-n - 2:-2], flat[-2], flat[-1]
    if bad.item() > 0:  # one host sync per optimiser step: all ranks skip together
        for p in params:
            p.grad = None
        return False
    divide = total if divide_by_total else 1.0
    offset = 0
    for p, seen in zip(params, has_grad.tolist()):
        piece = flat[offset: offset + p.numel()]
        offset += p.numel()
        p.grad = (piece / divide).view_as(p).to(p.dtype) if seen > 0 else None
    return True


def optimizer_step(opt: torch.optim.Optimizer, loss: Tensor, params: Iterable[Tensor], *,
                   count: float | None = None, summed: bool = False, clip: float | None = None) -> bool:
    """zero_grad, backward (skipped for a NaN/inf loss), gradient all-reduce across ranks, optional global-norm
    clip, step. Returns whether a step was taken.

    How the ranks' gradients combine, so that the result is the gradient of the global batch's loss:
    ``count`` -- the loss is a mean over ``count`` local items (rows or tokens): a count-weighted mean (a rank
    with an empty slice, count 0, contributes nothing); ``summed`` -- the loss is a sum over the batch (policy
    gradient): the gradients add up; neither -- the plain mean over ranks (DDP's rule, right for equal slices).
    In a single process this is exactly ``zero_grad; if finite: backward; clip; step``.
    """
    params = list(params)
    opt.zero_grad(set_to_none=True)
    ctx = current()
    if not ctx.active:
        if not torch.isfinite(loss):
            return False
        loss.backward()
    else:
        empty = count is not None and count == 0
        finite = empty or bool(torch.isfinite(loss))
        if finite and not empty:
            loss.backward()
        weight = float(count) if count is not None else 1.0
        if not _reduce_gradients(params, weight, finite, divide_by_total=not summed):
            return False
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(params, clip)
    opt.step()
    return True


def reduce_logs(logs: dict[str, float], summed: Iterable[str] = ()) -> dict[str, float]:
    """Step logs over ranks: the mean of each rank's value, or the sum for keys in ``summed`` (losses that are
    sums over the batch). A NaN on any rank is a NaN everywhere, so every rank stops together."""
    ctx = current()
    if not ctx.active or not logs:
        return logs
    keys = sorted(logs)
    values = torch.tensor([float(logs[k]) for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    summed = set(summed)
    return {k: (v if k in summed else v / ctx.world_size) for k, v in zip(keys, values.tolist())}


def barrier() -> None:
    if current().active:
        dist.barrier()


def broadcast_from_main(fn: Callable[[], Any]) -> Any:
    """Run ``fn`` on rank 0 only and hand its result -- or the exception it raised -- to every rank."""
    ctx = current()
    if not ctx.active:
        return fn()
    box: list[Any] = [None]
    if ctx.is_main:
        try:
            box[0] = ("ok", fn())
        except Exception as e:  # re-raised on every rank so that all stop with the same message
            box[0] = ("error", e)
    dist.broadcast_object_list(box, src=0)
    kind, value = box[0]
    if kind == "error":
        raise value
    return value


def gather_to_main(obj: Any) -> list[Any] | None:
    """Every rank's ``obj``, in rank order, on rank 0 (None elsewhere)."""
    ctx = current()
    if not ctx.active:
        return [obj]
    out = [None] * ctx.world_size if ctx.is_main else None
    dist.gather_object(obj, out, dst=0)
    return out


def launch(nproc: int, argv: list[str]) -> int:
    """Run ``python -m seqgan.cli ARGV`` in ``nproc`` processes on this machine through torch's elastic launcher
    (what torchrun runs: ``torchrun --standalone --nproc-per-node K -m seqgan.cli ARGV``, a c10d rendezvous on a
    free local port). Returns the exit status: 0, or the first failing worker's (its one-line error is on stderr)."""
    import logging
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    # The workers print their own errors; keep the launcher's failure report (a traceback-like dump) quiet.
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for name in ("torch.distributed.elastic", "torch.distributed.launcher"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    cfg = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                       rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0, monitor_interval=0.2)
    try:
        elastic_launch(cfg, sys.executable)("-m", "seqgan.cli", *argv)
    except ChildFailedError as e:
        codes = [f.exitcode for f in e.failures.values()]
        return next((c for c in codes if c and c > 0), 1)
    return 0
