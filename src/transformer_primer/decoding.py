"""Decoding: turn next-token probabilities into text (greedy, sampling, beam search).

A model that generates is, for decoding, one function: it maps the tokens so far (a
*prefix*) to the log-probabilities of the next token. Every strategy here is written
against that function alone, a [NextLogProbs][transformer_primer.decoding.NextLogProbs],
so the same code decodes the encoder-decoder
([encoder_decoder_log_probs][transformer_primer.decoding.encoder_decoder_log_probs]), a
decoder-only model, and either one with a KV cache
([transformer_primer.kv_cache][]): how the probabilities are computed is not the
strategy's business.

- [greedy][transformer_primer.decoding.greedy]: the most probable token, every step.
- [sample][transformer_primer.decoding.sample]: a token drawn at random from the
  distribution, sharpened or flattened by a *temperature* and cut to the ``top_k`` most
  probable tokens ([top_k_filter][transformer_primer.decoding.top_k_filter]) or to the
  smallest set holding probability ``top_p``
  ([top_p_filter][transformer_primer.decoding.top_p_filter]), with a seeded generator.
- [beam_search][transformer_primer.decoding.beam_search]: the ``beam_size`` best prefixes
  kept side by side; the finished ones are ranked with *length normalisation*.

Every strategy returns [Generation][transformer_primer.decoding.Generation] records: the
tokens, their total log-probability under the model, and whether the end token was reached.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_positive_int, check_rng, describe
from .gpt import GPT
from .model import Transformer

__all__ = [
    "Generation",
    "NextLogProbs",
    "beam_search",
    "encoder_decoder_log_probs",
    "gpt_log_probs",
    "greedy",
    "log_softmax",
    "sample",
    "top_k_filter",
    "top_p_filter",
]

Array = NDArray[np.floating]

NextLogProbs = Callable[[tuple[int, ...]], Array]
"""A prefix of token ids -> the log-probabilities of the next token, shape (vocab_size,).

