"""Positional encoding: how a transformer knows the order of its tokens.

Attention treats its inputs as a set: permute the tokens and the outputs are permuted the
same way. Adding a different vector to each position breaks that symmetry.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive_int, check_size

__all__ = ["sinusoidal_positional_encoding"]


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
