"""Masks: which keys each query may attend to.

A mask is a boolean array whose **rows are queries** and whose **columns are keys**:
``mask[i, j] = True`` means "query *i* may attend to key *j*". Attention sets the score of
every ``False`` entry to ``-inf`` before the softmax, so its weight is exactly 0.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import as_array, check_positive_int, check_size, describe

__all__ = ["causal_mask", "padding_mask"]


# --8<-- [start:causal_mask]
def causal_mask(n: int) -> NDArray[np.bool_]:
    """Lower-triangular mask: query ``i`` may attend to keys ``0..i`` only.

    Parameters
    ----------
    n : int
        Sequence length (queries and keys are the same sequence).

    Returns
    -------
    numpy.ndarray of bool, shape (n, n)
        ``mask[i, j] = j <= i``; rows are queries, columns are keys.

    Raises
    ------
    TypeError, ValueError
        If ``n`` is not a positive integer.

    Examples
    --------
    >>> causal_mask(3).astype(int)
    array([[1, 0, 0],
           [1, 1, 0],
           [1, 1, 1]])
    """
    n = check_positive_int("n", n)
    check_size("n", (n, n), bool, "the (n, n) mask")
    return np.tril(np.ones((n, n), dtype=bool))  # (n, n)


# --8<-- [end:causal_mask]


# --8<-- [start:padding_mask]
def padding_mask(lengths: ArrayLike, n: int) -> NDArray[np.bool_]:
    """Key mask for a batch of padded sequences: key ``j`` is real if ``j < length``.

    Parameters
    ----------
    lengths : array_like of int, shape (batch,)
        The true length of each sequence, each in ``1..n``.
    n : int
        The padded length.

    Returns
    -------
    numpy.ndarray of bool, shape (batch, 1, n)
        ``mask[b, 0, j] = j < lengths[b]``. The middle axis of size 1 stands for the
        queries: every query of sequence ``b`` sees the same keys, so the mask broadcasts
        against scores of shape (batch, n_q, n).

    Raises
    ------
    TypeError, ValueError
        If ``n`` is not a positive integer, or ``lengths`` is not a 1-D array of integers
        in ``1..n``.

    Examples
    --------
    >>> padding_mask([2, 3], 4).astype(int)
    array([[[1, 1, 0, 0]],
    <BLANKLINE>
           [[1, 1, 1, 0]]])
    """
    n = check_positive_int("n", n)
    arr = as_array("lengths", lengths, "a 1-D array of integers, shape (batch,)")
    if arr.dtype.kind not in "iu":
        raise TypeError(f"lengths must be integers, got {describe(arr)}")
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"lengths must have shape (batch,) with batch >= 1, got shape {arr.shape}")
    if arr.min() < 1 or arr.max() > n:
        raise ValueError(f"every length must be in 1..n = 1..{n}, got {arr.tolist()}")
    check_size("n", (arr.size, n), bool, "the (batch, n) mask")
    positions = np.arange(n)  # (n,)
    return (positions[None, :] < arr[:, None])[:, None, :]  # (batch, 1, n)


# --8<-- [end:padding_mask]
