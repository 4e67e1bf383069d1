"""Time one rollout-reward computation: the batched engine against the naive double loop, same process.

Paper configuration (SeqGAN): B=64, T=20, N=16, V=5000, E=H=32 LSTM generator, the paper's CNN discriminator.
    python benchmarks/rollout.py [--device cpu|cuda] [--json OUT]

``--generator transformer``: a causal Transformer (``--d-model``, 4 heads, 2 layers) through the same engine, with
its shared KV cache, against the same engine driving a policy that recomputes the whole prefix at every step
(``RecomputePrefix``: no cache), and against the plain gather cache (``gather_s``), same process.
    python benchmarks/rollout.py --generator transformer [--d-model 64] [--json OUT]

GPU fast path: ``--precision bf16|tf32`` (policy steps and scoring under bf16 autocast, or TF32 matmuls) and
``--compile`` (the sampler's arithmetic through torch.compile; CUDA only), e.g.
    python benchmarks/rollout.py --device cuda --precision bf16 --compile --json OUT
The naive loop always runs in float32, as the common implementations do.
"""
from __future__ import annotations

import argparse
import time

import torch

from _common import stamp, write_json
from seqgan.discriminators.cnn import CNNDiscriminator
from seqgan.generators.lstm import LSTMGenerator
from seqgan.rollout.engine import DiscriminatorReward, RolloutEngine, min_token_steps
from seqgan.generators.transformer import TransformerGenerator
from seqgan.rollout.reference import RecomputePrefix, naive_rewards


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def timed(fn, device: str, repeats: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        sync(device)
        t0 = time.perf_counter()
        out = fn()
        sync(device)
        best = min(best, time.perf_counter() - t0)
    return best, out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--length", type=int, default=20)
    p.add_argument("--rollouts", type=int, default=16)
    p.add_argument("--vocab", type=int, default=5000)
    p.add_argument("--repeats", type=int, default=3, help="engine repeats (best is kept); the naive loop runs once")
    p.add_argument("--generator", choices=("lstm", "transformer"), default="lstm")
    p.add_argument("--d-model", type=int, default=64, help="transformer width (4 heads, 2 layers, FFN 4x)")
    p.add_argument("--precision", choices=("fp32", "bf16", "tf32"), default="fp32", help="engine precision")
    p.add_argument("--compile", action="store_true", help="torch.compile the engine's sampler (CUDA only)")
    p.add_argument("--json", metavar="OUT")
    args = p.parse_args()
    if args.generator == "transformer":
        return transformer(args)
    dev = args.device
    torch.manual_seed(0)
    gen = LSTMGenerator(args.vocab, 32, 32).to(dev).eval()
    disc = CNNDiscriminator(args.vocab).to(dev)
    reward = DiscriminatorReward(disc)
    rng = torch.Generator(dev).manual_seed(0)
    engine = RolloutEngine(precision=args.precision, compile=args.compile)
    tokens = engine.sample(gen, args.batch, args.length, rng=rng)

    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    engine_s, _ = timed(lambda: engine.rewards(gen, tokens, reward, args.rollouts, rng=rng), dev, args.repeats)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.startswith("cuda") else _rss_peak_mb()
    stats = engine.stats
    naive_s, (_, naive_steps) = timed(lambda: naive_rewards(gen, tokens, reward, args.rollouts, rng=rng), dev, 1)

    result = {"engine_s": engine_s, "naive_s": naive_s, "ratio": naive_s / engine_s,
              "token_steps": stats.token_steps, "naive_token_steps": naive_steps,
              "min_token_steps": min_token_steps(args.batch, args.length, args.rollouts),
              "sequential_steps": stats.sequential_steps, "reward_calls": stats.reward_calls,
              "peak_mem_mb": peak, "config": {"B": args.batch, "T": args.length, "N": args.rollouts,
                                              "V": args.vocab, "E": 32, "H": 32, "precision": args.precision,
                                              "compile": args.compile},
              **stamp(dev)}
    print(f"device {result['device']}  B={args.batch} T={args.length} N={args.rollouts} V={args.vocab}  "
          f"precision {args.precision}{' compiled sampler' if args.compile else ''}")
    print(f"{'':8}{'seconds':>10}{'token steps':>14}")
    print(f"{'engine':8}{engine_s:>10.3f}{stats.token_steps:>14,}  (min {result['min_token_steps']:,}, "
          f"{stats.sequential_steps} sequential steps, {stats.reward_calls} reward calls)")
    print(f"{'naive':8}{naive_s:>10.3f}{naive_steps:>14,}")
    print(f"ratio naive/engine: {result['ratio']:.1f}x   peak memory: {peak:.0f} MB")
    write_json(args.json, result)


def transformer(args) -> None:
    """The KV-cached engine against the same engine re-running the full causal pass over the prefix every step."""
    dev = args.device
    torch.manual_seed(0)
    gen = TransformerGenerator(args.vocab, args.d_model, 4, 2, max_len=args.length).to(dev).eval()
    gather = TransformerGenerator(args.vocab, args.d_model, 4, 2, max_len=args.length, cache="gather").to(dev).eval()
    gather.load_state_dict(gen.state_dict())
    reward = DiscriminatorReward(CNNDiscriminator(args.vocab).to(dev))
    rng = torch.Generator(dev).manual_seed(0)
    engine = RolloutEngine(precision=args.precision, compile=args.compile)
    tokens = engine.sample(gen, args.batch, args.length, rng=rng)

    def run(policy):
        return engine.rewards(policy, tokens, reward, args.rollouts, rng=rng)

    if dev.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    engine_s, _ = timed(lambda: run(gen), dev, args.repeats)
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.startswith("cuda") else _rss_peak_mb()
    stats = engine.stats
    gather_s, _ = timed(lambda: run(gather), dev, 1)
    recompute_s, _ = timed(lambda: run(RecomputePrefix(gen)), dev, 1)
    recompute_steps = engine.stats.token_steps

    result = {"generator": "transformer", "engine_s": engine_s, "recompute_s": recompute_s,
              "ratio": recompute_s / engine_s, "gather_s": gather_s, "token_steps": stats.token_steps,
              "recompute_token_steps": recompute_steps,
              "min_token_steps": min_token_steps(args.batch, args.length, args.rollouts),
              "sequential_steps": stats.sequential_steps, "reward_calls": stats.reward_calls,
              "peak_mem_mb": peak, "config": {"B": args.batch, "T": args.length, "N": args.rollouts,
                                              "V": args.vocab, "d_model": args.d_model, "heads": 4, "layers": 2,
                                              "precision": args.precision, "compile": args.compile},
              **stamp(dev)}
    print(f"device {result['device']}  transformer d_model={args.d_model} (4 heads, 2 layers)  "
          f"B={args.batch} T={args.length} N={args.rollouts} V={args.vocab}")
    print(f"{'':16}{'seconds':>10}{'token steps':>14}")
    print(f"{'shared cache':16}{engine_s:>10.3f}{stats.token_steps:>14,}  (min {result['min_token_steps']:,}, "
          f"{stats.sequential_steps} sequential steps, {stats.reward_calls} reward calls)")
    print(f"{'gather cache':16}{gather_s:>10.3f}{stats.token_steps:>14,}")
    print(f"{'recompute':16}{recompute_s:>10.3f}{recompute_steps:>14,}")
    print(f"ratio recompute/engine: {result['ratio']:.1f}x   gather/engine: {gather_s / engine_s:.2f}x   "
          f"peak memory: {peak:.0f} MB")
    write_json(args.json, result)


def _rss_peak_mb() -> float:
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


if __name__ == "__main__":
    main()
