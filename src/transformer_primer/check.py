"""Check your own code: one check per package function a learner may rewrite.

Write your own version of a function of this package, with the same signature, and call
the check named after it:

    from transformer_primer import check
    check.softmax(my_softmax)

The check runs your function on shapes, dtypes, masks and values chosen to expose the
classic mistakes and compares it with the package's own function. A right function prints
one line that says what was verified; a wrong one raises ``AssertionError`` whose message
says what is wrong in one or two sentences ("your weights sum to 1 over the queries, not
the keys: ..."). If your function raises, or returns the wrong type or shape, the message
says that too. No pytest is needed: it works at the prompt and in a notebook.

Each check is named after the function it checks, with that function's signature:

| check | your function, as the package's |
| --- | --- |
| ``softmax`` | ``softmax(x, axis=-1)`` |
| ``causal_mask`` | ``causal_mask(n)`` |
| ``padding_mask`` | ``padding_mask(lengths, n)`` |
| ``scaled_dot_product_attention`` | ``scaled_dot_product_attention(q, k, v, mask=None)`` |
| ``split_heads``, ``merge_heads`` | ``split_heads(x, n_heads)``, ``merge_heads(x)`` |
| ``layer_norm`` | ``layer_norm(x, gamma, beta, eps=1e-5)`` |
| ``softmax_backward`` | ``softmax_backward(dweights, weights)`` |
| ``attention_backward`` | ``attention_backward(dout, q, k, v, weights)`` |
| ``embedding_backward`` | ``embedding_backward(dout, ids, vocab_size)`` |
| ``sinusoidal_positional_encoding`` | ``sinusoidal_positional_encoding(n_positions, d_model)`` |
| ``make_batch`` | ``make_batch(vocab, task, texts)`` |
| ``cross_entropy`` | ``cross_entropy(logits, targets, pad_id)`` |
| ``tiled_attention`` | ``tiled_attention(q, k, v, mask=None, block_size=128)`` |
| ``residual`` | ``residual(x, sublayer, norm, norm_first)`` (``Residual``) |
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._checks import describe
from .attention import split_heads as _split_heads
from .grad import attention_backward as _attention_backward
from .grad import cross_entropy as _cross_entropy
from .grad import embedding_backward as _embedding_backward
from .grad import softmax_backward as _softmax_backward
from .kernels import scaled_dot_product_attention as _attention
from .layers import LayerNorm, Residual
from .masks import causal_mask as _causal_mask
from .masks import padding_mask as _padding_mask
from .numerics import softmax as _softmax
from .positional import sinusoidal_positional_encoding as _positional
from .tasks import make_batch as _make_batch
from .vocab import Vocab

__all__ = [
    "attention_backward",
    "causal_mask",
    "cross_entropy",
    "embedding_backward",
    "layer_norm",
    "make_batch",
    "merge_heads",
    "padding_mask",
    "residual",
    "scaled_dot_product_attention",
    "sinusoidal_positional_encoding",
    "softmax",
    "softmax_backward",
    "split_heads",
    "tiled_attention",
]

Fn = Callable[..., Any]
Array = NDArray[Any]


# --- the shared steps: call, look at the result, compare, report ------------------------------
def _need_callable(check: str, fn: object) -> Fn:
    if not callable(fn):
        raise TypeError(
            f"fn must be your function (a callable with the signature of the package's {check}), "
            f"as in check.{check}(my_{check}); got {describe(fn)}"
        )
    return fn


def _what(x: object) -> str:
    """``describe``, cut short: a learner's wrong result can be a long list."""
    text = describe(x)
    return text if len(text) <= 80 else text[:77] + "..."


