"""Inputs the checks accept are computed correctly: no inf, no NaN, no warning (issue 12).

An outside review found accepted inputs on which the fast paths overflowed or warned: values
near the float range summed over several keys, float16 rows longer than float16 can sum,
keys whose squared length overflows, a block size beyond numpy's integers. Each case here
failed before its fix; the policy it follows is in ``transformer_primer._checks``.
The warnings filter of the suite turns any RuntimeWarning into a failure.
"""

from __future__ import annotations

import numpy as np
import pytest

from transformer_primer.attention import reference_attention, scaled_dot_product_attention, tiled_attention
from transformer_primer.numerics import softmax

F32 = np.float32


def big_values(n_k: int = 4) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Equal scores, and values of 1e38 (float32's max is 3.4e38): the average is 1e38."""
    return np.zeros((2, 8), F32), np.ones((n_k, 8), F32), np.full((n_k, 3), 1e38, F32)


@pytest.mark.parametrize(
    "attend",
    [
        lambda q, k, v: scaled_dot_product_attention(q, k, v, need_weights=False)[0],
        lambda q, k, v: scaled_dot_product_attention(q, k, v)[0],
        lambda q, k, v: tiled_attention(q, k, v),
        lambda q, k, v: tiled_attention(q, k, v, block_size=1),
    ],
    ids=["fast, no weights", "fast, weights", "tiled", "tiled, block 1"],
)
def test_values_near_the_float_range_do_not_overflow(attend) -> None:  # noqa: ANN001
    q, k, v = big_values()
    out = attend(q, k, v)
    assert np.isfinite(out).all() and np.allclose(out, 1e38, rtol=1e-6)
    assert np.allclose(out, reference_attention(q, k, v)[0], rtol=1e-6)


def test_float16_softmax_sums_a_row_longer_than_float16_can_hold() -> None:
    x = np.zeros((2, 70_000), np.float16)  # 70,000 equal scores: each weight 1/70,000
    weights = softmax(x)
    assert weights.dtype == np.float16
    assert np.allclose(weights.astype(np.float64).sum(axis=-1), 1.0, atol=2e-3)


@pytest.mark.parametrize("need_weights", [True, False])
def test_float16_attention_over_more_keys_than_float16_can_sum(need_weights: bool) -> None:
    n_k = 70_000
    q, k = np.ones((1, 4), np.float16), np.zeros((n_k, 4), np.float16)
    v = np.ones((n_k, 2), np.float16)
    out, weights = scaled_dot_product_attention(q, k, v, need_weights=need_weights)
    assert out.dtype == np.float16 and np.allclose(out, 1.0, atol=1e-3)
    if need_weights:
        assert np.allclose(weights.astype(np.float64).sum(), 1.0, atol=2e-3)
    assert np.allclose(tiled_attention(q, k, v), 1.0, atol=1e-3)


def test_tiled_attention_with_keys_whose_squared_length_overflows() -> None:
    # |k|^2 = 8e40 overflows float32; with q = 0 the scores are 0 and the checks accept it.
    q, k, v = np.zeros((3, 8), F32), np.full((5, 8), 1e20, F32), np.arange(10, dtype=F32).reshape(5, 2)
    out = tiled_attention(q, k, v, block_size=2)
    assert np.allclose(out, v.mean(axis=0))


@pytest.mark.parametrize("block_size", [2**31, 2**63, 10**30])
def test_a_block_size_beyond_numpys_integers_is_one_block(block_size: int) -> None:
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(3, 5, 4))
    assert np.allclose(tiled_attention(q, k, v, block_size=block_size), reference_attention(q, k, v)[0])


def test_scaling_the_values_keeps_small_ones_exact() -> None:
    # The power-of-two scaling that keeps the sums finite only applies when it is needed; when
    # it applies, it is exact for every value float32 holds with full precision.
    q, k, _ = big_values(n_k=6)
    v = np.array([[1e38, 1.0], [1e38, 2.0], [1e38, 3.0], [1e38, 4.0], [1e38, 5.0], [1e38, 6.0]], F32)
    out = tiled_attention(q, k, v, block_size=4)
    assert np.allclose(out[:, 1], 3.5) and np.allclose(out[:, 0], 1e38)
