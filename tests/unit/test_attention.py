"""Scaled dot-product and multi-head attention: hand-computed cases and properties.

Hand cases compute the expected numbers in plain Python (lists, ``math``) and compare in
float64 to 1e-12. The properties are the ones attention must have whatever the numbers:
weights in [0, 1], causality, permutation-equivariance without positions, padded keys
ignored, float32 kept float32.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from transformer_primer.attention import (
    MultiHeadAttention,
    merge_heads,
    scaled_dot_product_attention,
    split_heads,
)
from transformer_primer.masks import causal_mask, padding_mask

FAST = settings(max_examples=40, deadline=None, derandomize=True, database=None)
TOL = 1e-12


# --- plain-Python reference (lists of lists) ----------------------------------------------


def py_matmul(a: list[list[float]], b: list[list[float]]) -> list[list[float]]:
    return [
        [math.fsum(a[i][t] * b[t][j] for t in range(len(b))) for j in range(len(b[0]))] for i in range(len(a))
    ]


def py_attention(q, k, v, mask=None):
    """softmax(q k^T / sqrt(d_k)) v, one query at a time, mask[i][j] True = may attend."""
    d_k = len(q[0])
    out, weights = [], []
    for i, qi in enumerate(q):
        scores = [
            math.fsum(a * b for a, b in zip(qi, kj, strict=True)) / math.sqrt(d_k)
            if mask is None or mask[i][j]
            else -math.inf
            for j, kj in enumerate(k)
        ]
        live = [s for s in scores if s != -math.inf]
        if not live:
            weights.append([0.0] * len(k))
            out.append([0.0] * len(v[0]))
            continue
        top = max(live)
        e = [math.exp(s - top) if s != -math.inf else 0.0 for s in scores]
        w = [x / math.fsum(e) for x in e]
        weights.append(w)
        out.append([math.fsum(w[j] * v[j][c] for j in range(len(v))) for c in range(len(v[0]))])
    return out, weights


def py_mha(mha: MultiHeadAttention, query, key, value, mask=None):
    """Multi-head attention from its definition, in plain Python, with mha's weights."""

    def project(x, w, b):
        return [[y + bb for y, bb in zip(row, b.tolist(), strict=True)] for row in py_matmul(x, w.tolist())]

    qp, kp, vp = (
        project(query, mha.w_q, mha.b_q),
        project(key, mha.w_k, mha.b_k),
        project(value, mha.w_v, mha.b_v),
    )
    d_k = mha.d_k
    merged = [[] for _ in query]
    all_weights = []
    for h in range(mha.n_heads):
        cols = slice(h * d_k, (h + 1) * d_k)  # head h takes columns h*d_k:(h+1)*d_k
        out, w = py_attention([r[cols] for r in qp], [r[cols] for r in kp], [r[cols] for r in vp], mask)
        all_weights.append(w)
        for i, row in enumerate(out):
            merged[i].extend(row)
    return project(merged, mha.w_o, mha.b_o), all_weights


def worst(a: np.ndarray, b: list) -> float:
    return float(np.max(np.abs(a - np.array(b))))


# --- hand-computed cases ------------------------------------------------------------------


def test_attention_of_one_query_by_hand() -> None:
    # scores = [1, 0] / sqrt(2); weights = softmax; output = weighted values
    q, k, v = [[1.0, 0.0]], [[1.0, 0.0], [0.0, 1.0]], [[10.0], [20.0]]
    out, w = scaled_dot_product_attention(np.array(q), np.array(k), np.array(v))
    s = 1 / math.sqrt(2)
    w0 = math.exp(s) / (math.exp(s) + 1.0)
    assert abs(w[0, 0] - w0) <= TOL and abs(w[0, 1] - (1 - w0)) <= TOL
    assert abs(out[0, 0] - (10 * w0 + 20 * (1 - w0))) <= TOL


