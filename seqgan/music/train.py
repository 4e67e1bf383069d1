"""MusicVAE training on the shared loop: ``MusicVAEConfig`` + ``MusicVAETrainer`` (+ ``PRESETS``).

One phase, ``vae``, of ``epochs * ceil(train windows / batch_size)`` steps (or ``steps`` when given). Each step takes
the next batch of a per-epoch permutation (drawn from ``seed`` and the epoch number, so it needs no saved state),
transposes each window by a random shift in -``max_shift``..``max_shift`` semitones when ``transpose`` is on (shifts
that would leave MIDI 21..108 are not drawn), samples z from the posterior, and minimises
``recon + beta(step) * max(KL - free_bits * ln 2, 0)`` with Adam (see ``seqgan.music.vae`` for the formulas,
KL annealing and scheduled sampling).

Evaluation (``evaluate``) on the held-out split (``eval_windows`` test windows evenly spaced over the corpus's fixed
test order, all when 0 or fewer): z = the posterior mean mu of each window;
    ``acc_teacher_forced``: fraction of steps whose argmax under teacher forcing equals the input;
    ``acc_sampled``: fraction of steps equal to the input in the greedy (argmax) decode of mu through the rollout
    engine (the model's own previous outputs are fed back);
    ``acc_sampled_t1``: the same for a decode that samples at softmax temperature 1 (the protocol of the paper's
    Table 1 as we recall its caption, "sampled directly from the logits"; not verified against the text), drawn
    from a private stream seeded by ``seed`` so every evaluation of the same model gives the same number;
plus the mean per-window ``recon`` (nats) and ``kl`` on those windows.

Several processes (``--nproc``, see seqgan.distributed): every rank builds the same global batch (the permutation
is shared; ``data_rng`` is seeded alike on every rank and transposes the whole global batch), draws the global
batch's eps from ``rng`` (also alike on every rank) and keeps its contiguous slice of both, so K processes train
on exactly the data and noise one process does. Gradients are combined by ``distributed.optimizer_step`` weighted
by local windows (the global batch mean). Scheduled sampling draws per local row and is refused there for now.

Sizes. The defaults are small enough for a CPU. The ``paper`` preset is the paper's architecture (encoder: 2-layer
bidirectional LSTM, 2048 units; z: 512; conductor: 2-layer LSTM, 1024 units; bottom/flat decoder: 2-layer LSTM,
1024 units; batch 512, lr 1e-3) and needs a GPU; its beta / free bits are our defaults, not transcribed values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from seqgan import distributed
from seqgan.checkpoint import CheckpointError, load_module_state
from seqgan.config import ConfigError, option
from seqgan.music.dataset import MusicCorpus, load_music_corpus, random_transpose
from seqgan.music.vae import DECODERS, MusicVAE, kl_beta, sampling_probability, vae_loss
from seqgan.rollout.engine import RolloutEngine
from seqgan.trainers.loop import Phase, Trainer

ALGORITHM = "music_vae"
CORPORA = ("nottingham", "jsb_chorales")
MODES = ("teacher_forced", "sampled", "sampled_t1")  # the reconstruction accuracies of evaluate (acc_<mode>)


@dataclass(frozen=True)
class MusicVAEConfig:
    bars: int = option(2, "window length in bars of 16 steps: 2 or 16")
    decoder: str = option("hierarchical", "flat (one LSTM, the baseline) or hierarchical (conductor + bar decoder)")
    corpus: str = option("nottingham", "nottingham, jsb_chorales, or a folder of MIDI files")
    max_files: int = option(0, "read only the first N files of the corpus (0: all), for quick runs")
    emb_dim: int = option(32, "token embedding size")
    enc_hidden: int = option(128, "encoder LSTM units per direction")
    enc_layers: int = option(1, "encoder layers")
    z_dim: int = option(64, "latent size")
    conductor_hidden: int = option(128, "conductor LSTM units (= bar embedding size)")
    conductor_layers: int = option(1, "conductor layers")
    dec_hidden: int = option(128, "bottom (or flat) decoder LSTM units")
    dec_layers: int = option(1, "decoder layers")
    lr: float = option(1e-3, "Adam learning rate")
    batch_size: int = option(64, "windows per step")
    grad_clip: float = option(1.0, "clip the gradient norm to this (0: no clipping)")
    beta: float = option(0.2, "weight of the KL term after annealing (beta_max)")
    free_bits: float = option(48.0, "KL budget tau in bits: only KL above it is penalised")
    kl_anneal_steps: int = option(1000, "beta rises linearly from 0 to --beta over this many steps (0: at once)")
    ss_rate: float = option(0.0, "scheduled sampling: inverse sigmoid rate k (0: off, always teacher forcing)")
    epochs: int = option(1, "passes over the training windows")
    steps: int = option(0, "training steps (0: epochs * batches per epoch)")
    eval_every: int = option(500, "evaluate every N steps (0: only at the end)")
    eval_windows: int = option(512, "held-out windows used by evaluate (0: all)")
    transpose: bool = option(True, "transposition augmentation")
    max_shift: int = option(5, "largest transposition in semitones")
    seed: int = option(0, "random seed")
    device: str = option("cpu", "torch device")
    checkpoint_every: int = option(500, "write last.pt every N steps (and at the end)")
    out_dir: str = option("runs/music_vae", "output folder (last.pt, metrics.jsonl)")

    def validate(self) -> None:
        if self.bars not in (2, 16):
            raise ConfigError(f"bars must be 2 or 16 (the paper's window lengths), got {self.bars}")
        if self.decoder not in DECODERS:
            raise ConfigError(f"decoder must be flat or hierarchical, got {self.decoder!r}")
        for name in ("emb_dim", "enc_hidden", "enc_layers", "z_dim", "conductor_hidden", "conductor_layers",
                     "dec_hidden", "dec_layers", "batch_size", "epochs", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        for name in ("max_files", "steps", "eval_every", "eval_windows", "kl_anneal_steps", "max_shift"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")
        for name in ("lr",):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("beta", "free_bits", "ss_rate", "grad_clip"):
            if not getattr(self, name) >= 0:
                raise ConfigError(f"{name} must be >= 0, got {getattr(self, name)}")


PRESETS = {
    "tiny": dict(emb_dim=8, enc_hidden=16, z_dim=8, conductor_hidden=16, dec_hidden=16, batch_size=8, steps=6,
                 eval_every=3, eval_windows=16, kl_anneal_steps=4, checkpoint_every=2, max_files=20),
    "cpu-small": {},
    "paper": dict(emb_dim=64, enc_hidden=2048, enc_layers=2, z_dim=512, conductor_hidden=1024, conductor_layers=2,
                  dec_hidden=1024, dec_layers=2, batch_size=512, lr=1e-3, epochs=50, device="cuda"),
}


def build_model(c: MusicVAEConfig) -> MusicVAE:
    return MusicVAE(c.bars, c.decoder, emb_dim=c.emb_dim, enc_hidden=c.enc_hidden, enc_layers=c.enc_layers,
                    z_dim=c.z_dim, conductor_hidden=c.conductor_hidden, conductor_layers=c.conductor_layers,
                    dec_hidden=c.dec_hidden, dec_layers=c.dec_layers)


def load_corpus(c: MusicVAEConfig, progress: bool = False) -> MusicCorpus:
    return load_music_corpus(c.corpus, c.bars, max_files=c.max_files or None, progress=progress)


class MusicVAETrainer(Trainer):
    algorithm = ALGORITHM
    DATA_PARALLEL = True  # its step shards the global batch and reduces through seqgan.distributed
    STATE_KEYS = ("model", "opt", "rng", "data_rng")

    def __init__(self, config: MusicVAEConfig, corpus: MusicCorpus | None = None, *, load_data: bool = True):
        super().__init__(config)
        c = config
        self.device = torch.device(c.device)
        torch.manual_seed(c.seed)
        self.model = build_model(c).to(self.device)
        self.opt = torch.optim.Adam(self.model.parameters(), lr=c.lr)
        self.rng = torch.Generator(self.device).manual_seed(c.seed + 1)       # z noise, scheduled sampling
        self.data_rng = torch.Generator().manual_seed(c.seed + 2)             # transpositions (CPU)
        self.engine = RolloutEngine()
        self.corpus = corpus if corpus is not None else (load_corpus(c) if load_data else None)
        if self.corpus is not None:
            if self.corpus.bars != c.bars:
                raise ConfigError(f"the corpus holds {self.corpus.bars}-bar windows but bars={c.bars}")
            if len(self.corpus.train) == 0:
                raise ConfigError(f"corpus {self.corpus.name} has no training windows")
            self.train_data = self.corpus.train
            test = self.corpus.test
            if c.eval_windows and len(test) > c.eval_windows:   # evenly spaced, so every part of the split counts
                test = test[torch.arange(c.eval_windows) * len(test) // c.eval_windows]
            self.test_data = test
        self.global_step = 0

    # -- training ------------------------------------------------------------------------------------------------
    @property
    def batches_per_epoch(self) -> int:
        return math.ceil(len(self.train_data) / self.config.batch_size)

    @property
    def total_steps(self) -> int:
        return self.config.steps or self.config.epochs * self.batches_per_epoch

    def _batch(self, i: int) -> torch.Tensor:
        c = self.config
        epoch, k = divmod(i, self.batches_per_epoch)
        perm = torch.randperm(len(self.train_data), generator=torch.Generator().manual_seed(c.seed * 100003 + epoch))
        x = self.train_data[perm[k * c.batch_size:(k + 1) * c.batch_size]]
        if c.transpose and c.max_shift > 0:
            x, _ = random_transpose(x, c.max_shift, generator=self.data_rng)
        return x.to(self.device)

    def _forward(self, x: torch.Tensor, global_rows: int, p: float):
        """The model's forward (posterior sample, decode) on this rank's rows ``x``; with several processes eps is
        drawn for the whole global batch and sliced, so the ranks together use the noise one process would."""
        if not distributed.current().active:
            return self.model(x, sample_prob=p, rng=self.rng)
        mu, sigma = self.model.encode(x)
        eps = torch.randn((global_rows, mu.shape[1]), generator=self.rng, device=mu.device, dtype=mu.dtype)
        z = mu + sigma * distributed.shard(eps)
        return self.model.decode_logits(z, x, sample_prob=p, rng=self.rng), mu, sigma

    def train_step(self, i: int) -> dict[str, float]:
        c = self.config
        self.model.train()
        batch = self._batch(i)
        x = distributed.shard(batch)
        beta = kl_beta(i, c.beta, c.kl_anneal_steps)
        p = sampling_probability(i, c.ss_rate)
        logits, mu, sigma = self._forward(x, len(batch), p)
        losses = vae_loss(logits, x, mu, sigma, beta, c.free_bits)
        distributed.optimizer_step(self.opt, losses["loss"], self.model.parameters(), count=len(x),
                                   clip=c.grad_clip if c.grad_clip > 0 else None)
        self.global_step = i + 1
        with torch.no_grad():
            acc = (logits.argmax(-1) == x).float().mean().item()
        return {**{k: v.item() for k, v in losses.items()}, "beta": beta, "sample_prob": p, "acc": acc}

    def phases(self) -> list[Phase]:
        world = distributed.current().world_size
        if world > 1 and self.config.ss_rate > 0:
            raise ConfigError("scheduled sampling (--ss-rate > 0) does not train in several processes yet: its "
                              "draws are per local row; use --ss-rate 0 or one process")
        last = len(self.train_data) - (self.batches_per_epoch - 1) * self.config.batch_size if world > 1 else 1
        if world > min(self.config.batch_size, last):
            raise ConfigError(f"with {world} processes every batch needs at least {world} windows, but the "
                              f"smallest holds {min(self.config.batch_size, last)} (--batch-size "
                              f"{self.config.batch_size}, {len(self.train_data)} training windows); change "
                              "--batch-size or lower --nproc")
        return [Phase("vae", self.total_steps, self.train_step, self.config.eval_every)]

    # -- evaluation ----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def reconstructions(self, x: torch.Tensor, rng: torch.Generator | None = None) -> dict[str, torch.Tensor]:
        """For windows ``x`` (B, T), z = mu: the teacher-forced argmax (``teacher_forced``), the greedy decode
        (``sampled``) and a temperature-1 sample from the decoder (``sampled_t1``, drawn from ``rng``), each (B, T)
        classes, plus the teacher-forced ``logits`` and the posterior's ``mu`` and ``sigma``."""
        self.model.eval()
        mu, sigma = self.model.encode(x)
        logits = self.model.decode_logits(mu, x)
        return {"logits": logits, "mu": mu, "sigma": sigma, "teacher_forced": logits.argmax(-1),
                "sampled": self.model.decode(mu, self.engine, greedy=True),
                "sampled_t1": self.model.decode(mu, self.engine, greedy=False, temperature=1.0, rng=rng)}

    def _eval_rng(self) -> torch.Generator:
        # a private, freshly seeded stream: evaluating more or less often never changes training
        return torch.Generator(self.device).manual_seed(self.config.seed + 3)

    @torch.no_grad()
    def evaluate_with_bars(self, data: torch.Tensor | None = None,
                           chunk: int = 256) -> tuple[dict[str, float], dict[str, list[float]]]:
        """``evaluate()`` and ``accuracy_by_bar()`` from one pass over the windows (one seeded stream)."""
        data = self.test_data if data is None else data
        if len(data) == 0:
            return {}, {}
        rng = self._eval_rng()
        hits = {mode: torch.zeros(self.config.bars, dtype=torch.float64) for mode in MODES}
        recon = kl = 0.0
        for x in data.split(chunk):
            x = x.to(self.device)
            out = self.reconstructions(x, rng)
            losses = vae_loss(out["logits"], x, out["mu"], out["sigma"], 0.0, 0.0)
            for mode in MODES:
                hits[mode] += (out[mode] == x).double().view(len(x), self.config.bars, -1).sum(dim=(0, 2)).cpu()
            recon += losses["recon"].item() * len(x)
            kl += losses["kl"].item() * len(x)
        n = len(data)
        totals = {**{f"acc_{mode}": hits[mode].sum().item() / data.numel() for mode in MODES},
                  "recon": recon / n, "kl": kl / n, "eval_windows": float(n)}
        per_bar = data.numel() // self.config.bars
        return totals, {f"acc_{mode}": (hits[mode] / per_bar).tolist() for mode in MODES}

    def evaluate(self, data: torch.Tensor | None = None, chunk: int = 256) -> dict[str, float]:
        return self.evaluate_with_bars(data, chunk)[0]

    def accuracy_by_bar(self, data: torch.Tensor | None = None, chunk: int = 256) -> dict[str, list[float]]:
        """The accuracies of ``evaluate`` per bar position (lists of ``bars`` values, same seed and windows), to
        show where in a window a decoder loses the melody."""
        return self.evaluate_with_bars(data, chunk)[1]

    @torch.no_grad()
    def sample(self, n: int, temperature: float = 1.0, rng: torch.Generator | None = None) -> torch.Tensor:
        """n windows decoded from z ~ N(0, I) (sampling through the engine at ``temperature``)."""
        self.model.eval()
        z = torch.randn(n, self.model.z_dim, generator=rng, device=self.device)
        return self.model.decode(z, self.engine, greedy=False, temperature=temperature, rng=rng)

    # -- state ---------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"model": self.model.state_dict(), "opt": self.opt.state_dict(), "rng": self.rng.get_state(),
                "data_rng": self.data_rng.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        load_module_state(self.model, state["model"], "music VAE")
        try:
            self.opt.load_state_dict(state["opt"])
        except (ValueError, KeyError) as e:
            raise CheckpointError(f"the checkpoint's optimizer state does not fit this model: {e}") from None
        self.rng.set_state(state["rng"].cpu())
        self.data_rng.set_state(state["data_rng"])

    def checkpoint_extra(self) -> dict:
        if self.corpus is None:
            return {}
        return {"data_source": str(self.corpus.name), "data_windows": [len(self.corpus.train), len(self.corpus.test)]}
