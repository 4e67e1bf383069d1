"""RelGAN (Nie, Narodytska and Patel, "RelGAN: Relational Generative Adversarial Networks for Text Generation",
ICLR 2019): a relational-memory generator trained through a Gumbel-softmax relaxation against a
multiple-representation CNN discriminator with the relativistic standard GAN loss. No rollouts, no policy gradient.

Generator (:mod:`seqgan.generators.relational`): Santoro et al.'s (2018) relational memory core; MLE pretraining
is SeqGAN's (inherited: Adam ``gen_lr``, teacher forcing).

Gumbel-softmax (RelGAN Section 2.2, after Jang et al. 2017 and Maddison et al. 2017). At step t, with logits o_t
and g_t ~ Gumbel(0, 1) i.i.d. (g = -log(-log u), u ~ U(0, 1) drawn from the trainer's explicit torch.Generator),
the next token is y_{t+1} = argmax(o_t + g_t) -- an exact sample of softmax(o_t) (the Gumbel-max trick) -- and the
discriminator receives the relaxed one-hot vector

    y^_{t+1} = softmax(beta * (o_t + g_t)),

whose argmax is y_{t+1} for every beta > 0. The generator feeds the hard token back as its next input and the
gradient reaches it through y^ (and through its memory). After an EOS a row continues with one-hot ``pad_token``
rows (constants). The inverse temperature beta follows a schedule over N adversarial iterations, n = 0..N-1
(:func:`inverse_temperature`): "exp" (the paper's exponential schedule) beta_n = beta_max ** (n / N), or "lin"
beta_n = 1 + (beta_max - 1) * n / N; both start at 1. N is ``temperature_horizon``, or ``adv_epochs`` when that is
0; the published code (weilinie/RelGAN, oracle_train.py, ``get_fixed_temperature``) fixes N at 5000 whatever the
number of iterations, so its 3000-iteration runs end at beta_max ** 0.6 (the ``paper`` preset does the same).

Discriminator (:mod:`seqgan.discriminators.relgan_cnn`): one embedding cut into ``num_rep`` representations of
``dis_emb / num_rep`` columns, one shared CNN, one logit per (sequence, representation); real data enter as
tokens, generated data as the soft one-hot rows (y^ @ E).

Loss: the relativistic standard GAN (Jolicoeur-Martineau, "The relativistic discriminator", 2018; RelGAN eq. 4),
pairing the i-th real and i-th generated sequence of a batch in each representation s, with C_s = the
discriminator's logit of representation s, averaged over the batch and the S representations (as the published
code does; each representation is a discriminator of its own):

    L_D = -mean_{i,s} log sigmoid(C_s(x_i) - C_s(G_i)),      L_G = -mean_{i,s} log sigmoid(C_s(G_i) - C_s(x_i)).

Only differences of logits enter, so the bias of the discriminator's output layer gets no gradient and never moves.

Adversarial iteration n (the published order): ``adv_g_steps`` generator steps, then ``adv_d_steps`` discriminator
steps, each on a fresh real batch (``batch_size`` training sequences drawn with ``data_rng``) and a fresh generated
batch; Adam with ``gen_adv_lr`` = ``dis_lr`` = 1e-4 and betas (0.9, 0.999), the gradients of both networks clipped
to a global norm of ``grad_clip`` (5.0, as published). The generated batch of a D step is made without gradient.

Everything else is SeqGAN's trainer (inherited): evaluation (NLL-oracle / NLL-test / BLEU), sampling through the
rollout engine, checkpoint state (``pg_opt`` holds the adversarial generator optimiser; the delayed rollout policy
is kept only so the checkpoint format is SeqGAN's and is never updated). The phases are mle and adversarial (RelGAN
does not pretrain its discriminator); the SeqGAN fields d_pretrain_rounds, d_epochs, d_samples, adv_d_rounds,
rollouts, rollout_update_rate, reward_chunk and dis_l2 have no effect.

Sizes: the class defaults are small for a CPU (1 memory slot, 2 heads of 32; a 64-column discriminator embedding
in 64 representations, filters 2..5 of 64 maps each). The "paper" preset is the published synthetic-data run
(weilinie/RelGAN, oracle/experiments/oracle_relgan.py and the code it calls): generator embedding 32, 1 memory
slot, 2 heads of 256; discriminator embedding 64 in 64 representations of one column, filter widths 2, 3, 4, 5
with 300 maps each, dropout 0.25; 150 MLE epochs at Adam 1e-2; 3000 adversarial iterations of 1 generator and 5
discriminator steps at Adam 1e-4, beta_max 100 on the exponential schedule with N = 5000 (the script runs beta_max
2, 5, 10 and 100; the paper's text discusses up to 1000); batch 64, gradient clip 5.0.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seqgan import distributed
from seqgan.config import ConfigError, option
from seqgan.discriminators.relgan_cnn import MultiRepCNNDiscriminator
from seqgan.generators.relational import RelationalMemoryGenerator
from seqgan.rollout.policy import DelayedPolicy
from seqgan.trainers.loop import Phase
from seqgan.trainers.seqgan import PRESETS as SEQGAN_PRESETS
from seqgan.trainers.seqgan import SeqGANConfig, SeqGANTrainer

SCHEDULES = ("exp", "lin")
ADAM_BETAS = (0.9, 0.999)


@dataclass(frozen=True)
class RelGANConfig(SeqGANConfig):
    out_dir: str = option("runs/relgan", "where metrics.jsonl and last.pt go")
    generator: str = option("relational", "generator: relational (RelGAN's relational memory), lstm or transformer")
    mem_slots: int = option(1, "relational generator: memory slots N")
    num_heads: int = option(2, "relational generator: attention heads")
    head_size: int = option(32, "relational generator: size of each head (memory row size = num_heads * head_size)")
    gen_adv_lr: float = option(1e-4, "generator Adam learning rate in adversarial training (MLE uses gen_lr)")
    dis_filter_sizes: tuple[int, ...] = option((2, 3, 4, 5), "discriminator CNN filter widths")
    dis_num_filters: tuple[int, ...] = option((64, 64, 64, 64), "feature maps per filter width")
    dis_emb: int = option(64, "discriminator embedding size: all representations together (dis_emb / num_rep "
                              "columns each)")
    num_rep: int = option(64, "discriminator representations S (the published run: 64, of one column each)")
    beta_max: float = option(100.0, "largest Gumbel-softmax inverse temperature beta (beta starts at 1)")
    temperature_schedule: str = option("exp", "beta schedule over the adversarial iterations: exp "
                                              "(beta_max^(n/N), the paper's) or lin")
    temperature_horizon: int = option(0, "iterations over which beta rises to beta_max (0: adv_epochs; the "
                                         "published code: 5000)")
    adv_epochs: int = option(3000, "adversarial iterations (the published oracle run: 3000)")
    adv_d_steps: int = option(5, "discriminator steps per adversarial iteration (published: 5, after 1 G step)")

    def validate(self) -> None:
        # SeqGAN's checks, with 'relational' accepted as a generator (its own sizes are checked below)
        base = dataclasses.replace(self, generator="lstm") if self.generator == "relational" else self
        SeqGANConfig.validate(base)
        for name in ["mem_slots", "num_heads", "head_size", "num_rep"]:
            if getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        if self.adv_d_steps < 0 or self.temperature_horizon < 0:
            raise ConfigError(f"config fields 'adv_d_steps' and 'temperature_horizon' must be >= 0, got "
                              f"{self.adv_d_steps} and {self.temperature_horizon}")
        if self.dis_emb % self.num_rep:
            raise ConfigError(f"dis_emb ({self.dis_emb}) must be a multiple of num_rep ({self.num_rep}): each "
                              "representation is dis_emb / num_rep columns of the discriminator's embedding")
        if not self.gen_adv_lr > 0:
            raise ConfigError(f"config field 'gen_adv_lr' must be > 0, got {self.gen_adv_lr}")
        if not self.beta_max >= 1.0:
            raise ConfigError(f"config field 'beta_max' must be >= 1, got {self.beta_max}")
        if self.temperature_schedule not in SCHEDULES:
            raise ConfigError(f"temperature_schedule must be one of {', '.join(SCHEDULES)}, got "
                              f"{self.temperature_schedule!r}")


PRESETS = {
    "paper": dict(gen_emb=32, mem_slots=1, num_heads=2, head_size=256, num_rep=64, dis_emb=64,
                  dis_filter_sizes=(2, 3, 4, 5), dis_num_filters=(300, 300, 300, 300), beta_max=100.0,
                  mle_epochs=150, adv_epochs=3000, adv_g_steps=1, adv_d_steps=5, temperature_horizon=5000),
    # the published run at a CPU's size: one-column representations, fewer maps and iterations, the published
    # 5 D steps per G step and beta schedule (with 1 D step the discriminator stays near chance and the
    # generator drifts towards higher entropy: NLL-oracle rose from 9.44 to 9.97 over iterations 250-750)
    "cpu-small": dict(mle_epochs=40, adv_epochs=1000, adv_d_steps=5, temperature_horizon=5000, num_rep=32,
                      dis_emb=32, n_eval_samples=5_000, n_test=5_000, eval_every=100, checkpoint_every=100),
    "tiny": {**SEQGAN_PRESETS["tiny"], **dict(mem_slots=1, num_heads=2, head_size=4, num_rep=2, beta_max=10.0,
                                              dis_num_filters=(4, 4, 4), adv_d_steps=1)},
}


# --- pure functions ----------------------------------------------------------------------------------------------
def inverse_temperature(n: int, total: int, beta_max: float, schedule: str = "exp") -> float:
    """beta at adversarial iteration n of N = ``total``: exp beta_max^(n/N), lin 1 + (beta_max - 1) n/N."""
    if total <= 0:
        return 1.0
    frac = n / total
    if schedule == "exp":
        return float(beta_max ** frac)
    if schedule == "lin":
        return float(1.0 + (beta_max - 1.0) * frac)
    raise ValueError(f"unknown temperature schedule {schedule!r}; known: {', '.join(SCHEDULES)}")


def gumbel_noise(shape, rng: torch.Generator | None = None, device=None, dtype=torch.float32) -> Tensor:
    """i.i.d. Gumbel(0, 1): -log(-log u), u ~ U(0, 1) (u clamped away from 0)."""
    u = torch.rand(shape, generator=rng, device=device, dtype=dtype).clamp_min(torch.finfo(dtype).tiny)
    return -torch.log(-torch.log(u))


def gumbel_softmax(logits: Tensor, beta: float, noise: Tensor) -> tuple[Tensor, Tensor]:
    """(hard argmax(logits + g), soft softmax(beta (logits + g))) for Gumbel noise g of the logits' shape."""
    z = logits + noise
    return z.argmax(dim=-1), torch.softmax(beta * z, dim=-1)


