"""Fuzzing the public functions: shapes, dtypes, masks and values drawn by hypothesis.

Whatever comes in, each call must either return finite numbers of the promised shape and
dtype, or raise ValueError/TypeError from transformer_primer itself. It must never hang,
crash, warn from inside numpy, or hand back NaN/inf it was not given. (``-inf`` in a
softmax input is a request: a masked score. Everything else non-finite must be refused.)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import transformer_primer
from transformer_primer.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_primer.layers import DecoderLayer, Embedding, EncoderLayer, FeedForward, LayerNorm
from transformer_primer.masks import causal_mask, padding_mask
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.numerics import softmax
from transformer_primer.positional import sinusoidal_positional_encoding

PACKAGE = Path(transformer_primer.__file__).resolve().parent
FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# --- strategies ---------------------------------------------------------------------------

FLOAT_DTYPES = st.sampled_from([np.float64, np.float32, np.float16])
ANY_DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.bool_, np.complex128, np.uint8])


def wild(dtype) -> st.SearchStrategy:
    """Any value of the dtype: huge, tiny, subnormal, NaN, infinite."""
    if np.dtype(dtype).kind != "f":
        return hnp.from_dtype(np.dtype(dtype))
    return st.floats(width=np.dtype(dtype).itemsize * 8, allow_nan=True, allow_infinity=True)


def extremes(dtype) -> st.SearchStrategy:
    """Values at the edges of the float range, where sums and products overflow."""
    info = np.finfo(dtype)
    return st.sampled_from(
        [dtype(e) for e in (info.max, -info.max, info.max / 3, -np.sqrt(info.max), info.tiny, 0.0)]
    )


def arrays(shape, dtype=None) -> st.SearchStrategy:
    """Mostly ordinary arrays; else any values, or only extreme ones (a whole row of 1e308)."""
    dtypes = FLOAT_DTYPES if dtype is None else st.just(dtype)

    def of(dt, kind: str) -> st.SearchStrategy:
        width = np.dtype(dt).itemsize * 8
        elements = {"ordinary": st.floats(-10, 10, width=width), "wild": wild(dt), "extreme": extremes(dt)}[
            kind
        ]
        return hnp.arrays(dt, shape, elements=elements)

    kinds = st.sampled_from(["ordinary"] * 4 + ["wild", "extreme"])
    return st.tuples(dtypes, kinds).flatmap(lambda pair: of(*pair))


shapes = hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)


def masks(shape) -> st.SearchStrategy:
    """Mostly boolean masks; sometimes 0/1 integers or floats, which must be refused."""
    dtypes = st.sampled_from([np.bool_] * 4 + [np.int64, np.float64])
    return dtypes.flatmap(lambda dt: hnp.arrays(dt, shape))


def outcome(call: Callable[[], object]) -> object | None:
    """Run ``call``: return its result, or None if it refused with a clear error of ours."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a RuntimeWarning from numpy is a failure too
        try:
            result = call()
        except (ValueError, TypeError) as err:
            tb = err.__traceback__
            while tb.tb_next is not None:
                tb = tb.tb_next
            origin = Path(tb.tb_frame.f_code.co_filename).resolve()
            assert PACKAGE in origin.parents, f"{type(err).__name__} raised in {origin}: {err}"
            event(f"refused: {type(err).__name__}")
            return None
    event("returned")  # `pytest --hypothesis-show-statistics` shows how often each happened
    return result


def finite(*arrays_: np.ndarray) -> bool:
    return all(np.all(np.isfinite(a)) for a in arrays_)


# --- softmax ------------------------------------------------------------------------------


@FUZZ
@given(
    st.one_of(
        shapes.flatmap(arrays), shapes.flatmap(lambda s: ANY_DTYPES.flatmap(lambda d: hnp.arrays(d, s)))
    ),
    st.sampled_from([-1, -1, -1, 0, 1, -2, 4, 2.0]),
)
def test_fuzz_softmax(x: np.ndarray, axis: int) -> None:
    w = outcome(lambda: softmax(x, axis=axis))
    if w is None:
        return
    assert w.shape == x.shape and w.dtype == x.dtype
    assert finite(w) and np.all((w >= 0) & (w <= 1))
    assert not np.isnan(x).any() and not np.isposinf(x).any()  # those must have been refused
    sums = w.astype(np.float64).sum(axis=axis)
    live = ~np.all(np.isneginf(x), axis=axis)
    tol = 1e-2 if x.dtype == np.float16 else 1e-5
    assert np.allclose(sums[live], 1.0, atol=tol) and np.all(sums[~live] == 0)


# --- attention ----------------------------------------------------------------------------


@st.composite
def attention_inputs(draw: st.DrawFn):
    lead = draw(hnp.array_shapes(min_dims=0, max_dims=2, min_side=1, max_side=3))
    n_q, n_k, d_k, d_v = (draw(st.sampled_from([1, 2, 3, 4, 5, 0])) for _ in range(4))  # 0: empty
    bad_d = draw(st.sampled_from([d_k, d_k, d_k, d_k + 1]))  # sometimes a mismatched d_k
    dtype = draw(FLOAT_DTYPES)
    q = draw(arrays((*lead, n_q, d_k), dtype))
    k = draw(arrays((*lead, n_k, bad_d), dtype))
    v = draw(arrays((*lead, n_k, d_v), draw(st.sampled_from([dtype, dtype, np.float64]))))
    mask_shape = draw(st.sampled_from([None, (n_q, n_k), (*lead, n_q, n_k), (1, n_k), (n_k, n_q)]))
    mask = None if mask_shape is None else draw(masks(mask_shape))
    return q, k, v, mask


