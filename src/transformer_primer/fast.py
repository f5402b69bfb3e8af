"""Attention at the speed of the BLAS: the fast kernel, kept apart from the readable ones.

[reference_attention][transformer_primer.attention.reference_attention] is the equation,
[tiled_attention][transformer_primer.kernels.tiled_attention] the online softmax written to
be read. [flash_attention][transformer_primer.fast.flash_attention] computes the same output
(the tests hold it to ``1e-5``) with the work arranged for speed, as FlashAttention arranges
it on a GPU, within what numpy can do:

- one tile of ``block_q x block_k`` scores at a time, sized from the CPU's L2 cache, so the
  scores never leave the cache between the two matrix products and the exponential;
- every buffer allocated once and written in place (``out=``);
- ``1 / sqrt(d_k)`` folded into the queries once (``n_q * d_k`` multiplications, not
  ``n_q * n_k``);
- no running maximum at all when a Cauchy-Schwarz bound shows that no score can overflow
  ``exp`` (the usual case); otherwise the exact online softmax of ``tiled_attention`` runs;
- under a causal mask only the tiles on or below the diagonal are computed, and only the
  diagonal tiles are masked;
- with ``threads=2`` the (batch, head) slices are shared between threads: numpy releases
  the interpreter lock inside matrix products and ufuncs.

What limits it is on the benchmarks page: the two products run at the BLAS's speed, the
exponential at numpy's (it cannot be fused into the products as a compiled kernel fuses it).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_bool, check_positive_int, check_qkv
from .kernels import _needs_max_shift, tiled_attention
from .masks import causal_mask

__all__ = ["flash_attention", "l2_cache_bytes", "tile_sizes"]

Array = NDArray[np.floating]

_L2_FALLBACK = 512 * 1024  # bytes, when the cache size cannot be read
_BLOCK_K = 512  # keys per tile: long rows for the products, short enough to stay in cache
_FEW_SCORES_PER_THREAD = 1 << 22  # below this many scores per thread, threads cost more than they save


@cache
def l2_cache_bytes() -> int:
    """The size of one core's L2 cache in bytes, read from Linux's sysfs (else 512 KiB)."""
    root = "/sys/devices/system/cpu/cpu0/cache"
    try:
        for index in sorted(os.listdir(root)):
            with open(f"{root}/{index}/level") as level:
                if level.read().strip() != "2":
                    continue
            with open(f"{root}/{index}/size") as size:
                text = size.read().strip().upper()
            factor = {"K": 1024, "M": 1024 * 1024}.get(text[-1:], 1)
            return int(text.rstrip("KM")) * factor
    except (OSError, ValueError):
        pass
    return _L2_FALLBACK


def tile_sizes(n_k: int, itemsize: int = 4) -> tuple[int, int]:
    """The tile ``(block_q, block_k)``: a score tile that fills about half of one L2 cache.

    ``block_k`` is 512 keys (fewer when there are fewer); ``block_q`` is the power of two
    between 16 and 512 whose tile of scores takes at most half of the L2 cache, leaving the
    other half to the keys, values and queries of the tile.

    Examples
    --------
    >>> block_q, block_k = tile_sizes(2048)
    >>> block_k, block_q * block_k * 4 <= l2_cache_bytes() // 2
    (512, True)
    >>> tile_sizes(100)[1]
    100
    """
    block_k = min(_BLOCK_K, n_k)
    block_q = 16
    while block_q < 512 and 2 * block_q * block_k * itemsize <= l2_cache_bytes() // 2:
        block_q *= 2
    return block_q, block_k


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    """One pool per thread count, made on first use and kept (threads are costly to start)."""
    return ThreadPoolExecutor(max_workers=threads, thread_name_prefix="flash_attention")


def _slices(
    q: Array, k: Array, v: Array, out: Array, causal: bool, block_q: int, block_k: int, starts: range
) -> None:
    """A group of ``c`` (batch, head) slices: ``out`` (c, n_q, d_v) from ``q``, ``k``, ``v``.

    ``q`` (c, n_q, d_k) is already scaled, ``k`` is (c, n_k, d_k) and ``v`` (c, n_k, d_v).
    Each numpy call below handles the ``c`` slices at once (one Python step per tile, not
    per slice and tile). ``starts``: the first query of each block of queries to compute
    (all of them, or every other block when two threads share the slices).
    """
    (c, n_q, _), n_k, d_v = q.shape, k.shape[1], out.shape[-1]
    k_t = np.swapaxes(k, -1, -2)  # (c, d_k, n_k), a view: the BLAS reads it transposed
    scores = np.empty((c, block_q, block_k), dtype=q.dtype)  # one tile of scores per slice, reused
    part = np.empty((c, block_q, d_v), dtype=q.dtype)  # one tile's weighted values
    part_sum = np.empty((c, block_q), dtype=q.dtype)  # one tile's weight sums
    total = np.empty((c, block_q), dtype=q.dtype)  # every tile's weight sums, per query
    ones = np.ones(block_k, dtype=q.dtype)  # s @ ones sums each row: a BLAS matrix-vector product,
    # three times faster here than s.sum(axis=-1)
    for r0 in starts:
        r1 = min(r0 + block_q, n_q)
        q_rows, o, t = q[:, r0:r1], out[:, r0:r1], total[:, : r1 - r0]  # (c, m, d_k), (c, m, d_v), (c, m)
        k_end = r1 if causal else n_k  # under the causal mask, no key after the last query
        for k0 in range(0, k_end, block_k):
            k1 = min(k0 + block_k, k_end)
            s = scores[:, : r1 - r0, : k1 - k0]  # (c, m, b), a view of the tile
            np.matmul(q_rows, k_t[..., k0:k1], out=s)  # (c, m, d_k) @ (c, d_k, b) -> (c, m, b)
            np.exp(s, out=s)  # unnormalised weights: no shift needed (see flash_attention)
            if causal and k1 - 1 > r0:  # the diagonal crosses the tile: zero the keys after each query
                np.multiply(s, np.tri(r1 - r0, k1 - k0, r0 - k0, dtype=bool), out=s)  # key <= query
            if k0 == 0:  # the first tile writes, the others add
                np.matmul(s, v[:, k0:k1], out=o)  # (c, m, b) @ (c, b, d_v) -> (c, m, d_v)
                np.matmul(s, ones[: k1 - k0], out=t)  # (c, m): the weight sums
            else:
                p, p_sum = part[:, : r1 - r0], part_sum[:, : r1 - r0]
                np.matmul(s, v[:, k0:k1], out=p)  # (c, m, b) @ (c, b, d_v) -> (c, m, d_v)
                np.matmul(s, ones[: k1 - k0], out=p_sum)  # (c, m)
                o += p
                t += p_sum
        o /= t[..., None]  # (c, m, d_v): weighted values / weight sums


def flash_attention(
    q: ArrayLike,
    k: ArrayLike,
    v: ArrayLike,
    *,
    causal: bool = False,
    threads: int = 1,
    block_q: int | None = None,
    block_k: int | None = None,
) -> Array:
    """Scaled dot-product attention, the fast kernel: the output only, no weights.

    The same output as
    [tiled_attention][transformer_primer.kernels.tiled_attention] and
    [reference_attention][transformer_primer.attention.reference_attention] (to ``1e-5``
    in float32), computed one cache-sized tile of scores at a time, in place, without a
    running maximum when no score can overflow ``exp`` (see the module's notes). Inputs
    whose scores could overflow take the exact online softmax of ``tiled_attention``.

    Parameters
    ----------
    q : array_like, shape (..., n_q, d_k)
        Queries.
    k : array_like, shape (..., n_k, d_k)
        Keys.
    v : array_like, shape (..., n_k, d_v)
        Values. The leading (batch/head) axes of ``q``, ``k`` and ``v`` broadcast.
    causal : bool, keyword-only
        Query ``i`` sees keys ``0 .. i`` only (``n_q`` must equal ``n_k``).
    threads : int, keyword-only
        Threads that share the (batch, head) slices (1: the calling thread only). Keep the
        BLAS at one thread when using more (``OPENBLAS_NUM_THREADS=1``), or the two kinds
        of threads compete for the same cores.
    block_q, block_k : int or None, keyword-only
        Tile size; ``None`` picks it from the L2 cache size (``tile_sizes``).

    Returns
    -------
    numpy.ndarray, shape (..., n_q, d_v)
        Each query's weighted average of the values, in the dtype of ``q`` (float16 is
        computed in float32).

    Raises
    ------
    TypeError
        If an input is not a float array, the dtypes differ, ``causal`` is not a bool, or
        ``threads``, ``block_q``, ``block_k`` are not integers.
    ValueError
        If the shapes do not fit together, an input is empty or holds NaN or infinity, the
        scores would overflow, a size is below 1, or ``causal`` is asked with
        ``n_q != n_k``.

    Examples
    --------
    >>> import numpy as np
    >>> from transformer_primer.attention import reference_attention
    >>> rng = np.random.default_rng(0)
    >>> q, k, v = rng.normal(size=(3, 2, 6, 4)).astype(np.float32)  # (heads, n, d) each
    >>> out = flash_attention(q, k, v, causal=True, block_q=4, block_k=4)
    >>> mask = np.tril(np.ones((6, 6), dtype=bool))
    >>> out.shape, bool(np.allclose(out, reference_attention(q, k, v, mask)[0], atol=1e-6))
    ((2, 6, 4), True)
    """
    q, k, v = check_qkv(q, k, v)
    causal = check_bool("causal", causal)
    threads = check_positive_int("threads", threads)
    (n_q, d_k), n_k, d_v = q.shape[-2:], k.shape[-2], v.shape[-1]
    if causal and n_q != n_k:
        raise ValueError(
            f"causal=True needs as many queries as keys (query i sees keys 0 .. i), "
            f"got n_q = {n_q} and n_k = {n_k}"
        )
    auto_q, auto_k = tile_sizes(n_k)
    block_q = min(n_q, auto_q if block_q is None else check_positive_int("block_q", block_q))
    block_k = min(n_k, auto_k if block_k is None else check_positive_int("block_k", block_k))
    dtype = q.dtype
    if dtype == np.float16:  # computed in float32, returned in float16 (_checks: the policy)
        q, k, v = (x.astype(np.float32) for x in (q, k, v))
    if _needs_max_shift(q, k, v):  # a score could overflow exp: the exact online softmax
        out = tiled_attention(q, k, v, causal_mask(n_q) if causal else None, block_size=block_k)
        return out.astype(dtype, copy=False)
    lead = np.broadcast_shapes(q.shape[:-2], k.shape[:-2], v.shape[:-2])  # batch/head axes
    n_slices = math.prod(lead)
    scale = q.dtype.type(1.0 / math.sqrt(d_k))
    q2 = np.broadcast_to(q * scale, (*lead, n_q, d_k)).reshape(n_slices, n_q, d_k)  # scaled once
    k = np.broadcast_to(k, (*lead, n_k, d_k)).reshape(n_slices, n_k, d_k)  # a copy only if broadcast
    v = np.broadcast_to(v, (*lead, n_k, d_v)).reshape(n_slices, n_k, d_v)
    out = np.empty((n_slices, n_q, d_v), dtype=q.dtype)
    # slices per group: as many as keep a group's score tiles within half of the L2 cache
    per_group = max(1, l2_cache_bytes() // (2 * block_q * block_k * q.itemsize))
    if n_slices * n_q * n_k < _FEW_SCORES_PER_THREAD * threads:  # too little work to share
        threads = 1
    per_group = min(per_group, math.ceil(n_slices / threads))  # at least one group per thread
    tasks = [
        (slice(g, min(g + per_group, n_slices)), range(0, n_q, block_q))
        for g in range(0, n_slices, per_group)
    ]
    if len(tasks) < threads:  # fewer groups than threads: each group's query blocks are shared
        share = min(threads // len(tasks), math.ceil(n_q / block_q))  # every share-th block: balanced
        tasks = [(g, range(i * block_q, n_q, share * block_q)) for g, _ in tasks for i in range(share)]

    def run(task: tuple[slice, range]) -> None:
        g, starts = task
        _slices(q2[g], k[g], v[g], out[g], causal, block_q, block_k, starts)

    if threads == 1 or len(tasks) == 1:
        for task in tasks:
            run(task)
    else:
        for _ in _pool(threads).map(run, tasks):  # re-raises a worker's exception here
            pass
    out = out.reshape(*lead, n_q, d_v)
    return out.astype(dtype, copy=False)
