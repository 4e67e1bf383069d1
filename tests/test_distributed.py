"""Data-parallel training on CPU: 2 processes (gloo) against 1, resume under 2 processes, world-size checks, --nproc.

The 2-process runs are spawned twice for the whole module (a fixture): once for a deterministic run, an
uninterrupted run and a run killed in its second adversarial epoch, once more to resume the killed run in fresh
processes. Sampling is made deterministic for the comparison with one process (a temperature of 1e-6 turns the
exact sampler into argmax, and D dropout is off), because otherwise the ranks' own random streams -- seeded from
(seed, rank) by design -- draw other sequences than one process does.
"""
import dataclasses
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from seqgan import checkpoint, distributed
from seqgan.checkpoint import CheckpointError
from seqgan.trainers.loop import fit
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer
from tests.test_cli import TINY, assert_user_error, run

WORLD = 2
# 2 ranks sum their half-batch gradients where one process sums the whole batch: float32 rounding differs in the
# last bits, and Adam (which divides by sqrt(v)) carries that through ~40 steps. Measured: 2.3e-6 at most;
# training moves every matrix by far more than this bound (asserted below), so the check has teeth.
PARAM_ATOL = 1e-4
ARGMAX_TEMPERATURE = 1e-6


def tiny(**overrides) -> SeqGANConfig:
    # the tiny preset, halved (1 MLE epoch over 128 rows): seconds per run, still ~40 optimiser steps
    return dataclasses.replace(SeqGANConfig(), **{**PRESETS["tiny"], "mle_epochs": 1, "n_train": 128, **overrides})


def deterministic_trainer(**overrides) -> SeqGANTrainer:
    trainer = SeqGANTrainer(tiny(dis_dropout=0.0, **overrides))
    trainer.engine.temperature = ARGMAX_TEMPERATURE
    return trainer


def save_params(trainer, path: Path) -> None:
    torch.save({"generator": trainer.generator.state_dict(), "discriminator": trainer.discriminator.state_dict(),
                "rollout": trainer.rollout.model.state_dict()}, path)


