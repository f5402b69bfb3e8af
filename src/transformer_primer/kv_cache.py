"""The KV cache: generate one token at a time without recomputing the past.

Decoding without a cache runs the whole decoder on the whole prefix at every step, to
read only its last row. Yet under the causal mask, the rows of the earlier positions never
change when a token is appended: position ``i`` sees positions ``0..i`` only. What the new
token needs from them is, in each layer, their *keys* and *values*. Keep those (the cache),
and a step runs every layer on one row: the new token's query attends to the kept keys
plus its own.

Two details make the cached step equal to full recomputation:

- the new token's positional encoding is the one of its *true position*, the number of
  tokens before it (``state.length``), not position 0 (the classic bug);
- in the encoder-decoder, the cross-attention's keys and values come from the encoder
  output, which does not change while decoding: they are computed once, up front.

[EncoderDecoderKVCache][transformer_primer.kv_cache.EncoderDecoderKVCache] does this with the
weights of a [Transformer][transformer_primer.model.Transformer], reusing its layers'
residual blocks (so the norm placement is the model's own);
[cached_log_probs][transformer_primer.kv_cache.cached_log_probs] turns it into the
[NextLogProbs][transformer_primer.decoding.NextLogProbs] function every strategy of
[transformer_primer.decoding][] takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_positive_int, describe
from .attention import MultiHeadAttention, alibi_attention, merge_heads, rotary_heads, split_heads
from .decoding import NextLogProbs, _check_seq2seq_source, _log_softmax
from .gpt import GPT
from .kernels import attend
from .layers import DecoderLayer, EncoderLayer
from .model import Transformer

__all__ = [
    "EncoderDecoderKVCache",
    "GPTKVCache",
    "KVState",
    "Stepper",
    "cached_attention",
    "cached_log_probs",
    "gpt_cached_attention",
    "recomputed_logits",
]

Array = NDArray[np.floating]


@dataclass(frozen=True)
class KVState:
    """What a decoder keeps after reading ``length`` tokens: each layer's keys and values.

    A state is never changed: a step returns a new one, so a beam can extend one prefix
    in several ways.

    Attributes
    ----------
    keys, values : tuple of numpy.ndarray, one per layer, each (n_heads, length, d_k)
        The self-attention's keys and values of every token read so far.
    logits : numpy.ndarray, shape (vocab_size,)
        The scores of the token that follows the last one read (zeros before the first).
    """

    keys: tuple[Array, ...]
    values: tuple[Array, ...]
    logits: Array

    @property
    def length(self) -> int:
        """How many tokens have been read: the position of the next one."""
        return int(self.keys[0].shape[-2])


class Stepper(Protocol):
    """A model read one token at a time: ``start()``, then ``step(state, token)`` per token."""

    max_len: int
    forbidden: tuple[int, ...]

    def start(self) -> KVState:
        """The state before any token."""
        ...

    def step(self, state: KVState, token: int) -> KVState:
        """Read one more token."""
        ...


# --8<-- [start:cached_attention]
def cached_attention(
    mha: MultiHeadAttention, h: Array, past_k: Array, past_v: Array
) -> tuple[Array, Array, Array]:
    """Self-attention of one new row ``h`` (1, d_model) to the past keys/values and itself.

    Returns the output (1, d_model) and the keys and values with the new token's appended,
    each (n_heads, length + 1, d_k). No mask is needed: every kept key is in the past.
    """
    q = split_heads(h @ mha.w_q + mha.b_q, mha.n_heads)  # (1, d_model) -> (n_heads, 1, d_k)
    k_new = split_heads(h @ mha.w_k + mha.b_k, mha.n_heads)  # (n_heads, 1, d_k)
    v_new = split_heads(h @ mha.w_v + mha.b_v, mha.n_heads)  # (n_heads, 1, d_k)
    k = np.concatenate([past_k, k_new], axis=-2)  # (n_heads, length, d_k) -> (n_heads, length + 1, d_k)
    v = np.concatenate([past_v, v_new], axis=-2)  # (n_heads, length + 1, d_k)
    heads, _ = attend(q, k, v, None, need_weights=False)  # (n_heads, 1, d_k)
    return merge_heads(heads) @ mha.w_o + mha.b_o, k, v  # (1, d_model)


# --8<-- [end:cached_attention]


# --8<-- [start:gpt_cached_attention]
def gpt_cached_attention(
    mha: MultiHeadAttention, h: Array, past_k: Array, past_v: Array
) -> tuple[Array, Array, Array]:
    """[cached_attention][transformer_primer.kv_cache.cached_attention] with a GPT's RoPE or ALiBi.

    The new row sits at position ``t = past_k.shape[-2]`` (the number of kept keys). With RoPE
    its query and key are turned by the angles of ``t`` (the kept keys were turned when they
    were new); with ALiBi its scores get the bias row of a query at ``t``. Without either, it
    is ``cached_attention`` itself.
    """
    if not (mha.rotary or mha.alibi):
        return cached_attention(mha, h, past_k, past_v)
    t = past_k.shape[-2]  # the true position of the new token
    q = split_heads(h @ mha.w_q + mha.b_q, mha.n_heads)  # (1, d_model) -> (n_heads, 1, d_k)
    k_new = split_heads(h @ mha.w_k + mha.b_k, mha.n_heads)  # (n_heads, 1, d_k)
    v_new = split_heads(h @ mha.w_v + mha.b_v, mha.n_heads)  # (n_heads, 1, d_k)
    if mha.rotary:
        q, k_new = rotary_heads(q, start=t), rotary_heads(k_new, start=t)  # turned at position t
    k = np.concatenate([past_k, k_new], axis=-2)  # (n_heads, t, d_k) -> (n_heads, t + 1, d_k)
    v = np.concatenate([past_v, v_new], axis=-2)  # (n_heads, t + 1, d_k)
    if mha.alibi:
        heads, _ = alibi_attention(q, k, v, None)  # the bias row of a query at t: (n_heads, 1, d_k)
    else:
        heads, _ = attend(q, k, v, None, need_weights=False)  # (n_heads, 1, d_k)
    return merge_heads(heads) @ mha.w_o + mha.b_o, k, v  # (1, d_model)


# --8<-- [end:gpt_cached_attention]


def _cross_attention(mha: MultiHeadAttention, h: Array, k: Array, v: Array) -> Array:
    """Attention of the row ``h`` (1, d_model) to keys and values computed once (n_heads, n_x, d_k)."""
    q = split_heads(h @ mha.w_q + mha.b_q, mha.n_heads)  # (n_heads, 1, d_k)
    heads, _ = attend(q, k, v, None, need_weights=False)  # (n_heads, 1, d_k)
    return merge_heads(heads) @ mha.w_o + mha.b_o  # (1, d_model)


class EncoderDecoderKVCache:
    """Incremental decoding for the encoder-decoder [Transformer][transformer_primer.model.Transformer].

    The source is encoded once, and each decoder layer's cross-attention keys and values
    are computed from it once. Then ``step`` reads one decoder token: it is embedded at
    its true position, and each layer runs on that one row, its self-attention reading
    the kept keys and values of the earlier tokens.

    Parameters
    ----------
    model : Transformer
    src_ids : array_like of int, shape (n_x,)
        One source sequence.

    Raises
    ------
    TypeError, ValueError
        If ``model`` is not a Transformer, or ``src_ids`` is not one valid sequence; in
        ``step``, if ``token`` is not a valid id or the state already holds ``max_len``
        tokens.

    Examples
    --------
    >>> from transformer_primer import pretrained
    >>> reverse = pretrained("reverse")
    >>> src = reverse.encode("abc")
    >>> cache = EncoderDecoderKVCache(reverse.model, src)
    >>> state = cache.step(cache.start(), reverse.model.config.bos_id)
    >>> full = reverse.model.decode([reverse.model.config.bos_id], reverse.model.encode(src))[-1]
    >>> bool(np.abs(state.logits - full).max() < 1e-9)
    True
    """

    def __init__(self, model: Transformer, src_ids: ArrayLike) -> None:
        model, ids = _check_seq2seq_source(model, src_ids)
        self.model = model
        self.max_len = model.config.max_len
        self.forbidden: tuple[int, ...] = (model.config.pad_id, model.config.bos_id)  # never generated
        self.memory = model._encode(ids, None, {})  # (n_x, d_model)
        # --8<-- [start:cross_once]
        self.cross_kv: list[
            tuple[Array, Array]
        ] = [  # per layer: keys and values of the source, (n_heads, n_x, d_k) each
            (
                split_heads(
                    self.memory @ layer.cross_attn.w_k + layer.cross_attn.b_k, layer.cross_attn.n_heads
                ),
                split_heads(
                    self.memory @ layer.cross_attn.w_v + layer.cross_attn.b_v, layer.cross_attn.n_heads
                ),
            )
            for layer in model.decoder_layers
        ]
        # --8<-- [end:cross_once]

    def start(self) -> KVState:
        """The state before any decoder token: no keys, no values."""
        c = self.model.config
        empty = np.zeros((c.n_heads, 0, c.d_k))  # (n_heads, 0, d_k)
        n = len(self.model.decoder_layers)
        return KVState((empty,) * n, (empty,) * n, np.zeros(c.vocab_size))

    def position(self, state: KVState) -> int:
        """The position of the next token: the number read so far (not 0: the classic bug)."""
        return state.length

    def step(self, state: KVState, token: int) -> KVState:
        """Read ``token`` after the tokens of ``state``; return the new state and its logits.

        Parameters
        ----------
        state : KVState
            From ``start()`` or an earlier ``step``.
        token : int
            The next decoder input (the first one is ``bos_id``).

        Returns
        -------
        KVState
            One token longer; ``logits`` (vocab_size,) score the token after ``token``.
        """
        token = _check_step(self, state, token)
        return self._step(state, token)

    # --8<-- [start:step]
    def _step(self, state: KVState, token: int) -> KVState:
        """``step`` on a checked state and token."""
        m = self.model
        t = self.position(state)  # the true position of the new token: tokens read so far
        y: Array = m.embedding.forward(np.array([token]), {}) + m.positions[t : t + 1]  # (1, d_model)
        keys, values = [], []
        for i, layer in enumerate(m.decoder_layers):
            y, k, v = self._layer_step(layer, y, state.keys[i], state.values[i], self.cross_kv[i])
            keys.append(k)  # (n_heads, t + 1, d_k): kept for the next step
            values.append(v)
        if m.decoder_norm is not None:  # pre-norm: the final norm of the decoder stack
            y = m.decoder_norm.forward(y, {})  # (1, d_model)
        logits = (y @ m.w_out + m.b_out)[0]  # (1, d_model) -> (vocab_size,)
        return KVState(tuple(keys), tuple(values), logits)

    def _layer_step(
        self, layer: DecoderLayer, y: Array, past_k: Array, past_v: Array, cross_kv: tuple[Array, Array]
    ) -> tuple[Array, Array, Array]:
        """One decoder layer on one row ``y`` (1, d_model), through the layer's own residual blocks."""
        kept: list[Array] = []

        def self_attn(h: Array) -> Array:
            out, k, v = cached_attention(layer.self_attn, h, past_k, past_v)  # (1, d_model)
            kept.extend((k, v))
            return out

        y = layer.self_attention_block(y, self_attn, {})  # the model's own residual and norm
        y = layer.cross_attention_block(y, lambda h: _cross_attention(layer.cross_attn, h, *cross_kv), {})
        y = layer.feed_forward_block(y, lambda h: layer.feed_forward.forward(h, {}), {})
        return y, kept[0], kept[1]

    # --8<-- [end:step]


