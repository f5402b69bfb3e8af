"""The fast kernel flash_attention computes what the readable forms compute.

Each shortcut of transformer_primer.fast has a case that sends it through: tiles that do not
divide n, a diagonal that crosses a tile at any offset, groups of slices, threads,
broadcast leading axes, float16, and scores large enough that the exact online softmax
must take over. Compared with reference_attention in float64 (the issue's bar: 1e-5). No
test measures time: `make bench-torch` does; memory is measured here because it is exact.
"""

from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_primer import fast
from transformer_primer.attention import reference_attention, scaled_dot_product_attention
from transformer_primer.fast import flash_attention, tile_sizes
from transformer_primer.masks import causal_mask


def expected(q: np.ndarray, k: np.ndarray, v: np.ndarray, causal: bool) -> np.ndarray:
    """The readable form, in float64."""
    q, k, v = (x.astype(np.float64) for x in (q, k, v))
    return reference_attention(q, k, v, causal_mask(q.shape[-2]) if causal else None)[0]


def qkv(seed: int, lead: tuple[int, ...], n_q: int, n_k: int, d_k: int, d_v: int, dtype=np.float32):
    rng = np.random.default_rng(seed)
    return (
        rng.standard_normal((*lead, n_q, d_k)).astype(dtype),
        rng.standard_normal((*lead, n_k, d_k)).astype(dtype),
        rng.standard_normal((*lead, n_k, d_v)).astype(dtype),
    )


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("threads", [1, 2])
@pytest.mark.parametrize(
    ("lead", "n", "blocks"),
    [
        ((2, 4), 300, (None, None)),  # tiles from the cache size; groups of slices
        ((3,), 37, (7, 13)),  # tiles that divide nothing; the diagonal at every offset
        ((), 129, (64, 64)),  # one slice, a last tile of one row
        ((1,), 1, (None, None)),  # one query, one key
        ((5,), 64, (64, 16)),  # wide query tiles over narrow key tiles
    ],
)
def test_equals_the_readable_form(lead, n, blocks, threads, causal) -> None:
    q, k, v = qkv(n, lead, n, n, 16, 8)
    out = flash_attention(q, k, v, causal=causal, threads=threads, block_q=blocks[0], block_k=blocks[1])
    assert out.shape == (*lead, n, 8) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected(q, k, v, causal), atol=1e-5, rtol=0)


def test_more_keys_than_queries_and_float64() -> None:
    q, k, v = qkv(1, (2,), 5, 700, 8, 3, np.float64)
    out = flash_attention(q, k, v)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out, expected(q, k, v, False), atol=1e-12, rtol=0)


def test_broadcast_leading_axes() -> None:
    """One set of keys and values for every head: the leading axes broadcast, as in reference."""
    rng = np.random.default_rng(2)
    q = rng.standard_normal((2, 3, 40, 8)).astype(np.float32)
    k, v = (rng.standard_normal((1, 1, 40, 8)).astype(np.float32) for _ in range(2))
    out = flash_attention(q, k, v, causal=True, threads=2)
    np.testing.assert_allclose(out, expected(q, k, v, True), atol=1e-5, rtol=0)


def test_float16_is_computed_in_float32() -> None:
    q, k, v = qkv(3, (2,), 20, 20, 8, 8, np.float16)
    out = flash_attention(q, k, v, causal=True)
    assert out.dtype == np.float16
    np.testing.assert_allclose(out, expected(q, k, v, True), atol=2e-3, rtol=0)


def test_large_scores_take_the_exact_online_softmax(monkeypatch) -> None:
    """Scores in the thousands overflow exp without a shift: the kernel hands over to tiled_attention.

    float64, so that the comparison measures the softmax and not float32's rounding of
    scores that large.
    """
    q, k, v = qkv(4, (2,), 50, 50, 8, 4, np.float64)
    q, k = q * 30, k * 30  # scores up to about 10^4 / sqrt(8)
    calls = []
    monkeypatch.setattr(fast, "tiled_attention", lambda *a, **kw: calls.append(1) or _tiled(*a, **kw))
    for causal in (False, True):
        out = flash_attention(q, k, v, causal=causal)
        assert np.isfinite(out).all()
        np.testing.assert_allclose(out, expected(q, k, v, causal), atol=1e-10, rtol=0)
    assert len(calls) == 2


def _tiled(*args, **kwargs):
    from transformer_primer.kernels import tiled_attention

    return tiled_attention(*args, **kwargs)


