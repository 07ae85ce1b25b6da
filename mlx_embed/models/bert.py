"""BERT as sentence-transformers uses it (all-MiniLM-L6-v2, bge-small, e5-small, ...).

word + absolute position + token_type embeddings -> LayerNorm -> N x [bidirectional attention (biases,
key padding mask) -> residual -> LayerNorm -> GELU MLP -> residual -> LayerNorm] (post-LN). No final
norm and no pooler: sentence-transformers pools the last layer's token states. Every layer but
attention runs on the real tokens' rows only (base.Packing).
"""

from __future__ import annotations

import dataclasses
from typing import Any

import mlx.core as mx
import mlx.nn as nn

from ..errors import InvalidArgumentError, ModelFormatError
from .base import BaseArgs, LayerNorm, Packing, TokenEmbedding, attention, key_padding_mask
from .kernels import from_heads, gelu, to_heads

CAUSAL = False

ACTIVATIONS = {
    "gelu": lambda x: gelu(x, reuse=True),  # x: the intermediate projection, read by nothing else
    "gelu_new": nn.gelu_approx,
    "gelu_pytorch_tanh": nn.gelu_approx,
    "gelu_fast": nn.gelu_approx,
    "quick_gelu": nn.gelu_fast_approx,
    "relu": nn.relu,
    "silu": nn.silu,
    "swish": nn.silu,
}


@dataclasses.dataclass
class ModelArgs(BaseArgs):
    hidden_size: int
    num_hidden_layers: int
    intermediate_size: int
    num_attention_heads: int
    vocab_size: int
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    layer_norm_eps: float = 1e-12
    hidden_act: str = "gelu"
    position_embedding_type: str = "absolute"

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> "ModelArgs":
        args = super().from_config(config)
        if args.position_embedding_type != "absolute":
            raise ModelFormatError(f"config.json: position_embedding_type {args.position_embedding_type!r} is "
                                   "not supported for BERT (only 'absolute').")
        if args.hidden_act not in ACTIVATIONS:
            raise ModelFormatError(f"config.json: hidden_act {args.hidden_act!r} is not supported for BERT "
                                   f"(supported: {', '.join(ACTIVATIONS)}).")
        return args


class Embeddings(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.word_embeddings = TokenEmbedding(args.vocab_size, args.hidden_size)
        self.position_embeddings = TokenEmbedding(args.max_position_embeddings, args.hidden_size)
        if args.type_vocab_size > 0:
            self.token_type_embeddings = TokenEmbedding(args.type_vocab_size, args.hidden_size)
        self.LayerNorm = LayerNorm(args.hidden_size, eps=args.layer_norm_eps)

    def __call__(self, input_ids: mx.array, tokens: Packing) -> mx.array:
        h = self.word_embeddings(tokens.pack(input_ids)) + self.position_embeddings(tokens.positions)
        if "token_type_embeddings" in self:
            # One segment per text: every token has token type 0.
            h = h + self.token_type_embeddings(mx.zeros((1,), dtype=mx.int32))
        return self.LayerNorm(h, reuse=True)  # h: the sum just made, read by nothing else


class SelfAttention(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.n_heads = args.num_attention_heads
        self.scale = (args.hidden_size // self.n_heads) ** -0.5
        self.query = nn.Linear(args.hidden_size, args.hidden_size)
        self.key = nn.Linear(args.hidden_size, args.hidden_size)
        self.value = nn.Linear(args.hidden_size, args.hidden_size)

    def __call__(self, x: mx.array, tokens: Packing, key_mask: mx.array) -> mx.array:
        T = x.shape[0]
        q, k, v = (to_heads(p(x).reshape(T, self.n_heads, -1), tokens) for p in (self.query, self.key, self.value))
        out = attention(q, k, v, scale=self.scale, causal=CAUSAL, key_mask=key_mask)
        return from_heads(out, tokens)


class DenseLayerNorm(nn.Module):
    """dense -> + residual -> LayerNorm (BERT's SelfOutput and Output)."""

    def __init__(self, in_dim: int, out_dim: int, eps: float):
        super().__init__()
        self.dense = nn.Linear(in_dim, out_dim)
        self.LayerNorm = LayerNorm(out_dim, eps=eps)

    def __call__(self, x: mx.array, residual: mx.array) -> mx.array:
        return self.LayerNorm(self.dense(x), residual, reuse=True)


class AttentionBlock(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.self = SelfAttention(args)
        self.output = DenseLayerNorm(args.hidden_size, args.hidden_size, args.layer_norm_eps)

    def __call__(self, x: mx.array, tokens: Packing, key_mask: mx.array) -> mx.array:
        return self.output(self.self(x, tokens, key_mask), x)


class Intermediate(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.dense = nn.Linear(args.hidden_size, args.intermediate_size)
        self.act = ACTIVATIONS[args.hidden_act]

    def __call__(self, x: mx.array) -> mx.array:
        return self.act(self.dense(x))


class Layer(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.attention = AttentionBlock(args)
        self.intermediate = Intermediate(args)
        self.output = DenseLayerNorm(args.intermediate_size, args.hidden_size, args.layer_norm_eps)

    def __call__(self, x: mx.array, tokens: Packing, key_mask: mx.array) -> mx.array:
        h = self.attention(x, tokens, key_mask)
        return self.output(self.intermediate(h), h)


class Encoder(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.layer = [Layer(args) for _ in range(args.num_hidden_layers)]


class Model(nn.Module):
    def __init__(self, args: ModelArgs):
        super().__init__()
        self.args = args
        self.embeddings = Embeddings(args)
        self.encoder = Encoder(args)

    @property
    def dim(self) -> int:
        return self.args.hidden_size

    @property
    def layers(self) -> list[Layer]:
        return self.encoder.layer

    def __call__(self, input_ids: mx.array, lengths: mx.array) -> mx.array:
        B, L = input_ids.shape
        if L > self.args.max_position_embeddings:
            raise InvalidArgumentError(f"Input of {L} tokens is longer than this BERT's "
                                   f"{self.args.max_position_embeddings} positions; truncate it (max_length).")
        tokens = Packing(lengths, L)
        key_mask = key_padding_mask(lengths, L)
        h = self.embeddings(input_ids, tokens)  # (T, D): real tokens only, except in attention
        for layer in self.encoder.layer:
            h = layer(h, tokens, key_mask)
        return tokens.unpack(h)


_DROPPED = ("pooler.", "cls.", "classifier.", "embeddings.position_ids", "embeddings.token_type_ids")


def sanitize(weights: dict[str, mx.array]) -> dict[str, mx.array]:
    """Accept BertModel keys bare or under `bert.`/`model.`; drop heads, the pooler and index buffers.

    Old TensorFlow-converted checkpoints name LayerNorm parameters gamma/beta.
    """
    out = {}
    for key, value in weights.items():
        key = key.removeprefix("model.").removeprefix("bert.")
        if key.startswith(_DROPPED):
            continue
        if key.endswith(".gamma"):
            key = key.removesuffix(".gamma") + ".weight"
        elif key.endswith(".beta"):
            key = key.removesuffix(".beta") + ".bias"
        out[key] = value
    return out
