"""LeakGAN (Guo, Lu, Cai, Zhang, Yu and Wang, "Long Text Generation via Adversarial Training with Leaked
Information", AAAI 2018): a manager/worker generator steered by the discriminator's leaked CNN features.

Generator: :class:`seqgan.generators.leakgan.LeakGANGenerator` (manager LSTM -> unit goals g_t over the feature
space, goals of the last c steps summed and projected to w_t of size k, worker logits O_t w_t). The discriminator
is SeqGAN's CNN; its ``features`` (highway output; dropout is the identity in eval mode) are the leak, attached to
the generator and to the delayed rollout copy, so both always read the current discriminator.

Rewards of one generator step, for samples y (B, T) from the generator:
- Q (B, T) = SeqGAN Monte Carlo rollout rewards (D's P(real) of N completions drawn from the delayed rollout
  policy, which leaks the same features), computed by the shared engine; LeakGAN rolls out every c tokens, so only
  the columns of prefix lengths c, 2c, ..., and T are used (:func:`block_rewards`);
- bootstrapped rescaled activation (paper Sec. "Training techniques"): in each used column, rank i = 1..B of the
  batch (1 = highest reward) becomes sigma(delta (0.5 - i/B)), delta = 12 (:func:`rescaled_activation`);
- every step t (goal g_t, token y_{t+1}) gets the rescaled reward of the c-token block that holds y_{t+1}.

Losses (f_t = features of y_1..y_t, d_cos = cosine similarity):
- manager (paper eq. 7): -sum_t R_t d_cos(f_{t+c} - f_t, g_t) over t + c <= T, mean over the batch
  (:func:`manager_loss`); in MLE pretraining R = 1 on real data (the manager learns real text's feature moves);
- worker: SeqGAN's policy gradient -sum_t log p(y_t) (R_t + intrinsic_weight * r^I_t) with the intrinsic reward
  (paper eq. 8) r^I_t = (1/c) sum_{i=1..c, i<=t} d_cos(f_t - f_{t-i}, g_{t-i}) for token y_t
  (:func:`intrinsic_rewards`); the paper's worker uses r^I alone, the brief of this toolkit adds the extrinsic R.
  Both terms are centred over the batch before the gradient (:func:`worker_advantage`): raw, they are positive on
  average and every update sharpens the worker's softmax (the collapse of the first family benchmark). The
  adversarial phase also has its own, lower learning rate ``adv_lr`` (see the optimiser in the trainer).
The two modules' gradients are clipped separately (their losses have different scales).

Phases: mle (worker MLE + manager pretraining), d_pretrain, adversarial; every ``mle_interval`` adversarial epochs
one more MLE epoch follows (the paper interleaves MLE with adversarial training). The paper's code also interleaves
the D and G pretraining; here they run one after the other, as in SeqGAN.

Presets: ``paper`` holds LeakGAN's sizes as recalled from its synthetic-data code -- embedding and both LSTMs 32,
goal size k = 16, step c = 4, SeqGAN's discriminator, 4 rollouts, 80 MLE epochs, an MLE epoch every 10 adversarial
epochs, 800 adversarial epochs with 5 discriminator rounds -- FROM MEMORY AND NOT VERIFIED against the paper or its
code (k = 16, c = 4 and delta = 12 are stated in the paper). ``cpu-small`` is SeqGAN's cpu-small schedule with 4
rollouts; ``tiny`` runs in seconds.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from seqgan import distributed, losses
from seqgan.config import ConfigError, option
from seqgan.generators.leakgan import LeakGANGenerator
from seqgan.rollout.engine import DiscriminatorReward
from seqgan.rollout.policy import DelayedPolicy
from seqgan.trainers.seqgan import PRESETS as SEQGAN_PRESETS
from seqgan.trainers.seqgan import SeqGANConfig, SeqGANTrainer


@dataclass(frozen=True)
class LeakGANConfig(SeqGANConfig):
    out_dir: str = option("runs/leakgan", "where metrics.jsonl and last.pt go")
    generator: str = option("leakgan", "generator: leakgan only (manager and worker LSTMs; gen_emb and gen_hidden "
                                       "size the worker)")
    manager_hidden: int = option(32, "manager LSTM hidden size")
    goal_dim: int = option(16, "goal embedding size k of the worker")
    step_size: int = option(4, "c: goals summed over the last c steps, manager horizon and rollout interval")
    rescale_delta: float = option(12.0, "bootstrapped rescaled activation: rank i of B -> sigma(delta (0.5 - i/B))")
    intrinsic_weight: float = option(1.0, "worker reward = rescaled extrinsic reward + this * intrinsic reward")
    mle_interval: int = option(10, "one MLE epoch after every k adversarial epochs (0: none)")
    adv_lr: float = option(0.001, "generator Adam learning rate of the adversarial phase (gen_lr: MLE only); lower "
                                  "than SeqGAN's because the bilinear worker output moves faster per step")

    def validate(self) -> None:
        if self.generator != "leakgan":
            raise ConfigError(f"config field 'generator' must be leakgan for the leakgan algorithm, got "
                              f"{self.generator!r}")
        SeqGANConfig.validate(dataclasses.replace(self, generator="lstm"))
        for name in ["manager_hidden", "goal_dim", "step_size"]:
            if getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        if self.mle_interval < 0:
            raise ConfigError(f"config field 'mle_interval' must be >= 0, got {self.mle_interval}")
        if not self.rescale_delta > 0:
            raise ConfigError(f"config field 'rescale_delta' must be > 0, got {self.rescale_delta}")
        if not self.adv_lr > 0:
            raise ConfigError(f"config field 'adv_lr' must be > 0, got {self.adv_lr}")
        if not self.intrinsic_weight >= 0:
            raise ConfigError(f"config field 'intrinsic_weight' must be >= 0, got {self.intrinsic_weight}")


PRESETS = {
    "paper": dict(rollouts=4, mle_epochs=80, adv_epochs=800, adv_d_rounds=5, mle_interval=10),
    "cpu-small": {**SEQGAN_PRESETS["cpu-small"], "rollouts": 4},
    "tiny": {**SEQGAN_PRESETS["tiny"], "manager_hidden": 8, "goal_dim": 4, "step_size": 2, "mle_interval": 1},
}


# --- pure functions ----------------------------------------------------------------------------------------------
def rescaled_activation(rewards: Tensor, delta: float) -> Tensor:
    """(B, n) -> (B, n): in each column, the reward of rank i (1 = highest; ties by row order) -> sigma(delta
    (0.5 - i/B))."""
    B = rewards.shape[0]
    order = torch.argsort(rewards, dim=0, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(0, order, torch.arange(1, B + 1, device=rewards.device)[:, None].expand_as(order))
    return torch.sigmoid(delta * (0.5 - ranks.to(rewards.dtype) / B))


def block_ends(length: int, step: int) -> list[int]:
    """Columns of Q (prefix length - 1) where LeakGAN rolls out: c, 2c, ... and T."""
    return sorted({min(e, length) - 1 for e in range(step, length + step, step)})


def block_rewards(q: Tensor, step: int, delta: float) -> Tensor:
    """Full rollout Q (B, T) -> (B, T) per-step reward: step t (token y_{t+1}) gets the rescaled reward of the end
    of its c-token block."""
    T = q.shape[1]
    rescaled = rescaled_activation(q[:, block_ends(T, step)], delta)
    return rescaled[:, torch.arange(T, device=q.device) // step]


def intrinsic_rewards(features: Tensor, goals: Tensor, step: int) -> Tensor:
    """f_0..f_T (B, T+1, F), g_0..g_{T-1} (B, T, F) -> r^I (B, T); column t-1 is the reward of token y_t:
    (1/c) sum_{i=1..min(c, t)} d_cos(f_t - f_{t-i}, g_{t-i})."""
    B, T1, _ = features.shape
    T = T1 - 1
    out = features.new_zeros(B, T)
    for i in range(1, min(step, T) + 1):
        # tokens t = i..T: f_t - f_{t-i} against g_{t-i}
        out[:, i - 1:] += F.cosine_similarity(features[:, i:] - features[:, :T1 - i], goals[:, :T - i + 1], dim=-1)
    return out / step


def centred(rewards: Tensor, mask: Tensor | None = None) -> Tensor:
    """(B, T) rewards -> advantages: each column minus its mean over the batch's real tokens (0 where masked).

    Why: REINFORCE with the rescaled activation alone pushes up the log-probability of EVERY sampled token (its
    values lie in (0, 1)), and the intrinsic cosine reward is mostly positive once goals track the features; with
    few samples per update that steadily sharpens the worker's softmax (the benchmark's collapse: NLL-oracle down,
    NLL-test up, Self-BLEU near 1). A baseline that does not depend on the token keeps the gradient's expectation
    (Williams 1992) and only the better-than-average tokens gain. For the rescaled activation the column mean is
    the constant (1/B) sum_i sigma(delta (0.5 - i/B)) (paper, Bootstrapped Rescaled Activation: the batch's reward
    expectation is fixed), so subtracting it is exactly a constant baseline; for the intrinsic reward the batch mean
    includes the row itself, a bias of order 1/B.
    """
    weight = torch.ones_like(rewards) if mask is None else mask.to(rewards.dtype)
    mean = (rewards * weight).sum(0, keepdim=True) / weight.sum(0, keepdim=True).clamp_min(1.0)
    return (rewards - mean) * weight


def worker_advantage(extrinsic: Tensor, intrinsic: Tensor, intrinsic_weight: float,
                     mask: Tensor | None = None) -> Tensor:
    """The worker's per-token policy-gradient weight: centred rescaled extrinsic reward + weight * centred r^I.

    The paper trains the worker on r^I alone (eq. 8 and the worker gradient after it, E[r^I_t grad log W(x_t |
    s_{t-1})]) and the manager on the rescaled Q (eq. 7); this toolkit's worker adds the extrinsic term. Both terms
    are centred (:func:`centred`): the paper states no baseline, and its released code (as reported to us, not
    checked here) subtracts none but interleaves MLE epochs, which a short adversarial phase (10-15 updates, at
    most one MLE epoch) cannot rely on. The manager keeps the paper's uncentred weights (:func:`manager_loss`):
    they only scale how strongly each goal follows the feature move the sample made, a cosine objective with no
    log-probability to sharpen.
    """
    return centred(extrinsic, mask) + intrinsic_weight * centred(intrinsic, mask)


def manager_loss(features: Tensor, goals: Tensor, weights: Tensor, step: int, mask: Tensor | None = None) -> Tensor:
    """-sum_t w_t d_cos(f_{t+c} - f_t, g_t) over t = 0..T-c, mean over the batch; ``mask`` (B, T) drops steps."""
    T = goals.shape[1]
    n = T - step + 1
    if n <= 0:
        return goals.sum() * 0.0
    cos = F.cosine_similarity(features[:, step:step + n] - features[:, :n], goals[:, :n], dim=-1)
    term = weights[:, :n].detach() * cos
    if mask is not None:
        term = term * mask[:, :n].to(term.dtype)
    return -term.sum(1).mean()


# --- trainer ---------------------------------------------------------------------------------------------------
class LeakGANTrainer(SeqGANTrainer):
    algorithm = "leakgan"
    DATA_PARALLEL = True  # batch-wide rewards are computed on the gathered global batch (see _adversarial_epoch)

    def __init__(self, config: LeakGANConfig, corpus=None):
        super().__init__(dataclasses.replace(config, generator="lstm"), corpus)
        self.config = c = config
        self.generator = LeakGANGenerator(
            self.corpus.vocab_size, self.seq_len, sum(c.dis_num_filters), c.gen_emb, c.gen_hidden, c.manager_hidden,
            c.goal_dim, c.step_size, start_token=self.corpus.start_token, eos_token=self.corpus.eos_token,
            pad_token=self.corpus.pad_token).to(self.device)
        self.generator.attach(self.discriminator)
        self.rollout = DelayedPolicy(self.generator, c.rollout_update_rate)  # shares the attached discriminator
        self.mle_opt = torch.optim.Adam(self.generator.parameters(), lr=c.gen_lr)
        # see adv_lr: Adam moves every weight by about lr per step whatever the gradient's size, and a worker logit
        # sums H * k weight products (SeqGAN's: H), so gen_lr's noisy policy-gradient steps blur the MLE solution
        self.pg_opt = torch.optim.Adam(self.generator.parameters(), lr=c.adv_lr)

    def _generator_step(self, opt: torch.optim.Optimizer, loss: Tensor, *, count: float | None = None,
                        summed: bool = False) -> None:
        """The worker's and the manager's gradients are clipped separately (their losses differ in scale), after
        the all-reduce of seqgan.distributed.optimizer_step: hence a step pre-hook rather than its ``clip``."""
        def clip_each(*_):
            for params in (self.generator.worker_parameters(), self.generator.manager_parameters()):
                torch.nn.utils.clip_grad_norm_(params, self.config.grad_clip)
        hook = opt.register_step_pre_hook(clip_each)
        try:
            distributed.optimizer_step(opt, loss, self.generator.parameters(), count=count, summed=summed)
        finally:
            hook.remove()

    def _share(self, n: float) -> float:
        """This rank's part ``n / sum over ranks of n`` (1.0 in one process): a mean over the local slice times
        its share is the local term of the global batch's mean."""
        local = torch.tensor([float(n)], dtype=torch.float64, device=self.device)
        return float(n) / distributed.all_gather_rows(local).sum().item()

    def _mle_epoch(self, _: int) -> dict[str, float]:
        """Worker MLE and manager pretraining (R = 1: follow real text's feature moves), one pass over the data."""
        c = self.config
        self.generator.train()
        totals, count = {"mle_loss": 0.0, "manager_loss": 0.0}, 0
        for idx in self._batches(len(self.train_data)):
            batch = self.train_data[idx]
            mask = self._real_tokens(batch)
            logits, goals, features = self.generator.teacher_forced(batch)
            nll = losses.mle(logits, batch, mask)
            m_loss = manager_loss(features, goals, torch.ones_like(batch, dtype=features.dtype), c.step_size, mask)
            # two means (over real tokens, over rows), each weighted by this rank's share: the sum over ranks is
            # the global batch's loss (an empty slice, count 0, takes no part)
            tokens = batch.numel() if mask is None else int(mask.sum())
            loss = nll * self._share(tokens) + m_loss * self._share(len(idx))
            self._generator_step(self.mle_opt, loss, count=None if len(idx) else 0, summed=True)
            if len(idx):
                totals["mle_loss"] += nll.item() * len(idx)
                totals["manager_loss"] += m_loss.item() * len(idx)
                count += len(idx)
        return {k: v / max(count, 1) for k, v in totals.items()}

    def _adversarial_epoch(self, i: int) -> dict[str, float]:
        c = self.config
        if i == 0:
            self.rollout.reset(self.generator)
        logs: dict[str, float] = {}
        for _ in range(c.adv_g_steps):
            # each rank samples and rolls out its slice; the rescaled activation ranks and the advantages centre
            # over the whole batch, so those are computed on the gathered global batch and then sliced again
            samples = self.engine.sample(self.generator, distributed.local_count(c.batch_size, self.dist),
                                         self.seq_len, rng=self.rng)
            q = self.engine.rewards(self.rollout.model, samples, DiscriminatorReward(self.discriminator), c.rollouts,
                                    rng=self.rng)
            everyone = distributed.all_gather_rows
            extrinsic_all = block_rewards(everyone(q), c.step_size, c.rescale_delta)
            extrinsic = distributed.shard(extrinsic_all, self.dist)
            self.generator.train()
            mask = self._real_tokens(samples)
            logits, goals, features = self.generator.teacher_forced(samples)
            intrinsic = intrinsic_rewards(features, goals.detach(), c.step_size)
            advantage = distributed.shard(worker_advantage(
                extrinsic_all, everyone(intrinsic.detach()), c.intrinsic_weight,
                None if mask is None else everyone(mask.to(intrinsic.dtype))), self.dist)
            w_loss = losses.policy_gradient(logits, samples, advantage, mask)
            m_loss = manager_loss(features, goals, extrinsic, c.step_size, mask)
            # a sum over the batch (worker) plus a mean over rows (manager, weighted by this rank's share)
            self._generator_step(self.pg_opt, w_loss + m_loss * self._share(len(samples)), summed=True)
            logs = {"pg_loss": w_loss.item(), "manager_loss": m_loss.item(), "intrinsic": intrinsic.mean().item(),
                    "mean_reward": q.mean().item(), "d_of_samples": q[:, -1].mean().item()}
        self.rollout.update(self.generator)
        for _ in range(c.adv_d_rounds):
            logs.update(self._d_round())
        if c.mle_interval and (i + 1) % c.mle_interval == 0:
            logs.update({f"interleaved_{k}": v for k, v in self._mle_epoch(i).items()})
        return logs
