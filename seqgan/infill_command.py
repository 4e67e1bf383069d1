"""`seqgan infill CKPT "the <m> sat on the <m> ."`: fill the blanks with a MaskGAN checkpoint.

    seqgan infill runs/maskgan/last.pt "the <m> sat on the <m> ."
    seqgan infill runs/maskgan/last.pt --file in.txt [--out out.txt] [--temperature 0.8] [--seed 1]

Every ``<m>`` stands for one missing token of the model's vocabulary (a word for word-level models); the rest of
the line is tokenized as the model's training text was and copied unchanged into the output, one filled line per
input line. Unknown words are refused, not mapped silently to <unk>: the message names them; write ``<unk>``
(or ``<m>``) in their place. The whole input is checked first (every line needs a ``<m>`` and must fit the model's
length), so bad input gives one line on stderr, exit status 2 and no output at all.
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

from seqgan import checkpoint, config
from seqgan.atomic import atomic_write_text
from seqgan.checkpoint import CheckpointError, load_module_state
from seqgan.config import ConfigError
from seqgan.data.corpus import corpus_from_metadata
from seqgan.data.text import read_lines
from seqgan.data.vocab import UNK
from seqgan.generators.infill import masked_context
from seqgan.rollout.engine import RolloutEngine
from seqgan.runs import UserError
from seqgan.trainers.maskgan import MaskGANConfig, MaskGANTrainer, build_infill_generator

MASK = "<m>"
UNK_TEXT = "<unk>"
SPECIAL = re.compile(f"({re.escape(MASK)}|{re.escape(UNK_TEXT)})")


def add_parser(sub) -> None:
    p = sub.add_parser("infill", help="fill the <m> blanks of sentences with a maskgan checkpoint",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("checkpoint", help="a checkpoint written by `seqgan train maskgan`")
    p.add_argument("text", nargs="?", help=f'one line with {MASK} for each missing token, e.g. "the {MASK} sat"')
    p.add_argument("--file", metavar="IN", help="fill every line of IN instead (blank lines are errors)")
    p.add_argument("--out", metavar="OUT", help="write the filled lines to OUT instead of standard output")
    p.add_argument("--temperature", type=float, default=1.0, help="sampling temperature (default %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the sampler (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    if (args.text is None) == (args.file is None):
        raise UserError(f'give one sentence ("the {MASK} sat on the {MASK} .") or --file IN, not '
                        f'{"both" if args.file else "neither"}')
    if args.temperature <= 0:
        raise UserError(f"--temperature must be > 0, got {args.temperature}")
    lines = [args.text] if args.text is not None else read_lines(args.file, keep_blank=True)
    where = (lambda i: "the input") if args.file is None else (lambda i: f"{args.file} line {i + 1}")
    generator, corpus = load_generator(args.checkpoint)
    rows, present = encode_lines(lines, corpus, generator, where)
    rng = torch.Generator().manual_seed(args.seed)
    filled = RolloutEngine().fill(generator, rows, present, context=masked_context(rows, present,
                                  generator.mask_token), temperature=args.temperature, rng=rng)
    text = "".join(corpus.vocab.decode_text(row) + "\n" for row in filled.tolist())
    if args.out:
        if Path(args.out).is_dir():
            raise UserError(f"--out {args.out} is a directory; give a file name to write to")
        atomic_write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def load_generator(path: str):
    """The in-filling generator of a maskgan checkpoint (on the CPU, eval mode) and its data-less corpus."""
    payload = checkpoint.load(path)
    if payload["algorithm"] != MaskGANTrainer.algorithm:
        raise CheckpointError(f"{path} is a '{payload['algorithm']}' checkpoint; `seqgan infill` needs one written "
                              "by `seqgan train maskgan`")
    try:
        cfg = config.from_dict(MaskGANConfig, payload["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path} holds a configuration this seqgan cannot use: {e}") from None
    state = payload["state"]
    try:
        MaskGANTrainer.check_state(state)
        corpus = corpus_from_metadata(state["corpus"])
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path} holds no usable corpus metadata ({type(e).__name__}: {e})") from None
    if corpus.vocab is None:
        raise CheckpointError(f"{path} holds no vocabulary, so text cannot be read or written with it")
    generator = build_infill_generator(cfg, corpus)
    try:
        load_module_state(generator, state["generator"], "generator")
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    return generator.eval(), corpus


def encode_lines(lines: list[str], corpus, generator, where) -> tuple[torch.Tensor, torch.Tensor]:
    """(rows, present): id rows (tokens, EOS, PAD) of the model's width and True where a token is given.

    ``where(i)`` names line i in messages. Raises UserError for a line without a mask, with unknown words, or
    longer than the model's rows.
    """
    vocab, max_len = corpus.vocab, corpus.seq_len - 1  # rows hold max_len tokens and EOS
    rows = torch.full((len(lines), max_len + 1), generator.pad_token, dtype=torch.long)
    present = torch.ones_like(rows, dtype=torch.bool)
    for i, line in enumerate(lines):
        if MASK not in line:
            raise UserError(f"{where(i)} has no {MASK} to fill: mark each missing token with {MASK}")
        tokens: list[str | None] = []  # None: a gap
        for k, piece in enumerate(SPECIAL.split(line)):
            # odd pieces are the markers themselves (a tokenizer such as NLTK's would split "<unk>")
            tokens += ([None] if piece == MASK else [UNK_TEXT]) if k % 2 else vocab.tokenize(piece)
        ids = [UNK if t in (None, UNK_TEXT) else vocab.encode([t])[0] for t in tokens]
        unknown = [t for t, x in zip(tokens, ids) if t not in (None, UNK_TEXT) and x == UNK]
        if unknown:
            shown = ", ".join(repr(t) for t in dict.fromkeys(unknown))
            raise UserError(f"{where(i)}: {shown} not in the model's vocabulary ({len(vocab):,} tokens); write <unk> "
                            f"or {MASK} in their place")
        if len(tokens) > max_len:
            raise UserError(f"{where(i)} has {len(tokens)} tokens; this model fills rows of at most {max_len}")
        rows[i, : len(ids)] = torch.tensor(ids, dtype=torch.long)
        rows[i, len(ids)] = generator.eos_token
        present[i, : len(ids)] = torch.tensor([t is not None for t in tokens])
    return rows, present
