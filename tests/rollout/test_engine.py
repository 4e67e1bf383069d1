"""The rollout engine against the slow reference loop, exact enumeration, and layout/eval-mode checks."""
import itertools

import pytest
import torch
from torch import nn

from seqgan.discriminators.cnn import CNNDiscriminator
from seqgan.generators import pad_after_eos
from seqgan.generators.lstm import LSTMGenerator
from seqgan.rollout.engine import DiscriminatorReward, RolloutEngine, min_token_steps
from seqgan.rollout.reference import naive_rewards

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


class SharpLSTM(LSTMGenerator):
    """A deterministic policy: logits scaled so one token takes all the mass in float32."""

    def project(self, outputs):
        logits = super().project(outputs)
        return (logits - logits.amax(-1, keepdim=True)) * 1e4


def weighted_reward(tokens):
    """A reward that depends on every position and its order (so any mix-up of rows or columns shows)."""
    w = torch.arange(1, tokens.shape[1] + 1, device=tokens.device, dtype=torch.float32)
    return torch.sin((tokens.float() * w).sum(1) * 0.37)


@pytest.mark.parametrize("device", DEVICES)
def test_engine_equals_slow_loop_under_deterministic_policy(device):
    torch.manual_seed(0)
    policy = SharpLSTM(37, 8, 8, init_std=1.0).to(device).eval()
    tokens = torch.randint(0, 37, (5, 7), device=device)
    engine = RolloutEngine(reward_chunk=11)  # several chunks, not a multiple of anything
    q = engine.rewards(policy, tokens, weighted_reward, 3, rng=torch.Generator(device).manual_seed(1))
    ref, _ = naive_rewards(policy, tokens, weighted_reward, 3, rng=torch.Generator(device).manual_seed(2))
    assert q.shape == (5, 7)
    torch.testing.assert_close(q, ref, rtol=0, atol=1e-6)
    # and it is not trivially constant: the policy continuation matters
    assert q[:, :-1].std() > 0


def test_engine_with_cnn_discriminator_equals_slow_loop():
    torch.manual_seed(1)
    policy = SharpLSTM(23, 8, 8, init_std=1.0).eval()
    disc = CNNDiscriminator(23, 8, (1, 2, 3), (3, 3, 3), dropout=0.5)
    reward = DiscriminatorReward(disc)
    tokens = torch.randint(0, 23, (4, 6))
    q = RolloutEngine().rewards(policy, tokens, reward, 2)
    ref, _ = naive_rewards(policy, tokens, reward, 2)
    torch.testing.assert_close(q, ref, rtol=0, atol=1e-6)


def exact_q(policy, tokens, reward_fn):
    """Q(t) = E[reward(y_1..t, Y_t+1..T)] by enumerating every continuation with its probability."""
    B, T = tokens.shape
    V = policy.vocab_size
    q = torch.zeros(B, T)
    with torch.no_grad():
        for b in range(B):
            for t in range(1, T):
                total = 0.0
                for cont in itertools.product(range(V), repeat=T - t):
                    seq = torch.cat([tokens[b, :t], torch.tensor(cont)])[None]
                    start = torch.full((1, 1), policy.start_token)
                    logits, _ = policy.step(torch.cat([start, seq[:, :-1]], 1), policy.initial_state(1))
                    logp = torch.log_softmax(logits[0], -1)
                    p = logp[torch.arange(t, T), seq[0, t:]].sum().exp().item()
                    total += p * reward_fn(seq).item()
                q[b, t - 1] = total
            q[b, T - 1] = reward_fn(tokens[b:b + 1]).item()
    return q


def test_engine_rewards_equal_exact_expectation_in_distribution():
    torch.manual_seed(3)
    policy = LSTMGenerator(3, 4, 4, init_std=1.0).eval()
    tokens = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0]])
    N = 4000
    q = RolloutEngine().rewards(policy, tokens, weighted_reward, N, rng=torch.Generator().manual_seed(0))
    exact = exact_q(policy, tokens, weighted_reward)
    # rewards lie in [-1, 1]: the standard error of a mean of N draws is at most 1/sqrt(N); allow 5 of them
    assert (q - exact).abs().max().item() < 5 / N ** 0.5
    assert q[:, -1].tolist() == pytest.approx(exact[:, -1].tolist(), abs=1e-6)
    # the slow loop agrees with the same exact values (it is the reference for the deterministic test)
    ref, _ = naive_rewards(policy, tokens, weighted_reward, 1000, rng=torch.Generator().manual_seed(1))
    assert (ref - exact).abs().max().item() < 5 / 1000 ** 0.5