def rsgan_d_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-mean log sigmoid(C(real) - C(fake)) = mean softplus(C(fake) - C(real))."""
    return F.softplus(fake_logits - real_logits).mean()


def rsgan_g_loss(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """-mean log sigmoid(C(fake) - C(real)) = mean softplus(C(real) - C(fake))."""
    return F.softplus(real_logits - fake_logits).mean()


def gumbel_generate(model, batch_size: int, length: int, beta: float,
                    rng: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Unroll a Generator ``length`` steps with Gumbel-softmax: (B, T) hard tokens and (B, T, V) soft one-hot rows.

    Gradients flow (call under ``torch.no_grad()`` when none are wanted). After a row's EOS its tokens are
    ``pad_token`` and its soft rows the constant one-hot of ``pad_token``.
    """
    p = next(model.parameters())
    eos, pad = getattr(model, "eos_token", None), getattr(model, "pad_token", 0)
    state = model.initial_state(batch_size)
    token = torch.full((batch_size, 1), model.start_token, dtype=torch.long, device=p.device)
    ended = torch.zeros(batch_size, dtype=torch.bool, device=p.device)
    hard_rows, soft_rows = [], []
    for _ in range(length):
        hidden, state = model.hidden(token, state)
        logits = model.project(hidden[:, -1]).float()
        hard, soft = gumbel_softmax(logits, beta, gumbel_noise(logits.shape, rng, p.device))
        if eos is not None:
            hard = torch.where(ended, torch.full_like(hard, pad), hard)
            pad_row = F.one_hot(torch.tensor(pad, device=p.device), logits.shape[-1]).to(soft.dtype)
            soft = torch.where(ended[:, None], pad_row, soft)
            ended = ended | (hard == eos)
        hard_rows.append(hard)
        soft_rows.append(soft)
        token = hard[:, None]
    return torch.stack(hard_rows, dim=1), torch.stack(soft_rows, dim=1)


