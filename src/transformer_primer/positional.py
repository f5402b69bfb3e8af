"""Positional encoding: how a transformer knows the order of its tokens.

Attention treats its inputs as a set: permute the tokens and the outputs are permuted the
same way. Three ways to break that symmetry:

- add a vector that depends on the position to each token's embedding: the paper's
  sinusoidal encoding (``sinusoidal_positional_encoding``), or a learned table of positions
  (an ``Embedding`` indexed by position);
- rotate each query and key by an angle proportional to its position, so that a score depends
  on the offset between query and key only: RoPE (``rotary_embedding``);
- add to each score a penalty proportional to the distance between query and key, one slope
  per head: ALiBi (``alibi_slopes``, ``alibi_bias``).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_float_array, check_positive_float, check_positive_int, check_size, describe

__all__ = ["alibi_bias", "alibi_slopes", "rotary_embedding", "sinusoidal_positional_encoding"]

Floats = NDArray[np.floating]


# --8<-- [start:sinusoidal]
def sinusoidal_positional_encoding(n_positions: int, d_model: int) -> NDArray[np.float64]:
    """The paper's sinusoidal encoding, sin on even and cos on odd dimensions.

    $$
    PE_{(pos, 2i)} = \\sin(pos / 10000^{2i/d_{model}}), \\quad
    PE_{(pos, 2i+1)} = \\cos(pos / 10000^{2i/d_{model}})
    $$

    Parameters
    ----------
    n_positions : int
        Number of positions ``pos = 0 .. n_positions - 1``.
    d_model : int
        Model width (may be odd; the last cosine column is then dropped).

    Returns
    -------
    numpy.ndarray, shape (n_positions, d_model)

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer.

    Examples
    --------
    >>> sinusoidal_positional_encoding(2, 4).round(4)
    array([[0.    , 1.    , 0.    , 1.    ],
           [0.8415, 0.5403, 0.01  , 1.    ]])
    """
    n_positions = check_positive_int("n_positions", n_positions)
    d_model = check_positive_int("d_model", d_model)
    check_size("n_positions", (n_positions, d_model), np.float64, "the (n_positions, d_model) table")
    pos = np.arange(n_positions)[:, None]  # (n_positions, 1)
    two_i = np.arange(0, d_model, 2)  # (ceil(d_model / 2),)
    angle = pos / 10000.0 ** (two_i / d_model)  # (n_positions, ceil(d_model / 2))
    pe = np.zeros((n_positions, d_model))  # (n_positions, d_model)
    pe[:, 0::2] = np.sin(angle)
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])
    return pe


# --8<-- [end:sinusoidal]


# --8<-- [start:rotary]
def rotary_embedding(
    x: ArrayLike, positions: ArrayLike | None = None, base: float = 10000.0
) -> NDArray[np.floating]:
    """Rotary position embedding (RoPE): rotate each pair of dimensions by its position's angle.

    Dimensions ``(2i, 2i + 1)`` of the vector at position ``pos`` are turned by the angle
    ``pos * theta_i`` with ``theta_i = base ** (-2i / d)``, the sinusoidal encoding's
    frequencies. Applied to the queries and the keys (not the values), it makes the score of a
    query at ``m`` and a key at ``n`` depend on ``m - n`` only: rotating both by the same extra
    angle leaves their dot product unchanged.

    Parameters
    ----------
    x : array_like, shape (..., n, d)
        Queries or keys, ``d`` even.
    positions : array_like of int, shape (n,), optional
        The position of each row; ``0 .. n - 1`` when omitted (give an offset for a new token
        appended to a cache).
    base : float
        The longest wavelength's base, 10000 as in the paper.

    Returns
    -------
    numpy.ndarray, shape (..., n, d), x's float dtype

    Raises
    ------
    TypeError, ValueError
        If ``x`` is not a float array with an even last axis, a position is not a
        non-negative integer, there is not one position per row, or ``base`` is not > 0.

    Examples
    --------
    >>> q = np.array([[1.0, 0.0], [1.0, 0.0]])
    >>> rotary_embedding(q).round(4)  # position 1 turns the pair by 1 radian
    array([[1.    , 0.    ],
           [0.5403, 0.8415]])
    """
    x = check_float_array("x", x, min_ndim=2, layout="(..., n, d)")
    n, d = x.shape[-2:]
    if d % 2:
        raise ValueError(f"x must have an even last axis (pairs of dimensions are rotated), got d = {d}")
    base = check_positive_float("base", base)
    if positions is None:
        pos = np.arange(n)  # (n,)
    else:
        pos = np.asarray(positions)
        if pos.dtype.kind not in "iu" or pos.shape != (n,) or (pos < 0).any():
            raise ValueError(
                f"positions must be {n} non-negative integers, one per row of x, got {describe(pos)}"
            )
    return _rotate_pairs(x, pos, base)


def _rotate_pairs(x: Floats, pos: NDArray[np.integer], base: float) -> Floats:
    """RoPE's rotation on checked inputs: the computation of ``rotary_embedding``.

    A GPT built with ``positions="rope"`` calls it on every head's queries and keys.
    """
    d = x.shape[-1]
    theta = base ** (-np.arange(0, d, 2) / d)  # (d / 2,)
    angle = (pos[:, None] * theta).astype(x.dtype)  # (n, d / 2)
    cos, sin = np.cos(angle), np.sin(angle)
    even, odd = x[..., 0::2], x[..., 1::2]  # (..., n, d / 2) each
    out = np.empty_like(x)  # (..., n, d)
    out[..., 0::2] = even * cos - odd * sin
    out[..., 1::2] = even * sin + odd * cos
    return out


# --8<-- [end:rotary]


# --8<-- [start:alibi]
def alibi_slopes(n_heads: int) -> NDArray[np.float64]:
    """ALiBi's slope per head: a geometric sequence, 2^(-8/n_heads), 2^(-16/n_heads), ...

    For a number of heads that is not a power of two, the slopes of the power of two below it,
    then every other slope of the power of two above it (as in the paper's code).

    Parameters
    ----------
    n_heads : int

    Returns
    -------
    numpy.ndarray, shape (n_heads,)

    Raises
    ------
    TypeError, ValueError
        If ``n_heads`` is not an integer in 1 .. 4096.

    Examples
    --------
    >>> alibi_slopes(4)
    array([0.25      , 0.0625    , 0.015625  , 0.00390625])
    """
    n_heads = check_positive_int("n_heads", n_heads, maximum=4096)

    def power_of_two(n: int) -> list[float]:
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]

    below = 2 ** int(math.log2(n_heads))
    slopes = power_of_two(below)
    if below < n_heads:
        slopes += power_of_two(2 * below)[0::2][: n_heads - below]
    return np.array(slopes)


def alibi_bias(n_heads: int, n_q: int, n_k: int | None = None) -> NDArray[np.float64]:
    """ALiBi's bias, added to the scores of each head: ``slope * (j - i)`` for key ``j <= i``.

    Query ``i`` and key ``j`` are positions of one causal sequence whose last ``n_q`` positions
    are the queries (so ``n_k >= n_q`` fits a cache of earlier keys). Keys after the query get
    ``-inf``: the bias holds the causal mask.

    Parameters
    ----------
    n_heads : int
    n_q : int
        Number of queries.
    n_k : int, optional
        Number of keys, ``>= n_q``; ``n_q`` when omitted.

    Returns
    -------
    numpy.ndarray, shape (n_heads, n_q, n_k)

    Raises
    ------
    TypeError, ValueError
        If a size is not a positive integer, ``n_k < n_q``, or the bias would not fit in
        memory.

    Examples
    --------
    >>> alibi_bias(2, 3)[0]  # head 0 of 2: slope 2^-4
    array([[ 0.    ,   -inf,   -inf],
           [-0.0625,  0.    ,   -inf],
           [-0.125 , -0.0625,  0.    ]])
    """
    slopes = alibi_slopes(n_heads)  # (n_heads,)
    n_q = check_positive_int("n_q", n_q)
    n_k = n_q if n_k is None else check_positive_int("n_k", n_k, minimum=n_q)
    check_size("n_k", (n_heads, n_q, n_k), np.float64, "the (n_heads, n_q, n_k) bias")
    i = np.arange(n_k - n_q, n_k)[:, None]  # (n_q, 1): the queries' positions
    j = np.arange(n_k)[None, :]  # (1, n_k)
    offset = (j - i).astype(np.float64)  # (n_q, n_k): 0 on the diagonal, negative before it
    offset[j > i] = -np.inf  # a key after its query is masked
    return slopes[:, None, None] * offset  # (n_heads, n_q, n_k)


# --8<-- [end:alibi]
