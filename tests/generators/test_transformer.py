"""The causal Transformer generator: cached decoding equals the full causal pass (also after any select), the
shared cache equals the plain gather cache, the engine's rewards equal the slow loop, EOS/PAD, MLE, state dicts."""
import io

import pytest
import torch

from seqgan import losses
from seqgan.generators import pad_after_eos, teacher_forced_logits
from seqgan.generators.sampling import sample_sequences
from seqgan.generators.transformer import TransformerGenerator, TransformerState
from seqgan.rollout.engine import RolloutEngine
from seqgan.rollout.policy import DelayedPolicy
from seqgan.rollout.reference import RecomputePrefix, naive_rewards


def make(cache="shared", **kw):
    args = dict(vocab_size=23, d_model=16, n_heads=4, n_layers=2, max_len=14, init_std=0.3, cache=cache)
    return TransformerGenerator(**{**args, **kw}).eval()


class SharpTransformer(TransformerGenerator):
    """A deterministic policy: logits scaled so one token takes all the mass in float32."""

    def project(self, outputs):
        logits = super().project(outputs)
        return (logits - logits.amax(-1, keepdim=True)) * 1e4


def weighted_reward(tokens):
    w = torch.arange(1, tokens.shape[1] + 1, dtype=torch.float32)
    return torch.sin((tokens.float() * w).sum(1) * 0.37)


@pytest.mark.parametrize("cache", ["shared", "gather"])
def test_incremental_steps_equal_one_full_pass(cache):
    torch.manual_seed(0)
    gen = make(cache)
    x = torch.randint(0, 23, (3, 11))
    full = gen(x)
    assert full.shape == (3, 11, 23)
    with torch.no_grad():
        state, parts = gen.initial_state(3), []
        for t in range(11):
            logits, state = gen.step(x[:, t:t + 1], state)
            parts.append(logits)
        torch.testing.assert_close(torch.cat(parts, 1), full, rtol=0, atol=1e-5)
        # chunks of several tokens after a prefix (the masked path), and teacher forcing through step
        a, state = gen.step(x[:, :3], gen.initial_state(3))
        b, state = gen.step(x[:, 3:8], state)
        torch.testing.assert_close(torch.cat([a, b], 1), full[:, :8], rtol=0, atol=1e-5)
    start = torch.full((3, 1), gen.start_token)
    torch.testing.assert_close(teacher_forced_logits(gen, x), gen(torch.cat([start, x[:, :-1]], 1)), rtol=0, atol=1e-5)


def test_select_with_repeated_and_permuted_rows_equals_full_pass():
    torch.manual_seed(1)
    gen = make()
    x = torch.randint(0, 23, (4, 5))
    with torch.no_grad():
        _, state = gen.step(x, gen.initial_state(4))
        for idx in ([3, 1, 0, 2], [2, 2, 0, 2, 1], [0, 1, 2, 3, 0, 1, 2, 3], [1]):
            idx = torch.tensor(idx)
            picked = gen.select(state, idx)
            cont = torch.randint(0, 23, (len(idx), 4))
            out = []
            for t in range(4):  # one token at a time, then compare with the full pass over the whole history
                logits, picked = gen.step(cont[:, t:t + 1], picked)
                out.append(logits)
            torch.testing.assert_close(torch.cat(out, 1), gen(torch.cat([x[idx], cont], 1))[:, 5:], rtol=0, atol=1e-5)