A token that may never come next (padding, the start token) has log-probability ``-inf``.
"""


@dataclass(frozen=True)
class Generation:
    """One generated sequence and how probable the model finds it.

    Attributes
    ----------
    tokens : tuple of int
        The generated ids: without the prompt, and without the end token.
    log_prob : float
        The sum of the log-probabilities of every generated token, the end token
        included when it was generated: ``log P(tokens, end | prompt)``.
    finished : bool
        Whether the end token was generated (otherwise ``max_new_tokens`` ran out).
    """

    tokens: tuple[int, ...]
    log_prob: float
    finished: bool

    @property
    def length(self) -> int:
        """The number of tokens scored: the generated ones, plus the end token if reached."""
        return len(self.tokens) + int(self.finished)

    # --8<-- [start:score]
    def score(self, alpha: float) -> float:
        """The length-normalised score ``log_prob / length ** alpha`` used to rank beams.

        ``alpha = 0`` ranks by total log-probability, which favours short outputs (each
        token adds a negative term); ``alpha = 1`` ranks by the mean log-probability per
        token; values in between (0.6-1.0 are common) trade one against the other.
        """
        return self.log_prob / max(self.length, 1) ** alpha

    # --8<-- [end:score]


# --8<-- [start:log_softmax]
def log_softmax(logits: ArrayLike) -> Array:
    """``log(softmax(logits))`` over the last axis, computed stably.

    ``logits - logsumexp(logits)``: no probability is formed, so a very improbable token
    gets a large negative number instead of ``log(0) = -inf``. ``-inf`` logits (tokens
    that may not come next) stay ``-inf``.

    Parameters
    ----------
    logits : array_like, shape (..., vocab_size)

    Returns
    -------
    numpy.ndarray of float64, same shape

    Raises
    ------
    TypeError
        If ``logits`` is not made of real numbers.
    ValueError
        If ``logits`` is empty, holds NaN or ``+inf``, or a row is entirely ``-inf``.

    Examples
    --------
    >>> log_softmax(np.array([0.0, 0.0, -np.inf])).round(4)
    array([-0.6931, -0.6931,    -inf])
    """
    x = _check_logits("logits", logits)
    return _log_softmax(x)


def _log_softmax(x: Array) -> Array:
    """``log_softmax`` on checked logits (finite or -inf, at least one finite per row)."""
    top = np.max(x, axis=-1, keepdims=True)  # (..., 1), finite: each row has a finite entry
    with np.errstate(under="ignore"):
        total = np.sum(np.exp(x - top), axis=-1, keepdims=True)  # (..., 1), >= 1
    return x - top - np.log(total)  # (..., vocab_size)


# --8<-- [end:log_softmax]


def _check_logits(name: str, logits: ArrayLike) -> Array:
    """Real-number logits of shape (..., vocab_size): finite or -inf, each row with a finite one."""
    if isinstance(logits, np.ma.MaskedArray):
        raise TypeError(f"{name} must be a plain array of logits, got a masked array")
    x = np.asarray(logits)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got {describe(x)}")
    x = x.astype(np.float64)
    if x.ndim == 0 or x.shape[-1] == 0:
        raise ValueError(
            f"{name} must have shape (..., vocab_size) with vocab_size >= 1, got shape {x.shape}"
        )
    if np.isnan(x).any() or np.isposinf(x).any():
        raise ValueError(f"{name} must not hold NaN or +inf (-inf marks a forbidden token), got {x}")
    if not np.isfinite(x).any(axis=-1).all():
        raise ValueError(f"{name} must leave at least one token possible in each row: every entry is -inf")
    return x


# --8<-- [start:filters]
def top_k_filter(logits: ArrayLike, k: int) -> Array:
    """Keep the ``k`` highest logits, set the others to ``-inf``.

    A token tied with the ``k``-th highest logit is kept too (as in Hugging Face's
    ``TopKLogitsWarper``), so a tie can keep more than ``k`` tokens.

    Parameters
    ----------
    logits : array_like, shape (vocab_size,)
    k : int
        How many tokens to keep, >= 1. A ``k`` of at least ``vocab_size`` keeps all.

    Returns
    -------
    numpy.ndarray of float64, shape (vocab_size,)

    Raises
    ------
    TypeError
        If ``k`` is not an integer or ``logits`` not real numbers.
    ValueError
        If ``k`` < 1, or ``logits`` is not a non-empty 1-D array that is finite or ``-inf``.

    Examples
    --------
    >>> top_k_filter(np.array([1.0, 3.0, 2.0, 0.5]), k=2)
    array([-inf,   3.,   2., -inf])
    """
    k = check_positive_int("k", k)
    x = _check_logits("logits", logits)
    if x.ndim != 1:
        raise ValueError(f"logits must have shape (vocab_size,), got shape {x.shape}")
    return _top_k(x, k)


def _top_k(x: Array, k: int) -> Array:
    """``top_k_filter`` on checked logits."""
    if k >= x.shape[-1]:
        return x.copy()
    kth = np.sort(x)[-k]  # the k-th highest logit
    return np.where(x >= kth, x, -np.inf)  # (vocab_size,)


def top_p_filter(logits: ArrayLike, p: float) -> Array:
    """Keep the smallest set of most probable tokens whose probabilities add up to ``p``.

    Nucleus sampling (Holtzman et al., 2020): sort the tokens by probability, keep them
    in that order until the running total reaches ``p`` (the token that crosses ``p`` is
    kept), set the rest to ``-inf``. The most probable token is always kept.

    Parameters
    ----------
    logits : array_like, shape (vocab_size,)
    p : float
        In (0, 1]; ``p = 1`` keeps every possible token.

    Returns
    -------
    numpy.ndarray of float64, shape (vocab_size,)

    Raises
    ------
    TypeError
        If ``p`` is not a number or ``logits`` not real numbers.
    ValueError
        If ``p`` is not in (0, 1] (NaN included), or ``logits`` is not a non-empty 1-D
        array that is finite or ``-inf``.

    Examples
    --------
    >>> probs = np.array([0.5, 0.3, 0.15, 0.05])
    >>> top_p_filter(np.log(probs), p=0.75).round(3)  # 0.5 + 0.3 reaches 0.75
    array([-0.693, -1.204,   -inf,   -inf])
    """
    p = _check_p(p)
    x = _check_logits("logits", logits)
    if x.ndim != 1:
        raise ValueError(f"logits must have shape (vocab_size,), got shape {x.shape}")
    return _top_p(x, p)


def _top_p(x: Array, p: float) -> Array:
    """``top_p_filter`` on checked logits."""
    order = np.argsort(-x, kind="stable")  # most probable first, ties by token id
    probs = np.exp(_log_softmax(x[order]))  # (vocab_size,), sorted
    before = np.cumsum(probs) - probs  # probability of the tokens ranked above each one
    keep_sorted = before < p  # keep a token while the total above it is still short of p
    keep = np.zeros(x.shape, dtype=bool)
    keep[order] = keep_sorted
    return np.where(keep, x, -np.inf)  # (vocab_size,)


# --8<-- [end:filters]


def _check_p(p: object) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)):
        raise TypeError(f"p must be a number in (0, 1], got {describe(p)}")
    if not 0.0 < float(p) <= 1.0:  # NaN fails this too
        raise ValueError(f"p must be in (0, 1], got {p}")
    return float(p)


def _check_temperature(temperature: object) -> float:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float, np.integer, np.floating)):
        raise TypeError(f"temperature must be a number > 0, got {describe(temperature)}")
    if not (math.isfinite(temperature) and temperature > 0):
        raise ValueError(f"temperature must be a finite number > 0 (use greedy for 0), got {temperature}")
    return float(temperature)


def _check_prompt(prompt: object) -> tuple[int, ...]:
    if isinstance(prompt, (str, bytes)) or not isinstance(prompt, (Sequence, np.ndarray)):
        raise TypeError(f"prompt must be a sequence of token ids, got {describe(prompt)}")
    arr = np.asarray(prompt)
    if arr.ndim != 1 or arr.size == 0 or (arr.dtype.kind not in "iu"):
        raise ValueError(f"prompt must be a non-empty 1-D sequence of integer token ids, got {describe(arr)}")
    if arr.min() < 0:
        raise ValueError(f"prompt must hold token ids >= 0, got {arr.min()}")
    return tuple(int(t) for t in arr)


def _check_step_fn(next_log_probs: object) -> NextLogProbs:
    if not callable(next_log_probs):
        raise TypeError(f"next_log_probs must be a function of a prefix, got {describe(next_log_probs)}")
    return next_log_probs


def _call(next_log_probs: NextLogProbs, prefix: tuple[int, ...]) -> Array:
    """The next token's log-probabilities, checked: the strategies trust nothing they are given."""
    out = np.asarray(next_log_probs(prefix))
    if out.ndim != 1 or out.size == 0 or out.dtype.kind != "f":
        raise ValueError(
            f"next_log_probs must return log-probabilities of shape (vocab_size,), got {describe(out)}"
        )
    if np.isnan(out).any() or (out > 1e-9).any() or not np.isfinite(out).any():
        raise ValueError(
            "next_log_probs must return log-probabilities: <= 0, no NaN, at least one finite; "
            f"got values from {out.min()} to {out.max()}"
        )
    return out


