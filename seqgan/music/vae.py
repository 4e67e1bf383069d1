"""MusicVAE: a (hierarchical) variational autoencoder over melody event sequences, written from the paper
(Roberts, Engel, Raffel, Hawthorne, Eck: "A Hierarchical Latent Vector Model for Learning Long-Term Structure in
Music", ICML 2018).

Encoder
    Token embedding -> bidirectional LSTM over the whole window; the final forward and backward states of the last
    layer, concatenated, give ``mu`` (dense) and ``sigma = softplus(dense)`` of the latent ``z`` (diagonal normal).

Decoders (both are rollout-engine policies: ``start_token``, ``vocab_size``, ``initial_state(B, context=z)``,
``hidden``, ``project``, ``select``; so teacher forcing, scheduled sampling, sampling and greedy decoding are one
code path, and sampling goes through ``seqgan.rollout.engine.RolloutEngine.sample``)
    ``FlatDecoder`` (the paper's baseline): one LSTM over all steps; its initial state is ``tanh(dense(z))`` and its
    input at every step is the previous token's embedding concatenated with ``z``.
    ``HierarchicalDecoder``: a conductor LSTM whose initial state is ``tanh(dense(z))`` and whose inputs are zeros
    runs for ``bars`` steps and emits one embedding ``c_u`` per bar. The bottom LSTM decodes bar ``u`` from the
    initial state ``tanh(dense(c_u))`` with input ``[embedding(previous token), c_u]``. The previous token at a bar's
    first step is the last token of the bar before (the start token at step 0), as in a flat decoder.

    Design choice (engine): the whole hierarchical decode is ONE policy. Its state is ``(h, c, bar_embeddings, t)``
    where ``t`` counts the steps already decoded; ``hidden`` cuts its input at bar lines and, at every step with
    ``t % steps_per_bar == 0``, restarts the bottom LSTM from that bar's embedding. So one ``engine.sample(policy,
    B, bars * 16, state=policy.initial_state(B, z))`` call decodes all bars with batched sampling (no Python loop
    per bar outside the engine), and the same ``hidden`` serves teacher forcing in one call of length T (the LSTM
    runs one cuDNN/oneDNN call per bar). Calling the engine bar by bar would need the engine to hand back the
    last state, which it does not.

Loss (per window, averaged over the batch)
    ``recon`` = cross entropy summed over the steps; ``kl`` = KL(N(mu, sigma^2) || N(0, I)) summed over z's
    dimensions (nats); free bits: only the KL above ``tau = free_bits * ln 2`` nats is penalised,
    ``max(kl - tau, 0)`` (the paper's form; the gradient equals that of ``max(kl, tau)``); KL annealing:
    ``beta(step) = beta_max * min(1, step / anneal_steps)`` (linear warm-up; ``anneal_steps = 0``: beta_max at once).
    ``loss = recon + beta(step) * max(kl - tau, 0)``.

Scheduled sampling (Bengio et al. 2015, inverse sigmoid decay)
    The probability of feeding the model's own sample instead of the true previous token at training step ``i``
    is ``1 - k / (k + exp(i / k))`` with rate ``k`` (``k = 0``: always teacher forcing). The own sample is drawn
    from the model's (detached) distribution at that step, so decoding then runs one step at a time.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from seqgan.music.melody import NUM_CLASSES, STEPS_PER_BAR

DECODERS = ("flat", "hierarchical")


# ---- pure formulas -------------------------------------------------------------------------------------------------

def kl_normal(mu: Tensor, sigma: Tensor) -> Tensor:
    """KL(N(mu, diag sigma^2) || N(0, I)) per row, summed over the last dimension (nats)."""
    return 0.5 * (mu.pow(2) + sigma.pow(2) - 1.0 - 2.0 * torch.log(sigma)).sum(dim=-1)


def free_bits_penalty(kl: Tensor, free_bits: float) -> Tensor:
    """The KL above the free budget: ``max(kl - free_bits * ln 2, 0)`` (kl in nats, the budget in bits)."""
    return torch.clamp(kl - free_bits * math.log(2.0), min=0.0)


def kl_beta(step: int, beta_max: float, anneal_steps: int) -> float:
    """Linear KL annealing: 0 at step 0, ``beta_max`` from ``anneal_steps`` on (at once when anneal_steps <= 0)."""
    if anneal_steps <= 0:
        return float(beta_max)
    return float(beta_max) * min(1.0, step / anneal_steps)


def sampling_probability(step: int, rate: float) -> float:
    """Scheduled sampling: probability of feeding the model's own sample at training step ``step`` under the
    inverse sigmoid schedule ``1 - k / (k + exp(step / k))``; ``rate = 0`` turns it off (0 always)."""
    if rate <= 0:
        return 0.0
    x = step / rate
    if x > 700:  # exp overflows; the limit is 1
        return 1.0
    return 1.0 - rate / (rate + math.exp(x))


def slerp(a: Tensor, b: Tensor, t: float) -> Tensor:
    """Spherical interpolation between ``a`` and ``b`` (last dimension is the vector), ``t`` in [0, 1]; falls back
    to linear interpolation when the vectors are (nearly) parallel."""
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    cos = ((a * b).sum(dim=-1, keepdim=True) / (na * nb).clamp_min(1e-12)).clamp(-1.0, 1.0)
    omega = torch.acos(cos)
    so = torch.sin(omega)
    linear = so.abs() < 1e-6
    safe = torch.where(linear, torch.ones_like(so), so)
    wa = torch.where(linear, torch.full_like(so, 1.0 - t), torch.sin((1.0 - t) * omega) / safe)
    wb = torch.where(linear, torch.full_like(so, t), torch.sin(t * omega) / safe)
    return wa * a + wb * b


def vae_loss(logits: Tensor, targets: Tensor, mu: Tensor, sigma: Tensor, beta: float,
             free_bits: float) -> dict[str, Tensor]:
    """{loss, recon, kl, kl_penalty}, each averaged over the batch (see the module notes)."""
    recon = F.cross_entropy(logits.transpose(1, 2), targets, reduction="none").sum(dim=1)
    kl = kl_normal(mu, sigma)
    penalty = free_bits_penalty(kl, free_bits)
    return {"loss": (recon + beta * penalty).mean(), "recon": recon.mean(), "kl": kl.mean(),
            "kl_penalty": penalty.mean()}


# ---- modules -------------------------------------------------------------------------------------------------------

def _init_state(dense: nn.Linear, x: Tensor, layers: int, hidden: int) -> tuple[Tensor, Tensor]:
    """(h, c), each (layers, B, hidden), from ``tanh(dense(x))``."""
    hc = torch.tanh(dense(x)).view(x.shape[0], 2, layers, hidden).permute(1, 2, 0, 3)
    return hc[0].contiguous(), hc[1].contiguous()


class Encoder(nn.Module):
    def __init__(self, vocab: int, emb_dim: int, hidden: int, layers: int, z_dim: int):
        super().__init__()
        self.embedding = nn.Embedding(vocab, emb_dim)
        self.lstm = nn.LSTM(emb_dim, hidden, num_layers=layers, batch_first=True, bidirectional=True)
        self.mu = nn.Linear(2 * hidden, z_dim)
        self.sigma = nn.Linear(2 * hidden, z_dim)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        _, (h, _) = self.lstm(self.embedding(x))
        final = torch.cat([h[-2], h[-1]], dim=-1)          # last layer: forward, backward
        return self.mu(final), F.softplus(self.sigma(final))


class FlatDecoder(nn.Module):
    """One LSTM over all steps; state (h, c, z)."""

    def __init__(self, vocab: int, emb_dim: int, z_dim: int, hidden: int, layers: int):
        super().__init__()
        self.vocab_size = vocab
        self.start_token = vocab                           # an extra input-only class, never predicted
        self.layers, self.hidden_size, self.z_dim = layers, hidden, z_dim
        self.embedding = nn.Embedding(vocab + 1, emb_dim)
        self.init = nn.Linear(z_dim, 2 * layers * hidden)
        self.lstm = nn.LSTM(emb_dim + z_dim, hidden, num_layers=layers, batch_first=True)
        self.output = nn.Linear(hidden, vocab)

    def initial_state(self, batch_size: int, context: Tensor | None = None):
        z = context if context is not None else self.output.weight.new_zeros(batch_size, self.z_dim)
        if z.shape[0] != batch_size:
            raise ValueError(f"z has {z.shape[0]} rows for a batch of {batch_size}")
        h, c = _init_state(self.init, z, self.layers, self.hidden_size)
        return h, c, z

    def hidden(self, tokens: Tensor, state):
        h, c, z = state
        x = torch.cat([self.embedding(tokens), z[:, None].expand(-1, tokens.shape[1], -1)], dim=-1)
        out, (h, c) = self.lstm(x, (h, c))
        return out, (h, c, z)

    def project(self, outputs: Tensor) -> Tensor:
        return self.output(outputs)

    def select(self, state, index: Tensor):
        h, c, z = state
        return h.index_select(1, index), c.index_select(1, index), z.index_select(0, index)


class HierarchicalDecoder(nn.Module):
    """Conductor (one embedding per bar) + bottom LSTM restarted at every bar; state (h, c, bar_embeddings, t)."""

    def __init__(self, vocab: int, emb_dim: int, z_dim: int, bars: int, conductor_hidden: int,
                 conductor_layers: int, hidden: int, layers: int, steps_per_bar: int = STEPS_PER_BAR):
        super().__init__()
        self.vocab_size = vocab
        self.start_token = vocab
        self.bars, self.steps_per_bar, self.z_dim = bars, steps_per_bar, z_dim
        self.layers, self.hidden_size = layers, hidden
        self.conductor_layers, self.conductor_hidden = conductor_layers, conductor_hidden
        self.conductor_init = nn.Linear(z_dim, 2 * conductor_layers * conductor_hidden)
        self.conductor = nn.LSTM(1, conductor_hidden, num_layers=conductor_layers, batch_first=True)
        self.embedding = nn.Embedding(vocab + 1, emb_dim)
        self.init = nn.Linear(conductor_hidden, 2 * layers * hidden)
        self.lstm = nn.LSTM(emb_dim + conductor_hidden, hidden, num_layers=layers, batch_first=True)
        self.output = nn.Linear(hidden, vocab)

    def conduct(self, z: Tensor) -> Tensor:
        """(B, z_dim) -> (B, bars, conductor_hidden): one embedding per bar (zero inputs, state from z)."""
        h, c = _init_state(self.conductor_init, z, self.conductor_layers, self.conductor_hidden)
        out, _ = self.conductor(z.new_zeros(z.shape[0], self.bars, 1), (h, c))
        return out

    def initial_state(self, batch_size: int, context: Tensor | None = None):
        z = context if context is not None else self.output.weight.new_zeros(batch_size, self.z_dim)
        if z.shape[0] != batch_size:
            raise ValueError(f"z has {z.shape[0]} rows for a batch of {batch_size}")
        return self.state_from_embeddings(self.conduct(z))

    def state_from_embeddings(self, bar_embeddings: Tensor):
        """The decoding state for given bar embeddings (B, bars, conductor_hidden), before the first step."""
        b = bar_embeddings.shape[0]
        zeros = bar_embeddings.new_zeros(self.layers, b, self.hidden_size)
        return zeros, zeros, bar_embeddings, 0

    def hidden(self, tokens: Tensor, state):
        h, c, emb, t = state
        length = tokens.shape[1]
        outs = []
        pos = 0
        while pos < length:
            step = t + pos
            bar, offset = divmod(step, self.steps_per_bar)
            if bar >= emb.shape[1]:
                raise ValueError(f"decoding step {step} is past the last of {emb.shape[1]} bars")
            if offset == 0:
                h, c = _init_state(self.init, emb[:, bar], self.layers, self.hidden_size)
            seg = min(length - pos, self.steps_per_bar - offset)
            x = torch.cat([self.embedding(tokens[:, pos:pos + seg]), emb[:, bar, None].expand(-1, seg, -1)], dim=-1)
            out, (h, c) = self.lstm(x, (h, c))
            outs.append(out)
            pos += seg
        return torch.cat(outs, dim=1), (h, c, emb, t + length)

    def project(self, outputs: Tensor) -> Tensor:
        return self.output(outputs)

    def select(self, state, index: Tensor):
        h, c, emb, t = state
        return h.index_select(1, index), c.index_select(1, index), emb.index_select(0, index), t


class ArgmaxPolicy:
    """A policy whose every draw is the argmax of the wrapped policy's logits: all other logits are set to -inf,
    so the engine's sampler (which never picks a zero-mass class) returns the argmax exactly."""

    def __init__(self, policy):
        self.policy = policy
        self.start_token = policy.start_token
        self.vocab_size = policy.vocab_size

    def parameters(self):
        return self.policy.parameters()

    def initial_state(self, batch_size: int, context: Tensor | None = None):
        return self.policy.initial_state(batch_size, context)

    def hidden(self, tokens: Tensor, state):
        return self.policy.hidden(tokens, state)

    def project(self, outputs: Tensor) -> Tensor:
        logits = self.policy.project(outputs)
        best = logits.argmax(dim=-1, keepdim=True)
        return torch.full_like(logits, float("-inf")).scatter(-1, best, 0.0)

    def select(self, state, index: Tensor):
        return self.policy.select(state, index)