@pytest.mark.parametrize("masked", [False, True])
def test_attention_matches_plain_python(masked: bool) -> None:
    rng = np.random.default_rng(7)
    q, k, v = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    mask = rng.random((4, 5)) < 0.6 if masked else None
    if masked:
        mask[2] = False  # a fully masked query: zero weights, zero output
    out, w = scaled_dot_product_attention(q, k, v, mask)
    want_out, want_w = py_attention(
        q.tolist(), k.tolist(), v.tolist(), None if mask is None else mask.tolist()
    )
    assert worst(w, want_w) <= TOL and worst(out, want_out) <= TOL


@pytest.mark.parametrize(("d_model", "n_heads"), [(4, 1), (4, 2), (6, 3)])
def test_multi_head_attention_matches_plain_python(d_model: int, n_heads: int) -> None:
    rng = np.random.default_rng(d_model + n_heads)
    mha = MultiHeadAttention(d_model, n_heads, rng)
    for name in ("b_q", "b_k", "b_v", "b_o"):  # non-zero biases, so they are tested too
        setattr(mha, name, rng.normal(size=d_model))
    x, memory = rng.normal(size=(3, d_model)), rng.normal(size=(4, d_model))
    mask = np.array([[1, 1, 0, 1], [0, 1, 1, 1], [1, 1, 1, 0]], dtype=bool)
    out, w = mha(x, memory, memory, mask)
    want_out, want_w = py_mha(mha, x.tolist(), memory.tolist(), memory.tolist(), mask.tolist())
    assert out.shape == (3, d_model) and w.shape == (n_heads, 3, 4)
    assert worst(out, want_out) <= TOL and worst(w, want_w) <= TOL


def test_split_and_merge_heads_are_inverse_and_take_column_blocks() -> None:
    x = np.arange(2 * 3 * 6, dtype=float).reshape(2, 3, 6)  # (batch, n, d_model)
    heads = split_heads(x, 3)  # (batch, n_heads, n, d_k)
    assert heads.shape == (2, 3, 3, 2)
    assert np.array_equal(heads[:, 1], x[..., 2:4])  # head 1 = columns 2:4
    assert np.array_equal(merge_heads(heads), x)


def test_batched_attention_equals_one_sequence_at_a_time() -> None:
    rng = np.random.default_rng(3)
    mha = MultiHeadAttention(8, 2, rng)
    x = rng.normal(size=(3, 5, 8))
    mask = padding_mask([5, 2, 4], 5)
    out, w = mha(x, x, x, mask)
    for b in range(3):
        out_b, w_b = mha(x[b], x[b], x[b], mask[b])
        assert np.allclose(out[b], out_b, rtol=0, atol=TOL) and np.allclose(w[b], w_b, rtol=0, atol=TOL)


# --- properties ---------------------------------------------------------------------------

small = st.floats(-10, 10, allow_nan=False)


@st.composite
def qkv_and_mask(draw: st.DrawFn) -> tuple[np.ndarray, ...]:
    batch = draw(st.integers(1, 2))
    n_q, n_k, d_k, d_v = (draw(st.integers(1, 6)) for _ in range(4))
    q = draw(hnp.arrays(np.float64, (batch, n_q, d_k), elements=small))
    k = draw(hnp.arrays(np.float64, (batch, n_k, d_k), elements=small))
    v = draw(hnp.arrays(np.float64, (batch, n_k, d_v), elements=small))
    mask = draw(hnp.arrays(np.bool_, (batch, n_q, n_k)))
    return q, k, v, mask


@FAST
@given(qkv_and_mask())
def test_weights_lie_in_0_1_and_rows_sum_to_1_or_0(args: tuple[np.ndarray, ...]) -> None:
    q, k, v, mask = args
    out, w = scaled_dot_product_attention(q, k, v, mask)
    assert np.all((w >= 0) & (w <= 1))
    sums = w.sum(axis=-1)
    live = mask.any(axis=-1)
    assert np.allclose(sums[live], 1.0, rtol=0, atol=1e-12) and np.all(sums[~live] == 0)
    assert np.all(w[~mask] == 0.0)  # masked (e.g. padded) keys get exactly zero weight
    assert np.all(out[~live] == 0.0)