def _start(
    next_log_probs: object, prompt: object, max_new_tokens: object, eos_id: object
) -> tuple[NextLogProbs, tuple[int, ...], int, int]:
    """The checks every strategy makes at the door."""
    return (
        _check_step_fn(next_log_probs),
        _check_prompt(prompt),
        check_positive_int("max_new_tokens", max_new_tokens),
        check_positive_int("eos_id", eos_id, minimum=0),
    )


# --8<-- [start:greedy]
def greedy(
    next_log_probs: NextLogProbs, prompt: Sequence[int], *, max_new_tokens: int, eos_id: int
) -> Generation:
    """Greedy decoding: the most probable next token, every step, until ``eos_id``.

    Parameters
    ----------
    next_log_probs : NextLogProbs
        The model, as a function of the prefix.
    prompt : sequence of int
        The first tokens (for the encoder-decoder: ``[bos_id]``).
    max_new_tokens : int
        The most tokens to generate, the end token included.
    eos_id : int
        The end token: generation stops when it is produced.

    Returns
    -------
    Generation

    Raises
    ------
    TypeError, ValueError
        If an argument is not as described, or ``next_log_probs`` returns something that
        is not log-probabilities.

    Examples
    --------
    >>> table = np.log(np.array([[0.1, 0.2, 0.7], [0.6, 0.3, 0.1]]))  # from token 0, token 2
    >>> out = greedy(lambda prefix: table[prefix[-1] // 2], [0], max_new_tokens=5, eos_id=0)
    >>> out.tokens, round(out.log_prob, 4)  # 2 (p 0.7), then 0 (p 0.6) ends it
    ((2,), -0.8675)
    """
    next_log_probs, prefix, max_new_tokens, eos_id = _start(next_log_probs, prompt, max_new_tokens, eos_id)
    tokens: list[int] = []
    total = 0.0
    for _ in range(max_new_tokens):
        log_probs = _call(next_log_probs, prefix + tuple(tokens))  # (vocab_size,)
        chosen = int(np.argmax(log_probs))  # the first of equals, as argmax
        total += float(log_probs[chosen])
        if chosen == eos_id:
            return Generation(tuple(tokens), total, finished=True)
        tokens.append(chosen)
    return Generation(tuple(tokens), total, finished=False)


