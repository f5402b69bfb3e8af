"""RoPE and ALiBi: the properties that make them positional encodings, checked against
independent computations."""

from __future__ import annotations

import numpy as np
import pytest

from transformer_primer.attention import reference_attention
from transformer_primer.positional import alibi_bias, alibi_slopes, rotary_embedding


def test_rope_equals_the_complex_rotation() -> None:
    """Each pair (x_2i, x_2i+1) as the complex number x_2i + i x_2i+1, times e^(i pos theta_i)."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 8))
    z = x[..., 0::2] + 1j * x[..., 1::2]  # (2, 7, 4)
    theta = 10000.0 ** (-np.arange(4) * 2 / 8)
    rotated = z * np.exp(1j * np.arange(7)[:, None] * theta)
    out = rotary_embedding(x)
    np.testing.assert_allclose(out[..., 0::2], rotated.real, atol=1e-12)
    np.testing.assert_allclose(out[..., 1::2], rotated.imag, atol=1e-12)


def test_rope_score_depends_on_the_offset_only() -> None:
    rng = np.random.default_rng(1)
    q, k = rng.normal(size=(2, 16))
    scores = {}
    for m in range(0, 40, 3):
        for n in range(0, 40, 5):
            qm = rotary_embedding(q[None], positions=[m])[0]
            kn = rotary_embedding(k[None], positions=[n])[0]
            scores.setdefault(m - n, []).append(qm @ kn)
    assert sum(len(v) > 1 for v in scores.values()) >= 10
    for offset, values in scores.items():
        np.testing.assert_allclose(values, values[0], rtol=1e-10, atol=1e-12, err_msg=f"offset {offset}")
    assert len({round(v[0], 6) for v in scores.values()}) > 1  # yet it does depend on the offset


def test_rope_keeps_norms_position_zero_dtype_and_offsets() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(5, 6)).astype(np.float32)
    out = rotary_embedding(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(x, axis=-1), rtol=1e-6)
    np.testing.assert_array_equal(out[0], x[0])
    np.testing.assert_allclose(rotary_embedding(x[3:4], positions=[3]), out[3:4], rtol=1e-6)


def test_alibi_slopes_as_in_the_paper() -> None:
    np.testing.assert_array_equal(alibi_slopes(8), 2.0 ** -np.arange(1, 9))
    np.testing.assert_array_equal(alibi_slopes(1), [2.0**-8])
    # not a power of two: the 4 slopes of 4 heads, then every other slope of 8 heads
    np.testing.assert_array_equal(alibi_slopes(6), [2**-2, 2**-4, 2**-6, 2**-8, 2**-1, 2**-3])


def test_alibi_bias_is_linear_in_distance_causal_and_fits_a_cache() -> None:
    bias = alibi_bias(4, 6)
    slopes = alibi_slopes(4)
    assert bias.shape == (4, 6, 6)
    for i in range(6):
        for j in range(6):
            expected = -slopes * (i - j) if j <= i else np.full(4, -np.inf)
            np.testing.assert_array_equal(bias[:, i, j], expected)
    np.testing.assert_array_equal(alibi_bias(4, 1, 6)[:, 0], bias[:, -1])  # the newest query
    np.testing.assert_array_equal(alibi_bias(4, 2, 6), bias[:, -2:])


def test_alibi_makes_far_keys_weigh_less() -> None:
    """Equal content scores: with the bias, the weights fall with distance, more on steeper heads."""
    n = 6
    q = np.zeros((n, 4))  # every raw score 0
    bias = alibi_bias(2, n)
    weights = [reference_attention(q, q, q, mask=np.isfinite(b))[1] for b in bias]
    plain_last = weights[0][-1]
    np.testing.assert_allclose(plain_last, 1 / n)  # without the bias: uniform
    with_bias = [np.exp(b[-1] - b[-1].max()) / np.exp(b[-1] - b[-1].max()).sum() for b in bias]
    for row in with_bias:
        assert np.all(np.diff(row) > 0)  # nearer keys (larger j) weigh more
    assert with_bias[0][-1] > with_bias[1][-1]  # head 0 has the steeper slope


@pytest.mark.parametrize("d", [1, 3, 7])
def test_rope_refuses_an_odd_width(d: int) -> None:
    with pytest.raises(ValueError, match="even last axis"):
        rotary_embedding(np.ones((2, d)))
