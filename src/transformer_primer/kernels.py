"""Kernels: attention computed fast, and attention computed one block of keys at a time.

The readable form of attention is [reference_attention][transformer_primer.attention.reference_attention]:
the equation, line by line. The functions here compute the same numbers (the tests hold them
to it, to float rounding) with the work arranged for numpy:
[scaled_dot_product_attention][transformer_primer.kernels.scaled_dot_product_attention]
(in place, fewer passes over the scores, optionally without the weights) and
[tiled_attention][transformer_primer.kernels.tiled_attention] (the online softmax of
FlashAttention, in memory that grows with ``n``, not ``n ** 2``). Both are re-exported by
``transformer_primer.attention``, where they were first written.

Each public function checks its inputs once; ``attend`` is the unchecked core that
[MultiHeadAttention][transformer_primer.attention.MultiHeadAttention] calls after checking
its own.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_bool, check_bool_mask, check_positive_int, check_qkv

__all__ = ["attend", "scaled_dot_product_attention", "tiled_attention"]

Array = NDArray[np.floating]

_LOG2_E = math.log2(math.e)  # e**x == 2**(x * log2(e)); numpy's exp2 is cheaper than its exp
_SCORES_PER_CALL = (
    1 << 20
)  # scores handled by one numpy call: small inputs at once, large ones a head at a time
_FEW_SCORES = (
    1 << 14
)  # below this many scores, shifting by the row maximum costs less than deciding to skip it


def _check_attention(
    q: ArrayLike, k: ArrayLike, v: ArrayLike, mask: ArrayLike | None
) -> tuple[Array, Array, Array, NDArray[np.bool_] | None, tuple[int, ...]]:
    """Check q, k, v and the mask; return them with the broadcast batch/head axes ``lead``."""
    q, k, v = check_qkv(q, k, v)
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
    # (n_q or 1, n_k or 1): may attend, in any batch/head
    sees = np.asarray(mask.any(axis=tuple(range(mask.ndim - 2)))) if mask.ndim > 2 else mask
    rows = _window(np.asarray(sees.any(axis=-1)), n_q)  # queries that may see some key
    keys = _window(np.asarray(sees.any(axis=-2)), n_k)  # keys that some query may see
    row_cut = rows if mask.shape[-2] > 1 else slice(None)  # a broadcast (size 1) axis stays as it is
    key_cut = keys if mask.shape[-1] > 1 else slice(None)
    blocked = ~mask[..., row_cut, key_cut]  # True = may not attend
    return rows, keys, (blocked if blocked.any() else None)


def _needs_max_shift(q: Array, k: Array, v: Array) -> bool:
    """Whether ``2 ** (log2(e) * scores)`` could leave the float range unless rows are shifted.

    Shifted: each row's maximum subtracted first.

    By Cauchy-Schwarz every score ``q_i . k_j / sqrt(d_k)`` lies in ``[-B, B]`` with
    ``B = max |q_i| * max |k_j| / sqrt(d_k)``. When ``log2(e) * B`` is at most a quarter of
    the exponent range, every ``2 ** (log2(e) * score)`` lies in ``[2**-32, 2**32]`` (float32):
    no overflow, no underflow, and with the two checks on ``v`` below, no term of
    ``weights @ v`` overflows or underflows either. Shifting a row never changes its
    softmax, so the unshifted result equals the shifted one to float rounding.
    """
    info = np.finfo(q.dtype)
    q_norm, k_norm = _largest_norm(q), _largest_norm(k)  # largest |q_i|, largest |k_j|
    bound = _LOG2_E * q_norm * k_norm / math.sqrt(q.shape[-1])  # |scores| * log2(e) <= bound
    if not bound <= info.maxexp / 4:
        return True
    v_abs = np.abs(v)
    v_max = float(v_abs.max())
    v_min = float(np.min(v_abs, where=v_abs > 0, initial=np.inf))  # smallest nonzero |v|
    sums_fit = k.shape[-2] * 2.0**bound * v_max <= float(info.max) / 4  # no sum of 2**s * v overflows
    terms_normal = v_min >= 2.0 ** (info.minexp + bound)  # no 2**s * v underflows
    return not (sums_fit and terms_normal)


def _largest_norm(x: Array) -> float:
    """The largest Euclidean norm of a row of ``x``, computed without overflow (as a float)."""
    return float(np.sqrt(_row_norms_squared(x).max()))


def _row_norms_squared(x: Array) -> NDArray[np.float64]:
    """``|x_i| ** 2`` of every row, in float64 and scaled by the largest ``|x|``: no overflow.

    ``x . x`` in x's own dtype overflows for float32 values above about 1e19 (and warns).
    """
    scale = max(float(x.max()), -float(x.min())) if x.size else 0.0
    if scale == 0.0:
        return np.zeros(x.shape[:-1])
    if scale**2 * x.shape[-1] < float(np.finfo(x.dtype).max) / 4:  # the usual case: no copy needed
        return np.einsum("...ij,...ij->...i", x, x).astype(np.float64)
    y = x / x.dtype.type(scale)  # every |y| <= 1
    return np.einsum("...ij,...ij->...i", y, y).astype(np.float64) * scale**2  # inf only past float64


def _sums_could_overflow(v: Array, n_k: int) -> bool:
    """Whether summing ``n_k`` values times weights up to 1 could overflow v's dtype."""
    return n_k * max(float(v.max()), -float(v.min())) > float(np.finfo(v.dtype).max) / 4