# --8<-- [end:greedy]


# --8<-- [start:sample]
def sample(
    next_log_probs: NextLogProbs,
    prompt: Sequence[int],
    *,
    max_new_tokens: int,
    eos_id: int,
    rng: np.random.Generator,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> Generation:
    """Sampling: draw each next token from the model's distribution, reshaped.

    Each step divides the log-probabilities by ``temperature`` (below 1 sharpens the
    distribution towards greedy, above 1 flattens it), keeps the ``top_k`` most probable
    tokens and then the nucleus of probability ``top_p`` (either or both may be left
    out), renormalises, and draws one token with ``rng``: the same seed draws the same
    tokens.

    Parameters
    ----------
    next_log_probs : NextLogProbs
    prompt : sequence of int
    max_new_tokens : int
    eos_id : int
    rng : numpy.random.Generator
        The source of randomness, e.g. ``np.random.default_rng(0)``.
    temperature : float
        > 0 and finite.
    top_k : int, optional
        >= 1.
    top_p : float, optional
        In (0, 1].

    Returns
    -------
    Generation
        ``log_prob`` is under the model itself (before temperature and filters), so
        generations drawn with different settings can be compared.

    Raises
    ------
    TypeError, ValueError
        If an argument is not as described (``temperature`` <= 0 or NaN, ``top_k`` < 1,
        ``top_p`` outside (0, 1], ``rng`` not a Generator, ...).

    Examples
    --------
    >>> table = np.log(np.array([0.5, 0.25, 0.25]))  # the same distribution every step
    >>> def run(seed):
    ...     rng = np.random.default_rng(seed)
    ...     return sample(lambda prefix: table, [1], max_new_tokens=8, eos_id=0, rng=rng).tokens
    >>> run(3) == run(3)  # the same seed, the same tokens
    True
    """
    next_log_probs, prefix, max_new_tokens, eos_id = _start(next_log_probs, prompt, max_new_tokens, eos_id)
    rng = check_rng(rng)
    temperature = _check_temperature(temperature)
    if top_k is not None:
        top_k = check_positive_int("top_k", top_k)
    if top_p is not None:
        top_p = _check_p(top_p)
    tokens: list[int] = []
    total = 0.0
    for _ in range(max_new_tokens):
        log_probs = _call(next_log_probs, prefix + tuple(tokens))  # (vocab_size,)
        logits = log_probs / temperature  # (vocab_size,): -inf stays -inf
        if top_k is not None:
            logits = _top_k(logits, top_k)
        if top_p is not None:
            logits = _top_p(logits, top_p)
        probs = np.exp(_log_softmax(logits))  # (vocab_size,), sums to 1
        cumulative = np.cumsum(probs)  # (vocab_size,)
        u = rng.random() * cumulative[-1]  # uniform in [0, total)
        chosen = min(int(np.searchsorted(cumulative, u, side="right")), len(probs) - 1)
        while probs[chosen] == 0.0:  # never a token the filters removed (rounding at the edge)
            chosen -= 1
        total += float(log_probs[chosen])
        if chosen == eos_id:
            return Generation(tuple(tokens), total, finished=True)
        tokens.append(chosen)
    return Generation(tuple(tokens), total, finished=False)


# --8<-- [end:sample]


# --8<-- [start:beam_search]
def beam_search(
    next_log_probs: NextLogProbs,
    prompt: Sequence[int],
    *,
    beam_size: int,
    max_new_tokens: int,
    eos_id: int,
    alpha: float = 1.0,
) -> list[Generation]:
    """Beam search: keep the ``beam_size`` most probable prefixes at every step.

    Each step extends every live prefix by each of its ``beam_size`` best tokens, and
    keeps the ``beam_size`` extensions of highest total log-probability. An extension
    that ends with ``eos_id`` is finished: it leaves the beam (which shrinks) and joins
    the finished list. The search stops when the beam is empty or after
    ``max_new_tokens`` steps (the prefixes still live are then returned unfinished).

    *Length normalisation.* Inside a step every candidate has the same length, so the
    totals compare fairly. Finished sequences have different lengths, and each token
    adds a negative log-probability: ranked by total, the shortest would usually win.
    They are ranked by ``log_prob / length ** alpha``
    ([Generation.score][transformer_primer.decoding.Generation.score]) instead.

    With ``beam_size = 1`` this is exactly [greedy][transformer_primer.decoding.greedy].

    Parameters
    ----------
    next_log_probs : NextLogProbs
    prompt : sequence of int
    beam_size : int
        >= 1.
    max_new_tokens : int
    eos_id : int
    alpha : float
        The length normalisation exponent, >= 0 and finite: 0 ranks by total
        log-probability, 1 by the mean per token.

    Returns
    -------
    list of Generation
        Every finished sequence (and those cut by ``max_new_tokens``), best first.

    Raises
    ------
    TypeError, ValueError
        If an argument is not as described (``beam_size`` < 1, ``alpha`` negative or NaN,
        ...).

    Examples
    --------
    >>> def log(*probs):  # log(0) = -inf: a token that cannot come
    ...     return np.log(np.array(probs), where=np.array(probs) > 0, out=np.full(len(probs), -np.inf))
    >>> first = log(0.0, 0.4, 0.6)  # after the prompt: token 1 or 2
    >>> after_1, after_2 = log(0.9, 0.1, 0.0), log(0.5, 0.0, 0.5)
    >>> def next_lp(prefix):
    ...     return first if len(prefix) == 1 else after_1 if prefix[-1] == 1 else after_2
    >>> greedy(next_lp, [1], max_new_tokens=2, eos_id=0).tokens  # 2 (0.6), then end (0.5): 0.30
    (2,)
    >>> best = beam_search(next_lp, [1], beam_size=2, max_new_tokens=2, eos_id=0)[0]
    >>> best.tokens, round(math.exp(best.log_prob), 2)  # 1 (0.4), then end (0.9): 0.36
    ((1,), 0.36)
    """
    next_log_probs, prefix, max_new_tokens, eos_id = _start(next_log_probs, prompt, max_new_tokens, eos_id)
    beam_size = check_positive_int("beam_size", beam_size)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float, np.integer, np.floating)):
        raise TypeError(f"alpha must be a number >= 0, got {describe(alpha)}")
    if not (math.isfinite(alpha) and alpha >= 0):
        raise ValueError(f"alpha must be a finite number >= 0, got {alpha}")
    beams: list[tuple[tuple[int, ...], float]] = [((), 0.0)]  # (tokens so far, total log-prob)
    finished: list[Generation] = []
    for _ in range(max_new_tokens):
        candidates: list[tuple[float, int, tuple[int, ...]]] = []  # (-total, rank, tokens)
        for tokens, total in beams:
            log_probs = _call(next_log_probs, prefix + tokens)  # (vocab_size,)
            best = np.argsort(-log_probs, kind="stable")[:beam_size]  # its beam_size best tokens
            for token in best:
                if np.isfinite(log_probs[token]):
                    new_total = total + float(log_probs[token])
                    candidates.append((-new_total, len(candidates), (*tokens, int(token))))
        candidates.sort()  # highest total first; ties keep the order found (as argmax does)
        beams = []
        for neg_total, _, tokens in candidates[:beam_size]:
            if tokens[-1] == eos_id:  # finished: it leaves the beam
                finished.append(Generation(tokens[:-1], -neg_total, finished=True))
            else:
                beams.append((tokens, -neg_total))
        if not beams:
            break
    finished.extend(Generation(tokens, total, finished=False) for tokens, total in beams)
    return sorted(finished, key=lambda g: -g.score(alpha))  # stable: ties stay in the order found


