"""Data-parallel training on CPU: 2 processes (gloo) against 1, resume under 2 processes, world-size checks, --nproc.

The 2-process runs are spawned twice for the whole module (a fixture): once for a deterministic run of each
data-parallel algorithm tested here (SeqGAN, MaskGAN, LeakGAN), an uninterrupted SeqGAN run and one killed in its
second adversarial epoch, once more to resume the killed run in fresh processes. Sampling is made deterministic for
the comparison with one process (a temperature of 1e-6 turns the exact sampler into argmax, and D dropout is off),
because otherwise the ranks' own random streams -- seeded from (seed, rank) by design -- draw other sequences than
one process does. LeakGAN needs distinct rows instead (see ``shared_stream_sampling``). WaveGAN, SpecGAN and
MusicVAE need no such help: every rank draws the global batch's data and noise from streams shared by all ranks
and keeps its slice (see their trainers), so their 2-process runs use plain tiny trainers.
"""
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.distributed.elastic.utils.distributed import get_free_port

from seqgan import checkpoint, distributed
from seqgan.audio.data import load_wav_folder
from seqgan.audio.trainer import PRESETS as WAVEGAN_PRESETS
from seqgan.audio.trainer import SPEC_PRESETS, SpecGANConfig, SpecGANTrainer, WaveGANConfig, WaveGANTrainer
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError, from_dict
from seqgan.music.train import MusicVAETrainer
from seqgan.trainers.leakgan import PRESETS as LEAKGAN_PRESETS
from seqgan.trainers.leakgan import LeakGANConfig, LeakGANTrainer
from seqgan.trainers.loop import fit
from seqgan.trainers.maskgan import PRESETS as MASKGAN_PRESETS
from seqgan.trainers.maskgan import MaskGANConfig, MaskGANTrainer
from seqgan.trainers.seqgan import PRESETS, SeqGANConfig, SeqGANTrainer
from tests.audio.helpers import digit_folder
from tests.music.helpers import scale_notes, write_midi
from tests.music.test_vae_train import melody_corpus, tiny_config
from tests.test_cli import TINY, assert_user_error, run
from tests.text_fixtures import write_corpus
from tests.trainers.common import assert_same_networks, interrupt_at, snapshot_networks

WORLD = 2
# 2 ranks sum their half-batch gradients where one process sums the whole batch: float32 rounding differs in the
# last bits, and Adam (which divides by sqrt(v)) carries that through ~40 steps. Measured (largest parameter
# difference): SeqGAN 7.4e-7, MaskGAN 6.0e-7, LeakGAN 3.9e-5 (its summed, clipped policy gradient); training moves
# every generator by more than 0.05 (asserted: > 100x this bound), and LeakGAN ranking its rewards within each
# rank's slice instead of the global batch ends 0.07 away, so the check has teeth.
PARAM_ATOL = 1e-4
ARGMAX_TEMPERATURE = 1e-6
ALGORITHMS = ("seqgan", "maskgan", "leakgan")
MEDIA = ("wavegan", "specgan", "music_vae")  # audio and music trainers, each rank slicing shared global draws


def tiny(**overrides) -> SeqGANConfig:
    # the tiny preset, halved (1 MLE epoch over 128 rows): seconds per run, still ~40 optimiser steps
    return dataclasses.replace(SeqGANConfig(), **{**PRESETS["tiny"], "mle_epochs": 1, "n_train": 128, **overrides})


def corpus_spec(root: Path) -> str:
    """MaskGAN's text corpus, written once by the fixture (the spawned ranks read the same files)."""
    folder = root / "text"
    return f"{folder / 'train.txt'},{folder / 'test.txt'}" if folder.exists() else write_corpus(folder)


def deterministic_trainer(algorithm: str = "seqgan", root: Path | None = None):
    """A tiny trainer of ``algorithm`` with argmax sampling and no dropout."""
    if algorithm == "seqgan":
        trainer = SeqGANTrainer(tiny(dis_dropout=0.0))
    elif algorithm == "leakgan":
        trainer = LeakGANTrainer(dataclasses.replace(LeakGANConfig(), **{**LEAKGAN_PRESETS["tiny"], "mle_epochs": 1,
                                                                        "n_train": 128, "dis_dropout": 0.0}))
    else:  # maskgan's networks have no dropout by default (dis_dropout 0)
        trainer = MaskGANTrainer(from_dict(MaskGANConfig, {**MASKGAN_PRESETS["tiny"], "corpus": corpus_spec(root),
                                                           "max_len": 12}))
    trainer.engine.temperature = ARGMAX_TEMPERATURE
    if algorithm == "leakgan":
        shared_stream_sampling(trainer)
    return trainer


