"""Qwen3 as an encoder: the backbone of jina-embeddings-v5-text-small and Qwen3-Embedding.

Token embeddings -> N x [RMSNorm -> GQA attention (q/k RMSNorm per head, RoPE, causal) -> residual
-> RMSNorm -> SwiGLU MLP -> residual] -> final RMSNorm. Batches are right-padded; every layer but
attention runs on the real tokens' rows only (base.Packing), and in attention the causal mask alone
keeps every real token away from the pads.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from .base import BaseArgs, Packing, RMSNorm, RoPE, TokenEmbedding, attention, rope_settings
from .kernels import from_heads, swiglu, to_heads

CAUSAL = True


@dataclasses.dataclass
class ModelArgs(BaseArgs):
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    num_key_value_heads: int
    vocab_size: int
    rms_norm_eps: float = 1e-6
    head_dim: int | None = None
    max_position_embeddings: int = 32768
    rope: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ModelArgs":
        args = super().from_config(config)
        args.head_dim = args.head_dim or args.hidden_size // args.num_attention_heads
        args.rope = rope_settings(config, args.head_dim)
        return args


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads, head_dim = args.num_attention_heads, args.num_key_value_heads, args.head_dim
        self.scale = head_dim ** -0.5
        self.q_proj = nn.Linear(args.hidden_size, self.n_heads * head_dim, bias=False)
        self.k_proj = nn.Linear(args.hidden_size, self.n_kv_heads * head_dim, bias=False)
        self.v_proj = nn.Linear(args.hidden_size, self.n_kv_heads * head_dim, bias=False)
        self.o_proj = nn.Linear(self.n_heads * head_dim, args.hidden_size, bias=False)
        self.q_norm = RMSNorm(head_dim, eps=args.rms_norm_eps)
        self.k_norm = RMSNorm(head_dim, eps=args.rms_norm_eps)
        self.rope = RoPE(head_dim, **args.rope)

    def __call__(self, x: mx.array, tokens: Packing) -> mx.array:
        T = x.shape[0]
        q = self.rope(self.q_norm(self.q_proj(x).reshape(T, self.n_heads, -1), reuse=True), tokens)  # (B, H, L, D)
        k = self.rope(self.k_norm(self.k_proj(x).reshape(T, self.n_kv_heads, -1), reuse=True), tokens)
        v = to_heads(self.v_proj(x).reshape(T, self.n_kv_heads, -1), tokens)
        out = attention(q, k, v, scale=self.scale, causal=CAUSAL)
        return self.o_proj(from_heads(out, tokens))


class MLP(nn.Module):
    def __init__(self, dim: int, hidden_dim: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.up_proj = nn.Linear(dim, hidden_dim, bias=False)
        self.down_proj = nn.Linear(hidden_dim, dim, bias=False)

    def __call__(self, x: mx.array) -> mx.array:
        return self.down_proj(swiglu(self.gate_proj(x), self.up_proj(x), reuse=True))


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.input_layernorm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)
        self.self_attn = Attention(args)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)
        self.mlp = MLP(args.hidden_size, args.intermediate_size)

    def __call__(self, x: mx.array, tokens: Packing) -> mx.array:
        h = x + self.self_attn(self.input_layernorm(x), tokens)
        return h + self.mlp(self.post_attention_layernorm(h))


class Model(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embed_tokens = TokenEmbedding(args.vocab_size, args.hidden_size)
        self.layers = [TransformerBlock(args) for _ in range(args.num_hidden_layers)]
        self.norm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)

    @property
    def dim(self) -> int:
        return self.args.hidden_size

    def __call__(self, input_ids: mx.array, lengths: mx.array) -> mx.array:
        tokens = Packing(lengths, input_ids.shape[1])
        h = self.embed_tokens(tokens.pack(input_ids))  # (T, D): real tokens only, from here to the end
        for layer in self.layers:
            h = layer(h, tokens)
        return tokens.unpack(self.norm(h))


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Accept bare Qwen3Model keys or a `model.` prefix; drop the LM head an encoder does not use."""
    return {k.removeprefix("model."): v for k, v in weights.items() if not k.startswith("lm_head.")}
