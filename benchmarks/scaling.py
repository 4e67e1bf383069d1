"""Throughput of SeqGAN's adversarial epochs in 1 and 2 data-parallel processes (CPU, gloo), and on 1 GPU when
one is available: generated sequences per second, same process for every row.

An adversarial epoch here: 1 generator step on a global batch B with N Monte Carlo rollouts per prefix, then 1
discriminator round on ``d_samples`` fresh negatives (1 epoch). Generated sequences per epoch = B (the policy's
samples) + B*N*(T-1) (rollout completions) + d_samples (negatives), the same for any number of processes (each
process generates its share). Timed: ``--epochs`` epochs after one warm-up epoch, between barriers, no evaluation
and no checkpoints.
    OMP_NUM_THREADS=1 python benchmarks/scaling.py [--epochs 3] [--label "..."] [--json OUT]
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.multiprocessing as mp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import stamp, write_json  # noqa: E402
from seqgan import distributed  # noqa: E402
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer  # noqa: E402


def config(args, device: str) -> SeqGANConfig:
    return dataclasses.replace(
        SeqGANConfig(), **{**PRESETS["cpu-small"], "device": device, "seq_len": args.length, "n_train": 1024,
                           "n_test": 64, "batch_size": args.batch, "rollouts": args.rollouts,
                           "d_samples": args.d_samples, "d_epochs": 1, "adv_d_rounds": 1, "precision": args.precision})


def sequences_per_epoch(c: SeqGANConfig) -> int:
    return c.batch_size + c.batch_size * c.rollouts * (c.seq_len - 1) + c.d_samples


def measure(rank: int, world: int, port: int, device: str, args, out: str) -> None:
    if world > 1:
        os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(world),
                          LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(world))
    torch.set_num_threads(args.threads)
    distributed.init(device)
    try:
        trainer = SeqGANTrainer(config(args, device))
        trainer.rollout.reset(trainer.generator)
        trainer._adversarial_epoch(1)  # warm-up (epoch index 1: no reset of the rollout policy)
        distributed.barrier()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        for i in range(args.epochs):
            trainer._adversarial_epoch(i + 1)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        distributed.barrier()
        seconds = time.perf_counter() - t0
        if rank == 0:
            n = sequences_per_epoch(trainer.config) * args.epochs
            Path(out).write_text(json.dumps({"seconds": seconds, "sequences": n}))
    finally:
        distributed.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_row(world: int, device: str, args) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "result.json")
        if world == 1:
            measure(0, 1, 0, device, args, out)
        else:
            mp.spawn(measure, args=(world, free_port(), device, args, out), nprocs=world, join=True)
        r = json.loads(Path(out).read_text())
    return {"processes": world, "device": device, "seconds": r["seconds"], "sequences": r["sequences"],
            "sequences_per_s": r["sequences"] / r["seconds"], "epochs_per_s": args.epochs / r["seconds"]}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--rollouts", type=int, default=16)
    p.add_argument("--d-samples", type=int, default=1024)
    p.add_argument("--threads", type=int, default=1, help="torch threads per process")
    p.add_argument("--processes", default="1,2", help="CPU process counts (comma-separated)")
    p.add_argument("--precision", default="fp32", choices=("fp32", "bf16", "tf32"))
    p.add_argument("--label", default="", help="a note stored with the result (e.g. that the machine was shared)")
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args()
    load_before = os.getloadavg()  # a busy machine cannot show scaling: stored with the result
    rows = [run_row(k, "cpu", args) for k in (int(x) for x in args.processes.split(","))]
    if torch.cuda.is_available():
        rows.append(run_row(1, "cuda", args))
    base = rows[0]["sequences_per_s"]
    for r in rows:
        r["speedup"] = r["sequences_per_s"] / base
    c = config(args, "cpu")
    result = {"rows": rows, "gpu": "measured" if torch.cuda.is_available() else "not measured: no GPU available",
              "config": {"B": c.batch_size, "T": c.seq_len, "N": c.rollouts, "V": 5000, "d_samples": c.d_samples,
                         "epochs": args.epochs, "threads_per_process": args.threads, "precision": args.precision,
                         "sequences_per_epoch": sequences_per_epoch(c)},
              "label": args.label, "loadavg_before_after": [load_before[0], os.getloadavg()[0]],
              "cpu_count": os.cpu_count(), **stamp("cpu")}
    print(f"{result['device']}  B={c.batch_size} T={c.seq_len} N={c.rollouts} d_samples={c.d_samples} "
          f"({sequences_per_epoch(c):,} generated sequences per adversarial epoch), {args.threads} thread(s)/process")
    print(f"{'processes':>10}{'device':>8}{'seconds':>10}{'seq/s':>10}{'speedup':>9}")
    for r in rows:
        print(f"{r['processes']:>10}{r['device']:>8}{r['seconds']:>10.2f}{r['sequences_per_s']:>10.0f}"
              f"{r['speedup']:>8.2f}x")
    write_json(args.json, result)


if __name__ == "__main__":
    main()