def _worker(rank: int, port: int, job: str, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    distributed.init("cpu")
    root = Path(root)
    try:
        if job == "train":
            eq = deterministic_trainer()
            fit(eq, root / "equal")
            full = SeqGANTrainer(tiny())
            fit(full, root / "full")
            killed = SeqGANTrainer(tiny())
            real_step = killed._adversarial_epoch

            def dies_at_second(i):
                if i == 1:
                    raise KeyboardInterrupt
                return real_step(i)

            killed._adversarial_epoch = dies_at_second
            try:
                fit(killed, root / "resumed")
            except KeyboardInterrupt:
                pass
            if rank == 0:
                save_params(eq, root / "equal.pt")
                save_params(full, root / "full.pt")
            # every rank holds the same parameters (same start, same reduced gradients)
            save_params(full, root / f"full_rank{rank}.pt")
        else:
            resumed = SeqGANTrainer(tiny(seed=12345))  # the state comes from the checkpoint
            resumed.config = tiny()
            fit(resumed, root / "resumed", resume=True)
            if rank == 0:
                save_params(resumed, root / "resumed.pt")
    finally:
        distributed.shutdown()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def spawn(job: str, root: Path) -> None:
    mp.spawn(_worker, args=(free_port(), job, str(root)), nprocs=WORLD, join=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    spawn("train", root)
    spawn("resume", root)
    return root


def load(path):
    return torch.load(path, weights_only=True)


def test_two_processes_equal_one_process_with_the_same_global_batch(runs, tmp_path, single_thread):
    one = deterministic_trainer()
    start = {k: v.clone() for k, v in one.generator.state_dict().items()}
    fit(one, tmp_path / "one")
    two = load(runs / "equal.pt")
    modules = {"generator": one.generator, "discriminator": one.discriminator, "rollout": one.rollout.model}
    for name, module in modules.items():
        for k, v in module.state_dict().items():
            torch.testing.assert_close(two[name][k], v, atol=PARAM_ATOL, rtol=0, msg=f"{name}.{k}")
    # the bound is far below what training moved: a wrong reduction (e.g. summing mean gradients) would show
    moved = max((one.generator.state_dict()[k] - start[k]).abs().max().item() for k in start)
    assert moved > 100 * PARAM_ATOL
    # rank 0 alone wrote metrics: the same records (values within rounding) as one process
    a = [json.loads(x) for x in (tmp_path / "one" / "metrics.jsonl").read_text().splitlines()]
    b = [json.loads(x) for x in (runs / "equal" / "metrics.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["phase"], r["global_step"]) for r in a] == [(r["kind"], r["phase"], r["global_step"])
                                                                     for r in b]
    for ra, rb in zip(a, b):
        for k, v in ra.items():
            if isinstance(v, float):
                assert rb[k] == pytest.approx(v, rel=1e-3, abs=1e-4), (ra, rb)


def test_ranks_hold_identical_parameters(runs):
    r0, r1 = load(runs / "full_rank0.pt"), load(runs / "full_rank1.pt")
    for name in r0:
        assert all(torch.equal(r0[name][k], r1[name][k]) for k in r0[name]), name


def test_killed_two_process_run_resumes_to_the_uninterrupted_one(runs):
    full, resumed = load(runs / "full.pt"), load(runs / "resumed.pt")
    for name in full:
        assert all(torch.equal(full[name][k], resumed[name][k]) for k in full[name]), name
    assert (runs / "full" / "metrics.jsonl").read_text() == (runs / "resumed" / "metrics.jsonl").read_text()
    payload = checkpoint.load(runs / "full" / "last.pt")
    assert payload["progress"]["world_size"] == WORLD
    assert len(payload["state"]["rank_states"]) == WORLD
    # the ranks drew from different sampling streams
    streams = [s["rng"] for s in payload["state"]["rank_states"]]
    assert not torch.equal(streams[0], streams[1])


def test_resume_with_another_world_size_is_refused(runs, tmp_path, capsys):
    trainer = SeqGANTrainer(tiny())
    with pytest.raises(CheckpointError, match="trained with 2 process"):
        fit(trainer, runs / "resumed", resume=True)
    resume = ["train", "seqgan", "--quiet", "--out-dir", runs / "resumed", "--resume"]  # the saved config
    code, _, err = run(capsys, *resume)
    assert_user_error(code, err, "trained with 2 process", "--nproc 2")
    code, _, err = run(capsys, *resume, "--nproc", 3)
    assert_user_error(code, err, "trained with 2 process", "--nproc 2")


def test_bad_nproc_is_refused(tmp_path, capsys):
    code, _, err = run(capsys, *TINY, "--out-dir", tmp_path / "x", "--nproc", 0)
    assert_user_error(code, err, "--nproc must be >= 1")
    assert not (tmp_path / "x").exists()


def test_shards_and_rank_seeds():
    assert distributed.shard_sizes(7, 2) == [4, 3] and distributed.shard_sizes(1, 2) == [1, 0]
    rows = torch.arange(7)
    ctx = [distributed.Context(r, 2) for r in range(2)]
    assert torch.equal(torch.cat([distributed.shard(rows, c) for c in ctx]), rows)
    assert distributed.rank_seed(88, 0) == 88
    assert len({distributed.rank_seed(s, r) for s in (88, 89) for r in range(4)}) == 8


def test_cli_nproc_trains_in_two_processes(tmp_path):
    out = tmp_path / "run"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "seqgan.cli", *TINY, "--out-dir", str(out), "--nproc", "2",
                           "--mle-epochs", "1", "--adv-epochs", "1"], capture_output=True, text=True, env=env,
                          cwd=Path(__file__).parent.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert "nll_oracle" in json.loads(proc.stdout.strip().splitlines()[-1])
    assert checkpoint.load(out / "last.pt")["progress"]["world_size"] == 2
    assert len((out / "metrics.jsonl").read_text().splitlines()) > 0