class GPTKVCache:
    """Incremental decoding for the decoder-only [GPT][transformer_primer.gpt.GPT].

    The same as [EncoderDecoderKVCache][transformer_primer.kv_cache.EncoderDecoderKVCache]
    without a source: each block keeps its self-attention's keys and values; a step embeds
    the new token at its true position, runs each block (pre-norm) on that one row, then
    the final layer norm and the output projection.

    Parameters
    ----------
    model : GPT

    Raises
    ------
    TypeError, ValueError
        If ``model`` is not a GPT; in ``step``, if ``token`` is not a valid id or the state
        already holds ``max_len`` tokens.

    Examples
    --------
    >>> from transformer_primer.gpt import GPT, GPTConfig
    >>> gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), np.random.default_rng(0))
    >>> cache = GPTKVCache(gpt)
    >>> state = cache.start()
    >>> for token in [1, 3, 4]:
    ...     state = cache.step(state, token)
    >>> bool(np.abs(state.logits - gpt.logits(np.array([1, 3, 4]))[-1]).max() < 1e-9)
    True
    """

    def __init__(self, model: GPT) -> None:
        if not isinstance(model, GPT):
            raise TypeError(f"model must be a GPT, got {describe(model)}")
        self.model = model
        self.max_len = model.config.max_len
        self.forbidden: tuple[int, ...] = (model.config.pad_id, model.config.bos_id)  # never generated

    def start(self) -> KVState:
        """The state before any token: no keys, no values."""
        c = self.model.config
        empty = np.zeros((c.n_heads, 0, c.d_k))  # (n_heads, 0, d_k)
        return KVState((empty,) * c.n_layers, (empty,) * c.n_layers, np.zeros(c.vocab_size))

    def position(self, state: KVState) -> int:
        """The position of the next token: the number read so far."""
        return state.length

    def step(self, state: KVState, token: int) -> KVState:
        """Read ``token`` after the tokens of ``state``; the new state scores the token after it."""
        token = _check_step(self, state, token)
        return self._step(state, token)

    # --8<-- [start:gpt_step]
    def _step(self, state: KVState, token: int) -> KVState:
        """``step`` on a checked state and token."""
        m = self.model
        t = self.position(state)  # the true position of the new token
        x: Array = m.embedding.forward(np.array([token]), {}) + m.positions[t : t + 1]  # (1, d_model)
        keys, values = [], []
        for i, layer in enumerate(m.layers):
            x, k, v = self._block_step(layer, x, state.keys[i], state.values[i])
            keys.append(k)  # (n_heads, t + 1, d_k)
            values.append(v)
        h = m.final_norm.forward(x, {})  # (1, d_model)
        logits = (h @ m.w_out + m.b_out)[0]  # (1, d_model) -> (vocab_size,)
        return KVState(tuple(keys), tuple(values), logits)

    def _block_step(
        self, layer: EncoderLayer, x: Array, past_k: Array, past_v: Array
    ) -> tuple[Array, Array, Array]:
        """One block on one row ``x`` (1, d_model), through the block's own residual blocks."""
        kept: list[Array] = []

        def self_attn(h: Array) -> Array:
            out, k, v = gpt_cached_attention(layer.self_attn, h, past_k, past_v)  # (1, d_model)
            kept.extend((k, v))
            return out

        x = layer.attention_block(x, self_attn, {})  # pre-norm: x + attention(norm(x))
        x = layer.feed_forward_block(x, lambda h: layer.feed_forward.forward(h, {}), {})
        return x, kept[0], kept[1]

    # --8<-- [end:gpt_step]