def _call(name: str, fn: Fn, call: str, *args: Any, **kwargs: Any) -> Any:
    """Run the learner's function; if it raises, say so as the diagnosis."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:
        raise AssertionError(f"your {name} raised {type(exc).__name__} when called as {call}: {exc}") from exc


def _array(name: str, result: object, call: str, shape: tuple[int, ...] | None = None) -> Array:
    """The result as an array of the expected shape, or a diagnosis."""
    if not isinstance(result, np.ndarray):
        raise AssertionError(f"your {name} returned {_what(result)} for {call}: return a numpy array")
    if shape is not None and result.shape != shape:
        raise AssertionError(f"your {name} returned shape {result.shape} for {call}: expected {shape}")
    return result


def _tuple(name: str, result: object, call: str, n: int, what: str) -> tuple[Any, ...]:
    if not isinstance(result, tuple) or len(result) != n:
        raise AssertionError(f"your {name} returned {_what(result)} for {call}: return a tuple {what}")
    return result


def _close(a: Array, b: Array, tol: float = 1e-6) -> bool:
    if a.shape != b.shape:
        return False
    with np.errstate(invalid="ignore"):
        return bool(np.allclose(np.asarray(a, np.float64), np.asarray(b, np.float64), rtol=tol, atol=tol))


def _gap(a: Array, b: Array) -> str:
    with np.errstate(invalid="ignore"):
        return f"{float(np.nanmax(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64)))):.3g}"


def _no_nan(name: str, result: Array, call: str, advice: str) -> None:
    if not np.isfinite(result).all():
        bad = "nan" if np.isnan(result).any() else "inf"
        raise AssertionError(f"your {name} gives {bad} for {call}: {advice}")


def _passed(check: str, what: str) -> None:
    print(f"check.{check} passed: {what}")


def _ref_attention(q: Array, k: Array, v: Array, mask: Array | None = None) -> tuple[Array, Array]:
    out, weights = _attention(q, k, v, mask)
    assert weights is not None
    return out, weights


def _rng() -> np.random.Generator:
    return np.random.default_rng(1234)


# --- the checks ------------------------------------------------------------------------------
def softmax(fn: Fn) -> None:
    """Check your ``softmax(x, axis=-1)`` against [softmax][transformer_primer.numerics.softmax].

    Tried on random scores (2-D and 1-D), ``axis=0``, scores of 1000, rows far below
    others, ``-inf`` entries, a fully masked row (all ``-inf``: all-zero weights, the
    package's convention) and float32 input (the dtype must be kept).

    Parameters
    ----------
    fn : callable
        Your function, ``fn(x, axis=-1)`` returning an array of the shape of ``x``.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, numerics
    >>> check.softmax(numerics.softmax)  # doctest: +ELLIPSIS
    check.softmax passed: ...
    >>> import numpy as np
    >>> def wrong(x, axis=-1):
    ...     return np.exp(x) / np.exp(x).sum(axis=0, keepdims=True)
    >>> check.softmax(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your softmax normalises over axis 0, not over axis=-1: each row of
    scores (the last axis by default) must sum to 1
    """
    fn = _need_callable("softmax", fn)
    name, rng = "softmax", _rng()
    x = rng.normal(size=(3, 4))  # (3, 4): 3 rows of 4 scores
    call = "softmax(x) with x of shape (3, 4)"
    got = _array(name, _call(name, fn, call, x), call, (3, 4))
    want = _softmax(x)
    if not _close(got, want):
        e = np.exp(x)
        if _close(got, e / e.sum(axis=0, keepdims=True)):
            raise AssertionError(
                "your softmax normalises over axis 0, not over axis=-1: each row of scores "
                "(the last axis by default) must sum to 1"
            )
        if _close(got, e / e.sum()):
            raise AssertionError(
                "your softmax divides by the sum of the whole array: sum along axis only "
                "(np.sum(e, axis=axis, keepdims=True)) so that each row sums to 1"
            )
        if _close(got, e):
            raise AssertionError("your softmax does not normalise: divide exp(x) by its sum along axis")
        raise AssertionError(f"your softmax(x) differs from the reference by up to {_gap(got, want)}")
    call = "softmax(x, axis=0) with x of shape (3, 4)"
    got = _array(name, _call(name, fn, call, x, axis=0), call, (3, 4))
    if not _close(got, _softmax(x, axis=0)):
        raise AssertionError(
            "your softmax ignores its axis argument: softmax(x, axis=0) must sum to 1 down each column"
        )
    x1 = x[0]
    call = "softmax(x) with x of shape (4,)"
    got = _array(name, _call(name, fn, call, x1), call, (4,))
    if not _close(got, _softmax(x1)):
        raise AssertionError(
            f"your softmax of a 1-D array differs from the reference by up to {_gap(got, _softmax(x1))}"
        )
    big = np.array([[1000.0, 1000.0], [1000.0, 0.0]])
    call = "softmax([[1000, 1000], [1000, 0]])"
    with np.errstate(all="ignore"):
        got = _array(name, _call(name, fn, call, big), call, (2, 2))
    _no_nan(
        name,
        got,
        call,
        "subtract the row maximum first (it changes nothing mathematically and keeps exp from overflowing)",
    )
    far = np.array([[1000.0, 999.0], [0.0, -1.0]])
    call = "softmax([[1000, 999], [0, -1]])"
    with np.errstate(all="ignore"):
        got = _array(name, _call(name, fn, call, far), call, (2, 2))
    if not _close(got, _softmax(far)):
        raise AssertionError(
            f"your {call} is wrong in the second row (nan or 0): subtract each row's own maximum "
            "(np.max(x, axis=axis, keepdims=True)), not the maximum of the whole array"
        )
    masked = np.array([[0.0, -np.inf, 1.0], [-np.inf, -np.inf, -np.inf]])
    call = "softmax([[0, -inf, 1], [-inf, -inf, -inf]])"
    with np.errstate(all="ignore"):
        got = _array(name, _call(name, fn, call, masked), call, (2, 3))
    want = _softmax(masked)
    if not _close(got[:1], want[:1]):
        raise AssertionError(f"your {call} is wrong in the first row: a -inf score must get weight exactly 0")
    if not _close(got[1:], want[1:]):
        raise AssertionError(
            f"your {call} gives {got[1].tolist()} for the row that is all -inf (a query whose every key is "
            "masked): return zeros there, the package's convention, not nan (e.g. np.divide(e, total, where=total > 0))"
        )
    x32 = x.astype(np.float32)
    call = "softmax(x) with x of dtype float32"
    got = _array(name, _call(name, fn, call, x32), call, (3, 4))
    if got.dtype != np.float32:
        raise AssertionError(f"your {call} returns dtype {got.dtype}: keep the dtype of the input")
    _passed("softmax", "rows sum to 1; scores of 1000, -inf, an all -inf row, axis=0, float32")


def causal_mask(fn: Fn) -> None:
    """Check your ``causal_mask(n)`` against [causal_mask][transformer_primer.masks.causal_mask].

    Tried for ``n`` = 4 and 1: a boolean (n, n) array, rows = queries, columns = keys,
    ``True`` = may attend, the diagonal included.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(n)`` returning a boolean array of shape (n, n).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, masks
    >>> check.causal_mask(masks.causal_mask)  # doctest: +ELLIPSIS
    check.causal_mask passed: ...
    >>> import numpy as np
    >>> check.causal_mask(lambda n: np.triu(np.ones((n, n), dtype=bool)))
    Traceback (most recent call last):
    ...
    AssertionError: your mask lets query 0 see key 1: it is transposed (rows are queries,
    columns are keys: np.tril, not np.triu)
    """
    fn = _need_callable("causal_mask", fn)
    name = "causal_mask"
    for n in (4, 1):
        call = f"causal_mask({n})"
        got = _array(name, _call(name, fn, call, n), call, (n, n))
        if got.dtype != bool:
            raise AssertionError(
                f"your mask has dtype {got.dtype}, not bool: return True/False (True = may attend), "
                "e.g. np.tril(np.ones((n, n), dtype=bool)); the package refuses a mask of numbers"
            )
        want = _causal_mask(n)
        if (got == want).all():
            continue
        if (got == want.T).all():
            raise AssertionError(
                "your mask lets query 0 see key 1: it is transposed (rows are queries, columns are keys: "
                "np.tril, not np.triu)"
            )
        if (got == ~want).all():
            raise AssertionError(
                "your mask is inverted: it is True for the future keys; True must mean 'may attend' "
                "(the keys 0..i of query i)"
            )
        if (got == np.tril(want, k=-1)).all():
            raise AssertionError(
                "your mask hides the diagonal, so query i cannot see key i and query 0 sees nothing "
                "(off by one): np.tril(..., k=0) keeps it"
            )
        raise AssertionError(f"your {call} differs from the reference at {int((got != want).sum())} entries")
    _passed("causal_mask", "bool (n, n), query i sees keys 0..i, for n = 4 and 1")


def padding_mask(fn: Fn) -> None:
    """Check your ``padding_mask(lengths, n)`` against [padding_mask][transformer_primer.masks.padding_mask].

    Tried for lengths (2, 4, 1) padded to 4: a boolean (batch, 1, n) array whose axis of
    size 1 stands for the queries, ``True`` for the real keys ``j < length``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(lengths, n)`` returning a boolean array of shape (batch, 1, n).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, masks
    >>> check.padding_mask(masks.padding_mask)  # doctest: +ELLIPSIS
    check.padding_mask passed: ...
    >>> import numpy as np
    >>> def wrong(lengths, n):
    ...     return (np.arange(n)[None, :] < np.asarray(lengths)[:, None])[:, :, None]
    >>> check.padding_mask(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your mask has shape (3, 4, 1) = (batch, n, 1): it masks queries, not
    keys (it is transposed); the axis of size 1 stands for the queries: (batch, 1, n)
    """
    fn = _need_callable("padding_mask", fn)
    name = "padding_mask"
    lengths, n = np.array([2, 4, 1]), 4
    call = "padding_mask([2, 4, 1], 4)"
    got = _array(name, _call(name, fn, call, lengths, n), call)
    want = _padding_mask(lengths, n)  # (3, 1, 4)
    if got.shape == (3, 4, 1):
        raise AssertionError(
            "your mask has shape (3, 4, 1) = (batch, n, 1): it masks queries, not keys (it is transposed); "
            "the axis of size 1 stands for the queries: (batch, 1, n)"
        )
    if got.shape == (3, 4):
        raise AssertionError(
            "your mask has shape (3, 4) = (batch, n): add the query axis, (batch, 1, n), so that it "
            "broadcasts against scores of shape (batch, n_q, n_k) (mask[:, None, :])"
        )
    _array(name, got, call, (3, 1, 4))
    if got.dtype != bool:
        raise AssertionError(
            f"your mask has dtype {got.dtype}, not bool: return True/False (True = a real key)"
        )
    if (got == want).all():
        _passed("padding_mask", "bool (batch, 1, n), key j is real when j < length")
        return
    if (got == ~want).all():
        raise AssertionError(
            "your mask is inverted: it is True on the padding; True must mean a real key (j < length)"
        )
    positions = np.arange(n)
    if (got[:, 0] == (positions[None, :] <= lengths[:, None])).all():
        raise AssertionError(
            "your mask lets every query see key j = length, the first padding token (off by one): use j < length"
        )
    raise AssertionError(f"your {call} differs from the reference at {int((got != want).sum())} entries")


def _effective_scale(q: Array, k: Array, weights: Array) -> float | None:
    """The c with weights = softmax(q k^T / c), fitted from the weights' log ratios."""
    scores = q @ np.swapaxes(k, -1, -2)  # (..., n_q, n_k)
    with np.errstate(divide="ignore", invalid="ignore"):
        logw = np.log(np.asarray(weights, np.float64))
    ds = (scores - scores[..., :1]).ravel()
    dl = (logw - logw[..., :1]).ravel()
    keep = np.isfinite(dl) & (np.abs(ds) > 1e-6)
    if keep.sum() < 2 or not np.any(dl[keep]):
        return None
    c = float(ds[keep] @ ds[keep] / (ds[keep] @ dl[keep]))
    fits = np.allclose(ds[keep] / c, dl[keep], rtol=1e-4, atol=1e-6)
    return c if fits and c > 0 else None


def scaled_dot_product_attention(fn: Fn) -> None:
    """Check your ``scaled_dot_product_attention(q, k, v, mask=None)``, which returns ``(output, weights)``.

    Compared with [scaled_dot_product_attention][transformer_primer.kernels.scaled_dot_product_attention]
    on single and batched inputs with ``n_q != n_k`` (3 queries, 5 keys, ``d_k = 4``), a
    boolean mask (``True`` = may attend; masked weights exactly 0), float16 inputs with a
    mask, and a query whose keys are all masked (zero weights and output, the package's
    convention).

    Parameters
    ----------
    fn : callable
        Your function, ``fn(q, k, v, mask=None)`` returning ``(output, weights)`` of shapes
        (..., n_q, d_v) and (..., n_q, n_k).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, kernels
    >>> reference = kernels.scaled_dot_product_attention
    >>> check.scaled_dot_product_attention(reference)  # doctest: +ELLIPSIS
    check.scaled_dot_product_attention passed: ...
    >>> from transformer_primer.numerics import softmax
    >>> def wrong(q, k, v, mask=None):
    ...     weights = softmax(q @ k.swapaxes(-1, -2), axis=-1)
    ...     return weights @ v, weights
    >>> check.scaled_dot_product_attention(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your scores are not divided by sqrt(d_k) = sqrt(4) = 2: scores = q @ k^T
    / sqrt(d_k)
    """
    fn = _need_callable("scaled_dot_product_attention", fn)
    name, rng = "attention", _rng()
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 6))
    d_k = 4
    call = "attention(q, k, v) with q (3, 4), k (5, 4), v (5, 6)"
    result = _tuple(name, _call(name, fn, call, q, k, v), call, 2, "(output, weights)")
    if isinstance(result[0], np.ndarray) and result[0].shape == (3, 5):
        raise AssertionError(f"your attention returns (weights, output) for {call}: return (output, weights)")
    out = _array(name, result[0], call + " (output)", (3, 6))
    weights = _array(name, result[1], call + " (weights)", (3, 5))
    want_out, want_w = _ref_attention(q, k, v)
    if not _close(weights, want_w):
        if _close(weights.sum(axis=0), np.ones(5)):
            raise AssertionError(
                "your weights sum to 1 over the queries, not the keys: softmax over the last axis"
            )
        c = _effective_scale(q, k, weights)
        if c is not None and abs(c - 1.0) < 1e-3:
            raise AssertionError(
                f"your scores are not divided by sqrt(d_k) = sqrt({d_k}) = 2: scores = q @ k^T / sqrt(d_k)"
            )
        if c is not None and abs(c - d_k) < 1e-3:
            raise AssertionError(
                f"your scores are divided by d_k = {d_k}, not by sqrt(d_k) = 2: scores = q @ k^T / sqrt(d_k)"
            )
        if c is not None:
            raise AssertionError(
                f"your scores are divided by {c:.4g} = sqrt({c * c:.4g}), not by sqrt(d_k) = sqrt({d_k}) = 2: "
                "scale by the size of one query/key (one head's d_k), not the model width"
            )
        raise AssertionError(f"your weights differ from the reference by up to {_gap(weights, want_w)}")
    if not _close(out, want_out):
        raise AssertionError(
            f"your weights are right but your output differs by up to {_gap(out, want_out)}: output = weights @ v"
        )
    qb, kb, vb = rng.normal(size=(2, 3, 4)), rng.normal(size=(2, 5, 4)), rng.normal(size=(2, 5, 6))
    call = "attention(q, k, v) with a batch: q (2, 3, 4), k (2, 5, 4), v (2, 5, 6)"
    try:
        result = fn(qb, kb, vb)
    except Exception as exc:
        raise AssertionError(
            f"your attention raised {type(exc).__name__} for {call} ({exc}): k.T reverses every axis of a "
            "batch; use np.swapaxes(k, -1, -2) (or k.swapaxes(-1, -2)) to transpose the last two"
        ) from exc
    result = _tuple(name, result, call, 2, "(output, weights)")
    out = _array(name, result[0], call + " (output)", (2, 3, 6))
    weights = _array(name, result[1], call + " (weights)", (2, 3, 5))
    want_out, want_w = _ref_attention(qb, kb, vb)
    if not (_close(out, want_out) and _close(weights, want_w)):
        raise AssertionError(
            f"your attention is right for one sequence but not for a batch (off by up to {_gap(out, want_out)}): "
            "transpose only the last two axes of k (np.swapaxes(k, -1, -2)) and softmax over the last axis"
        )
    mask = np.array(
        [[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 0, 1, 0, 1]], dtype=bool
    )  # (3, 5): True = may attend
    call = "attention(q, k, v, mask) with a (3, 5) boolean mask"
    with np.errstate(all="ignore"):
        result = _tuple(name, _call(name, fn, call, q, k, v, mask), call, 2, "(output, weights)")
    out = _array(name, result[0], call + " (output)", (3, 6))
    weights = _array(name, result[1], call + " (weights)", (3, 5))
    want_out, want_w = _ref_attention(q, k, v, mask)
    if not _close(weights, want_w):
        leaks = not np.allclose(np.where(mask, 0.0, weights), 0.0)  # weight where the mask says no
        if leaks and np.allclose(np.where(mask, weights, 0.0), 0.0):
            raise AssertionError(
                "your attention hides the keys where the mask is True: True means 'may attend' "
                "(np.where(mask, scores, -np.inf))"
            )
        if leaks:
            raise AssertionError(
                "your weights are not 0 where the mask is False: set those scores to -inf before the softmax "
                "(np.where(mask, scores, -np.inf)), not to 0 (multiplying by the mask gives e^0 = 1)"
            )
        raise AssertionError(
            f"your masked weights differ from the reference by up to {_gap(weights, want_w)}"
        )
    if not _close(out, want_out):
        raise AssertionError(f"your masked output differs from the reference by up to {_gap(out, want_out)}")
    q16, k16, v16 = (x.astype(np.float16) for x in (q, k, v))
    call = "attention(q, k, v, mask) with float16 inputs"
    with np.errstate(all="ignore"):
        result = _tuple(name, _call(name, fn, call, q16, k16, v16, mask), call, 2, "(output, weights)")
    out = _array(name, result[0], call + " (output)", (3, 6))
    weights = _array(name, result[1], call + " (weights)", (3, 5))
    want16, _ = _ref_attention(q16, k16, v16, mask)
    with np.errstate(invalid="ignore"):
        lost = not np.isfinite(out).all() or not np.allclose(
            weights.astype(np.float64).sum(axis=-1), 1.0, atol=1e-2
        )
    if lost:
        raise AssertionError(
            "your attention works in float64 but its float16 weights are nan or do not sum to 1: a -1e9 mask "
            "overflows in float16 (-1e9 becomes -inf, and 0 * -inf is nan); use np.where(mask, scores, -np.inf) "
            "or np.finfo(dtype).min"
        )
    if not np.allclose(out.astype(np.float64), want16.astype(np.float64), atol=2e-2):
        raise AssertionError(f"your float16 output differs from the reference by up to {_gap(out, want16)}")
    blocked = mask.copy()
    blocked[1] = False  # query 1 may see no key (a padding row)
    call = "attention(q, k, v, mask) where query 1 may see no key"
    with np.errstate(all="ignore"):
        result = _tuple(name, _call(name, fn, call, q, k, v, blocked), call, 2, "(output, weights)")
    out = _array(name, result[0], call + " (output)", (3, 6))
    weights = _array(name, result[1], call + " (weights)", (3, 5))
    if not (np.isfinite(out).all() and np.isfinite(weights).all()):
        raise AssertionError(
            f"your {call} gives nan: a query whose keys are all masked must get zero weights and a zero "
            "output (the package's convention), e.g. a softmax that returns zeros for an all -inf row"
        )
    want_out, want_w = _ref_attention(q, k, v, blocked)
    if not (_close(out, want_out) and _close(weights, want_w)):
        raise AssertionError(
            f"your {call} differs from the reference by up to {_gap(out, want_out)}: such a query gets zero "
            "weights and a zero output"
        )
    _passed("scaled_dot_product_attention", "sqrt(d_k), key axis, batch, mask, float16, no-key query")


def split_heads(fn: Fn) -> None:
    """Check your ``split_heads(x, n_heads)`` against [split_heads][transformer_primer.attention.split_heads].

    Tried on (n, d_model) = (3, 8) with 2 heads and on a batch (2, 3, 8): head ``h`` must
    hold columns ``h*d_k:(h+1)*d_k`` of every position, shape (..., n_heads, n, d_k).

    Parameters
    ----------
    fn : callable
        Your function, ``fn(x, n_heads)``.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, attention
    >>> check.split_heads(attention.split_heads)  # doctest: +ELLIPSIS
    check.split_heads passed: ...
    >>> check.split_heads(lambda x, n_heads: x.reshape(n_heads, x.shape[0], -1))
    Traceback (most recent call last):
    ...
    AssertionError: your heads mix tokens: you reshaped straight to (n_heads, n, d_k)
    without the transpose; reshape to (n, n_heads, d_k), then swap the first two axes
    """
    fn = _need_callable("split_heads", fn)
    name = "split_heads"
    n, d_model, n_heads, d_k = 3, 8, 2, 4
    x = np.arange(float(n * d_model)).reshape(n, d_model)  # (3, 8): entry (i, j) = 8 i + j
    call = "split_heads(x, 2) with x of shape (3, 8)"
    got = _array(name, _call(name, fn, call, x, n_heads), call)
    if got.shape == (n, n_heads, d_k):
        raise AssertionError(
            "your heads have shape (n, n_heads, d_k) = (3, 2, 4): swap the first two axes to get (n_heads, n, d_k)"
        )
    _array(name, got, call, (n_heads, n, d_k))
    want = _split_heads(x, n_heads)
    if not (got == want).all():
        if (got == x.reshape(n_heads, n, d_k)).all():
            raise AssertionError(
                "your heads mix tokens: you reshaped straight to (n_heads, n, d_k) without the transpose; "
                "reshape to (n, n_heads, d_k), then swap the first two axes"
            )
        if (got == np.moveaxis(x.reshape(n, d_k, n_heads), -1, 0)).all():
            raise AssertionError(
                "your head 0 takes every other column (0, 2, 4, ...): reshape to (n, n_heads, d_k), "
                "not (n, d_k, n_heads), so head h holds the block of columns h*d_k:(h+1)*d_k"
            )
        raise AssertionError(f"your {call} puts {int((got != want).sum())} entries in the wrong place")
    xb = np.arange(float(2 * n * d_model)).reshape(2, n, d_model)
    call = "split_heads(x, 2) with a batch x of shape (2, 3, 8)"
    got = _array(name, _call(name, fn, call, xb, n_heads), call, (2, n_heads, n, d_k))
    if not (got == _split_heads(xb, n_heads)).all():
        raise AssertionError(
            "your split_heads is right for one sequence but not for a batch: keep the leading axes "
            "(*lead, n, d_model = x.shape) and swap axes -3 and -2"
        )
    _passed("split_heads", "head h holds columns h*d_k:(h+1)*d_k, (3, 8) and a batch")


def merge_heads(fn: Fn) -> None:
    """Check your ``merge_heads(x)`` against [merge_heads][transformer_primer.attention.merge_heads].

    Tried on (n_heads, n, d_k) = (2, 3, 4) and a batch (2, 2, 3, 4): the exact inverse of
    ``split_heads``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(x)``.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, attention
    >>> check.merge_heads(attention.merge_heads)  # doctest: +ELLIPSIS
    check.merge_heads passed: ...
    >>> check.merge_heads(lambda x: x.reshape(x.shape[1], -1))
    Traceback (most recent call last):
    ...
    AssertionError: your merge mixes tokens: you reshaped (n_heads, n, d_k) straight to (n,
    d_model); swap the head and position axes first, then reshape
    """
    fn = _need_callable("merge_heads", fn)
    name = "merge_heads"
    x = np.arange(24.0).reshape(3, 8)  # (n, d_model)
    heads = _split_heads(x, 2)  # (2, 3, 4)
    call = "merge_heads(x) with x of shape (2, 3, 4)"
    got = _array(name, _call(name, fn, call, heads), call, (3, 8))
    if not (got == x).all():
        if (got == heads.reshape(3, 8)).all():
            raise AssertionError(
                "your merge mixes tokens: you reshaped (n_heads, n, d_k) straight to (n, d_model); "
                "swap the head and position axes first, then reshape"
            )
        raise AssertionError(f"your {call} puts {int((got != x).sum())} entries in the wrong place")
    xb = np.arange(48.0).reshape(2, 3, 8)
    call = "merge_heads(x) with a batch x of shape (2, 2, 3, 4)"
    got = _array(name, _call(name, fn, call, _split_heads(xb, 2)), call, (2, 3, 8))
    if not (got == xb).all():
        raise AssertionError(
            "your merge_heads is right for one sequence but not for a batch: swap axes -3 and -2, keep the leading axes"
        )
    _passed("merge_heads", "the exact inverse of split_heads, (2, 3, 4) and a batch")


def _reference_layer_norm(x: Array, gamma: Array, beta: Array, eps: float) -> Array:
    norm = LayerNorm(x.shape[-1], eps=eps)
    norm.gamma, norm.beta = gamma, beta
    return norm(x)


def layer_norm(fn: Fn) -> None:
    """Check your ``layer_norm(x, gamma, beta, eps=1e-5)`` against [LayerNorm][transformer_primer.layers.LayerNorm].

    ``(x - mean) / sqrt(var + eps) * gamma + beta`` over the last axis, the biased
    variance (``ddof=0``), tried on random rows, a constant row (its variance is 0) and
    rows with a tiny spread (where ``eps`` matters).

    Parameters
    ----------
    fn : callable
        Your function, ``fn(x, gamma, beta, eps=1e-5)`` with ``x`` of shape (..., d_model)
        and ``gamma``, ``beta`` of shape (d_model,).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check
    >>> def my_layer_norm(x, gamma, beta, eps=1e-5):
    ...     mean = x.mean(axis=-1, keepdims=True)
    ...     var = x.var(axis=-1, keepdims=True)
    ...     return (x - mean) / (var + eps) ** 0.5 * gamma + beta
    >>> check.layer_norm(my_layer_norm)  # doctest: +ELLIPSIS
    check.layer_norm passed: ...
    >>> def wrong(x, gamma, beta, eps=1e-5):
    ...     mean = x.mean(axis=-1, keepdims=True)
    ...     return (x - mean) / (x.var(axis=-1, ddof=1, keepdims=True) + eps) ** 0.5 * gamma + beta
    >>> check.layer_norm(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your layer norm uses the unbiased variance (ddof=1): use x.var(axis=-1)
    (ddof=0), as the paper's and PyTorch's layer norm do
    """
    fn = _need_callable("layer_norm", fn)
    name, rng, eps = "layer norm", _rng(), 1e-5
    x = rng.normal(2.0, 3.0, size=(3, 5))  # (3, 5): 3 positions, d_model = 5
    gamma, beta = rng.normal(size=5), rng.normal(size=5)
    call = "layer_norm(x, gamma, beta) with x (3, 5)"
    got = _array(name, _call(name, fn, call, x, gamma, beta), call, (3, 5))
    want = _reference_layer_norm(x, gamma, beta, eps)
    if not _close(got, want, 1e-5):
        mean = x.mean(axis=-1, keepdims=True)
        if _close(
            got, (x - mean) / np.sqrt(x.var(axis=-1, ddof=1, keepdims=True) + eps) * gamma + beta, 1e-5
        ) or _close(got, (x - mean) / (x.std(axis=-1, ddof=1, keepdims=True) + eps) * gamma + beta, 1e-5):
            raise AssertionError(
                "your layer norm uses the unbiased variance (ddof=1): use x.var(axis=-1) (ddof=0), "
                "as the paper's and PyTorch's layer norm do"
            )
        m0 = x.mean(axis=0, keepdims=True)
        if _close(got, (x - m0) / np.sqrt(x.var(axis=0, keepdims=True) + eps) * gamma + beta, 1e-5):
            raise AssertionError(
                "your layer norm normalises over axis 0 (across positions, like batch norm), "
                "not over the last axis (the d_model features of each position)"
            )
        plain = (x - mean) / np.sqrt(x.var(axis=-1, keepdims=True) + eps)
        if _close(got, plain, 1e-5) or _close(got, plain * gamma, 1e-5) or _close(got, plain + beta, 1e-5):
            raise AssertionError("your layer norm ignores gamma or beta: return x_hat * gamma + beta")
        raise AssertionError(f"your {call} differs from the reference by up to {_gap(got, want)}")
    flat = np.array([[0.0, 0.001, 0.002, 0.003, 0.004], [7.0, 7.0, 7.0, 7.0, 7.0]])  # tiny spread; constant
    call = "layer_norm(x, gamma, beta) with a row of spread 0.001 and a constant row"
    with np.errstate(all="ignore"):
        got = _array(name, _call(name, fn, call, flat, gamma, beta), call, (2, 5))
    _no_nan(name, got, call, "a constant row has variance 0: add eps to the variance before the square root")
    want = _reference_layer_norm(flat, gamma, beta, eps)
    if not _close(got, want, 1e-5):
        m = flat.mean(axis=-1, keepdims=True)
        if _close(got, (flat - m) / (flat.std(axis=-1, keepdims=True) + eps) * gamma + beta, 1e-5):
            raise AssertionError(
                "you add eps to the standard deviation, not to the variance: divide by sqrt(var + eps)"
            )
        raise AssertionError(f"your {call} differs from the reference by up to {_gap(got, want)}")
    _passed("layer_norm", "last axis, biased variance, eps inside the sqrt, gamma and beta")


def softmax_backward(fn: Fn) -> None:
    """Check your ``softmax_backward(dweights, weights)`` against [softmax_backward][transformer_primer.grad.softmax_backward].

    Tried on (3, 4) weights (one entry masked, weight 0) and (2, 3, 4): the gradient with
    respect to the scores, ``p * (dp - sum(dp * p))`` over the last axis.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(dweights, weights)`` returning an array of their shape.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, grad
    >>> check.softmax_backward(grad.softmax_backward)  # doctest: +ELLIPSIS
    check.softmax_backward passed: ...
    >>> check.softmax_backward(lambda dweights, weights: dweights * weights)
    Traceback (most recent call last):
    ...
    AssertionError: your gradient misses the term -p * sum(dp * p): each score moves every
    weight of its row (the softmax's Jacobian is diag(p) - p p^T)
    """
    fn = _need_callable("softmax_backward", fn)
    name, rng = "softmax_backward", _rng()
    scores = rng.normal(size=(3, 4))
    scores[0, 2] = -np.inf  # a masked key: weight 0, gradient 0
    weights = _softmax(scores)
    dweights = rng.normal(size=(3, 4))
    call = "softmax_backward(dweights, weights) with (3, 4) arrays"
    got = _array(name, _call(name, fn, call, dweights, weights), call, (3, 4))
    want = _softmax_backward(dweights, weights)
    if not _close(got, want):
        if _close(got, dweights * weights):
            raise AssertionError(
                "your gradient misses the term -p * sum(dp * p): each score moves every weight of its row "
                "(the softmax's Jacobian is diag(p) - p p^T)"
            )
        if _close(got, weights * (dweights - np.sum(dweights * weights, axis=0, keepdims=True))):
            raise AssertionError(
                "your inner sum runs over axis 0: sum dp * p over the last axis, keepdims=True"
            )
        raise AssertionError(f"your {call} differs from the reference by up to {_gap(got, want)}")
    w3 = _softmax(rng.normal(size=(2, 3, 4)))
    d3 = rng.normal(size=(2, 3, 4))
    call = "softmax_backward(dweights, weights) with (2, 3, 4) arrays"
    got = _array(name, _call(name, fn, call, d3, w3), call, (2, 3, 4))
    if not _close(got, _softmax_backward(d3, w3)):
        raise AssertionError(
            f"your {call} differs from the reference: sum over the last axis only, keepdims=True"
        )
    _passed("softmax_backward", "p * (dp - sum(dp * p)) over the last axis, 2-D and 3-D")


def attention_backward(fn: Fn) -> None:
    """Check your ``attention_backward(dout, q, k, v, weights)`` against [attention_backward][transformer_primer.grad.attention_backward].

    Tried with 3 queries, 5 keys, ``d_k = 4``, ``d_v = 6`` (so a missing transpose shows as
    a wrong shape) and a causal-like mask; returns ``(dq, dk, dv)``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(dout, q, k, v, weights)``.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, grad
    >>> check.attention_backward(grad.attention_backward)  # doctest: +ELLIPSIS
    check.attention_backward passed: ...
    >>> def wrong(dout, q, k, v, weights):
    ...     dv = weights.swapaxes(-1, -2) @ dout
    ...     dscores = grad.softmax_backward(dout @ v.swapaxes(-1, -2), weights)  # no / sqrt(d_k)
    ...     return dscores @ k, dscores.swapaxes(-1, -2) @ q, dv
    >>> check.attention_backward(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your dq and dk are 2 = sqrt(d_k) times too large: the forward divided
    the scores by sqrt(d_k), so their gradient is divided by it too
    """
    fn = _need_callable("attention_backward", fn)
    name, rng = "attention_backward", _rng()
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(5, 4)), rng.normal(size=(5, 6))
    mask = np.array([[1, 1, 0, 0, 0], [1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], dtype=bool)
    _, weights = _ref_attention(q, k, v, mask)
    dout = rng.normal(size=(3, 6))
    call = "attention_backward(dout, q, k, v, weights) with q (3, 4), k (5, 4), v (5, 6)"
    result = _tuple(name, _call(name, fn, call, dout, q, k, v, weights), call, 3, "(dq, dk, dv)")
    dq = _array(name, result[0], call + " (dq)", (3, 4))
    dk = _array(name, result[1], call + " (dk)", (5, 4))
    dv = _array(name, result[2], call + " (dv)", (5, 6))
    want = _attention_backward(dout, q, k, v, weights)
    wrong = [
        n for n, got, w in zip(("dq", "dk", "dv"), (dq, dk, dv), want, strict=True) if not _close(got, w)
    ]
    if not wrong:
        _passed("attention_backward", "dq, dk, dv for 3 queries x 5 keys with a mask, d_k = 4")
        return
    if wrong == ["dq", "dk"] and _close(dq, 2 * want[0]) and _close(dk, 2 * want[1]):
        raise AssertionError(
            "your dq and dk are 2 = sqrt(d_k) times too large: the forward divided the scores by sqrt(d_k), "
            "so their gradient is divided by it too"
        )
    dscores = (dout @ v.T) / 2.0
    if wrong == ["dq", "dk"] and _close(dq, dscores @ k):
        raise AssertionError(
            "your dq and dk skip the softmax's backward: dscores = softmax_backward(dout @ v^T, weights) / sqrt(d_k)"
        )
    raise AssertionError(
        f"your {' and '.join(wrong)} differ from the reference (the others are right): "
        + "; ".join(
            f"{n} off by up to {_gap(g, w)}"
            for n, g, w in zip(("dq", "dk", "dv"), (dq, dk, dv), want, strict=True)
            if n in wrong
        )
    )


def embedding_backward(fn: Fn) -> None:
    """Check your ``embedding_backward(dout, ids, vocab_size)`` against [embedding_backward][transformer_primer.grad.embedding_backward].

    The package's [Embedding][transformer_primer.layers.Embedding] returns
    ``weight[ids] * sqrt(d_model)``, so each row's gradient carries that factor. Tried on
    ids where a token appears twice (its gradients must add up) and a (2, 3) batch.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(dout, ids, vocab_size)`` returning (vocab_size, d_model).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, grad
    >>> check.embedding_backward(grad.embedding_backward)  # doctest: +ELLIPSIS
    check.embedding_backward passed: ...
    >>> import numpy as np
    >>> def wrong(dout, ids, vocab_size):
    ...     dweight = np.zeros((vocab_size, dout.shape[-1]))
    ...     dweight[ids] += dout * dout.shape[-1] ** 0.5
    ...     return dweight
    >>> check.embedding_backward(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your gradient keeps only one occurrence of a repeated token:
    dweight[ids] += dout writes each row once; use np.add.at(dweight, ids, dout) so repeats
    add up
    """
    fn = _need_callable("embedding_backward", fn)
    name, rng = "embedding_backward", _rng()
    ids = np.array([3, 1, 3, 0])  # token 3 appears twice
    dout = rng.normal(size=(4, 4))  # (n, d_model)
    call = "embedding_backward(dout, ids, 5) with ids [3, 1, 3, 0] and d_model = 4"
    got = _array(name, _call(name, fn, call, dout, ids, 5), call, (5, 4))
    want = _embedding_backward(dout, ids, 5)
    if not _close(got, want):
        if _close(got * 2.0, want):
            raise AssertionError(
                "your gradient misses the factor sqrt(d_model) = 2: the package's Embedding multiplies "
                "its rows by sqrt(d_model), so their gradient is multiplied by it too"
            )
        once = np.zeros((5, 4))
        once[ids] += dout * 2.0
        if _close(got, once) or _close(got * 2.0, once):
            raise AssertionError(
                "your gradient keeps only one occurrence of a repeated token: dweight[ids] += dout writes "
                "each row once; use np.add.at(dweight, ids, dout) so repeats add up"
            )
        raise AssertionError(f"your {call} differs from the reference by up to {_gap(got, want)}")
    ids2 = np.array([[1, 2, 2], [4, 1, 0]])
    d2 = rng.normal(size=(2, 3, 4))
    call = "embedding_backward(dout, ids, 5) with ids of shape (2, 3)"
    got = _array(name, _call(name, fn, call, d2, ids2, 5), call, (5, 4))
    if not _close(got, _embedding_backward(d2, ids2, 5)):
        raise AssertionError(
            f"your {call} differs from the reference: flatten the batch (ids.ravel(), dout.reshape(-1, d_model))"
        )
    _passed("embedding_backward", "repeated ids add up, times sqrt(d_model), a batch of ids")


def sinusoidal_positional_encoding(fn: Fn) -> None:
    """Check your ``sinusoidal_positional_encoding(n_positions, d_model)`` against [the package's][transformer_primer.positional.sinusoidal_positional_encoding].

    Tried for (n_positions, d_model) = (6, 8) and an odd width (4, 5): sin on even columns
    ``2i``, cos on odd columns ``2i + 1``, both at the angle ``pos / 10000^(2i / d_model)``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(n_positions, d_model)`` returning (n_positions, d_model).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, positional
    >>> reference = positional.sinusoidal_positional_encoding
    >>> check.sinusoidal_positional_encoding(reference)  # doctest: +ELLIPSIS
    check.sinusoidal_positional_encoding passed: ...
    >>> import numpy as np
    >>> def wrong(n_positions, d_model):
    ...     angle = np.arange(n_positions)[:, None] / 10000 ** (np.arange(0, d_model, 2) / d_model)
    ...     return np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)
    >>> check.sinusoidal_positional_encoding(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: you put all the sines first, then all the cosines (two halves): the
    paper interleaves them, sin on even columns 2i and cos on odd columns 2i + 1
    """
    fn = _need_callable("sinusoidal_positional_encoding", fn)
    name = "positional encoding"
    n_pos, d = 6, 8
    call = f"sinusoidal_positional_encoding({n_pos}, {d})"
    got = _array(name, _call(name, fn, call, n_pos, d), call, (n_pos, d))
    want = _positional(n_pos, d)
    if not _close(got, want):
        pos = np.arange(n_pos)[:, None]
        angle = pos / 10000.0 ** (np.arange(0, d, 2) / d)  # (6, 4)
        if _close(got, np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)):
            raise AssertionError(
                "you put all the sines first, then all the cosines (two halves): the paper interleaves them, "
                "sin on even columns 2i and cos on odd columns 2i + 1"
            )
        swapped = np.empty((n_pos, d))
        swapped[:, 0::2], swapped[:, 1::2] = np.cos(angle), np.sin(angle)
        if _close(got, swapped):
            raise AssertionError(
                "you put cos on even and sin on odd columns: the paper puts sin at 2i and cos at 2i + 1"
            )
        per_column = pos / 10000.0 ** (np.arange(d) / d)  # (6, 8): column j uses j/d
        own = np.where(np.arange(d) % 2 == 0, np.sin(per_column), np.cos(per_column))
        if _close(got, own):
            raise AssertionError(
                "your odd column 2i + 1 uses its own frequency 10000^((2i + 1)/d_model): a sin/cos pair "
                "shares the angle pos / 10000^(2i/d_model)"
            )
        half = pos / 10000.0 ** (np.arange(d // 2) / d)  # pair i uses i/d
        wrong_i = np.empty((n_pos, d))
        wrong_i[:, 0::2], wrong_i[:, 1::2] = np.sin(half), np.cos(half)
        if _close(got, wrong_i):
            raise AssertionError(
                "your exponent is i/d_model for pair i: it is 2i/d_model (10000 ** (np.arange(0, d_model, 2) / d_model))"
            )
        raise AssertionError(f"your {call} differs from the reference by up to {_gap(got, want)}")
    call = "sinusoidal_positional_encoding(4, 5), an odd d_model"
    got = _array(name, _call(name, fn, call, 4, 5), call, (4, 5))
    if not _close(got, _positional(4, 5)):
        raise AssertionError(
            f"your {call} differs from the reference: with an odd d_model the last column is a sine and "
            "the last cosine is dropped"
        )
    _passed("sinusoidal_positional_encoding", "sin at 2i, cos at 2i + 1, d_model 8 and 5")


def make_batch(fn: Fn) -> None:
    """Check your ``make_batch(vocab, task, texts)`` against [make_batch][transformer_primer.tasks.make_batch].

    Tried with ``Vocab("abc")``, the task ``"reverse"`` and texts of lengths 2, 1 and 3:
    the decoder input is ``<bos>`` + target and the decoder target is target + ``<eos>``
    (teacher forcing: shifted by one), both padded with ``pad_id``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(vocab, task, texts)`` returning ``(src_ids, tgt_in, tgt_out)``.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, tasks
    >>> check.make_batch(tasks.make_batch)  # doctest: +ELLIPSIS
    check.make_batch passed: ...
    >>> def wrong(vocab, task, texts):
    ...     src, tgt_in, tgt_out = tasks.make_batch(vocab, task, texts)
    ...     return src, tgt_out, tgt_out
    >>> check.make_batch(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your decoder input equals its target: teacher forcing shifts by one
    (input = <bos> + target, target = target + <eos>), so that each position predicts the
    next token instead of copying its own
    """
    fn = _need_callable("make_batch", fn)
    name = "make_batch"
    vocab, texts = Vocab("abc"), ["ab", "c", "abc"]
    call = 'make_batch(Vocab("abc"), "reverse", ["ab", "c", "abc"])'
    result = _tuple(
        name, _call(name, fn, call, vocab, "reverse", texts), call, 3, "(src_ids, tgt_in, tgt_out)"
    )
    want = _make_batch(vocab, "reverse", texts)
    got = [
        _array(name, r, f"{call} ({part})", w.shape)
        for r, part, w in zip(result, ("src_ids", "tgt_in", "tgt_out"), want, strict=True)
    ]
    if not (got[0] == want[0]).all():
        raise AssertionError(
            f"your src_ids {got[0].tolist()} differ from {want[0].tolist()}: encode the texts, padded with pad_id"
        )
    if (got[1] == want[1]).all() and (got[2] == want[2]).all():
        _passed("make_batch", "input <bos> + target, target + <eos>, padded")
        return
    if (got[1] == got[2]).all():
        raise AssertionError(
            "your decoder input equals its target: teacher forcing shifts by one (input = <bos> + target, "
            "target = target + <eos>), so that each position predicts the next token instead of copying its own"
        )
    if (got[1] == want[2]).all() and (got[2] == want[1]).all():
        raise AssertionError(
            "your decoder input and target are swapped: the input starts with <bos>, the target ends with <eos>"
        )
    if (got[1] == want[1]).all() and not (got[2] == vocab.eos_id).any():
        raise AssertionError(
            "your target has no <eos>: the model never learns to stop; end each target with eos_id"
        )
    raise AssertionError(
        f"your decoder arrays differ from the reference: tgt_in {got[1].tolist()} should be {want[1].tolist()}, "
        f"tgt_out {got[2].tolist()} should be {want[2].tolist()}"
    )


def cross_entropy(fn: Fn) -> None:
    """Check your ``cross_entropy(logits, targets, pad_id)`` against [cross_entropy][transformer_primer.grad.cross_entropy].

    Tried on (2, 3, 5) logits with padded targets (they add nothing and get gradient 0),
    logits around 1000 and a gap of 800 between logits. Returns ``(loss, dlogits, real)``.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(logits, targets, pad_id)``.

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, grad
    >>> check.cross_entropy(grad.cross_entropy)  # doctest: +ELLIPSIS
    check.cross_entropy passed: ...
    >>> import numpy as np
    >>> def wrong(logits, targets, pad_id):
    ...     loss, dlogits, real = grad.cross_entropy(logits, targets, pad_id)
    ...     return loss, dlogits * real.sum(), real
    >>> check.cross_entropy(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your dlogits are N = 4 times too large: it is the gradient of the mean
    loss, (softmax - onehot) / N with N the number of real targets
    """
    fn = _need_callable("cross_entropy", fn)
    name, rng, pad = "cross_entropy", _rng(), 0
    logits = rng.normal(size=(2, 3, 5))
    targets = np.array([[2, 4, 0], [1, 0, 0]])  # 3 padded targets, 3 real
    targets[1, 1] = 3  # now 4 real targets
    call = "cross_entropy(logits, targets, 0) with logits (2, 3, 5), 2 of 6 targets padded"
    result = _tuple(name, _call(name, fn, call, logits, targets, pad), call, 3, "(loss, dlogits, real)")
    loss, dlogits, real = result
    want_loss, want_d, _ = _cross_entropy(logits, targets, pad)
    if np.ndim(loss) != 0 or not isinstance(
        np.asarray(loss).item(), float
    ):  # a float, np.float64 or 0-d array
        raise AssertionError(
            f"your loss is {describe(loss)}: return one number (a float), the mean over real targets"
        )
    dlogits = _array(name, dlogits, call + " (dlogits)", (2, 3, 5))
    _array(name, real, call + " (real)", (2, 3))
    if not math.isclose(float(loss), want_loss, rel_tol=1e-6):
        all_ = _cross_entropy(logits, np.where(targets == pad, 1, targets), -1)[0]
        log_p = logits - np.log(np.exp(logits).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(log_p, targets[..., None], axis=-1)[..., 0]
        if math.isclose(float(loss), -float(picked.mean()), rel_tol=1e-6) or math.isclose(
            float(loss), all_, rel_tol=1e-6
        ):
            raise AssertionError(
                "your loss counts the padded positions: average over the targets that are not pad_id only"
            )
        if math.isclose(float(loss), -float(picked[targets != pad].sum()), rel_tol=1e-6):
            raise AssertionError(
                "your loss is the sum over the real targets, not their mean: divide by their number"
            )
        raise AssertionError(f"your loss {float(loss):.6f} differs from the reference {want_loss:.6f}")
    if not _close(dlogits, want_d):
        if not np.allclose(dlogits[targets == pad], 0.0):
            raise AssertionError(
                "your dlogits are not 0 at the padded positions: they add nothing to the loss"
            )
        if _close(dlogits, want_d * 4):
            raise AssertionError(
                "your dlogits are N = 4 times too large: it is the gradient of the mean loss, "
                "(softmax - onehot) / N with N the number of real targets"
            )
        raise AssertionError(f"your dlogits differ from the reference by up to {_gap(dlogits, want_d)}")
    big = np.array([[1000.0, 1001.0, 999.0]])
    call = "cross_entropy(logits, [1], 0) with logits [[1000, 1001, 999]]"
    with np.errstate(all="ignore"):
        loss, dlogits, _ = _tuple(
            name, _call(name, fn, call, big, np.array([1]), pad), call, 3, "(loss, dlogits, real)"
        )
    if not (np.isfinite(loss) and np.isfinite(dlogits).all()):
        raise AssertionError(
            f"your {call} gives nan or inf: subtract the row maximum before exp (log-sum-exp)"
        )
    gap = np.array([[0.0, 800.0]])
    call = "cross_entropy(logits, [1], 2) with logits [[0, 800]] and target 0"
    with np.errstate(all="ignore"):
        loss, _, _ = _tuple(
            name, _call(name, fn, call, gap, np.array([0]), 2), call, 3, "(loss, dlogits, real)"
        )
    if not math.isclose(float(loss), 800.0, rel_tol=1e-6):
        raise AssertionError(
            f"your {call} gives {float(loss)} instead of 800: the log of a softmax probability that "
            "underflowed to 0; use log_softmax = shifted - log(sum(exp(shifted)))"
        )
    _passed("cross_entropy", "mean over real targets, 0 gradient on padding, logits of 1000")


def tiled_attention(fn: Fn) -> None:
    """Check your ``tiled_attention(q, k, v, mask=None, block_size=128)`` against [tiled_attention][transformer_primer.kernels.tiled_attention].

    Tried with 3 queries and 8 keys in blocks of 8, 4 and 3 (the last block shorter),
    with scores whose maximum grows from block to block (the running sums must be
    rescaled), with a mask, and with a query whose keys are all masked (zero output).

    Parameters
    ----------
    fn : callable
        Your function, ``fn(q, k, v, mask=None, block_size=128)`` returning the output
        (..., n_q, d_v).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check, kernels
    >>> check.tiled_attention(kernels.tiled_attention)  # doctest: +ELLIPSIS
    check.tiled_attention passed: ...
    >>> def wrong(q, k, v, mask=None, block_size=128):  # forgets the mask
    ...     return kernels.tiled_attention(q, k, v, block_size=block_size)
    >>> check.tiled_attention(wrong)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    AssertionError: your tiled_attention(q, k, v, mask, block_size=3) is wrong for the
    queries that may see some keys: set the masked scores to -inf
    """
    fn = _need_callable("tiled_attention", fn)
    name, rng = "tiled attention", _rng()
    q, k, v = rng.normal(size=(3, 4)), rng.normal(size=(8, 4)), rng.normal(size=(8, 3))
    k = k * np.linspace(0.5, 3.0, 8)[:, None]  # later keys score higher: the maximum moves block by block
    want, _ = _ref_attention(q, k, v)
    results = {}
    for block in (8, 4, 3):
        call = f"tiled_attention(q, k, v, block_size={block}) with q (3, 4), k (8, 4), v (8, 3)"
        with np.errstate(all="ignore"):
            results[block] = _array(name, _call(name, fn, call, q, k, v, block_size=block), call, (3, 3))
    if not _close(results[8], want):
        raise AssertionError(
            f"your tiled attention is wrong even with one block (block_size=8 = n_k), off by up to "
            f"{_gap(results[8], want)}: check the scale 1/sqrt(d_k) and the final division by the sum of weights"
        )
    if not _close(results[4], want):
        raise AssertionError(
            "your tiled attention is right with one block but not with blocks of 4: when a block raises the "
            "running maximum, rescale the sums so far (both l and o) by exp(m_old - m_new)"
        )
    if not _close(results[3], want):
        raise AssertionError(
            "your tiled attention is right with blocks of 4 but not of 3: the last, shorter block (keys 6-7) "
            "is lost; block_size need not divide n_k"
        )
    mask = np.tril(np.ones((3, 8), dtype=bool), k=4)  # query i sees keys 0..i+4
    mask[2] = False  # query 2 sees no key
    call = "tiled_attention(q, k, v, mask, block_size=3)"  # query 2 may see no key
    with np.errstate(all="ignore"):
        got = _array(name, _call(name, fn, call, q, k, v, mask, block_size=3), call, (3, 3))
    want, _ = _ref_attention(q, k, v, mask)
    if not _close(got[:2], want[:2]):
        raise AssertionError(
            f"your {call} is wrong for the queries that may see some keys: set the masked scores to -inf"
        )
    if not _close(got[2:], want[2:]):
        raise AssertionError(
            f"your {call} gives {got[2].tolist()} for query 2, which may see no key: it gets a zero output "
            "(exp(-inf - -inf) is nan: treat a running maximum of -inf as 0)"
        )
    _passed("tiled_attention", "blocks of 8, 4 and 3 of 8 keys, a mask, a no-key query")


def residual(fn: Fn) -> None:
    """Check your ``residual(x, sublayer, norm, norm_first)`` against [Residual][transformer_primer.layers.Residual].

    Post-norm (``norm_first=False``, the paper): ``norm(x + sublayer(x))``; pre-norm
    (``norm_first=True``): ``x + sublayer(norm(x))``. Tried with both orders on a (3, 4)
    input, a sublayer ``h -> tanh(h w)`` and a layer norm with gamma 1 and beta 0.

    Parameters
    ----------
    fn : callable
        Your function, ``fn(x, sublayer, norm, norm_first)`` where ``sublayer`` and ``norm``
        are callables from (..., d_model) to (..., d_model).

    Raises
    ------
    TypeError
        If ``fn`` is not callable.
    AssertionError
        If ``fn`` is wrong; the message says how.

    Examples
    --------
    >>> from transformer_primer import check
    >>> def my_residual(x, sublayer, norm, norm_first):
    ...     return x + sublayer(norm(x)) if norm_first else norm(x + sublayer(x))
    >>> check.residual(my_residual)  # doctest: +ELLIPSIS
    check.residual passed: ...
    >>> def wrong(x, sublayer, norm, norm_first):  # post-norm in the text, pre-norm here
    ...     return x + sublayer(norm(x))
    >>> check.residual(wrong)
    Traceback (most recent call last):
    ...
    AssertionError: your post-norm block (norm_first=False) computes x + sublayer(norm(x)),
    which is pre-norm: the paper's post-norm is norm(x + sublayer(x))
    """
    fn = _need_callable("residual", fn)
    name, rng = "residual", _rng()
    x = rng.normal(size=(3, 4))
    norm = LayerNorm(4)

    w = rng.normal(size=(4, 4))

    def sublayer(h: Array) -> Array:
        return np.tanh(h @ w)  # not affine: a layer norm would undo an affine map

    def layer_norm(h: Array) -> Array:
        return norm(h)

    post = Residual(norm, norm_first=False)(x, sublayer, {})  # norm(x + sublayer(x))
    pre = Residual(norm, norm_first=True)(x, sublayer, {})  # x + sublayer(norm(x))
    for norm_first, want, other in ((False, post, pre), (True, pre, post)):
        call = f"residual(x, sublayer, norm, norm_first={norm_first}) with x (3, 4)"
        got = _array(name, _call(name, fn, call, x, sublayer, layer_norm, norm_first), call, (3, 4))
        if _close(got, want):
            continue
        if _close(got, other) and not norm_first:
            raise AssertionError(
                "your post-norm block (norm_first=False) computes x + sublayer(norm(x)), which is pre-norm: "
                "the paper's post-norm is norm(x + sublayer(x))"
            )
        if _close(got, other):
            raise AssertionError(
                "your pre-norm block (norm_first=True) computes norm(x + sublayer(x)), which is post-norm: "
                "pre-norm is x + sublayer(norm(x))"
            )
        if _close(got, norm(sublayer(x))) or _close(got, sublayer(norm(x))):
            raise AssertionError("your block drops the residual: add x (the input) back")
        raise AssertionError(f"your {call} differs from the reference by up to {_gap(got, want)}")
    _passed("residual", "post-norm norm(x + f(x)) and pre-norm x + f(norm(x))")
