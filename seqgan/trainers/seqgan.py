"""SeqGAN (Yu, Zhang, Wang and Yu, AAAI 2017): MLE pretraining, discriminator pretraining, then adversarial
epochs of one policy-gradient generator step on Monte Carlo rollout rewards followed by discriminator rounds.

The defaults are the paper's code (LantaoYu/SeqGAN, sequence_gan.py): batch 64, 120 MLE epochs, 50 D-pretraining
rounds of 3 epochs on 10,000 fresh negatives, 200 adversarial epochs each with 1 G step (N=16 rollouts) and 5 D
rounds, Adam 0.01 (G, clip 5.0) and 1e-4 (D), D dropout 0.25 and L2 0.2, rollout update rate 0.8.

Several processes (seqgan.distributed): each rank trains on its slice of every global batch (MLE, D), samples and
rolls out its slice of the generator's batch (the rewards stay on the rank that uses them), and generates its share
of each round's negatives, which are then gathered so that every rank shuffles the same global set. The data
shuffling stream (``data_rng``) is the same on every rank; the sampling stream (``rng``) is seeded from (seed, rank).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import torch

from seqgan import distributed, losses
from seqgan.checkpoint import load_module_state
from seqgan.config import ConfigError, option
from seqgan.data.corpus import Corpus, check_same_corpus, load_corpus
from seqgan.data.text import LEVELS, LONG_LINES, decode_rows
from seqgan.discriminators.cnn import PAPER_FILTER_SIZES, PAPER_NUM_FILTERS, CNNDiscriminator
from seqgan.generators import real_token_mask, teacher_forced_logits
from seqgan.generators.factory import build_generator, generator_config_error
from seqgan.metrics.nll import sequence_nll
from seqgan.metrics.text import References, text_report
from seqgan.rollout.engine import PRECISIONS, DiscriminatorReward, RolloutEngine
from seqgan.rollout.policy import DelayedPolicy
from seqgan.trainers.early_stop import EarlyStop, split_validation
from seqgan.trainers.loop import Phase, Trainer


@dataclass(frozen=True)
class SeqGANConfig:
    corpus: str = option("oracle", "oracle, a registry corpus (see `seqgan corpora`) or path/to/train.txt[,test.txt]")
    seed: int = option(88, "seed of model initialisation, sampling and shuffling")
    data_seed: int = option(0, "seed of the synthetic oracle corpus (fixed so that runs compare on the same data)")
    device: str = option("cpu", "torch device: cpu, cuda, cuda:1, ...")
    out_dir: str = option("runs/seqgan", "where metrics.jsonl and last.pt go")
    seq_len: int = option(20, "oracle: sequence length T (text corpora: max_len + 1)")
    n_train: int = option(10_000, "oracle: training sequences sampled from it")
    n_test: int = option(10_000, "oracle: held-out sequences for NLL-test")
    max_len: Optional[int] = option(None, "text: most tokens per line (default: the corpus manifest's, for your "
                                          "own files the longest training line)")
    long_lines: str = option("truncate", "text: lines longer than max_len: truncate, drop or error")
    max_vocab: Optional[int] = option(None, "text: vocabulary size cap, the 4 special tokens included")
    level: Optional[str] = option(None, "text: word, char or bpe (default: the corpus manifest's, else word)")
    n_eval_samples: int = option(10_000, "generated sequences per evaluation (NLL-oracle; BLEU and Self-BLEU)")
    batch_size: int = option(64, "generator and discriminator batch size")
    generator: str = option("lstm", "generator: lstm or transformer (transformer: gen_emb is d_model, a multiple "
                                    "of 4 heads; gen_hidden the feed-forward width; 2 layers; max_len = seq_len)")
    gen_emb: int = option(32, "generator embedding size")
    gen_hidden: int = option(32, "generator LSTM hidden size")
    gen_lr: float = option(0.01, "generator Adam learning rate (MLE and adversarial)")
    grad_clip: float = option(5.0, "generator gradient global-norm clip")
    dis_emb: int = option(64, "discriminator embedding size")
    dis_filter_sizes: tuple[int, ...] = option(PAPER_FILTER_SIZES, "discriminator CNN filter widths")
    dis_num_filters: tuple[int, ...] = option(PAPER_NUM_FILTERS, "feature maps per filter width")
    dis_dropout: float = option(0.25, "discriminator dropout probability")
    dis_l2: float = option(0.2, "L2 penalty on the discriminator output layer")
    dis_lr: float = option(1e-4, "discriminator Adam learning rate")
    mle_epochs: int = option(120, "MLE pretraining epochs")
    mle_patience: int = option(0, "MLE early stopping: after this many epochs without a better validation NLL, "
                                  "restore the best generator and skip the remaining MLE epochs (0: off)")
    valid_fraction: float = option(0.1, "with mle_patience: the share of training rows held out for validation")
    d_pretrain_rounds: int = option(50, "discriminator pretraining rounds (fresh negatives each round)")
    d_epochs: int = option(3, "discriminator epochs per round")
    d_samples: int = option(10_000, "negatives generated per discriminator round (as many positives are used)")
    adv_epochs: int = option(200, "adversarial epochs")
    adv_g_steps: int = option(1, "generator policy-gradient steps per adversarial epoch")
    adv_d_rounds: int = option(5, "discriminator rounds per adversarial epoch")
    rollouts: int = option(16, "Monte Carlo rollouts N per prefix")
    rollout_update_rate: float = option(0.8, "delayed rollout policy: beta <- rate*beta + (1-rate)*theta")
    reward_chunk: int = option(1024, "rows per discriminator call when scoring rollouts (bounds memory)")
    precision: str = option("fp32", "sampling and rollouts (not the training steps): fp32, bf16 (autocast) or "
                                    "tf32 (CUDA matmuls; fp32 on a CPU)")
    compile_sampler: bool = option(False, "CUDA: torch.compile the sampler's arithmetic (ignored on a CPU)")
    eval_every: int = option(5, "evaluate NLL-oracle / NLL-test every k steps of the MLE and adversarial phases")
    checkpoint_every: int = option(5, "write last.pt every k steps (and at the end of every phase)")

    def validate(self) -> None:
        positive = ["seq_len", "n_train", "n_test", "n_eval_samples", "batch_size", "gen_emb", "gen_hidden",
                    "dis_emb", "d_samples", "rollouts", "reward_chunk", "eval_every", "checkpoint_every"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        for name in ["mle_epochs", "mle_patience", "d_pretrain_rounds", "d_epochs", "adv_epochs", "adv_g_steps",
                     "adv_d_rounds"]:
            if getattr(self, name) < 0:
                raise ConfigError(f"config field '{name}' must be >= 0, got {getattr(self, name)}")
        if len(self.dis_filter_sizes) != len(self.dis_num_filters):
            raise ConfigError(f"dis_filter_sizes has {len(self.dis_filter_sizes)} entries but dis_num_filters has "
                              f"{len(self.dis_num_filters)}")
        if not self.dis_filter_sizes:
            raise ConfigError("dis_filter_sizes is empty: the discriminator needs at least one filter width")
        for name in ["dis_filter_sizes", "dis_num_filters"]:
            if min(getattr(self, name)) < 1:
                raise ConfigError(f"every entry of {name} must be >= 1, got {list(getattr(self, name))}")
        for name in ["gen_lr", "dis_lr"]:
            if not getattr(self, name) > 0:
                raise ConfigError(f"config field '{name}' must be > 0, got {getattr(self, name)}")
        if self.precision not in PRECISIONS:
            raise ConfigError(f"precision must be one of {', '.join(PRECISIONS)}, got {self.precision!r}")
        if self.long_lines not in LONG_LINES:
            raise ConfigError(f"long_lines must be one of {', '.join(LONG_LINES)}, got {self.long_lines!r}")
        if self.level is not None and self.level not in LEVELS:
            raise ConfigError(f"level must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if self.max_len is not None and self.max_len < 1:
            raise ConfigError(f"config field 'max_len' must be >= 1, got {self.max_len}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ConfigError(f"config field 'max_vocab' must be above 4 (the special tokens), got {self.max_vocab}")
        if not 0.0 < self.valid_fraction < 1.0:
            raise ConfigError(f"valid_fraction must be in (0, 1), got {self.valid_fraction}")
        if not 0.0 <= self.dis_dropout < 1.0:
            raise ConfigError(f"dis_dropout must be in [0, 1), got {self.dis_dropout}")
        if not 0.0 <= self.rollout_update_rate <= 1.0:
            raise ConfigError(f"rollout_update_rate must be in [0, 1], got {self.rollout_update_rate}")
        error = generator_config_error(self.generator, self.gen_emb)
        if error:
            raise ConfigError(error)


PRESETS = {
    "paper": {},
    # Reduced for a 2-core CPU (see README): smaller discriminator, fewer D rounds and samples per round.
    "cpu-small": dict(mle_epochs=40, d_pretrain_rounds=10, d_epochs=2, d_samples=2_000, adv_epochs=40,
                      adv_d_rounds=1, dis_num_filters=(25, 50, 50, 50, 50, 25, 25, 25, 25, 25, 40, 40),
                      n_eval_samples=5_000, n_test=5_000, eval_every=5, checkpoint_every=5),
    # Text corpora on a 2-core CPU (benchmarks/text_quality.py): the cpu-small discriminator, shorter schedules.
    "cpu-text": dict(mle_epochs=25, d_pretrain_rounds=5, d_epochs=2, d_samples=2_000, adv_epochs=15, adv_d_rounds=1,
                     dis_num_filters=(25, 50, 50, 50, 50, 25, 25, 25, 25, 25, 40, 40), n_eval_samples=2_000,
                     eval_every=5, checkpoint_every=5),
    # Seconds on a CPU: tests and smoke runs.
    "tiny": dict(seq_len=8, n_train=256, n_test=128, n_eval_samples=128, batch_size=32, gen_emb=8, gen_hidden=8,
                 dis_emb=8, dis_filter_sizes=(1, 2, 3), dis_num_filters=(4, 4, 4), mle_epochs=2,
                 d_pretrain_rounds=1, d_epochs=1, d_samples=64, adv_epochs=2, adv_d_rounds=1, rollouts=2,
                 eval_every=1, checkpoint_every=1),
}


class SeqGANTrainer(Trainer):
    algorithm = "seqgan"
    DATA_PARALLEL = True  # its steps shard and reduce through seqgan.distributed (subclasses declare their own)

    def __init__(self, config: SeqGANConfig, corpus: Corpus | None = None):
        super().__init__(config)
        c = config
        self.device = distributed.local_device(c.device)
        self.dist = distributed.current()
        torch.manual_seed(c.seed)  # model initialisation and dropout
        self.corpus = corpus or load_corpus(c.corpus, seq_len=c.seq_len, n_train=c.n_train, n_test=c.n_test,
                                            data_seed=c.data_seed, max_len=c.max_len, long_lines=c.long_lines,
                                            max_vocab=c.max_vocab, level=c.level)
        self.seq_len = self.corpus.seq_len
        self.train_data = self.corpus.train.to(self.device)
        self.test_data = self.corpus.test.to(self.device) if self.corpus.test is not None else None
        self.oracle = self.corpus.oracle.to(self.device) if self.corpus.oracle is not None else None
        self.valid_data = None  # held-out training rows for MLE early stopping
        if c.mle_patience:
            try:
                self.train_data, self.valid_data = split_validation(self.train_data, c.valid_fraction)
            except ValueError as e:
                raise ConfigError(f"mle_patience: {e}; lower valid_fraction or give more training data") from e
        self.early_stop = EarlyStop(c.mle_patience)
        self._references: References | None = None  # BLEU references, indexed at the first evaluation
        V, pad = self.corpus.vocab_size, self.corpus.pad_token
        self.generator = build_generator(c, self.corpus).to(self.device)
        self.discriminator = CNNDiscriminator(V, c.dis_emb, c.dis_filter_sizes, c.dis_num_filters,
                                              c.dis_dropout, pad_token=pad).to(self.device)
        self.rollout = DelayedPolicy(self.generator, c.rollout_update_rate)
        self.engine = RolloutEngine(reward_chunk=c.reward_chunk, precision=c.precision, compile=c.compile_sampler)
        # Two generator optimisers, as in the paper's code: one for MLE, a fresh one for policy gradient.
        self.mle_opt = torch.optim.Adam(self.generator.parameters(), lr=c.gen_lr)
        self.pg_opt = torch.optim.Adam(self.generator.parameters(), lr=c.gen_lr)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=c.dis_lr)
        # sampling and rollouts: one stream per rank (rank 0's is a single process's)
        self.rng = torch.Generator(self.device).manual_seed(distributed.rank_seed(c.seed + 1, self.dist.rank))
        self.data_rng = torch.Generator().manual_seed(c.seed + 2)          # shuffling (CPU: same on any device)

    # --- phases -------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        c = self.config
        return [Phase("mle", c.mle_epochs, self._mle_phase_epoch, c.eval_every),
                Phase("d_pretrain", c.d_pretrain_rounds, self._d_pretrain_round, 0),
                Phase("adversarial", c.adv_epochs, self._adversarial_epoch, c.eval_every)]

    def _batches(self, n: int) -> list[torch.Tensor]:
        """The index batches of one epoch over ``n`` rows: this rank's slice of each global batch."""
        perm = torch.randperm(n, generator=self.data_rng).to(self.device)
        return [distributed.shard(b, self.dist) for b in perm.split(self.config.batch_size)]

    def _sample_shared(self, n: int) -> torch.Tensor:
        """``n`` generated rows, the same on every rank: each rank samples its share, then all are gathered."""
        mine = self.engine.sample(self.generator, distributed.local_count(n, self.dist), self.seq_len,
                                  rng=self.rng, chunk=512)
        return distributed.all_gather_rows(mine)

    def _mle_epoch(self, _: int) -> dict[str, float]:
        self.generator.train()
        total, count = 0.0, 0
        for idx in self._batches(len(self.train_data)):
            batch = self.train_data[idx]
            mask = self._real_tokens(batch)
            loss = losses.mle(teacher_forced_logits(self.generator, batch), batch, mask)
            # the loss is a mean over real tokens: ranks are weighted by theirs in the gradient average
            self._generator_step(self.mle_opt, loss, count=None if not self.dist.active else
                                 float(batch.numel() if mask is None else mask.sum()))
            if len(idx):
                total, count = total + loss.item() * len(idx), count + len(idx)
        return {"mle_loss": total / max(count, 1)}

    def _mle_phase_epoch(self, i: int) -> dict[str, float]:
        """One epoch of the MLE phase: ``_mle_epoch``, then early stopping's validation when mle_patience is set
        (after a stop the remaining epochs do nothing; after the last epoch the best generator is restored)."""
        if self.early_stop.stopped:
            return {"mle_skipped": 1.0}
        logs = self._mle_epoch(i)
        if self.valid_data is not None:
            nll = sequence_nll(self.generator, self.valid_data)
            self.generator.train()
            self.early_stop.update(i, nll, self.generator)
            if i + 1 == self.config.mle_epochs:
                self.early_stop.finish(self.generator)
            logs.update(self.early_stop.logs(nll))
        return logs

    def _real_tokens(self, tokens: torch.Tensor) -> torch.Tensor | None:
        eos = self.generator.eos_token
        return None if eos is None else real_token_mask(tokens, eos)

    def _generator_step(self, opt: torch.optim.Optimizer, loss: torch.Tensor, *, count: float | None = None,
                        summed: bool = False) -> None:
        """One clipped generator step; a NaN loss is never stepped on (the loop reports it through the logs).
        Across ranks: ``count`` items in a mean loss, ``summed`` for a loss summed over the batch, else the
        ranks' gradients are averaged (see ``distributed.optimizer_step``)."""
        distributed.optimizer_step(opt, loss, self.generator.parameters(), count=count, summed=summed,
                                   clip=self.config.grad_clip)

    def _d_round(self) -> dict[str, float]:
        """Fresh negatives from the generator, as many positives, ``d_epochs`` epochs of BCE + L2."""
        c = self.config
        negatives = self._sample_shared(c.d_samples)
        pick = torch.randperm(len(self.train_data), generator=self.data_rng)[: c.d_samples].to(self.device)
        data = torch.cat([self.train_data[pick], negatives])
        labels = torch.cat([torch.ones(len(pick), device=self.device), torch.zeros(len(negatives), device=self.device)])
        self.discriminator.train()
        total, correct, count = 0.0, 0, 0
        for _ in range(c.d_epochs):
            for idx in self._batches(len(data)):
                logits = self.discriminator(data[idx])
                loss = losses.d_bce(logits, labels[idx]) + c.dis_l2 * self.discriminator.l2_penalty()
                distributed.optimizer_step(self.d_opt, loss, self.discriminator.parameters(), count=len(idx))
                total += loss.item() * len(idx) if len(idx) else 0.0
                correct += ((logits > 0).float() == labels[idx]).sum().item()
                count += len(idx)
        return {"d_loss": total / max(count, 1), "d_acc": correct / max(count, 1)}

    def _d_pretrain_round(self, _: int) -> dict[str, float]:
        return self._d_round()

    # what the rollout completions are scored by, and the log name of the sampled sequences' own mean reward;
    # PG-BLEU, RankGAN... change only these
    final_reward_name = "d_of_samples"
    SUMMED_LOGS = ("pg_loss",)

    def _reward_fn(self):
        return DiscriminatorReward(self.discriminator)

    def _adversarial_epoch(self, i: int) -> dict[str, float]:
        c = self.config
        if i == 0:
            self.rollout.reset(self.generator)  # G_beta starts as the pretrained generator
        logs: dict[str, float] = {}
        for _ in range(c.adv_g_steps):
            # each rank samples and rolls out its slice of the batch; its rewards are used where they are
            samples = self.engine.sample(self.generator, distributed.local_count(c.batch_size, self.dist),
                                         self.seq_len, rng=self.rng)
            rewards = self.engine.rewards(self.rollout.model, samples, self._reward_fn(), c.rollouts, rng=self.rng)
            self.generator.train()
            # rewards only on real tokens: up to and including EOS, never on the padding after it
            loss = losses.policy_gradient(teacher_forced_logits(self.generator, samples), samples, rewards,
                                          self._real_tokens(samples))
            self._generator_step(self.pg_opt, loss, summed=True)  # a sum over the batch: ranks' gradients add
            # mean_reward over all prefixes (as the SeqGAN code logs it); the last column: the samples themselves
            logs = {"pg_loss": loss.item(), "mean_reward": rewards.mean().item(),
                    self.final_reward_name: rewards[:, -1].mean().item()}
        self.rollout.update(self.generator)
        for _ in range(c.adv_d_rounds):
            logs.update(self._d_round())
        return logs

    # --- evaluation and sampling ---------------------------------------------------------------------------
    def sample(self, n: int, temperature: float = 1.0, rng: torch.Generator | None = None) -> torch.Tensor:
        self.generator.eval()
        return self.engine.sample(self.generator, n, self.seq_len, rng=rng, temperature=temperature, chunk=512)

    def sample_text(self, n: int, temperature: float = 1.0, rng: torch.Generator | None = None) -> list[str]:
        """``n`` generated lines as text (text corpora), or as space-separated token ids (the oracle)."""
        rows = self.sample(n, temperature, rng)
        if self.corpus.vocab is None:
            return [" ".join(map(str, row)) for row in rows.tolist()]
        return decode_rows(self.corpus.vocab, rows)

    def evaluate(self) -> dict[str, float]:
        c = self.config
        # A private, freshly seeded stream: evaluating more or less often never changes training.
        rng = torch.Generator(self.device).manual_seed(c.seed + 3)
        out = {}
        if self.test_data is not None:
            out["nll_test"] = sequence_nll(self.generator, self.test_data)
        if self.oracle is not None:
            out["nll_oracle"] = sequence_nll(self.oracle, self.sample(c.n_eval_samples, rng=rng))
        elif self.corpus.references:
            if self._references is None:
                self._references = References(self.corpus.references)
            report = text_report(self.sample_text(c.n_eval_samples, rng=rng), self._references)
            out.update({k: v for k, v in report.items() if not k.startswith("n_")})
        self.generator.train()
        return out

    # --- state ---------------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "rollout": self.rollout.state_dict(), "mle_opt": self.mle_opt.state_dict(),
                "pg_opt": self.pg_opt.state_dict(), "d_opt": self.d_opt.state_dict(),
                "rng": self.rng.get_state(), "data_rng": self.data_rng.get_state(),
                "corpus": self.corpus.metadata(), "early_stop": self.early_stop.state_dict()}

    STATE_KEYS = ("generator", "discriminator", "rollout", "mle_opt", "pg_opt", "d_opt", "rng", "data_rng", "corpus")

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        check_same_corpus(state["corpus"], self.corpus)
        load_module_state(self.generator, state["generator"], "generator")
        load_module_state(self.discriminator, state["discriminator"], "discriminator")
        load_module_state(self.rollout.model, state["rollout"], "rollout policy")
        self.mle_opt.load_state_dict(state["mle_opt"])
        self.pg_opt.load_state_dict(state["pg_opt"])
        self.d_opt.load_state_dict(state["d_opt"])
        self.rng.set_state(state["rng"].cpu())
        self.data_rng.set_state(state["data_rng"])
        if "early_stop" in state:  # absent from checkpoints older than early stopping (which never used it)
            self.early_stop.load_state_dict(state["early_stop"])

    def checkpoint_extra(self) -> dict:
        return {"data_source": self.corpus.source, "vocab_size": self.corpus.vocab_size}
