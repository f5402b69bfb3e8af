"""Input checks shared by the public functions: clear errors at the boundary.

Every public function checks its inputs here, before any numpy call, so a learner sees
``ValueError: q must have shape (..., n_q, d_k) ...`` rather than a bare broadcasting
error from deep inside a matrix product.

The policy for unusual arrays, decided here once (the site's reliability page shows it):

- a numpy **masked array** is refused: its mask is not an attention mask, and numpy would
  drop it silently (a NaN under the mask came out as NaN); pass ``x.filled(value)``, and say
  which keys may be attended to with ``mask=``;
- ``np.matrix`` is refused (its ``*`` is a matrix product and it has no 1-D or 3-D shapes);
- **long double** (``np.longdouble``, 80 or 128 bits) is refused: its precision depends on the
  platform and BLAS does not compute in it; convert to float64;
- **float16** is accepted: softmax and attention compute in float32 inside and return
  float16, so a row of more than 65,504 weights, whose sum float16 cannot hold, still sums
  to 1;
- an array too large for the memory that is free is refused **before** it is allocated,
  naming the size that made it so (``check_size``);
- a layer whose inputs pass the checks but whose inside overflows (a residual sum
  ``x + sublayer(x)`` beyond what its layer norm can square, say) raises a ``ValueError``
  that says so (``overflow_refused``), never an ``inf`` or a ``RuntimeWarning``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "as_array",
    "check_attention_fits",
    "check_axis",
    "check_bool",
    "check_bool_mask",
    "check_features",
    "check_fits_linear",
    "check_float_array",
    "overflow_refused",
    "check_float_dtype",
    "check_max_abs",
    "check_positive_float",
    "check_positive_int",
    "check_qkv",
    "check_rng",
    "describe",
]


def describe(x: object) -> str:
    """Name what was given: its shape and dtype for arrays, its type otherwise."""
    if isinstance(x, np.ndarray):
        return f"array of shape {x.shape} and dtype {x.dtype}"
    return f"{type(x).__name__} {x!r}"


def refuse_special_arrays(name: str, x: object) -> None:
    """Refuse the array types of the policy above: masked arrays and ``np.matrix``."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{name} is a numpy masked array, which is not supported: its mask is not an attention "
            f"mask and numpy would drop it silently; pass {name}.filled(value) instead, and give "
            "a boolean mask= for the keys that may be attended to"
        )
    if isinstance(x, np.matrix):
        raise TypeError(f"{name} is a numpy matrix, which is not supported: pass np.asarray({name})")


def as_array(name: str, x: object, expected: str) -> NDArray[Any]:
    """``np.asarray(x)``, with a ragged nested list refused as ``{name} must be {expected}``.

    Masked arrays and matrices are refused (see the policy above).
    """
    refuse_special_arrays(name, x)
    try:
        return np.asarray(x)
    except ValueError as err:  # ragged nested lists
        raise ValueError(f"{name} must be {expected}: {err}") from None


def check_positive_int(name: str, value: object, *, minimum: int = 1, maximum: int | None = None) -> int:
    """Return ``value`` as an int if it is an integer in ``minimum .. maximum``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name} must be an integer >= {minimum}, got {describe(value)}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ValueError(f"{name} must be an integer <= {maximum}, got {value}")
    return int(value)


def free_memory() -> int | None:
    """Bytes of memory the machine has free now, or None where the system does not say."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):  # not a POSIX system, or the name is unknown
        return None


LARGEST_ARRAY = 1 << 40
"""Bytes above which an array is refused even where the free memory is not known (1 TiB)."""


def check_size(name: str, shape: Sequence[int], dtype: object, what: str) -> None:
    """Refuse an array of ``shape`` and ``dtype`` that would not fit in memory, before allocating it.

    ``what`` names the array for the message (e.g. ``"the (n, n) mask"``); ``name`` is the
    parameter whose value made it that large.
    """
    n_bytes = math.prod(int(s) for s in shape) * np.dtype(dtype).itemsize  # type: ignore[call-overload]
    limit = free_memory() or LARGEST_ARRAY
    if n_bytes > min(limit, LARGEST_ARRAY):
        raise ValueError(
            f"{name} is too large: {what} would take {n_bytes / 2**30:.3g} GiB, more than the "
            f"{limit / 2**30:.3g} GiB of memory free; use a smaller {name}"
        )


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
    if resolved.itemsize > 8:
        raise TypeError(_LONG_DOUBLE.format(name=name, dtype=resolved))
    return resolved


_LONG_DOUBLE = (
    "{name} has dtype {dtype} (long double), which is not supported: its precision depends on the "
    "platform and BLAS does not compute in it; use float16, float32 or float64, e.g. "
    "{name}.astype(np.float64)"
)


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


