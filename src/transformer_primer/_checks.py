"""Input checks shared by the public functions: clear errors at the boundary.

Every public function checks its inputs here, before any numpy call, so a learner sees
``ValueError: q must have shape (..., n_q, d_k) ...`` rather than a bare broadcasting
error from deep inside a matrix product.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_array",
    "check_axis",
    "check_bool",
    "check_bool_mask",
    "check_float_array",
    "check_fits_linear",
    "check_float_dtype",
    "check_max_abs",
    "check_positive_float",
    "check_positive_int",
    "describe",
]


def describe(x: object) -> str:
    """Name what was given: its shape and dtype for arrays, its type otherwise."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"


def as_array(name: str, x: object, expected: str) -> np.ndarray:
    """``np.asarray(x)``, with a ragged nested list refused as ``{name} must be {expected}``."""
    try:
        return np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be {expected}: {err}") from None


def check_positive_int(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_positive_float(name: str, value: object) -> float:
    """Return ``value`` as a float if it is a finite real number > 0, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a positive number, got {describe(value)}")
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a finite number > 0, got {value}")
    return float(value)


def check_bool(name: str, value: object) -> bool:
    """Return ``value`` if it is a bool; refuse truthy stand-ins such as ``"no"`` or ``1``."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {describe(value)}")
    return bool(value)