@FAST
@given(st.integers(2, 7), st.integers(0, 6), st.integers(0, 2**32 - 1))
def test_causal_output_at_t_ignores_later_tokens(n: int, t: int, seed: int) -> None:
    t = t % n
    rng = np.random.default_rng(seed)
    mha = MultiHeadAttention(4, 2, rng)
    x = rng.normal(size=(n, 4))
    changed = x.copy()
    changed[t + 1 :] = rng.normal(size=(n - t - 1, 4)) * 5  # every token after t changes
    mask = causal_mask(n)
    out, _ = scaled_dot_product_attention(x, x, x, mask)
    out2, _ = scaled_dot_product_attention(changed, changed, changed, mask)
    # Equal to rounding: the fast path picks its float-range strategy from all the keys.
    assert np.allclose(out[: t + 1], out2[: t + 1], rtol=0, atol=1e-12)
    mout, _ = mha(x, x, x, mask)
    mout2, _ = mha(changed, changed, changed, mask)
    assert np.allclose(mout[: t + 1], mout2[: t + 1], rtol=0, atol=1e-12)
    if t + 1 < n:  # the check can fail: without the mask, position t does see the change
        free, _ = mha(x, x, x)
        free2, _ = mha(changed, changed, changed)
        assert not np.allclose(free[t], free2[t])


@FAST
@given(st.integers(1, 7), st.integers(0, 2**32 - 1))
def test_self_attention_without_positions_is_permutation_equivariant(n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    mha = MultiHeadAttention(6, 3, rng)
    x = rng.normal(size=(n, 6))
    perm = rng.permutation(n)
    out, w = mha(x, x, x)
    out_p, w_p = mha(x[perm], x[perm], x[perm])
    assert np.allclose(out_p, out[perm], rtol=0, atol=1e-12)  # same outputs, permuted
    assert np.allclose(w_p, w[:, perm][:, :, perm], rtol=0, atol=1e-12)


@FAST
@given(st.integers(2, 6), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_padded_keys_get_zero_weight_and_do_not_matter(n: int, length: int, seed: int) -> None:
    length = min(length, n)
    rng = np.random.default_rng(seed)
    mha = MultiHeadAttention(4, 2, rng)
    x = rng.normal(size=(1, n, 4))
    mask = padding_mask([length], n)
    out, w = mha(x, x, x, mask)
    assert np.all(w[..., length:] == 0.0)
    junk = x.copy()
    junk[:, length:] = rng.normal(size=(1, n - length, 4)) * 100  # change only the padding
    out2, _ = mha(junk, junk, junk, mask)
    assert np.allclose(out[:, :length], out2[:, :length], rtol=0, atol=1e-12)


# --- dtypes -------------------------------------------------------------------------------


def test_float32_stays_float32() -> None:
    rng = np.random.default_rng(0)
    q, k, v = (rng.normal(size=(2, 3, 4)).astype(np.float32) for _ in range(3))
    out, w = scaled_dot_product_attention(q, k, v, causal_mask(3))
    assert out.dtype == np.float32 and w.dtype == np.float32
    mha = MultiHeadAttention(4, 2, rng, dtype=np.float32)
    assert all(p.dtype == np.float32 for p in mha.parameters().values())
    out, w = mha(q, q, q, causal_mask(3))
    assert out.dtype == np.float32 and w.dtype == np.float32
    with pytest.raises(TypeError, match="query has dtype float64 but the weights are float32"):
        mha(q.astype(np.float64), q, q)


def test_float32_agrees_with_float64_to_float32_precision() -> None:
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(3, 8, 16)), rng.normal(size=(3, 8, 16)), rng.normal(size=(3, 8, 16))
    out64, w64 = scaled_dot_product_attention(q, k, v)
    out32, w32 = scaled_dot_product_attention(*(a.astype(np.float32) for a in (q, k, v)))
    assert np.max(np.abs(out32 - out64)) < 1e-5 and np.max(np.abs(w32 - w64)) < 1e-6