# --8<-- [end:beam_search]


# --8<-- [start:encoder_decoder_log_probs]
def encoder_decoder_log_probs(model: Transformer, src_ids: ArrayLike) -> NextLogProbs:
    """The encoder-decoder as a [NextLogProbs][transformer_primer.decoding.NextLogProbs] function.

    The source is encoded once; each call runs the whole decoder on the prefix (no cache:
    see [transformer_primer.kv_cache][] for the incremental form) and returns the last
    position's log-probabilities, with padding and the start token forbidden (``-inf``),
    as [Transformer.generate][transformer_primer.model.Transformer.generate] does.

    Parameters
    ----------
    model : Transformer
    src_ids : array_like of int, shape (n_x,)

    Returns
    -------
    NextLogProbs
        Called on a prefix that starts with ``bos_id`` and has at most ``max_len`` tokens.

    Raises
    ------
    TypeError, ValueError
        If ``model`` is not a Transformer or ``src_ids`` is not one valid sequence; the
        returned function, if a prefix is empty, too long or holds invalid ids.

    Examples
    --------
    >>> from transformer_primer import pretrained
    >>> reverse = pretrained("reverse")
    >>> next_lp = encoder_decoder_log_probs(reverse.model, reverse.encode("abc"))
    >>> out = greedy(next_lp, [reverse.model.config.bos_id], max_new_tokens=8, eos_id=2)
    >>> reverse.vocab.decode(list(out.tokens))
    'cba'
    """
    model, src_ids = _check_seq2seq_source(model, src_ids)
    memory = model._encode(src_ids, None, {})  # (n_x, d_model), computed once

    def next_log_probs(prefix: tuple[int, ...]) -> Array:
        ids = model._check_ids("prefix", np.asarray(prefix, dtype=np.int64))  # (n_y,)
        logits = model._decode(ids, memory, None, {})[-1]  # (n_y, vocab_size) -> (vocab_size,)
        return _log_softmax(model._forbid_specials(logits))  # (vocab_size,)

    return next_log_probs