def wav_folder(root: Path) -> Path:
    """Two tone clips of each of the digits 0, 1 and 2, written once by the fixture (the ranks read them)."""
    folder = root / "wavs"
    return folder if folder.exists() else digit_folder(folder, n_per_digit=2, digits=(0, 1, 2))


def media_trainer(algorithm: str, root: Path):
    """A tiny WaveGAN (conditional: labels are sliced too), SpecGAN or MusicVAE trainer: global batch 4 (2 rows a
    rank; MusicVAE 8), several optimiser steps of each network, learning rates large enough that training moves
    the parameters far beyond PARAM_ATOL."""
    if algorithm == "music_vae":  # transposition on, 3 batches an epoch, 2 epochs
        return MusicVAETrainer(tiny_config(root, lr=5e-3), melody_corpus())
    data = load_wav_folder(wav_folder(root))
    if algorithm == "wavegan":
        return WaveGANTrainer(from_dict(WaveGANConfig, {**WAVEGAN_PRESETS["tiny"], "batch_size": 4, "lr": 1e-2,
                                                        "conditional": True}), data)
    return SpecGANTrainer(from_dict(SpecGANConfig, {**SPEC_PRESETS["tiny"], "batch_size": 4, "lr": 1e-2,
                                                    "steps": 2}), data)


def shared_stream_sampling(trainer, seed: int = 7) -> None:
    """Test double for LeakGAN: the training samples come from one stream seeded alike on every rank; each rank
    draws the whole global batch from it (at temperature 1) and keeps its slice, so 2 ranks train on exactly the
    rows one process draws (rollouts stay argmax). Argmax samples will not do here: they are all the same row, so
    the batch-centred advantages cancel and the worker's gradient is float rounding, which Adam scales up to
    full-size steps in different directions in 1 and 2 processes. Evaluation (rank 0 only, its own rng) samples
    as usual."""
    real = trainer.engine.sample
    stream = torch.Generator().manual_seed(seed)

    def sample(policy, batch_size, length, **kwargs):
        if kwargs.get("rng") is not trainer.rng:
            return real(policy, batch_size, length, **kwargs)
        total = int(distributed.all_gather_rows(torch.tensor([batch_size])).sum())
        return distributed.shard(real(policy, total, length, **{**kwargs, "rng": stream, "temperature": 1.0}))

    trainer.engine.sample = sample


def _worker(rank: int, port: int, job: str, root: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), RANK=str(rank), WORLD_SIZE=str(WORLD),
                      LOCAL_RANK=str(rank), LOCAL_WORLD_SIZE=str(WORLD))
    torch.set_num_threads(1)
    distributed.init("cpu")
    root = Path(root)
    try:
        if job == "train":
            for algorithm in ALGORITHMS:
                trainer = deterministic_trainer(algorithm, root)
                fit(trainer, root / algorithm)
                torch.save(snapshot_networks(trainer), root / f"{algorithm}_rank{rank}.pt")
            for algorithm in MEDIA:
                trainer = media_trainer(algorithm, root)
                fit(trainer, root / algorithm)
                torch.save(snapshot_networks(trainer), root / f"{algorithm}_rank{rank}.pt")
            full = SeqGANTrainer(tiny())
            fit(full, root / "full")
            killed = SeqGANTrainer(tiny())
            interrupt_at(killed)
            try:
                fit(killed, root / "resumed")
            except KeyboardInterrupt:
                pass
            # every rank holds the same parameters (same start, same reduced gradients), here with random sampling
            torch.save(snapshot_networks(full), root / f"full_rank{rank}.pt")
        else:
            resumed = SeqGANTrainer(tiny(seed=12345))  # the state comes from the checkpoint
            resumed.config = tiny()
            fit(resumed, root / "resumed", resume=True)
            if rank == 0:
                torch.save(snapshot_networks(resumed), root / "resumed.pt")
    finally:
        distributed.shutdown()


def spawn(job: str, root: Path) -> None:
    mp.spawn(_worker, args=(get_free_port(), job, str(root)), nprocs=WORLD, join=True)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("dist")
    corpus_spec(root)
    wav_folder(root)
    spawn("train", root)
    spawn("resume", root)
    return root


def load(path):
    return torch.load(path, weights_only=True)


