"""Relational-memory generator (RelGAN's generator: Nie, Narodytska and Patel, ICLR 2019), built on the relational
memory core of Santoro et al., "Relational recurrent neural networks", NeurIPS 2018.

State: a memory M of ``mem_slots`` rows of size d = ``num_heads * head_size``, shape (B, N, d), initialised as
the identity matrix padded with zeros (row n is the n-th unit vector). One step reads a token y_t:

    x      = W_in E[y_t] + b_in                             (B, 1, d)   the token's embedding projected to d
    Q,K,V  = LN(W_qkv [M; x]),  the rows of M as queries    per head: softmax(Q K^T / sqrt(3 head_size)) V
    A      = MHDPA(M; [M; x])                               (B, N, d)   multi-head dot-product attention
    M~     = LN(M + A);   M~ = LN(M~ + MLP(M~))                         row-wise 2-layer MLP (ReLU between)
    i, f   = W_x x + W_m tanh(M), split in two                          LSTM-like gates per memory element
    M'     = sigmoid(i) * tanh(M~) + sigmoid(f + 1) * M                 (input bias 0, forget bias 1)
    output = flatten(M')                                    (B, N*d),   logits = W_out output

This is the relational memory of RelGAN's code (weilinie/RelGAN, utils/models/relational_memory.py: the layer
norm over the query/key/value projection, the 1/sqrt(2 key_size + head_size) scale, unit gates without biases of
their own); there the input row x is also a query and leaves the layer norms and MLP as an extra row that is then
dropped, which changes nothing for the memory rows, so only the memory rows are computed here. The class has
the Generator interface (``start_token``, ``vocab_size``, ``eos_token``, ``pad_token``, ``initial_state``,
``hidden``, ``project``, ``step``, ``select``), so :class:`seqgan.rollout.engine.RolloutEngine` samples from it and
:func:`seqgan.generators.teacher_forced_logits` trains it by maximum likelihood. ``hidden`` on (B, L) tokens runs
the L steps one after another: a teacher-forced pass is exactly the incremental steps.
"""
from __future__ import annotations

import math

import torch
from torch import Tensor, nn


class RelationalMemoryCore(nn.Module):
    def __init__(self, input_dim: int, mem_slots: int = 1, num_heads: int = 2, head_size: int = 32,
                 forget_bias: float = 1.0):
        super().__init__()
        if min(mem_slots, num_heads, head_size, input_dim) < 1:
            raise ValueError("mem_slots, num_heads, head_size and input_dim must all be >= 1")
        self.mem_slots, self.num_heads, self.head_size = mem_slots, num_heads, head_size
        self.mem_size = d = num_heads * head_size
        self.forget_bias = forget_bias
        self.input_proj = nn.Linear(input_dim, d)
        self.qkv = nn.Linear(d, 3 * d, bias=False)
        self.qkv_norm = nn.LayerNorm(3 * d)
        self.norm1 = nn.LayerNorm(d)
        self.mlp = nn.Sequential(nn.Linear(d, d), nn.ReLU(), nn.Linear(d, d))
        self.norm2 = nn.LayerNorm(d)
        self.gate_input = nn.Linear(d, 2 * d, bias=False)
        self.gate_memory = nn.Linear(d, 2 * d, bias=False)

    def initial_memory(self, batch_size: int, device=None, dtype=None) -> Tensor:
        """(B, N, d): the N x d identity, zero-padded (or truncated) to d columns, for every row of the batch."""
        eye = torch.eye(self.mem_slots, self.mem_size, device=device, dtype=dtype)
        return eye.unsqueeze(0).expand(batch_size, -1, -1).contiguous()

    def _attend(self, memory: Tensor, x: Tensor) -> Tensor:
        B, N, d = memory.shape
        H, hs = self.num_heads, self.head_size
        q, k, v = self.qkv_norm(self.qkv(torch.cat([memory, x], dim=1))).split(d, dim=-1)  # (B, N+1, d)
        q = q[:, :N].reshape(B, N, H, hs).transpose(1, 2)                        # (B, H, N, hs)
        k = k.reshape(B, N + 1, H, hs).transpose(1, 2)                           # (B, H, N+1, hs)
        v = v.reshape(B, N + 1, H, hs).transpose(1, 2)
        weights = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(3 * hs), dim=-1)  # (B, H, N, N+1)
        return (weights @ v).transpose(1, 2).reshape(B, N, d)

    def forward(self, inputs: Tensor, memory: Tensor) -> Tensor:
        """One step: (B, input_dim) inputs and (B, N, d) memory -> the new (B, N, d) memory."""
        x = self.input_proj(inputs).unsqueeze(1)                                 # (B, 1, d)
        m = self.norm1(memory + self._attend(memory, x))
        m = self.norm2(m + self.mlp(m))
        i, f = (self.gate_input(x) + self.gate_memory(torch.tanh(memory))).chunk(2, dim=-1)
        return torch.sigmoid(i) * torch.tanh(m) + torch.sigmoid(f + self.forget_bias) * memory


class RelationalMemoryGenerator(nn.Module):
    """Embedding -> relational memory core -> linear projection of the flattened memory to the vocabulary."""

    def __init__(self, vocab_size: int, emb_dim: int = 32, mem_slots: int = 1, num_heads: int = 2,
                 head_size: int = 32, start_token: int = 0, eos_token: int | None = None, pad_token: int = 0):
        super().__init__()
        self.vocab_size = vocab_size
        self.start_token = start_token
        self.eos_token = eos_token
        self.pad_token = pad_token
        self.embedding = nn.Embedding(vocab_size, emb_dim)
        self.core = RelationalMemoryCore(emb_dim, mem_slots, num_heads, head_size)
        self.output = nn.Linear(mem_slots * self.core.mem_size, vocab_size)

    def initial_state(self, batch_size: int, context: Tensor | None = None) -> Tensor:
        del context  # an unconditional LM; the argument is part of the Generator protocol
        p = self.output.weight
        return self.core.initial_memory(batch_size, p.device, p.dtype)

    def hidden(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """(B, L) tokens -> (B, L, N*d) flattened memories after each token, and the last memory."""
        emb = self.embedding(tokens)
        outputs = []
        memory = state
        for t in range(tokens.shape[1]):
            memory = self.core(emb[:, t], memory)
            outputs.append(memory.flatten(1))
        if not outputs:
            return emb.new_zeros(tokens.shape[0], 0, self.output.in_features), memory
        return torch.stack(outputs, dim=1), memory

    def project(self, outputs: Tensor) -> Tensor:
        return self.output(outputs)

    def step(self, tokens: Tensor, state: Tensor) -> tuple[Tensor, Tensor]:
        """(B, L) tokens -> (B, L, V) logits for the next token after each position, and the new memory."""
        out, memory = self.hidden(tokens, state)
        return self.project(out), memory

    def select(self, state: Tensor, index: Tensor) -> Tensor:
        """Row i of the result is row index[i] of the (B, N, d) memory."""
        return state.index_select(0, index)
