"""The fast scaled_dot_product_attention equals the readable reference_attention.

The fast path takes shortcuts (scaled q, work in place, exp2 without the max shift when
the scores are provably small, a window cut out of the mask, a loop over heads for large
inputs); each shortcut has a case here that sends it through, compared with the readable
form to a few units of float rounding. No test measures time: `make bench` does.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from transformer_primer import kernels
from transformer_primer.attention import reference_attention, scaled_dot_product_attention
from transformer_primer.masks import causal_mask, padding_mask

DTYPES = [np.float32, np.float64]


def tolerance(dtype: type) -> float:
    return 64 * float(np.finfo(dtype).eps)


def qkv(rng: np.random.Generator, shape: tuple[int, ...], dtype: type, scale: float = 1.0):
    return tuple((scale * rng.standard_normal(shape)).astype(dtype) for _ in range(3))


def masks_for(rng: np.random.Generator, shape: tuple[int, ...]) -> dict[str, np.ndarray | None]:
    *lead, n, _ = shape
    masks: dict[str, np.ndarray | None] = {
        "none": None,
        "causal": causal_mask(n),
        "random": rng.random((*lead, n, n)) < 0.4,  # some rows fully masked at this density
        "anti-causal": causal_mask(n)[:, ::-1].copy(),
        "first row blind": np.tile(np.arange(n) > 0, (n, 1)).T.copy(),  # query 0 may see nothing
        "one key": np.arange(n) == n // 2,  # (n_k,): every query sees only the middle key
    }
    if lead:
        lengths = rng.integers(1, n + 1, size=lead[0])
        masks["padding"] = padding_mask(lengths, n).reshape(lead[0], *[1] * (len(lead) - 1), 1, n)
    return masks


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 3), (5, 4), (2, 3, 7, 4), (1, 4, 130, 16), (2, 600, 8)])
def test_fast_equals_reference_for_every_mask(shape: tuple[int, ...], dtype: type) -> None:
    rng = np.random.default_rng(sum(shape))
    q, k, v = qkv(rng, shape, dtype)
    for name, mask in masks_for(rng, shape).items():
        out_ref, w_ref = reference_attention(q, k, v, mask)
        out, w = scaled_dot_product_attention(q, k, v, mask)
        out_nw, none = scaled_dot_product_attention(q, k, v, mask, need_weights=False)
        assert none is None
        assert out.dtype == w.dtype == out_nw.dtype == dtype, name
        assert out.shape == out_ref.shape and w.shape == w_ref.shape, name
        np.testing.assert_allclose(w, w_ref, rtol=0, atol=tolerance(dtype), err_msg=name)
        np.testing.assert_allclose(out, out_ref, rtol=0, atol=tolerance(dtype) * 8, err_msg=name)
        np.testing.assert_allclose(out_nw, out_ref, rtol=0, atol=tolerance(dtype) * 8, err_msg=name)


def test_fully_masked_queries_get_zero_weights_and_zero_output() -> None:
    rng = np.random.default_rng(3)
    q, k, v = qkv(rng, (2, 300, 8), np.float32)  # large enough for the unshifted exp2 path
    mask = np.ones((300, 300), dtype=bool)
    mask[[0, 17, 299]] = False  # three queries that may see no key
    out, w = scaled_dot_product_attention(q, k, v, mask)
    out_nw, _ = scaled_dot_product_attention(q, k, v, mask, need_weights=False)
    for rows in (out[:, [0, 17, 299]], w[:, [0, 17, 299]], out_nw[:, [0, 17, 299]]):
        assert not np.isnan(rows).any() and (rows == 0).all()
    assert np.allclose(w[:, 1].sum(-1), 1.0)


def test_a_mask_that_blocks_everything_gives_zeros() -> None:
    q, k, v = qkv(np.random.default_rng(0), (2, 4, 3), np.float64)
    out, w = scaled_dot_product_attention(q, k, v, np.zeros((4, 4), dtype=bool))
    assert (out == 0).all() and (w == 0).all() and out.shape == (2, 4, 3)


@pytest.mark.parametrize("dtype", DTYPES)
def test_max_shift_is_skipped_only_when_the_scores_are_provably_small(dtype: type) -> None:
    rng = np.random.default_rng(1)
    q, k, v = qkv(rng, (256, 16), dtype)
    assert not kernels._needs_max_shift(q, k, v)  # |scores| <= |q| |k| / 4: small
    assert kernels._needs_max_shift(40 * q, k, v)  # could reach 2**(quarter of the exponent range)
    tiny_v = v * dtype(2.0 ** (np.finfo(dtype).minexp + 4))  # 2**score * v could underflow
    assert kernels._needs_max_shift(q, k, tiny_v)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1.0, 30.0, 1e3])
def test_both_softmax_paths_equal_the_reference(dtype: type, scale: float) -> None:
    # scale 1: the unshifted exp2 path; 30 and 1000: scores too large, the shifted exp path
    rng = np.random.default_rng(int(scale))
    q, k, v = qkv(rng, (3, 200, 16), dtype)
    q = (q * scale).astype(dtype)
    shifted = kernels._needs_max_shift(q, k, v)
    assert shifted == (scale > 1)
    for mask in (None, causal_mask(200)):
        out_ref, w_ref = reference_attention(q, k, v, mask)
        out, w = scaled_dot_product_attention(q, k, v, mask)
        assert np.isfinite(out).all()
        # a score error of eps * |score| moves a weight by that much: scale the tolerance with it
        atol = tolerance(dtype) * scale
        np.testing.assert_allclose(w, w_ref, rtol=0, atol=atol)
        np.testing.assert_allclose(out, out_ref, rtol=0, atol=atol * 8)


def test_large_inputs_are_computed_one_head_at_a_time_with_the_same_result() -> None:
    rng = np.random.default_rng(2)
    shape = (2, 3, 700, 8)  # 6 slices of 490,000 scores: more than one numpy call may hold
    assert kernels._leading_chunks(shape[:-2], 700 * 700, kernels._SCORES_PER_CALL) == [
        (b, h) for b in range(2) for h in range(3)
    ]
    q, k, v = qkv(rng, shape, np.float32)
    k = k[:1]  # keys and values shared by the batch: broadcast, not copied
    v = v[:1]
    mask = padding_mask(np.array([700, 350]), 700)[:, None]  # (2, 1, 1, 700)
    out_ref, w_ref = reference_attention(q, k, v, mask)
    out, w = scaled_dot_product_attention(q, k, v, mask)
    np.testing.assert_allclose(w, w_ref, rtol=0, atol=tolerance(np.float32))
    np.testing.assert_allclose(out, out_ref, rtol=0, atol=8 * tolerance(np.float32))


def test_leading_chunks_keep_small_inputs_in_one_call() -> None:
    assert kernels._leading_chunks((32, 8), 64 * 64, 1 << 20) == [()]
    assert kernels._leading_chunks((4, 4), 512 * 512, 1 << 20) == [(b,) for b in range(4)]  # 4 heads a call
    assert len(kernels._leading_chunks((4, 8), 512 * 512, 1 << 20)) == 32  # 8 heads: too many, one a call
    assert kernels._leading_chunks((), 4096 * 4096, 1 << 20) == [()]


def test_mask_window_cuts_rows_and_keys_no_one_uses() -> None:
    mask = np.zeros((6, 8), dtype=bool)
    mask[2, 3] = mask[4, 5] = True
    rows, keys, blocked = kernels._mask_window(mask, 6, 8)
    assert (rows, keys) == (slice(2, 5), slice(3, 6))
    assert blocked.shape == (3, 3) and blocked.sum() == 7  # 9 cells, 2 allowed
    padding = padding_mask(np.array([3, 5]), 8)  # (2, 1, 8): keys 5..7 are padding everywhere
    rows, keys, _ = kernels._mask_window(padding, 8, 8)
    assert (rows, keys) == (slice(0, 8), slice(0, 5))
    assert kernels._mask_window(np.ones((4, 4), dtype=bool), 4, 4)[2] is None  # nothing blocked


def test_without_weights_only_one_slice_of_scores_is_held() -> None:
    rng = np.random.default_rng(4)
    n, heads = 1024, 4
    q, k, v = qkv(rng, (heads, n, 16), np.float32)
    one_slice = n * n * 4  # bytes of one head's float32 scores
    tracemalloc.start()
    try:
        scaled_dot_product_attention(q, k, v, need_weights=False)
        _, peak_fast = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        reference_attention(q, k, v)
        _, peak_ref = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert one_slice <= peak_fast < 1.5 * one_slice
    assert peak_ref >= heads * one_slice  # the textbook form holds every head's scores, several times


def test_need_weights_must_be_a_bool() -> None:
    q = np.ones((2, 3))
    with pytest.raises(TypeError, match="need_weights"):
        scaled_dot_product_attention(q, q, q, need_weights="no")
