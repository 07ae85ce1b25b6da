"""EuroBERT: the bidirectional Llama-style encoder behind jina-embeddings-v5-text-nano.

Token embeddings -> N x [RMSNorm -> GQA attention (RoPE, no causal mask, key padding mask) -> residual
-> RMSNorm -> SwiGLU MLP -> residual] -> final RMSNorm. Unlike a decoder, every token sees the pads
of its row unless they are masked, so the key padding mask is what makes batches exact. Every layer
but attention runs on the real tokens' rows only (base.Packing).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..errors import ModelFormatError
from .base import (BaseArgs, Packing, RMSNorm, RoPE, TokenEmbedding, attention, key_padding_mask,
                   rope_settings)
from .kernels import from_heads, gelu, swiglu, to_heads

CAUSAL = False


def _silu_gated(gate: mx.array, up: mx.array) -> mx.array:
    return swiglu(gate, up, reuse=True)  # gate: the projection's output, read by nothing else


# hidden_act -> the gated product act(gate) * up (SiLU's has a fast CPU kernel of its own).
ACTIVATIONS = {"silu": _silu_gated, "swish": _silu_gated, "gelu": lambda g, u: gelu(g, reuse=True) * u,
               "gelu_pytorch_tanh": lambda g, u: nn.gelu_approx(g) * u}


@dataclasses.dataclass
class ModelArgs(BaseArgs):
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    vocab_size: int
    num_key_value_heads: int | None = None
    head_dim: int | None = None
    rms_norm_eps: float = 1e-5
    hidden_act: str = "silu"
    attention_bias: bool = False
    mlp_bias: bool = False
    max_position_embeddings: int = 8192
    rope: dict[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ModelArgs":
        args = super().from_config(config)
        args.num_key_value_heads = args.num_key_value_heads or args.num_attention_heads
        args.head_dim = args.head_dim or args.hidden_size // args.num_attention_heads
        if args.hidden_act not in ACTIVATIONS:
            raise ModelFormatError(f"config.json: hidden_act {args.hidden_act!r} is not supported for EuroBERT "
                                   f"(supported: {', '.join(ACTIVATIONS)}).")
        args.rope = rope_settings(config, args.head_dim)
        return args


class Attention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads, self.n_kv_heads, head_dim = args.num_attention_heads, args.num_key_value_heads, args.head_dim
        self.scale = head_dim ** -0.5
        bias = args.attention_bias
        self.q_proj = nn.Linear(args.hidden_size, self.n_heads * head_dim, bias=bias)
        self.k_proj = nn.Linear(args.hidden_size, self.n_kv_heads * head_dim, bias=bias)
        self.v_proj = nn.Linear(args.hidden_size, self.n_kv_heads * head_dim, bias=bias)
        self.o_proj = nn.Linear(self.n_heads * head_dim, args.hidden_size, bias=bias)
        self.rope = RoPE(head_dim, **args.rope)

    def __call__(self, x: mx.array, tokens: Packing, key_mask: mx.array) -> mx.array:
        T = x.shape[0]
        q = self.rope(self.q_proj(x).reshape(T, self.n_heads, -1), tokens)  # -> (B, H, L, D)
        k = self.rope(self.k_proj(x).reshape(T, self.n_kv_heads, -1), tokens)
        v = to_heads(self.v_proj(x).reshape(T, self.n_kv_heads, -1), tokens)
        out = attention(q, k, v, scale=self.scale, causal=CAUSAL, key_mask=key_mask)
        return self.o_proj(from_heads(out, tokens))


class MLP(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        dim, hidden, bias = args.hidden_size, args.intermediate_size, args.mlp_bias
        self.gate_proj = nn.Linear(dim, hidden, bias=bias)
        self.up_proj = nn.Linear(dim, hidden, bias=bias)
        self.down_proj = nn.Linear(hidden, dim, bias=bias)
        self.act = ACTIVATIONS[args.hidden_act]

    def __call__(self, x: mx.array) -> mx.array:
        return self.down_proj(self.act(self.gate_proj(x), self.up_proj(x)))


class TransformerBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.input_layernorm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)
        self.self_attn = Attention(args)
        self.post_attention_layernorm = RMSNorm(args.hidden_size, eps=args.rms_norm_eps)
        self.mlp = MLP(args)

    def __call__(self, x: mx.array, tokens: Packing, key_mask: mx.array) -> mx.array:
        h = x + self.self_attn(self.input_layernorm(x), tokens, key_mask)
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
        key_mask = key_padding_mask(lengths, input_ids.shape[1])
        h = self.embed_tokens(tokens.pack(input_ids))  # (T, D): real tokens only, except in attention
        for layer in self.layers:
            h = layer(h, tokens, key_mask)
        return tokens.unpack(self.norm(h))


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Accept bare EuroBertModel keys or a `model.` prefix (EuroBertForMaskedLM); drop the LM head."""
    return {k.removeprefix("model."): v for k, v in weights.items()
            if not k.startswith(("lm_head.", "dense.", "classifier."))}
