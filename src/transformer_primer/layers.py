"""Layers: embedding, layer norm, feed-forward, and the encoder and decoder layers.

Each layer holds its weights as numpy arrays (listed by ``parameters()``) and is called
like a function. Residual connections and layer norm follow the paper (post-norm,
``LayerNorm(x + Sublayer(x))``); ``norm_first=True`` gives the pre-norm variant
``x + Sublayer(LayerNorm(x))`` used by most modern models.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    check_bool,
    check_fits_linear,
    check_float_array,
    check_float_dtype,
    check_max_abs,
    check_positive_float,
    check_positive_int,
    describe,
)
from .attention import MultiHeadAttention

__all__ = ["DecoderLayer", "Embedding", "EncoderLayer", "FeedForward", "LayerNorm"]

Array = NDArray[np.floating]


def _check_rng(rng: object) -> np.random.Generator:
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    return rng


def _check_width(name: str, x: ArrayLike, d_model: int, dtype: np.dtype) -> Array:
    x = check_float_array(name, x, ndim=(2, 3), layout="(n, d_model) or (batch, n, d_model)")
    if x.shape[-1] != d_model:
        raise ValueError(f"{name} must have last axis d_model = {d_model}, got shape {x.shape}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the weights are {dtype}; build the layer with dtype={x.dtype}")
    return x


def _check_features(name: str, x: ArrayLike, d_model: int, dtype: np.dtype, limit: float | None = None) -> Array:
    """Check ``x`` of shape (..., d_model) against the layer's width, dtype and (optionally) size."""
    x = check_float_array(name, x, layout="(..., d_model)")
    if x.shape[-1] != d_model:
        raise ValueError(f"{name} must have last axis d_model = {d_model}, got shape {x.shape}")
    if x.dtype != dtype:
        raise TypeError(f"{name} has dtype {x.dtype} but the weights are {dtype}; build the layer with dtype={x.dtype}")
    if limit is not None:
        check_max_abs(name, x, limit, "the variance of a row")
    return x


def _child(cache: dict | None, name: str) -> dict | None:
    """The sub-cache of one sublayer (created on first use), or None when not caching."""
    return None if cache is None else cache.setdefault(name, {})


class Embedding:
    """Token embedding, scaled by sqrt(d_model) as in the paper (section 3.4).

    Parameters
    ----------
    vocab_size : int
        Number of token ids.
    d_model : int
        Width of each embedding vector.
    rng : numpy.random.Generator
        Source of the initial weights (normal, standard deviation 1/sqrt(d_model)).

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, or (when called) the ids
        are not integers.
    ValueError
        If a size is not positive, or (when called) an id is outside ``0 .. vocab_size - 1``.

    Attributes
    ----------
    weight : numpy.ndarray, shape (vocab_size, d_model)

    Examples
    --------
    >>> import numpy as np
    >>> emb = Embedding(vocab_size=5, d_model=4, rng=np.random.default_rng(0))
    >>> emb(np.array([[1, 2, 3]])).shape
    (1, 3, 4)
    """

    def __init__(self, vocab_size: int, d_model: int, rng: np.random.Generator) -> None:
        self.vocab_size = check_positive_int("vocab_size", vocab_size)
        self.d_model = check_positive_int("d_model", d_model)
        std = 1.0 / math.sqrt(d_model)
        self.weight = _check_rng(rng).normal(0.0, std, (vocab_size, d_model))

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"weight": self.weight}

    def __call__(self, ids: ArrayLike, *, cache: dict | None = None) -> Array:
        """Look up ids.

        Parameters
        ----------
        ids : array_like of int, shape (...,)
            Token ids in ``0 .. vocab_size - 1``.
        cache : dict, optional
            When given, the ids are stored in it for the backward pass.

        Returns
        -------
        numpy.ndarray, shape (..., d_model)
            ``weight[ids] * sqrt(d_model)``.
        """
        ids = np.asarray(ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"ids must be integer token ids, got {describe(ids)}")
        if ids.size and (ids.min() < 0 or ids.max() >= self.vocab_size):
            raise ValueError(
                f"ids must be in 0..{self.vocab_size - 1} (vocab_size = {self.vocab_size}), "
                f"got values from {ids.min()} to {ids.max()}"
            )
        if cache is not None:
            cache["ids"] = ids
        return self.weight[ids] * math.sqrt(self.d_model)  # (...,) -> (..., d_model)