class MusicVAE(nn.Module):
    """Encoder + flat or hierarchical decoder over windows of ``bars * 16`` steps of the 90 melody classes."""

    def __init__(self, bars: int, decoder: str = "hierarchical", *, emb_dim: int = 32, enc_hidden: int = 64,
                 enc_layers: int = 1, z_dim: int = 32, conductor_hidden: int = 64, conductor_layers: int = 1,
                 dec_hidden: int = 64, dec_layers: int = 1, vocab: int = NUM_CLASSES,
                 steps_per_bar: int = STEPS_PER_BAR):
        super().__init__()
        if decoder not in DECODERS:
            raise ValueError(f"decoder must be one of {', '.join(DECODERS)}, got {decoder!r}")
        self.bars, self.steps_per_bar, self.vocab = bars, steps_per_bar, vocab
        self.steps = bars * steps_per_bar
        self.decoder_kind = decoder
        self.z_dim = z_dim
        self.encoder = Encoder(vocab, emb_dim, enc_hidden, enc_layers, z_dim)
        if decoder == "flat":
            self.decoder = FlatDecoder(vocab, emb_dim, z_dim, dec_hidden, dec_layers)
        else:
            self.decoder = HierarchicalDecoder(vocab, emb_dim, z_dim, bars, conductor_hidden, conductor_layers,
                                               dec_hidden, dec_layers, steps_per_bar)

    def encode(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, T) classes -> mu, sigma, each (B, z_dim)."""
        return self.encoder(x)

    def shifted(self, x: Tensor) -> Tensor:
        """The decoder's teacher-forced inputs: start token, then x without its last step."""
        start = torch.full_like(x[:, :1], self.decoder.start_token)
        return torch.cat([start, x[:, :-1]], dim=1)

    def decode_logits(self, z: Tensor, x: Tensor, *, sample_prob: float = 0.0,
                      rng: torch.Generator | None = None) -> Tensor:
        """(B, T, V) logits for targets x given z: teacher forcing, or with probability ``sample_prob`` per step
        and row the model's own (detached) sample as the previous token (scheduled sampling, step by step)."""
        dec = self.decoder
        state = dec.initial_state(z.shape[0], z)
        if sample_prob <= 0:
            out, _ = dec.hidden(self.shifted(x), state)
            return dec.project(out)
        from seqgan.generators.sampling import sample_logits

        prev = torch.full_like(x[:, 0], dec.start_token)
        logits = []
        for t in range(x.shape[1]):
            out, state = dec.hidden(prev[:, None], state)
            step_logits = dec.project(out[:, -1])
            logits.append(step_logits)
            own = sample_logits(step_logits.detach(), rng)
            use_own = torch.rand(x.shape[0], generator=rng, device=x.device) < sample_prob
            prev = torch.where(use_own, own, x[:, t])
        return torch.stack(logits, dim=1)

    def forward(self, x: Tensor, *, sample_prob: float = 0.0, rng: torch.Generator | None = None):
        """Posterior sample z = mu + sigma * eps (eps from ``rng``) -> (logits, mu, sigma)."""
        mu, sigma = self.encode(x)
        eps = torch.randn(mu.shape, generator=rng, device=mu.device, dtype=mu.dtype)
        z = mu + sigma * eps
        return self.decode_logits(z, x, sample_prob=sample_prob, rng=rng), mu, sigma

    @torch.no_grad()
    def decode(self, z: Tensor, engine=None, *, greedy: bool = True, temperature: float = 1.0,
               rng: torch.Generator | None = None) -> Tensor:
        """(B, z_dim) -> (B, T) classes decoded through the rollout engine (argmax when ``greedy``)."""
        from seqgan.rollout.engine import RolloutEngine

        engine = engine or RolloutEngine()
        policy = ArgmaxPolicy(self.decoder) if greedy else self.decoder
        state = self.decoder.initial_state(z.shape[0], z)
        return engine.sample(policy, z.shape[0], self.steps, state=state, temperature=temperature, rng=rng)