def _attend_chunk(
    q2: Array,
    k: Array,
    v: Array,
    blocked: NDArray[np.bool_] | None,
    shift: bool,
    out: Array,
    weights: Array | None,
    normalise_first: bool = False,
) -> None:
    """One chunk of the fast path: write ``out`` (..., n_q, d_v) and, if given, ``weights`` (..., n_q, n_k).

    ``q2`` is ``q`` already scaled: by ``1 / sqrt(d_k)`` when ``shift`` (natural units, ``exp``),
    else by ``log2(e) / sqrt(d_k)`` (base-2 units, ``exp2``; see ``_needs_max_shift``).
    ``normalise_first``: divide the weights before ``weights @ v`` even when they are not
    returned, because the unnormalised sums could overflow (``_sums_could_overflow``).
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
    if weights is not None or normalise_first:
        scores /= total  # normalise all n_q x n_k weights: returned, or to keep the sums finite
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
    >>> from transformer_primer.attention import reference_attention
    >>> none is None, bool(np.allclose(out_only, reference_attention(q, k, v)[0], atol=1e-6))
    (True, True)
    """
    q, k, v, mask, _ = _check_attention(q, k, v, mask)
    return attend(q, k, v, mask, need_weights=check_bool("need_weights", need_weights))


def attend(
    q: Array, k: Array, v: Array, mask: NDArray[np.bool_] | None, *, need_weights: bool = True
) -> tuple[Array, Array | None]:
    """The fast path of scaled_dot_product_attention without the checks.

    For a caller that has made them (multi-head attention); otherwise as
    [scaled_dot_product_attention][transformer_primer.kernels.scaled_dot_product_attention].

    ``q``, ``k``, ``v`` are float arrays of one dtype whose shapes fit and whose scores
    cannot overflow; ``mask`` is boolean and broadcasts to (..., n_q, n_k), or None.
    """
    if q.dtype == np.float16:  # computed in float32, returned in float16 (_checks: the policy)
        q32, k32, v32 = (x.astype(np.float32) for x in (q, k, v))
        out16, w16 = attend(q32, k32, v32, mask, need_weights=need_weights)
        return out16.astype(np.float16), None if w16 is None else w16.astype(np.float16)
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])  # batch/head axes
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
    q2: Array = q * q.dtype.type(scale)  # (..., n_q', d_k): n_q * d_k multiplications, not n_q * n_k
    chunks = _leading_chunks(lead, n_scores, _SCORES_PER_CALL)
    if chunks != [()]:  # a loop over (batch, head) slices: give every input all the leading axes
        q2, k, v = (np.broadcast_to(x, (*lead, *x.shape[-2:])) for x in (q2, k, v))  # views, no copies
        if blocked is not None:
            blocked = np.broadcast_to(blocked, (*lead, *blocked.shape[-2:]))
    normalise_first = not need_weights and _sums_could_overflow(v, k.shape[-2])
    for idx in chunks:
        _attend_chunk(
            q2[idx],
            k[idx],
            v[idx],
            None if blocked is None else blocked[idx],
            shift,
            output[idx][..., rows, :],
            None if weights is None else weights[idx][..., rows, keys],
            normalise_first,
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
    allowed = (
        mask.reshape(-1, n_q, n_k).sum(axis=0, dtype=np.int32) if slices > 1 else mask[(0,) * (mask.ndim - 2)]
    )
    counts = np.add.reduceat(
        allowed, starts, axis=-1, dtype=np.int32
    )  # (n_q, n_blocks): allowed (query, key) pairs
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
        [scaled_dot_product_attention][transformer_primer.kernels.scaled_dot_product_attention],
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
    dtype = q.dtype
    if dtype == np.float16:  # computed in float32, returned in float16 (_checks: the policy)
        q, k, v = (x.astype(np.float32) for x in (q, k, v))
    block_size = min(block_size, k.shape[-2])  # a block never holds more than every key
    # Sums of up to n_k weighted values could overflow the dtype: scale v by a power of 2
    # (exact), and the output back at the end.
    v_scale = 2.0 ** math.ceil(math.log2(k.shape[-2])) if _sums_could_overflow(v, k.shape[-2]) else 1.0
    v = v / v.dtype.type(v_scale) if v_scale != 1.0 else v
    (n_q, d_k), n_k, d_v = q.shape[-2:], k.shape[-2], v.shape[-1]
    plan = _block_plan(mask, n_q, n_k, block_size)  # which (key block, query rows) to compute
    blocked = {}  # per key block: True where a query may not attend, on the rows that need it
    for k0, k1, _, _, m0, m1 in plan:
        if m1 > m0:  # some key of the block is blocked for some query: there is a mask
            assert mask is not None
            allowed = np.broadcast_to(mask, (*mask.shape[:-2], n_q, n_k))[..., m0:m1, k0:k1]  # (..., m, b)
            # one small copy, shared by the heads
            blocked[k0] = np.broadcast_to(~allowed, (*lead, m1 - m0, k1 - k0))
    q2: Array = q * q.dtype.type(1.0 / math.sqrt(d_k))  # (..., n_q, d_k): scale n_q * d_k, not the scores
    ones = np.ones((*v.shape[:-1], 1), dtype=v.dtype)  # (..., n_k, 1)
    v1 = np.concatenate([v, ones], axis=-1)  # (..., n_k, d_v + 1): the last column sums the weights
    q2, k, v1 = (np.broadcast_to(x, (*lead, *x.shape[-2:])) for x in (q2, k, v1))  # views, no copies
    acc = np.zeros((*lead, n_q, d_v + 1), dtype=q.dtype)  # running sum of weights @ [v | 1]
    run_max = np.full((*lead, n_q, 1), -np.inf, dtype=q.dtype)  # running maximum score of each query
    # Cauchy-Schwarz: a score q2_i . k_j is at most |q2_i| * max |k_j| over the block.
    q_norm = np.sqrt(_row_norms_squared(q2))[..., None]  # (..., n_q, 1), float64
    k_lengths = np.sqrt(_row_norms_squared(k))  # (..., n_k), float64
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
                np.copyto(s[..., m0 - r0 : m1 - r0, :], -np.inf, where=blocked[k0][idx])
            m_old = run_max[idx][..., r0:r1, :]  # (..., r, 1), a view: updated in place below
            a = acc[idx][..., r0:r1, :]  # (..., r, d_v + 1), a view
            # (..., r, 1): no score of this block is larger (inf or NaN at float64's very edge:
            # then the comparison below is False, and the block takes the exact update)
            with np.errstate(over="ignore", invalid="ignore"):
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
    output = acc[..., :-1] / total  # (..., n_q, d_v)
    if v_scale != 1.0:
        output *= output.dtype.type(v_scale)
    return output.astype(dtype, copy=False)


# --8<-- [end:tiled_attention]
