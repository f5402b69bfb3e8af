"""Layer norm, feed-forward, encoder and decoder layers: hand cases, wiring, dtypes.

Hand cases compute the expected numbers in plain Python and compare in float64 to 1e-12.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from transformer_primer.layers import DecoderLayer, EncoderLayer, FeedForward, LayerNorm
from transformer_primer.masks import causal_mask, padding_mask

TOL = 1e-12


def py_layer_norm(row: list[float], gamma: list[float], beta: list[float], eps: float) -> list[float]:
    mean = math.fsum(row) / len(row)
    var = math.fsum((x - mean) ** 2 for x in row) / len(row)  # biased, as in the paper and torch
    return [(x - mean) / math.sqrt(var + eps) * g + b for x, g, b in zip(row, gamma, beta, strict=True)]


# --- LayerNorm ----------------------------------------------------------------------------


def test_layer_norm_by_hand() -> None:
    norm = LayerNorm(4, eps=1e-5)
    norm.gamma = np.array([0.5, 1.0, 2.0, -1.0])
    norm.beta = np.array([0.1, 0.0, -0.2, 0.3])
    rows = [[1.0, 2.0, 3.0, 4.0], [-7.5, 0.0, 0.0, 100.0], [3.0, 3.0, 3.0, 3.0]]  # last: zero variance
    got = norm(np.array(rows))
    want = [py_layer_norm(r, norm.gamma.tolist(), norm.beta.tolist(), 1e-5) for r in rows]
    assert np.max(np.abs(got - np.array(want))) <= TOL
    # mean 2.5, variance 1.25: the first entry is (1 - 2.5) / sqrt(1.25 + 1e-5) * 0.5 + 0.1
    assert abs(got[0, 0] - ((1 - 2.5) / math.sqrt(1.25 + 1e-5) * 0.5 + 0.1)) <= TOL


def test_layer_norm_rows_have_mean_0_and_variance_near_1() -> None:
    x = np.random.default_rng(0).normal(3.0, 10.0, size=(2, 5, 16))
    y = LayerNorm(16)(x)
    assert np.allclose(y.mean(axis=-1), 0.0, atol=1e-12)
    assert np.allclose(y.var(axis=-1), 1.0, atol=1e-6)  # eps = 1e-5 keeps it just below 1


# --- FeedForward --------------------------------------------------------------------------


def test_feed_forward_by_hand() -> None:
    ff = FeedForward(2, 3, np.random.default_rng(0))
    ff.w_1 = np.array([[1.0, -2.0, 0.5], [0.25, 1.0, -1.0]])
    ff.b_1 = np.array([0.0, 0.5, -0.25])
    ff.w_2 = np.array([[1.0, 0.0], [-1.0, 2.0], [0.5, 0.5]])
    ff.b_2 = np.array([0.1, -0.1])
    x = [[1.0, 2.0], [-3.0, 0.5]]
    want = []
    for row in x:
        hidden = [max(0.0, row[0] * ff.w_1[0, j] + row[1] * ff.w_1[1, j] + ff.b_1[j]) for j in range(3)]
        want.append([math.fsum(hidden[j] * ff.w_2[j, c] for j in range(3)) + ff.b_2[c] for c in range(2)])
    assert np.max(np.abs(ff(np.array(x)) - np.array(want))) <= TOL


# --- encoder and decoder layers: post-norm and pre-norm -----------------------------------


def silence_sublayers(layer: EncoderLayer | DecoderLayer) -> None:
    """Zero every sublayer's output weights: each sublayer then adds exactly 0."""
    attns = [layer.self_attn] + ([layer.cross_attn] if isinstance(layer, DecoderLayer) else [])
    for attn in attns:
        attn.w_o[...] = 0.0
        attn.b_o[...] = 0.0
    layer.feed_forward.w_2[...] = 0.0
    layer.feed_forward.b_2[...] = 0.0


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_is_wired_as_its_norm_says(norm_first: bool) -> None:
    rng = np.random.default_rng(11)
    layer = EncoderLayer(8, 2, 16, rng, norm_first=norm_first)
    x = rng.normal(size=(2, 5, 8))
    mask = padding_mask([5, 3], 5)
    sa, ff, n1, n2 = layer.self_attn, layer.feed_forward, layer.norm_1, layer.norm_2
    if norm_first:  # x + Sublayer(LayerNorm(x))
        h = n1(x)
        x1 = x + sa(h, h, h, mask)[0]
        want = x1 + ff(n2(x1))
    else:  # LayerNorm(x + Sublayer(x)), the paper
        x1 = n1(x + sa(x, x, x, mask)[0])
        want = n2(x1 + ff(x1))
    cache: dict = {}
    got = layer(x, mask, cache=cache)
    assert got.shape == x.shape
    assert np.array_equal(got, want)
    assert cache["self_attn"]["weights"].shape == (2, 2, 5, 5)