# --8<-- [start:layer_norm]
class LayerNorm:
    """Layer normalisation over the last axis, with a learned gain and bias.

    ``y = (x - mean) / sqrt(var + eps) * gamma + beta``, statistics taken over ``d_model``.

    Parameters
    ----------
    d_model : int
        Size of the normalised (last) axis.
    eps : float
        Added to the variance for stability (> 0).
    dtype : numpy dtype
        ``float64`` (default) or ``float32``; the input must have the same dtype.

    Raises
    ------
    TypeError
        If ``d_model`` is not an integer, ``eps`` not a number, ``dtype`` not a float
        type, or (when called) ``x`` is not a float array of that dtype.
    ValueError
        If ``d_model`` or ``eps`` is not positive, or (when called) ``x`` is empty, holds
        NaN or infinity, is too large for its variance to fit the dtype, or its last axis
        is not ``d_model``.

    Attributes
    ----------
    gamma, beta : numpy.ndarray, shape (d_model,)
        Gain (ones) and bias (zeros) at initialisation.

    Examples
    --------
    >>> import numpy as np
    >>> LayerNorm(3)(np.array([[1.0, 2.0, 3.0]])).round(4)
    array([[-1.2247,  0.    ,  1.2247]])
    """

    def __init__(self, d_model: int, eps: float = 1e-5, dtype: type[np.floating] | np.dtype = np.float64) -> None:
        self.d_model = check_positive_int("d_model", d_model)
        self.eps = check_positive_float("eps", eps)
        self.gamma = np.ones(d_model, dtype=check_float_dtype("dtype", dtype))
        self.beta = np.zeros(d_model, dtype=dtype)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"gamma": self.gamma, "beta": self.beta}

    def __call__(self, x: ArrayLike, *, cache: dict | None = None) -> Array:
        """Normalise ``x`` of shape (..., d_model); returns the same shape.

        With a ``cache`` dict, keeps ``x_hat`` and ``inv_std`` for the backward pass.
        """
        limit = math.sqrt(float(np.finfo(self.gamma.dtype).max) / (4 * self.d_model))  # var stays finite
        x = _check_features("x", x, self.d_model, self.gamma.dtype, limit)
        mean = x.mean(axis=-1, keepdims=True)  # (..., 1)
        var = x.var(axis=-1, keepdims=True)  # (..., 1)
        inv_std = 1.0 / np.sqrt(var + self.eps)  # (..., 1)
        x_hat = (x - mean) * inv_std  # (..., d_model): mean 0, variance ~1 on each row
        if cache is not None:
            cache.update(x_hat=x_hat, inv_std=inv_std)
        return x_hat * self.gamma + self.beta  # (..., d_model)
# --8<-- [end:layer_norm]


# --8<-- [start:feed_forward]
class FeedForward:
    """Position-wise feed-forward network: ``max(0, x W1 + b1) W2 + b2``.

    Applied to each position separately and identically (paper, eq. 2).

    Parameters
    ----------
    d_model : int
        Input and output width.
    d_ff : int
        Hidden width (the paper uses 4 * d_model).
    rng : numpy.random.Generator
        Source of the initial weights.
    dtype : numpy dtype
        ``float64`` (default) or ``float32``; the input must have the same dtype.

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, ``dtype`` is not a float
        type, or (when called) ``x`` is not a float array of that dtype.
    ValueError
        If a size is not positive, or (when called) ``x`` is empty, holds NaN or
        infinity, is so large that ``x @ w_1`` or ``hidden @ w_2`` could overflow, or its
        last axis is not ``d_model``.

    Attributes
    ----------
    w_1 : numpy.ndarray, shape (d_model, d_ff)
    b_1 : numpy.ndarray, shape (d_ff,)
    w_2 : numpy.ndarray, shape (d_ff, d_model)
    b_2 : numpy.ndarray, shape (d_model,)

    Examples
    --------
    >>> import numpy as np
    >>> ff = FeedForward(d_model=4, d_ff=8, rng=np.random.default_rng(0))
    >>> ff(np.ones((3, 4))).shape
    (3, 4)
    """

    def __init__(
        self, d_model: int, d_ff: int, rng: np.random.Generator, dtype: type[np.floating] | np.dtype = np.float64
    ) -> None:
        self.d_model = check_positive_int("d_model", d_model)
        self.d_ff = check_positive_int("d_ff", d_ff)
        _check_rng(rng)
        dtype = check_float_dtype("dtype", dtype)
        self.w_1 = (rng.uniform(-1, 1, (d_model, d_ff)) / math.sqrt(d_model)).astype(dtype)
        self.b_1 = np.zeros(d_ff, dtype=dtype)
        self.w_2 = (rng.uniform(-1, 1, (d_ff, d_model)) / math.sqrt(d_ff)).astype(dtype)
        self.b_2 = np.zeros(d_model, dtype=dtype)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"w_1": self.w_1, "b_1": self.b_1, "w_2": self.w_2, "b_2": self.b_2}

    def __call__(self, x: ArrayLike, *, cache: dict | None = None) -> Array:
        """Apply to ``x`` of shape (..., d_model); returns the same shape.

        With a ``cache`` dict, keeps ``x`` and the hidden activations for the backward pass.
        """
        x = _check_features("x", x, self.d_model, self.w_1.dtype)
        check_fits_linear("x", x, ("x @ w_1 + b_1", self.w_1, self.b_1), ("hidden @ w_2 + b_2", self.w_2, self.b_2))
        hidden = np.maximum(0.0, x @ self.w_1 + self.b_1)  # (..., d_model) -> (..., d_ff)
        if cache is not None:
            cache.update(x=x, hidden=hidden)
        return hidden @ self.w_2 + self.b_2  # (..., d_ff) -> (..., d_model)
