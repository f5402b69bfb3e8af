"""transformer_primer.check: the package's own functions pass, each classic mistake gets its diagnosis.

Every wrong implementation below makes one mistake on purpose; its test asserts that the
check raises AssertionError with a message fragment that names that mistake, and no two
mistakes get the same message.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from transformer_primer import attention, check, grad, kernels, masks, numerics, positional, tasks
from transformer_primer.layers import LayerNorm, Residual

Fn = Callable[..., Any]


# --- softmax ----------------------------------------------------------------------------------
def good_softmax(x: Any, axis: int = -1, *, shift: str = "row", zeros: bool = True, keep: bool = True) -> Any:
    x = np.asarray(x) if keep else np.asarray(x, dtype=np.float64)
    if shift == "row":
        m = np.max(x, axis=axis, keepdims=True)
        m = np.where(np.isneginf(m), 0.0, m).astype(x.dtype)
    elif shift == "global":
        m = np.max(x)
    else:
        m = np.zeros((), x.dtype)
    e = np.exp(x - m)
    total = np.sum(e, axis=axis, keepdims=True)
    if zeros:
        return np.divide(e, total, out=np.zeros_like(e), where=total > 0)
    return e / total


def softmax_axis0(x: Any, axis: int = -1) -> Any:
    e = np.exp(x)
    return e / e.sum(axis=0, keepdims=True)


def softmax_whole(x: Any, axis: int = -1) -> Any:
    return np.exp(x) / np.exp(x).sum()


def softmax_ignores_axis(x: Any, axis: int = -1) -> Any:
    return good_softmax(x)


# --- attention ---------------------------------------------------------------------------------
def attention_with(
    q: Any,
    k: Any,
    v: Any,
    mask: Any = None,
    *,
    scale: str = "sqrt",
    axis: int = -1,
    masking: str = "where",
    transpose: str = "swap",
    order: str = "out",
    zeros: bool = True,
) -> Any:
    kt = k.T if transpose == "T" else np.swapaxes(k, -1, -2)
    scores = q @ kt
    d_k = q.shape[-1]
    divisor = {"sqrt": math.sqrt(d_k), "none": 1.0, "d_k": d_k, "d_model": math.sqrt(32)}[scale]
    scores = scores / scores.dtype.type(divisor)
    if mask is not None:
        if masking == "where":
            scores = np.where(mask, scores, -np.inf)
        elif masking == "inverted":
            scores = np.where(mask, -np.inf, scores)
        elif masking == "multiply":
            scores = scores * mask
        elif masking == "-1e9":
            scores = np.where(mask, scores, -1e9)
        elif masking == "additive":
            scores = scores + (1.0 - mask.astype(scores.dtype)) * -1e9
    weights = good_softmax(scores, axis=axis, zeros=zeros)
    out = weights @ v
    if order == "weights":
        return weights, out
    if order == "out only":
        return out
    return out, weights


# --- heads ------------------------------------------------------------------------------------
def split_ok(x: Any, n_heads: int) -> Any:
    *lead, n, d_model = x.shape
    return np.swapaxes(x.reshape(*lead, n, n_heads, d_model // n_heads), -3, -2)


def split_batch_wrong(x: Any, n_heads: int) -> Any:
    return np.moveaxis(x.reshape(*x.shape[:-1], n_heads, -1), -2, 0)  # heads first, before the batch


def merge_batch_wrong(x: Any) -> Any:
    y = np.moveaxis(x, 0, -2)
    return y.reshape(*y.shape[:-2], -1)


# --- layer norm -------------------------------------------------------------------------------
def layer_norm_with(x: Any, gamma: Any, beta: Any, eps: float = 1e-5, *, mistake: str = "") -> Any:
    axis = 0 if mistake == "axis 0" else -1
    mean = x.mean(axis=axis, keepdims=True)
    var = x.var(axis=axis, ddof=1 if mistake == "ddof" else 0, keepdims=True)
    if mistake == "std + eps":
        x_hat = (x - mean) / (np.sqrt(var) + eps)
    elif mistake == "no eps":
        x_hat = (x - mean) / np.sqrt(var)
    else:
        x_hat = (x - mean) / np.sqrt(var + eps)
    if mistake == "no gamma":
        return x_hat + beta
    return x_hat * gamma + beta


# --- backward passes --------------------------------------------------------------------------
def softmax_backward_axis1(dweights: Any, weights: Any) -> Any:
    return weights * (dweights - np.sum(dweights * weights, axis=1, keepdims=True))


def attention_backward_with(dout: Any, q: Any, k: Any, v: Any, weights: Any, *, mistake: str = "") -> Any:
    scale = math.sqrt(q.shape[-1])
    dv = np.swapaxes(weights, -1, -2) @ dout
    if mistake == "dv scaled":
        dv = dv / scale
    dweights = dout @ np.swapaxes(v, -1, -2)
    if mistake == "no softmax backward":
        dscores = dweights / scale
    else:
        dscores = weights * (dweights - np.sum(dweights * weights, axis=-1, keepdims=True))
        if mistake != "no scale":
            dscores = dscores / scale
    return dscores @ k, np.swapaxes(dscores, -1, -2) @ q, dv


def embedding_backward_with(dout: Any, ids: Any, vocab_size: int, *, mistake: str = "") -> Any:
    d_model = dout.shape[-1]
    factor = 1.0 if mistake == "no factor" else math.sqrt(d_model)
    dweight = np.zeros((vocab_size, d_model))
    if mistake == "fancy +=":
        dweight[ids] += dout * factor
    elif mistake == "loop":
        for i, t in enumerate(ids):
            dweight[t] += dout[i] * factor
    else:
        np.add.at(dweight, ids.ravel(), dout.reshape(-1, d_model) * factor)
    return dweight


# --- positional encoding ----------------------------------------------------------------------
def positional_with(n_positions: int, d_model: int, *, mistake: str = "") -> Any:
    pos = np.arange(n_positions)[:, None]
    if mistake == "own frequency":
        angle = pos / 10000.0 ** (np.arange(d_model) / d_model)
        return np.where(np.arange(d_model) % 2 == 0, np.sin(angle), np.cos(angle))
    if mistake == "i over d":
        two_i = np.arange(0, d_model, 2) // 2
    else:
        two_i = np.arange(0, d_model, 2)
    width = d_model // 2 * 2 if mistake == "odd width" else d_model
    angle = pos / 10000.0 ** (two_i / width)
    if mistake == "halves":
        return np.concatenate([np.sin(angle), np.cos(angle)], axis=-1)
    first, second = (np.cos, np.sin) if mistake == "swapped" else (np.sin, np.cos)
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2] = first(angle)
    pe[:, 1::2] = second(angle[:, : d_model // 2])
    return pe


# --- teacher forcing --------------------------------------------------------------------------
def make_batch_with(vocab: Any, task: str, texts: list[str], *, mistake: str = "") -> Any:
    src, tgt_in, tgt_out = tasks.make_batch(vocab, task, texts)
    if mistake == "no shift":
        return src, tgt_out, tgt_out
    if mistake == "swapped":
        return src, tgt_out, tgt_in
    if mistake == "no eos":
        return src, tgt_in, np.where(tgt_out == vocab.eos_id, vocab.pad_id, tgt_out)
    if mistake == "source reversed":
        return vocab.encode_batch([t[::-1] for t in texts]), tgt_in, tgt_out
    if mistake == "pads with eos":
        return src, np.where(tgt_in == vocab.pad_id, vocab.eos_id, tgt_in), tgt_out
    return src, tgt_in, tgt_out


# --- cross-entropy ----------------------------------------------------------------------------
def cross_entropy_with(logits: Any, targets: Any, pad_id: int, *, mistake: str = "") -> Any:
    real = targets != pad_id
    count = int(real.sum())
    if mistake == "no shift":
        shifted = logits
    else:
        shifted = logits - logits.max(axis=-1, keepdims=True)
    if mistake == "log of softmax":
        p = np.exp(shifted) / np.exp(shifted).sum(axis=-1, keepdims=True)
        log_probs = np.log(p)
    else:
        log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]
    if mistake == "counts padding":
        loss = -float(picked.mean())
    elif mistake == "sum":
        loss = -float(picked[real].sum())
    else:
        loss = -float(picked[real].sum()) / count
    onehot = np.eye(logits.shape[-1])[targets]
    dlogits = (np.exp(log_probs) - onehot) / count
    if mistake != "gradient on padding":
        dlogits = np.where(real[..., None], dlogits, 0.0)
    if mistake == "gradient times N":
        dlogits = dlogits * count
    if mistake == "loss array":
        return np.array([loss]), dlogits, real
    return loss, dlogits, real


# --- tiled attention --------------------------------------------------------------------------
def tiled_with(q: Any, k: Any, v: Any, mask: Any = None, block_size: int = 128, *, mistake: str = "") -> Any:
    n_q, d_k = q.shape
    n_k = k.shape[0]
    scale = 1.0 if mistake == "no scale" else math.sqrt(d_k)
    m = np.full((n_q, 1), -np.inf)
    l_sum = np.zeros((n_q, 1))
    o = np.zeros((n_q, v.shape[-1]))
    stop = n_k - block_size + 1 if mistake == "drops last block" else n_k
    for start in range(0, stop, block_size):
        s = q @ k[start : start + block_size].T / scale
        if mask is not None and mistake != "ignores mask":
            s = np.where(mask[:, start : start + block_size], s, -np.inf)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        m_use = m_new if mistake == "nan rows" else np.where(np.isneginf(m_new), 0.0, m_new)
        rescale = 1.0 if mistake == "no rescale" else np.exp(m - m_use)
        p = np.exp(s - m_use)
        l_sum = rescale * l_sum + p.sum(axis=-1, keepdims=True)
        o = rescale * o + p @ v[start : start + block_size]
        m = m_new
    if mistake == "nan rows":
        return o / l_sum
    return np.divide(o, l_sum, out=np.zeros_like(o), where=l_sum > 0)


def raises(*args: Any, **kwargs: Any) -> Any:
    raise ValueError("operands could not be broadcast together")


# (check, wrong function, the fragment of its diagnosis)
MISTAKES: list[tuple[str, str, Fn, str]] = [
    ("softmax over axis 0", "softmax", softmax_axis0, "your softmax normalises over axis 0"),
    ("softmax over the whole array", "softmax", softmax_whole, "divides by the sum of the whole array"),
    ("softmax not normalised", "softmax", lambda x, axis=-1: np.exp(x), "does not normalise"),
    ("softmax ignores axis", "softmax", softmax_ignores_axis, "ignores its axis argument"),
    (
        "softmax without max shift",
        "softmax",
        functools.partial(good_softmax, shift="none"),
        "subtract the row maximum first",
    ),
    (
        "softmax shifted by the global max",
        "softmax",
        functools.partial(good_softmax, shift="global"),
        "each row's own maximum",
    ),
    (
        "softmax nan on an all -inf row",
        "softmax",
        functools.partial(good_softmax, zeros=False),
        "the row that is all -inf",
    ),
    (
        "softmax returns float64",
        "softmax",
        functools.partial(good_softmax, keep=False),
        "keep the dtype of the input",
    ),
    ("softmax raises", "softmax", raises, "your softmax raised ValueError"),
    (
        "softmax returns a list",
        "softmax",
        lambda x, axis=-1: good_softmax(x).tolist(),
        "return a numpy array",
    ),
    ("softmax wrong shape", "softmax", lambda x, axis=-1: good_softmax(x).ravel(), "returned shape (12,)"),
    (
        "causal mask transposed",
        "causal_mask",
        lambda n: np.triu(np.ones((n, n), dtype=bool)),
        "your mask lets query 0 see key 1: it is transposed",
    ),
    (
        "causal mask inverted",
        "causal_mask",
        lambda n: ~np.tril(np.ones((n, n), dtype=bool)),
        "your mask is inverted: it is True for the future",
    ),
    (
        "causal mask without the diagonal",
        "causal_mask",
        lambda n: np.tril(np.ones((n, n), dtype=bool), k=-1),
        "hides the diagonal",
    ),
    (
        "causal mask of numbers",
        "causal_mask",
        lambda n: np.tril(np.ones((n, n))),
        "e.g. np.tril(np.ones((n, n), dtype=bool))",
    ),
    (
        "padding mask transposed",
        "padding_mask",
        lambda lengths, n: (np.arange(n)[None, :] < np.asarray(lengths)[:, None])[:, :, None],
        "it masks queries, not keys",
    ),
    (
        "padding mask without the query axis",
        "padding_mask",
        lambda lengths, n: np.arange(n)[None, :] < np.asarray(lengths)[:, None],
        "add the query axis",
    ),
    (
        "padding mask inverted",
        "padding_mask",
        lambda lengths, n: ~masks.padding_mask(lengths, n),
        "True on the padding",
    ),
    (
        "padding mask off by one",
        "padding_mask",
        lambda lengths, n: (np.arange(n)[None, :] <= np.asarray(lengths)[:, None])[:, None, :],
        "the first padding token (off by one)",
    ),
    (
        "padding mask of numbers",
        "padding_mask",
        lambda lengths, n: masks.padding_mask(lengths, n).astype(int),
        "True = a real key",
    ),
    (
        "attention softmax over the queries",
        "scaled_dot_product_attention",
        functools.partial(attention_with, axis=-2),
        "sum to 1 over the queries",
    ),
    (
        "attention not scaled",
        "scaled_dot_product_attention",
        functools.partial(attention_with, scale="none"),
        "not divided by sqrt(d_k)",
    ),
    (
        "attention divided by d_k",
        "scaled_dot_product_attention",
        functools.partial(attention_with, scale="d_k"),
        "divided by d_k = 4",
    ),
    (
        "attention scaled by the model width",
        "scaled_dot_product_attention",
        functools.partial(attention_with, scale="d_model"),
        "sqrt(32), not by sqrt(d_k)",
    ),
    (
        "attention returns (weights, output)",
        "scaled_dot_product_attention",
        functools.partial(attention_with, order="weights"),
        "return (output, weights)",
    ),
    (
        "attention returns the output only",
        "scaled_dot_product_attention",
        functools.partial(attention_with, order="out only"),
        "return a tuple (output, weights)",
    ),
    (
        "attention uses k.T",
        "scaled_dot_product_attention",
        functools.partial(attention_with, transpose="T"),
        "k.T reverses every axis",
    ),
    (
        "attention multiplies by the mask",
        "scaled_dot_product_attention",
        functools.partial(attention_with, masking="multiply"),
        "not to 0 (multiplying",
    ),
    (
        "attention mask inverted",
        "scaled_dot_product_attention",
        functools.partial(attention_with, masking="inverted"),
        "hides the keys where the mask is True",
    ),
    (
        "attention -1e9 additive mask",
        "scaled_dot_product_attention",
        functools.partial(attention_with, masking="additive"),
        "-1e9 mask overflows in float16",
    ),
    (
        "attention nan for an all-masked query",
        "scaled_dot_product_attention",
        functools.partial(attention_with, zeros=False),
        "zero weights and a zero output (the package's",
    ),
    (
        "split_heads without the transpose",
        "split_heads",
        lambda x, n_heads: x.reshape(n_heads, x.shape[0], -1),
        "reshaped straight to (n_heads, n, d_k)",
    ),
    (
        "split_heads without the swap",
        "split_heads",
        lambda x, n_heads: x.reshape(x.shape[0], n_heads, -1),
        "swap the first two axes to get",
    ),
    (
        "split_heads interleaved",
        "split_heads",
        lambda x, n_heads: np.moveaxis(x.reshape(x.shape[0], -1, n_heads), -1, 0),
        "every other column",
    ),
    (
        "split_heads wrong on a batch",
        "split_heads",
        split_batch_wrong,
        "your split_heads is right for one sequence but not for a batch",
    ),
    (
        "merge_heads without the transpose",
        "merge_heads",
        lambda x: x.reshape(x.shape[1], -1),
        "your merge mixes tokens",
    ),
    (
        "merge_heads wrong on a batch",
        "merge_heads",
        merge_batch_wrong,
        "your merge_heads is right for one sequence but not for a batch",
    ),
    (
        "layer norm with ddof=1",
        "layer_norm",
        functools.partial(layer_norm_with, mistake="ddof"),
        "unbiased variance (ddof=1)",
    ),
    (
        "layer norm over axis 0",
        "layer_norm",
        functools.partial(layer_norm_with, mistake="axis 0"),
        "like batch norm",
    ),
    (
        "layer norm without gamma",
        "layer_norm",
        functools.partial(layer_norm_with, mistake="no gamma"),
        "ignores gamma or beta",
    ),
    (
        "layer norm without eps",
        "layer_norm",
        functools.partial(layer_norm_with, mistake="no eps"),
        "add eps to the variance before",
    ),
    (
        "layer norm with std + eps",
        "layer_norm",
        functools.partial(layer_norm_with, mistake="std + eps"),
        "add eps to the standard deviation",
    ),
    (
        "softmax backward without the sum",
        "softmax_backward",
        lambda dweights, weights: dweights * weights,
        "misses the term -p * sum(dp * p)",
    ),
    (
        "softmax backward summing over axis 0",
        "softmax_backward",
        lambda dw, w: w * (dw - np.sum(dw * w, axis=0, keepdims=True)),
        "inner sum runs over axis 0",
    ),
    (
        "softmax backward summing over axis 1",
        "softmax_backward",
        softmax_backward_axis1,
        "sum over the last axis only",
    ),
    (
        "attention backward without the scale",
        "attention_backward",
        functools.partial(attention_backward_with, mistake="no scale"),
        "sqrt(d_k) times too large",
    ),
    (
        "attention backward skipping the softmax",
        "attention_backward",
        functools.partial(attention_backward_with, mistake="no softmax backward"),
        "skip the softmax's backward",
    ),
    (
        "attention backward with dv scaled",
        "attention_backward",
        functools.partial(attention_backward_with, mistake="dv scaled"),
        "your dv differ from the reference",
    ),
    (
        "embedding backward with fancy +=",
        "embedding_backward",
        functools.partial(embedding_backward_with, mistake="fancy +="),
        "only one occurrence",
    ),
    (
        "embedding backward without sqrt(d_model)",
        "embedding_backward",
        functools.partial(embedding_backward_with, mistake="no factor"),
        "misses the factor sqrt(d_model)",
    ),
    (
        "embedding backward wrong on a batch",
        "embedding_backward",
        functools.partial(embedding_backward_with, mistake="loop"),
        "flatten the batch",
    ),
    (
        "positional encoding in halves",
        "sinusoidal_positional_encoding",
        functools.partial(positional_with, mistake="halves"),
        "sines first",
    ),
    (
        "positional encoding sin/cos swapped",
        "sinusoidal_positional_encoding",
        functools.partial(positional_with, mistake="swapped"),
        "cos on even",
    ),
    (
        "positional encoding own frequency",
        "sinusoidal_positional_encoding",
        functools.partial(positional_with, mistake="own frequency"),
        "its own frequency",
    ),
    (
        "positional encoding i/d",
        "sinusoidal_positional_encoding",
        functools.partial(positional_with, mistake="i over d"),
        "exponent is i/d_model",
    ),
    (
        "positional encoding odd width",
        "sinusoidal_positional_encoding",
        functools.partial(positional_with, mistake="odd width"),
        "an odd d_model",
    ),
    (
        "teacher forcing without the shift",
        "make_batch",
        functools.partial(make_batch_with, mistake="no shift"),
        "decoder input equals its target",
    ),
    (
        "teacher forcing swapped",
        "make_batch",
        functools.partial(make_batch_with, mistake="swapped"),
        "input and target are swapped",
    ),
    (
        "teacher forcing without <eos>",
        "make_batch",
        functools.partial(make_batch_with, mistake="no eos"),
        "has no <eos>",
    ),
    (
        "make_batch source reversed",
        "make_batch",
        functools.partial(make_batch_with, mistake="source reversed"),
        "your src_ids",
    ),
    (
        "make_batch pads with eos",
        "make_batch",
        functools.partial(make_batch_with, mistake="pads with eos"),
        "your decoder arrays differ",
    ),
    (
        "cross-entropy counts padding",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="counts padding"),
        "counts the padded positions",
    ),
    (
        "cross-entropy sum",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="sum"),
        "not their mean",
    ),
    (
        "cross-entropy gradient on padding",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="gradient on padding"),
        "not 0 at the padded",
    ),
    (
        "cross-entropy gradient times N",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="gradient times N"),
        "N = 4 times too large",
    ),
    (
        "cross-entropy without max shift",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="no shift"),
        "before exp (log-sum-exp)",
    ),
    (
        "cross-entropy log of softmax",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="log of softmax"),
        "use log_softmax",
    ),
    (
        "cross-entropy loss as array",
        "cross_entropy",
        functools.partial(cross_entropy_with, mistake="loss array"),
        "return one number",
    ),
    (
        "tiled attention without the scale",
        "tiled_attention",
        functools.partial(tiled_with, mistake="no scale"),
        "wrong even with one block",
    ),
    (
        "tiled attention without the rescale",
        "tiled_attention",
        functools.partial(tiled_with, mistake="no rescale"),
        "rescale the sums so far",
    ),
    (
        "tiled attention drops the last block",
        "tiled_attention",
        functools.partial(tiled_with, mistake="drops last block"),
        "last, shorter block",
    ),
    (
        "tiled attention ignores the mask",
        "tiled_attention",
        functools.partial(tiled_with, mistake="ignores mask"),
        "set the masked scores to -inf",
    ),
    (
        "tiled attention nan for an all-masked query",
        "tiled_attention",
        functools.partial(tiled_with, mistake="nan rows"),
        "treat a running maximum of -inf as 0",
    ),
]

MISTAKES += [
    (
        "softmax treats -inf as 0",
        "softmax",
        lambda x, axis=-1: good_softmax(np.where(np.isneginf(x), 0.0, x), axis),
        "a -inf score must get weight exactly 0",
    ),
    (
        "attention softmax over axis 1",
        "scaled_dot_product_attention",
        functools.partial(attention_with, axis=1),
        "your attention is right for one sequence but not for a batch",
    ),
    (
        "attention masks with -1e9",
        "scaled_dot_product_attention",
        functools.partial(attention_with, masking="-1e9"),
        ": such a query gets zero weights",
    ),
    (
        "post-norm text, pre-norm code",
        "residual",
        lambda x, f, norm, norm_first: x + f(norm(x)),
        "which is pre-norm",
    ),
    (
        "pre-norm text, post-norm code",
        "residual",
        lambda x, f, norm, norm_first: norm(x + f(x)),
        "which is post-norm",
    ),
    ("residual dropped", "residual", lambda x, f, norm, norm_first: norm(f(x)), "drops the residual"),
]

REFERENCES: dict[str, Fn] = {
    "softmax": numerics.softmax,
    "causal_mask": masks.causal_mask,
    "padding_mask": masks.padding_mask,
    "scaled_dot_product_attention": kernels.scaled_dot_product_attention,
    "split_heads": attention.split_heads,
    "merge_heads": attention.merge_heads,
    "layer_norm": lambda x, gamma, beta, eps=1e-5: _layer_norm(x, gamma, beta, eps),
    "softmax_backward": grad.softmax_backward,
    "attention_backward": grad.attention_backward,
    "embedding_backward": grad.embedding_backward,
    "sinusoidal_positional_encoding": positional.sinusoidal_positional_encoding,
    "make_batch": tasks.make_batch,
    "cross_entropy": grad.cross_entropy,
    "tiled_attention": kernels.tiled_attention,
    "residual": lambda x, sublayer, norm, norm_first: Residual(LayerNorm(x.shape[-1]), norm_first)(
        x, sublayer, {}
    ),
}


def _layer_norm(x: Any, gamma: Any, beta: Any, eps: float) -> Any:
    norm = LayerNorm(x.shape[-1], eps=eps)
    norm.gamma, norm.beta = gamma, beta
    return norm(x)


# Learner-style versions written from scratch (as on the pages): they must pass too.
LEARNER: dict[str, Fn] = {
    "softmax": good_softmax,
    "scaled_dot_product_attention": attention_with,
    "split_heads": split_ok,
    "layer_norm": layer_norm_with,
    "attention_backward": attention_backward_with,
    "embedding_backward": embedding_backward_with,
    "sinusoidal_positional_encoding": positional_with,
    "cross_entropy": cross_entropy_with,
    "tiled_attention": tiled_with,
}


def test_every_check_is_tested_and_there_are_at_least_12() -> None:
    assert sorted(check.__all__) == sorted(REFERENCES)
    assert len(check.__all__) >= 12
    assert {name for _, name, _, _ in MISTAKES} == set(check.__all__)


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_the_package_passes_its_own_check(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    getattr(check, name)(REFERENCES[name])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith(f"check.{name} passed: "), out
    assert len(out) <= 101, f"{len(out) - 1} characters: too wide for a trace on the page"


@pytest.mark.parametrize("name", sorted(LEARNER))
def test_a_learner_version_written_from_scratch_passes(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    getattr(check, name)(LEARNER[name])
    assert capsys.readouterr().out.startswith(f"check.{name} passed: ")


@pytest.mark.parametrize(("mistake", "name", "fn", "fragment"), MISTAKES, ids=[m[0] for m in MISTAKES])
def test_each_mistake_gets_its_diagnosis(
    mistake: str, name: str, fn: Fn, fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(AssertionError) as info:
        getattr(check, name)(fn)
    message = str(info.value)
    assert fragment in message, f"{mistake}: {message}"
    assert "\n" not in message and len(message) < 400, message  # one or two sentences
    assert capsys.readouterr().out == ""  # no pass line on a failure


def _diagnosis(name: str, fn: Fn) -> str:
    try:
        getattr(check, name)(fn)
    except AssertionError as exc:
        return str(exc)
    raise AssertionError(f"check.{name} passed a wrong function")


def test_no_two_mistakes_get_the_same_message() -> None:
    messages = [_diagnosis(name, fn) for _, name, fn, _ in MISTAKES]
    assert len(set(messages)) == len(messages)
    for mistake, _, _, fragment in MISTAKES:  # a fragment names one mistake only
        others = [m for (other, *_), m in zip(MISTAKES, messages, strict=True) if other != mistake]
        assert not any(fragment in m for m in others), (
            f"{mistake}: fragment {fragment!r} also matches another"
        )


def test_a_function_that_raises_is_diagnosed_not_propagated() -> None:
    with pytest.raises(
        AssertionError, match="your attention raised ValueError when called as attention"
    ) as info:
        check.scaled_dot_product_attention(raises)
    assert isinstance(info.value.__cause__, ValueError)  # the learner's own traceback stays reachable


@pytest.mark.parametrize("name", sorted(REFERENCES))
@pytest.mark.parametrize("bad", [None, 3, "softmax", np.ones(2)])
def test_a_check_refuses_what_is_not_a_function(name: str, bad: object) -> None:
    with pytest.raises(TypeError, match=f"fn must be your function .* as in check.{name}"):
        getattr(check, name)(bad)
