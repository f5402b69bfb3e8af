"""Caches: what a forward pass keeps for its backward pass, one declared record per piece.

A layer called with ``cache=...`` fills the record with the intermediate values that the
matching backward function in [transformer_primer.grad][] reads; the forward code is
never written twice. Each record is a ``TypedDict``: the forward (in ``attention``,
``layers``, ``model``) and the backward (in ``grad``) name the same declared fields, and a
type checker holds them to it. A record starts empty and is filled by the forward pass, so
every field is optional until then (``total=False``).

The whole model's records can also be read flat, by dotted name, from
[Transformer.run_with_cache][transformer_primer.model.Transformer.run_with_cache]:
``cache["decoder.0.cross_attn.weights"]``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, TypedDict

import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from .regularization import Dropout

__all__ = [
    "AttentionCache",
    "DecoderCache",
    "DecoderLayerCache",
    "EmbeddingCache",
    "EncoderCache",
    "EncoderLayerCache",
    "FeedForwardCache",
    "GPTCache",
    "LayerNormCache",
]

Array = NDArray[np.floating]


class EmbeddingCache(TypedDict, total=False):
    """Kept by [Embedding][transformer_primer.layers.Embedding]."""

    ids: NDArray[np.integer]  # (...,): the token ids looked up


class LayerNormCache(TypedDict, total=False):
    """Kept by [LayerNorm][transformer_primer.layers.LayerNorm]."""

    x_hat: Array  # (..., d_model): the normalised input, mean 0 and variance ~1 per row
    inv_std: Array  # (..., 1): 1 / sqrt(var + eps) of each row


class FeedForwardCache(TypedDict, total=False):
    """Kept by [FeedForward][transformer_primer.layers.FeedForward]."""

    x: Array  # (..., d_model): the input
    hidden: Array  # (..., d_ff): relu(x @ w_1 + b_1)


class AttentionCache(TypedDict, total=False):
    """Kept by [MultiHeadAttention][transformer_primer.attention.MultiHeadAttention]."""

    query: Array  # (..., n_q, d_model): the inputs, as given
    key: Array  # (..., n_k, d_model)
    value: Array  # (..., n_k, d_model)
    q: Array  # (..., n_heads, n_q, d_k): the projections, split into heads
    k: Array  # (..., n_heads, n_k, d_k)
    v: Array  # (..., n_heads, n_k, d_k)
    weights: Array  # (..., n_heads, n_q, n_k): the attention weights
    merged: Array  # (..., n_q, d_model): the heads' outputs, concatenated


class EncoderLayerCache(TypedDict, total=False):
    """Kept by [EncoderLayer][transformer_primer.layers.EncoderLayer]: one record per sublayer."""

    self_attn: AttentionCache
    norm_1: LayerNormCache
    feed_forward: FeedForwardCache
    norm_2: LayerNormCache


class DecoderLayerCache(TypedDict, total=False):
    """Kept by [DecoderLayer][transformer_primer.layers.DecoderLayer]: one record per sublayer."""

    self_attn: AttentionCache
    norm_1: LayerNormCache
    cross_attn: AttentionCache
    norm_2: LayerNormCache
    feed_forward: FeedForwardCache
    norm_3: LayerNormCache


class EncoderCache(TypedDict, total=False):
    """Kept by [Transformer.encode][transformer_primer.model.Transformer.encode]."""

    embed: EmbeddingCache
    layers: list[EncoderLayerCache]  # one per encoder layer, in order
    final_norm: LayerNormCache  # pre-norm only: the layer norm after the stack


class DecoderCache(TypedDict, total=False):
    """Kept by [Transformer.decode][transformer_primer.model.Transformer.decode]."""

    embed: EmbeddingCache
    layers: list[DecoderLayerCache]  # one per decoder layer, in order
    final_norm: LayerNormCache  # pre-norm only: the layer norm after the stack
    y: Array  # (..., n_y, d_model): what w_out reads (after the final norm, in pre-norm)


class GPTCache(TypedDict, total=False):
    """Kept by [GPT.logits][transformer_primer.gpt.GPT.logits]."""

    embed: EmbeddingCache
    layers: list[EncoderLayerCache]  # one per block, in order (causal self-attention, pre-norm)
    final_norm: LayerNormCache  # the layer norm after the stack
    h: Array  # (..., n, d_model): the normalised states, before w_out
    dropout: Dropout  # training with dropout only: the masks drawn, by name
