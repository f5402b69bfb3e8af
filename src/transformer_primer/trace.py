"""Trace: print named steps, shapes and arrays with fixed decimals.

The lessons print through these helpers so that a learner's terminal shows the same
digits as the page on any CPU: values are rounded to a fixed number of decimals (and
``-0.000`` is printed as ``0.000``), so last-bit differences between BLAS builds vanish.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from ._checks import as_array, check_positive_int, describe

__all__ = ["fmt", "show", "step"]


def fmt(x: ArrayLike, decimals: int = 3) -> str:
    """Format a number or an array with exactly ``decimals`` decimals.

    Parameters
    ----------
    x : array_like
        A scalar or an array of any shape.
    decimals : int
        Digits after the decimal point.

    Returns
    -------
    str

    Raises
    ------
    TypeError
        If ``x`` is not made of real numbers or ``decimals`` is not an integer.
    ValueError
        If ``x`` is a ragged nested list or ``decimals`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> print(fmt(np.array([[1.0, -0.00001], [2.5, 1 / 3]])))
    [[1.000 0.000]
     [2.500 0.333]]
    >>> fmt(2 / 3, decimals=2)
    '0.67'
    """
    decimals = check_positive_int("decimals", decimals, minimum=0)
    arr = as_array("x", x, "a number or a rectangular array")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"x must hold real numbers, got {describe(arr)}")
    arr = arr.astype(np.float64)
    arr = np.round(arr, decimals) + 0.0  # + 0.0 turns -0.0 into 0.0
    if arr.ndim == 0:
        return f"{float(arr):.{decimals}f}"
    return np.array2string(
        arr,
        precision=decimals,
        floatmode="fixed",
        suppress_small=True,
        separator=" ",
        max_line_width=100,
        threshold=10_000,
    )


def show(name: str, x: ArrayLike, decimals: int = 3) -> None:
    """Print ``name``, the shape of ``x``, and ``x`` with fixed decimals.

    Parameters
    ----------
    name : str
        What the array is, e.g. ``"Q = X W_q"``.
    x : array_like
        The array to print.
    decimals : int
        Digits after the decimal point.

    Raises
    ------
    TypeError
        If ``name`` is not a string, ``x`` is not made of real numbers, or ``decimals``
        is not an integer.
    ValueError
        If ``x`` is a ragged nested list or ``decimals`` is negative.

    Examples
    --------
    >>> import numpy as np
    >>> show("weights", np.array([[0.25, 0.75]]))
    weights  shape (1, 2)
    [[0.250 0.750]]
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a string, got {describe(name)}")
    text = fmt(x, decimals)  # checks x and decimals before anything is printed
    print(f"{name}  shape {np.shape(x)}")
    print(text)


def step(title: str) -> None:
    """Print a step heading.

    Raises
    ------
    TypeError
        If ``title`` is not a string.

    Examples
    --------
    >>> step("1. scores")
    <BLANKLINE>
    == 1. scores ==
    """
    if not isinstance(title, str):
        raise TypeError(f"title must be a string, got {describe(title)}")
    print(f"\n== {title} ==")