def test_small_scores_never_take_the_slow_path(monkeypatch) -> None:
    monkeypatch.setattr(fast, "tiled_attention", lambda *a, **kw: pytest.fail("took the exact path"))
    q, k, v = qkv(5, (2,), 64, 64, 16, 16)
    flash_attention(q, k, v, causal=True)


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 70),
    d=st.integers(1, 9),
    block_q=st.integers(1, 80),
    block_k=st.integers(1, 80),
    causal=st.booleans(),
    seed=st.integers(0, 2**16),
)
def test_any_tiling_gives_the_same_output(n, d, block_q, block_k, causal, seed) -> None:
    q, k, v = qkv(seed, (2,), n, n, d, d)
    out = flash_attention(q, k, v, causal=causal, block_q=block_q, block_k=block_k)
    np.testing.assert_allclose(out, expected(q, k, v, causal), atol=1e-5, rtol=0)


def test_a_worker_error_reaches_the_caller(monkeypatch) -> None:
    """With threads, an exception inside a worker is raised in the caller, not lost."""

    def broken(*args, **kwargs):
        raise RuntimeError("worker failed")

    monkeypatch.setattr(fast, "_slices", broken)
    q, k, v = qkv(6, (8,), 1024, 1024, 2, 2)  # 8 x 1024 x 1024 scores: enough work for two threads
    with pytest.raises(RuntimeError, match="worker failed"):
        flash_attention(q, k, v, threads=2)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("heads", [1, 3])
def test_two_threads_share_the_work_and_agree(monkeypatch, heads, causal) -> None:
    """Enough work for two threads: the tasks run in the pool, and one head is split by rows."""
    calls = []
    original = fast._slices

    def recorded(*args):
        calls.append((threading.current_thread().name, args[0].shape[0], args[-1]))  # name, slices, rows
        return original(*args)

    monkeypatch.setattr(fast, "_slices", recorded)
    n = 4096 if heads == 1 else 2048
    q, k, v = qkv(8, (heads,), n, n, 4, 4)
    out = flash_attention(q, k, v, causal=causal, threads=2, block_q=256)
    assert len(calls) >= 2 and all(name.startswith("flash_attention") for name, _, _ in calls)
    assert sum(c * len(rows) for _, c, rows in calls) == heads * (n // 256)  # every block once
    if heads == 1:  # one head: its query blocks are split between the two threads
        assert sorted(r0 for _, _, rows in calls for r0 in rows) == list(range(0, n, 256))
    np.testing.assert_allclose(out, expected(q, k, v, causal), atol=1e-5, rtol=0)


def test_little_work_stays_on_the_calling_thread(monkeypatch) -> None:
    monkeypatch.setattr(fast, "_pool", lambda threads: pytest.fail("started threads for 2 x 64 x 64 scores"))
    q, k, v = qkv(9, (2,), 64, 64, 4, 4)
    flash_attention(q, k, v, threads=2)


def test_tile_sizes_follow_the_cache(monkeypatch) -> None:
    monkeypatch.setattr(fast, "l2_cache_bytes", lambda: 2 * 1024 * 1024)  # a 2 MiB L2 (recent Intel)
    assert tile_sizes(4096) == (512, 512)
    monkeypatch.setattr(fast, "l2_cache_bytes", lambda: 256 * 1024)  # a 256 KiB L2
    assert tile_sizes(4096) == (64, 512)
    assert tile_sizes(100) == (256, 100)  # fewer keys than a tile: one tile of all of them


def test_l2_cache_bytes_is_read_or_falls_back() -> None:
    size = fast.l2_cache_bytes()
    assert isinstance(size, int) and 32 * 1024 <= size <= 64 * 1024 * 1024


def test_memory_grows_with_n_not_n_squared() -> None:
    """At n = 4,096 the kernel holds tiles, not the 64 MiB score matrix of plain attention."""
    q, k, v = qkv(7, (1,), 4096, 4096, 64, 64)

    def peak(call) -> int:
        tracemalloc.start()
        try:
            call()
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()

    fast_peak = peak(lambda: flash_attention(q, k, v))
    plain_peak = peak(lambda: scaled_dot_product_attention(q, k, v, need_weights=False))
    assert plain_peak > 4096 * 4096 * 4  # the score matrix
    assert fast_peak < plain_peak / 10, (fast_peak, plain_peak)
