"""Attention: scaled dot-product attention and multi-head attention.

$$
\\operatorname{Attention}(Q, K, V) = \\operatorname{softmax}\\left(\\frac{QK^\\top}{\\sqrt{d_k}}\\right)V
$$

Shapes use the paper's names: ``n_q`` queries, ``n_k`` keys (and values), ``d_k`` the
query/key size, ``d_v`` the value size, ``d_model`` the model width, ``n_heads`` heads.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    check_bool,
    check_bool_mask,
    check_fits_linear,
    check_float_array,
    check_float_dtype,
    check_max_abs,
    check_positive_int,
    describe,
)
from .numerics import softmax

__all__ = [
    "MultiHeadAttention",
    "merge_heads",
    "reference_attention",
    "scaled_dot_product_attention",
    "split_heads",
    "tiled_attention",
]

Array = NDArray[np.floating]


def _check_qkv(q: ArrayLike, k: ArrayLike, v: ArrayLike) -> tuple[Array, Array, Array]:
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
    # |q . k| <= d_k * max|q| * max|k|: refuse sizes whose scores could overflow to inf (then NaN).
    limit = float(np.finfo(q.dtype).max)
    q_max, k_max = (max(float(a.max()), -float(a.min())) for a in (q, k))
    if q.shape[-1] * q_max * k_max > limit:
        raise ValueError(
            f"q and k are too large for {q.dtype}: max |q| = {q_max:.3g} and max |k| = {k_max:.3g} "
            f"with d_k = {q.shape[-1]}, so the scores q @ k^T could overflow beyond {limit:.3g}; "
            "scale q and k down"
        )
    check_max_abs("v", v, limit / 2, "the weighted average weights @ v")
    return q, k, v


# --8<-- [start:reference_attention]
# The readable form, line by line as in the paper. scaled_dot_product_attention (below)
# computes the same numbers, faster; tiled_attention computes them without the n_q x n_k matrix.
def reference_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None = None
) -> tuple[Array, Array]:
    """Scaled dot-product attention written exactly as the equation reads.

    ``softmax(q k^T / sqrt(d_k)) v``: the textbook form, kept for reading and as the
    reference that the fast
    [scaled_dot_product_attention][transformer_primer.attention.scaled_dot_product_attention]
    and [tiled_attention][transformer_primer.attention.tiled_attention] are tested against.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries, one row per position that asks.
    k : array_like, shape (..., n_k, d_k)
        Keys, one row per position that can be attended to.
    v : array_like, shape (..., n_k, d_v)
        Values, what each key position passes on.
    mask : array_like of bool, optional, broadcastable to (..., n_q, n_k)
        ``True`` = may attend. Rows are queries, columns are keys. A query whose keys
        are all masked gets zero weights and a zero output.

    Returns
    -------
    output : numpy.ndarray, shape (..., n_q, d_v)
        Each query's weighted average of the values.
    weights : numpy.ndarray, shape (..., n_q, n_k)
        The softmax weights; each row sums to 1 (or is all 0 when fully masked).

    Raises
    ------
    TypeError
        If an input is not a float array, the dtypes differ, or the mask is not boolean.
    ValueError
        If the shapes do not fit together, an input is empty or holds NaN or infinity,
        or ``q`` and ``k`` are so large that the scores would overflow.

    Examples
    --------
    >>> import numpy as np
    >>> q = np.array([[1.0, 0.0]])
    >>> k = np.array([[1.0, 0.0], [0.0, 1.0]])
    >>> v = np.array([[10.0], [20.0]])
    >>> out, w = reference_attention(q, k, v)
    >>> w.round(4)
    array([[0.6698, 0.3302]])
    >>> out.round(4)
    array([[13.3024]])
    """
    q, k, v = _check_qkv(q, k, v)
    d_k = q.shape[-1]
    # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)
    if mask is not None:
        mask = check_bool_mask("mask", mask, scores.shape, "(..., n_q, n_k)")
        scores = np.where(mask, scores, -np.inf)  # blocked keys get weight exactly 0
    weights = softmax(scores, axis=-1)  # (..., n_q, n_k), rows sum to 1
    output = weights @ v  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    return output, weights
# --8<-- [end:reference_attention]


_LOG2_E = math.log2(math.e)  # e**x == 2**(x * log2(e)); numpy's exp2 is cheaper than its exp
_SCORES_PER_CALL = 1 << 20  # scores handled by one numpy call: small inputs at once, large ones a head at a time
_FEW_SCORES = 1 << 14  # below this many scores, shifting by the row maximum costs less than deciding to skip it


def _check_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None
) -> tuple[Array, Array, Array, NDArray[np.bool_] | None, tuple[int, ...]]:
    """Check q, k, v and the mask; return them with the broadcast batch/head axes ``lead``."""
    q, k, v = _check_qkv(q, k, v)
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])  # batch/head axes
    if mask is not None:
        mask = check_bool_mask("mask", mask, (*lead, q.shape[-2], k.shape[-2]), "(..., n_q, n_k)")
    return q, k, v, mask, lead


def _leading_chunks(lead: tuple[int, ...], per_slice: int, budget: int) -> list[tuple[int, ...]]:
    """Indices into the leading (batch/head) axes so each chunk holds at most ``budget`` elements.

    A chunk is ``x[idx]`` for ``x`` of shape ``(*lead, ...)``: the first ``len(idx)`` axes
    are looped over in Python, the rest are handled inside one numpy call. Small inputs
    give one chunk (``idx == ()``); large ones give one chunk per (batch, head) slice.
    """
    split = 0
    while split < len(lead) and math.prod(lead[split:]) * per_slice > budget:
        split += 1
    return list(np.ndindex(lead[:split]))


def _window(sees: NDArray[np.bool_], n: int) -> slice:
    """The contiguous range of an axis that holds every ``True`` of ``sees`` (length ``n`` or 1)."""
    hits = np.flatnonzero(sees)
    if hits.size == 0:
        return slice(0, 0)
    if sees.size == 1:  # a broadcast axis: all of it
        return slice(0, n)
    return slice(int(hits[0]), int(hits[-1]) + 1)


def _mask_window(
    mask: NDArray[np.bool_] | None, n_q: int, n_k: int
) -> tuple[slice, slice, NDArray[np.bool_] | None]:
    """Cut away the queries that may see no key and the keys that no query may see.

    Returns the query rows and key columns left, and the mask inverted (``True`` =
    blocked) on that window, or ``None`` when nothing in the window is blocked.
    """
    if mask is None:
        return slice(0, n_q), slice(0, n_k), None
    mask = mask.reshape((1,) * (2 - mask.ndim) + mask.shape)  # at least (n_q or 1, n_k or 1)
    sees = mask.any(axis=tuple(range(mask.ndim - 2))) if mask.ndim > 2 else mask  # (n_q or 1, n_k or 1): any batch/head
    rows = _window(sees.any(axis=-1), n_q)  # queries that may see some key
    keys = _window(sees.any(axis=-2), n_k)  # keys that some query may see
    row_cut = rows if mask.shape[-2] > 1 else slice(None)  # a broadcast (size 1) axis stays as it is
    key_cut = keys if mask.shape[-1] > 1 else slice(None)
    blocked = ~mask[..., row_cut, key_cut]  # True = may not attend
    return rows, keys, (blocked if blocked.any() else None)


def _needs_max_shift(q: Array, k: Array, v: Array) -> bool:
    """Whether ``2 ** (log2(e) * scores)`` could leave the float range unless each row's maximum is subtracted.

    By Cauchy-Schwarz every score ``q_i . k_j / sqrt(d_k)`` lies in ``[-B, B]`` with
    ``B = max |q_i| * max |k_j| / sqrt(d_k)``. When ``log2(e) * B`` is at most a quarter of
    the exponent range, every ``2 ** (log2(e) * score)`` lies in ``[2**-32, 2**32]`` (float32):
    no overflow, no underflow, and with the two checks on ``v`` below, no term of
    ``weights @ v`` overflows or underflows either. Shifting a row never changes its
    softmax, so the unshifted result equals the shifted one to float rounding.
    """
    info = np.finfo(q.dtype)
    q_norm = math.sqrt(float(np.einsum("...ij,...ij->...i", q, q).max()))  # largest |q_i|
    k_norm = math.sqrt(float(np.einsum("...ij,...ij->...i", k, k).max()))  # largest |k_j|
    bound = _LOG2_E * q_norm * k_norm / math.sqrt(q.shape[-1])  # |scores| * log2(e) <= bound
    if not bound <= info.maxexp / 4:
        return True
    v_abs = np.abs(v)
    v_max = float(v_abs.max())
    v_min = float(np.min(v_abs, where=v_abs > 0, initial=np.inf))  # smallest nonzero |v|
    sums_fit = k.shape[-2] * 2.0**bound * v_max <= float(info.max) / 4  # no sum of 2**s * v overflows
    terms_normal = v_min >= 2.0 ** (info.minexp + bound)  # no 2**s * v underflows
    return not (sums_fit and terms_normal)


def _attend(q2: Array, k: Array, v: Array, blocked: NDArray[np.bool_] | None, shift: bool,
            out: Array, weights: Array | None) -> None:
    """One chunk of the fast path: write ``out`` (..., n_q, d_v) and, if given, ``weights`` (..., n_q, n_k).

    ``q2`` is ``q`` already scaled: by ``1 / sqrt(d_k)`` when ``shift`` (natural units, ``exp``),
    else by ``log2(e) / sqrt(d_k)`` (base-2 units, ``exp2``; see ``_needs_max_shift``).
    """
    scores = weights if weights is not None else np.empty((*out.shape[:-1], k.shape[-2]), dtype=out.dtype)
    np.matmul(q2, np.swapaxes(k, -1, -2), out=scores)  # (..., n_q, d_k) @ (..., d_k, n_k) -> (..., n_q, n_k)
    if shift:  # the textbook softmax, in place
        if blocked is not None:
            np.copyto(scores, -np.inf, where=blocked)  # exp(-inf) = 0
        row_max = scores.max(axis=-1, keepdims=True)  # (..., n_q, 1)
        row_max[np.isneginf(row_max)] = 0.0  # a query that may see no key: nothing to shift
        scores -= row_max
        np.exp(scores, out=scores)  # (..., n_q, n_k) unnormalised weights, all <= 1
    else:  # every score is small: no shift; exp2 is fast on finite numbers (but slow on -inf)
        np.exp2(scores, out=scores)  # (..., n_q, n_k) unnormalised weights
        if blocked is not None:
            np.copyto(scores, 0.0, where=blocked)  # blocked keys get weight exactly 0
    total = scores.sum(axis=-1, keepdims=True)  # (..., n_q, 1)
    total[total == 0] = 1.0  # a query that may see no key keeps zero weights and a zero output
    if weights is not None:
        scores /= total  # the weights are returned: normalise all n_q x n_k of them
        np.matmul(scores, v, out=out)  # (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
    else:
        np.matmul(scores, v, out=out)  # unnormalised: (..., n_q, n_k) @ (..., n_k, d_v) -> (..., n_q, d_v)
        out /= total  # normalise n_q x d_v numbers instead of n_q x n_k


# --8<-- [start:fast_attention]
def scaled_dot_product_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
    *,
    need_weights: bool = True,
) -> tuple[Array, Array | None]:
    """Scaled dot-product attention, fast: the output and (unless declined) the weights.

    Computes what [reference_attention][transformer_primer.attention.reference_attention]
    computes, to float rounding, with the work arranged for numpy:

    - ``q`` is scaled (``n_q * d_k`` multiplications), not the ``n_q * n_k`` scores;
    - masking, the softmax and the normalisation happen in place in one buffer;
    - queries that may see no key and keys that no query may see are cut out before the
      matrix products;
    - the row maximum is only subtracted when the scores could overflow (a shift never
      changes the softmax; a Cauchy-Schwarz bound on the scores says when it is not
      needed); without the shift, ``log2(e)`` is folded into the scale of ``q`` so that the
      cheaper ``exp2`` replaces ``exp``;
    - with ``need_weights=False`` the ``(n_q, d_v)`` output is normalised instead of the
      ``(n_q, n_k)`` weights, and only one (batch, head) slice of scores exists at a time.

    Parameters
    ----------
    q, k, v, mask : array_like
        As in [reference_attention][transformer_primer.attention.reference_attention]:
        ``q`` (..., n_q, d_k), ``k`` (..., n_k, d_k), ``v`` (..., n_k, d_v), and an optional
        boolean ``mask`` broadcastable to (..., n_q, n_k), ``True`` = may attend.
    need_weights : bool, keyword-only
        Return the weights (default). ``False`` returns ``None`` for them and is faster.

    Returns
    -------
    output : numpy.ndarray, shape (..., n_q, d_v)
        Each query's weighted average of the values, in the dtype of ``q``; zero for a
        query whose keys are all masked.
    weights : numpy.ndarray, shape (..., n_q, n_k), or None
        The softmax weights, rows summing to 1 (all 0 for a fully masked query), or
        ``None`` when ``need_weights`` is False.

    Raises
    ------
    TypeError
        As ``reference_attention``, or if ``need_weights`` is not a bool.
    ValueError
        As ``reference_attention``: shapes that do not fit, empty or non-finite inputs,
        or scores that would overflow.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 2, 4, 8)).astype(np.float32)  # (heads, n, d_k) each
    >>> out, weights = scaled_dot_product_attention(q, k, v)
    >>> out.shape, weights.shape, out.dtype
    ((2, 4, 8), (2, 4, 4), dtype('float32'))
    >>> out_only, none = scaled_dot_product_attention(q, k, v, need_weights=False)
    >>> none is None, bool(np.allclose(out_only, reference_attention(q, k, v)[0], atol=1e-6))
    (True, True)
    """
    q, k, v, mask, lead = _check_attention(q, k, v, mask)
    need_weights = check_bool("need_weights", need_weights)
    (n_q, d_k), n_k, d_v = q.shape[-2:], k.shape[-2], v.shape[-1]
    rows, keys, blocked = _mask_window(mask, n_q, n_k)  # skip what the mask rules out entirely
    # (..., n_q', d_k), (..., n_k', d_k), (..., n_k', d_v): only the rows and keys left
    q, k, v = q[..., rows, :], k[..., keys, :], v[..., keys, :]
    output = np.zeros((*lead, n_q, d_v), dtype=q.dtype)  # masked-out queries stay 0
    weights = np.zeros((*lead, n_q, n_k), dtype=q.dtype) if need_weights else None
    if q.shape[-2] == 0 or k.shape[-2] == 0:  # the mask blocks everything
        return output, weights
    n_scores = q.shape[-2] * k.shape[-2]  # per (batch, head) slice
    shift = math.prod(lead) * n_scores < _FEW_SCORES or _needs_max_shift(q, k, v)
    scale = 1.0 / math.sqrt(d_k) if shift else _LOG2_E / math.sqrt(d_k)  # exp(x) = exp2(log2(e) x)
    q2 = q * q.dtype.type(scale)  # (..., n_q', d_k): n_q * d_k multiplications instead of n_q * n_k
    chunks = _leading_chunks(lead, n_scores, _SCORES_PER_CALL)
    if chunks != [()]:  # a loop over (batch, head) slices: give every input all the leading axes
        q2, k, v = (np.broadcast_to(x, (*lead, *x.shape[-2:])) for x in (q2, k, v))  # views, no copies
        if blocked is not None:
            blocked = np.broadcast_to(blocked, (*lead, *blocked.shape[-2:]))
    for idx in chunks:
        _attend(
            q2[idx], k[idx], v[idx], None if blocked is None else blocked[idx], shift,
            output[idx][..., rows, :], None if weights is None else weights[idx][..., rows, keys],
        )
    return output, weights
# --8<-- [end:fast_attention]


def _max_slack(v: Array, n_k: int) -> float:
    """How far a score may exceed the running maximum before ``tiled_attention`` must raise it.

    Weights up to ``exp(slack)`` (``2**16`` in float32) are harmless as long as ``n_k`` of
    them times the largest ``|v|`` stay far from overflow; otherwise the slack is 0.
    """
    info = np.finfo(v.dtype)
    slack = math.log(2) * info.maxexp / 8
    fits = n_k * math.exp(slack) * max(float(v.max()), -float(v.min())) <= float(info.max) / 4
    return slack if fits else 0.0


def _block_plan(
    mask: NDArray[np.bool_] | None, n_q: int, n_k: int, block_size: int
) -> list[tuple[int, int, int, int, int, int]]:
    """Which query rows meet each block of keys, and which of those rows need the mask.

    Returns one ``(k0, k1, r0, r1, m0, m1)`` per key block that some query may see:
    keys ``k0:k1`` are scored against queries ``r0:r1`` (the rows that may see one of
    them, in any batch/head), and rows ``m0:m1`` are the ones where some of those keys
    are blocked. A key block that no query may see is left out; under a causal mask key
    block ``b`` starts at query row ``b * block_size``, so the blocks above the diagonal
    are never computed.
    """
    starts = np.arange(0, n_k, block_size)
    if mask is None:
        return [(int(k0), min(int(k0) + block_size, n_k), 0, n_q, 0, 0) for k0 in starts]
    mask = mask.reshape((1,) * (2 - mask.ndim) + mask.shape)  # at least (n_q or 1, n_k or 1)
    mask = np.broadcast_to(mask, (*mask.shape[:-2], n_q, n_k))  # (..., n_q, n_k), a view
    slices = math.prod(mask.shape[:-2])  # batch/head slices the mask holds
    allowed = mask.reshape(-1, n_q, n_k).sum(axis=0, dtype=np.int32) if slices > 1 else mask[(0,) * (mask.ndim - 2)]
    counts = np.add.reduceat(allowed, starts, axis=-1, dtype=np.int32)  # (n_q, n_blocks): allowed (query, key) pairs
    widths = np.minimum(starts + block_size, n_k) - starts  # (n_blocks,) keys per block
    sees_block = counts > 0  # (n_q, n_blocks): may see a key of the block, in some batch/head
    sees_all = counts == widths * slices  # (n_q, n_blocks): may see every key of it, in every batch/head
    plan = []
    for b, k0 in enumerate(starts):
        rows = np.flatnonzero(sees_block[:, b])
        if rows.size == 0:
            continue  # no query may see these keys: skip the block
        r0, r1 = int(rows[0]), int(rows[-1]) + 1
        partly = np.flatnonzero(~sees_all[r0:r1, b])  # rows where some key of the block is blocked
        m0, m1 = (r0 + int(partly[0]), r0 + int(partly[-1]) + 1) if partly.size else (r0, r0)
        plan.append((int(k0), min(int(k0) + block_size, n_k), r0, r1, m0, m1))
    return plan


# --8<-- [start:tiled_attention]
def tiled_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    mask: ArrayLike | None = None,
    block_size: int = 128,
) -> Array:
    """Exact attention one block of keys at a time, never holding the n_q x n_k matrix.

    The online softmax (as in FlashAttention): for each block of ``block_size`` keys, score
    the block, raise each query's running maximum ``m`` if the block holds a larger score,
    rescale what was summed so far by ``exp(m_old - m_new)``, and add the block's
    ``exp(scores - m_new)`` weights times its values. The last column of the running
    sum ``acc`` sums the weights themselves (the values are extended by a column of ones),
    so one division at the end normalises. Blocks that the mask blocks entirely are
    skipped: under a causal mask, the key blocks above the diagonal.

    ``m`` is only the reference point of the exponentials, so it need not be the exact
    maximum: when ``|q_i| * max |k_j|`` (which bounds every score of the block) shows that
    no score can pass ``m`` by more than a safe slack, the block's maximum and the rescale
    are skipped (FlashAttention-4 skips rescales in a similar way).

    Parameters
    ----------
    q, k, v, mask : array_like
        As in [reference_attention][transformer_primer.attention.reference_attention]:
        ``q`` (..., n_q, d_k), ``k`` (..., n_k, d_k), ``v`` (..., n_k, d_v), and an optional
        boolean ``mask`` broadcastable to (..., n_q, n_k), ``True`` = may attend. A query
        whose keys are all masked gets a zero output.
    block_size : int
        Keys per block; memory holds ``(n_q, block_size)`` scores at a time. Need not
        divide ``n_k``.

    Returns
    -------
    numpy.ndarray, shape (..., n_q, d_v)
        The same output as
        [scaled_dot_product_attention][transformer_primer.attention.scaled_dot_product_attention],
        to float rounding, in the dtype of ``q``.

    Raises
    ------
    TypeError
        If an input is not a float array, the dtypes differ, the mask is not boolean, or
        ``block_size`` is not an integer.
    ValueError
        If the shapes do not fit together, an input is empty or holds NaN or infinity,
        ``q`` and ``k`` are so large that the scores would overflow, or ``block_size < 1``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 5, 4))  # n = 5 positions, d_k = d_v = 4
    >>> out = tiled_attention(q, k, v, block_size=2)  # key blocks 0-1, 2-3, 4
    >>> bool(np.allclose(out, scaled_dot_product_attention(q, k, v)[0]))
    True
    """
    q, k, v, mask, lead = _check_attention(q, k, v, mask)
    block_size = check_positive_int("block_size", block_size)
    (n_q, d_k), n_k, d_v = q.shape[-2:], k.shape[-2], v.shape[-1]
    plan = _block_plan(mask, n_q, n_k, block_size)  # which (key block, query rows) to compute
    blocked = {}  # per key block: True where a query may not attend, on the rows that need it
    for k0, k1, _, _, m0, m1 in plan:
        if m1 > m0:
            tile = np.broadcast_to(mask, (*mask.shape[:-2], n_q, n_k))[..., m0:m1, k0:k1]  # (..., m, b)
            # one small copy, shared by the heads
            blocked[k0] = np.broadcast_to(~tile, (*lead, m1 - m0, k1 - k0))
    q2 = q * q.dtype.type(1.0 / math.sqrt(d_k))  # (..., n_q, d_k): scale n_q * d_k numbers, not the scores
    ones = np.ones((*v.shape[:-1], 1), dtype=v.dtype)  # (..., n_k, 1)
    v1 = np.concatenate([v, ones], axis=-1)  # (..., n_k, d_v + 1): the last column sums the weights
    q2, k, v1 = (np.broadcast_to(x, (*lead, *x.shape[-2:])) for x in (q2, k, v1))  # views, no copies
    acc = np.zeros((*lead, n_q, d_v + 1), dtype=q.dtype)  # running sum of weights @ [v | 1]
    run_max = np.full((*lead, n_q, 1), -np.inf, dtype=q.dtype)  # running maximum score of each query
    # Cauchy-Schwarz: a score q2_i . k_j is at most |q2_i| * max |k_j| over the block.
    q_norm = np.sqrt(np.einsum("...ij,...ij->...i", q2, q2))[..., None]  # (..., n_q, 1)
    k_lengths = np.sqrt(np.einsum("...ij,...ij->...i", k, k))  # (..., n_k)
    k_norm = np.maximum.reduceat(k_lengths, np.arange(0, n_k, block_size), axis=-1)  # (..., n_blocks)
    slack = _max_slack(v, n_k)  # how far a score may pass the running maximum without overflow
    for idx in _leading_chunks(lead, n_q * min(block_size, n_k), _SCORES_PER_CALL // 4):
        # every block's scores, in turn
        tile = np.empty((*acc[idx].shape[:-2], n_q, min(block_size, n_k)), dtype=q.dtype)
        for k0, k1, r0, r1, m0, m1 in plan:
            s = tile[..., : r1 - r0, : k1 - k0]  # (..., r, b), a view
            k_block = np.swapaxes(k[idx][..., k0:k1, :], -1, -2)  # (..., d_k, b)
            np.matmul(q2[idx][..., r0:r1, :], k_block, out=s)  # (..., r, d_k) @ (..., d_k, b)
            if m1 > m0:  # rows where the mask blocks some keys of this block
                np.copyto(s[..., m0 - r0:m1 - r0, :], -np.inf, where=blocked[k0][idx])
            m_old = run_max[idx][..., r0:r1, :]  # (..., r, 1), a view: updated in place below
            a = acc[idx][..., r0:r1, :]  # (..., r, d_v + 1), a view
            # (..., r, 1): no score of this block is larger
            bound = q_norm[idx][..., r0:r1, :] * k_norm[idx][..., k0 // block_size, None, None]
            if (bound <= m_old + slack).all():  # no score can pass m_old by more than the slack:
                s -= m_old  # keep the running maximum; nothing to rescale
            else:  # the online softmax update
                m_new = np.maximum(m_old, s.max(axis=-1, keepdims=True))  # (..., r, 1)
                m_use = m_new.copy()
                m_use[np.isneginf(m_use)] = 0.0  # a query that has seen no key yet: nothing to shift
                a *= np.exp(m_old - m_use)  # the sums so far, moved from the old maximum to the new
                s -= m_use
                m_old[...] = m_new
            np.exp(s, out=s)  # (..., r, b): this block's unnormalised weights
            a += s @ v1[idx][..., k0:k1, :]  # (..., r, b) @ (..., b, d_v + 1) -> (..., r, d_v + 1)
    total = acc[..., -1:]  # (..., n_q, 1): the sum of each query's weights
    total[total == 0] = 1.0  # a query that may see no key keeps a zero output
    return acc[..., :-1] / total  # (..., n_q, d_v)
# --8<-- [end:tiled_attention]


# --8<-- [start:heads]
def split_heads(x: Array, n_heads: int) -> Array:
    """Split the last axis into heads: head ``h`` takes columns ``h*d_k:(h+1)*d_k``.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., n, d_model)
    n_heads : int
        Must divide ``d_model``; each head has ``d_k = d_model // n_heads`` columns.

    Returns
    -------
    numpy.ndarray, shape (..., n_heads, n, d_k)

    Raises
    ------
    TypeError
        If ``n_heads`` is not an integer.
    ValueError
        If ``x`` has fewer than 2 dimensions or ``n_heads`` does not divide ``d_model``.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 4)  # n = 2 positions, d_model = 4
    >>> split_heads(x, 2)  # head 0 gets columns 0:2, head 1 gets columns 2:4
    array([[[0., 1.],
            [4., 5.]],
    <BLANKLINE>
           [[2., 3.],
            [6., 7.]]])
    """
    x = np.asarray(x)  # any dtype: splitting only moves entries
    if x.ndim < 2:
        raise ValueError(
            f"x must have shape (..., n, d_model) with at least 2 dimensions, got shape {x.shape}"
        )
    n_heads = check_positive_int("n_heads", n_heads)
    if x.shape[-1] % n_heads:
        raise ValueError(f"n_heads must divide d_model, got n_heads={n_heads} for x of shape {x.shape}")
    *lead, n, d_model = x.shape
    d_k = d_model // n_heads
    x = x.reshape(*lead, n, n_heads, d_k)  # (..., n, d_model) -> (..., n, n_heads, d_k)
    return np.swapaxes(x, -3, -2)  # (..., n, n_heads, d_k) -> (..., n_heads, n, d_k)


def merge_heads(x: Array) -> Array:
    """Undo [split_heads][transformer_primer.attention.split_heads]: concatenate the heads.

    Parameters
    ----------
    x : numpy.ndarray, shape (..., n_heads, n, d_k)

    Returns
    -------
    numpy.ndarray, shape (..., n, n_heads * d_k)

    Raises
    ------
    ValueError
        If ``x`` has fewer than 3 dimensions.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.arange(8.0).reshape(2, 4)
    >>> bool((merge_heads(split_heads(x, 2)) == x).all())
    True
    """
    x = np.asarray(x)
    if x.ndim < 3:
        raise ValueError(
            f"x must have shape (..., n_heads, n, d_k) with at least 3 dimensions, got shape {x.shape}"
        )
    *lead, n_heads, n, d_k = x.shape
    x = np.swapaxes(x, -3, -2)  # (..., n_heads, n, d_k) -> (..., n, n_heads, d_k)
    return x.reshape(*lead, n, n_heads * d_k)  # (..., n, n_heads, d_k) -> (..., n, d_model)
# --8<-- [end:heads]


class MultiHeadAttention:
    """Multi-head attention: ``n_heads`` attentions side by side, each of size ``d_k``.

    Each projection is applied as ``x @ w + b`` with ``w`` of shape (d_model, d_model);
    head ``h`` uses columns ``h*d_k:(h+1)*d_k`` of ``w_q``, ``w_k`` and ``w_v``.

    Parameters
    ----------
    d_model : int
        Model width, the size of each input and output vector.
    n_heads : int
        Number of heads; must divide ``d_model``.
    rng : numpy.random.Generator
        Source of the random initial weights (uniform in +-1/sqrt(d_model)).
    dtype : numpy dtype
        ``float64`` (default) or ``float32``.

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, ``dtype`` is not a float
        type, or (when called) an input is not a float array of the weights' dtype or the
        mask is not boolean.
    ValueError
        If a size is not positive, ``n_heads`` does not divide ``d_model``, or (when
        called) the shapes do not fit ``(n, d_model)`` / ``(batch, n, d_model)``, an
        input is empty or not finite, or the mask does not broadcast to (..., n_q, n_k).

    Attributes
    ----------
    w_q, w_k, w_v, w_o : numpy.ndarray, shape (d_model, d_model)
        Query, key, value and output projections.
    b_q, b_k, b_v, b_o : numpy.ndarray, shape (d_model,)
        Their biases (zeros at initialisation).

    Examples
    --------
    >>> import numpy as np
    >>> mha = MultiHeadAttention(d_model=4, n_heads=2, rng=np.random.default_rng(0))
    >>> x = np.ones((3, 4))  # n = 3 positions
    >>> out, weights = mha(x, x, x)
    >>> out.shape, weights.shape  # weights: one (n_q, n_k) matrix per head
    ((3, 4), (2, 3, 3))
    """

    def __init__(
        self,
        d_model: int,
        n_heads: int,
        rng: np.random.Generator,
        dtype: type[np.floating] | np.dtype = np.float64,
    ) -> None:
        d_model = check_positive_int("d_model", d_model)
        n_heads = check_positive_int("n_heads", n_heads)
        if d_model % n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={d_model}, n_heads={n_heads}"
            )
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
        dtype = check_float_dtype("dtype", dtype)
        self.d_model = d_model
        self.n_heads = n_heads
        self.d_k = d_model // n_heads
        bound = 1.0 / math.sqrt(d_model)
        for name in ("w_q", "w_k", "w_v", "w_o"):
            setattr(self, name, rng.uniform(-bound, bound, (d_model, d_model)).astype(dtype))
        for name in ("b_q", "b_k", "b_v", "b_o"):
            setattr(self, name, np.zeros(d_model, dtype=dtype))

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name (the arrays themselves, not copies)."""
        names = ("w_q", "w_k", "w_v", "w_o", "b_q", "b_k", "b_v", "b_o")
        return {name: getattr(self, name) for name in names}

    def _check_input(self, name: str, x: ArrayLike) -> Array:
        x = check_float_array(name, x, ndim=(2, 3), layout="(n, d_model) or (batch, n, d_model)")
        if x.shape[-1] != self.d_model:
            raise ValueError(
                f"{name} must have last axis d_model = {self.d_model}, got shape {x.shape}"
            )
        if x.dtype != self.w_q.dtype:
            raise TypeError(f"{name} has dtype {x.dtype} but the weights are {self.w_q.dtype}")
        steps = {  # the projections x goes through: refuse sizes that could overflow in them
            "query": [("query @ w_q + b_q", self.w_q, self.b_q)],
            "key": [("key @ w_k + b_k", self.w_k, self.b_k)],
            "value": [("value @ w_v + b_v", self.w_v, self.b_v), ("heads @ w_o + b_o", self.w_o, self.b_o)],
        }
        check_fits_linear(name, x, *steps[name])
        return x

    # --8<-- [start:mha_call]
    def __call__(
        self,
        query: ArrayLike,
        key: ArrayLike,
        value: ArrayLike,
        mask: ArrayLike | None = None,
        *,
        cache: dict | None = None,
    ) -> tuple[Array, Array]:
        """Attend from ``query`` positions to ``key``/``value`` positions.

        Parameters
        ----------
        query : array_like, shape (n_q, d_model) or (batch, n_q, d_model)
        key, value : array_like, shape (n_k, d_model) or (batch, n_k, d_model)
            Self-attention passes the same array three times; cross-attention passes
            the decoder states as ``query`` and the encoder output as ``key`` and ``value``.
        mask : array_like of bool, optional, broadcastable to (n_q, n_k) or (batch, n_q, n_k)
            ``True`` = may attend; the same mask applies to every head.
        cache : dict, optional
            When given, the forward pass stores in it what
            [mha_backward][transformer_primer.grad.mha_backward] needs (the inputs, the
            per-head ``q``, ``k``, ``v``, the weights and the merged heads).

        Returns
        -------
        output : numpy.ndarray, shape (n_q, d_model) or (batch, n_q, d_model)
        weights : numpy.ndarray, shape (n_heads, n_q, n_k) or (batch, n_heads, n_q, n_k)
        """
        query = self._check_input("query", query)
        key = self._check_input("key", key)
        value = self._check_input("value", value)
        if key.shape != value.shape:
            raise ValueError(f"key and value must have the same shape, got {key.shape} and {value.shape}")
        if query.ndim != key.ndim or (query.ndim == 3 and query.shape[0] != key.shape[0]):
            raise ValueError(
                f"query and key must have the same batch layout, got shapes {query.shape} and {key.shape}"
            )
        # (..., n, d_model) -> (..., n_heads, n, d_k), n = n_q for the queries, n_k for the others
        q = split_heads(query @ self.w_q + self.b_q, self.n_heads)  # (..., n_heads, n_q, d_k)
        k = split_heads(key @ self.w_k + self.b_k, self.n_heads)  # (..., n_heads, n_k, d_k)
        v = split_heads(value @ self.w_v + self.b_v, self.n_heads)  # (..., n_heads, n_k, d_k)
        if mask is not None:
            scores_shape = (*query.shape[:-2], query.shape[-2], key.shape[-2])
            mask = check_bool_mask("mask", mask, scores_shape, "(..., n_q, n_k)")
            mask = np.expand_dims(mask, -3)  # (..., n_q, n_k) -> (..., 1, n_q, n_k): same for every head
        heads, weights = scaled_dot_product_attention(q, k, v, mask)  # (..., n_heads, n_q, d_k)
        merged = merge_heads(heads)  # (..., n_heads, n_q, d_k) -> (..., n_q, d_model)
        if cache is not None:  # kept for the backward pass (training)
            cache.update(query=query, key=key, value=value, q=q, k=k, v=v, weights=weights, merged=merged)
        output = merged @ self.w_o + self.b_o  # (..., n_q, d_model) -> (..., n_q, d_model)
        return output, weights
    # --8<-- [end:mha_call]
