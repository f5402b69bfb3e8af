"""A decoder-only transformer (GPT): the encoder-decoder's own layers, causal, without cross-attention.

A GPT reads one sequence and scores, at every position, the token that comes next. It is
built from the pieces of the encoder-decoder: the token
[Embedding][transformer_primer.layers.Embedding] plus the same sinusoidal positions, a
stack of [EncoderLayer][transformer_primer.layers.EncoderLayer] blocks (self-attention and
feed-forward, nothing else) run with a [causal_mask][transformer_primer.masks.causal_mask],
pre-norm, a final [LayerNorm][transformer_primer.layers.LayerNorm] after the stack, and
the output projection. An encoder layer with a causal mask *is* a GPT block: what makes a
decoder-only model is the mask, not a new kind of layer.

``GPTConfig(positions=...)`` picks how order reaches attention: the sinusoidal table (the
default), a learned table, RoPE, ALiBi, or nothing (see ``POSITIONS``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_bool, check_positive_int, check_rng, check_size, describe
from .caches import EmbeddingCache, GPTCache
from .layers import Embedding, EncoderLayer, LayerNorm
from .masks import causal_mask
from .model import DecodeStep, _flatten
from .numerics import softmax
from .positional import sinusoidal_positional_encoding
from .regularization import Dropout

__all__ = ["GPT", "GPTConfig", "POSITIONS"]

Array = NDArray[np.floating]


@dataclass(frozen=True)
class GPTConfig:
    """Sizes of a decoder-only model; frozen so a model's shape cannot change under it.

    Raises
    ------
    TypeError
        If a size or a special id is not an integer, or ``positions`` is not a string.
    ValueError
        If a size is not positive, ``n_heads`` does not divide ``d_model``, the special
        ids are not distinct ids below ``vocab_size``, ``positions`` is not one of
        ``POSITIONS``, or RoPE is asked for with an odd ``d_k``.

    Examples
    --------
    >>> GPTConfig(vocab_size=15, d_model=64, n_heads=4).d_k
    16
    >>> GPTConfig(vocab_size=15, positions="rope").positions
    'rope'
    """

    vocab_size: int  # token ids 0 .. vocab_size - 1
    d_model: int = 64  # width of every token vector (GPT-2 small: 768)
    n_heads: int = 4  # attention heads; each sees d_k = d_model / n_heads columns
    d_ff: int = 256  # feed-forward hidden width (4 * d_model, as GPT-2)
    n_layers: int = 2  # blocks in the stack (GPT-2 small: 12)
    max_len: int = 16  # longest sequence (start token included), for the positional table
    pad_id: int = 0  # padding after the end of a shorter sequence; never a target, never generated
    bos_id: int = 1  # start symbol, the first token of every sequence
    eos_id: int = 2  # end symbol: generation stops when it is produced
    positions: str = "sinusoidal"  # how order reaches attention: one of POSITIONS (lessons/positions)
    tie_weights: bool = False  # output projection = embedding table transposed (Press and Wolf, 2017)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len"):
            check_positive_int(name, getattr(self, name))
        check_bool("tie_weights", self.tie_weights)
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model must be divisible by n_heads, got d_model={self.d_model}, n_heads={self.n_heads}"
            )
        specials = {"pad_id": self.pad_id, "bos_id": self.bos_id, "eos_id": self.eos_id}
        for name, value in specials.items():
            check_positive_int(name, value, minimum=0)
            if value >= self.vocab_size:
                raise ValueError(f"{name} must be < vocab_size = {self.vocab_size}, got {value}")
        if len(set(specials.values())) != 3:
            raise ValueError(f"pad_id, bos_id and eos_id must be distinct, got {specials}")
        _check_positions(self)

    @property
    def d_k(self) -> int:
        """Size of each head's queries, keys and values."""
        return self.d_model // self.n_heads