@FUZZ
@given(attention_inputs())
def test_fuzz_scaled_dot_product_attention(args) -> None:
    q, k, v, mask = args
    result = outcome(lambda: scaled_dot_product_attention(q, k, v, mask))
    if result is None:
        return
    out, w = result
    assert out.shape == (*q.shape[:-1], v.shape[-1]) and out.dtype == q.dtype
    assert finite(out, w) and np.all((w >= 0) & (w <= 1))


@st.composite
def mha_inputs(draw: st.DrawFn):
    n_heads = draw(st.integers(1, 3))
    d_model = n_heads * draw(st.integers(1, 3))
    dtype = draw(st.sampled_from([np.float64, np.float32]))
    batch = draw(st.sampled_from([(), (1,), (2,)]))
    n_q, n_k = draw(st.sampled_from([1, 2, 3, 4, 0])), draw(st.sampled_from([1, 2, 3, 4, 0]))
    width = draw(st.sampled_from([d_model, d_model, d_model, d_model + 1]))
    query = draw(arrays((*batch, n_q, width), draw(st.sampled_from([dtype, dtype, np.float16]))))
    memory = draw(arrays((*batch, n_k, d_model), dtype))
    mask = draw(st.one_of(st.none(), masks((n_q, n_k)), masks((*batch, 1, n_k))))
    return d_model, n_heads, dtype, query, memory, mask, draw(st.booleans())


@FUZZ
@given(mha_inputs(), st.integers(0, 2**32 - 1))
def test_fuzz_multi_head_attention_and_layers(args, seed: int) -> None:
    d_model, n_heads, dtype, query, memory, mask, norm_first = args
    rng = np.random.default_rng(seed)
    mha = MultiHeadAttention(d_model, n_heads, rng, dtype=dtype)
    result = outcome(lambda: mha(query, memory, memory, mask))
    if result is not None:
        out, w = result
        assert out.shape == query.shape and out.dtype == dtype and finite(out, w)
    enc = EncoderLayer(d_model, n_heads, 2 * d_model, rng, norm_first=norm_first, dtype=dtype)
    self_mask = mask if mask is None or mask.shape[-2] == 1 else None
    out = outcome(lambda: enc(query, self_mask))
    if out is not None:
        assert out.shape == query.shape and out.dtype == dtype and finite(out)
    dec = DecoderLayer(d_model, n_heads, 2 * d_model, rng, norm_first=norm_first, dtype=dtype)
    out = outcome(lambda: dec(query, memory, causal_mask(max(query.shape[-2], 1)), mask))
    if out is not None:
        assert out.shape == query.shape and out.dtype == dtype and finite(out)
    for layer in (LayerNorm(d_model, dtype=dtype), FeedForward(d_model, 3, rng, dtype=dtype)):
        out = outcome(lambda layer=layer: layer(query))
        if out is not None:
            assert out.shape == query.shape and out.dtype == dtype and finite(out)


# --- masks, positions, embeddings, the model ----------------------------------------------

sizes = st.one_of(st.integers(-3, 12), st.floats(-2, 5), st.booleans(), st.none(), st.text(max_size=2))


@FUZZ
@given(sizes, sizes, st.one_of(hnp.arrays(ANY_DTYPES, shapes), st.lists(st.integers(-2, 9), max_size=4)))
def test_fuzz_masks_and_positions(n, d_model, lengths) -> None:
    m = outcome(lambda: causal_mask(n))
    if m is not None:
        assert m.shape == (n, n) and m.dtype == np.bool_
    pm = outcome(lambda: padding_mask(lengths, n))
    if pm is not None:
        assert pm.shape == (len(lengths), 1, n) and pm.dtype == np.bool_
    pe = outcome(lambda: sinusoidal_positional_encoding(n, d_model))
    if pe is not None:
        assert pe.shape == (n, d_model) and finite(pe) and np.all(np.abs(pe) <= 1)


@FUZZ
@given(
    st.one_of(
        hnp.arrays(ANY_DTYPES, shapes),
        hnp.arrays(np.int64, hnp.array_shapes(max_dims=2, max_side=7), elements=st.integers(-2, 8)),
    ),
    st.one_of(
        hnp.arrays(np.int64, hnp.array_shapes(max_dims=2, max_side=7), elements=st.integers(0, 7)),
        hnp.arrays(ANY_DTYPES, shapes),
    ),
    st.booleans(),
)
def test_fuzz_the_model(src, tgt, norm_first: bool) -> None:
    config = TransformerConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=8, max_len=6, norm_first=norm_first)
    model = Transformer(config, np.random.default_rng(0))
    emb = outcome(lambda: Embedding(7, 4, np.random.default_rng(0))(src))
    if emb is not None:
        assert emb.shape == (*np.shape(src), 4) and finite(emb)
    memory = outcome(lambda: model.encode(src, model.source_mask(src)))
    if memory is None:
        return
    assert memory.shape == (*src.shape, 4) and finite(memory)
    logits = outcome(lambda: model.decode(tgt, memory, model.source_mask(src)))
    if logits is not None:
        assert logits.shape == (*tgt.shape, 7) and finite(logits)
    if src.ndim == 1:
        ids = outcome(lambda: model.greedy_decode(src, 10))
        assert ids is not None and len(ids) <= config.max_len - 1
