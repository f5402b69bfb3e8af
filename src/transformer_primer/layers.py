"""Layers: embedding, layer norm, feed-forward, the residual block, the encoder and decoder layers.

Each layer holds its weights as numpy arrays (listed by ``parameters()``) and is called like
a function: calling it checks its input, then runs its ``forward``, the computation itself.
A layer built from others calls their ``forward`` directly, on values it has already
checked: an input is checked once, at the door.

The residual connection and its layer norm are written once, in
[Residual][transformer_primer.layers.Residual]: post-norm as in the paper,
``LayerNorm(x + Sublayer(x))``, or pre-norm, ``x + Sublayer(LayerNorm(x))``, used by most
models since (``norm_first=True``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    check_bool,
    check_bool_mask,
    check_features,
    check_fits_linear,
    check_float_dtype,
    check_max_abs,
    check_positive_float,
    check_positive_int,
    check_rng,
    check_size,
    describe,
    overflow_refused,
)
from .attention import MultiHeadAttention
from .caches import DecoderLayerCache, EmbeddingCache, EncoderLayerCache, FeedForwardCache, LayerNormCache

__all__ = ["DecoderLayer", "Embedding", "EncoderLayer", "FeedForward", "LayerNorm", "Residual"]

Array = NDArray[np.floating]
Mask = NDArray[np.bool_]


class HasParameters(Protocol):
    """Anything with learnable arrays: every layer here, and the model."""

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name (the arrays themselves)."""
        ...


LAYOUT = "(n, d_model) or (batch, n, d_model)"


