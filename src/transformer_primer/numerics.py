"""Numerics: a numerically stable softmax.

The softmax turns a row of scores into weights that are positive and sum to 1:
$\\operatorname{softmax}(x)_i = e^{x_i} / \\sum_j e^{x_j}$.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_axis, check_float_array

__all__ = ["softmax"]


# --8<-- [start:softmax]
def softmax(x: ArrayLike, axis: int = -1) -> NDArray[np.floating]:
    """Softmax along ``axis``, stable for large scores and defined for masked rows.

    Parameters
    ----------
    x : array_like, shape (..., n)
        Scores. ``-inf`` marks a masked entry and gets weight 0.
    axis : int
        The axis that sums to 1.

    Returns
    -------
    numpy.ndarray, same shape and float dtype as ``x``
        Weights in [0, 1] that sum to 1 along ``axis``. A row that is entirely ``-inf``
        (every key masked) has nothing to attend to: it gets all-zero weights, never NaN.

    Raises
    ------
    TypeError
        If ``x`` is not a floating-point array (integers are refused: convert them), or
        ``axis`` is not an integer.
    ValueError
        If ``x`` is empty or holds NaN or ``+inf``, or ``axis`` is out of range.

    Notes
    -----
    Subtracting the row maximum before ``exp`` changes nothing mathematically
    ($e^{x_i - m} / \\sum_j e^{x_j - m}$) but keeps every exponent <= 0, so
    scores of 1e4 do not overflow.

    Examples
    --------
    >>> import numpy as np
    >>> softmax(np.array([2.0, 1.0, 1.0])).round(4)
    array([0.5761, 0.2119, 0.2119])
    >>> softmax(np.array([1e4, 0.0])).round(4)  # no overflow
    array([1., 0.])
    >>> softmax(np.array([-np.inf, -np.inf]))  # a fully masked row
    array([0., 0.])
    """
    x = check_float_array("x", x, allow_neg_inf=True, layout="(..., n)")
    axis = check_axis("axis", axis, x.ndim, x.shape)
    if x.dtype == np.float16:  # float16 cannot hold the sum of more than 65,504 weights
        return softmax(x.astype(np.float32), axis).astype(np.float16)
    row_max = np.max(x, axis=axis, keepdims=True)  # (..., 1)
    row_max = np.where(np.isneginf(row_max), 0.0, row_max).astype(x.dtype)  # masked row: no shift
    with np.errstate(over="ignore"):  # a gap wider than the float range gives -inf: weight 0
        e = np.exp(x - row_max)  # (..., n), every exponent <= 0
    total = np.sum(e, axis=axis, keepdims=True)  # (..., 1)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # (..., n)


# --8<-- [end:softmax]
