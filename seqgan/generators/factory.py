"""Build the generator a trainer config names (``generator``: lstm or transformer) for a corpus.

Duck-typed on purpose (no import of seqgan.data, which imports the LSTM): ``config`` needs ``generator``,
``gen_emb`` and ``gen_hidden``; ``corpus`` needs ``vocab_size``, ``seq_len``, ``start_token``, ``eos_token`` and
``pad_token``. For the transformer ``gen_emb`` is d_model and ``gen_hidden`` the feed-forward width, with
TRANSFORMER_LAYERS layers of TRANSFORMER_HEADS heads and ``max_len`` = the corpus' sequence length.
"""
from __future__ import annotations

from torch import nn

from seqgan.generators.lstm import LSTMGenerator
from seqgan.generators.transformer import TransformerGenerator

GENERATORS = ("lstm", "transformer")
TRANSFORMER_HEADS = 4
TRANSFORMER_LAYERS = 2


def generator_config_error(kind: str, gen_emb: int) -> str | None:
    """One sentence naming the config field that cannot build this generator, or None when it can."""
    if kind not in GENERATORS:
        return f"config field 'generator' must be one of {', '.join(GENERATORS)}, got {kind!r}"
    if kind == "transformer" and gen_emb % TRANSFORMER_HEADS:
        return (f"config field 'gen_emb' must be a multiple of {TRANSFORMER_HEADS} (the transformer's attention "
                f"heads) with generator=transformer, got {gen_emb}")
    return None


def build_generator(config, corpus) -> nn.Module:
    kind = getattr(config, "generator", "lstm")
    error = generator_config_error(kind, config.gen_emb)
    if error:
        raise ValueError(error)
    tokens = dict(start_token=corpus.start_token, eos_token=corpus.eos_token, pad_token=corpus.pad_token)
    if kind == "lstm":
        return LSTMGenerator(corpus.vocab_size, config.gen_emb, config.gen_hidden, **tokens)
    return TransformerGenerator(corpus.vocab_size, d_model=config.gen_emb, n_heads=TRANSFORMER_HEADS,
                                n_layers=TRANSFORMER_LAYERS, d_ff=config.gen_hidden, max_len=corpus.seq_len, **tokens)
