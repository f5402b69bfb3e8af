"""Attention: scaled dot-product attention and multi-head attention.

.. math::

    \\operatorname{Attention}(Q, K, V) = \\operatorname{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d_k}}\\right)V

Shapes use the paper's names: ``n_q`` queries, ``n_k`` keys (and values), ``d_k`` the
query/key size, ``d_v`` the value size, ``d_model`` the model width, ``n_heads`` heads.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    check_bool_mask,
    check_fits_linear,
    check_float_array,
    check_float_dtype,
    check_max_abs,
    check_positive_int,
    describe,
)
from .numerics import softmax

__all__ = ["MultiHeadAttention", "merge_heads", "scaled_dot_product_attention", "split_heads"]

Array = NDArray[np.floating]


def _check_qkv(q: ArrayLike, k: ArrayLike, v: ArrayLike) -> tuple[Array, Array, Array]:
    q = check_float_array("q", q, min_ndim=2, layout="(..., n_q, d_k)")
    k = check_float_array("k", k, min_ndim=2, layout="(..., n_k, d_k)")
    v = check_float_array("v", v, min_ndim=2, layout="(..., n_k, d_v)")
    if not q.dtype == k.dtype == v.dtype:
        raise TypeError(f"q, k and v must share one dtype, got {q.dtype}, {k.dtype} and {v.dtype}")
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"q and k must have the same last axis d_k: q has shape {q.shape} (..., n_q, d_k), "
            f"k has shape {k.shape} (..., n_k, d_k)"
        )
    if k.shape[-2] != v.shape[-2]:
        raise ValueError(
            f"k and v must have the same number of positions n_k: k has shape {k.shape} "
            f"(..., n_k, d_k), v has shape {v.shape} (..., n_k, d_v)"
        )
    try:
        np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])
    except ValueError:
        raise ValueError(
            f"the leading (batch/head) axes of q {q.shape[:-2]}, k {k.shape[:-2]} and "
            f"v {v.shape[:-2]} do not broadcast together"
        ) from None
    # |q . k| <= d_k * max|q| * max|k|: refuse sizes whose scores could overflow to inf (then NaN).
    limit = float(np.finfo(q.dtype).max)
    q_max, k_max = (max(float(a.max()), -float(a.min())) for a in (q, k))
    if q.shape[-1] * q_max * k_max > limit:
        raise ValueError(
            f"q and k are too large for {q.dtype}: max |q| = {q_max:.3g} and max |k| = {k_max:.3g} "
            f"with d_k = {q.shape[-1]}, so the scores q @ k^T could overflow beyond {limit:.3g}; "
            "scale q and k down"
        )
    check_max_abs("v", v, limit / 2, "the weighted average weights @ v")
    return q, k, v


# --8<-- [start:scaled_dot_product_attention]
def scaled_dot_product_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None = None
) -> tuple[Array, Array]:
    """Scaled dot-product attention, returning the output and the attention weights.

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
    >>> out, w = scaled_dot_product_attention(q, k, v)
    >>> w.round(4)
    array([[0.6698, 0.3302]])
    >>> out.round(4)
    array([[13.3024]])
    """
    q, k, v = _check_qkv(q, k, v)
    d_k = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if mask is not None:
        mask = check_bool_mask("mask", mask, scores.shape, "(..., n_q, n_k)")
        scores = np.where(mask, scores, -np.inf)  # blocked keys get weight exactly 0
    weights = softmax(scores, axis=-1)  # (..., n_q, n_k), rows sum to 1
    output = weights @ v  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    return output, weights
# --8<-- [end:scaled_dot_product_attention]


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
    x = np.asarray(x)  # any dtype: splitting only moves entries
    if x.ndim < 2:
        raise ValueError(f"x must have shape (..., n, d_model) with at least 2 dimensions, got shape {x.shape}")
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
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(f"x must have shape (..., n_heads, n, d_k) with at least 3 dimensions, got shape {x.shape}")
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
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
        dtype = check_float_dtype("dtype", dtype)
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        bound = 1.0 / math.sqrt(d_model)
        for name in ("w_q", "w_k", "w_v", "w_o"):
            setattr(self, name, rng.uniform(-bound, bound, (d_model, d_model)).astype(dtype))
        for name in ("b_q", "b_k", "b_v", "b_o"):
            setattr(self, name, np.zeros(d_model, dtype=dtype))

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name (the arrays themselves, not copies)."""
        names = ("w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o")
        return {name: getattr(self, name) for name in names}

    def _check_input(self, name: str, x: ArrayLike) -> Array:
        x = check_float_array(name, x, ndim=(2, 3), layout="(n, d_model) or (batch, n, d_model)")
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"{name} must have last axis d_model = {self.d_model}, got shape {x.shape}"
            )
        if x.dtype != self.w_q.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the weights are {self.w_q.dtype}")
        steps = {  # the projections x goes through: refuse sizes that could overflow in them
            "query": [("query @ w_q + b_q", self.w_q, self.b_q)],
            "key": [("key @ w_k + b_k", self.w_k, self.b_k)],
            "value": [("value @ w_v + b_v", self.w_v, self.b_v), ("heads @ w_o + b_o", self.w_o, self.b_o)],
        }
        check_fits_linear(name, x, *steps[name])
        return x

    # --8<-- [start:mha_call]
    def __call__(
        self,
        query: ArrayLike,
        key: ArrayLike,
        value: ArrayLike,
        mask: ArrayLike | None = None,
        *,
        cache: dict | None = None,
    ) -> tuple[Array, Array]:
        """Attend from ``query`` positions to ``key``/``value`` positions.

        Parameters
        ----------
        query : array_like, shape (n_q, d_model) or (batch, n_q, d_model)
        key, value : array_like, shape (n_k, d_model) or (batch, n_k, d_model)
            Self-attention passes the same array three times; cross-attention passes
            the decoder states as ``query`` and the encoder output as ``key`` and ``value``.
        mask : array_like of bool, optional, broadcastable to (n_q, n_k) or (batch, n_q, n_k)
            ``True`` = may attend; the same mask applies to every head.
        cache : dict, optional
            When given, the forward pass stores in it what
            [mha_backward][transformer_primer.grad.mha_backward] needs (the inputs, the
            per-head ``q``, ``k``, ``v``, the weights and the merged heads).

        Returns
        -------
        output : numpy.ndarray, shape (n_q, d_model) or (batch, n_q, d_model)
        weights : numpy.ndarray, shape (n_heads, n_q, n_k) or (batch, n_heads, n_q, n_k)
        """
        query = self._check_input("query", query)
        key = self._check_input("key", key)
        value = self._check_input("value", value)
        if key.shape != value.shape:
            raise ValueError(f"key and value must have the same shape, got {key.shape} and {value.shape}")
        if query.ndim != key.ndim or (query.ndim == 3 and query.shape[0] != key.shape[0]):
            raise ValueError(
                f"query and key must have the same batch layout, got shapes {query.shape} and {key.shape}"
            )
        q = split_heads(query @ self.w_q + self.b_q, self.n_heads)  # (..., n_q, d_model) -> (..., n_heads, n_q, d_k)
        k = split_heads(key @ self.w_k + self.b_k, self.n_heads)  # (..., n_k, d_model) -> (..., n_heads, n_k, d_k)
        v = split_heads(value @ self.w_v + self.b_v, self.n_heads)  # (..., n_k, d_model) -> (..., n_heads, n_k, d_k)
        if mask is not None:
            scores_shape = (*query.shape[:-2], query.shape[-2], key.shape[-2])
            mask = check_bool_mask("mask", mask, scores_shape, "(..., n_q, n_k)")
            mask = np.expand_dims(mask, -3)  # (..., n_q, n_k) -> (..., 1, n_q, n_k): same for every head
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (..., n_heads, n_q, d_k)
        merged = merge_heads(heads)  # (..., n_heads, n_q, d_k) -> (..., n_q, d_model)
        if cache is not None:  # kept for the backward pass (training)
            cache.update(query=query, key=key, value=value, q=q, k=k, v=v, weights=weights, merged=merged)
        output = merged @ self.w_o + self.b_o  # (..., n_q, d_model) -> (..., n_q, d_model)
        return output, weights
    # --8<-- [end:mha_call]
