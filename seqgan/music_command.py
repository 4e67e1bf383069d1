"""`seqgan music train|sample|interpolate|reconstruct|tokens-to-midi|eval`: the MusicVAE from the command line, and
MIDI out of SeqGAN-family models trained on melody tokens (``--corpus nottingham_melody``, ``seqgan.music.tokens``).

    seqgan music train --bars 16 --decoder hierarchical --out-dir runs/mel16
    seqgan music sample runs/mel16/last.pt -n 8 --out samples/
    seqgan music sample runs/seqgan-mel/last.pt -n 8 --out samples/      # a `seqgan train ... --corpus *_melody` run
    seqgan music interpolate runs/mel16/last.pt a.mid b.mid --steps 8 --out interp/
    seqgan music reconstruct runs/mel16/last.pt tune.mid --out recon/
    seqgan music tokens-to-midi samples.txt --out midi/                 # lines of melody tokens (`seqgan sample`)
    seqgan music eval runs/seqgan-mel/last.pt -n 2000 --json eval.json  # BLEU-4, Self-BLEU-4, MSE (metrics.music)

Every MIDI file written gets a piano-roll PNG beside it (same name, .png). Input MIDI files are read with the corpus
rules of ``seqgan.music.dataset`` (4/4, 2/2 and 2/4 kept; windows start on bar lines); the FIRST usable window of the
checkpoint's length is used. Bad input (missing or corrupt MIDI, no usable window) is one line and exit status 2,
checked before anything is written.
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import torch

from seqgan import checkpoint, config
from seqgan.checkpoint import CheckpointError
from seqgan.config import ConfigError
from seqgan.music.dataset import midi_windows
from seqgan.music.melody import STEPS_PER_BAR, events_to_midi
from seqgan.music.midi import MidiReadError, read_midi
from seqgan.music.tokens import ids_to_events, melody_vocab, tokens_to_events
from seqgan.music.train import ALGORITHM, PRESETS, MusicVAEConfig, MusicVAETrainer, build_model
from seqgan.music.vae import slerp
from seqgan.runs import UserError, add_train_flags, train


def add_parser(sub) -> None:
    m = sub.add_parser("music", help="MusicVAE over melodies: train, sample, interpolate, reconstruct (MIDI + PNG)",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cmds = m.add_subparsers(dest="music_command", required=True, metavar="SUBCOMMAND")

    t = cmds.add_parser("train", help="train a MusicVAE (flat or hierarchical, 2 or 16 bars)",
                        description=sys.modules[MusicVAETrainer.__module__].__doc__,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_train_flags(t, PRESETS, "tiny: seconds, for tests; cpu-small: the defaults; paper: the paper's sizes (GPU)")
    config.add_flags(t, MusicVAEConfig)

    s = cmds.add_parser("sample", help="decode z ~ N(0, I) into MIDI files (+ piano rolls); or sample a SeqGAN-family "
                        "checkpoint trained on melody tokens")
    s.add_argument("checkpoint")
    s.add_argument("-n", type=int, default=8, help="number of melodies (default 8)")
    s.add_argument("--temperature", type=float, default=1.0)
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--out", metavar="DIR", default="samples", help="output folder (default %(default)s)")

    i = cmds.add_parser("interpolate", help="spherical interpolation in z between two MIDI files")
    i.add_argument("checkpoint")
    i.add_argument("a", metavar="A.mid")
    i.add_argument("b", metavar="B.mid")
    i.add_argument("--steps", type=int, default=8, help="melodies from A to B, both ends included (default 8)")
    i.add_argument("--out", metavar="DIR", default="interpolation", help="output folder (default %(default)s)")

    r = cmds.add_parser("reconstruct", help="encode a MIDI file's first window and decode it (greedy)")
    r.add_argument("checkpoint")
    r.add_argument("midi", metavar="IN.mid")
    r.add_argument("--out", metavar="DIR", default="reconstruction", help="output folder (default %(default)s)")

    e = cmds.add_parser("eval", help="BLEU-4, Self-BLEU-4 and pitch MSE of a SeqGAN-family melody checkpoint's "
                        "samples against its corpus' test windows (seqgan.metrics.music)")
    e.add_argument("checkpoint")
    e.add_argument("-n", type=int, default=2000, help="generated windows scored (default %(default)s)")
    e.add_argument("--seed", type=int, default=0)
    e.add_argument("--json", metavar="FILE", help="also write the numbers and the protocol here")

    k = cmds.add_parser("tokens-to-midi", help="lines of melody tokens (e.g. from `seqgan sample`) -> MIDI + PNG")
    k.add_argument("tokens", metavar="FILE", help="UTF-8 text, one melody per line: off, hold and note names "
                   "(C4, Bb3, ...), one per sixteenth-note step")
    k.add_argument("--out", metavar="DIR", default="melodies", help="output folder (default %(default)s)")


def run(args: argparse.Namespace) -> int:
    try:
        return {"train": _train, "sample": _sample, "interpolate": _interpolate, "reconstruct": _reconstruct,
                "tokens-to-midi": _tokens_to_midi, "eval": _eval_tokens}[args.music_command](args)
    except MidiReadError as e:
        print(f"seqgan: error: {e}", file=sys.stderr)
        return 2


# ---- train ---------------------------------------------------------------------------------------------------------

def _train(args: argparse.Namespace) -> int:
    def describe(trainer: MusicVAETrainer) -> list[str]:
        corpus, cfg = trainer.corpus, trainer.config
        lines = [f"data: {cfg.corpus}, {cfg.bars} bars: {len(corpus.train)} train / {len(corpus.test)} test windows "
                 f"from {corpus.stats.get('files_used', '?')} pieces"]
        if len(corpus.test) == 0:
            lines.append("warning: the held-out split is empty (too few files?); no accuracy will be reported")
        return lines
    return train(args, MusicVAEConfig, PRESETS, ALGORITHM, MusicVAETrainer, describe)


# ---- shared helpers ------------------------------------------------------------------------------------------------

def load_model(path: str, payload: dict | None = None):
    """(model in eval mode on CPU, config) from a music_vae checkpoint (``payload``: the checkpoint, already read)."""
    payload = payload if payload is not None else checkpoint.load(path, algorithm=ALGORITHM)
    try:
        cfg = config.from_dict(MusicVAEConfig, payload["config"])
    except ConfigError as e:
        raise CheckpointError(f"{path} holds a configuration this seqgan cannot use: {e}") from None
    cfg = dataclasses.replace(cfg, device="cpu")
    model = build_model(cfg)
    state = payload["state"].get("model")
    checkpoint.load_module_state(model, state, f"music VAE in {path}")
    model.eval()
    return model, cfg


def _first_window(path: str, bars: int) -> torch.Tensor:
    """(1, bars * 16) classes: the first usable window of a MIDI file, or a one-line error."""
    p = Path(path)
    if not p.is_file():
        raise UserError(f"{path}: no such MIDI file")
    midi = read_midi(p)                                   # MidiReadError names the file
    piece = midi_windows(midi, bars, name=p.name)
    if piece.skipped or not piece.windows:
        why = piece.detail if piece.skipped else ("no stretch in 4/4, 2/2 or 2/4 long enough, or every window is "
                                                  "mostly rest")
        raise UserError(f"{path}: no usable {bars}-bar window ({bars * STEPS_PER_BAR} sixteenth steps): "
                              f"{why}")
    return torch.tensor([piece.windows[0]], dtype=torch.long)


def _out_dir(path: str) -> Path:
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out} is a file; give a folder to write MIDI and PNG files into")
    return out


def _write(out: Path, name: str, events, title: str) -> list[Path]:
    """name.mid and name.png in ``out``."""
    from seqgan.music.plot import save_piano_roll

    mid = events_to_midi(out / f"{name}.mid", [int(e) for e in events])
    png = save_piano_roll(events, out / f"{name}.png", title=title)
    return [mid, png]


def _report(files: list[Path]) -> None:
    for f in files:
        print(f)


# ---- sample / interpolate / reconstruct ------------------------------------------------------------------------

def _sample(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise UserError(f"-n must be >= 1, got {args.n}")
    if not args.temperature > 0:
        raise UserError(f"--temperature must be > 0, got {args.temperature}")
    payload = checkpoint.load(args.checkpoint)
    if payload["algorithm"] != ALGORITHM:
        return _sample_tokens(args, payload)
    model, cfg = load_model(args.checkpoint, payload)
    out = _out_dir(args.out)
    rng = torch.Generator().manual_seed(args.seed)
    z = torch.randn(args.n, model.z_dim, generator=rng)
    rows = model.decode(z, greedy=False, temperature=args.temperature, rng=rng)
    files = []
    for k, row in enumerate(rows):
        files += _write(out, f"sample_{k:03d}", row.tolist(),
                        f"sample {k} ({cfg.decoder}, {cfg.bars} bars, seed {args.seed}, T={args.temperature:g})")
    _report(files)
    return 0


def _interpolate(args: argparse.Namespace) -> int:
    if args.steps < 2:
        raise UserError(f"--steps must be >= 2 (both ends are included), got {args.steps}")
    model, cfg = load_model(args.checkpoint)
    a = _first_window(args.a, cfg.bars)
    b = _first_window(args.b, cfg.bars)
    out = _out_dir(args.out)
    with torch.no_grad():
        mu_a, _ = model.encode(a)
        mu_b, _ = model.encode(b)
        zs = torch.cat([slerp(mu_a, mu_b, k / (args.steps - 1)) for k in range(args.steps)])
        rows = model.decode(zs, greedy=True)
    files = []
    for k, row in enumerate(rows):
        files += _write(out, f"interp_{k:02d}", row.tolist(),
                        f"{Path(args.a).name} -> {Path(args.b).name}: step {k} of {args.steps - 1}")
    _report(files)
    return 0


def _reconstruct(args: argparse.Namespace) -> int:
    model, cfg = load_model(args.checkpoint)
    x = _first_window(args.midi, cfg.bars)
    out = _out_dir(args.out)
    with torch.no_grad():
        mu, _ = model.encode(x)
        rec = model.decode(mu, greedy=True)
    acc = (rec == x).float().mean().item()
    stem = Path(args.midi).stem
    files = _write(out, f"{stem}_input", x[0].tolist(), f"{Path(args.midi).name}: first {cfg.bars}-bar window")
    files += _write(out, f"{stem}_reconstruction", rec[0].tolist(),
                    f"reconstruction (greedy from mu): {acc:.3f} of steps equal")
    _report(files)
    print(f"accuracy\t{acc:.4f}")
    return 0


# ---- SeqGAN-family models on melody tokens -------------------------------------------------------------------------

def load_token_trainer(path: str, payload: dict):
    """The trainer (on CPU, no data loaded) of a SeqGAN-family checkpoint trained on a melody corpus."""
    from seqgan.data.corpus import corpus_from_metadata
    from seqgan.trainers import ALGORITHMS

    algo = ALGORITHMS.get(payload["algorithm"])
    if algo is None:
        raise CheckpointError(f"{path} is a '{payload['algorithm']}' checkpoint; `seqgan music sample` takes a "
                              f"{ALGORITHM} checkpoint or one of {', '.join(sorted(ALGORITHMS))} trained on melody "
                              "tokens")
    state = dict(payload["state"])
    meta = state.get("corpus")
    if not isinstance(meta, dict) or meta.get("vocab") != melody_vocab().to_state():
        name = meta.get("name") if isinstance(meta, dict) else None
        raise UserError(f"{path} was trained on corpus '{name}', not on melody tokens (--corpus nottingham_melody or "
                        "melody:<folder>); use `seqgan sample` for text")
    try:
        cfg = config.from_dict(algo.config, {"device": "cpu"}, base=config.from_dict(algo.config, payload["config"]))
        trainer = algo.trainer(cfg, corpus_from_metadata(meta))
        if "rng" in state and hasattr(trainer, "rng"):
            state["rng"] = trainer.rng.get_state()   # sampling draws from its own seeded generator
        trainer.load_state_dict(state)
    except CheckpointError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (ConfigError, KeyError, ValueError, RuntimeError, TypeError) as e:
        raise CheckpointError(f"{path} holds a state this seqgan cannot restore ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200] if str(e) else ''})") from None
    return trainer


def _sample_tokens(args: argparse.Namespace, payload: dict) -> int:
    trainer = load_token_trainer(args.checkpoint, payload)
    out = _out_dir(args.out)
    rows = trainer.sample(args.n, temperature=args.temperature, rng=torch.Generator().manual_seed(args.seed))
    events, _ = ids_to_events(rows.cpu())
    files = []
    for k, row in enumerate(events):
        files += _write(out, f"sample_{k:03d}", row.tolist(), f"sample {k} ({payload['algorithm']} on "
                        f"{trainer.corpus.name}, seed {args.seed}, T={args.temperature:g})")
    _report(files)
    return 0


def _tokens_to_midi(args: argparse.Namespace) -> int:
    from seqgan.data.text import read_lines

    melodies = {}            # line index -> events; a blank line (a sample that began with EOS) has no melody
    for k, line in enumerate(read_lines(args.tokens, keep_blank=True)):   # CorpusError: missing, not UTF-8 text
        if line:
            try:
                melodies[k] = tokens_to_events(line.split(), where=f"{args.tokens}, line {k + 1}")
            except ValueError as e:
                raise UserError(str(e)) from None
    if not melodies:
        raise UserError(f"{args.tokens}: no melody in it (every line is blank)")
    out = _out_dir(args.out)                                # everything checked before the first file is written
    files = []
    for k, events in melodies.items():
        files += _write(out, f"melody_{k:03d}", events, f"{Path(args.tokens).name}, line {k + 1}")
    _report(files)
    return 0


def _eval_tokens(args: argparse.Namespace) -> int:
    import json

    from seqgan.atomic import atomic_write_text
    from seqgan.metrics.music import PROTOCOL, melody_report
    from seqgan.music.tokens import load_melody_corpus

    if args.n < 2:
        raise UserError(f"-n must be >= 2 (Self-BLEU compares each window with the others), got {args.n}")
    payload = checkpoint.load(args.checkpoint)
    if payload["algorithm"] == ALGORITHM:
        raise UserError(f"{args.checkpoint} is a MusicVAE checkpoint; `seqgan music eval` scores models trained with "
                        "`seqgan train ... --corpus *_melody` (MusicVAE accuracy: benchmarks/music.py)")
    trainer = load_token_trainer(args.checkpoint, payload)
    corpus = load_melody_corpus(trainer.corpus.name, progress=False)   # CorpusError names a missing data folder
    if corpus.test is None:
        raise UserError(f"corpus '{corpus.name}' has no test windows to score against")
    rows = trainer.sample(args.n, rng=torch.Generator().manual_seed(args.seed))
    events, specials = ids_to_events(rows.cpu())
    test, _ = ids_to_events(corpus.test)
    report = {**melody_report(events, test), "special_tokens": specials, "protocol": PROTOCOL}
    for key, value in report.items():
        print(f"{key}\t{value:.4f}" if isinstance(value, float) else f"{key}\t{value}")
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0
