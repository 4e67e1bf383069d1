"""MaskGAN (Fedus, Goodfellow and Dai, "MaskGAN: Better Text Generation via Filling in the ______", ICLR 2018):
in-filling with an encoder-decoder generator trained by MaskMLE, then by actor-critic against a per-token
discriminator.

Phases. ``mle`` (MaskMLE, the pretraining and the baseline): epochs of teacher-forced maximum likelihood on the
missing positions only. ``d_pretrain``: discriminator and critic steps on the MaskMLE generator's fills (skipped
when ``adv_epochs`` is 0, so ``--adv-epochs 0`` stops after MaskMLE). ``adversarial``: epochs of ``adv_g_steps``
generator steps and ``adv_d_steps`` discriminator steps. Every step draws a training batch and fresh masks
(``mask_kind``, ``present_rate``: the share of words given; EOS and padding are always given).

Generator step: the rollout engine fills the masked batch (given tokens copied, missing ones sampled); the
discriminator scores every token (eval mode, no gradient); r_t = log D(x_t) at missing positions, 0 elsewhere;
R_t = sum_{s>=t} gamma^(s-t) r_s; A_t = clip(R_t - V_t) with the critic's V_t; loss = -sum_missing A_t log p(x_t).
The critic is fitted to R_t by MSE on the missing positions; the discriminator by BCE on the missing positions of
real (label 1) and filled (label 0) sequences.

evaluate(): ``masked_ppl``: exp of the mean NLL of the missing test-split tokens, teacher-forced (fixed masks);
``unique_{2,3,4}gram``: distinct n-gram share of ``n_eval_samples`` filled test rows (whole rows, given words
included; whitespace tokens of the vocabulary, no NLTK).

Presets. ``paper``: from memory of the paper and its code, NOT checked against them: PTB, 20 words per row,
contiguous masks with half the words missing, 2-layer LSTMs of 650 units and 650-dim embeddings for generator and
discriminator, gamma 0.89 (this one is stated in the paper), Adam 5e-4; the epoch counts are our guesses; the
paper's attention and variational dropout details are not reproduced. ``cpu-small``: 1 layer, 128 units, a
reduced schedule for a CPU. ``tiny``: seconds, tests.

Several processes (seqgan.distributed): every rank draws the same global batch and its masks from ``data_rng``
(the same stream on every rank), keeps its contiguous slice, fills it from its own sampling stream (``rng``, seeded
from (seed, rank)), and steps every network on gradients weighted by its count of scored positions, so that the
step is the global batch's. Masks are drawn for the whole batch before slicing, so each rank also knows the global
count of missing positions: its logs are its share of the global means (``SHARED_MEANS``) and are summed over
ranks, which gives exactly the single-process values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import torch

from seqgan import distributed, losses
from seqgan.checkpoint import load_module_state
from seqgan.config import ConfigError, option
from seqgan.data.corpus import ORACLE, Corpus, check_same_corpus, load_corpus
from seqgan.data.text import LEVELS, LONG_LINES, decode_rows
from seqgan.discriminators.rnn import Critic, RNNDiscriminator
from seqgan.generators.infill import MASK_KINDS, InfillGenerator, make_present, masked_context, word_positions
from seqgan.metrics.ngrams import unique_ngram_share
from seqgan.rollout.engine import RolloutEngine
from seqgan.rollout.returns import MASKGAN_GAMMA, clipped_advantages, discounted_returns, masked_rewards
from seqgan.trainers.loop import Phase, Trainer


@dataclass(frozen=True)
class MaskGANConfig:
    corpus: str = option("ptb", "a registry text corpus (see `seqgan corpora`) or path/to/train.txt[,test.txt]")
    seed: int = option(88, "seed of model initialisation, masks, sampling and shuffling")
    device: str = option("cpu", "torch device: cpu, cuda, cuda:1, ...")
    out_dir: str = option("runs/maskgan", "where metrics.jsonl and last.pt go")
    max_len: Optional[int] = option(20, "most words per row (longer lines: see long_lines)")
    long_lines: str = option("drop", "lines longer than max_len: truncate, drop or error")
    max_vocab: Optional[int] = option(None, "vocabulary size cap, the 4 special tokens included")
    level: Optional[str] = option(None, "word, char or bpe (default: the corpus manifest's, else word)")
    train_rows: Optional[int] = option(None, "use only the first k training rows (a reduced run)")
    mask_kind: str = option("contiguous", "which words go missing: contiguous (one block) or random")
    present_rate: float = option(0.5, "share of a row's words that are given; at least one word is missing")
    batch_size: int = option(64, "batch size of every phase")
    emb: int = option(650, "generator embedding size")
    hidden: int = option(650, "generator LSTM size (encoder and decoder)")
    layers: int = option(2, "LSTM layers (generator and discriminator)")
    dis_emb: int = option(650, "discriminator embedding size")
    dis_hidden: int = option(650, "discriminator LSTM size")
    dis_dropout: float = option(0.0, "dropout before the discriminator's output layer")
    critic_hidden: int = option(64, "critic hidden layer size")
    gen_lr: float = option(5e-4, "generator Adam learning rate of MaskMLE")
    adv_lr: Optional[float] = option(None, "generator Adam learning rate of the adversarial phase (default: gen_lr)")
    dis_lr: float = option(5e-4, "discriminator Adam learning rate")
    critic_lr: float = option(5e-4, "critic Adam learning rate")
    grad_clip: float = option(5.0, "global-norm gradient clip of every network")
    gamma: float = option(MASKGAN_GAMMA, "discount of the per-token rewards")
    advantage_clip: float = option(5.0, "advantages are clipped to [-c, c]")
    mle_epochs: int = option(40, "MaskMLE epochs (passes over the training rows)")
    d_pretrain_steps: int = option(1000, "discriminator + critic steps before the adversarial phase")
    adv_epochs: int = option(1000, "adversarial epochs (0: stop after MaskMLE, the baseline)")
    adv_g_steps: int = option(1, "generator (and critic) steps per adversarial epoch")
    adv_d_steps: int = option(1, "discriminator steps per adversarial epoch")
    n_eval_samples: int = option(2000, "test rows filled per evaluation for the unique n-gram shares")
    eval_every: int = option(100, "evaluate every k steps of the MaskMLE and adversarial phases")
    checkpoint_every: int = option(100, "write last.pt every k steps (and at the end of every phase)")

    def validate(self) -> None:
        positive = ["batch_size", "emb", "hidden", "layers", "dis_emb", "dis_hidden", "critic_hidden",
                    "n_eval_samples", "eval_every", "checkpoint_every"]
        for name in positive:
            if getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        for name in ["mle_epochs", "d_pretrain_steps", "adv_epochs", "adv_g_steps", "adv_d_steps"]:
            if getattr(self, name) < 0:
                raise ConfigError(f"config field '{name}' must be >= 0, got {getattr(self, name)}")
        for name in ["gen_lr", "dis_lr", "critic_lr", "grad_clip", "advantage_clip"]:
            if not getattr(self, name) > 0:
                raise ConfigError(f"config field '{name}' must be > 0, got {getattr(self, name)}")
        if self.corpus == ORACLE:
            raise ConfigError("maskgan fills in words: give a text corpus (e.g. --corpus ptb), not the oracle")
        if self.mask_kind not in MASK_KINDS:
            raise ConfigError(f"mask_kind must be one of {', '.join(MASK_KINDS)}, got {self.mask_kind!r}")
        if not 0.0 <= self.present_rate < 1.0:
            raise ConfigError(f"present_rate must be in [0, 1) (some words must be missing), got {self.present_rate}")
        if not 0.0 <= self.gamma <= 1.0:
            raise ConfigError(f"gamma must be in [0, 1], got {self.gamma}")
        if not 0.0 <= self.dis_dropout < 1.0:
            raise ConfigError(f"dis_dropout must be in [0, 1), got {self.dis_dropout}")
        if self.long_lines not in LONG_LINES:
            raise ConfigError(f"long_lines must be one of {', '.join(LONG_LINES)}, got {self.long_lines!r}")
        if self.level is not None and self.level not in LEVELS:
            raise ConfigError(f"level must be one of {', '.join(LEVELS)}, got {self.level!r}")
        if self.adv_lr is not None and not self.adv_lr > 0:
            raise ConfigError(f"config field 'adv_lr' must be > 0, got {self.adv_lr}")
        for name in ["max_len", "train_rows"]:
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ConfigError(f"config field '{name}' must be >= 1, got {getattr(self, name)}")
        if self.max_vocab is not None and self.max_vocab <= 4:
            raise ConfigError(f"config field 'max_vocab' must be above 4 (the special tokens), got {self.max_vocab}")


PRESETS = {
    "paper": {},
    # Reduced for a CPU (not timed as a whole: benchmarks/maskgan.py runs a smaller variant of it on PTB).
    # adv_lr: with 1e-3 the policy gradient raised PTB sample perplexity fourfold in 500 steps (README).
    "cpu-small": dict(emb=128, hidden=128, layers=1, dis_emb=128, dis_hidden=128, gen_lr=1e-3, adv_lr=1e-4,
                      dis_lr=1e-3, critic_lr=1e-3, max_vocab=10_002, mle_epochs=10, d_pretrain_steps=100,
                      adv_epochs=300, n_eval_samples=1000, eval_every=50, checkpoint_every=50),
    # Seconds on a CPU: tests and smoke runs.
    "tiny": dict(emb=8, hidden=8, layers=1, dis_emb=8, dis_hidden=8, critic_hidden=8, max_len=8, max_vocab=60,
                 train_rows=96, batch_size=16, gen_lr=1e-2, dis_lr=1e-2, critic_lr=1e-2, mle_epochs=2,
                 d_pretrain_steps=1, adv_epochs=2, n_eval_samples=32, eval_every=1, checkpoint_every=1),
}


def build_infill_generator(config: MaskGANConfig, corpus: Corpus) -> InfillGenerator:
    """The generator a config describes, for a corpus (or a checkpoint's data-less corpus metadata)."""
    return InfillGenerator(corpus.vocab_size, config.emb, config.hidden, config.layers,
                           start_token=corpus.start_token, eos_token=corpus.eos_token, pad_token=corpus.pad_token)


class MaskGANTrainer(Trainer):
    algorithm = "maskgan"
    DATA_PARALLEL = True  # batches are sliced and gradients reduced through seqgan.distributed
    # every log is a mean over the global batch's missing positions; a rank logs its part of that mean
    SHARED_MEANS = ("mask_mle_loss", "d_loss", "d_acc", "critic_loss", "mean_log_d", "d_of_fills", "mean_advantage")
    SUMMED_LOGS = ("pg_loss", *SHARED_MEANS)  # pg_loss: a sum over the batch

    def __init__(self, config: MaskGANConfig, corpus: Corpus | None = None):
        super().__init__(config)
        c = config
        self.device = distributed.local_device(c.device)
        self.dist = distributed.current()
        torch.manual_seed(c.seed)  # model initialisation and dropout
        self.corpus = corpus or load_corpus(c.corpus, seq_len=0, n_train=0, n_test=0, data_seed=0, max_len=c.max_len,
                                            long_lines=c.long_lines, max_vocab=c.max_vocab, level=c.level)
        if self.corpus.vocab is None:
            raise ConfigError(f"maskgan needs a text corpus with a vocabulary; '{c.corpus}' has none")
        self.seq_len = self.corpus.seq_len
        train = self.corpus.train if c.train_rows is None else self.corpus.train[: c.train_rows]
        self.train_data = train.to(self.device)
        self.test_data = self.corpus.test.to(self.device) if self.corpus.test is not None else None
        V = self.corpus.vocab_size
        self.generator = build_infill_generator(c, self.corpus).to(self.device)
        self.discriminator = RNNDiscriminator(V, c.dis_emb, c.dis_hidden, c.layers, c.dis_dropout).to(self.device)
        self.critic = Critic(c.dis_hidden, c.critic_hidden).to(self.device)
        self.engine = RolloutEngine()
        self.mle_opt = torch.optim.Adam(self.generator.parameters(), lr=c.gen_lr)
        adv_lr = c.gen_lr if c.adv_lr is None else c.adv_lr
        self.adv_opt = torch.optim.Adam(self.generator.parameters(), lr=adv_lr)
        self.d_opt = torch.optim.Adam(self.discriminator.parameters(), lr=c.dis_lr)
        self.critic_opt = torch.optim.Adam(self.critic.parameters(), lr=c.critic_lr)
        # filling (sampling): one stream per rank (rank 0's is a single process's)
        self.rng = torch.Generator(self.device).manual_seed(distributed.rank_seed(c.seed + 1, self.dist.rank))
        self.data_rng = torch.Generator().manual_seed(c.seed + 2)        # shuffling, batches and masks (CPU)

    # --- phases -------------------------------------------------------------------------------------------
    def phases(self) -> list[Phase]:
        c = self.config
        d_steps = c.d_pretrain_steps if c.adv_epochs > 0 else 0
        return [Phase("mle", c.mle_epochs, self._mle_epoch, c.eval_every),
                Phase("d_pretrain", d_steps, self._d_pretrain_step, 0),
                Phase("adversarial", c.adv_epochs, self._adversarial_epoch, c.eval_every)]

    def _masked(self, batch: torch.Tensor, rng: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """(present mask, masked context) of a batch, masks drawn from ``rng``."""
        c = self.config
        present = make_present(word_positions(batch, self.corpus.eos_token), c.mask_kind, c.present_rate, rng)
        return present, masked_context(batch, present, self.generator.mask_token)

    def _local(self, batch: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """Masks for a global batch (from ``data_rng``, the same on every rank), then this rank's slice:
        (rows, present, context, missing positions in the global batch)."""
        present, context = self._masked(batch, self.data_rng)
        n_global = int((~present).sum())
        rows, present, context = (distributed.shard(x, self.dist) for x in (batch, present, context))
        return rows, present, context, n_global

    def _random_batch(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
        """This rank's slice of a fresh global batch of training rows with its masks (see ``_local``)."""
        n = len(self.train_data)
        idx = torch.randint(n, (min(self.config.batch_size, n),), generator=self.data_rng)
        return self._local(self.train_data[idx.to(self.device)])

    def _step(self, module: torch.nn.Module, opt: torch.optim.Optimizer, loss: torch.Tensor, count: int) -> None:
        """One clipped step on a loss that is a mean over ``count`` local positions: across ranks the gradients
        are count-weighted (see ``distributed.optimizer_step``); a NaN loss is never stepped on (the loop
        reports it through the returned logs)."""
        distributed.optimizer_step(opt, loss, module.parameters(), count=count, clip=self.config.grad_clip)

    @staticmethod
    def _share(local_mean: torch.Tensor, count: int, n_global: int) -> float:
        """This rank's part of a global mean over ``n_global`` positions; 0 for an empty slice."""
        if count == n_global:  # a single process: the mean itself, not rounded through count / n_global
            return local_mean.item()
        return local_mean.item() * count / n_global if count else 0.0

    def _mle_epoch(self, _: int) -> dict[str, float]:
        """MaskMLE: teacher-forced NLL of the missing tokens only."""
        self.generator.train()
        total, count = 0.0, 0
        perm = torch.randperm(len(self.train_data), generator=self.data_rng).to(self.device)
        for idx in perm.split(self.config.batch_size):
            batch, present, context, n_global = self._local(self.train_data[idx])
            missing = ~present
            loss = losses.mle(self.generator.logits(context, batch), batch, missing)
            n = int(missing.sum())
            self._step(self.generator, self.mle_opt, loss, n)
            total += loss.item() * n if n else 0.0
            count += n_global
        return {"mask_mle_loss": total / max(count, 1)}

    def _fill(self, batch: torch.Tensor, present: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        self.generator.eval()
        filled = self.engine.fill(self.generator, batch, present, context=context, rng=self.rng)
        self.generator.train()
        return filled

    def _d_step(self) -> dict[str, float]:
        """BCE on the missing positions: the real sequence's tokens are real, the filled sequence's are fake."""
        batch, present, context, n_global = self._random_batch()
        filled = self._fill(batch, present, context)
        missing = ~present
        self.discriminator.train()
        logits = self.discriminator(torch.cat([context, context]), torch.cat([batch, filled]))
        labels = torch.cat([torch.ones_like(logits[: len(batch)]), torch.zeros_like(logits[len(batch):])])
        where = torch.cat([missing, missing])
        loss = losses.d_bce(logits[where], labels[where])
        n = int(where.sum())
        self._step(self.discriminator, self.d_opt, loss, n)
        correct = ((logits[where] > 0).float() == labels[where]).float().mean()
        return {"d_loss": self._share(loss, n, 2 * n_global), "d_acc": self._share(correct, n, 2 * n_global)}

    def _critic_and_advantages(self, present, context, filled, n_global) -> tuple[torch.Tensor, dict[str, float]]:
        """Rewards, returns and clipped advantages of a filled batch; one critic step towards the returns."""
        c = self.config
        missing = ~present
        log_d, dis_out, memory = self.discriminator.score(context, filled)
        returns = discounted_returns(masked_rewards(log_d, missing), c.gamma)
        self.critic.train()
        values = self.critic(dis_out, memory)
        critic_loss = ((values - returns)[missing] ** 2).mean()
        advantages = clipped_advantages(returns, values, c.advantage_clip)
        n = int(missing.sum())
        self._step(self.critic, self.critic_opt, critic_loss, n)
        logs = {"critic_loss": self._share(critic_loss, n, n_global),
                "mean_log_d": self._share(log_d[missing].mean(), n, n_global),
                "d_of_fills": self._share(log_d[missing].exp().mean(), n, n_global)}
        return advantages, logs

    def _d_pretrain_step(self, _: int) -> dict[str, float]:
        logs = self._d_step()
        batch, present, context, n_global = self._random_batch()
        _, critic_logs = self._critic_and_advantages(present, context, self._fill(batch, present, context), n_global)
        return {**logs, **critic_logs}

    def _adversarial_epoch(self, _: int) -> dict[str, float]:
        c = self.config
        logs: dict[str, float] = {}
        for _ in range(c.adv_g_steps):
            batch, present, context, n_global = self._random_batch()
            filled = self._fill(batch, present, context)
            advantages, logs = self._critic_and_advantages(present, context, filled, n_global)
            loss = losses.policy_gradient(self.generator.logits(context, filled), filled, advantages, ~present)
            # a sum over the batch: the ranks' gradients add up
            distributed.optimizer_step(self.adv_opt, loss, self.generator.parameters(), summed=True,
                                       clip=self.config.grad_clip)
            n = int((~present).sum())
            logs = {"pg_loss": loss.item(), "mean_advantage": self._share(advantages[~present].mean(), n, n_global),
                    **logs}
        for _ in range(c.adv_d_steps):
            logs.update(self._d_step())
        return logs

    # --- evaluation and sampling ---------------------------------------------------------------------------
    def _held_out(self) -> torch.Tensor:
        return self.test_data if self.test_data is not None else self.train_data

    def fill_rows(self, rows: torch.Tensor, seed: int, temperature: float = 1.0) -> tuple[torch.Tensor, torch.Tensor]:
        """Mask ``rows`` (the configured kind and rate, masks seeded by ``seed``) and fill them: (filled, present)."""
        rng = torch.Generator().manual_seed(seed)
        present, context = self._masked(rows, rng)
        self.generator.eval()
        sample_rng = torch.Generator(self.device).manual_seed(seed + 1)
        filled = torch.cat([self.engine.fill(self.generator, r, p, context=x, temperature=temperature,
                                             rng=sample_rng)
                            for r, p, x in zip(rows.split(512), present.split(512), context.split(512))])
        return filled, present

    def sample(self, n: int, temperature: float = 1.0, rng: torch.Generator | None = None) -> torch.Tensor:
        """``n`` held-out rows (test split, else train; repeated if needed) with their masks filled in."""
        rows = self._held_out()
        rows = rows.repeat(math.ceil(n / len(rows)), 1)[:n]
        seed = self.config.seed + 3 if rng is None else int(torch.randint(2**31, (1,), generator=rng))
        return self.fill_rows(rows, seed, temperature)[0]

    def sample_text(self, n: int, temperature: float = 1.0, rng: torch.Generator | None = None) -> list[str]:
        raise ConfigError("a maskgan model fills in blanks rather than writing sentences from nothing; use "
                          "`seqgan infill CKPT \"the <m> sat on the <m> .\"`")

    @torch.no_grad()
    def masked_perplexity(self, rows: torch.Tensor, seed: int) -> float:
        """exp(mean NLL of the missing tokens of ``rows``), teacher-forced, masks seeded by ``seed``."""
        rng = torch.Generator().manual_seed(seed)
        self.generator.eval()
        total, count = 0.0, 0
        for chunk in rows.split(512):
            present, context = self._masked(chunk, rng)
            missing = ~present
            n = int(missing.sum())
            total += losses.mle(self.generator.logits(context, chunk), chunk, missing).item() * n
            count += n
        return math.exp(total / max(count, 1))

    def evaluate(self) -> dict[str, float]:
        c = self.config
        # Private, fixed seeds: evaluating more or less often never changes training, and every evaluation
        # scores the same masks.
        out = {"masked_ppl": self.masked_perplexity(self._held_out(), c.seed + 3)}
        token_lists = [self.corpus.vocab.decode(row) for row in self.sample(c.n_eval_samples).tolist()]
        out.update({f"unique_{n}gram": unique_ngram_share(token_lists, n) for n in (2, 3, 4)})
        self.generator.train()
        return out

    def decode(self, rows: torch.Tensor) -> list[str]:
        return decode_rows(self.corpus.vocab, rows)

    # --- state ---------------------------------------------------------------------------------------------
    STATE_KEYS = ("generator", "discriminator", "critic", "mle_opt", "adv_opt", "d_opt", "critic_opt", "rng",
                  "data_rng", "corpus")

    def state_dict(self) -> dict:
        return {"generator": self.generator.state_dict(), "discriminator": self.discriminator.state_dict(),
                "critic": self.critic.state_dict(), "mle_opt": self.mle_opt.state_dict(),
                "adv_opt": self.adv_opt.state_dict(), "d_opt": self.d_opt.state_dict(),
                "critic_opt": self.critic_opt.state_dict(), "rng": self.rng.get_state(),
                "data_rng": self.data_rng.get_state(), "corpus": self.corpus.metadata()}

    def load_state_dict(self, state: dict) -> None:
        self.check_state(state)
        check_same_corpus(state["corpus"], self.corpus)
        load_module_state(self.generator, state["generator"], "generator")
        load_module_state(self.discriminator, state["discriminator"], "discriminator")
        load_module_state(self.critic, state["critic"], "critic")
        self.mle_opt.load_state_dict(state["mle_opt"])
        self.adv_opt.load_state_dict(state["adv_opt"])
        self.d_opt.load_state_dict(state["d_opt"])
        self.critic_opt.load_state_dict(state["critic_opt"])
        self.rng.set_state(state["rng"].cpu())
        self.data_rng.set_state(state["data_rng"])

    def checkpoint_extra(self) -> dict:
        return {"data_source": self.corpus.source, "vocab_size": self.corpus.vocab_size}