def check_axis(name: str, axis: object, ndim: int, shape: tuple[int, ...]) -> int:
    """Return ``axis`` if it is an integer axis of an array with ``ndim`` dimensions."""
    if isinstance(axis, bool) or not isinstance(axis, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {describe(axis)}")
    if not -ndim <= axis < ndim:
        raise ValueError(f"{name} must be in [{-ndim}, {ndim - 1}] for an array of shape {shape}, got {axis}")
    return int(axis)


def check_float_dtype(name: str, dtype: object) -> np.dtype:
    """Return ``dtype`` as a numpy dtype if it is a floating-point type (float16/32/64)."""
    try:
        resolved = np.dtype(dtype)  # type: ignore[call-overload]
    except TypeError:
        raise TypeError(f"{name} must be a floating-point dtype such as np.float32, got {dtype!r}") from None
    if resolved.kind != "f":
        raise TypeError(f"{name} must be a floating-point dtype such as np.float32, got {resolved}")
    return resolved


def check_max_abs(name: str, x: NDArray[np.floating], limit: float, reason: str) -> None:
    """Raise if some ``|x|`` exceeds ``limit``: ``reason`` says what would overflow.

    Checking the inputs' size before computing turns a silent ``inf``/``NaN`` (and a
    ``RuntimeWarning`` from deep inside numpy) into a clear error at the boundary.
    """
    largest = max(float(x.max()), -float(x.min())) if x.size else 0.0
    if largest > limit:
        raise ValueError(
            f"{name} is too large: it holds values up to {largest:.3g} in magnitude, but {reason} "
            f"overflows {x.dtype} beyond {limit:.3g}; scale {name} down"
        )


def check_fits_linear(name: str, x: NDArray[np.floating], *steps: tuple[str, NDArray, NDArray]) -> None:
    """Raise if ``x`` is so large that one of the affine ``steps`` could overflow its dtype.

    Each step is ``(label, w, b)`` for ``h @ w + b``, applied in turn starting from ``x``;
    ``|h @ w + b| <= rows(w) * max|h| * max|w| + max|b|`` bounds what each step can reach
    (a ReLU in between only shrinks it). A quarter of the float range is kept in reserve.
    """
    limit = float(np.finfo(x.dtype).max) / 4
    largest = max(float(x.max()), -float(x.min())) if x.size else 0.0
    bound = largest
    for label, w, b in steps:
        w_max = max(float(w.max()), -float(w.min())) if w.size else 0.0
        b_max = max(float(b.max()), -float(b.min())) if b.size else 0.0
        bound = w.shape[0] * bound * w_max + b_max
        if not bound <= limit:
            raise ValueError(
                f"{name} is too large for {x.dtype}: with values up to {largest:.3g} in magnitude, "
                f"{label} could reach {bound:.3g}, beyond {limit:.3g}; scale {name} down"
            )


def check_float_array(
    name: str,
    x: ArrayLike,
    *,
    min_ndim: int = 1,
    ndim: Sequence[int] | None = None,
    layout: str = "",
    allow_neg_inf: bool = False,
    allow_empty: bool = False,
) -> NDArray[np.floating]:
    """Return ``x`` as a floating-point array after checking dtype, rank and values.

    Parameters
    ----------
    name : str
        The parameter's name, used in the error message.
    x : array_like
        What the caller passed.
    min_ndim : int
        The fewest dimensions accepted.
    ndim : sequence of int, optional
        The exact numbers of dimensions accepted, if restricted.
    layout : str
        The expected layout for messages, e.g. ``"(..., n_q, d_k)"``.
    allow_neg_inf : bool
        Accept ``-inf`` (a masked score); ``nan`` and ``+inf`` are never accepted.
    allow_empty : bool
        Accept arrays with a zero-length axis.

    Returns
    -------
    numpy.ndarray
        ``x`` itself when it already is a float array, else a float64 copy of a list.

    Raises
    ------
    TypeError
        If ``x`` is not numeric, or is an integer/boolean/complex array.
    ValueError
        If its rank is wrong, it is empty, or it holds NaN or infinity.
    """
    shown = f" {layout}" if layout else ""
    if isinstance(x, np.ndarray):
        arr = x
    else:
        arr = as_array(name, x, f"a rectangular array{shown}")
        if arr.dtype.kind in "iu" and not isinstance(x, np.generic):
            arr = arr.astype(np.float64)  # a plain Python list of numbers is fine
    if arr.dtype.kind != "f":
        hint = ""
        if arr.dtype.kind in "iub":
            hint = f"; convert it first, e.g. np.asarray({name}, dtype=np.float64)"
        raise TypeError(f"{name} must be a floating-point array{shown}, got dtype {arr.dtype}{hint}")
    if ndim is not None and arr.ndim not in ndim:
        wanted = " or ".join(str(n) for n in ndim)
        raise ValueError(
            f"{name} must have {wanted} dimensions{shown}, got shape {arr.shape} ({arr.ndim} dimensions)"
        )
    if arr.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s){shown}, got shape {arr.shape}"
        )
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty{shown}, got shape {arr.shape}")
    if allow_neg_inf:
        bad = np.isnan(arr).any() or np.isposinf(arr).any()
        what = "NaN or +inf (only -inf, a masked score, is allowed)"
    else:
        bad = not np.isfinite(arr).all()
        what = "NaN or infinity"
    if bad:
        raise ValueError(f"{name} contains {what}; got {describe(arr)}")
    return arr


def check_bool_mask(name: str, mask: ArrayLike, shape: tuple[int, ...], layout: str) -> NDArray[np.bool_]:
    """Return ``mask`` as a boolean array if it broadcasts to ``shape``, else raise.

    ``True`` means "may attend". Integer 0/1 masks are refused: which of 0 and 1 means
    "blocked" differs between libraries, so the caller must say it with booleans.
    """
    arr = as_array(name, mask, f"a rectangular boolean array {layout}")
    if arr.dtype != np.bool_:
        raise TypeError(
            f"{name} must be a boolean array (True = may attend), got dtype {arr.dtype}; "
            f"for a 0/1 mask where 1 means 'may attend', pass {name}.astype(bool)"
        )
    try:
        np.broadcast_shapes(arr.shape, shape)
    except ValueError:
        raise ValueError(
            f"{name} must broadcast to {layout} = {shape}, got shape {arr.shape}"
        ) from None
    if len(np.broadcast_shapes(arr.shape, shape)) != len(shape) or np.broadcast_shapes(
        arr.shape, shape
    ) != shape:
        raise ValueError(
            f"{name} must broadcast to {layout} = {shape} without enlarging it, got shape {arr.shape}"
        )
    return arr