def random_walk(gen, seed, grad=False):
    """Random steps (1-3 tokens) and selects (engine-style keep + fork, repeats, permutations, tiles, subsets);
    after every step the outputs must equal the full causal pass over each row's history. Earlier states are
    stepped again at the end: extending a newer state must never have changed them."""
    g = torch.Generator().manual_seed(seed)
    B = 3
    state, hist, saved = gen.initial_state(B), torch.empty(B, 0, dtype=torch.long), []
    with torch.set_grad_enabled(grad):
        while hist.shape[1] < gen.max_len - 3:
            R = hist.shape[0]
            op = int(torch.randint(0, 6, (), generator=g))
            if op <= 2 or hist.shape[1] == 0:
                L = int(torch.randint(1, 4, (), generator=g))
                tokens = torch.randint(0, 23, (R, L), generator=g)
                out, state = gen.hidden(tokens, state)
                hist = torch.cat([hist, tokens], 1)
                torch.testing.assert_close(out, gen.causal_hidden(hist)[:, -L:], rtol=0, atol=1e-5)
                saved.append((state, hist))
                continue
            if op == 3:    # the engine: keep every row, fork 2 copies of the first B rows
                idx = torch.cat([torch.arange(R), torch.arange(min(B, R)).repeat_interleave(2)])
            elif op == 4:  # any rows, repeated
                idx = torch.randint(0, R, (int(torch.randint(1, 9, (), generator=g)),), generator=g)
            else:          # a permutation, tiled
                idx = torch.randperm(R, generator=g).repeat(2)
            state, hist = gen.select(state, idx), hist[idx]
        for old, old_hist in saved:
            tokens = torch.randint(0, 23, (old_hist.shape[0], 2), generator=g)
            out, _ = gen.hidden(tokens, old)
            torch.testing.assert_close(out, gen.causal_hidden(torch.cat([old_hist, tokens], 1))[:, -2:],
                                       rtol=0, atol=1e-5)
    return hist


@pytest.mark.parametrize("cache", ["shared", "gather"])
@pytest.mark.parametrize("grad", [False, True])
def test_random_steps_and_selects_equal_full_pass(cache, grad):
    torch.manual_seed(2)
    gen = make(cache)
    for seed in range(8):
        random_walk(gen, seed, grad)


def test_engine_select_pattern_copies_nothing():
    """Keep + fork: the kept parts are the same objects, the fork reads the base (stride N) and owns nothing."""
    gen = make()
    B, N = 3, 4
    fork = torch.arange(B).repeat_interleave(N)
    with torch.no_grad():
        _, state = gen.hidden(torch.randint(0, 23, (B, 2)), gen.initial_state(B))
        state = gen.select(state, torch.cat([torch.arange(B), fork]))
        _, state = gen.hidden(torch.randint(0, 23, (B + B * N, 1)), state)
        new = gen.select(state, torch.cat([torch.arange(B + B * N), fork]))
    assert isinstance(new, TransformerState) and new.base is state.base
    assert len(new.parts) == 3 and all(a is b for a, b in zip(new.parts, state.parts))
    owner, first, second = new.parts
    assert owner.owner and not first.owner and not second.owner
    assert (first.stride, first.split, second.stride, second.split, second.own) == (N, 2, N, 3, None)
    # only the rollout's own token is stored per rollout row: the prefix stays in the base, once
    assert first.own.filled == 1 and first.own.keys[0].shape[0] == B * N
    with torch.no_grad():
        _, after = gen.hidden(torch.randint(0, 23, (B + 2 * B * N, 1)), new)
    assert after.parts[1].own is first.own  # appended in place


def test_shared_and_gather_caches_give_the_same_engine_rewards():
    torch.manual_seed(3)
    shared = SharpTransformer(31, 16, 4, 2, max_len=9, init_std=0.3).eval()
    gather = SharpTransformer(31, 16, 4, 2, max_len=9, init_std=0.3, cache="gather").eval()
    gather.load_state_dict(shared.state_dict())
    tokens = torch.randint(0, 31, (5, 9))
    engine = RolloutEngine(reward_chunk=13)
    q = engine.rewards(shared, tokens, weighted_reward, 3)
    assert engine.stats.sequential_steps == 9
    torch.testing.assert_close(q, engine.rewards(gather, tokens, weighted_reward, 3), rtol=0, atol=0)
    torch.testing.assert_close(q, engine.rewards(RecomputePrefix(shared), tokens, weighted_reward, 3), rtol=0, atol=0)