# --8<-- [end:feed_forward]


class EncoderLayer:
    """One encoder layer: self-attention, then feed-forward, each with residual and norm.

    Parameters
    ----------
    d_model, n_heads, d_ff : int
        Model width, number of heads, feed-forward hidden width.
    rng : numpy.random.Generator
        Source of the initial weights.
    norm_first : bool
        ``False`` (the paper): ``x = norm(x + sublayer(x))``.
        ``True`` (pre-norm): ``x = x + sublayer(norm(x))``.
    dtype : numpy dtype
        ``float64`` (default) or ``float32`` for every weight; inputs must match.

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, ``norm_first`` is not a
        bool, ``dtype`` is not a float type, or (when called) ``x`` is not a float array
        of that dtype or the mask is not boolean.
    ValueError
        If a size is not positive, ``n_heads`` does not divide ``d_model``, or (when
        called) ``x`` is not (n, d_model) / (batch, n, d_model), is empty or not finite,
        or the mask does not broadcast to (..., n, n).

    Examples
    --------
    >>> import numpy as np
    >>> layer = EncoderLayer(d_model=4, n_heads=2, d_ff=8, rng=np.random.default_rng(0))
    >>> layer(np.ones((3, 4))).shape
    (3, 4)
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        rng: np.random.Generator,
        norm_first: bool = False,
        dtype: type[np.floating] | np.dtype = np.float64,
    ) -> None:
        self.self_attn = MultiHeadAttention(d_model, n_heads, rng, dtype)
        self.feed_forward = FeedForward(d_model, d_ff, rng, dtype)
        self.norm_1 = LayerNorm(d_model, dtype=dtype)
        self.norm_2 = LayerNorm(d_model, dtype=dtype)
        self.d_model = d_model
        self.norm_first = check_bool("norm_first", norm_first)
        self.last_attention: Array | None = None  # (..., n_heads, n, n), kept for lessons

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by dotted name."""
        parts = {"self_attn": self.self_attn, "feed_forward": self.feed_forward,
                 "norm_1": self.norm_1, "norm_2": self.norm_2}
        return {f"{p}.{n}": a for p, layer in parts.items() for n, a in layer.parameters().items()}

    # --8<-- [start:encoder_layer]
    def __call__(self, x: ArrayLike, mask: ArrayLike | None = None, *, cache: dict | None = None) -> Array:
        """Encode ``x`` of shape (n, d_model) or (batch, n, d_model); same shape out.

        ``mask`` (bool, broadcastable to (..., n, n)) hides padded keys. With a ``cache``
        dict, each sublayer keeps what its backward pass needs under its own name.
        """
        x = _check_width("x", x, self.d_model, self.self_attn.w_q.dtype)
        c = {name: _child(cache, name) for name in ("self_attn", "norm_1", "feed_forward", "norm_2")}
        if self.norm_first:  # pre-norm: x + Sublayer(LayerNorm(x))
            h = self.norm_1(x, cache=c["norm_1"])
            attended, self.last_attention = self.self_attn(h, h, h, mask, cache=c["self_attn"])
            x = x + attended
            return x + self.feed_forward(self.norm_2(x, cache=c["norm_2"]), cache=c["feed_forward"])
        # post-norm, as in the paper: LayerNorm(x + Sublayer(x))
        attended, self.last_attention = self.self_attn(x, x, x, mask, cache=c["self_attn"])
        x = self.norm_1(x + attended, cache=c["norm_1"])
        return self.norm_2(x + self.feed_forward(x, cache=c["feed_forward"]), cache=c["norm_2"])
    # --8<-- [end:encoder_layer]


