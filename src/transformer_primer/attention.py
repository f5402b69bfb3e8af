"""Attention: scaled dot-product attention and multi-head attention.

$$
\\operatorname{Attention}(Q, K, V) = \\operatorname{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d_k}}\\right)V
$$

Shapes use the paper's names: ``n_q`` queries, ``n_k`` keys (and values), ``d_k`` the
query/key size, ``d_v`` the value size, ``d_model`` the model width, ``n_heads`` heads.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    as_array,
    check_attention_fits,
    check_bool_mask,
    check_features,
    check_fits_linear,
    check_float_dtype,
    check_positive_int,
    check_qkv,
    check_rng,
    check_size,
)
from .caches import AttentionCache
from .kernels import attend, scaled_dot_product_attention, tiled_attention
from .numerics import softmax
from .positional import _rotate_pairs, alibi_bias

__all__ = [
    "MultiHeadAttention",
    "merge_heads",
    "reference_attention",
    "scaled_dot_product_attention",  # from .kernels: the fast form, re-exported where it began
    "split_heads",
    "tiled_attention",  # from .kernels
]

Array = NDArray[np.floating]


# --8<-- [start:reference_attention]
# The readable form, line by line as in the paper. scaled_dot_product_attention (kernels.py)
# computes the same numbers, faster; tiled_attention computes them without the n_q x n_k matrix.
def reference_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None = None
) -> tuple[Array, Array]:
    """Scaled dot-product attention written exactly as the equation reads.

    ``softmax(q k^T / sqrt(d_k)) v``: the textbook form, kept for reading and as the
    reference that the fast
    [scaled_dot_product_attention][transformer_primer.kernels.scaled_dot_product_attention]
    and [tiled_attention][transformer_primer.kernels.tiled_attention] are tested against.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries, one row per position that asks.
    k : array_like, shape (..., n_k, d_k)
        Keys, one row per position that can be attended to.
    v : array_like, shape (..., n_k, d_v)
        Values, what each key position passes on.
    mask : array_like of bool, optional, broadcastable to (..., n_q, n_k)
        ``True`` = may attend. Rows are queries, columns are keys. A query whose keys
        are all masked gets zero weights and a zero output.

    Returns
    -------
    output : numpy.ndarray, shape (..., n_q, d_v)
        Each query's weighted average of the values.
    weights : numpy.ndarray, shape (..., n_q, n_k)
        The softmax weights; each row sums to 1 (or is all 0 when fully masked).

    Raises
    ------
    TypeError
        If an input is not a float array, the dtypes differ, or the mask is not boolean.
    ValueError
        If the shapes do not fit together, an input is empty or holds NaN or infinity,
        or ``q`` and ``k`` are so large that the scores would overflow.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[10.0], [20.0]])
    >>> out, w = reference_attention(q, k, v)
    >>> w.round(4)
    array([[0.6698, 0.3302]])
    >>> out.round(4)
    array([[13.3024]])
    """
    q, k, v = check_qkv(q, k, v)
    d_k = q.shape[-1]
    # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)
    if mask is not None:
        mask = check_bool_mask("mask", mask, scores.shape, "(..., n_q, n_k)")
        scores = np.where(mask, scores, -np.inf)  # blocked keys get weight exactly 0
    weights = softmax(scores, axis=-1)  # (..., n_q, n_k), rows sum to 1
    output = weights @ v  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    return output, weights


# --8<-- [end:reference_attention]


# --8<-- [start:heads]
def split_heads(x: Array, n_heads: int) -> Array:
    """Split the last axis into heads: head ``h`` takes columns ``h*d_k:(h+1)*d_k``.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., n, d_model)
    n_heads : int
        Must divide ``d_model``; each head has ``d_k = d_model // n_heads`` columns.

    Returns
    -------
    numpy.ndarray, shape (..., n_heads, n, d_k)

    Raises
    ------
    TypeError
        If ``n_heads`` is not an integer.
    ValueError
        If ``x`` has fewer than 2 dimensions or ``n_heads`` does not divide ``d_model``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 4)  # n = 2 positions, d_model = 4
    >>> split_heads(x, 2)  # head 0 gets columns 0:2, head 1 gets columns 2:4
    array([[[0., 1.],
            [4., 5.]],
    <BLANKLINE>
           [[2., 3.],
            [6., 7.]]])
    """
    x = as_array("x", x, "an array of shape (..., n, d_model)")  # any dtype: splitting only moves entries
    if x.ndim < 2:
        raise ValueError(
            f"x must have shape (..., n, d_model) with at least 2 dimensions, got shape {x.shape}"
        )
    n_heads = check_positive_int("n_heads", n_heads)
    if x.shape[-1] % n_heads:
        raise ValueError(f"n_heads must divide d_model, got n_heads={n_heads} for x of shape {x.shape}")
    *lead, n, d_model = x.shape
    d_k = d_model // n_heads
    x = x.reshape(*lead, n, n_heads, d_k)  # (..., n, d_model) -> (..., n, n_heads, d_k)
    return np.swapaxes(x, -3, -2)  # (..., n, n_heads, d_k) -> (..., n_heads, n, d_k)


def merge_heads(x: Array) -> Array:
    """Undo [split_heads][transformer_primer.attention.split_heads]: concatenate the heads.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., n_heads, n, d_k)

    Returns
    -------
    numpy.ndarray, shape (..., n, n_heads * d_k)

    Raises
    ------
    ValueError
        If ``x`` has fewer than 3 dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 4)
    >>> bool((merge_heads(split_heads(x, 2)) == x).all())
    True
    """
    x = as_array("x", x, "an array of shape (..., n_heads, n, d_k)")
    if x.ndim < 3:
        raise ValueError(
            f"x must have shape (..., n_heads, n, d_k) with at least 3 dimensions, got shape {x.shape}"
        )
    *lead, n_heads, n, d_k = x.shape
    x = np.swapaxes(x, -3, -2)  # (..., n_heads, n, d_k) -> (..., n, n_heads, d_k)
    return x.reshape(*lead, n, n_heads * d_k)  # (..., n, n_heads, d_k) -> (..., n, d_model)


# --8<-- [end:heads]


class MultiHeadAttention:
    """Multi-head attention: ``n_heads`` attentions side by side, each of size ``d_k``.

    Each projection is applied as ``x @ w + b`` with ``w`` of shape (d_model, d_model);
    head ``h`` uses columns ``h*d_k:(h+1)*d_k`` of ``w_q``, ``w_k`` and ``w_v``.

    Parameters
    ----------
    d_model : int
        Model width, the size of each input and output vector.
    n_heads : int
        Number of heads; must divide ``d_model``.
    rng : numpy.random.Generator
        Source of the random initial weights (uniform in +-1/sqrt(d_model)).
    dtype : numpy dtype
        ``float64`` (default) or ``float32``.

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, ``dtype`` is not a float
        type, or (when called) an input is not a float array of the weights' dtype or the
        mask is not boolean.
    ValueError
        If a size is not positive, ``n_heads`` does not divide ``d_model``, or (when
        called) the shapes do not fit ``(n, d_model)`` / ``(batch, n, d_model)``, an
        input is empty or not finite, or the mask does not broadcast to (..., n_q, n_k).

    Attributes
    ----------
    w_q, w_k, w_v, w_o : numpy.ndarray, shape (d_model, d_model)
        Query, key, value and output projections.
    b_q, b_k, b_v, b_o : numpy.ndarray, shape (d_model,)
        Their biases (zeros at initialisation).

    Examples
    --------
    >>> import numpy as np
    >>> mha = MultiHeadAttention(d_model=4, n_heads=2, rng=np.random.default_rng(0))
    >>> x = np.ones((3, 4))  # n = 3 positions
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape  # weights: one (n_q, n_k) matrix per head
    ((3, 4), (2, 3, 3))
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        rng: np.random.Generator,
        dtype: type[np.floating] | np.dtype = np.float64,
    ) -> None:
        d_model = check_positive_int("d_model", d_model)
        n_heads = check_positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}"
            )
        rng = check_rng(rng)
        dtype = check_float_dtype("dtype", dtype)
        check_size("d_model", (4, d_model, d_model), dtype, "the four (d_model, d_model) projections")
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        bound = 1.0 / math.sqrt(d_model)
        shape = (d_model, d_model)
        self.w_q: Array = rng.uniform(-bound, bound, shape).astype(dtype)
        self.w_k: Array = rng.uniform(-bound, bound, shape).astype(dtype)
        self.w_v: Array = rng.uniform(-bound, bound, shape).astype(dtype)
        self.w_o: Array = rng.uniform(-bound, bound, shape).astype(dtype)
        self.b_q: Array = np.zeros(d_model, dtype=dtype)
        self.b_k: Array = np.zeros(d_model, dtype=dtype)
        self.b_v: Array = np.zeros(d_model, dtype=dtype)
        self.b_o: Array = np.zeros(d_model, dtype=dtype)
        # Positions inside attention, for a GPT (GPTConfig.positions); off in every other model.
        self.rotary = False  # RoPE: turn each head's queries and keys by their position's angle
        self.alibi = False  # ALiBi: add each head's distance penalty to the scores

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name (the arrays themselves, not copies)."""
        return {
            "w_q": self.w_q,
            "w_k": self.w_k,
            "w_v": self.w_v,
            "w_o": self.w_o,
            "b_q": self.b_q,
            "b_k": self.b_k,
            "b_v": self.b_v,
            "b_o": self.b_o,
        }

    def __call__(
        self,
        query: ArrayLike,
        key: ArrayLike,
        value: ArrayLike,
        mask: ArrayLike | None = None,
        *,
        cache: AttentionCache | None = None,
    ) -> tuple[Array, Array]:
        """Attend from ``query`` positions to ``key``/``value`` positions.

        Checks the inputs, then runs [forward][transformer_primer.attention.MultiHeadAttention.forward].

        Parameters
        ----------
        query : array_like, shape (n_q, d_model) or (batch, n_q, d_model)
        key, value : array_like, shape (n_k, d_model) or (batch, n_k, d_model)
            Self-attention passes the same array three times; cross-attention passes
            the decoder states as ``query`` and the encoder output as ``key`` and ``value``.
        mask : array_like of bool, optional, broadcastable to (n_q, n_k) or (batch, n_q, n_k)
            ``True`` = may attend; the same mask applies to every head. A query whose keys
            are all masked gets weights 0 and an output of ``b_o`` (PyTorch's
            ``nn.MultiheadAttention`` gives NaN there).
        cache : AttentionCache, optional
            When given, the forward pass stores in it what
            [mha_backward][transformer_primer.grad.mha_backward] needs.

        Returns
        -------
        output : numpy.ndarray, shape (n_q, d_model) or (batch, n_q, d_model)
        weights : numpy.ndarray, shape (n_heads, n_q, n_k) or (batch, n_heads, n_q, n_k)
        """
        layout = "(n, d_model) or (batch, n, d_model)"
        dtype = self.w_q.dtype
        query, key, value = (
            check_features(name, x, self.d_model, dtype, ndim=(2, 3), layout=layout)
            for name, x in (("query", query), ("key", key), ("value", value))
        )
        if key.shape != value.shape:
            raise ValueError(f"key and value must have the same shape, got {key.shape} and {value.shape}")
        if query.ndim != key.ndim or (query.ndim == 3 and query.shape[0] != key.shape[0]):
            raise ValueError(
                f"query and key must have the same batch layout, got shapes {query.shape} and {key.shape}"
            )
        self.check_sizes(query=query, key=key, value=value)
        if mask is not None:
            scores_shape = (*query.shape[:-2], query.shape[-2], key.shape[-2])
            mask = check_bool_mask("mask", mask, scores_shape, "(..., n_q, n_k)")
        return self.forward(query, key, value, mask, {} if cache is None else cache)

    def check_sizes(
        self, *, query: Array | None = None, key: Array | None = None, value: Array | None = None
    ) -> None:
        """Refuse inputs so large that a projection could overflow the dtype (a silent inf, then NaN).

        ``query`` goes through ``w_q``, ``key`` through ``w_k``, ``value`` through ``w_v``
        then ``w_o``. Called at the door, by this layer or by a layer that holds it.

        Raises
        ------
        ValueError
            If an input could overflow, naming it and the projection.
        """
        if query is not None:
            check_fits_linear("query", query, ("query @ w_q + b_q", self.w_q, self.b_q))
        if key is not None:
            check_fits_linear("key", key, ("key @ w_k + b_k", self.w_k, self.b_k))
        if value is not None:
            check_fits_linear(
                "value",
                value,
                ("value @ w_v + b_v", self.w_v, self.b_v),
                ("heads @ w_o + b_o", self.w_o, self.b_o),
            )

    # --8<-- [start:mha_forward]
    def forward(
        self, query: Array, key: Array, value: Array, mask: NDArray[np.bool_] | None, cache: AttentionCache
    ) -> tuple[Array, Array]:
        """The computation of ``__call__``, on inputs already checked.

        The layers that hold this one call it directly, after checking their own input.
        """
        # (..., n, d_model) -> (..., n_heads, n, d_k), n = n_q for the queries, n_k for the others
        q = split_heads(query @ self.w_q + self.b_q, self.n_heads)  # (..., n_heads, n_q, d_k)
        k = split_heads(key @ self.w_k + self.b_k, self.n_heads)  # (..., n_heads, n_k, d_k)
        v = split_heads(value @ self.w_v + self.b_v, self.n_heads)  # (..., n_heads, n_k, d_k)
        check_attention_fits(q, k, v)  # the scores of these projections must fit the dtype
        if self.rotary:  # RoPE (a GPT option): positions 0..n-1, the same turn for q and k
            q, k = rotary_heads(q), rotary_heads(k)  # (..., n_heads, n, d_k), turned by position
        if mask is not None:
            mask = np.expand_dims(mask, -3)  # (..., n_q, n_k) -> (..., 1, n_q, n_k): every head
        kernel = alibi_attention if self.alibi else attend  # ALiBi (a GPT option): biased scores
        heads, weights = kernel(q, k, v, mask)  # (..., n_heads, n_q, d_k), (..., n_heads, n_q, n_k)
        merged = merge_heads(heads)  # (..., n_heads, n_q, d_k) -> (..., n_q, d_model)
        assert weights is not None  # attend returns the weights unless told not to
        cache.update(
            {
                "query": query,
                "key": key,
                "value": value,
                "q": q,
                "k": k,
                "v": v,
                "weights": weights,
                "merged": merged,
            }
        )
        output = merged @ self.w_o + self.b_o  # (..., n_q, d_model) -> (..., n_q, d_model)
        return output, weights

    # --8<-- [end:mha_forward]


Mask = NDArray[np.bool_]


# --8<-- [start:positional_attention]
# RoPE and ALiBi inside multi-head attention: what a GPT built with positions="rope" or "alibi"
# runs in every block (GPTConfig.positions; the lesson docs/lessons/positions.md).
def rotary_heads(x: Array, start: int = 0) -> Array:
    """RoPE on checked heads (..., n, d_k): row ``r`` turned by the angles of position ``start + r``.

    The full forward pass turns positions ``0 .. n - 1``; a cached step turns its one new row
    at its true position ``start``.
    """
    return _rotate_pairs(x, np.arange(start, start + x.shape[-2]), 10000.0)


def alibi_attention(q: Array, k: Array, v: Array, mask: Mask | None) -> tuple[Array, Array]:
    """Attention of checked heads (..., n_heads, n_q, d_k) with ALiBi's bias added to the scores.

    The queries are the last ``n_q`` of ``n_k`` positions (``n_q = n_k`` in a full pass, 1 in a
    cached step). The bias ([alibi_bias][transformer_primer.positional.alibi_bias]) is a
    constant: the backward pass of the softmax and the products is unchanged.

    Returns
    -------
    output : numpy.ndarray, shape (..., n_heads, n_q, d_v)
    weights : numpy.ndarray, shape (..., n_heads, n_q, n_k)
    """
    n_heads, n_q, n_k = q.shape[-3], q.shape[-2], k.shape[-2]
    bias = alibi_bias(n_heads, n_q, n_k).astype(q.dtype)  # (n_heads, n_q, n_k), -inf after query
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1]) + bias  # (..., n_heads, n_q, n_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # (..., n_heads, n_q, n_k)
    weights = softmax(scores, axis=-1)  # (..., n_heads, n_q, n_k)
    return weights @ v, weights  # (..., n_heads, n_q, d_v)


# --8<-- [end:positional_attention]
