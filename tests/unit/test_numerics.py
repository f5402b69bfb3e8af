"""softmax, the masks and the positional encoding: hand-computed cases and properties.

Expected values are computed here in plain Python (``math``), never with the function
under test, and compared in float64 to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from transformer_primer.masks import causal_mask, padding_mask
from transformer_primer.numerics import softmax
from transformer_primer.positional import sinusoidal_positional_encoding

FAST = settings(max_examples=60, deadline=None, derandomize=True, database=None)
TOL = 1e-12


def py_softmax(row: list[float]) -> list[float]:
    """The textbook formula in plain Python, shifted by the row maximum."""
    finite = [s for s in row if s != -math.inf]
    if not finite:
        return [0.0] * len(row)
    top = max(finite)
    e = [math.exp(s - top) if s != -math.inf else 0.0 for s in row]
    total = math.fsum(e)
    return [x / total for x in e]


# --- softmax: hand-computed cases ---------------------------------------------------------


@pytest.mark.parametrize(
    "row",
    [
        [1.0, 2.0, 3.0],
        [0.0, 0.0],
        [-3.5, 0.25, 7.0, 7.0, -1.0],
        [1e4, 1e4 - 1.0, -1e4],  # large scores: no overflow, no NaN
        [-1e4, -1e4 - 2.0],  # large negative scores: no underflow to 0/0
        [2.0, -math.inf, 1.0],  # a masked entry gets weight exactly 0
        [5.0],
    ],
)
def test_softmax_matches_the_formula_by_hand(row: list[float]) -> None:
    got = softmax(np.array(row))
    want = py_softmax(row)
    assert got.dtype == np.float64
    assert max(abs(g - w) for g, w in zip(got.tolist(), want, strict=True)) <= TOL


def test_softmax_takes_the_axis_it_is_given() -> None:
    x = np.array([[1.0, 5.0], [2.0, -1.0], [0.5, 0.5]])  # softmax down each column
    got = softmax(x, axis=0)
    for j in range(2):
        want = py_softmax([x[i][j] for i in range(3)])
        assert max(abs(got[i, j] - want[i]) for i in range(3)) <= TOL
    assert np.array_equal(softmax(x, axis=0), softmax(x.T, axis=-1).T)


def test_a_fully_masked_row_gets_zero_weights_not_nan() -> None:
    got = softmax(np.array([[-np.inf, -np.inf, -np.inf], [0.0, -np.inf, 0.0]]))
    assert got[0].tolist() == [0.0, 0.0, 0.0]
    assert got[1].tolist() == [0.5, 0.0, 0.5]


def test_scores_far_apart_beyond_the_float_range() -> None:
    # 1e308 - (-1e308) overflows to -inf inside the shift: the far score's weight is 0.
    assert softmax(np.array([1e308, -1e308])).tolist() == [1.0, 0.0]
    assert softmax(np.array([3e38, -3e38], dtype=np.float32)).tolist() == [1.0, 0.0]


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_softmax_keeps_the_float_dtype(dtype: type) -> None:
    x = np.array([[0.5, -1.0, 2.0], [-np.inf, 0.0, 1.0]], dtype=dtype)
    assert softmax(x).dtype == dtype


# --- softmax: properties ------------------------------------------------------------------

finite64 = st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False)
score_arrays = hnp.arrays(
    np.float64, hnp.array_shapes(min_dims=1, max_dims=3, min_side=1, max_side=6), elements=finite64
)


@FAST
@given(score_arrays)
def test_softmax_rows_sum_to_one_and_lie_in_0_1(x: np.ndarray) -> None:
    w = softmax(x)
    assert w.shape == x.shape and w.dtype == x.dtype
    assert np.all((w >= 0.0) & (w <= 1.0))
    assert np.allclose(w.sum(axis=-1), 1.0, rtol=0, atol=1e-12)


@FAST
@given(
    hnp.arrays(np.float64, st.integers(1, 8), elements=st.floats(-1e3, 1e3)),
    st.floats(-1e3, 1e3),
)
def test_softmax_ignores_a_constant_shift(x: np.ndarray, c: float) -> None:
    assert np.allclose(softmax(x), softmax(x + c), rtol=0, atol=1e-12)


@FAST
@given(
    hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(-50, 50),
    ),
    st.data(),
)
def test_softmax_masked_rows_sum_to_one_or_zero(x: np.ndarray, data: st.DataObject) -> None:
    mask = data.draw(hnp.arrays(np.bool_, x.shape))
    w = softmax(np.where(mask, x, -np.inf))
    assert np.all(w[~mask] == 0.0)
    sums = w.sum(axis=-1)
    live = mask.any(axis=-1)
    assert np.allclose(sums[live], 1.0, rtol=0, atol=1e-12)
    assert np.all(sums[~live] == 0.0)


# --- masks: orientation (rows = queries, columns = keys) --------------------------------


def test_causal_mask_rows_are_queries_and_columns_are_keys() -> None:
    n = 5
    m = causal_mask(n)
    assert m.shape == (n, n) and m.dtype == np.bool_
    for i in range(n):  # query i
        for j in range(n):  # key j
            assert m[i, j] == (j <= i)
    # Query 0 sees only key 0: with the mask, its output is exactly v[0].
    from transformer_primer.attention import scaled_dot_product_attention

    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(n, 3)) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, m)
    assert w[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert np.array_equal(out[0], v[0])


def test_padding_mask_marks_real_keys_per_sequence() -> None:
    m = padding_mask([3, 1, 4], 4)
    assert m.shape == (3, 1, 4) and m.dtype == np.bool_
    assert m[:, 0, :].astype(int).tolist() == [[1, 1, 1, 0], [1, 0, 0, 0], [1, 1, 1, 1]]


def test_padding_mask_broadcasts_over_queries_and_combines_with_causal() -> None:
    both = causal_mask(3) & padding_mask([2], 3)  # (3, 3) & (1, 1, 3) -> (1, 3, 3)
    assert both.shape == (1, 3, 3)
    assert both[0].astype(int).tolist() == [[1, 0, 0], [1, 1, 0], [1, 1, 0]]


# --- positional encoding: the paper's formula in plain Python ----------------------------


@pytest.mark.parametrize(("n_positions", "d_model"), [(1, 1), (4, 2), (7, 5), (50, 16), (3, 9)])
def test_positional_encoding_is_the_papers_formula(n_positions: int, d_model: int) -> None:
    pe = sinusoidal_positional_encoding(n_positions, d_model)
    assert pe.shape == (n_positions, d_model) and pe.dtype == np.float64
    worst = 0.0
    for pos in range(n_positions):
        for col in range(d_model):
            i = col // 2  # columns 2i (sin) and 2i + 1 (cos) share the frequency
            angle = pos / 10000 ** (2 * i / d_model)
            want = math.sin(angle) if col % 2 == 0 else math.cos(angle)
            worst = max(worst, abs(pe[pos, col] - want))
    assert worst <= TOL


def test_positional_encoding_first_rows_by_hand() -> None:
    pe = sinusoidal_positional_encoding(2, 4)
    # pos 0: sin 0 = 0, cos 0 = 1 in every pair; pos 1: sin(1), cos(1), sin(1/100), cos(1/100)
    want = [[0.0, 1.0, 0.0, 1.0], [math.sin(1), math.cos(1), math.sin(0.01), math.cos(0.01)]]
    assert np.max(np.abs(pe - np.array(want))) <= TOL