@contextmanager
def overflow_refused(what: str, inputs: str, dtype: np.dtype) -> Iterator[None]:
    """Run the block with numpy's overflows raised, each turned into a clear ``ValueError``.

    The checks at the door bound what can be bounded cheaply; a value computed inside (the
    residual sum before a layer norm, whose variance squares it) can still leave the float
    range. Rather than an ``inf``, a ``NaN`` and a ``RuntimeWarning`` from deep inside numpy,
    the caller gets one sentence naming ``what`` overflowed and the ``inputs`` to scale down.
    Deliberate overflows inside (``np.errstate(over="ignore")`` in the kernels) still pass.
    """
    try:
        with np.errstate(over="raise"):
            yield
    except FloatingPointError as err:
        raise ValueError(
            f"{what} overflowed {dtype} inside ({err}): {inputs} too large for it; scale them down"
        ) from None


def check_fits_linear(
    name: str, x: NDArray[np.floating], *steps: tuple[str, NDArray[np.floating], NDArray[np.floating]]
) -> None:
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
    refuse_special_arrays(name, x)
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
    if arr.dtype.itemsize > 8:
        raise TypeError(_LONG_DOUBLE.format(name=name, dtype=arr.dtype))
    if ndim is not None and arr.ndim not in ndim:
        wanted = " or ".join(str(n) for n in ndim)
        raise ValueError(
            f"{name} must have {wanted} dimensions{shown}, got shape {arr.shape} ({arr.ndim} dimensions)"
        )
    if arr.ndim < min_ndim:
        raise ValueError(f"{name} must have at least {min_ndim} dimension(s){shown}, got shape {arr.shape}")
    if arr.size == 0 and not allow_empty:
        raise ValueError(f"{name} must not be empty{shown}, got shape {arr.shape}")
    if allow_neg_inf:
        bad = bool(np.isnan(arr).any() or np.isposinf(arr).any())
        what = "NaN or +inf (only -inf, a masked score, is allowed)"
    else:
        bad = not bool(np.isfinite(arr).all())
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
        raise ValueError(f"{name} must broadcast to {layout} = {shape}, got shape {arr.shape}") from None
    if (
        len(np.broadcast_shapes(arr.shape, shape)) != len(shape)
        or np.broadcast_shapes(arr.shape, shape) != shape
    ):
        raise ValueError(
            f"{name} must broadcast to {layout} = {shape} without enlarging it, got shape {arr.shape}"
        )
    return arr


def check_rng(rng: object) -> np.random.Generator:
    """Return ``rng`` if it is a ``numpy.random.Generator``, the one source of random weights."""
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    return rng


def check_features(
    name: str,
    x: ArrayLike,
    d_model: int,
    dtype: np.dtype,
    *,
    ndim: Sequence[int] | None = None,
    layout: str = "(..., d_model)",
) -> NDArray[np.floating]:
    """Return ``x`` if it is a float array of a layer's width ``d_model`` and weight ``dtype``.

    The one check of what goes into a layer: a finite float array (``check_float_array``),
    of ``ndim`` dimensions when given, whose last axis is ``d_model`` and whose dtype is the
    weights' (float32 inputs to float64 weights would silently compute in float64).
    """
    x = check_float_array(name, x, ndim=ndim, layout=layout)
    if x.shape[-1] != d_model:
        raise ValueError(f"{name} must have last axis d_model = {d_model}, got shape {x.shape}")
    if x.dtype != dtype:
        raise TypeError(
            f"{name} has dtype {x.dtype} but the weights are {dtype}; build the layer with dtype={x.dtype}"
        )
    return x


def check_qkv(q: ArrayLike, k: ArrayLike, v: ArrayLike) -> tuple[NDArray[np.floating], ...]:
    """Check the queries, keys and values of an attention call; return them as arrays.

    Shapes ``(..., n_q, d_k)``, ``(..., n_k, d_k)``, ``(..., n_k, d_v)`` with leading axes
    that broadcast, one float dtype, finite values, and sizes whose scores cannot overflow
    (``check_attention_fits``).
    """
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
    check_attention_fits(q, k, v)
    return q, k, v


def check_attention_fits(q: NDArray[np.floating], k: NDArray[np.floating], v: NDArray[np.floating]) -> None:
    """Refuse queries, keys and values so large that attention could overflow their dtype.

    ``|q . k| <= d_k * max|q| * max|k|`` bounds every score; a weighted average of the values
    stays within ``max|v|``, half the float range kept in reserve. Called at the public door
    and on the projections inside multi-head attention, where the values are first made.
    """
    limit = float(np.finfo(q.dtype).max)
    q_max, k_max = (max(float(a.max()), -float(a.min())) for a in (q, k))
    if q.shape[-1] * q_max * k_max > limit:
        raise ValueError(
            f"q and k are too large for {q.dtype}: max |q| = {q_max:.3g} and max |k| = {k_max:.3g} "
            f"with d_k = {q.shape[-1]}, so the scores q @ k^T could overflow beyond {limit:.3g}; "
            "scale q and k down"
        )
    check_max_abs("v", v, limit / 2, "the weighted average weights @ v")
