"""RankGAN (Lin, Li, He, Zhang and Sun, "Adversarial Ranking for Language Generation", NeurIPS 2017): SeqGAN's
schedule with the binary discriminator replaced by a ranker that scores sentences by their rank among others,
relative to human-written reference sentences.

Ranker (:mod:`seqgan.discriminators.ranker`). SeqGAN's CNN feature extractor with a linear projection to
``ranker_dim`` features y_s; alpha(s|u) = cos(y_s, y_u); P(s|u, C) = exp(gamma alpha(s|u)) / sum over s' in
C u {s} of exp(gamma alpha(s'|u)); R(s|U, C) = mean over u in U of P(s|u, C) (the paper's Section 3, its ranking
score and expected rank). ``gamma`` defaults to 1.0; the paper's value is NOT verified here.

Ranker loss (the ranker's side of the paper's minimax objective, eq. 1 of Section 3 as recalled -- the equation
number was not checked against the text):

    loss = -mean_{s human} log R(s|U, C^-) - mean_{s machine} log(1 - R(s|U, C^+)),

with C^- machine-written sentences (a human sentence is ranked against generated ones) and C^+ human-written
sentences (a generated sentence is ranked against real ones), as in the paper. Each ranker round draws
``d_samples`` fresh generated sentences and as many training sentences (as SeqGAN's discriminator round), and runs
``d_epochs`` epochs; each step takes ``batch_size`` human and ``batch_size`` machine candidates and draws a fresh U
(``ref_size`` training sentences), a fresh C^+ (``comparison_size`` other training sentences, disjoint from U) and a
fresh C^- (``comparison_size`` of the round's generated sentences), all from ``data_rng``. The gradient flows
through the features of the candidates, U and C alike; there is no L2 penalty (``dis_l2`` has no effect: y_s enters
only through cosines, which an L2 penalty on the projection would not regularise, only shrink towards its bias).

Generator. SeqGAN's policy gradient with Monte Carlo rollouts (the shared :class:`RolloutEngine`) whose reward of a
complete sentence is its rank score R(s|U, C^+): for each generator step one U and one C^+ are drawn from the
training data (disjoint) and stay fixed for all completions of that step (:class:`RankReward`, eval mode).

Everything else is SeqGAN's trainer (inherited): MLE pretraining, ranker pretraining (``d_pretrain_rounds`` ranker
rounds), the delayed rollout policy, evaluation and checkpoint state. The ranker lives in the ``discriminator``
attribute and state entry (also reachable as ``ranker``), so the checkpoint format is SeqGAN's.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from seqgan import distributed
from seqgan.config import ConfigError, option
from seqgan.discriminators.ranker import CNNRanker, RankReward, log_rank_scores
from seqgan.trainers.seqgan import PRESETS as SEQGAN_PRESETS
from seqgan.trainers.seqgan import SeqGANConfig, SeqGANTrainer


@dataclass(frozen=True)
class RankGANConfig(SeqGANConfig):
    out_dir: str = option("runs/rankgan", "where metrics.jsonl and last.pt go")
    ref_size: int = option(16, "reference set U: human-written sentences per ranking (paper's size not verified)")
    comparison_size: int = option(64, "comparison set C: sentences each candidate is ranked against (human-written "
                                      "for generated candidates, generated for human ones)")
    gamma: float = option(1.0, "ranking temperature gamma in P(s|u,C) = softmax over C of gamma*cos (the paper's "
                               "value is not verified)")
    ranker_dim: int = option(64, "ranker feature vector size (linear projection of the CNN's highway features)")

    def validate(self) -> None:
        super().validate()
        for name in ["ref_size", "comparison_size", "ranker_dim"]:
            if getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        if not self.gamma > 0:
            raise ConfigError(f"config field 'gamma' must be > 0, got {self.gamma}")
        if self.comparison_size > self.d_samples:
            raise ConfigError(f"comparison_size ({self.comparison_size}) must be <= d_samples ({self.d_samples}): "
                              "the machine-written comparison set is drawn from a round's generated sentences")


PRESETS = {name: dict(values) for name, values in SEQGAN_PRESETS.items()}
PRESETS["tiny"].update(ref_size=4, comparison_size=8, ranker_dim=8)


def ranker_loss(log_r_human: Tensor, log_r_machine: Tensor) -> Tensor:
    """-mean log R(human) - mean log(1 - R(machine)), from log rank scores (log(1 - R) = log(-expm1(log R)))."""
    log_not_machine = torch.log((-torch.expm1(log_r_machine)).clamp_min(1e-12))  # clamped: R = 1 in float32
    return -log_r_human.mean() - log_not_machine.mean()


class RankGANTrainer(SeqGANTrainer):
    algorithm = "rankgan"
    DATA_PARALLEL = True

    def __init__(self, config: RankGANConfig, corpus=None):
        super().__init__(config, corpus)
        c = self.config
        need = c.ref_size + c.comparison_size
        if len(self.train_data) and len(self.train_data) < need:
            raise ConfigError(f"ref_size + comparison_size ({need}) exceeds the {len(self.train_data)} training "
                              "sentences they are drawn from")
        # The ranker replaces SeqGAN's discriminator (same attribute and state entry), with its own optimiser.
        self.discriminator = CNNRanker(self.corpus.vocab_size, c.dis_emb, c.dis_filter_sizes, c.dis_num_filters,
                                       c.dis_dropout, pad_token=self.corpus.pad_token,
                                       feature_dim=c.ranker_dim).to(self.device)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=c.dis_lr)

    @property
    def ranker(self) -> CNNRanker:
        return self.discriminator

    def _human_sets(self) -> tuple[Tensor, Tensor]:
        """A reference set U and a human-written comparison set C^+, disjoint, drawn from the training data."""
        c = self.config
        pick = torch.randperm(len(self.train_data), generator=self.data_rng)[: c.ref_size + c.comparison_size]
        pick = pick.to(self.device)
        return self.train_data[pick[: c.ref_size]], self.train_data[pick[c.ref_size:]]

    def _d_round(self) -> dict[str, float]:
        """Fresh generated sentences, as many human ones, ``d_epochs`` epochs of the ranker loss."""
        c = self.config
        machine = self._sample_shared(c.d_samples)  # the same on every rank: C^- is drawn from all of it
        pick = torch.randperm(len(self.train_data), generator=self.data_rng)[: c.d_samples].to(self.device)
        human = self.train_data[pick]
        self.discriminator.train()
        total, r_human, r_machine, steps = 0.0, 0.0, 0.0, 0
        for _ in range(c.d_epochs):
            for h_idx, m_idx in zip(self._batches(len(human)), self._batches(len(machine))):
                refs, c_plus = self._human_sets()
                c_minus = machine[torch.randperm(len(machine), generator=self.data_rng)[: c.comparison_size]
                                  .to(self.device)]
                parts = [human[h_idx], machine[m_idx], refs, c_plus, c_minus]
                f_h, f_m, f_u, f_cp, f_cm = self.discriminator(torch.cat(parts)).float().split(
                    [len(p) for p in parts])
                log_r_h = log_rank_scores(f_h, f_u, f_cm, c.gamma)
                log_r_m = log_rank_scores(f_m, f_u, f_cp, c.gamma)
                loss = ranker_loss(log_r_h, log_r_m)
                distributed.optimizer_step(self.d_opt, loss, self.discriminator.parameters(), count=len(h_idx))
                total += loss.item()
                r_human += log_r_h.exp().mean().item()
                r_machine += log_r_m.exp().mean().item()
                steps += 1
        steps = max(steps, 1)
        # r_human / r_machine: mean rank scores of the human / generated candidates (chance: 1 / (comparison_size+1))
        return {"d_loss": total / steps, "r_human": r_human / steps, "r_machine": r_machine / steps}

    final_reward_name = "rank"

    def _reward_fn(self):
        refs, c_plus = self._human_sets()  # fixed for every completion of this generator step
        return RankReward(self.discriminator, refs, c_plus, self.config.gamma)