def test_post_norm_and_pre_norm_differ_as_expected() -> None:
    x = np.random.default_rng(2).normal(2.0, 3.0, size=(4, 8))
    post = EncoderLayer(8, 2, 16, np.random.default_rng(1), norm_first=False)
    pre = EncoderLayer(8, 2, 16, np.random.default_rng(1), norm_first=True)  # same weights
    # Post-norm ends in a layer norm: every row has mean 0. Pre-norm keeps the residual stream.
    assert np.allclose(post(x).mean(axis=-1), 0.0, atol=1e-12)
    assert not np.allclose(pre(x).mean(axis=-1), 0.0, atol=1e-3)
    # With every sublayer silenced, pre-norm is the identity and post-norm is two layer norms.
    silence_sublayers(post)
    silence_sublayers(pre)
    assert np.array_equal(pre(x), x)
    assert np.allclose(post(x), LayerNorm(8)(LayerNorm(8)(x)), rtol=0, atol=TOL)


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_is_wired_as_its_norm_says(norm_first: bool) -> None:
    rng = np.random.default_rng(12)
    layer = DecoderLayer(8, 4, 16, rng, norm_first=norm_first)
    y, memory = rng.normal(size=(2, 4, 8)), rng.normal(size=(2, 6, 8))
    self_mask, memory_mask = causal_mask(4), padding_mask([6, 2], 6)
    sa, ca, ff = layer.self_attn, layer.cross_attn, layer.feed_forward
    n1, n2, n3 = layer.norm_1, layer.norm_2, layer.norm_3
    if norm_first:
        h = n1(y)
        y1 = y + sa(h, h, h, self_mask)[0]
        y2 = y1 + ca(n2(y1), memory, memory, memory_mask)[0]
        want = y2 + ff(n3(y2))
    else:
        y1 = n1(y + sa(y, y, y, self_mask)[0])
        y2 = n2(y1 + ca(y1, memory, memory, memory_mask)[0])
        want = n3(y2 + ff(y2))
    cache: dict = {}
    assert np.array_equal(layer(y, memory, self_mask, memory_mask, cache=cache), want)
    assert np.all(cache["cross_attn"]["weights"][1, :, :, 2:] == 0.0)  # padded memory ignored


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_output_at_t_ignores_later_targets(norm_first: bool) -> None:
    rng = np.random.default_rng(4)
    layer = DecoderLayer(8, 2, 16, rng, norm_first=norm_first)
    y, memory = rng.normal(size=(6, 8)), rng.normal(size=(3, 8))
    changed = y.copy()
    changed[3:] += 10.0
    a = layer(y, memory, causal_mask(6))
    b = layer(changed, memory, causal_mask(6))
    assert np.allclose(a[:3], b[:3], rtol=0, atol=1e-12)
    assert not np.allclose(a[3:], b[3:])


# --- dtypes -------------------------------------------------------------------------------


def test_float32_layers_stay_float32_and_agree_with_float64() -> None:
    x64 = np.random.default_rng(3).normal(size=(2, 5, 8))
    x32 = x64.astype(np.float32)
    for make in (
        lambda dt: LayerNorm(8, dtype=dt),
        lambda dt: FeedForward(8, 16, np.random.default_rng(0), dtype=dt),
        lambda dt: EncoderLayer(8, 2, 16, np.random.default_rng(0), dtype=dt),
        lambda dt: EncoderLayer(8, 2, 16, np.random.default_rng(0), norm_first=True, dtype=dt),
    ):
        layer32, layer64 = make(np.float32), make(np.float64)
        assert all(p.dtype == np.float32 for p in layer32.parameters().values())
        out32 = layer32(x32)
        assert out32.dtype == np.float32
        assert np.max(np.abs(out32 - layer64(x64))) < 1e-5
    dec32 = DecoderLayer(8, 2, 16, np.random.default_rng(0), dtype=np.float32)
    dec64 = DecoderLayer(8, 2, 16, np.random.default_rng(0))
    out32 = dec32(x32, x32[:, :3], causal_mask(5))
    assert out32.dtype == np.float32
    assert np.max(np.abs(out32 - dec64(x64, x64[:, :3], causal_mask(5)))) < 1e-5


@pytest.mark.parametrize(
    "layer",
    [
        LayerNorm(4),
        FeedForward(4, 8, np.random.default_rng(0)),
        EncoderLayer(4, 2, 8, np.random.default_rng(0)),
    ],
    ids=["LayerNorm", "FeedForward", "EncoderLayer"],
)
def test_a_float32_input_to_float64_weights_is_refused_not_upcast(layer) -> None:
    with pytest.raises(
        TypeError,
        match=r"x has dtype float32 but the weights are float64; build the layer with dtype=float32",
    ):
        layer(np.ones((3, 4), dtype=np.float32))