def metrics(run_dir: Path) -> list[dict]:
    return [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_two_processes_equal_one_process_with_the_same_global_batch(algorithm, runs, tmp_path, single_thread):
    one = deterministic_trainer(algorithm, runs)
    start = snapshot_networks(one)
    fit(one, tmp_path / "one")
    assert_same_networks(load(runs / f"{algorithm}_rank0.pt"), snapshot_networks(one), atol=PARAM_ATOL)
    # the bound is far below what training moved: a wrong reduction (e.g. summing mean gradients) would show
    moved = max((v - start["generator"][k]).abs().max().item() for k, v in one.generator.state_dict().items())
    assert moved > 100 * PARAM_ATOL
    # rank 0 alone wrote metrics: the same records (values within rounding) as one process
    assert_same_metrics(metrics(tmp_path / "one"), metrics(runs / algorithm))


@pytest.mark.parametrize("algorithm", MEDIA)
def test_audio_and_music_two_processes_equal_one_process(algorithm, runs, tmp_path, single_thread):
    one = media_trainer(algorithm, runs)
    start = snapshot_networks(one)
    fit(one, tmp_path / "one")
    end = snapshot_networks(one)
    assert_same_networks(load(runs / f"{algorithm}_rank0.pt"), end, atol=PARAM_ATOL)
    # every network moved far more than the bound (a wrong reduction or other data per rank would show)
    for name in end:
        moved = max((v.float() - start[name][k].float()).abs().max().item() for k, v in end[name].items())
        assert moved > 10 * PARAM_ATOL, name
    assert_same_metrics(metrics(tmp_path / "one"), metrics(runs / algorithm))


def assert_same_metrics(a: list[dict], b: list[dict]) -> None:
    """rank 0 alone wrote metrics: the same records (values within rounding) as one process"""
    assert [(r["kind"], r["phase"], r["global_step"]) for r in a] == [(r["kind"], r["phase"], r["global_step"])
                                                                     for r in b]
    for ra, rb in zip(a, b):
        assert set(ra) == set(rb)
        for k, v in ra.items():
            if isinstance(v, float):
                assert rb[k] == pytest.approx(v, rel=1e-3, abs=1e-4), (k, ra, rb)


@pytest.mark.parametrize("run_name", [*ALGORITHMS, *MEDIA, "full"])
def test_ranks_hold_identical_parameters(run_name, runs):
    assert_same_networks(load(runs / f"{run_name}_rank0.pt"), load(runs / f"{run_name}_rank1.pt"))


def test_killed_two_process_run_resumes_to_the_uninterrupted_one(runs):
    assert_same_networks(load(runs / "full_rank0.pt"), load(runs / "resumed.pt"))
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


@pytest.mark.parametrize("argv", [("audio", "train", "wavegan"), ("music", "train")])
def test_bad_nproc_is_refused_by_audio_and_music_train(argv, tmp_path, capsys):
    code, _, err = run(capsys, *argv, "--preset", "tiny", "--quiet", "--out-dir", tmp_path / "x", "--nproc", 0)
    assert_user_error(code, err, "--nproc must be >= 1")
    assert not (tmp_path / "x").exists()


def test_audio_and_music_refuse_what_they_cannot_split(tmp_path, monkeypatch):
    wave = media_trainer("wavegan", tmp_path)
    vae = MusicVAETrainer(tiny_config(tmp_path, ss_rate=10.0), melody_corpus())
    monkeypatch.setattr(distributed, "current", lambda: distributed.Context(0, 8))  # 8 ranks, batch 4 / 8
    with pytest.raises(ConfigError, match="smaller than the 8 processes"):
        wave.phases()
    with pytest.raises(ConfigError, match="scheduled sampling"):
        vae.phases()
    with pytest.raises(ConfigError, match="smallest holds 4"):  # 20 windows: batches of 8, 8 and 4
        MusicVAETrainer(tiny_config(tmp_path), melody_corpus(n_train=20)).phases()


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


@pytest.mark.parametrize("command", ["audio", "music"])
def test_audio_and_music_cli_nproc_train_in_two_processes(command, tmp_path):
    if command == "audio":
        argv = ["audio", "train", "wavegan", "--corpus", str(wav_folder(tmp_path)), "--batch-size", "4"]
    else:
        tunes = tmp_path / "tunes"
        tunes.mkdir()
        for k in range(4):
            write_midi(tunes / f"tune{k}.mid", scale_notes(4, base=55 + k))
        argv = ["music", "train", "--corpus", str(tunes), "--batch-size", "2", "--steps", "3"]
    out = tmp_path / "run"
    proc = subprocess.run([sys.executable, "-m", "seqgan.cli", *argv, "--preset", "tiny", "--quiet", "--out-dir",
                           str(out), "--nproc", "2"], capture_output=True, text=True,
                          env={**os.environ, "OMP_NUM_THREADS": "1"}, cwd=Path(__file__).parent.parent, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.strip().splitlines()[-1])  # rank 0's final evaluation, one JSON line
    assert checkpoint.load(out / "last.pt")["progress"]["world_size"] == 2
    assert len((out / "metrics.jsonl").read_text().splitlines()) > 0
