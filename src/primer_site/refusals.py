"""What the package refuses, and why: the table the tests run and the reliability page shows.

Each row is one wrong call, the exception it must raise, and fragments its message must
contain (the parameter's name, what was expected and what was given). The test suite runs
every row and checks that the error comes from ``transformer_primer`` itself, never from deep
inside numpy (``tests/unit/test_bad_inputs.py``); the site's reliability page runs them again
at build time and shows the message each one gets (``render``), so the page cannot drift
from the code. The policy for unusual arrays is the docstring of ``transformer_primer._checks``.
"""

from __future__ import annotations

import html
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from transformer_primer import _checks, check
from transformer_primer.attention import (
    MultiHeadAttention,
    merge_heads,
    reference_attention,
    scaled_dot_product_attention,
    split_heads,
    tiled_attention,
)
from transformer_primer.bpe import BytePairEncoder, train_bpe
from transformer_primer.completer import pretrained
from transformer_primer.decoding import beam_search, greedy, sample, top_k_filter, top_p_filter
from transformer_primer.fast import flash_attention
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.grad import gpt_loss_and_grads
from transformer_primer.kv_cache import EncoderDecoderKVCache, GPTKVCache
from transformer_primer.layers import DecoderLayer, Embedding, EncoderLayer, FeedForward, LayerNorm
from transformer_primer.masks import causal_mask, padding_mask
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.numerics import softmax
from transformer_primer.positional import (
    alibi_bias,
    alibi_slopes,
    rotary_embedding,
    sinusoidal_positional_encoding,
)
from transformer_primer.regularization import (
    Dropout,
    dropout,
    dropout_backward,
    label_smoothed_cross_entropy,
    paper_learning_rate,
)
from transformer_primer.rnn import ElmanRNN
from transformer_primer.tasks import addition_answer
from transformer_primer.trace import fmt, show, step
from transformer_primer.train import GPTTrainConfig


@dataclass(frozen=True)
class Case:
    """One wrong call: ``name`` is "where: what is wrong"."""

    name: str
    call: Callable[[], object]
    error: type[Exception]
    says: tuple[str, ...]  # every fragment must appear in the message


def rng() -> np.random.Generator:
    """A fresh generator with seed 0, so every case draws the same numbers."""
    return np.random.default_rng(0)


MHA = MultiHeadAttention(4, 2, rng())
ENC = EncoderLayer(4, 2, 8, rng())
DEC = DecoderLayer(4, 2, 8, rng())
CONFIG = TransformerConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8, max_len=5)
MODEL = Transformer(CONFIG, rng())
MEMORY = MODEL.encode(np.array([3, 4, 5]))  # (3, 4)
X = np.ones((3, 4))  # (n, d_model)
BPE = train_bpe("abc", 1)  # one merge: ids 0..256
GPT_MODEL = GPT(GPTConfig(vocab_size=6, d_model=4, n_heads=2, d_ff=8, max_len=5), rng())
Q = np.ones((2, 3))  # (n, d_k)
FF = FeedForward(4, 8, rng())
LN = LayerNorm(4)
MASKED = np.ma.masked_array(np.ones((2, 3)), mask=[[0, 1, 0], [0, 0, 0]])  # (n, d_k), one entry masked
LONG = np.ones((2, 3), dtype=np.longdouble)


def two_tokens(prefix: tuple[int, ...]) -> np.ndarray:
    """A model that gives two tokens probability 1/2 each, whatever the prefix."""
    return np.log(np.array([0.5, 0.5]))


def full_gpt_state() -> object:
    """Step a GPT cache past its max_len (5): the sixth step is refused."""
    cache = GPTKVCache(GPT_MODEL)
    state = cache.start()
    for _ in range(6):
        state = cache.step(state, 3)
    return state