POSITIONS = ("sinusoidal", "learned", "rope", "alibi", "none")
"""The values of ``GPTConfig.positions``: added to the embeddings (the paper's sine waves, a
learned table), inside attention (RoPE turns queries and keys, ALiBi biases the scores), or
nothing at all (the causal mask alone)."""


def _check_positions(config: GPTConfig) -> None:
    """``config.positions`` is one of POSITIONS, and RoPE has pairs to turn (an even d_k)."""
    kinds = ", ".join(map(repr, POSITIONS))
    if not isinstance(config.positions, str):
        raise TypeError(f"positions must be a string, one of {kinds}, got {describe(config.positions)}")
    if config.positions not in POSITIONS:
        raise ValueError(f"positions must be one of {kinds}, got {config.positions!r}")
    if config.positions == "rope" and config.d_k % 2:
        raise ValueError(
            f"positions='rope' turns pairs of dimensions: d_k must be even, got d_k = {config.d_k}"
        )


def _named(dropout: Dropout, prefix: str) -> Callable[[Array, str], Array]:
    """``dropout`` for one block: its masks are named ``<prefix>.<sublayer>``."""
    return lambda x, name: dropout(x, f"{prefix}.{name}")


class GPT:
    """A decoder-only transformer: causal self-attention blocks, pre-norm, a final layer norm.

    ``logits(ids)`` runs ``ids`` (..., n) through

    1. ``embedding`` (an [Embedding][transformer_primer.layers.Embedding], scaled by
       sqrt(d_model)) plus ``positions[:n]`` (the encoder-decoder's sinusoidal table; with
       ``config.positions = "learned"`` a trained table, listed among the parameters; with
       ``"rope"``, ``"alibi"`` or ``"none"`` zeros, the positions entering inside each
       block's attention or not at all);
    2. ``layers``, a list of ``n_layers``
       [EncoderLayer][transformer_primer.layers.EncoderLayer] blocks built with
       ``norm_first=True``, each run with ``causal_mask(n)``: position ``t`` sees ``0..t``;
    3. ``final_norm``, a [LayerNorm][transformer_primer.layers.LayerNorm] (pre-norm leaves
       the stack's output un-normalised, so one norm closes it);
    4. the output projection ``w_out`` (d_model, vocab_size) and ``b_out`` (vocab_size,);
       with ``config.tie_weights``, ``w_out`` is the embedding table transposed (a view
       of ``embedding.weight``, not a parameter of its own).

    Row ``t`` of the logits scores the token that follows ``ids[..., t]``. These attribute
    names are stable: the backward pass ([gpt_backward][transformer_primer.grad.gpt_backward]),
    the PyTorch cross-check and the decoding code read them.

    Parameters
    ----------
    config : GPTConfig
        The sizes.
    rng : numpy.random.Generator
        Source of every initial weight: the same seed gives the same model.

    Raises
    ------
    TypeError
        If ``config`` is not a GPTConfig or ``rng`` not a Generator; or (in the methods)
        token ids are not integers.
    ValueError
        In the methods: ids that are not (n,) / (batch, n) with 1 <= n <= max_len, ids
        outside ``0 .. vocab_size - 1``, or ``max_new_tokens`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), np.random.default_rng(0))
    >>> gpt.logits(np.array([1, 3, 4])).shape  # (n, vocab_size)
    (3, 7)
    >>> len(gpt.layers), type(gpt.layers[0]).__name__
    (2, 'EncoderLayer')
    """

    def __init__(self, config: GPTConfig, rng: np.random.Generator) -> None:
        if not isinstance(config, GPTConfig):
            raise TypeError(f"config must be a GPTConfig, got {describe(config)}")
        rng = check_rng(rng)
        c = config
        per_layer = 4 * c.d_model**2 + 2 * c.d_model * c.d_ff  # attention and feed-forward weights
        total = (2 * c.vocab_size + c.max_len) * c.d_model + c.n_layers * per_layer
        check_size("config", (total,), np.float64, f"a model of about {total:,} numbers")
        self.config = c
        self.embedding = Embedding(c.vocab_size, c.d_model, rng)
        self.positions = sinusoidal_positional_encoding(c.max_len, c.d_model)  # (max_len, d_model)
        self.layers = [
            EncoderLayer(c.d_model, c.n_heads, c.d_ff, rng, norm_first=True) for _ in range(c.n_layers)
        ]
        self.final_norm = LayerNorm(c.d_model)
        bound = 1.0 / np.sqrt(c.d_model)
        self._w_out: Array | None = (
            None if c.tie_weights else rng.uniform(-bound, bound, (c.d_model, c.vocab_size))
        )  # (d_model, vocab_size), or none of its own when tied
        self.b_out: Array = np.zeros(c.vocab_size)  # (vocab_size,)
        self._set_up_positions(rng)

    def _set_up_positions(self, rng: np.random.Generator) -> None:
        """The position kind of ``config.positions``; drawn last, so the other weights do not move.

        ``positions`` stays the table added to the embeddings: the sine waves, a learned table
        (normal, standard deviation 0.02, as GPT-2; a parameter), or zeros when the positions
        enter inside attention (RoPE, ALiBi) or not at all ("none").
        """
        kind, c = self.config.positions, self.config
        if kind == "learned":
            self.positions = rng.normal(0.0, 0.02, (c.max_len, c.d_model))  # (max_len, d_model)
        elif kind != "sinusoidal":
            self.positions = np.zeros((c.max_len, c.d_model))  # (max_len, d_model): nothing added
        for layer in self.layers:
            layer.self_attn.rotary = kind == "rope"
            layer.self_attn.alibi = kind == "alibi"

    @property
    def w_out(self) -> Array:
        """The output projection, (d_model, vocab_size); tied: ``embedding.weight.T``, a view."""
        return self.embedding.weight.T if self._w_out is None else self._w_out

    def parameters(self) -> dict[str, Array]:
        """Every learnable array, by dotted name (the arrays themselves).

        ``embedding.weight``, ``layers.<i>.<name>`` (as ``EncoderLayer.parameters()``),
        ``final_norm.gamma``, ``final_norm.beta``, ``w_out``, ``b_out``; and ``positions``
        when the positions are learned. With tied weights there is no ``w_out``: the one table
        is listed once, as ``embedding.weight``.
        """
        params = {f"embedding.{n}": a for n, a in self.embedding.parameters().items()}
        for i, layer in enumerate(self.layers):
            params.update({f"layers.{i}.{n}": a for n, a in layer.parameters().items()})
        params.update({f"final_norm.{n}": a for n, a in self.final_norm.parameters().items()})
        if self._w_out is not None:
            params["w_out"] = self._w_out
        params["b_out"] = self.b_out
        if self.config.positions == "learned":
            params["positions"] = self.positions  # (max_len, d_model), trained like the rest
        return params

    def check_ids(self, name: str, ids: ArrayLike) -> NDArray[np.integer]:
        """``ids`` as an integer array of shape (n,) or (batch, n), 1 <= n <= max_len, in the vocabulary.

        Raises
        ------
        TypeError
            If the ids are not integers.
        ValueError
            If the shape, the length or a value is out of range; the message names ``name``.
        """
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integer token ids, got {describe(arr)}")
        if arr.ndim not in (1, 2) or arr.shape[-1] == 0 or arr.size == 0:
            raise ValueError(f"{name} must have shape (n,) or (batch, n) with n >= 1, got shape {arr.shape}")
        if arr.shape[-1] > self.config.max_len:
            raise ValueError(
                f"{name} is longer than max_len = {self.config.max_len}: got length {arr.shape[-1]}"
            )
        vocab_size = self.config.vocab_size
        if arr.min() < 0 or arr.max() >= vocab_size:
            raise ValueError(
                f"{name} must be in 0..{vocab_size - 1} (vocab_size = {vocab_size}), "
                f"got values from {arr.min()} to {arr.max()}"
            )
        return arr

    def _embed(self, ids: NDArray[np.integer], cache: EmbeddingCache) -> Array:
        """Token embeddings plus positions, on ids already checked: (..., n) -> (..., n, d_model)."""
        return self.embedding.forward(ids, cache) + self.positions[: ids.shape[-1]]  # (..., n, d_model)

    def logits(self, ids: ArrayLike, *, cache: GPTCache | None = None) -> Array:
        """Next-token logits at every position.

        Parameters
        ----------
        ids : array_like of int, shape (n,) or (batch, n)
            The sequence so far, starting with ``bos_id``; padding may follow the end (the
            causal mask keeps it from reaching any earlier position).
        cache : GPTCache, optional
            When given, keeps what the backward pass needs: ``cache["embed"]``, one record
            per block in ``cache["layers"]``, ``cache["final_norm"]`` and the normalised
            states ``cache["h"]``.

        Returns
        -------
        numpy.ndarray, shape (n, vocab_size) or (batch, n, vocab_size)
            Row ``t`` scores the token that follows ``ids[..., t]``.
        """
        ids = self.check_ids("ids", ids)
        return self.forward(ids, {} if cache is None else cache)

    # --8<-- [start:forward]
    def forward(
        self,
        ids: NDArray[np.integer],
        cache: GPTCache,
        dropout: Dropout | None = None,
    ) -> Array:
        """``logits``, on ids already checked; ``dropout`` in training only (see grad)."""
        cache["embed"], cache["layers"], cache["final_norm"] = {}, [{} for _ in self.layers], {}
        x = self._embed(ids, cache["embed"])  # (..., n) -> (..., n, d_model)
        if dropout is not None:  # training with dropout: on the sum of embeddings and positions
            cache["dropout"], x = dropout, dropout(x, "embed")
        mask = causal_mask(ids.shape[-1])  # (n, n): position t sees 0..t only
        for i, (layer, layer_cache) in enumerate(zip(self.layers, cache["layers"], strict=True)):
            drop = None if dropout is None else _named(dropout, f"layers.{i}")  # sublayer outputs
            x = layer.forward(x, mask, layer_cache, drop)  # (..., n, d_model), pre-norm block
        h = self.final_norm.forward(x, cache["final_norm"])  # (..., n, d_model): the stack, normalised
        cache["h"] = h
        return h @ self.w_out + self.b_out  # (..., n, d_model) -> (..., n, vocab_size)

    # --8<-- [end:forward]

    def _forbid_specials(self, logits: Array) -> Array:
        """Logits (..., vocab_size) with padding and the start token set to -inf: never generated."""
        logits = logits.copy()
        logits[..., [self.config.pad_id, self.config.bos_id]] = -np.inf
        return logits

    # --8<-- [start:generate]
    def generate(self, ids: ArrayLike, max_new_tokens: int) -> Iterator[DecodeStep]:
        """Greedy generation after ``ids``, one [DecodeStep][transformer_primer.model.DecodeStep] at a time.

        Each step runs the whole sequence so far and keeps the last row of the logits.
        Stops after producing ``eos_id``, after ``max_new_tokens`` steps, or when the
        sequence fills ``max_len``, whichever comes first.

        Parameters
        ----------
        ids : array_like of int, shape (n,)
            The prompt (starting with ``bos_id``), no batch axis.
        max_new_tokens : int
            The most tokens to generate (the end token included).

        Yields
        ------
        DecodeStep
        """
        ids = self.check_ids("ids", ids)
        if ids.ndim != 1:
            raise ValueError(f"ids must have shape (n,) for generation, got shape {ids.shape}")
        max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
        seq = [int(i) for i in ids]
        for _ in range(min(max_new_tokens, self.config.max_len - len(seq) + 1)):
            logits = self.forward(np.array(seq), {})[-1]  # (n, vocab_size) -> (vocab_size,)
            probs = softmax(self._forbid_specials(logits))  # (vocab_size,), 0 for padding and start
            chosen = int(np.argmax(probs))
            yield DecodeStep(list(seq), probs, chosen)
            if chosen == self.config.eos_id or len(seq) == self.config.max_len:
                return
            seq.append(chosen)

    # --8<-- [end:generate]

    def greedy_decode(self, ids: ArrayLike, max_new_tokens: int) -> list[int]:
        """The generated ids after the prompt ``ids`` (n,), without the end token.

        Examples
        --------
        >>> import numpy as np
        >>> gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), np.random.default_rng(0))
        >>> len(gpt.greedy_decode(np.array([1, 3]), max_new_tokens=3)) <= 3
        True
        """
        steps = list(self.generate(ids, max_new_tokens))
        return [s.chosen for s in steps if s.chosen != self.config.eos_id]

    def greedy_decode_batch(self, ids: ArrayLike, max_new_tokens: int) -> list[list[int]]:
        """Greedy generation for a batch of prompts of the same length; the same ids as one by one.

        Parameters
        ----------
        ids : array_like of int, shape (batch, n)
            Prompts of equal length (no padding: a prompt's last token is the one continued).
        max_new_tokens : int

        Returns
        -------
        list of list of int
            For each prompt, the generated ids without the end token.

        Examples
        --------
        >>> import numpy as np
        >>> gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), np.random.default_rng(0))
        >>> prompts = np.array([[1, 3, 4], [1, 5, 6]])
        >>> gpt.greedy_decode_batch(prompts, 4) == [gpt.greedy_decode(p, 4) for p in prompts]
        True
        """
        ids = self.check_ids("ids", ids)
        if ids.ndim != 2:
            raise ValueError(f"ids must have shape (batch, n), got shape {ids.shape}")
        max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
        c = self.config
        seq = ids.astype(np.int64)  # (batch, n)
        done = np.zeros(len(seq), dtype=bool)  # (batch,)
        out: list[list[int]] = [[] for _ in seq]
        for _ in range(min(max_new_tokens, c.max_len - ids.shape[1] + 1)):
            logits = self.forward(seq, {})[:, -1]  # (batch, n, V) -> (batch, V)
            chosen = np.argmax(self._forbid_specials(logits), axis=-1)  # (batch,)
            for row in np.flatnonzero(~done):
                if chosen[row] != c.eos_id:
                    out[row].append(int(chosen[row]))
            done |= chosen == c.eos_id
            if done.all() or seq.shape[1] == c.max_len:
                break
            seq = np.concatenate([seq, chosen[:, None]], axis=1)  # (batch, n) -> (batch, n + 1)
        return out

    def run_with_cache(self, ids: ArrayLike) -> tuple[Array, dict[str, NDArray[np.generic]]]:
        """One pass: the logits, and every value the layers kept, by dotted name.

        The names follow ``parameters()``: ``"layers.0.self_attn.weights"`` (..., n_heads, n, n),
        zero above the diagonal; ``"final_norm.x_hat"``; ``"h"``, the normalised states
        (..., n, d_model) before ``w_out``; ``"embed.ids"``; and every field of
        [transformer_primer.caches][] under ``"layers.<i>."``.

        Parameters
        ----------
        ids : array_like of int, shape (n,) or (batch, n)

        Returns
        -------
        logits : numpy.ndarray, shape (n, vocab_size) or (batch, n, vocab_size)
        cache : dict of str to numpy.ndarray

        Examples
        --------
        >>> import numpy as np
        >>> gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), np.random.default_rng(0))
        >>> logits, cache = gpt.run_with_cache(np.array([1, 3, 4]))
        >>> cache["layers.1.self_attn.weights"].shape  # (n_heads, n, n)
        (2, 3, 3)
        """
        ids = self.check_ids("ids", ids)
        cache: GPTCache = {}
        logits = self.forward(ids, cache)
        flat: dict[str, NDArray[np.generic]] = {"h": cache["h"]}
        _flatten("embed", cache["embed"], flat)
        _flatten("layers", {"layers": cache["layers"]}, flat)  # "layers.0.self_attn.weights", ...
        _flatten("final_norm", cache["final_norm"], flat)
        return logits, flat
