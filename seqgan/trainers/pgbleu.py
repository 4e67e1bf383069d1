"""PG-BLEU (Yu, Zhang, Wang and Yu, AAAI 2017, the baseline of their synthetic-data experiments): SeqGAN's policy
gradient with sentence BLEU against the training set as the reward instead of a discriminator.

Reward. For a generated sequence y the reward is the sentence BLEU-n (``bleu_order``, default 4; the paper does not
state n) of y's real tokens against ALL training sequences as references, uniform weights (1/n, ..., 1/n) and
NLTK's ``SmoothingFunction().method1`` -- exactly NLTK's ``sentence_bleu``, computed through
:class:`seqgan.metrics.bleu.BleuIndex` over token ids (the index of the training set is built once, at the first
adversarial step). "Real tokens" are the tokens before the first EOS: neither the EOS nor the padding after it is
scored, in the references as in the hypotheses, so the reward is the BLEU that the evaluation reports for the
decoded line (up to the evaluation's word tokenizer). The oracle corpus has no EOS: all T tokens are scored.

Partial sequences are scored as in SeqGAN (eq. 4): Q(t) is the mean BLEU of N Monte Carlo completions of y_1..t
drawn from the delayed rollout policy, Q(T) the BLEU of y itself; the shared :class:`RolloutEngine` computes them
with :class:`BleuReward` as its ``reward_fn``.

Everything else is SeqGAN's trainer (inherited): MLE pretraining, the generator and its optimisers, the delayed
rollout policy, evaluation, checkpoint state. There are no discriminator phases, so the phases are ``mle`` and
``adversarial``, and ``d_pretrain_rounds`` / ``adv_d_rounds`` must be 0. The base trainer still builds its
discriminator (and optimiser); PG-BLEU never trains or reads it -- it stays at its initial values and is kept in the
checkpoint only so that the state format is SeqGAN's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqgan.config import ConfigError, option
from seqgan.metrics.bleu import BleuIndex
from seqgan.trainers.loop import Phase
from seqgan.trainers.seqgan import PRESETS as SEQGAN_PRESETS
from seqgan.trainers.seqgan import SeqGANConfig, SeqGANTrainer

NO_DISCRIMINATOR = ("d_pretrain_rounds", "adv_d_rounds")


@dataclass(frozen=True)
class PGBLEUConfig(SeqGANConfig):
    out_dir: str = option("runs/pgbleu", "where metrics.jsonl and last.pt go")
    d_pretrain_rounds: int = option(0, "PG-BLEU has no discriminator: must be 0")
    adv_d_rounds: int = option(0, "PG-BLEU has no discriminator: must be 0")
    reward_chunk: int = option(1024, "rows per BLEU reward call when scoring rollouts")
    bleu_order: int = option(4, "reward: sentence BLEU-n of this order n against the training set (NLTK method1 "
                                "smoothing, uniform weights)")

    def validate(self) -> None:
        super().validate()
        for name in NO_DISCRIMINATOR:
            if getattr(self, name) != 0:
                raise ConfigError(f"config field '{name}' must be 0 for pgbleu (it trains no discriminator), "
                                  f"got {getattr(self, name)}")
        if self.bleu_order < 1:
            raise ConfigError(f"config field 'bleu_order' must be >= 1, got {self.bleu_order}")


# SeqGAN's presets without the discriminator rounds (their discriminator sizes then have no effect).
PRESETS = {name: {**values, **{k: 0 for k in NO_DISCRIMINATOR}} for name, values in SEQGAN_PRESETS.items()}


def real_tokens(row: list[int], eos_token: int | None) -> tuple[int, ...]:
    """The tokens of ``row`` before its first EOS (all of them without an EOS token, or when none occurs)."""
    if eos_token is not None and eos_token in row:
        row = row[: row.index(eos_token)]
    return tuple(row)


class BleuReward:
    """``reward_fn`` (M, T) -> (M,): sentence BLEU-``order`` of each row's real tokens against all ``references``
    (the training rows), smoothed with NLTK's method1; equal to NLTK's ``sentence_bleu`` on the same token lists."""

    def __init__(self, references: Tensor, order: int, eos_token: int | None):
        rows = [real_tokens(row, eos_token) for row in references.tolist()]
        self.order, self.eos_token = order, eos_token
        self.index = BleuIndex(rows, max_n=order)

    @torch.no_grad()
    def __call__(self, tokens: Tensor) -> Tensor:
        scores = [self.index.score(real_tokens(row, self.eos_token), self.order) for row in tokens.tolist()]
        return torch.tensor(scores, dtype=torch.float32, device=tokens.device)


class PGBLEUTrainer(SeqGANTrainer):
    algorithm = "pgbleu"
    DATA_PARALLEL = True

    def __init__(self, config: PGBLEUConfig, corpus=None):
        super().__init__(config, corpus)
        self._bleu: BleuReward | None = None  # built at first use: a checkpoint-only trainer (sample) has no data

    @property
    def bleu_reward(self) -> BleuReward:
        if self._bleu is None:
            self._bleu = BleuReward(self.corpus.train, self.config.bleu_order, self.corpus.eos_token)
        return self._bleu

    def phases(self) -> list[Phase]:
        c = self.config
        return [Phase("mle", c.mle_epochs, self._mle_phase_epoch, c.eval_every),
                Phase("adversarial", c.adv_epochs, self._adversarial_epoch, c.eval_every)]

    final_reward_name = "bleu"

    def _reward_fn(self):
        return self.bleu_reward
