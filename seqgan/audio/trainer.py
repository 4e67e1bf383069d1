"""WaveGAN and SpecGAN training on the shared loop (``seqgan.trainers.loop.fit``): WGAN-GP, five critic steps per
generator step. One trainer serves both models: SpecGAN (:class:`SpecGANTrainer`) only swaps the networks, the
training examples (normalised log-magnitude spectrograms instead of waveforms) and the way a generator output
becomes audio (denormalisation and Griffin-Lim), through three hooks of :class:`WaveGANTrainer`.

One phase, ``adversarial``, of ``steps`` generator steps. Each step runs ``d_steps`` critic updates (a real batch
drawn uniformly with replacement from the training clips, a fresh z batch, the critic on real, fake and the
gradient-penalty interpolates, each call with its own phase-shuffle shifts, loss E[D(fake)] - E[D(real)] +
lambda GP) and then one generator update (loss -E[D(G(z))]); Adam(1e-4, betas (0.5, 0.9)) for both, as in the
paper. The conditional model draws the fake labels uniformly over the classes for the generator step and uses the
real batch's labels during critic steps.

Randomness: models are initialised from ``seed`` (torch's default initialisers inside a forked global RNG); every
draw afterwards (batches, z, alpha, phase-shuffle shifts, labels) comes from two explicit CPU generators saved in the
checkpoint, so a killed and resumed run equals an uninterrupted one on the CPU. Evaluation (every ``eval_every``
steps and at the end) uses its own fixed generator: the critic's Wasserstein estimate E[D(real)] - E[D(fake)] on
``n_eval`` clips (critic in eval mode, no phase shuffle) and the RMS of real and generated examples (waveforms for
WaveGAN, normalised spectrograms for SpecGAN).

Several processes (``--nproc``, see seqgan.distributed): every rank draws the global batch's indices, z, alpha
and labels from the same streams (``rng`` and ``data_rng`` are seeded alike on every rank and consume the same
global-sized draws; a phase-shuffle shift is one draw per critic call) and keeps its contiguous slice, so K
processes train on exactly the data one process does. The gradient penalty is over local rows; gradients are
combined by ``distributed.optimizer_step`` weighted by local rows, i.e. the global batch mean.

SpecGAN's per-bin normalisation statistics are computed once from the training clips and stored in the checkpoint,
so sampling needs only the checkpoint.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from seqgan import distributed
from seqgan.audio.data import SAMPLE_RATE, SLICE, AudioDataset, load_audio
from seqgan.audio.spectral import SpecNorm, griffin_lim, log_magnitude
from seqgan.audio.specgan import SpecGANDiscriminator, SpecGANGenerator
from seqgan.audio.wav import AudioError
from seqgan.audio.wavegan import (SLICE_LENGTHS, WaveGANDiscriminator, WaveGANGenerator, gradient_penalty,
                                  wgan_g_loss, wgan_gp_d_loss)
from seqgan.checkpoint import CheckpointError, load_module_state
from seqgan.config import ConfigError, option
from seqgan.trainers.loop import Phase, Trainer

NUM_DIGITS = 10


@dataclass(frozen=True)
class WaveGANConfig:
    corpus: str = option("fsdd", "fsdd (Free Spoken Digit Dataset from $SEQGAN_DATA, train split: recordings 5-49) "
                                 "or a folder of WAV files")
    slice_len: int = option(16384, "samples per clip: 16384, 32768 or 65536 (also --slice)")
    sample_rate: int = option(SAMPLE_RATE, "clips are resampled to this rate (Hz)")
    max_files: int | None = option(None, "use only the first N files (quick checks)")
    conditional: bool = option(False, "condition generator and critic on the digit label (needs labelled clips)")
    model_size: int = option(64, "WaveGAN model size d (channels 16d ... d)")
    latent_dim: int = option(100, "size of z")
    phase_shuffle: int = option(2, "phase-shuffle radius n of the critic (0: off)")
    batch_size: int = option(64, "clips per batch")
    steps: int = option(200000, "generator steps")
    d_steps: int = option(5, "critic steps per generator step")
    gp_lambda: float = option(10.0, "gradient-penalty weight lambda")
    lr: float = option(1e-4, "Adam learning rate (both networks)")
    beta1: float = option(0.5, "Adam beta1")
    beta2: float = option(0.9, "Adam beta2")
    eval_every: int = option(1000, "evaluate every N generator steps (and at the end)")
    n_eval: int = option(64, "clips per evaluation")
    checkpoint_every: int = option(100, "write last.pt every N generator steps")
    seed: int = option(0, "random seed")
    device: str = option("cpu", "torch device")
    out_dir: str = option("runs/wavegan", "where metrics.jsonl and last.pt go")

    def validate(self) -> None:
        if self.slice_len not in SLICE_LENGTHS:
            raise ConfigError(f"config field 'slice_len' must be one of {', '.join(map(str, SLICE_LENGTHS))}, "
                              f"got {self.slice_len}")
        positive = ("sample_rate", "model_size", "latent_dim", "batch_size", "steps", "d_steps", "n_eval",
                    "checkpoint_every")
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        if self.max_files is not None and self.max_files < 1:
            raise ConfigError(f"config field 'max_files' must be >= 1, got {self.max_files}")
        if not 0 <= self.phase_shuffle < 16:
            raise ConfigError(f"config field 'phase_shuffle' must be in [0, 15], got {self.phase_shuffle}")
        if self.eval_every < 0 or self.gp_lambda < 0 or self.lr <= 0:
            raise ConfigError("config fields 'eval_every' and 'gp_lambda' must be >= 0 and 'lr' > 0")
        if not (0 <= self.beta1 < 1 and 0 <= self.beta2 < 1):
            raise ConfigError(f"Adam betas must be in [0, 1), got {self.beta1}, {self.beta2}")


PRESETS = {
    # the paper's setting (d = 64, batch 64, WGAN-GP, 5 critic steps); a GPU job
    "paper": {},
    # seconds on a CPU: tests and smoke checks
    "tiny": {"model_size": 2, "latent_dim": 8, "batch_size": 2, "steps": 3, "d_steps": 2, "n_eval": 2,
             "eval_every": 2, "checkpoint_every": 1, "max_files": 6},
}


class WaveGANTrainer(Trainer):
    algorithm = "wavegan"
    DATA_PARALLEL = True  # its steps shard the global batch and reduce through seqgan.distributed
    STATE_KEYS = ("generator", "discriminator", "g_opt", "d_opt", "rng", "data_rng", "data")

    def __init__(self, config: WaveGANConfig, data: AudioDataset | None = None, *, load_data: bool = True):
        super().__init__(config)
        c = config
        self.device = torch.device(c.device)
        if data is None and load_data:
            data = load_audio(c.corpus, "train", sample_rate=c.sample_rate, length=c.slice_len,
                              max_files=c.max_files)
        if data is not None:
            if data.audio.shape[-1] != c.slice_len:
                raise AudioError(f"the clips are {data.audio.shape[-1]} samples long, the model needs "
                                 f"{c.slice_len}")
            if c.conditional and not data.labeled:
                raise AudioError(f"--conditional needs a label for every clip; {data.source} has unlabelled clips "
                                 "(name the files digit_anything.wav, as FSDD does)")
        self.data = data
        self.num_classes = NUM_DIGITS if c.conditional else 0
        self.examples = self._examples(data) if data is not None else None
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(c.seed)
            self.generator, self.discriminator = self._make_models()
        self.generator.to(self.device)
        self.discriminator.to(self.device)
        betas = (c.beta1, c.beta2)
        self.g_opt = torch.optim.Adam(self.generator.parameters(), lr=c.lr, betas=betas)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=c.lr, betas=betas)
        self.rng = torch.Generator().manual_seed(c.seed + 1)        # z, alpha, labels, phase shuffle
        self.data_rng = torch.Generator().manual_seed(c.seed + 2)   # real batches

    # --- what differs between WaveGAN and SpecGAN ---------------------------------------------------------------
    def _make_models(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        c = self.config
        return (WaveGANGenerator(c.latent_dim, c.model_size, c.slice_len, self.num_classes),
                WaveGANDiscriminator(c.model_size, c.slice_len, c.phase_shuffle, self.num_classes))

    def _examples(self, data: AudioDataset) -> torch.Tensor:
        """What the critic sees as real: (N, ...) on the CPU; batches are moved to the device."""
        return data.audio

    def _to_audio(self, out: torch.Tensor) -> torch.Tensor:
        """Generator output (CPU) -> (n, 1, samples) clips."""
        return out

    # --- training ---------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        world = distributed.current().world_size
        if world > self.config.batch_size:
            raise ConfigError(f"--batch-size {self.config.batch_size} is smaller than the {world} processes; every "
                              "process needs at least one clip per batch (raise --batch-size or lower --nproc)")
        return [Phase("adversarial", self.config.steps, self._step, self.config.eval_every)]

    # Each draw is of the global batch; this rank keeps its slice (all of it in one process).
    def _z(self, n: int) -> torch.Tensor:
        return distributed.shard(torch.randn(n, self.config.latent_dim, generator=self.rng)).to(self.device)

    def _labels(self, n: int) -> torch.Tensor | None:
        if not self.num_classes:
            return None
        return distributed.shard(torch.randint(0, self.num_classes, (n,), generator=self.rng)).to(self.device)

    def _real_batch(self) -> tuple[torch.Tensor, torch.Tensor | None]:
        if self.data is None:
            raise AudioError("this trainer was built without data; it can sample but not train")
        idx = distributed.shard(torch.randint(0, len(self.data), (self.config.batch_size,), generator=self.data_rng))
        labels = self.data.labels[idx].to(self.device) if self.num_classes else None
        return self.examples[idx].to(self.device), labels

    def _step(self, _: int) -> dict[str, float]:
        c = self.config
        G, D = self.generator, self.discriminator
        G.train()
        D.train()
        logs: dict[str, float] = {}
        for _ in range(c.d_steps):
            real, labels = self._real_batch()
            with torch.no_grad():
                fake = G(self._z(c.batch_size), labels)
            d_real = D(real, labels, self.rng)
            d_fake = D(fake, labels, self.rng)
            alpha = distributed.shard(torch.rand(c.batch_size, generator=self.rng)).to(self.device)
            gp = gradient_penalty(lambda x: D(x, labels, self.rng), real, fake, alpha)
            d_loss = wgan_gp_d_loss(d_real, d_fake, gp, c.gp_lambda)
            distributed.optimizer_step(self.d_opt, d_loss, D.parameters(), count=len(real))
            logs.update(d_loss=d_loss.item(), gp=gp.item(), w_dist=(d_real.mean() - d_fake.mean()).item())
        labels = self._labels(c.batch_size)
        for p in D.parameters():
            p.requires_grad_(False)
        try:
            z = self._z(c.batch_size)
            g_loss = wgan_g_loss(D(G(z, labels), labels, self.rng))
            distributed.optimizer_step(self.g_opt, g_loss, G.parameters(), count=len(z))
        finally:
            for p in D.parameters():
                p.requires_grad_(True)
        logs["g_loss"] = g_loss.item()
        return logs

    # --- evaluation and sampling ------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict[str, float]:
        c = self.config
        rng = torch.Generator().manual_seed(c.seed + 3)
        G, D = self.generator, self.discriminator
        G.eval()
        D.eval()
        try:
            n = c.n_eval
            fake_labels = (torch.randint(0, self.num_classes, (n,), generator=rng).to(self.device)
                           if self.num_classes else None)
            fake = G(torch.randn(n, c.latent_dim, generator=rng).to(self.device), fake_labels)
            out = {"fake_rms": fake.pow(2).mean().sqrt().item()}
            if self.data is not None:
                idx = torch.randint(0, len(self.data), (n,), generator=rng)
                real = self.examples[idx].to(self.device)
                real_labels = self.data.labels[idx].to(self.device) if self.num_classes else None
                out["w_dist"] = (D(real, real_labels).mean() - D(fake, fake_labels).mean()).item()
                out["real_rms"] = real.pow(2).mean().sqrt().item()
        finally:
            G.train()
            D.train()
        return out

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, rng: torch.Generator | None = None) -> torch.Tensor:
        """(n, 1, slice_len) clips; ``labels`` (n,) for a conditional model (default: uniform over digits)."""
        return self._to_audio(self.generate(n, labels, rng))

    @torch.no_grad()
    def generate(self, n: int, labels: torch.Tensor | None = None,
                 rng: torch.Generator | None = None) -> torch.Tensor:
        """The generator's raw outputs on the CPU (waveforms, or SpecGAN's normalised spectrograms)."""
        rng = rng if rng is not None else torch.Generator().manual_seed(self.config.seed + 4)
        if self.num_classes:
            if labels is None:
                labels = torch.randint(0, self.num_classes, (n,), generator=rng)
            labels = labels.to(self.device)
        elif labels is not None:
            raise ValueError(f"this {self.algorithm} model is not conditional; it takes no labels")
        self.generator.eval()
        try:
            chunks = []
            for s in range(0, n, 64):
                m = min(64, n - s)
                z = torch.randn(m, self.config.latent_dim, generator=rng).to(self.device)
                chunks.append(self.generator(z, labels[s:s + m] if labels is not None else None).cpu())
            return torch.cat(chunks)
        finally:
            self.generator.train()

    # --- checkpoints ------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "g_opt": self.g_opt.state_dict(), "d_opt": self.d_opt.state_dict(),
                "rng": self.rng.get_state(), "data_rng": self.data_rng.get_state(),
                "data": self.data.metadata() if self.data is not None else {}}

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        saved = state["data"]
        if self.data is not None and saved:
            now = self.data.metadata()
            diff = [k for k in ("source", "clips", "sample_rate", "length") if saved.get(k) != now.get(k)]
            if diff:
                raise CheckpointError(f"the checkpoint was trained on other data ({', '.join(f'{k}: saved {saved.get(k)}, now {now.get(k)}' for k in diff)})")
        load_module_state(self.generator, state["generator"], "generator")
        load_module_state(self.discriminator, state["discriminator"], "discriminator")
        try:
            self.g_opt.load_state_dict(state["g_opt"])
            self.d_opt.load_state_dict(state["d_opt"])
        except (ValueError, KeyError, RuntimeError) as e:
            raise CheckpointError(f"the checkpoint's optimiser state does not fit this model: {e}") from None
        self.rng.set_state(state["rng"])
        self.data_rng.set_state(state["data_rng"])

    def checkpoint_extra(self) -> dict:
        return {"data_source": self.data.source if self.data is not None else "",
                "sample_rate": self.config.sample_rate}


def _log_magnitudes(data: AudioDataset) -> torch.Tensor:
    """(N, 1, 128, 128) log magnitudes of every clip, in chunks to bound the STFT's temporary memory."""
    return torch.cat([log_magnitude(data.audio[s:s + 256]) for s in range(0, len(data), 256)])