def matrix() -> np.ndarray:
    """A np.matrix (numpy warns that the class is deprecated when one is made)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        return np.matrix([[1.0, 2.0]])


CASES = [
    # --- softmax -------------------------------------------------------------------------
    Case(
        "softmax: integer array",
        lambda: softmax(np.array([1, 2])),
        TypeError,
        ("x must be a floating-point", "int64"),
    ),
    Case(
        "softmax: object array",
        lambda: softmax(np.array([1.0, None])),
        TypeError,
        ("x must be a floating-point", "object"),
    ),
    Case(
        "softmax: complex",
        lambda: softmax(np.array([1j])),
        TypeError,
        ("x must be a floating-point", "complex128"),
    ),
    Case(
        "softmax: boolean", lambda: softmax([True, False]), TypeError, ("x must be a floating-point", "bool")
    ),
    Case(
        "softmax: NaN", lambda: softmax(np.array([0.0, np.nan])), ValueError, ("x contains NaN", "shape (2,)")
    ),
    Case(
        "softmax: +inf",
        lambda: softmax(np.array([0.0, np.inf])),
        ValueError,
        ("x contains NaN or +inf", "-inf"),
    ),
    Case(
        "softmax: scalar",
        lambda: softmax(np.float64(1.0)),
        ValueError,
        ("x must have at least 1 dimension", "(..., n)", "got shape ()"),
    ),
    Case(
        "softmax: empty",
        lambda: softmax(np.zeros((2, 0))),
        ValueError,
        ("x must not be empty", "got shape (2, 0)"),
    ),
    Case(
        "softmax: ragged list",
        lambda: softmax([[1.0], [1.0, 2.0]]),
        ValueError,
        ("x must be a rectangular array",),
    ),
    Case(
        "softmax: axis out of range",
        lambda: softmax(np.ones(3), axis=1),
        ValueError,
        ("axis must be in [-1, 0]", "shape (3,)", "got 1"),
    ),
    Case(
        "softmax: axis not an int",
        lambda: softmax(np.ones(3), axis=0.5),
        TypeError,
        ("axis must be an integer", "float 0.5"),
    ),
    # --- scaled_dot_product_attention ----------------------------------------------------
    Case(
        "sdpa: q one-dimensional",
        lambda: scaled_dot_product_attention(np.ones(3), Q, Q),
        ValueError,
        ("q must have at least 2 dimension", "(..., n_q, d_k)", "got shape (3,)"),
    ),
    Case(
        "sdpa: d_k mismatch",
        lambda: scaled_dot_product_attention(Q, np.ones((2, 4)), np.ones((2, 4))),
        ValueError,
        ("same last axis d_k", "q has shape (2, 3)", "k has shape (2, 4)"),
    ),
    Case(
        "sdpa: n_k mismatch",
        lambda: scaled_dot_product_attention(Q, Q, np.ones((4, 3))),
        ValueError,
        ("same number of positions n_k", "k has shape (2, 3)", "v has shape (4, 3)"),
    ),
    Case(
        "sdpa: batch mismatch",
        lambda: scaled_dot_product_attention(np.ones((2, 2, 3)), np.ones((3, 2, 3)), np.ones((3, 2, 3))),
        ValueError,
        ("leading (batch/head) axes", "q (2,)", "k (3,)"),
    ),
    Case(
        "sdpa: integer q",
        lambda: scaled_dot_product_attention(np.ones((2, 3), dtype=int), Q, Q),
        TypeError,
        ("q must be a floating-point array", "int64"),
    ),
    Case(
        "sdpa: mixed dtypes",
        lambda: scaled_dot_product_attention(Q.astype(np.float32), Q, Q),
        TypeError,
        ("share one dtype", "float32, float64 and float64"),
    ),
    Case(
        "sdpa: NaN in k",
        lambda: scaled_dot_product_attention(Q, np.full((2, 3), np.nan), Q),
        ValueError,
        ("k contains NaN or infinity", "shape (2, 3)"),
    ),
    Case(
        "sdpa: inf in v",
        lambda: scaled_dot_product_attention(Q, Q, np.full((2, 3), -np.inf)),
        ValueError,
        ("v contains NaN or infinity",),
    ),
    Case(
        "sdpa: empty sequence",
        lambda: scaled_dot_product_attention(Q, np.ones((0, 3)), np.ones((0, 3))),
        ValueError,
        ("k must not be empty", "got shape (0, 3)"),
    ),
    Case(
        "sdpa: scores would overflow",
        lambda: scaled_dot_product_attention(Q * 1e200, Q * 1e200, Q),
        ValueError,
        ("q and k are too large for float64", "max |q| = 1e+200", "d_k = 3"),
    ),
    Case(
        "sdpa: mask of integers",
        lambda: scaled_dot_product_attention(Q, Q, Q, np.ones((2, 2), dtype=int)),
        TypeError,
        ("mask must be a boolean array", "got dtype int64"),
    ),
    Case(
        "sdpa: mask of wrong shape",
        lambda: scaled_dot_product_attention(Q, Q, Q, np.ones((3, 2), dtype=bool)),
        ValueError,
        ("mask must broadcast to (..., n_q, n_k) = (2, 2)", "got shape (3, 2)"),
    ),
    Case(
        "sdpa: mask that enlarges the scores",
        lambda: scaled_dot_product_attention(Q, Q, Q, np.ones((5, 2, 2), dtype=bool)),
        ValueError,
        ("without enlarging it", "(2, 2)", "got shape (5, 2, 2)"),
    ),
    Case(
        "sdpa: ragged mask",
        lambda: scaled_dot_product_attention(Q, Q, Q, [[True], [True, False]]),
        ValueError,
        ("mask must be a rectangular boolean array", "(..., n_q, n_k)"),
    ),
    # --- heads ---------------------------------------------------------------------------
    Case(
        "split_heads: n_heads does not divide d_model",
        lambda: split_heads(X, 3),
        ValueError,
        ("n_heads must divide d_model", "n_heads=3", "shape (3, 4)"),
    ),
    Case(
        "split_heads: zero heads",
        lambda: split_heads(X, 0),
        ValueError,
        ("n_heads must be an integer >= 1", "got 0"),
    ),
    Case(
        "split_heads: one dimension",
        lambda: split_heads(np.ones(4), 2),
        ValueError,
        ("(..., n, d_model)", "got shape (4,)"),
    ),
    Case(
        "merge_heads: two dimensions",
        lambda: merge_heads(X),
        ValueError,
        ("(..., n_heads, n, d_k)", "got shape (3, 4)"),
    ),
    # --- MultiHeadAttention --------------------------------------------------------------
    Case(
        "MHA: d_model not divisible by n_heads",
        lambda: MultiHeadAttention(6, 4, rng()),
        ValueError,
        ("d_model must be divisible by n_heads", "d_model=6", "n_heads=4"),
    ),
    Case(
        "MHA: zero heads",
        lambda: MultiHeadAttention(4, 0, rng()),
        ValueError,
        ("n_heads must be an integer >= 1", "got 0"),
    ),
    Case(
        "MHA: negative d_model",
        lambda: MultiHeadAttention(-4, 2, rng()),
        ValueError,
        ("d_model must be an integer >= 1", "got -4"),
    ),
    Case(
        "MHA: float d_model",
        lambda: MultiHeadAttention(4.0, 2, rng()),
        TypeError,
        ("d_model must be an integer", "float 4.0"),
    ),
    Case(
        "MHA: seed instead of a Generator",
        lambda: MultiHeadAttention(4, 2, 0),
        TypeError,
        ("rng must be a numpy.random.Generator", "int 0"),
    ),
    Case(
        "MHA: integer dtype",
        lambda: MultiHeadAttention(4, 2, rng(), dtype=np.int64),
        TypeError,
        ("dtype must be a floating-point dtype", "int64"),
    ),
    Case(
        "MHA: unknown dtype",
        lambda: MultiHeadAttention(4, 2, rng(), dtype="foo"),
        TypeError,
        ("dtype must be a floating-point dtype", "'foo'"),
    ),
    Case(
        "MHA: wrong d_model",
        lambda: MHA(np.ones((3, 5)), X, X),
        ValueError,
        ("query must have last axis d_model = 4", "got shape (3, 5)"),
    ),
    Case(
        "MHA: four dimensions",
        lambda: MHA(np.ones((1, 1, 3, 4)), X, X),
        ValueError,
        ("query must have 2 or 3 dimensions", "(batch, n, d_model)", "got shape (1, 1, 3, 4)"),
    ),
    Case(
        "MHA: key and value lengths differ",
        lambda: MHA(X, X, np.ones((2, 4))),
        ValueError,
        ("key and value must have the same shape", "(3, 4) and (2, 4)"),
    ),
    Case(
        "MHA: batch layouts differ",
        lambda: MHA(np.ones((2, 3, 4)), np.ones((3, 3, 4)), np.ones((3, 3, 4))),
        ValueError,
        ("same batch layout", "(2, 3, 4) and (3, 3, 4)"),
    ),
    Case(
        "MHA: float32 input, float64 weights",
        lambda: MHA(X.astype(np.float32), X, X),
        TypeError,
        ("query has dtype float32 but the weights are float64",),
    ),
    Case(
        "MHA: empty query",
        lambda: MHA(np.ones((0, 4)), X, X),
        ValueError,
        ("query must not be empty", "got shape (0, 4)"),
    ),
    Case(
        "MHA: batched mask for unbatched input",
        lambda: MHA(X, X, X, np.ones((2, 3, 3), dtype=bool)),
        ValueError,
        ("mask must broadcast to (..., n_q, n_k) = (3, 3)", "got shape (2, 3, 3)"),
    ),
    # --- layers --------------------------------------------------------------------------
    Case(
        "LayerNorm: wrong width",
        lambda: LayerNorm(4)(np.ones((2, 3))),
        ValueError,
        ("x must have last axis d_model = 4", "got shape (2, 3)"),
    ),
    Case(
        "LayerNorm: eps zero",
        lambda: LayerNorm(4, eps=0.0),
        ValueError,
        ("eps must be a finite number > 0", "got 0.0"),
    ),
    Case(
        "LayerNorm: eps a string",
        lambda: LayerNorm(4, eps="1e-5"),
        TypeError,
        ("eps must be a positive number", "str '1e-5'"),
    ),
    Case(
        "LayerNorm: variance would overflow",
        lambda: LayerNorm(4)(np.array([[1e300, -1e300, 0.0, 1.0]])),
        ValueError,
        ("x is too large", "1e+300", "variance"),
    ),
    Case(
        "LayerNorm: zero width",
        lambda: LayerNorm(0),
        ValueError,
        ("d_model must be an integer >= 1", "got 0"),
    ),
    Case(
        "FeedForward: zero d_ff",
        lambda: FeedForward(4, 0, rng()),
        ValueError,
        ("d_ff must be an integer >= 1", "got 0"),
    ),
    Case(
        "FeedForward: integer input",
        lambda: FeedForward(4, 8, rng())(np.ones((2, 4), dtype=np.int32)),
        TypeError,
        ("x must be a floating-point array", "int32"),
    ),
    Case(
        "FeedForward: products would overflow",
        lambda: FeedForward(4, 8, rng())(np.full((2, 4), 1.7e308)),
        ValueError,
        ("x is too large for float64", "1.7e+308", "x @ w_1 + b_1"),
    ),
    Case(
        "MHA: projection would overflow",
        lambda: MHA(np.full((3, 4), 1e308), X, X),
        ValueError,
        ("query is too large for float64", "query @ w_q + b_q"),
    ),
    Case(
        "FeedForward: NaN input",
        lambda: FeedForward(4, 8, rng())(np.full((2, 4), np.nan)),
        ValueError,
        ("x contains NaN or infinity",),
    ),
    Case(
        "Embedding: id out of range",
        lambda: Embedding(5, 4, rng())(np.array([0, 5])),
        ValueError,
        ("ids must be in 0..4", "vocab_size = 5", "from 0 to 5"),
    ),
    Case(
        "Embedding: negative id",
        lambda: Embedding(5, 4, rng())(np.array([-1])),
        ValueError,
        ("ids must be in 0..4", "from -1"),
    ),
    Case(
        "Embedding: float ids",
        lambda: Embedding(5, 4, rng())(np.array([1.0])),
        TypeError,
        ("ids must be integer token ids", "dtype float64"),
    ),
    Case(
        "EncoderLayer: norm_first a string",
        lambda: EncoderLayer(4, 2, 8, rng(), norm_first="no"),
        TypeError,
        ("norm_first must be True or False", "str 'no'"),
    ),
    Case(
        "EncoderLayer: one-dimensional x",
        lambda: ENC(np.ones(4)),
        ValueError,
        ("x must have 2 or 3 dimensions", "(n, d_model)", "got shape (4,)"),
    ),
    Case(
        "EncoderLayer: mask of wrong shape",
        lambda: ENC(X, np.ones((3, 2), dtype=bool)),
        ValueError,
        ("mask must broadcast to (..., n_q, n_k) = (3, 3)", "got shape (3, 2)"),
    ),
    Case(
        "DecoderLayer: memory of wrong width",
        lambda: DEC(X, np.ones((2, 6))),
        ValueError,
        ("memory must have last axis d_model = 4", "got shape (2, 6)"),
    ),
    Case(
        "DecoderLayer: memory holds inf",
        lambda: DEC(X, np.full((2, 4), np.inf)),
        ValueError,
        ("memory contains NaN or infinity",),
    ),
    Case(
        "DecoderLayer: memory so large that y + cross-attention overflows its layer norm",
        lambda: DEC(np.zeros((1, 4)), np.full((2, 4), 1e155)),
        ValueError,
        ("the decoder layer overflowed float64 inside", "y or memory are too large", "scale them down"),
    ),
    # --- masks and positions -------------------------------------------------------------
    Case("causal_mask: zero", lambda: causal_mask(0), ValueError, ("n must be an integer >= 1", "got 0")),
    Case("causal_mask: float", lambda: causal_mask(3.0), TypeError, ("n must be an integer", "float 3.0")),
    Case("causal_mask: bool", lambda: causal_mask(True), TypeError, ("n must be an integer", "bool True")),
    Case(
        "padding_mask: length zero",
        lambda: padding_mask([0, 2], 3),
        ValueError,
        ("every length must be in 1..n = 1..3", "[0, 2]"),
    ),
    Case("padding_mask: length above n", lambda: padding_mask([4], 3), ValueError, ("1..n = 1..3", "[4]")),
    Case(
        "padding_mask: float lengths",
        lambda: padding_mask([1.5], 3),
        TypeError,
        ("lengths must be integers", "float64"),
    ),
    Case(
        "padding_mask: two-dimensional lengths",
        lambda: padding_mask([[1]], 3),
        ValueError,
        ("lengths must have shape (batch,)", "got shape (1, 1)"),
    ),
    Case(
        "padding_mask: ragged lengths",
        lambda: padding_mask([[1], [1, 2]], 3),
        ValueError,
        ("lengths must be a 1-D array",),
    ),
    Case(
        "positional: zero positions",
        lambda: sinusoidal_positional_encoding(0, 4),
        ValueError,
        ("n_positions must be an integer >= 1", "got 0"),
    ),
    Case(
        "positional: string width",
        lambda: sinusoidal_positional_encoding(3, "4"),
        TypeError,
        ("d_model must be an integer", "str '4'"),
    ),
    # --- the model -----------------------------------------------------------------------
    Case(
        "config: zero vocabulary",
        lambda: TransformerConfig(vocab_size=0),
        ValueError,
        ("vocab_size must be an integer >= 1", "got 0"),
    ),
    Case(
        "config: heads do not divide d_model",
        lambda: TransformerConfig(vocab_size=6, d_model=10, n_heads=3),
        ValueError,
        ("d_model must be divisible by n_heads", "d_model=10", "n_heads=3"),
    ),
    Case(
        "config: special ids collide",
        lambda: TransformerConfig(vocab_size=6, pad_id=1),
        ValueError,
        ("must be distinct", "'pad_id': 1", "'bos_id': 1"),
    ),
    Case(
        "config: eos outside the vocabulary",
        lambda: TransformerConfig(vocab_size=3, eos_id=3, pad_id=0, bos_id=1),
        ValueError,
        ("eos_id must be < vocab_size = 3", "got 3"),
    ),
    Case(
        "config: norm_first a string",
        lambda: TransformerConfig(vocab_size=6, norm_first="yes"),
        TypeError,
        ("norm_first must be True or False", "str 'yes'"),
    ),
    Case(
        "Transformer: a dict for a config",
        lambda: Transformer({"vocab_size": 6}, rng()),
        TypeError,
        ("config must be a TransformerConfig", "dict"),
    ),
    Case(
        "encode: token id out of range",
        lambda: MODEL.encode(np.array([1, 6])),
        ValueError,
        ("ids must be in 0..5", "to 6"),
    ),
    Case(
        "encode: float ids",
        lambda: MODEL.encode(np.array([1.0, 2.0])),
        TypeError,
        ("ids must be integer token ids", "float64"),
    ),
    Case(
        "encode: empty sequence",
        lambda: MODEL.encode(np.array([], dtype=int)),
        ValueError,
        ("ids must have shape (n,) or (batch, n) with n >= 1", "got shape (0,)"),
    ),
    Case(
        "encode: longer than max_len",
        lambda: MODEL.encode(np.array([3, 4, 5, 3, 4, 5])),
        ValueError,
        ("longer than max_len = 5", "got length 6"),
    ),
    Case(
        "encode: mask of integers",
        lambda: MODEL.encode(np.array([[3, 4, 0]]), np.array([[[1, 1, 0]]])),
        TypeError,
        ("mask must be a boolean array", "int64"),
    ),
    Case(
        "decode: memory of the wrong width",
        lambda: MODEL.decode(np.array([1, 3]), np.ones((3, 8))),
        ValueError,
        ("memory must have last axis d_model = 4", "got shape (3, 8)"),
    ),
    Case(
        "decode: float32 memory",
        lambda: MODEL.decode(np.array([1, 3]), MEMORY.astype(np.float32)),
        TypeError,
        ("memory has dtype float32 but the weights are float64",),
    ),
    Case(
        "generate: zero new tokens",
        lambda: MODEL.greedy_decode(np.array([3, 4]), 0),
        ValueError,
        ("max_new_tokens must be an integer >= 1", "got 0"),
    ),
    Case(
        "generate: a batch",
        lambda: MODEL.greedy_decode(np.array([[3, 4]]), 3),
        ValueError,
        ("src_ids must have shape (n_x,)", "got shape (1, 2)"),
    ),
    Case(
        "greedy_decode_batch: one sequence",
        lambda: MODEL.greedy_decode_batch(np.array([3, 4]), 3),
        ValueError,
        ("src_ids must have shape (batch, n_x)", "got shape (2,)"),
    ),
    # --- the decoder-only GPT and its completions -----------------------------------------
    Case(
        "GPTConfig: heads that do not divide d_model",
        lambda: GPTConfig(vocab_size=6, d_model=6, n_heads=4),
        ValueError,
        ("d_model must be divisible by n_heads", "d_model=6, n_heads=4"),
    ),
    Case(
        "GPTConfig: an unknown kind of positions",
        lambda: GPTConfig(vocab_size=6, positions="rotary"),
        ValueError,
        ("positions must be one of 'sinusoidal', 'learned', 'rope', 'alibi', 'none'", "got 'rotary'"),
    ),
    Case(
        "GPTConfig: positions that are not a string",
        lambda: GPTConfig(vocab_size=6, positions=None),  # type: ignore[arg-type]
        TypeError,
        ("positions must be a string", "got None"),
    ),
    Case(
        "GPTConfig: RoPE with an odd d_k",
        lambda: GPTConfig(vocab_size=6, d_model=6, n_heads=2, positions="rope"),
        ValueError,
        ("d_k must be even", "got d_k = 3"),
    ),
    Case(
        "GPT.logits: float ids",
        lambda: GPT_MODEL.logits(np.array([1.0, 3.0])),
        TypeError,
        ("ids must be integer token ids", "float64"),
    ),
    Case(
        "GPT.logits: longer than max_len",
        lambda: GPT_MODEL.logits(np.ones(6, dtype=int)),
        ValueError,
        ("ids is longer than max_len = 5", "got length 6"),
    ),
    Case(
        "GPT.greedy_decode_batch: one prompt",
        lambda: GPT_MODEL.greedy_decode_batch(np.array([1, 3]), 2),
        ValueError,
        ("ids must have shape (batch, n)", "got shape (2,)"),
    ),
    Case(
        "complete: a character outside the vocabulary",
        lambda: pretrained("add").complete("37 + 48 ="),
        ValueError,
        ("prompt holds characters outside the vocabulary: ' '", "'0123456789+='"),
    ),
    Case(
        "complete: a prompt too long",
        lambda: pretrained("add").complete("1+2=3+4=5+6="),
        ValueError,
        ("prompt must have 1 to 6 characters", "got 12"),
    ),
    Case(
        "complete: not a string",
        lambda: pretrained("add").complete(37),  # type: ignore[arg-type]
        TypeError,
        ("prompt must be a str", "int"),
    ),
    Case(
        "addition_answer: not a sum of two numbers 0-99",
        lambda: addition_answer("100+1="),
        ValueError,
        ("prompt must be 'a+b=' with a and b from 0 to 99", "got '100+1='"),
    ),
    # --- decoding and the KV cache ------------------------------------------------------------
    Case(
        "sample: temperature 0",
        lambda: sample(two_tokens, [1], max_new_tokens=2, eos_id=0, rng=rng(), temperature=0),
        ValueError,
        ("temperature must be a finite number > 0", "got 0"),
    ),
    Case(
        "sample: temperature NaN",
        lambda: sample(two_tokens, [1], max_new_tokens=2, eos_id=0, rng=rng(), temperature=float("nan")),
        ValueError,
        ("temperature must be a finite number > 0", "nan"),
    ),
    Case(
        "sample: top_k 0",
        lambda: sample(two_tokens, [1], max_new_tokens=2, eos_id=0, rng=rng(), top_k=0),
        ValueError,
        ("top_k must be an integer >= 1", "got 0"),
    ),
    Case(
        "sample: a seed instead of a Generator",
        lambda: sample(two_tokens, [1], max_new_tokens=2, eos_id=0, rng=0),  # type: ignore[arg-type]
        TypeError,
        ("rng", "Generator"),
    ),
    Case(
        "top_p_filter: p above 1",
        lambda: top_p_filter(np.zeros(3), 1.5),
        ValueError,
        ("p must be in (0, 1]", "got 1.5"),
    ),
    Case(
        "top_p_filter: p NaN",
        lambda: top_p_filter(np.zeros(3), float("nan")),
        ValueError,
        ("p must be in (0, 1]", "nan"),
    ),
    Case(
        "top_k_filter: logits with NaN",
        lambda: top_k_filter(np.array([0.0, np.nan]), 1),
        ValueError,
        ("logits must not hold NaN or +inf",),
    ),
    Case(
        "beam_search: beam_size 0",
        lambda: beam_search(two_tokens, [1], beam_size=0, max_new_tokens=2, eos_id=0),
        ValueError,
        ("beam_size must be an integer >= 1", "got 0"),
    ),
    Case(
        "beam_search: negative alpha",
        lambda: beam_search(two_tokens, [1], beam_size=2, max_new_tokens=2, eos_id=0, alpha=-1.0),
        ValueError,
        ("alpha must be a finite number >= 0", "got -1.0"),
    ),
    Case(
        "greedy: an empty prompt",
        lambda: greedy(two_tokens, [], max_new_tokens=2, eos_id=0),
        ValueError,
        ("prompt must be a non-empty 1-D sequence of integer token ids",),
    ),
    Case(
        "greedy: a model that returns probabilities, not log-probabilities",
        lambda: greedy(lambda prefix: np.array([0.5, 0.5]) + 1.0, [1], max_new_tokens=2, eos_id=0),
        ValueError,
        ("next_log_probs must return log-probabilities", "<= 0"),
    ),
    Case(
        "EncoderDecoderKVCache.step: a token outside the vocabulary",
        lambda: EncoderDecoderKVCache(MODEL, np.array([3, 4])).step(
            EncoderDecoderKVCache(MODEL, np.array([3, 4])).start(), 6
        ),
        ValueError,
        ("token must be an integer <= 5", "got 6"),
    ),
    Case(
        "GPTKVCache.step: past max_len",
        lambda: full_gpt_state(),
        ValueError,
        ("the state already holds max_len = 5 tokens",),
    ),
    Case(
        "GPTKVCache: an encoder-decoder model",
        lambda: GPTKVCache(MODEL),  # type: ignore[arg-type]
        TypeError,
        ("model must be a GPT", "Transformer"),
    ),
    # --- the RNN -------------------------------------------------------------------------
    Case(
        "ElmanRNN: zero hidden size",
        lambda: ElmanRNN(2, 0, rng()),
        ValueError,
        ("d_hidden must be an integer >= 1", "got 0"),
    ),
    Case(
        "ElmanRNN: wrong input width",
        lambda: ElmanRNN(2, 3, rng())(np.ones((4, 3))),
        ValueError,
        ("x must have shape (n, d_in = 2)", "got shape (4, 3)"),
    ),
    # --- trace ---------------------------------------------------------------------------
    Case("fmt: text", lambda: fmt("1.5"), TypeError, ("x must hold real numbers", "dtype <U3")),
    Case(
        "fmt: ragged list",
        lambda: fmt([[1.0], [1.0, 2.0]]),
        ValueError,
        ("x must be a number or a rectangular array",),
    ),
    Case(
        "fmt: negative decimals",
        lambda: fmt(1.0, decimals=-1),
        ValueError,
        ("decimals must be an integer >= 0", "got -1"),
    ),
    Case("show: name not a string", lambda: show(3, [1.0]), TypeError, ("name must be a string", "int 3")),
    Case(
        "step: title not a string", lambda: step(None), TypeError, ("title must be a string", "NoneType None")
    ),
    Case(
        "ElmanRNN: h0 of wrong size",
        lambda: ElmanRNN(2, 3, rng())(np.ones((4, 2)), np.ones(2)),
        ValueError,
        ("h0 must have shape (d_hidden,) = (3,)", "got (2,)"),
    ),
    # --- unusual array types: the policy of transformer_primer._checks (issue 12) ------------
    Case(
        "softmax: masked array",
        lambda: softmax(MASKED),
        TypeError,
        ("x is a numpy masked array", "x.filled(value)"),
    ),
    Case("softmax: np.matrix", lambda: softmax(matrix()), TypeError, ("x is a numpy matrix",)),
    Case(
        "softmax: long double",
        lambda: softmax(LONG),
        TypeError,
        ("x has dtype float128 (long double)", "float64"),
    ),
    Case(
        "reference_attention: masked q",
        lambda: reference_attention(MASKED, Q, Q),
        TypeError,
        ("q is a numpy masked array",),
    ),
    Case(
        "sdpa: masked v",
        lambda: scaled_dot_product_attention(Q, Q, MASKED),
        TypeError,
        ("v is a numpy masked array",),
    ),
    Case(
        "sdpa: masked mask",
        lambda: scaled_dot_product_attention(Q, Q, Q, np.ma.masked_array(np.ones((2, 2), bool))),
        TypeError,
        ("mask is a numpy masked array",),
    ),
    Case(
        "flash_attention: causal with n_q != n_k",
        lambda: flash_attention(np.ones((2, 3)), np.ones((4, 3)), np.ones((4, 3)), causal=True),
        ValueError,
        ("causal=True needs as many queries as keys", "n_q = 2 and n_k = 4"),
    ),
    Case("flash_attention: threads 0", lambda: flash_attention(Q, Q, Q, threads=0), ValueError, ("threads",)),
    Case(
        "flash_attention: threads 1.5", lambda: flash_attention(Q, Q, Q, threads=1.5), TypeError, ("threads",)
    ),
    Case("flash_attention: block_q 0", lambda: flash_attention(Q, Q, Q, block_q=0), ValueError, ("block_q",)),
    Case(
        "flash_attention: causal 'yes'",
        lambda: flash_attention(Q, Q, Q, causal="yes"),
        TypeError,
        ("causal must be True or False", "str 'yes'"),
    ),
    Case(
        "flash_attention: masked k",
        lambda: flash_attention(Q, MASKED, Q),
        TypeError,
        ("k is a numpy masked array",),
    ),
    Case(
        "flash_attention: NaN in v",
        lambda: flash_attention(Q, Q, np.array([[1.0, np.nan, 0.0], [0.0, 0.0, 0.0]])),
        ValueError,
        ("v",),
    ),
    Case("tiled: masked k", lambda: tiled_attention(Q, MASKED, Q), TypeError, ("k is a numpy masked array",)),
    Case(
        "tiled: long double",
        lambda: tiled_attention(LONG, LONG, LONG),
        TypeError,
        ("q has dtype float128 (long double)",),
    ),
    Case(
        "MultiHeadAttention: masked query",
        lambda: MHA(np.ma.masked_array(X), X, X),
        TypeError,
        ("query is a numpy masked array",),
    ),
    Case(
        "FeedForward: masked x", lambda: FF(np.ma.masked_array(X)), TypeError, ("x is a numpy masked array",)
    ),
    Case("LayerNorm: masked x", lambda: LN(np.ma.masked_array(X)), TypeError, ("x is a numpy masked array",)),
    Case(
        "LayerNorm: long double weights",
        lambda: LayerNorm(4, dtype=np.longdouble),
        TypeError,
        ("dtype has dtype float128 (long double)",),
    ),
    Case(
        "split_heads: masked x",
        lambda: split_heads(np.ma.masked_array(X), 2),
        TypeError,
        ("x is a numpy masked array",),
    ),
    # --- sizes refused before anything is allocated (issue 12) -------------------------------
    Case(
        "causal_mask: too large",
        lambda: causal_mask(10**7),
        ValueError,
        ("n is too large", "(n, n) mask", "GiB"),
    ),
    Case(
        "padding_mask: too large",
        lambda: padding_mask([1], 10**14),
        ValueError,
        ("n is too large", "(batch, n) mask"),
    ),
    Case(
        "positional encoding: too large",
        lambda: sinusoidal_positional_encoding(10**7, 10**5),
        ValueError,
        ("n_positions is too large", "(n_positions, d_model) table"),
    ),
    Case(
        "MultiHeadAttention: d_model too large",
        lambda: MultiHeadAttention(10**7, 1, rng()),
        ValueError,
        ("d_model is too large", "four (d_model, d_model) projections"),
    ),
    Case(
        "FeedForward: d_ff too large",
        lambda: FeedForward(4, 10**13, rng()),
        ValueError,
        ("d_ff is too large",),
    ),
    Case(
        "Embedding: vocab_size too large",
        lambda: Embedding(10**13, 4, rng()),
        ValueError,
        ("vocab_size is too large",),
    ),
    Case(
        "ElmanRNN: d_hidden too large",
        lambda: ElmanRNN(4, 10**7, rng()),
        ValueError,
        ("d_hidden is too large",),
    ),
    Case(
        "Transformer: a model too large",
        lambda: Transformer(TransformerConfig(vocab_size=6, d_model=10**6, n_heads=1), rng()),
        ValueError,
        ("config is too large", "a model of about"),
    ),
    # --- RoPE and ALiBi -----------------------------------------------------------------
    Case(
        "rotary_embedding: an odd width",
        lambda: rotary_embedding(np.ones((3, 5))),
        ValueError,
        ("x must have an even last axis", "d = 5"),
    ),
    Case(
        "rotary_embedding: one position for three rows",
        lambda: rotary_embedding(np.ones((3, 4)), positions=[0]),
        ValueError,
        ("positions must be 3 non-negative integers", "shape (1,)"),
    ),
    Case(
        "rotary_embedding: a negative position",
        lambda: rotary_embedding(np.ones((2, 4)), positions=[0, -1]),
        ValueError,
        ("positions must be 2 non-negative integers",),
    ),
    Case(
        "rotary_embedding: base 0",
        lambda: rotary_embedding(np.ones((2, 4)), base=0),
        ValueError,
        ("base must be", "> 0"),
    ),
    Case(
        "alibi_slopes: no heads",
        lambda: alibi_slopes(0),
        ValueError,
        ("n_heads must be an integer >= 1", "0"),
    ),
    Case(
        "alibi_bias: fewer keys than queries",
        lambda: alibi_bias(2, 4, 3),
        ValueError,
        ("n_k must be an integer >= 4", "3"),
    ),
    Case(
        "alibi_bias: too large",
        lambda: alibi_bias(8, 10**6, 10**6),
        ValueError,
        ("n_k is too large", "(n_heads, n_q, n_k)"),
    ),
    # --- byte-pair encoding ------------------------------------------------------------
    Case(
        "train_bpe: bytes for text",
        lambda: train_bpe(b"bytes", 3),
        TypeError,
        ("text must be a str", "bytes"),
    ),
    Case(
        "train_bpe: a lone surrogate in the text",
        lambda: train_bpe("a\ud800b", 3),
        ValueError,
        ("text contains", "index 1", "lone surrogate"),
    ),
    Case(
        "train_bpe: negative n_merges",
        lambda: train_bpe("abc", -1),
        ValueError,
        ("n_merges must be", ">= 0", "-1"),
    ),
    Case(
        "train_bpe: float n_merges", lambda: train_bpe("abc", 2.0), TypeError, ("n_merges must be", "float")
    ),
    Case(
        "train_bpe: n_merges too large",
        lambda: train_bpe("abc", 10**6),
        ValueError,
        ("n_merges must be", "<= 100000"),
    ),
    Case(
        "BytePairEncoder.encode: None",
        lambda: BPE.encode(None),
        TypeError,
        ("text must be a str", "NoneType"),
    ),
    Case(
        "BytePairEncoder.decode: an id out of range",
        lambda: BPE.decode([256, 999]),
        ValueError,
        ("token id 999 is out of range", "ids 0..256"),
    ),
    Case(
        "BytePairEncoder.decode: a float id",
        lambda: BPE.decode([1.0]),
        TypeError,
        ("token id must be an int", "float"),
    ),
    Case(
        "BytePairEncoder: a merge of tokens that do not exist yet",
        lambda: BytePairEncoder(((300, 1),), (1,)),
        ValueError,
        ("merge 0 joins tokens (300, 1)", "only tokens 0..255 exist"),
    ),
    # --- check: the argument must be the learner's function ---------------------------------
    Case(
        "check.softmax: None instead of a function",
        lambda: check.softmax(None),
        TypeError,
        ("fn must be your function", "check.softmax(my_softmax)", "NoneType None"),
    ),
    Case(
        "check.causal_mask: the mask instead of the function",
        lambda: check.causal_mask(np.tril(np.ones((3, 3), dtype=bool))),
        TypeError,
        ("fn must be your function", "check.causal_mask(my_causal_mask)", "array of shape (3, 3)"),
    ),
    Case(
        "check.scaled_dot_product_attention: the function's result",
        lambda: check.scaled_dot_product_attention((np.ones((2, 3)), np.ones((2, 2)))),
        TypeError,
        ("fn must be your function", "signature of the package's scaled_dot_product_attention", "tuple"),
    ),
    Case(
        "check.layer_norm: the function's name",
        lambda: check.layer_norm("my_layer_norm"),
        TypeError,
        ("fn must be your function", "check.layer_norm(my_layer_norm)", "str 'my_layer_norm'"),
    ),
    # --- regularization ------------------------------------------------------------------
    Case(
        "label_smoothed_cross_entropy: smoothing of 1",
        lambda: label_smoothed_cross_entropy(np.zeros((2, 4)), np.array([1, 2]), 0, 1.0),
        ValueError,
        ("smoothing must be a number in [0, 1)", "got 1.0"),
    ),
    Case(
        "label_smoothed_cross_entropy: targets of the wrong shape",
        lambda: label_smoothed_cross_entropy(np.zeros((2, 4)), np.array([1, 2, 3]), 0, 0.1),
        ValueError,
        ("targets must have shape logits.shape[:-1] = (2,)", "got shape (3,)"),
    ),
    Case(
        "label_smoothed_cross_entropy: a target outside the vocabulary",
        lambda: label_smoothed_cross_entropy(np.zeros((2, 4)), np.array([1, 4]), 0, 0.1),
        ValueError,
        ("targets must be in 0..3", "got values from 1 to 4"),
    ),
    Case(
        "label_smoothed_cross_entropy: float targets",
        lambda: label_smoothed_cross_entropy(np.zeros((2, 4)), np.array([1.0, 2.0]), 0, 0.1),
        TypeError,
        ("targets must be integer token ids", "float64"),
    ),
    Case(
        "label_smoothed_cross_entropy: only padding",
        lambda: label_smoothed_cross_entropy(np.zeros((2, 4)), np.array([0, 0]), 0, 0.1),
        ValueError,
        ("targets must hold a token that is not padding", "only pad_id"),
    ),
    Case(
        "dropout: p of 1",
        lambda: dropout(np.ones(3), 1.0, rng()),
        ValueError,
        ("p must be a number in [0, 1)", "got 1.0"),
    ),
    Case(
        "dropout: a seed instead of a generator",
        lambda: dropout(np.ones(3), 0.5, 0),  # type: ignore[arg-type]
        TypeError,
        ("rng must be a numpy.random.Generator", "int 0"),
    ),
    Case(
        "dropout: training given as a string",
        lambda: dropout(np.ones(3), 0.5, rng(), training="no"),  # type: ignore[arg-type]
        TypeError,
        ("training must be True or False", "str 'no'"),
    ),
    Case(
        "dropout_backward: a mask that is not boolean",
        lambda: dropout_backward(np.ones(3), np.array([1, 0, 1]), 0.5),
        TypeError,
        ("keep must be a boolean mask", "int64"),
    ),
    Case(
        "dropout_backward: a mask of another shape",
        lambda: dropout_backward(np.ones(3), np.array([True, False]), 0.5),
        ValueError,
        ("keep must have the shape of dout, (3,)", "got shape (2,)"),
    ),
    Case(
        "Dropout: one name drawn twice in a pass",
        lambda: [drop := Dropout(0.5, rng()), drop(np.ones(3), "embed"), drop(np.ones(3), "embed")],
        ValueError,
        ("dropout 'embed' was already drawn in this pass",),
    ),
    Case(
        "paper_learning_rate: step 0",
        lambda: paper_learning_rate(0, 64, 200),
        ValueError,
        ("step must be an integer >= 1", "got 0"),
    ),
    Case(
        "GPTConfig: tie_weights given as a string",
        lambda: GPTConfig(vocab_size=6, d_model=4, n_heads=2, tie_weights="yes"),  # type: ignore[arg-type]
        TypeError,
        ("tie_weights must be True or False", "str 'yes'"),
    ),
    Case(
        "gpt_loss_and_grads: dropout without a generator",
        lambda: gpt_loss_and_grads(GPT_MODEL, np.array([[1, 3, 4]]), np.array([[0, 4, 2]]), dropout=0.1),
        ValueError,
        ("dropout = 0.1 needs rng", "got None"),
    ),
    Case(
        "GPTTrainConfig: an unknown schedule",
        lambda: GPTTrainConfig(schedule="linear"),
        ValueError,
        ("schedule must be one of ('cosine', 'paper')", "got 'linear'"),
    ),
]


MARKER = re.compile(r"^<!-- refusals: (?P<name>[a-z]+) -->$", re.M)


def message(case: Case) -> str:
    """The message the call gets today (raised by running it)."""
    try:
        case.call()
    except case.error as err:
        return str(err)
    raise AssertionError(f"{case.name}: no {case.error.__name__} was raised")


def table() -> str:
    """Every case as an HTML table, grouped by the function or class it calls."""
    rows = []
    for case in CASES:
        where, _, what = case.name.partition(": ")
        rows.append(
            f"<tr><td><code>{html.escape(where)}</code></td><td>{html.escape(what)}</td>"
            f"<td><code>{case.error.__name__}</code></td><td>{html.escape(message(case))}</td></tr>"
        )
    return (
        '<div class="refusals"><table><thead><tr><th>Called</th><th>With</th><th>Raises</th>'
        "<th>The message, as raised today</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table></div>"
    )


def policy() -> str:
    """The policy for unusual arrays, as written in ``transformer_primer._checks``."""
    doc = _checks.__doc__ or ""
    bullets = doc[doc.index("- a numpy **masked array**") :].rstrip()
    return bullets


def render(markdown: str) -> str:
    """Replace ``<!-- refusals: table -->`` and ``<!-- refusals: policy -->`` lines of a page."""
    parts = {"table": table, "policy": policy}
    return MARKER.sub(lambda m: parts[m["name"]](), markdown)