def test_each_sentence_gets_its_own_rewards():
    """The reward is a function of the row's fixed prefix: any scrambling of rows or columns changes Q."""
    torch.manual_seed(4)
    policy = LSTMGenerator(50, 8, 8, init_std=1.0).eval()
    B, T = 6, 5
    tokens = torch.randperm(50)[: B * T].view(B, T)  # all distinct tokens

    def first_two(seq):
        return seq[:, 0].float() * 100 + seq[:, 1].float()

    q = RolloutEngine().rewards(policy, tokens, first_two, 3)
    expected_from_t2 = tokens[:, 0].float() * 100 + tokens[:, 1].float()
    for t in range(2, T + 1):  # prefixes of length >= 2 fix both positions
        torch.testing.assert_close(q[:, t - 1], expected_from_t2)
    # prefix length 1 fixes the first token only
    assert torch.equal(torch.div(q[:, 0], 100, rounding_mode="floor"), tokens[:, 0].float())


def test_work_is_the_triangular_minimum():
    policy = LSTMGenerator(11, 4, 4).eval()
    engine = RolloutEngine(reward_chunk=64)
    B, T, N = 3, 6, 4
    tokens = torch.randint(0, 11, (B, T))
    engine.rewards(policy, tokens, weighted_reward, N)
    assert engine.stats.token_steps == min_token_steps(B, T, N) == B * N * T * (T - 1) // 2
    assert engine.stats.sequential_steps == T  # the start token, then T-1 steps
    assert engine.stats.reward_rows == B * N * (T - 1) + B
    assert engine.stats.reward_calls == -(-(B * N * (T - 1) + B) // 64)


def test_discriminator_scores_in_eval_mode_without_grad_and_mode_is_restored():
    seen = []

    class Probe(nn.Module):
        def __init__(self):
            super().__init__()
            self.dropout = nn.Dropout(0.5)

        def forward(self, tokens):
            seen.append((self.training, torch.is_grad_enabled()))
            return torch.zeros(tokens.shape[0])

    probe = Probe().train()
    policy = LSTMGenerator(7, 4, 4).eval()
    q = RolloutEngine(reward_chunk=5).rewards(policy, torch.randint(0, 7, (2, 4)), DiscriminatorReward(probe), 2)
    assert seen and all(mode == (False, False) for mode in seen)
    assert probe.training  # restored for the discriminator's own training
    torch.testing.assert_close(q, torch.full((2, 4), 0.5))


def test_sample_is_reproducible_and_within_vocab():
    policy = LSTMGenerator(13, 4, 4, init_std=1.0)
    engine = RolloutEngine()
    a = engine.sample(policy, 9, 6, rng=torch.Generator().manual_seed(5))
    b = engine.sample(policy, 9, 6, rng=torch.Generator().manual_seed(5))
    c = engine.sample(policy, 9, 6, rng=torch.Generator().manual_seed(6))
    assert a.shape == (9, 6) and a.dtype == torch.long
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert 0 <= a.min() and a.max() < 13


def test_bad_arguments():
    policy = LSTMGenerator(7, 4, 4)
    with pytest.raises(ValueError, match="num_rollouts"):
        RolloutEngine().rewards(policy, torch.zeros(2, 3, dtype=torch.long), weighted_reward, 0)
    with pytest.raises(ValueError, match="batch, length"):
        RolloutEngine().rewards(policy, torch.zeros(3, dtype=torch.long), weighted_reward, 2)


def test_variable_length_rollouts_pad_after_eos_and_match_exact_expectation():
    torch.manual_seed(5)
    policy = LSTMGenerator(3, 4, 4, init_std=1.0, eos_token=2, pad_token=0).eval()
    tokens = torch.tensor([[0, 2, 0, 0], [1, 1, 2, 0], [1, 0, 1, 1]])  # ended early, ended late, no end
    seen = []

    def recording_reward(seq):
        seen.append(seq.clone())
        return weighted_reward(seq)

    N = 4000
    q = RolloutEngine().rewards(policy, tokens, recording_reward, N, rng=torch.Generator().manual_seed(0))
    rows = torch.cat(seen)
    assert torch.equal(rows, pad_after_eos(rows, 2, 0))  # nothing but padding after an EOS
    assert (rows[:, 1:] == 2).any()  # and rollouts did produce EOS
    exact = exact_q(policy, tokens, lambda s: weighted_reward(pad_after_eos(s, 2, 0)))
    assert (q - exact).abs().max().item() < 5 / N ** 0.5
    # a prefix that already ended has only one completion: its reward is exact
    torch.testing.assert_close(q[0, 1:], weighted_reward(tokens[:1]).expand(3), rtol=0, atol=1e-6)


def test_variable_length_deterministic_policy_equals_slow_loop():
    torch.manual_seed(6)
    policy = SharpLSTM(5, 8, 8, init_std=1.0, eos_token=1, pad_token=0).eval()
    with torch.no_grad():
        policy.output.bias[1] += 2.0  # make EOS the argmax in some states
    tokens = pad_after_eos(torch.randint(0, 5, (6, 7)), 1, 0)
    q = RolloutEngine().rewards(policy, tokens, weighted_reward, 2)
    ref, _ = naive_rewards(policy, tokens, weighted_reward, 2)
    torch.testing.assert_close(q, ref, rtol=0, atol=1e-6)