@dataclass(frozen=True)
class SpecGANConfig(WaveGANConfig):
    """WaveGAN's settings (model size d, WGAN-GP, Adam, critic steps) plus Griffin-Lim; clips are 16384 samples."""
    phase_shuffle: int = option(0, "must be 0: SpecGAN has no phase shuffle (kept so both models share a trainer)")
    gl_iterations: int = option(16, "Griffin-Lim iterations when turning spectrograms into audio")
    out_dir: str = option("runs/specgan", "where metrics.jsonl and last.pt go")

    def validate(self) -> None:
        super().validate()
        if self.slice_len != SLICE:
            raise ConfigError(f"config field 'slice_len' must be {SLICE} for SpecGAN (128 x 128 spectrograms), "
                              f"got {self.slice_len}")
        if self.phase_shuffle != 0:
            raise ConfigError(f"config field 'phase_shuffle' must be 0 for SpecGAN, got {self.phase_shuffle}")
        if self.gl_iterations < 0:
            raise ConfigError(f"config field 'gl_iterations' must be >= 0, got {self.gl_iterations}")


SPEC_PRESETS = {"paper": {}, "tiny": dict(PRESETS["tiny"], gl_iterations=2)}


class SpecGANTrainer(WaveGANTrainer):
    """The WaveGAN trainer on normalised 128 x 128 log-magnitude spectrograms (see seqgan.audio.spectral)."""
    algorithm = "specgan"
    DATA_PARALLEL = True  # WaveGAN's steps on other examples
    STATE_KEYS = WaveGANTrainer.STATE_KEYS + ("spec_norm",)

    def __init__(self, config: SpecGANConfig, data: AudioDataset | None = None, *, load_data: bool = True):
        self.norm: SpecNorm | None = None     # from the training clips, or from a checkpoint
        super().__init__(config, data, load_data=load_data)

    def _make_models(self) -> tuple[torch.nn.Module, torch.nn.Module]:
        c = self.config
        return (SpecGANGenerator(c.latent_dim, c.model_size, self.num_classes),
                SpecGANDiscriminator(c.model_size, self.num_classes))

    def _examples(self, data: AudioDataset) -> torch.Tensor:
        log_mags = _log_magnitudes(data)
        self.norm = SpecNorm.fit(log_mags)
        return self.norm.normalise(log_mags)

    def _to_audio(self, out: torch.Tensor) -> torch.Tensor:
        if self.norm is None:
            raise AudioError("this SpecGAN has no normalisation statistics (neither data nor a checkpoint)")
        return torch.cat([griffin_lim(self.norm.denormalise(out[s:s + 64]), SLICE, self.config.gl_iterations)
                          for s in range(0, len(out), 64)])

    def state_dict(self) -> dict:
        return {**super().state_dict(), "spec_norm": self.norm.state_dict() if self.norm is not None else {}}

    def load_state_dict(self, state: dict) -> None:
        super().load_state_dict(state)
        saved = state["spec_norm"]
        if not isinstance(saved, dict) or set(saved) != {"mean", "std"}:
            raise CheckpointError("the checkpoint's spectrogram statistics (spec_norm) are missing or malformed")
        self.norm = SpecNorm.from_state(saved)
        if self.data is not None:      # the examples follow the saved statistics exactly
            self.examples = self.norm.normalise(_log_magnitudes(self.data))


ALGORITHMS = {"wavegan": (WaveGANConfig, WaveGANTrainer, PRESETS),
              "specgan": (SpecGANConfig, SpecGANTrainer, SPEC_PRESETS)}
