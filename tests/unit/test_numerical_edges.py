"""Numerical edge cases of attention (issue 7), with the limits they are held to.

Huge scores, fully masked rows, float32 against float64, tiny and huge d_k, long
sequences. The bounds below are a few times what was measured on this machine, so a
regression (a NaN, a lost stabilisation, a precision drop) fails while BLAS noise does not.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from transformer_primer.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_primer.masks import causal_mask
from transformer_primer.numerics import softmax

# --- huge scores --------------------------------------------------------------------------


@pytest.mark.parametrize("big", [1e4, 1e6, 1e15])
def test_huge_scores_keep_their_differences(big: float) -> None:
    # Shifting by the row maximum: [big, big - 1] is softmax([0, -1]) exactly, no overflow.
    w = softmax(np.array([big, big - 1.0, -big]))
    sigma = 1 / (1 + math.exp(-1))
    assert abs(w[0] - sigma) <= 1e-15 and abs(w[1] - (1 - sigma)) <= 1e-15 and w[2] == 0.0


@pytest.mark.parametrize(("big", "dtype"), [(1e300, np.float64), (1e30, np.float64), (3e38, np.float32)])
def test_scores_near_the_float_limit_stay_finite(big: float, dtype: type) -> None:
    # Beyond about 1e16 (float64), big - 1 == big: the two scores are the same number.
    w = softmax(np.array([big, big - 1.0, -big], dtype=dtype))
    assert np.all(np.isfinite(w)) and w[2] == 0.0
    assert abs(float(w.sum(dtype=np.float64)) - 1.0) <= 1e-6


def test_float32_scores_near_1e4_have_float32_resolution() -> None:
    # float32 spaces numbers near 1e4 about 1e-3 apart: a half-unit gap is still resolved.
    x = np.array([1e4, 1e4 + 0.5])
    w64 = softmax(x)
    w32 = softmax(x.astype(np.float32))
    assert np.spacing(np.float32(1e4)) == 2.0**-10
    assert np.max(np.abs(w32 - w64)) < 1e-6


def test_attention_with_huge_scores_picks_one_value_exactly() -> None:
    rng = np.random.default_rng(0)
    q, k, v = rng.normal(size=(4, 8)) * 100, rng.normal(size=(6, 8)) * 100, rng.normal(size=(6, 3))
    assert np.abs(q @ k.T).max() / math.sqrt(8) > 1e4  # scores beyond 1e4
    out, w = scaled_dot_product_attention(q, k, v)
    assert np.all(w.max(axis=-1) == 1.0)
    assert np.array_equal(out, v[w.argmax(axis=-1)])


# --- fully masked rows --------------------------------------------------------------------


def test_a_fully_masked_row_is_zero_and_leaves_the_others_alone() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 4))
    mask = np.array([[1, 0, 1], [0, 0, 0], [1, 1, 1]], dtype=bool)
    out, w = scaled_dot_product_attention(x, x, x, mask)
    assert np.all(w[1] == 0.0) and np.all(out[1] == 0.0)
    for row in (0, 2):
        alone, _ = scaled_dot_product_attention(x[row : row + 1], x, x, mask[row : row + 1])
        assert np.allclose(out[row], alone[0], rtol=0, atol=1e-15)  # equal to the last bit or so
    mha = MultiHeadAttention(4, 2, rng)
    mha.b_o = rng.normal(size=4)
    out, w = mha(x, x, x, mask)
    assert np.all(w[:, 1] == 0.0)
    assert np.array_equal(out[1], mha.b_o)  # zero heads, then the output projection's bias


# --- float32 against float64 --------------------------------------------------------------


@pytest.mark.parametrize(("n", "d_k"), [(16, 8), (256, 64), (2048, 64)])
def test_float32_accuracy_against_float64(n: int, d_k: int) -> None:
    rng = np.random.default_rng(n)
    q, k, v = (rng.normal(size=(n, d_k)) for _ in range(3))
    out64, w64 = scaled_dot_product_attention(q, k, v, causal_mask(n))
    out32, w32 = scaled_dot_product_attention(*(a.astype(np.float32) for a in (q, k, v)), causal_mask(n))
    assert out32.dtype == np.float32
    assert np.max(np.abs(out32 - out64)) < 5e-6  # measured 1.8e-7 .. 6.5e-7
    assert np.max(np.abs(w32 - w64)) < 1e-6  # measured 7.9e-8 .. 1.5e-7
    assert np.max(np.abs(w32.sum(axis=-1, dtype=np.float64) - 1)) < 1e-6  # measured ~1.3e-7
    assert np.max(np.abs(w64.sum(axis=-1) - 1)) < 1e-14  # measured ~4e-16


# --- tiny and huge d_k --------------------------------------------------------------------


@pytest.mark.parametrize("d_k", [1, 16, 256, 4096])
def test_scaling_by_sqrt_d_k_keeps_scores_near_unit_size(d_k: int) -> None:
    rng = np.random.default_rng(d_k)
    q, k, v = rng.normal(size=(64, d_k)), rng.normal(size=(64, d_k)), rng.normal(size=(64, 2))
    scaled = q @ k.T / math.sqrt(d_k)
    assert 0.8 < scaled.std() < 1.2  # measured 0.87 .. 1.01 for d_k = 1 .. 16384
    _, w = scaled_dot_product_attention(q, k, v)
    assert np.allclose(w, softmax(scaled), rtol=0, atol=1e-12)
    assert w.max(axis=-1).mean() < 0.2  # the weights stay spread out (measured ~0.1)
    if d_k >= 256:  # without the scaling the softmax saturates: nearly one-hot rows
        assert softmax(q @ k.T).max(axis=-1).mean() > 0.85  # measured 0.90-0.93 (256), 0.97 (4096)


# --- long sequences -----------------------------------------------------------------------


def test_a_long_causal_sequence_in_float32() -> None:
    n = 4096
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(n, 64)).astype(np.float32) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(n))
    assert np.all(np.isfinite(out))
    assert np.max(np.abs(w.sum(axis=-1, dtype=np.float64) - 1)) < 1e-6  # measured 1.3e-7
    assert np.array_equal(out[0], v[0])  # the first query sees only itself
    assert w[-1].min() > 0  # no weight of the last row underflows to 0 (measured min 5e-6)


def test_uniform_attention_over_100_000_keys() -> None:
    n = 100_000
    q, k = np.zeros((1, 4)), np.zeros((n, 4))  # every score 0: every weight 1/n
    v = np.arange(n, dtype=np.float64)[:, None]
    out, w = scaled_dot_product_attention(q, k, v)
    assert np.all(w == w[0, 0]) and abs(w[0, 0] * n - 1) < 1e-12
    assert abs(out[0, 0] - (n - 1) / 2) < 1e-6  # the mean of 0 .. n-1
