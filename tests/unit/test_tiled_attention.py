"""tiled_attention (online softmax) equals plain attention, and skips what a mask rules out.

Equal to float rounding across shapes, block sizes (including ones that do not divide n
and ones larger than n), masks, broadcast batch/head axes and both float dtypes. The
causal skip is checked on the plan of blocks the function computes, and by a spy on the
plan tiled_attention really uses. Memory is checked with tracemalloc; no test measures time.
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer_primer import attention, kernels
from transformer_primer.attention import reference_attention, scaled_dot_product_attention, tiled_attention
from transformer_primer.masks import causal_mask, padding_mask

FAST = settings(max_examples=30, deadline=None, derandomize=True, database=None)
DTYPES = [np.float32, np.float64]


def tolerance(dtype: type) -> float:
    return 256 * float(np.finfo(dtype).eps)


def qkv(rng: np.random.Generator, shape: tuple[int, ...], dtype: type):
    return tuple(rng.standard_normal(shape).astype(dtype) for _ in range(3))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(1, 2), (5, 4), (2, 3, 9, 4), (1, 2, 130, 16)])
@pytest.mark.parametrize("block_size", [1, 3, 7, 64, 128, 1000])
def test_tiled_equals_plain_for_every_mask(shape: tuple[int, ...], block_size: int, dtype: type) -> None:
    rng = np.random.default_rng(block_size + sum(shape))
    q, k, v = qkv(rng, shape, dtype)
    *lead, n, _ = shape
    masks = {
        "none": None,
        "causal": causal_mask(n),
        "random": rng.random((*lead, n, n)) < 0.4,
        "one key": np.arange(n) == n - 1,  # (n_k,)
    }
    if lead:
        masks["padding"] = padding_mask(rng.integers(1, n + 1, size=lead[0]), n).reshape(
            lead[0], *[1] * (len(lead) - 1), 1, n
        )
    for name, mask in masks.items():
        expected, _ = reference_attention(q, k, v, mask)
        out = tiled_attention(q, k, v, mask, block_size=block_size)
        assert out.dtype == dtype and out.shape == expected.shape, name
        np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance(dtype), err_msg=name)


@pytest.mark.parametrize("dtype", DTYPES)
def test_fully_masked_queries_get_a_zero_output_like_plain(dtype: type) -> None:
    rng = np.random.default_rng(5)
    q, k, v = qkv(rng, (2, 40, 8), dtype)
    mask = rng.random((40, 40)) < 0.5
    mask[[0, 13, 39]] = False  # queries that may see no key
    mask[:, 8:16] = False  # a whole key block (block_size 8) that no query may see
    out = tiled_attention(q, k, v, mask, block_size=8)
    plain, _ = scaled_dot_product_attention(q, k, v, mask)
    assert not np.isnan(out).any()
    assert (out[:, [0, 13, 39]] == 0).all() and (plain[:, [0, 13, 39]] == 0).all()
    np.testing.assert_allclose(out, plain, rtol=0, atol=tolerance(dtype))


def test_broadcast_leading_axes_and_different_d_v() -> None:
    rng = np.random.default_rng(6)
    q = rng.standard_normal((2, 4, 33, 8))  # (batch, heads, n_q, d_k)
    k = rng.standard_normal((1, 4, 50, 8))  # shared by the batch
    v = rng.standard_normal((50, 3))  # shared by everything, d_v = 3
    mask = rng.random((2, 1, 33, 50)) < 0.7  # per batch, same for every head
    expected, _ = reference_attention(q, k, v, mask)
    out = tiled_attention(q, k, v, mask, block_size=16)
    assert out.shape == (2, 4, 33, 3)
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance(np.float64))


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_scores_need_the_running_maximum(dtype: type) -> None:
    # scores of a few hundred: exp overflows without the running maximum, and each new
    # block's maximum is larger than the last (increasing keys), so every rescale is used
    rng = np.random.default_rng(7)
    q, _, v = qkv(rng, (1, 64, 4), dtype)
    q = np.abs(q) * 10
    k = (np.linspace(0.1, 40, 64)[:, None] * np.ones(4)).astype(dtype)
    expected, _ = reference_attention(q, k, v)
    out = tiled_attention(q, k, v, block_size=8)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out, expected, rtol=0, atol=tolerance(dtype) * 64)


@FAST
@given(
    n_q=st.integers(1, 20),
    n_k=st.integers(1, 20),
    block_size=st.integers(1, 25),
    density=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**16),
)
def test_property_tiled_equals_plain(n_q: int, n_k: int, block_size: int, density: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((2, n_q, 3))
    k = rng.standard_normal((2, n_k, 3))
    v = rng.standard_normal((2, n_k, 2))
    mask = rng.random((2, n_q, n_k)) < density
    expected, _ = reference_attention(q, k, v, mask)
    np.testing.assert_allclose(tiled_attention(q, k, v, mask, block_size), expected, rtol=0, atol=1e-12)


# --- skipping what the mask rules out -------------------------------------------------


def test_causal_plan_skips_every_block_above_the_diagonal() -> None:
    block, blocks = 4, 6
    n = block * blocks
    plan = kernels._block_plan(causal_mask(n), n, n, block)
    # key block b is scored against query rows b*block .. n only; its first rows need the mask
    # (the last row of that diagonal block sees all of it)
    assert plan == [
        (b * block, (b + 1) * block, b * block, n, b * block, (b + 1) * block - 1) for b in range(blocks)
    ]
    tiles = sum((r1 - r0) // block for _, _, r0, r1, _, _ in plan)  # query blocks x key blocks computed
    assert tiles == blocks * (blocks + 1) // 2  # the lower triangle with its diagonal: 21 of 36


def test_plan_without_a_mask_visits_every_block_and_masks_nothing() -> None:
    plan = kernels._block_plan(None, 10, 10, 4)
    assert plan == [(0, 4, 0, 10, 0, 0), (4, 8, 0, 10, 0, 0), (8, 10, 0, 10, 0, 0)]


def test_plan_drops_key_blocks_that_no_query_may_see() -> None:
    lengths = np.array([5, 9])  # two sequences padded to 16: keys 9..15 are padding for both
    plan = kernels._block_plan(padding_mask(lengths, 16), 16, 16, 4)
    assert [(k0, k1) for k0, k1, *_ in plan] == [(0, 4), (4, 8), (8, 12)]  # block 12..15 skipped
    assert plan[0][4:] == (0, 0)  # keys 0..3 are real for both: no mask needed on that block


def test_tiled_attention_computes_only_the_planned_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    planned = []

    def spy(*args):
        plan = real(*args)
        planned.append(plan)
        return plan

    real = kernels._block_plan
    monkeypatch.setattr(kernels, "_block_plan", spy)
    rng = np.random.default_rng(8)
    n, block = 64, 16
    q, k, v = qkv(rng, (2, n, 8), np.float64)
    out = attention.tiled_attention(q, k, v, causal_mask(n), block_size=block)
    assert len(planned) == 1
    rows_scored = sum((r1 - r0) * (k1 - k0) for k0, k1, r0, r1, _, _ in planned[0])
    assert rows_scored == (n * n + n * block) // 2  # 2560 of 4096 scores: the rest are never computed
    np.testing.assert_allclose(out, reference_attention(q, k, v, causal_mask(n))[0], rtol=0, atol=1e-12)


# --- memory ---------------------------------------------------------------------------------


def test_tiled_never_holds_the_n_by_n_scores() -> None:
    rng = np.random.default_rng(9)
    n, d, block = 2048, 8, 128
    q, k, v = qkv(rng, (n, d), np.float32)
    scores_bytes = n * n * 4
    tracemalloc.start()
    try:
        tiled_attention(q, k, v, block_size=block)
        _, peak_tiled = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        scaled_dot_product_attention(q, k, v, need_weights=False)
        _, peak_plain = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak_plain >= scores_bytes
    assert peak_tiled < scores_bytes / 8  # a few (n, block) tiles and (n, d) sums: here ~1.6 MB of 16.8 MB


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("block_size", "error"), [(0, ValueError), (-3, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_block_size_must_be_a_positive_int(block_size: object, error: type) -> None:
    q = np.ones((4, 2))
    with pytest.raises(error, match="block_size"):
        tiled_attention(q, q, q, block_size=block_size)


def test_tiled_checks_its_inputs_like_plain_attention() -> None:
    q = np.ones((4, 2))
    with pytest.raises(ValueError, match="d_k"):
        tiled_attention(q, np.ones((4, 3)), q)
    with pytest.raises(TypeError, match="boolean"):
        tiled_attention(q, q, q, mask=np.ones((4, 4), dtype=int))
    with pytest.raises(ValueError, match="mask"):
        tiled_attention(q, q, q, mask=np.ones((3, 4), dtype=bool))