class DecoderLayer:
    """One decoder layer: masked self-attention, cross-attention, feed-forward.

    Parameters
    ----------
    d_model, n_heads, d_ff : int
        Model width, number of heads, feed-forward hidden width.
    rng : numpy.random.Generator
        Source of the initial weights.
    norm_first : bool
        Post-norm (``False``, the paper) or pre-norm (``True``).
    dtype : numpy dtype
        ``float64`` (default) or ``float32`` for every weight; inputs must match.

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, ``norm_first`` is not a
        bool, ``dtype`` is not a float type, or (when called) ``y``/``memory`` is not a
        float array of that dtype or a mask is not boolean.
    ValueError
        If a size is not positive, ``n_heads`` does not divide ``d_model``, or (when
        called) ``y`` or ``memory`` is not (n, d_model) / (batch, n, d_model), is empty or
        not finite, or a mask does not broadcast to (..., n_y, n_y) / (..., n_y, n_x).

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.masks import causal_mask
    >>> layer = DecoderLayer(d_model=4, n_heads=2, d_ff=8, rng=np.random.default_rng(0))
    >>> y, memory = np.ones((2, 4)), np.ones((3, 4))
    >>> layer(y, memory, self_mask=causal_mask(2)).shape
    (2, 4)
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        d_ff: int,
        rng: np.random.Generator,
        norm_first: bool = False,
        dtype: type[np.floating] | np.dtype = np.float64,
    ) -> None:
        self.self_attn = MultiHeadAttention(d_model, n_heads, rng, dtype)
        self.cross_attn = MultiHeadAttention(d_model, n_heads, rng, dtype)
        self.feed_forward = FeedForward(d_model, d_ff, rng, dtype)
        self.norm_1 = LayerNorm(d_model, dtype=dtype)
        self.norm_2 = LayerNorm(d_model, dtype=dtype)
        self.norm_3 = LayerNorm(d_model, dtype=dtype)
        self.d_model = d_model
        self.norm_first = check_bool("norm_first", norm_first)
        self.last_self_attention: Array | None = None  # (..., n_heads, n_y, n_y)
        self.last_cross_attention: Array | None = None  # (..., n_heads, n_y, n_x)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by dotted name."""
        parts = {"self_attn": self.self_attn, "cross_attn": self.cross_attn,
                 "feed_forward": self.feed_forward, "norm_1": self.norm_1,
                 "norm_2": self.norm_2, "norm_3": self.norm_3}
        return {f"{p}.{n}": a for p, layer in parts.items() for n, a in layer.parameters().items()}

    # --8<-- [start:decoder_layer]
    def __call__(
        self,
        y: ArrayLike,
        memory: ArrayLike,
        self_mask: ArrayLike | None = None,
        memory_mask: ArrayLike | None = None,
        *,
        cache: dict | None = None,
    ) -> Array:
        """Decode ``y`` (n_y, d_model) attending to the encoder output ``memory`` (n_x, d_model).

        Parameters
        ----------
        y : array_like, shape (n_y, d_model) or (batch, n_y, d_model)
            The decoder's input so far.
        memory : array_like, shape (n_x, d_model) or (batch, n_x, d_model)
            The encoder output.
        self_mask : array_like of bool, optional, broadcastable to (..., n_y, n_y)
            Usually [causal_mask][transformer_primer.masks.causal_mask]``(n_y)``.
        memory_mask : array_like of bool, optional, broadcastable to (..., n_y, n_x)
            Hides padded encoder positions.
        cache : dict, optional
            When given, each sublayer keeps what its backward pass needs under its own name.

        Returns
        -------
        numpy.ndarray, same shape as ``y``
        """
        y = _check_width("y", y, self.d_model, self.self_attn.w_q.dtype)
        memory = _check_width("memory", memory, self.d_model, self.self_attn.w_q.dtype)
        names = ("self_attn", "cross_attn", "feed_forward", "norm_1", "norm_2", "norm_3")
        c = {name: _child(cache, name) for name in names}
        if self.norm_first:  # pre-norm
            h = self.norm_1(y, cache=c["norm_1"])
            attended, self.last_self_attention = self.self_attn(h, h, h, self_mask, cache=c["self_attn"])
            y = y + attended
            h = self.norm_2(y, cache=c["norm_2"])
            attended, self.last_cross_attention = self.cross_attn(
                h, memory, memory, memory_mask, cache=c["cross_attn"]
            )
            y = y + attended
            return y + self.feed_forward(self.norm_3(y, cache=c["norm_3"]), cache=c["feed_forward"])
        # post-norm, as in the paper
        attended, self.last_self_attention = self.self_attn(
            y, y, y, self_mask, cache=c["self_attn"]
        )  # looks back only
        y = self.norm_1(y + attended, cache=c["norm_1"])
        attended, self.last_cross_attention = self.cross_attn(
            y, memory, memory, memory_mask, cache=c["cross_attn"]
        )  # looks at the input
        y = self.norm_2(y + attended, cache=c["norm_2"])
        return self.norm_3(y + self.feed_forward(y, cache=c["feed_forward"]), cache=c["norm_3"])
    # --8<-- [end:decoder_layer]