# --8<-- [end:encoder_decoder_log_probs]


# --8<-- [start:gpt_log_probs]
def gpt_log_probs(model: GPT) -> NextLogProbs:
    """The decoder-only [GPT][transformer_primer.gpt.GPT] as a next-token function.

    The function is a [NextLogProbs][transformer_primer.decoding.NextLogProbs]: any decoding
    strategy of this module can drive it.

    Each call runs the whole model on the prefix (no cache: see
    [GPTKVCache][transformer_primer.kv_cache.GPTKVCache]) and returns the last position's
    log-probabilities, padding and the start token forbidden, as
    [GPT.generate][transformer_primer.gpt.GPT.generate] does.

    Parameters
    ----------
    model : GPT

    Returns
    -------
    NextLogProbs
        Called on a prefix (the prompt, then what was generated) of at most ``max_len`` tokens.

    Raises
    ------
    TypeError
        If ``model`` is not a GPT; the returned function, if a prefix is empty, too long or
        holds invalid ids.

    Examples
    --------
    >>> from transformer_primer.gpt import GPTConfig
    >>> gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), np.random.default_rng(0))
    >>> out = greedy(gpt_log_probs(gpt), [1, 3], max_new_tokens=3, eos_id=2)
    >>> list(out.tokens) == gpt.greedy_decode(np.array([1, 3]), 3)
    True
    """
    if not isinstance(model, GPT):
        raise TypeError(f"model must be a GPT, got {describe(model)}")

    def next_log_probs(prefix: tuple[int, ...]) -> Array:
        ids = model.check_ids("prefix", np.asarray(prefix, dtype=np.int64))  # (n,)
        logits = model.forward(ids, {})[-1]  # (n, vocab_size) -> (vocab_size,)
        return _log_softmax(model._forbid_specials(logits))  # (vocab_size,)

    return next_log_probs


# --8<-- [end:gpt_log_probs]


def _check_seq2seq_source(model: object, src_ids: ArrayLike) -> tuple[Transformer, NDArray[np.integer]]:
    """A Transformer and one checked source sequence of shape (n_x,)."""
    if not isinstance(model, Transformer):
        raise TypeError(f"model must be a Transformer, got {describe(model)}")
    ids = model._check_ids("src_ids", src_ids)
    if ids.ndim != 1:
        raise ValueError(f"src_ids must have shape (n_x,) for decoding, got shape {ids.shape}")
    return model, ids
