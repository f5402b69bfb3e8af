"""Gradients: the backward pass of every piece of the model, written out by hand.

Training needs, for every weight, how much the loss changes when that weight changes:
the gradient. The chain rule gives it piece by piece, from the loss back to the inputs.
Each function here takes the gradient of the loss with respect to a piece's *output*
(``dout``, the same shape as the output) and returns the gradients with respect to the
piece's *inputs* and *weights*. The forward pass, called with a ``cache`` dict, keeps the
intermediate values that these functions read; the forward code is never written twice.

Conventions: ``dx`` always has the shape of ``x``; weight gradients come back in a dict
keyed like the layer's ``parameters()``; a ``...`` in a shape is any leading batch axes,
which every weight gradient sums over (a weight is shared by every position and example).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from .attention import MultiHeadAttention, merge_heads, split_heads
from .caches import (
    AttentionCache,
    DecoderCache,
    DecoderLayerCache,
    EncoderCache,
    EncoderLayerCache,
    FeedForwardCache,
    GPTCache,
    LayerNormCache,
)
from .gpt import GPT
from .layers import DecoderLayer, EncoderLayer, FeedForward, LayerNorm, Residual
from .model import Transformer
from .regularization import Dropout, _smoothed_cross_entropy, check_rate

__all__ = [
    "attention_backward",
    "cross_entropy",
    "decoder_layer_backward",
    "embedding_backward",
    "encoder_layer_backward",
    "feed_forward_backward",
    "gpt_backward",
    "gpt_loss",
    "gpt_loss_and_grads",
    "layer_norm_backward",
    "learned_positions_backward",
    "linear_backward",
    "loss_and_grads",
    "mha_backward",
    "model_backward",
    "model_loss",
    "numerical_gradient",
    "relative_error",
    "residual_backward",
    "rotary_backward",
    "softmax_backward",
]

Array = NDArray[np.floating]
Grads = dict[str, Array]


def _prefixed(prefix: str, grads: Grads) -> Grads:
    return {f"{prefix}.{name}": g for name, g in grads.items()}


def _add(total: Grads, grads: Grads) -> Grads:
    """Add ``grads`` into ``total`` name by name (a weight used twice gets both)."""
    for name, g in grads.items():
        total[name] = total[name] + g if name in total else g
    return total


# --8<-- [start:linear_backward]
def linear_backward(dout: Array, x: Array, w: Array) -> tuple[Array, Array, Array]:
    """Backward of ``out = x @ w + b``: ``dx = dout w^T``, ``dw = x^T dout``, ``db`` = sum of ``dout``.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., d_out)
        Gradient of the loss with respect to ``out``.
    x : numpy.ndarray, shape (..., d_in)
        The input of the forward pass.
    w : numpy.ndarray, shape (d_in, d_out)
        The weight.

    Returns
    -------
    dx : numpy.ndarray, shape (..., d_in)
    dw : numpy.ndarray, shape (d_in, d_out)
        Summed over every leading axis: each row of ``x`` used the same ``w``.
    db : numpy.ndarray, shape (d_out,)

    Examples
    --------
    >>> import numpy as np
    >>> x, w = np.array([[1.0, 2.0]]), np.array([[3.0], [4.0]])
    >>> dx, dw, db = linear_backward(np.array([[1.0]]), x, w)  # out = 1*3 + 2*4
    >>> dx, dw.ravel(), db
    (array([[3., 4.]]), array([1., 2.]), array([1.]))
    """
    d_in, d_out = w.shape
    rows = dout.reshape(-1, d_out)  # (..., d_out) -> (rows, d_out): every position is a row
    dx = dout @ w.T  # (..., d_out) @ (d_out, d_in) -> (..., d_in)
    dw = x.reshape(-1, d_in).T @ rows  # (d_in, rows) @ (rows, d_out) -> (d_in, d_out)
    db = rows.sum(axis=0)  # (rows, d_out) -> (d_out,)
    return dx, dw, db


# --8<-- [end:linear_backward]


# --8<-- [start:embedding_backward]
def embedding_backward(dout: Array, ids: NDArray[np.integer], vocab_size: int) -> Array:
    """Backward of the scaled lookup ``out = weight[ids] * sqrt(d_model)``.

    Row ``i`` of the table receives the gradient of every position whose id is ``i``,
    times the scale; rows of ids that do not occur get 0. The positional encoding is
    added after the lookup and is fixed, so the gradient passes through it unchanged:
    ``d(embedding) = d(embedding + positions)``.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., d_model)
        Gradient with respect to the looked-up (and scaled) vectors.
    ids : numpy.ndarray of int, shape (...,)
        The ids of the forward pass.
    vocab_size : int
        Number of rows of the table.

    Returns
    -------
    numpy.ndarray, shape (vocab_size, d_model)
        Gradient with respect to ``weight``.

    Examples
    --------
    >>> import numpy as np
    >>> embedding_backward(np.ones((3, 4)), np.array([2, 0, 2]), vocab_size=3)  # scale sqrt(4) = 2
    array([[2., 2., 2., 2.],
           [0., 0., 0., 0.],
           [4., 4., 4., 4.]])
    """
    d_model = dout.shape[-1]
    dweight = np.zeros((vocab_size, d_model), dtype=dout.dtype)  # (vocab_size, d_model)
    np.add.at(dweight, ids.ravel(), dout.reshape(-1, d_model) * math.sqrt(d_model))  # repeated ids add up
    return dweight


# --8<-- [end:embedding_backward]


# --8<-- [start:positions_backward]
def learned_positions_backward(dout: Array, max_len: int) -> Array:
    """Backward of adding a learned table ``positions[:n]`` (max_len, d_model) to the embeddings.

    Row ``p`` of the table was added to the vector at position ``p`` of every sequence in the
    batch: it receives the sum of their gradients. Rows past the longest sequence get 0.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., n, d_model)
        Gradient with respect to the embeddings plus positions.
    max_len : int
        Number of rows of the table, ``>= n``.

    Returns
    -------
    numpy.ndarray, shape (max_len, d_model)

    Examples
    --------
    >>> import numpy as np
    >>> learned_positions_backward(np.ones((2, 3, 2)), max_len=4)  # 2 sequences of 3 positions
    array([[2., 2.],
           [2., 2.],
           [2., 2.],
           [0., 0.]])
    """
    n, d_model = dout.shape[-2:]
    dtable = np.zeros((max_len, d_model), dtype=dout.dtype)  # (max_len, d_model)
    dtable[:n] = dout.reshape(-1, n, d_model).sum(axis=0)  # (..., n, d_model) -> (n, d_model)
    return dtable


def rotary_backward(dout: Array, start: int = 0, base: float = 10000.0) -> Array:
    """Backward of RoPE ([rotary_heads][transformer_primer.attention.rotary_heads]): the turn back.

    Each pair ``(x_2i, x_2i+1)`` at position ``m`` was multiplied by the rotation ``R(m theta_i)``;
    the gradient goes back through its transpose, ``R(m theta_i)^T = R(-m theta_i)``.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., n, d)
        Gradient with respect to the turned queries (or keys).
    start : int
        Position of the first row (0 in a full pass).
    base : float
        RoPE's base, as in the forward pass.

    Returns
    -------
    numpy.ndarray, shape (..., n, d)
        Gradient with respect to the queries (or keys) before the turn.

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.positional import rotary_embedding
    >>> x = np.array([[0.3, -1.2], [0.7, 0.5]])
    >>> bool(np.allclose(rotary_backward(rotary_embedding(x)), x))  # R^T undoes the rotation R
    True
    """
    n, d = dout.shape[-2:]
    theta = base ** (-np.arange(0, d, 2) / d)  # (d / 2,)
    angle = (np.arange(start, start + n)[:, None] * theta).astype(dout.dtype)  # (n, d / 2)
    cos, sin = np.cos(angle), np.sin(angle)
    even, odd = dout[..., 0::2], dout[..., 1::2]  # (..., n, d / 2) each
    dx = np.empty_like(dout)  # (..., n, d)
    dx[..., 0::2] = even * cos + odd * sin  # the transpose of [[cos, -sin], [sin, cos]]
    dx[..., 1::2] = -even * sin + odd * cos
    return dx


# --8<-- [end:positions_backward]


# --8<-- [start:softmax_backward]
def softmax_backward(dweights: Array, weights: Array) -> Array:
    """Backward of ``weights = softmax(scores)`` along the last axis: ``p * (dp - sum(dp * p))``.

    A masked score has weight 0, so it gets gradient exactly 0.

    Parameters
    ----------
    dweights : numpy.ndarray, shape (..., n)
        Gradient with respect to the softmax output.
    weights : numpy.ndarray, shape (..., n)
        The softmax output of the forward pass.

    Returns
    -------
    numpy.ndarray, shape (..., n)
        Gradient with respect to the scores.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.array([0.5, 0.5, 0.0])  # the third score was masked
    >>> softmax_backward(np.array([1.0, 0.0, 5.0]), p)
    array([ 0.25, -0.25,  0.  ])
    """
    inner = np.sum(dweights * weights, axis=-1, keepdims=True)  # (..., 1)
    return weights * (dweights - inner)  # (..., n)


# --8<-- [end:softmax_backward]


# --8<-- [start:attention_backward]
def attention_backward(
    dout: Array, q: Array, k: Array, v: Array, weights: Array
) -> tuple[Array, Array, Array]:
    """Backward of scaled dot-product attention ``out = softmax(q k^T / sqrt(d_k)) v``.

    With ``P`` the weights: ``dv = P^T dout``; ``dq``, ``dk`` through the softmax's backward.

    Parameters
    ----------
    dout : numpy.ndarray, shape (..., n_q, d_v)
    q : numpy.ndarray, shape (..., n_q, d_k)
    k : numpy.ndarray, shape (..., n_k, d_k)
    v : numpy.ndarray, shape (..., n_k, d_v)
    weights : numpy.ndarray, shape (..., n_q, n_k)
        The attention weights of the forward pass (0 where masked).

    Returns
    -------
    dq : numpy.ndarray, shape (..., n_q, d_k)
    dk : numpy.ndarray, shape (..., n_k, d_k)
    dv : numpy.ndarray, shape (..., n_k, d_v)

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.attention import scaled_dot_product_attention
    >>> q, k, v = np.ones((1, 2)), np.eye(2), np.array([[1.0], [3.0]])
    >>> out, w = scaled_dot_product_attention(q, k, v)  # equal scores: weights 0.5, 0.5
    >>> dq, dk, dv = attention_backward(np.ones((1, 1)), q, k, v, w)
    >>> dv.ravel()  # each value moved the output by its weight
    array([0.5, 0.5])
    """
    scale = math.sqrt(q.shape[-1])
    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., n_k, n_q) @ (..., n_q, d_v) -> (..., n_k, d_v)
    dweights = dout @ np.swapaxes(v, -1, -2)  # (..., n_q, d_v) @ (..., d_v, n_k) -> (..., n_q, n_k)
    dscores = softmax_backward(dweights, weights) / scale  # (..., n_q, n_k)
    dq = dscores @ k  # (..., n_q, n_k) @ (..., n_k, d_k) -> (..., n_q, d_k)
    dk = np.swapaxes(dscores, -1, -2) @ q  # (..., n_k, n_q) @ (..., n_q, d_k) -> (..., n_k, d_k)
    return dq, dk, dv


# --8<-- [end:attention_backward]


# --8<-- [start:mha_backward]
def mha_backward(
    mha: MultiHeadAttention, dout: Array, cache: AttentionCache
) -> tuple[Array, Array, Array, Grads]:
    """Backward of [MultiHeadAttention][transformer_primer.attention.MultiHeadAttention].

    The forward pass is: three projections, split into heads, attention per head, merge,
    output projection. The backward runs those steps in reverse; the backward of
    ``merge_heads`` is ``split_heads`` and vice versa (they only move numbers around).

    Parameters
    ----------
    mha : MultiHeadAttention
        The layer (its weights are read, not changed).
    dout : numpy.ndarray, shape (..., n_q, d_model)
        Gradient with respect to the layer's output.
    cache : AttentionCache
        Filled by ``mha(query, key, value, mask, cache=cache)``.

    Returns
    -------
    dquery : numpy.ndarray, shape (..., n_q, d_model)
    dkey, dvalue : numpy.ndarray, shape (..., n_k, d_model)
        In self-attention the same array was passed three times: add the three.
    grads : dict of numpy.ndarray
        ``w_q, w_k, w_v, w_o`` of shape (d_model, d_model) and the biases of shape (d_model,).

    Examples
    --------
    >>> import numpy as np
    >>> mha = MultiHeadAttention(d_model=4, n_heads=2, rng=np.random.default_rng(0))
    >>> x, cache = np.ones((3, 4)), {}
    >>> out, _ = mha(x, x, x, cache=cache)
    >>> dq, dk, dv, grads = mha_backward(mha, np.ones_like(out), cache)
    >>> dq.shape, grads["w_o"].shape
    ((3, 4), (4, 4))
    """
    c, grads = cache, {}
    dmerged, grads["w_o"], grads["b_o"] = linear_backward(dout, c["merged"], mha.w_o)  # (..., n_q, d_model)
    dheads = split_heads(dmerged, mha.n_heads)  # (..., n_q, d_model) -> (..., n_heads, n_q, d_k)
    dq, dk, dv = attention_backward(dheads, c["q"], c["k"], c["v"], c["weights"])  # per head
    if mha.rotary:  # RoPE turned q and k after the projections: turn their gradients back
        dq, dk = rotary_backward(dq), rotary_backward(dk)
    dquery, grads["w_q"], grads["b_q"] = linear_backward(merge_heads(dq), c["query"], mha.w_q)
    dkey, grads["w_k"], grads["b_k"] = linear_backward(merge_heads(dk), c["key"], mha.w_k)
    dvalue, grads["w_v"], grads["b_v"] = linear_backward(merge_heads(dv), c["value"], mha.w_v)
    return dquery, dkey, dvalue, grads


# --8<-- [end:mha_backward]


# --8<-- [start:layer_norm_backward]
def layer_norm_backward(norm: LayerNorm, dout: Array, cache: LayerNormCache) -> tuple[Array, Grads]:
    """Backward of [LayerNorm][transformer_primer.layers.LayerNorm].

    ``dx = inv_std * (g - mean(g) - x_hat * mean(g * x_hat))`` with ``g = dout * gamma``:
    each ``x_i`` also moves its row's mean and variance, hence the two subtracted means.

    Parameters
    ----------
    norm : LayerNorm
    dout : numpy.ndarray, shape (..., d_model)
    cache : LayerNormCache
        Filled by ``norm(x, cache=cache)``: ``x_hat`` and ``inv_std``.

    Returns
    -------
    dx : numpy.ndarray, shape (..., d_model)
    grads : dict of numpy.ndarray
        ``gamma`` and ``beta``, shape (d_model,).

    Examples
    --------
    >>> import numpy as np
    >>> norm, cache = LayerNorm(3), {}
    >>> y = norm(np.array([[1.0, 2.0, 3.0]]), cache=cache)
    >>> dx, grads = layer_norm_backward(norm, np.ones((1, 3)), cache)
    >>> dx.round(6) + 0.0  # shifting every output by the same amount: no input can do that
    array([[0., 0., 0.]])
    """
    x_hat, inv_std = cache["x_hat"], cache["inv_std"]  # (..., d_model), (..., 1)
    d_model = x_hat.shape[-1]
    grads = {
        "gamma": (dout * x_hat).reshape(-1, d_model).sum(axis=0),  # (d_model,)
        "beta": dout.reshape(-1, d_model).sum(axis=0),  # (d_model,)
    }
    g = dout * norm.gamma  # (..., d_model), gradient with respect to x_hat
    mean_g = g.mean(axis=-1, keepdims=True)  # (..., 1)
    mean_gx = (g * x_hat).mean(axis=-1, keepdims=True)  # (..., 1)
    dx = inv_std * (g - mean_g - x_hat * mean_gx)  # (..., d_model)
    return dx, grads


# --8<-- [end:layer_norm_backward]


# --8<-- [start:feed_forward_backward]
def feed_forward_backward(ff: FeedForward, dout: Array, cache: FeedForwardCache) -> tuple[Array, Grads]:
    """Backward of [FeedForward][transformer_primer.layers.FeedForward], ``relu(x W1 + b1) W2 + b2``.

    ReLU passes the gradient where its output was positive and blocks it elsewhere.

    Parameters
    ----------
    ff : FeedForward
    dout : numpy.ndarray, shape (..., d_model)
    cache : FeedForwardCache
        Filled by ``ff(x, cache=cache)``: ``x`` and ``hidden``.

    Returns
    -------
    dx : numpy.ndarray, shape (..., d_model)
    grads : dict of numpy.ndarray
        ``w_1`` (d_model, d_ff), ``b_1`` (d_ff,), ``w_2`` (d_ff, d_model), ``b_2`` (d_model,).

    Examples
    --------
    >>> import numpy as np
    >>> ff, cache = FeedForward(d_model=4, d_ff=8, rng=np.random.default_rng(0)), {}
    >>> out = ff(np.ones((3, 4)), cache=cache)
    >>> dx, grads = feed_forward_backward(ff, np.ones_like(out), cache)
    >>> dx.shape, grads["w_1"].shape
    ((3, 4), (4, 8))
    """
    grads = {}
    dhidden, grads["w_2"], grads["b_2"] = linear_backward(dout, cache["hidden"], ff.w_2)  # (..., d_ff)
    dpre = dhidden * (cache["hidden"] > 0)  # (..., d_ff): ReLU's gradient is 1 or 0
    dx, grads["w_1"], grads["b_1"] = linear_backward(dpre, cache["x"], ff.w_1)  # (..., d_model)
    return dx, grads


# --8<-- [end:feed_forward_backward]


# --8<-- [start:residual_backward]
def residual_backward(
    block: Residual, dout: Array, cache: LayerNormCache, sublayer_backward: Callable[[Array], Array]
) -> tuple[Array, Grads]:
    """Backward of [Residual][transformer_primer.layers.Residual]: the norm's place, decided once.

    A residual ``x + f(...)`` passes its gradient both ways, straight through to ``x`` and
    through ``f``, and the two add up. ``sublayer_backward`` maps the gradient at the
    sublayer's output to the gradient at its input (and keeps the sublayer's own weight
    gradients itself).

    Parameters
    ----------
    block : Residual
    dout : numpy.ndarray, shape (..., d_model)
    cache : LayerNormCache
        The record the block's norm filled in the forward pass.
    sublayer_backward : callable
        ``(..., d_model) -> (..., d_model)``.

    Returns
    -------
    dx : numpy.ndarray, shape (..., d_model)
    grads : dict of numpy.ndarray
        The norm's: ``gamma`` and ``beta``.

    Examples
    --------
    >>> import numpy as np
    >>> block, cache = Residual(LayerNorm(2), norm_first=True), {}
    >>> out = block(np.array([[1.0, 3.0]]), lambda h: 10 * h, cache)
    >>> dx, grads = residual_backward(block, np.ones((1, 2)), cache, lambda d: 10 * d)
    >>> dx  # the skip passes 1 through; the normalised path adds nothing to a uniform shift
    array([[1., 1.]])
    """
    if block.norm_first:  # forward: out = x + f(norm(x))
        d_norm_out = sublayer_backward(dout)  # through f, to norm(x)
        d_x, grads = layer_norm_backward(block.norm, d_norm_out, cache)
        return dout + d_x, grads  # the skip, plus the path through f and the norm
    d_sum, grads = layer_norm_backward(block.norm, dout, cache)  # forward: out = norm(x + f(x))
    return d_sum + sublayer_backward(d_sum), grads  # the skip, plus the path through f


# --8<-- [end:residual_backward]


# --8<-- [start:encoder_layer_backward]
def _collect(
    grads: Grads, name: str, backward: Callable[[Array], tuple[Array, Grads]]
) -> Callable[[Array], Array]:
    """A sublayer's backward as residual_backward calls it: input gradient in and out.

    The sublayer's weight gradients go into ``grads``, named ``name.<weight>``.
    """

    def through(dout: Array) -> Array:
        dx, part = backward(dout)
        grads.update(_prefixed(name, part))
        return dx

    return through


def _self_attention_backward(
    mha: MultiHeadAttention, dout: Array, cache: AttentionCache
) -> tuple[Array, Grads]:
    """Self-attention used one input three times (query, key, value): its gradient is the sum."""
    dquery, dkey, dvalue, grads = mha_backward(mha, dout, cache)
    return dquery + dkey + dvalue, grads


def encoder_layer_backward(
    layer: EncoderLayer,
    dout: Array,
    cache: EncoderLayerCache,
    dropout: Callable[[Array, str], Array] | None = None,
) -> tuple[Array, Grads]:
    """Backward of [EncoderLayer][transformer_primer.layers.EncoderLayer], post- or pre-norm.

    The forward pass's two residual blocks, in reverse: first the feed-forward block, then
    the self-attention block, each through [residual_backward][transformer_primer.grad.residual_backward].
    Self-attention used its input three times (query, key and value): its gradient is the
    sum of the three. Each sublayer's weight gradients are collected as its backward runs
    (``_collect``).

    Parameters
    ----------
    layer : EncoderLayer
    dout : numpy.ndarray, shape (..., n, d_model)
    cache : EncoderLayerCache
        Filled by ``layer(x, mask, cache=cache)``.
    dropout : callable, optional
        ``dropout(d, name)``: the backward of the dropout the forward pass applied to the
        sublayer ``name``'s output (training with dropout only).

    Returns
    -------
    dx : numpy.ndarray, shape (..., n, d_model)
    grads : dict of numpy.ndarray
        Keyed like ``layer.parameters()``.

    Examples
    --------
    >>> import numpy as np
    >>> layer, cache = EncoderLayer(d_model=4, n_heads=2, d_ff=8, rng=np.random.default_rng(0)), {}
    >>> out = layer(np.ones((3, 4)), cache=cache)
    >>> dx, grads = encoder_layer_backward(layer, np.ones_like(out), cache)
    >>> dx.shape, sorted(grads) == sorted(layer.parameters())
    ((3, 4), True)
    """
    grads: Grads = {}
    undrop = dropout or (lambda d, name: d)  # the identity unless the forward pass dropped
    feed_forward = _collect(
        grads,
        "feed_forward",
        lambda d: feed_forward_backward(layer.feed_forward, undrop(d, "feed_forward"), cache["feed_forward"]),
    )
    attention = _collect(
        grads,
        "self_attn",
        lambda d: _self_attention_backward(layer.self_attn, undrop(d, "self_attn"), cache["self_attn"]),
    )
    d, part = residual_backward(layer.feed_forward_block, dout, cache["norm_2"], feed_forward)
    grads.update(_prefixed("norm_2", part))
    dx, part = residual_backward(layer.attention_block, d, cache["norm_1"], attention)
    grads.update(_prefixed("norm_1", part))
    return dx, grads


# --8<-- [end:encoder_layer_backward]


# --8<-- [start:decoder_layer_backward]
def decoder_layer_backward(
    layer: DecoderLayer, dout: Array, cache: DecoderLayerCache
) -> tuple[Array, Array, Grads]:
    """Backward of [DecoderLayer][transformer_primer.layers.DecoderLayer], post- or pre-norm.

    The three residual blocks in reverse. The cross-attention's keys and values both come
    from the encoder output ``memory``, so the layer also returns the gradient with respect
    to ``memory``: that is how the loss reaches the encoder.

    Parameters
    ----------
    layer : DecoderLayer
    dout : numpy.ndarray, shape (..., n_y, d_model)
    cache : DecoderLayerCache
        Filled by ``layer(y, memory, self_mask, memory_mask, cache=cache)``.

    Returns
    -------
    dy : numpy.ndarray, shape (..., n_y, d_model)
    dmemory : numpy.ndarray, shape (..., n_x, d_model)
    grads : dict of numpy.ndarray
        Keyed like ``layer.parameters()``.

    Examples
    --------
    >>> import numpy as np
    >>> layer, cache = DecoderLayer(d_model=4, n_heads=2, d_ff=8, rng=np.random.default_rng(0)), {}
    >>> out = layer(np.ones((2, 4)), np.ones((3, 4)), cache=cache)
    >>> dy, dmemory, grads = decoder_layer_backward(layer, np.ones_like(out), cache)
    >>> dy.shape, dmemory.shape
    ((2, 4), (3, 4))
    """
    grads: Grads = {}
    dmemory: list[Array] = []  # filled by the cross-attention's backward

    def cross_attention(d: Array) -> tuple[Array, Grads]:
        dquery, dkey, dvalue, part = mha_backward(layer.cross_attn, d, cache["cross_attn"])
        dmemory.append(dkey + dvalue)  # memory was both the keys and the values
        return dquery, part

    feed_forward = _collect(
        grads, "feed_forward", lambda d: feed_forward_backward(layer.feed_forward, d, cache["feed_forward"])
    )
    cross = _collect(grads, "cross_attn", cross_attention)
    attention = _collect(
        grads, "self_attn", lambda d: _self_attention_backward(layer.self_attn, d, cache["self_attn"])
    )
    d, part = residual_backward(layer.feed_forward_block, dout, cache["norm_3"], feed_forward)
    grads.update(_prefixed("norm_3", part))
    d, part = residual_backward(layer.cross_attention_block, d, cache["norm_2"], cross)
    grads.update(_prefixed("norm_2", part))
    dy, part = residual_backward(layer.self_attention_block, d, cache["norm_1"], attention)
    grads.update(_prefixed("norm_1", part))
    return dy, dmemory[0], grads


# --8<-- [end:decoder_layer_backward]


# --8<-- [start:cross_entropy]
def cross_entropy(
    logits: Array, targets: NDArray[np.integer], pad_id: int
) -> tuple[float, Array, NDArray[np.bool_]]:
    """Mean cross-entropy of softmax(logits) over the non-padding targets, and its gradient.

    The gradient is ``(softmax(logits) - onehot(targets)) / N``, ``N`` the number of real
    targets: a padded position adds nothing to the loss and gets gradient 0.

    Parameters
    ----------
    logits : numpy.ndarray, shape (..., n, vocab_size)
    targets : numpy.ndarray of int, shape (..., n)
        The token that should follow each position, ``pad_id`` where there is none.
    pad_id : int
        The padding id.

    Returns
    -------
    loss : float
    dlogits : numpy.ndarray, shape (..., n, vocab_size)
    real : numpy.ndarray of bool, shape (..., n)
        Which targets are real tokens (for accuracy counts).

    Raises
    ------
    ValueError
        If every target is padding (the mean would be 0 / 0).

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.zeros((2, 4))  # uniform over 4 tokens: loss log(4)
    >>> loss, dlogits, real = cross_entropy(logits, np.array([3, 0]), pad_id=0)
    >>> round(loss, 4), dlogits.round(3)  # the padded second row gets no gradient
    (1.3863, array([[ 0.25,  0.25,  0.25, -0.75],
           [ 0.  ,  0.  ,  0.  ,  0.  ]]))
    """
    real = targets != pad_id  # (..., n)
    count = int(real.sum())
    if count == 0:
        raise ValueError("targets must hold at least one token that is not padding, got only pad_id")
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., n, vocab_size), for stability
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # (..., n, vocab_size)
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (..., n)
    loss = -float(picked[real].sum()) / count
    onehot = np.eye(logits.shape[-1])[targets]  # (..., n) -> (..., n, vocab_size)
    dlogits = np.where(real[..., None], np.exp(log_probs) - onehot, 0.0) / count  # padded positions: 0
    return loss, dlogits, real


# --8<-- [end:cross_entropy]


# --8<-- [start:model_backward]
def model_backward(
    model: Transformer, dlogits: Array, enc_cache: EncoderCache, dec_cache: DecoderCache
) -> Grads:
    """Backward of the whole [Transformer][transformer_primer.model.Transformer].

    From the logits back through the output projection, the decoder's final norm
    (pre-norm only), the decoder layers (in reverse order), then, with the gradient that
    reached ``memory`` through every cross-attention, through the encoder's final norm
    (pre-norm only) and the encoder layers, and finally into the embedding table, which
    the source and the target share (so its two gradients are added).

    Parameters
    ----------
    model : Transformer
    dlogits : numpy.ndarray, shape (..., n_y, vocab_size)
    enc_cache, dec_cache : EncoderCache, DecoderCache
        Filled by ``model.encode(..., cache=enc_cache)`` and
        ``model.decode(..., cache=dec_cache)``.

    Returns
    -------
    dict of numpy.ndarray
        One gradient per entry of ``model.parameters()``, same names and shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.model import TransformerConfig
    >>> config = TransformerConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8)
    >>> model = Transformer(config, np.random.default_rng(0))
    >>> enc, dec = {}, {}
    >>> logits = model.decode(np.array([1, 3]), model.encode(np.array([4, 5]), cache=enc), cache=dec)
    >>> grads = model_backward(model, np.ones_like(logits), enc, dec)
    >>> sorted(grads) == sorted(model.parameters())
    True
    """
    vocab_size = model.config.vocab_size
    grads: Grads = {}
    dy, grads["w_out"], grads["b_out"] = linear_backward(dlogits, dec_cache["y"], model.w_out)
    if model.decoder_norm is not None:  # pre-norm: the norm that closes the decoder stack
        dy, part = layer_norm_backward(model.decoder_norm, dy, dec_cache["final_norm"])
        grads.update(_prefixed("decoder_norm", part))
    dmemory = np.zeros_like(
        dec_cache["layers"][0]["cross_attn"]["key"]
    )  # the memory's shape (..., n_x, d_model)
    for i in reversed(range(len(model.decoder_layers))):
        dy, dmem, g = decoder_layer_backward(model.decoder_layers[i], dy, dec_cache["layers"][i])
        grads.update(_prefixed(f"decoder.{i}", g))
        dmemory = dmemory + dmem  # every decoder layer reads the same memory
    dx = dmemory
    if model.encoder_norm is not None:  # pre-norm: the memory is the encoder stack's sum, normalised
        dx, part = layer_norm_backward(model.encoder_norm, dx, enc_cache["final_norm"])
        grads.update(_prefixed("encoder_norm", part))
    for i in reversed(range(len(model.encoder_layers))):
        dx, g = encoder_layer_backward(model.encoder_layers[i], dx, enc_cache["layers"][i])
        grads.update(_prefixed(f"encoder.{i}", g))
    d_tgt = embedding_backward(dy, dec_cache["embed"]["ids"], vocab_size)  # (vocab_size, d_model)
    d_src = embedding_backward(dx, enc_cache["embed"]["ids"], vocab_size)  # (vocab_size, d_model)
    grads["embedding.weight"] = d_tgt + d_src  # one table, used twice
    return grads


# --8<-- [end:model_backward]


# --8<-- [start:loss_and_grads]
def loss_and_grads(
    model: Transformer,
    src_ids: NDArray[np.integer],
    tgt_in: NDArray[np.integer],
    tgt_out: NDArray[np.integer],
) -> tuple[float, Grads, dict[str, int]]:
    """One forward and backward pass with teacher forcing on a padded batch.

    The decoder is given the *true* previous tokens ``tgt_in`` (start token, then the
    target) rather than its own guesses, and every position is scored against
    ``tgt_out`` (the target, then the end token) at once.

    Parameters
    ----------
    model : Transformer
    src_ids : numpy.ndarray of int, shape (batch, n_x)
        Sources, padded with ``pad_id``.
    tgt_in : numpy.ndarray of int, shape (batch, n_y)
        Decoder inputs: ``bos_id``, then the target, then padding.
    tgt_out : numpy.ndarray of int, shape (batch, n_y)
        What should come next at each position: the target, ``eos_id``, then padding.

    Returns
    -------
    loss : float
        Mean cross-entropy per real target token.
    grads : dict of numpy.ndarray
        One gradient per entry of ``model.parameters()``.
    counts : dict of int
        ``tokens`` (real target tokens) and ``correct`` (how many of them the model's
        most probable token got right).

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.model import TransformerConfig
    >>> config = TransformerConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8)
    >>> model = Transformer(config, np.random.default_rng(0))
    >>> src, tgt_in, tgt_out = np.array([[3, 4]]), np.array([[1, 4, 3]]), np.array([[4, 3, 2]])
    >>> loss, grads, counts = loss_and_grads(model, src, tgt_in, tgt_out)
    >>> counts["tokens"]
    3
    """
    enc_cache: EncoderCache = {}
    dec_cache: DecoderCache = {}
    logits = _forward(model, src_ids, tgt_in, enc_cache, dec_cache)  # (batch, n_y, vocab_size)
    loss, dlogits, real = cross_entropy(logits, tgt_out, model.config.pad_id)
    grads = model_backward(model, dlogits, enc_cache, dec_cache)
    correct = int(((logits.argmax(axis=-1) == tgt_out) & real).sum())
    return loss, grads, {"tokens": int(real.sum()), "correct": correct}


def _forward(
    model: Transformer,
    src_ids: NDArray[np.integer],
    tgt_in: NDArray[np.integer],
    enc_cache: EncoderCache | None = None,
    dec_cache: DecoderCache | None = None,
) -> Array:
    """Teacher-forced logits of a padded batch: the forward pass of training."""
    src_mask = model.source_mask(src_ids)  # (batch, 1, n_x): padded keys are hidden
    memory = model.encode(src_ids, src_mask, cache=enc_cache)  # (batch, n_x, d_model)
    return model.decode(tgt_in, memory, src_mask, cache=dec_cache)  # (batch, n_y, vocab_size)


# --8<-- [end:loss_and_grads]


def model_loss(
    model: Transformer,
    src_ids: NDArray[np.integer],
    tgt_in: NDArray[np.integer],
    tgt_out: NDArray[np.integer],
) -> float:
    """The loss of [loss_and_grads][transformer_primer.grad.loss_and_grads] alone: no cache, no backward.

    What a gradient check perturbs and re-evaluates, at half the cost.

    Parameters
    ----------
    model : Transformer
    src_ids, tgt_in, tgt_out : numpy.ndarray of int, shapes (batch, n_x), (batch, n_y), (batch, n_y)

    Returns
    -------
    float

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.model import TransformerConfig
    >>> config = TransformerConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8)
    >>> model = Transformer(config, np.random.default_rng(0))
    >>> batch = np.array([[3, 4]]), np.array([[1, 4, 3]]), np.array([[4, 3, 2]])
    >>> model_loss(model, *batch) == loss_and_grads(model, *batch)[0]
    True
    """
    logits = _forward(model, src_ids, tgt_in)
    return cross_entropy(logits, tgt_out, model.config.pad_id)[0]


# --8<-- [start:gradient_check]
def numerical_gradient(f: Callable[[], float], x: Array, eps: float = 1e-5) -> Array:
    """Central differences: ``(f(x + eps) - f(x - eps)) / (2 eps)``, one entry at a time.

    Changes ``x`` in place while it runs and restores it exactly afterwards.

    Parameters
    ----------
    f : callable
        Computes the loss (a float) from the current values of ``x``.
    x : numpy.ndarray, any shape, float64
        The array to differentiate with respect to.
    eps : float
        The step. Central differences have error O(eps^2), about 1e-10 here.

    Returns
    -------
    numpy.ndarray, same shape as ``x``

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([1.0, 2.0])
    >>> numerical_gradient(lambda: float(np.sum(x ** 3)), x).round(6)  # d/dx x^3 = 3 x^2
    array([ 3., 12.])
    """
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)  # views: writing to flat changes x
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + eps
        up = f()
        flat[i] = old - eps
        down = f()
        flat[i] = old
        gflat[i] = (up - down) / (2 * eps)
    return grad


def relative_error(analytic: Array, numeric: Array) -> float:
    """``|a - n| / (|a| + |n|)`` with Euclidean norms over all entries (0 when both are 0).

    Parameters
    ----------
    analytic, numeric : numpy.ndarray, same shape

    Returns
    -------
    float
        Below 1e-6 in float64 means the two gradients agree to about six digits.

    Examples
    --------
    >>> import numpy as np
    >>> relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0 + 1e-9])) < 1e-6
    True
    """
    denom = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return 0.0 if denom == 0 else float(np.linalg.norm(analytic - numeric) / denom)


# --8<-- [end:gradient_check]


def _named_backward(dropout: Dropout, prefix: str) -> Callable[[Array, str], Array]:
    """``dropout.backward`` for one block: its masks are named ``<prefix>.<sublayer>``."""
    return lambda d, name: dropout.backward(d, f"{prefix}.{name}")


# --8<-- [start:gpt_backward]
def gpt_backward(gpt: GPT, dlogits: Array, cache: GPTCache) -> Grads:
    """Backward of the decoder-only [GPT][transformer_primer.gpt.GPT].

    The forward pass in reverse: the output projection, the final layer norm, the blocks
    (each an encoder layer's backward, last block first), then the embedding table. No
    cross-attention, so no gradient goes anywhere but down the one stack.

    Parameters
    ----------
    gpt : GPT
    dlogits : numpy.ndarray, shape (..., n, vocab_size)
    cache : GPTCache
        Filled by ``gpt.logits(ids, cache=cache)``.

    Returns
    -------
    dict of numpy.ndarray
        One gradient per entry of ``gpt.parameters()``, same names and shapes.

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.gpt import GPTConfig
    >>> gpt = GPT(GPTConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8), np.random.default_rng(0))
    >>> cache = {}
    >>> logits = gpt.logits(np.array([1, 3, 4]), cache=cache)
    >>> grads = gpt_backward(gpt, np.ones_like(logits), cache)
    >>> sorted(grads) == sorted(gpt.parameters())
    True
    """
    grads: Grads = {}
    dh, dw_out, grads["b_out"] = linear_backward(dlogits, cache["h"], gpt.w_out)  # dh (..., n, d_model)
    dx, part = layer_norm_backward(gpt.final_norm, dh, cache["final_norm"])
    grads.update(_prefixed("final_norm", part))
    drop = cache.get("dropout")  # set only by a training pass with dropout
    for i in reversed(range(len(gpt.layers))):
        undrop = None if drop is None else _named_backward(drop, f"layers.{i}")
        dx, part = encoder_layer_backward(gpt.layers[i], dx, cache["layers"][i], undrop)  # (..., n, d)
        grads.update(_prefixed(f"layers.{i}", part))
    if drop is not None:
        dx = drop.backward(dx, "embed")  # (..., n, d_model)
    grads["embedding.weight"] = embedding_backward(dx, cache["embed"]["ids"], gpt.config.vocab_size)
    if gpt.config.tie_weights:  # one table used twice, at the bottom and at the top: the two add up
        grads["embedding.weight"] += dw_out.T  # (d_model, vocab_size) -> (vocab_size, d_model)
    else:
        grads["w_out"] = dw_out
    if gpt.config.positions == "learned":  # the table was added to the embeddings: dx reaches it
        grads["positions"] = learned_positions_backward(dx, gpt.config.max_len)
    return grads


# --8<-- [end:gpt_backward]


# --8<-- [start:gpt_loss_and_grads]
def gpt_loss_and_grads(
    gpt: GPT,
    ids: NDArray[np.integer],
    targets: NDArray[np.integer],
    *,
    smoothing: float = 0.0,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
) -> tuple[float, Grads, dict[str, int]]:
    """One forward and backward pass of a GPT on a padded batch: next-token prediction.

    ``targets[..., t]`` is the token that should follow ``ids[..., t]``: the input shifted
    left by one, with ``pad_id`` wherever nothing is to be learned (padding, or a prompt
    whose continuation is not the model's job). Every position is scored at once.

    Parameters
    ----------
    gpt : GPT
    ids : numpy.ndarray of int, shape (batch, n)
    targets : numpy.ndarray of int, shape (batch, n)
    smoothing : float
        Label smoothing (0: none), as
        [label_smoothed_cross_entropy][transformer_primer.regularization.label_smoothed_cross_entropy].
    dropout : float
        The dropout rate in this training pass (0: none), on the embeddings plus positions
        and on each sublayer's output; the masks are drawn from ``rng``.
    rng : numpy.random.Generator, optional
        Required when ``dropout > 0``.

    Returns
    -------
    loss : float
        Mean cross-entropy per real target token (against the smoothed targets if smoothing).
    grads : dict of numpy.ndarray
        One gradient per entry of ``gpt.parameters()``.
    counts : dict of int
        ``tokens`` (real targets) and ``correct`` (how many the most probable token got right).

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.gpt import GPTConfig
    >>> gpt = GPT(GPTConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8), np.random.default_rng(0))
    >>> loss, grads, counts = gpt_loss_and_grads(gpt, np.array([[1, 3, 4]]), np.array([[0, 4, 2]]))
    >>> counts["tokens"]  # the first target is padding: not counted
    2
    """
    cache: GPTCache = {}
    logits = gpt.forward(ids, cache, _training_dropout(dropout, rng))  # (batch, n, vocab_size)
    loss, dlogits, real = _loss(logits, targets, gpt.config.pad_id, smoothing)
    grads = gpt_backward(gpt, dlogits, cache)
    correct = int(((logits.argmax(axis=-1) == targets) & real).sum())
    return loss, grads, {"tokens": int(real.sum()), "correct": correct}


# --8<-- [end:gpt_loss_and_grads]


def _training_dropout(p: float, rng: np.random.Generator | None) -> Dropout | None:
    """A fresh [Dropout][transformer_primer.regularization.Dropout] for one pass, or None when p is 0."""
    p = check_rate("dropout", p)
    if p == 0:
        return None
    if rng is None:
        raise ValueError(f"dropout = {p} needs rng, a numpy.random.Generator for the masks; got None")
    return Dropout(p, rng)


def _loss(
    logits: Array, targets: NDArray[np.integer], pad_id: int, smoothing: float
) -> tuple[float, Array, NDArray[np.bool_]]:
    """Plain cross-entropy, or the label-smoothed one when ``smoothing`` > 0."""
    if check_rate("smoothing", smoothing) == 0:
        return cross_entropy(logits, targets, pad_id)
    return _smoothed_cross_entropy(logits, targets, pad_id, smoothing)


def gpt_loss(
    gpt: GPT,
    ids: NDArray[np.integer],
    targets: NDArray[np.integer],
    *,
    smoothing: float = 0.0,
    dropout: float = 0.0,
    rng: np.random.Generator | None = None,
) -> float:
    """The loss of [gpt_loss_and_grads][transformer_primer.grad.gpt_loss_and_grads] alone, for gradient checks.

    With dropout, pass a generator seeded the same way to both to draw the same masks.

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.gpt import GPTConfig
    >>> gpt = GPT(GPTConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8), np.random.default_rng(0))
    >>> batch = np.array([[1, 3, 4]]), np.array([[0, 4, 2]])
    >>> gpt_loss(gpt, *batch) == gpt_loss_and_grads(gpt, *batch)[0]
    True
    """
    logits = gpt.forward(ids, {}, _training_dropout(dropout, rng))  # (batch, n, vocab_size)
    return _loss(logits, targets, gpt.config.pad_id, smoothing)[0]