def test_engine_equals_slow_loop_under_deterministic_policy():
    torch.manual_seed(4)
    policy = SharpTransformer(37, 16, 4, 2, max_len=7, init_std=0.3).eval()
    tokens = torch.randint(0, 37, (5, 7))
    q = RolloutEngine(reward_chunk=11).rewards(policy, tokens, weighted_reward, 3,
                                               rng=torch.Generator().manual_seed(1))
    ref, _ = naive_rewards(policy, tokens, weighted_reward, 3, rng=torch.Generator().manual_seed(2))
    torch.testing.assert_close(q, ref, rtol=0, atol=1e-6)
    assert q[:, :-1].std() > 0  # the continuation matters


def test_variable_length_deterministic_policy_equals_slow_loop():
    torch.manual_seed(5)
    policy = SharpTransformer(5, 16, 4, 2, max_len=7, init_std=0.3, eos_token=1, pad_token=0).eval()
    with torch.no_grad():
        policy.output.bias[1] += 0.5  # make EOS the argmax in some states
    tokens = pad_after_eos(torch.randint(0, 5, (6, 7)), 1, 0)
    seen = []

    def recording(seq):
        seen.append(seq)
        return weighted_reward(seq)

    q = RolloutEngine().rewards(policy, tokens, recording, 2)
    ref, _ = naive_rewards(policy, tokens, weighted_reward, 2)
    torch.testing.assert_close(q, ref, rtol=0, atol=1e-6)
    rows = torch.cat(seen)
    assert (rows[:, 1:] == 1).any() and torch.equal(rows, pad_after_eos(rows, 1, 0))


def test_sampling_with_eos_pads_after_it():
    torch.manual_seed(6)
    gen = make(vocab_size=6, eos_token=3, pad_token=0, max_len=10)
    with torch.no_grad():
        gen.output.bias[3] += 1.5
    x = sample_sequences(gen, 200, 10, torch.Generator().manual_seed(0), batch_size=64)
    assert (x == 3).any() and (x[:, -1] == 0).any()
    assert torch.equal(x, pad_after_eos(x, 3, 0))
    with pytest.raises(ValueError, match="max_len"):
        sample_sequences(gen, 2, 11)


def test_mle_on_a_toy_corpus_lowers_the_loss():
    torch.manual_seed(7)
    V, T = 11, 8
    data = (torch.arange(40)[:, None] + torch.arange(T)[None] * 3) % V  # each row: a fixed step from its start
    gen = TransformerGenerator(V, 16, 4, 2, max_len=T, start_token=0).train()
    opt = torch.optim.Adam(gen.parameters(), lr=1e-2)
    first = None
    for _ in range(60):
        loss = losses.mle(teacher_forced_logits(gen, data), data)
        opt.zero_grad()
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
    assert loss.item() < 0.5 * first, (first, loss.item())


def test_state_dict_round_trip_and_delayed_policy():
    torch.manual_seed(8)
    gen = make(dropout=0.1)
    buf = io.BytesIO()
    torch.save(gen.state_dict(), buf)
    buf.seek(0)
    other = make(dropout=0.1)
    other.load_state_dict(torch.load(buf, weights_only=True))
    x = torch.randint(0, 23, (2, 6))
    torch.testing.assert_close(other(x), gen(x), rtol=0, atol=0)

    delayed = DelayedPolicy(gen.train(), 0.8)  # a deep copy, in eval mode, without grad
    assert not delayed.model.training and not any(p.requires_grad for p in delayed.model.parameters())
    before = delayed.model(x)
    with torch.no_grad():
        for p in gen.parameters():
            p.add_(0.1)
    torch.testing.assert_close(delayed.model(x), before)
    delayed.update(gen)
    assert (delayed.model(x) - before).abs().max() > 1e-3
    q = RolloutEngine().rewards(delayed.model, x, weighted_reward, 2)
    assert q.shape == (2, 6) and torch.isfinite(q).all()