def _check_step(stepper: Stepper, state: object, token: object) -> int:
    """The checks of ``step``: a KVState with room for one more token, and a valid id."""
    if not isinstance(state, KVState):
        raise TypeError(f"state must be a KVState (from start() or step()), got {describe(state)}")
    vocab_size = state.logits.shape[-1]
    token = check_positive_int("token", token, minimum=0, maximum=vocab_size - 1)
    if state.length >= stepper.max_len:
        raise ValueError(f"the state already holds max_len = {stepper.max_len} tokens: no position is left")
    return token


# --8<-- [start:cached_log_probs]
def cached_log_probs(stepper: Stepper) -> NextLogProbs:
    """A [NextLogProbs][transformer_primer.decoding.NextLogProbs] function that keeps every state it makes.

    A prefix's state is kept under the prefix itself, so the next call, on the prefix one
    token longer, runs a single ``step`` from it; a beam's prefixes share their common
    past. (The states of every prefix asked about are kept: a few hundred kilobytes for
    the package's models; make a new function for each sequence to decode.)

    Parameters
    ----------
    stepper : Stepper
        E.g. an [EncoderDecoderKVCache][transformer_primer.kv_cache.EncoderDecoderKVCache].

    Returns
    -------
    NextLogProbs
        The same log-probabilities as the uncached function, padding and start forbidden.

    Examples
    --------
    >>> from transformer_primer import pretrained
    >>> from transformer_primer.decoding import greedy
    >>> reverse = pretrained("reverse")
    >>> next_lp = cached_log_probs(EncoderDecoderKVCache(reverse.model, reverse.encode("abc")))
    >>> reverse.vocab.decode(list(greedy(next_lp, [1], max_new_tokens=8, eos_id=2).tokens))
    'cba'
    """
    if not all(callable(getattr(stepper, name, None)) for name in ("start", "step")):
        raise TypeError(f"stepper must have start() and step(state, token), got {describe(stepper)}")
    states: dict[tuple[int, ...], KVState] = {(): stepper.start()}
    forbidden = list(stepper.forbidden)

    def next_log_probs(prefix: tuple[int, ...]) -> Array:
        prefix = tuple(int(t) for t in prefix)
        if not prefix:
            raise ValueError("prefix must hold at least one token (the first decoder input)")
        known = len(prefix)
        while prefix[:known] not in states:  # the longest prefix already read
            known -= 1
        for n in range(known, len(prefix)):  # read the rest, one step each
            states[prefix[: n + 1]] = stepper.step(states[prefix[:n]], prefix[n])
        logits = states[prefix].logits.copy()  # (vocab_size,)
        logits[forbidden] = -np.inf
        return _log_softmax(logits)

    return next_log_probs


