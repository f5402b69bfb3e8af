"""Gradient checks: every hand-written backward pass against central differences (float64).

Each check builds a scalar loss ``sum(R * output)`` with a fixed random ``R`` (so every
output entry matters, with its own weight), computes the gradient of each input and weight
with the code in transformer_primer.grad, and compares it with
``(loss(x + eps) - loss(x - eps)) / (2 eps)`` entry by entry. Relative error must be < 1e-6.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from transformer_primer import grad
from transformer_primer.attention import MultiHeadAttention, scaled_dot_product_attention
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.layers import DecoderLayer, EncoderLayer, FeedForward, LayerNorm
from transformer_primer.masks import causal_mask, padding_mask
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.numerics import softmax

TOL = 1e-6
# The key bias b_k adds q . b_k to every score of a query's row; the softmax ignores a
# shift of the whole row, so its true gradient is exactly 0. Both sides must then be ~0
# (a relative error of two round-off noises means nothing).
ZERO = 1e-9


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def check(loss: Callable[[], float], arrays: dict[str, np.ndarray], analytic: dict[str, np.ndarray]) -> dict:
    """Compare analytic gradients with central differences; return the errors by name."""
    errors = {}
    for name, x in arrays.items():
        assert x.dtype == np.float64
        numeric = grad.numerical_gradient(loss, x)
        if name.endswith("b_k"):
            assert np.linalg.norm(analytic[name]) < ZERO and np.linalg.norm(numeric) < ZERO, name
            errors[name] = 0.0
            continue
        assert np.linalg.norm(numeric) > 1e-6, f"{name}: the check would be vacuous, the gradient is ~0"
        errors[name] = grad.relative_error(analytic[name], numeric)
    bad = {name: e for name, e in errors.items() if not e < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"
    return errors


def test_linear() -> None:
    x, w, b = rng().normal(size=(2, 3, 4)), rng(1).normal(size=(4, 5)), rng(2).normal(size=5)
    r = rng(3).normal(size=(2, 3, 5))
    dx, dw, db = grad.linear_backward(r, x, w)
    check(lambda: float(np.sum(r * (x @ w + b))), {"x": x, "w": w, "b": b}, {"x": dx, "w": dw, "b": db})


def test_embedding_and_positional_encoding() -> None:
    model = Transformer(TransformerConfig(vocab_size=7, d_model=6, n_heads=2, max_len=5), rng())
    ids = np.array([[3, 4, 3, 0], [6, 6, 1, 2]])  # repeated ids: their gradients add up
    r = rng(1).normal(size=(2, 4, 6))
    analytic = grad.embedding_backward(r, ids, 7)  # the positional table is fixed: passes through
    check(
        lambda: float(np.sum(r * model.embed(ids))), {"weight": model.embedding.weight}, {"weight": analytic}
    )


def test_softmax_with_masked_entries() -> None:
    scores = rng().normal(size=(3, 5))
    scores[0, 1] = scores[2, 4] = -np.inf  # masked: weight 0, gradient 0
    r = rng(1).normal(size=(3, 5))
    weights = softmax(scores)
    analytic = grad.softmax_backward(r, weights)
    assert analytic[0, 1] == 0.0 and analytic[2, 4] == 0.0
    finite = np.where(np.isfinite(scores), scores, 0.0)
    shift = np.where(np.isfinite(scores), 0.0, -np.inf)
    check(lambda: float(np.sum(r * softmax(finite + shift))), {"scores": finite}, {"scores": analytic})


def test_attention_with_mask() -> None:
    q, k, v = rng().normal(size=(2, 3, 4)), rng(1).normal(size=(2, 5, 4)), rng(2).normal(size=(2, 5, 3))
    mask = padding_mask([5, 3], 5) & np.ones((1, 3, 1), dtype=bool)  # (2, 3, 5): second sequence padded
    r = rng(3).normal(size=(2, 3, 3))
    out, weights = scaled_dot_product_attention(q, k, v, mask)
    dq, dk, dv = grad.attention_backward(r, q, k, v, weights)
    assert not dk[1, 3:].any() and not dv[1, 3:].any()  # nothing flows to padded keys
    check(
        lambda: float(np.sum(r * scaled_dot_product_attention(q, k, v, mask)[0])),
        {"q": q, "k": k, "v": v},
        {"q": dq, "k": dk, "v": dv},
    )


@pytest.mark.parametrize("kind", ["self", "cross"])
def test_multi_head_attention(kind: str) -> None:
    mha = MultiHeadAttention(d_model=6, n_heads=2, rng=rng())
    for name, p in mha.parameters().items():
        if name.startswith("b_"):
            p[...] = rng(len(name)).normal(size=p.shape)  # biases start at 0: test nonzero ones
    x = rng(1).normal(size=(2, 4, 6))
    memory = rng(2).normal(size=(2, 3, 6))
    if kind == "self":
        mask = padding_mask([4, 2], 4)  # (2, 1, 4)
        key = value = query = x
    else:
        mask = padding_mask([3, 2], 3)  # (2, 1, 3)
        query, key, value = x, memory, memory
    r = rng(3).normal(size=(2, 4, 6))
    cache: dict = {}
    mha(query, key, value, mask, cache=cache)
    dquery, dkey, dvalue, grads = grad.mha_backward(mha, r, cache)
    if kind == "self":
        arrays, analytic = {"x": x}, {"x": dquery + dkey + dvalue}
    else:
        arrays, analytic = {"query": x, "memory": memory}, {"query": dquery, "memory": dkey + dvalue}
    arrays.update(mha.parameters())
    analytic.update(grads)
    check(lambda: float(np.sum(r * mha(query, key, value, mask)[0])), arrays, analytic)


def test_layer_norm() -> None:
    norm = LayerNorm(6)
    norm.gamma[...] = rng(1).normal(size=6)
    norm.beta[...] = rng(2).normal(size=6)
    x, r = rng(3).normal(size=(2, 3, 6)), rng(4).normal(size=(2, 3, 6))
    cache: dict = {}
    norm(x, cache=cache)
    dx, grads = grad.layer_norm_backward(norm, r, cache)
    check(lambda: float(np.sum(r * norm(x))), {"x": x, **norm.parameters()}, {"x": dx, **grads})


def test_feed_forward() -> None:
    ff = FeedForward(d_model=4, d_ff=7, rng=rng())
    ff.b_1[...] = rng(1).normal(size=7) * 0.1
    x, r = rng(2).normal(size=(2, 3, 4)), rng(3).normal(size=(2, 3, 4))
    cache: dict = {}
    ff(x, cache=cache)
    dx, grads = grad.feed_forward_backward(ff, r, cache)
    check(lambda: float(np.sum(r * ff(x))), {"x": x, **ff.parameters()}, {"x": dx, **grads})


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_encoder_layer_with_residuals(norm_first: bool) -> None:
    layer = EncoderLayer(d_model=4, n_heads=2, d_ff=6, rng=rng(), norm_first=norm_first)
    x, r = rng(1).normal(size=(2, 3, 4)), rng(2).normal(size=(2, 3, 4))
    mask = padding_mask([3, 2], 3)
    cache: dict = {}
    layer(x, mask, cache=cache)
    dx, grads = grad.encoder_layer_backward(layer, r, cache)
    check(lambda: float(np.sum(r * layer(x, mask))), {"x": x, **layer.parameters()}, {"x": dx, **grads})


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
def test_decoder_layer_with_cross_attention(norm_first: bool) -> None:
    layer = DecoderLayer(d_model=4, n_heads=2, d_ff=6, rng=rng(), norm_first=norm_first)
    y, memory = rng(1).normal(size=(2, 3, 4)), rng(2).normal(size=(2, 4, 4))
    r = rng(3).normal(size=(2, 3, 4))
    self_mask, memory_mask = causal_mask(3), padding_mask([4, 2], 4)
    cache: dict = {}
    layer(y, memory, self_mask, memory_mask, cache=cache)
    dy, dmemory, grads = grad.decoder_layer_backward(layer, r, cache)
    assert not dmemory[1, 2:].any()  # padded source positions get no gradient
    check(
        lambda: float(np.sum(r * layer(y, memory, self_mask, memory_mask))),
        {"y": y, "memory": memory, **layer.parameters()},
        {"y": dy, "memory": dmemory, **grads},
    )


def test_cross_entropy_ignores_padding() -> None:
    logits = rng().normal(size=(2, 4, 5))
    targets = np.array([[3, 4, 2, 0], [1, 2, 0, 0]])  # 0 = padding
    loss, dlogits, real = grad.cross_entropy(logits, targets, pad_id=0)
    assert real.sum() == 5 and not dlogits[1, 2:].any()
    check(lambda: grad.cross_entropy(logits, targets, 0)[0], {"logits": logits}, {"logits": dlogits})
    with pytest.raises(ValueError, match="not padding"):
        grad.cross_entropy(logits, np.zeros((2, 4), dtype=int), pad_id=0)


@pytest.mark.parametrize(
    ("norm_first", "n_layers"), [(False, 1), (True, 2)], ids=["post-norm-1-layer", "pre-norm-2-layers"]
)
def test_whole_model_on_a_padded_batch(norm_first: bool, n_layers: int) -> None:
    config = TransformerConfig(
        vocab_size=7, d_model=4, n_heads=2, d_ff=4, n_layers=n_layers, max_len=6, norm_first=norm_first
    )
    model = Transformer(config, rng())
    if norm_first:  # the final norms: not the initial ones, so that every term counts
        for i, norm in enumerate((model.encoder_norm, model.decoder_norm)):
            assert norm is not None
            norm.gamma[...] = rng(10 + i).normal(size=4)
            norm.beta[...] = rng(20 + i).normal(size=4)
    else:
        assert model.encoder_norm is None and model.decoder_norm is None  # post-norm ends in a norm
    src = np.array([[3, 4, 5, 0], [6, 3, 4, 5]])
    tgt_in = np.array([[1, 5, 4, 3, 0], [1, 5, 4, 3, 6]])
    tgt_out = np.array([[5, 4, 3, 2, 0], [5, 4, 3, 6, 2]])
    loss, grads, counts = grad.loss_and_grads(model, src, tgt_in, tgt_out)
    assert counts["tokens"] == 9
    assert sorted(grads) == sorted(model.parameters())
    assert ("encoder_norm.gamma" in grads) == ("decoder_norm.beta" in grads) == norm_first
    check(lambda: grad.model_loss(model, src, tgt_in, tgt_out), model.parameters(), grads)


def test_the_check_catches_a_skipped_final_norm_backward() -> None:
    # A pre-norm model whose backward forgets the final norms (forward with them, backward
    # as if they were not there): the whole-model check must fail on the weights below them.
    config = TransformerConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=4, max_len=6, norm_first=True)
    model = Transformer(config, rng())
    src, tgt_in, tgt_out = np.array([[3, 4, 5]]), np.array([[1, 5, 4, 3]]), np.array([[5, 4, 3, 2]])
    enc: dict = {}
    dec: dict = {}
    logits = model.decode(tgt_in, model.encode(src, cache=enc), cache=dec)
    dlogits = grad.cross_entropy(logits, tgt_out, config.pad_id)[1]
    right = grad.model_backward(model, dlogits, enc, dec)
    encoder_norm, decoder_norm = model.encoder_norm, model.decoder_norm
    model.encoder_norm = model.decoder_norm = None  # the backward skips both final norms
    skipped = grad.model_backward(model, dlogits, enc, dec)
    model.encoder_norm, model.decoder_norm = encoder_norm, decoder_norm
    for name in ("decoder.0.feed_forward.w_2", "encoder.0.feed_forward.w_2"):
        weight = model.parameters()[name]
        numeric = grad.numerical_gradient(lambda: grad.model_loss(model, src, tgt_in, tgt_out), weight)
        assert grad.relative_error(right[name], numeric) < TOL
        assert grad.relative_error(skipped[name], numeric) > 1e-2, name


def test_the_check_catches_a_wrong_gradient() -> None:
    # Layer norm's backward without the term that comes from the variance: a plausible bug.
    norm = LayerNorm(5)
    x, r = rng(1).normal(size=(3, 5)), rng(2).normal(size=(3, 5))
    cache: dict = {}
    norm(x, cache=cache)
    g = r * norm.gamma
    wrong = cache["inv_std"] * (g - g.mean(axis=-1, keepdims=True))  # "- x_hat * mean(g x_hat)" dropped
    numeric = grad.numerical_gradient(lambda: float(np.sum(r * norm(x))), x)
    assert grad.relative_error(wrong, numeric) > 1e-2
    right, _ = grad.layer_norm_backward(norm, r, cache)
    assert grad.relative_error(right, numeric) < TOL


@pytest.mark.parametrize("n_layers", [1, 2])
def test_gpt_on_a_padded_batch(n_layers: int) -> None:
    gpt = GPT(GPTConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=6, n_layers=n_layers, max_len=6), rng())
    gpt.final_norm.gamma[...] = rng(1).normal(size=4)  # not the initial ones: every term counts
    gpt.final_norm.beta[...] = rng(2).normal(size=4)
    ids = np.array([[1, 5, 4, 3, 2, 0], [1, 6, 3, 4, 5, 2]])  # the first sequence ends early: padding
    targets = np.array([[0, 4, 3, 2, 0, 0], [0, 3, 4, 5, 2, 0]])  # pad_id: nothing learned there
    loss, grads, counts = grad.gpt_loss_and_grads(gpt, ids, targets)
    assert counts["tokens"] == 7
    assert sorted(grads) == sorted(gpt.parameters())
    errors = check(lambda: grad.gpt_loss(gpt, ids, targets), gpt.parameters(), grads)
    print(f"GPT, {n_layers} layer(s): worst relative error {max(errors.values()):.1e}")