# --- trainer ---------------------------------------------------------------------------------------------------
class RelGANTrainer(SeqGANTrainer):
    algorithm = "relgan"
    DATA_PARALLEL = True

    def __init__(self, config: RelGANConfig, corpus=None):
        relational = config.generator == "relational"
        super().__init__(dataclasses.replace(config, generator="lstm") if relational else config, corpus)
        self.config = c = config
        V = self.corpus.vocab_size
        if relational:
            self.generator = RelationalMemoryGenerator(
                V, c.gen_emb, c.mem_slots, c.num_heads, c.head_size, start_token=self.corpus.start_token,
                eos_token=self.corpus.eos_token, pad_token=self.corpus.pad_token).to(self.device)
        self.discriminator = MultiRepCNNDiscriminator(V, c.dis_emb, c.num_rep, c.dis_filter_sizes, c.dis_num_filters,
                                                      c.dis_dropout, pad_token=self.corpus.pad_token).to(self.device)
        self.rollout = DelayedPolicy(self.generator, c.rollout_update_rate)  # unused; keeps SeqGAN's state format
        self.mle_opt = torch.optim.Adam(self.generator.parameters(), lr=c.gen_lr)
        self.pg_opt = torch.optim.Adam(self.generator.parameters(), lr=c.gen_adv_lr, betas=ADAM_BETAS)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=c.dis_lr, betas=ADAM_BETAS)

    def phases(self) -> list[Phase]:
        c = self.config
        return [Phase("mle", c.mle_epochs, self._mle_phase_epoch, c.eval_every),
                Phase("adversarial", c.adv_epochs, self._adversarial_epoch, c.eval_every)]

    def _real_batch(self) -> Tensor:
        """This rank's slice of a fresh global batch of training rows (the generated batch matches its size)."""
        pick = torch.randperm(len(self.train_data), generator=self.data_rng)[: self.config.batch_size]
        return self.train_data[distributed.shard(pick, self.dist).to(self.device)]

    def _adversarial_epoch(self, i: int) -> dict[str, float]:
        c = self.config
        beta = inverse_temperature(i, c.temperature_horizon or c.adv_epochs, c.beta_max, c.temperature_schedule)
        logs: dict[str, float] = {"beta": beta}
        self.generator.train()
        self.discriminator.train()
        for _ in range(c.adv_g_steps):
            real = self._real_batch()
            _, fake = gumbel_generate(self.generator, len(real), self.seq_len, beta, self.rng)
            loss = rsgan_g_loss(self.discriminator.scores(real), self.discriminator.scores(fake))
            self._generator_step(self.pg_opt, loss, count=len(real))
            self.d_opt.zero_grad(set_to_none=True)  # the G step's gradients on D are not used
            logs["g_loss"] = loss.item()
        for _ in range(c.adv_d_steps):
            real = self._real_batch()
            with torch.no_grad():
                _, fake = gumbel_generate(self.generator, len(real), self.seq_len, beta, self.rng)
            real_logits, fake_logits = self.discriminator.scores(real), self.discriminator.scores(fake)
            loss = rsgan_d_loss(real_logits, fake_logits)
            distributed.optimizer_step(self.d_opt, loss, self.discriminator.parameters(), count=len(real),
                                       clip=c.grad_clip)
            logs.update(d_loss=loss.item(), d_acc=((real_logits > fake_logits).float().mean().item()))
        return logs