# --8<-- [end:cached_log_probs]


def recomputed_logits(
    model: Transformer | GPT, ids: Sequence[int], src_ids: ArrayLike | None = None
) -> Array:
    """What decoding without a cache computes at every step: (n, vocab_size).

    Row ``t`` is the last row of a full pass on ``ids[: t + 1]`` (for the encoder-decoder,
    a decoder pass on that prefix over the encoded ``src_ids``). The reference the cached
    steps are compared with.

    Parameters
    ----------
    model : Transformer or GPT
    ids : sequence of int
        The decoder's (or the GPT's) input, one token per step.
    src_ids : array_like of int, shape (n_x,), optional
        The source: required for a Transformer, not taken by a GPT.

    Returns
    -------
    numpy.ndarray, shape (len(ids), vocab_size)
    """
    if isinstance(model, GPT):
        if src_ids is not None:
            raise ValueError("a GPT has no source: src_ids must be None")
        seq = model.check_ids("ids", np.asarray(ids))
        return np.stack([model.forward(seq[: t + 1], {})[-1] for t in range(len(seq))])
    if src_ids is None:
        raise ValueError("src_ids is needed for an encoder-decoder Transformer")
    model, src = _check_seq2seq_source(model, src_ids)
    memory = model._encode(src, None, {})  # (n_x, d_model)
    tgt = model._check_ids("ids", np.asarray(ids))
    return np.stack([model._decode(tgt[: t + 1], memory, None, {})[-1] for t in range(len(tgt))])
