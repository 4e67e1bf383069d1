"""MaliGAN (Che, Li, Zhang, Hjelm, Li, Song and Bengio, "Maximum-Likelihood Augmented Discrete Generative
Adversarial Networks", arXiv:1702.07983, 2017), the basic variant (their Algorithm 1): SeqGAN's schedule with the
generator's policy-gradient step replaced by MaliGAN's normalised importance-weighted maximum likelihood.

Generator step. Sample m sequences y_1..y_m from p_theta (m = ``batch_size``), score them once with the
discriminator, and with r_D(y) = D(y) / (1 - D(y)) (the estimate of p_data(y) / p_theta(y) that an optimal D gives)

    w_i = r_D(y_i) / sum_j r_D(y_j),      loss = -sum_i (w_i - b) * log p_theta(y_i),      b = 1/m,

so the gradient is the paper's sum_i (w_i - b) grad log p_theta(y_i). The baseline b is the mean of the normalised
weights, so the advantages w_i - b sum to zero; D(y) is clamped to [eps, 1 - eps] (``d_clamp``) before the ratio so
that a saturated discriminator gives no zero or infinite weights. log p_theta(y_i) sums over y_i's real tokens (up to
and including EOS, never the padding after it), i.e. the sequence-level advantage applies to every real token.
This basic variant uses no Monte Carlo rollouts (the paper's sequential variant, Algorithm 2, does): the engine
samples, and the discriminator scores the m full sequences in one call (:class:`DiscriminatorReward`, eval mode, no
gradient). With m = 1 the advantage is 0: nothing is learnt.

Everything else is SeqGAN's trainer (inherited): MLE pretraining, discriminator pretraining, and after each
adversarial generator step ``adv_d_rounds`` discriminator rounds with SeqGAN's BCE loss; evaluation and checkpoint
state are SeqGAN's too. The rollout settings (``rollouts``, ``rollout_update_rate``, ``reward_chunk``) have no
effect here; the base trainer's delayed rollout policy is never updated.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqgan import distributed
from seqgan.config import ConfigError, option
from seqgan.generators import teacher_forced_logits
from seqgan.rollout.engine import DiscriminatorReward
from seqgan.trainers.seqgan import PRESETS as SEQGAN_PRESETS
from seqgan.trainers.seqgan import SeqGANConfig, SeqGANTrainer

D_CLAMP = 1e-6


@dataclass(frozen=True)
class MaliGANConfig(SeqGANConfig):
    out_dir: str = option("runs/maligan", "where metrics.jsonl and last.pt go")
    d_clamp: float = option(D_CLAMP, "D(y) is clamped to [eps, 1 - eps] before the ratio r = D / (1 - D)")

    def validate(self) -> None:
        super().validate()
        if not 0.0 < self.d_clamp < 0.5:
            raise ConfigError(f"config field 'd_clamp' must be in (0, 0.5), got {self.d_clamp}")


PRESETS = {name: dict(values) for name, values in SEQGAN_PRESETS.items()}


def maligan_weights(d_probs: Tensor, eps: float = D_CLAMP) -> Tensor:
    """Normalised importance weights w_i = r_i / sum_j r_j with r = D / (1 - D) of D clamped to [eps, 1 - eps];
    computed in float64 (r lies in [eps / (1 - eps), (1 - eps) / eps]), no gradient."""
    d = d_probs.detach().double().reshape(-1).clamp(eps, 1.0 - eps)
    r = d / (1.0 - d)
    return r / r.sum()


def maligan_loss(log_probs_per_seq: Tensor, d_probs: Tensor, eps: float = D_CLAMP) -> Tensor:
    """-sum_i (w_i - 1/m) * log p(y_i): MaliGAN's generator surrogate for m sampled sequences.

    ``log_probs_per_seq`` (m,) carries the gradient; ``d_probs`` (m,) are the discriminator's P(real) of the same
    sequences and are constants.
    """
    if log_probs_per_seq.shape != d_probs.shape or log_probs_per_seq.dim() != 1:
        raise ValueError(f"log_probs_per_seq and d_probs must both be (m,), got {tuple(log_probs_per_seq.shape)} "
                         f"and {tuple(d_probs.shape)}")
    w = maligan_weights(d_probs, eps)
    advantage = (w - 1.0 / w.numel()).to(log_probs_per_seq.dtype)
    return -(advantage * log_probs_per_seq).sum()


def sequence_log_probs(logits: Tensor, tokens: Tensor, mask: Tensor | None = None) -> Tensor:
    """(B, T, V) logits, (B, T) tokens -> (B,) log p(y) summed over the (unmasked) positions."""
    token_lp = torch.log_softmax(logits.float(), dim=-1).gather(-1, tokens.unsqueeze(-1)).squeeze(-1)
    if mask is not None:
        token_lp = token_lp * mask.to(token_lp.dtype)
    return token_lp.sum(dim=1)


def local_maligan_loss(log_probs_per_seq: Tensor, d_probs_all: Tensor, offset: int, eps: float = D_CLAMP) -> Tensor:
    """The part of :func:`maligan_loss` over the m sequences of ALL ranks that falls on this rank's rows
    ``offset .. offset + len(log_probs_per_seq)``: the weights are normalised over the whole global batch. With
    one process (offset 0, all rows) it is ``maligan_loss`` itself."""
    w = maligan_weights(d_probs_all, eps)
    advantage = (w - 1.0 / w.numel())[offset: offset + log_probs_per_seq.numel()].to(log_probs_per_seq.dtype)
    return -(advantage * log_probs_per_seq).sum()


class MaliGANTrainer(SeqGANTrainer):
    algorithm = "maligan"
    DATA_PARALLEL = True
    SUMMED_LOGS = ("mali_loss",)

    def _adversarial_epoch(self, i: int) -> dict[str, float]:
        """``adv_g_steps`` MaliGAN generator steps, then ``adv_d_rounds`` discriminator rounds (as SeqGAN)."""
        c = self.config
        logs: dict[str, float] = {}
        score = DiscriminatorReward(self.discriminator)
        sizes = distributed.shard_sizes(c.batch_size, self.dist.world_size)
        for _ in range(c.adv_g_steps):
            # each rank samples and scores its slice; the weights need every rank's scores (gathered, m floats)
            samples = self.engine.sample(self.generator, sizes[self.dist.rank], self.seq_len, rng=self.rng)
            d_probs = distributed.all_gather_rows(score(samples))
            self.generator.train()
            log_p = sequence_log_probs(teacher_forced_logits(self.generator, samples), samples,
                                       self._real_tokens(samples))
            if self.dist.active:
                loss = local_maligan_loss(log_p, d_probs, sum(sizes[: self.dist.rank]), c.d_clamp)
            else:
                loss = maligan_loss(log_p, d_probs, c.d_clamp)
            self._generator_step(self.pg_opt, loss, summed=True)  # a sum over the m sequences
            w = maligan_weights(d_probs, c.d_clamp)
            # ess: effective sample size 1 / sum w^2 of the weights, from 1 (one sample dominates) to m (uniform)
            logs = {"mali_loss": loss.item(), "mean_d": d_probs.mean().item(), "ess": (1.0 / (w * w).sum()).item()}
        for _ in range(c.adv_d_rounds):
            logs.update(self._d_round())
        return logs