def _variance_limit(x: Array) -> float:
    """The largest |x| whose row variance (a mean of squares over d_model) fits x's dtype."""
    return math.sqrt(float(np.finfo(x.dtype).max) / (4 * x.shape[-1]))


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
        check_size("vocab_size", (vocab_size, d_model), np.float64, "the (vocab_size, d_model) table")
        std = 1.0 / math.sqrt(d_model)
        self.weight: Array = check_rng(rng).normal(0.0, std, (vocab_size, d_model))

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"weight": self.weight}

    def __call__(self, ids: ArrayLike, *, cache: EmbeddingCache | None = None) -> Array:
        """Look up ids.

        Parameters
        ----------
        ids : array_like of int, shape (...,)
            Token ids in ``0 .. vocab_size - 1``.
        cache : EmbeddingCache, optional
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
        return self.forward(ids, {} if cache is None else cache)

    def forward(self, ids: NDArray[np.integer], cache: EmbeddingCache) -> Array:
        """The lookup of ``__call__``, on ids already checked."""
        cache["ids"] = ids
        return self.weight[ids] * math.sqrt(self.d_model)  # (...,) -> (..., d_model)


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

    def __init__(
        self, d_model: int, eps: float = 1e-5, dtype: type[np.floating] | np.dtype = np.float64
    ) -> None:
        self.d_model = check_positive_int("d_model", d_model)
        self.eps = check_positive_float("eps", eps)
        self.gamma: Array = np.ones(d_model, dtype=check_float_dtype("dtype", dtype))
        self.beta: Array = np.zeros(d_model, dtype=dtype)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"gamma": self.gamma, "beta": self.beta}

    def __call__(self, x: ArrayLike, *, cache: LayerNormCache | None = None) -> Array:
        """Normalise ``x`` of shape (..., d_model); returns the same shape.

        With a ``cache``, keeps ``x_hat`` and ``inv_std`` for the backward pass.
        """
        x = check_features("x", x, self.d_model, self.gamma.dtype)
        check_max_abs("x", x, _variance_limit(x), "the variance of a row")
        return self.forward(x, {} if cache is None else cache)

    # --8<-- [start:layer_norm]
    def forward(self, x: Array, cache: LayerNormCache) -> Array:
        """The computation of ``__call__``, on an input already checked."""
        mean = x.mean(axis=-1, keepdims=True)  # (..., 1)
        var = x.var(axis=-1, keepdims=True)  # (..., 1)
        inv_std = 1.0 / np.sqrt(var + self.eps)  # (..., 1)
        x_hat = (x - mean) * inv_std  # (..., d_model): mean 0, variance ~1 on each row
        cache.update({"x_hat": x_hat, "inv_std": inv_std})
        return x_hat * self.gamma + self.beta  # (..., d_model)

    # --8<-- [end:layer_norm]


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
        self,
        d_model: int,
        d_ff: int,
        rng: np.random.Generator,
        dtype: type[np.floating] | np.dtype = np.float64,
    ) -> None:
        self.d_model = check_positive_int("d_model", d_model)
        self.d_ff = check_positive_int("d_ff", d_ff)
        rng = check_rng(rng)
        dtype = check_float_dtype("dtype", dtype)
        check_size("d_ff", (2, d_model, d_ff), dtype, "the two (d_model, d_ff) weights")
        self.w_1: Array = (rng.uniform(-1, 1, (d_model, d_ff)) / math.sqrt(d_model)).astype(dtype)
        self.b_1: Array = np.zeros(d_ff, dtype=dtype)
        self.w_2: Array = (rng.uniform(-1, 1, (d_ff, d_model)) / math.sqrt(d_ff)).astype(dtype)
        self.b_2: Array = np.zeros(d_model, dtype=dtype)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"w_1": self.w_1, "b_1": self.b_1, "w_2": self.w_2, "b_2": self.b_2}

    def __call__(self, x: ArrayLike, *, cache: FeedForwardCache | None = None) -> Array:
        """Apply to ``x`` of shape (..., d_model); returns the same shape.

        With a ``cache``, keeps ``x`` and the hidden activations for the backward pass.
        """
        x = check_features("x", x, self.d_model, self.w_1.dtype)
        check_fits_linear(
            "x", x, ("x @ w_1 + b_1", self.w_1, self.b_1), ("hidden @ w_2 + b_2", self.w_2, self.b_2)
        )
        return self.forward(x, {} if cache is None else cache)

    # --8<-- [start:feed_forward]
    def forward(self, x: Array, cache: FeedForwardCache) -> Array:
        """The computation of ``__call__``, on an input already checked."""
        hidden = np.maximum(0.0, x @ self.w_1 + self.b_1)  # (..., d_model) -> (..., d_ff)
        cache.update({"x": x, "hidden": hidden})
        return hidden @ self.w_2 + self.b_2  # (..., d_ff) -> (..., d_model)

    # --8<-- [end:feed_forward]


class Residual:
    """A residual connection with its layer norm, around one sublayer: the norm's place, decided once.

    Post-norm (the paper, ``norm_first=False``): ``LayerNorm(x + sublayer(x))``. Pre-norm
    (``norm_first=True``, most models since): ``x + sublayer(LayerNorm(x))``. Every layer
    wraps each of its sublayers in one, so the two orders are written here and nowhere
    else; [residual_backward][transformer_primer.grad.residual_backward] is its backward.
    (The Annotated Transformer's ``SublayerConnection``.)

    Parameters
    ----------
    norm : LayerNorm
        The layer norm; the layer that builds the block owns it (its weights are listed
        among the layer's parameters under the norm's own name).
    norm_first : bool
        Pre-norm (``True``) or post-norm (``False``).

    Raises
    ------
    TypeError
        If ``norm`` is not a LayerNorm or ``norm_first`` not a bool.

    Examples
    --------
    >>> import numpy as np
    >>> block = Residual(LayerNorm(2), norm_first=True)
    >>> x = np.array([[1.0, 3.0]])  # LayerNorm(x) is [-1, 1] (up to eps)
    >>> block(x, lambda h: 10 * h, cache={}).round(3)  # pre-norm: x + 10 * LayerNorm(x)
    array([[-9., 13.]])
    >>> post = Residual(LayerNorm(2), norm_first=False)
    >>> post(x, lambda h: 10 * h, cache={}).round(3)  # post-norm: LayerNorm(x + 10 x)
    array([[-1.,  1.]])
    """

    def __init__(self, norm: LayerNorm, norm_first: bool) -> None:
        if not isinstance(norm, LayerNorm):
            raise TypeError(f"norm must be a LayerNorm, got {describe(norm)}")
        self.norm = norm
        self.norm_first = check_bool("norm_first", norm_first)

    # --8<-- [start:residual]
    def __call__(self, x: Array, sublayer: Callable[[Array], Array], cache: LayerNormCache) -> Array:
        """``x`` (..., d_model) through ``sublayer`` (the same shape out), with the residual and the norm."""
        if self.norm_first:  # pre-norm: the sublayer sees a normalised x, the sum is left as it is
            return x + sublayer(self.norm.forward(x, cache))
        return self.norm.forward(x + sublayer(x), cache)  # post-norm, as in the paper

    # --8<-- [end:residual]


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
        self.attention_block = Residual(self.norm_1, self.norm_first)
        self.feed_forward_block = Residual(self.norm_2, self.norm_first)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by dotted name."""
        parts: dict[str, HasParameters] = {
            "self_attn": self.self_attn,
            "feed_forward": self.feed_forward,
            "norm_1": self.norm_1,
            "norm_2": self.norm_2,
        }
        return {f"{p}.{n}": a for p, layer in parts.items() for n, a in layer.parameters().items()}

    def __call__(
        self, x: ArrayLike, mask: ArrayLike | None = None, *, cache: EncoderLayerCache | None = None
    ) -> Array:
        """Encode ``x`` of shape (n, d_model) or (batch, n, d_model); same shape out.

        ``mask`` (bool, broadcastable to (..., n, n)) hides padded keys. With a ``cache``,
        each sublayer keeps what its backward pass needs under its own name.
        """
        x = check_features("x", x, self.d_model, self.self_attn.w_q.dtype, ndim=(2, 3), layout=LAYOUT)
        self.self_attn.check_sizes(query=x, key=x, value=x)
        check_max_abs("x", x, _variance_limit(x), "the variance of a row")
        if mask is not None:
            mask = check_bool_mask("mask", mask, (*x.shape[:-2], x.shape[-2], x.shape[-2]), "(..., n_q, n_k)")
        with overflow_refused("the encoder layer", "the values of x are", x.dtype):
            return self.forward(x, mask, {} if cache is None else cache)

    # --8<-- [start:encoder_layer]
    def forward(
        self,
        x: Array,
        mask: Mask | None,
        cache: EncoderLayerCache,
        dropout: Callable[[Array, str], Array] | None = None,
    ) -> Array:
        """The computation of ``__call__``, on inputs already checked.

        ``dropout(y, name)``, in training only, drops from each sublayer's output before the
        residual add (``name`` is ``"self_attn"`` or ``"feed_forward"``).
        """
        attn, norm_1 = cache.setdefault("self_attn", {}), cache.setdefault("norm_1", {})
        ff, norm_2 = cache.setdefault("feed_forward", {}), cache.setdefault("norm_2", {})
        drop = dropout or (lambda y, name: y)  # the identity unless training with dropout
        # every position attends to every position (but the masked, padded ones)
        x = self.attention_block(
            x, lambda h: drop(self.self_attn.forward(h, h, h, mask, attn)[0], "self_attn"), norm_1
        )
        return self.feed_forward_block(
            x, lambda h: drop(self.feed_forward.forward(h, ff), "feed_forward"), norm_2
        )

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
        self.self_attention_block = Residual(self.norm_1, self.norm_first)
        self.cross_attention_block = Residual(self.norm_2, self.norm_first)
        self.feed_forward_block = Residual(self.norm_3, self.norm_first)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by dotted name."""
        parts: dict[str, HasParameters] = {
            "self_attn": self.self_attn,
            "cross_attn": self.cross_attn,
            "feed_forward": self.feed_forward,
            "norm_1": self.norm_1,
            "norm_2": self.norm_2,
            "norm_3": self.norm_3,
        }
        return {f"{p}.{n}": a for p, layer in parts.items() for n, a in layer.parameters().items()}

    def __call__(
        self,
        y: ArrayLike,
        memory: ArrayLike,
        self_mask: ArrayLike | None = None,
        memory_mask: ArrayLike | None = None,
        *,
        cache: DecoderLayerCache | None = None,
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
        cache : DecoderLayerCache, optional
            When given, each sublayer keeps what its backward pass needs under its own name.

        Returns
        -------
        numpy.ndarray, same shape as ``y``
        """
        dtype = self.self_attn.w_q.dtype
        y = check_features("y", y, self.d_model, dtype, ndim=(2, 3), layout=LAYOUT)
        memory = check_features("memory", memory, self.d_model, dtype, ndim=(2, 3), layout=LAYOUT)
        if memory.ndim != y.ndim or (y.ndim == 3 and memory.shape[0] != y.shape[0]):
            raise ValueError(
                f"y and memory must have the same batch layout, got shapes {y.shape} and {memory.shape}"
            )
        self.self_attn.check_sizes(query=y, key=y, value=y)
        self.cross_attn.check_sizes(key=memory, value=memory)
        check_max_abs("y", y, _variance_limit(y), "the variance of a row")
        lead, n_y, n_x = y.shape[:-2], y.shape[-2], memory.shape[-2]
        if self_mask is not None:
            self_mask = check_bool_mask("self_mask", self_mask, (*lead, n_y, n_y), "(..., n_q, n_k)")
        if memory_mask is not None:
            memory_mask = check_bool_mask("memory_mask", memory_mask, (*lead, n_y, n_x), "(..., n_q, n_k)")
        with overflow_refused("the decoder layer", "the values of y or memory are", dtype):
            return self.forward(y, memory, self_mask, memory_mask, {} if cache is None else cache)

    # --8<-- [start:decoder_layer]
    def forward(
        self,
        y: Array,
        memory: Array,
        self_mask: Mask | None,
        memory_mask: Mask | None,
        cache: DecoderLayerCache,
    ) -> Array:
        """The computation of ``__call__``, on inputs already checked."""
        sa, norm_1 = cache.setdefault("self_attn", {}), cache.setdefault("norm_1", {})
        ca, norm_2 = cache.setdefault("cross_attn", {}), cache.setdefault("norm_2", {})
        ff, norm_3 = cache.setdefault("feed_forward", {}), cache.setdefault("norm_3", {})
        # self-attention looks back only (self_mask is causal), cross-attention at the source
        y = self.self_attention_block(y, lambda h: self.self_attn.forward(h, h, h, self_mask, sa)[0], norm_1)
        y = self.cross_attention_block(
            y, lambda h: self.cross_attn.forward(h, memory, memory, memory_mask, ca)[0], norm_2
        )
        return self.feed_forward_block(y, lambda h: self.feed_forward.forward(h, ff), norm_3)

    # --8<-- [end:decoder_layer]
