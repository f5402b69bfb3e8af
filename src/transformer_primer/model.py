"""The encoder-decoder transformer: a frozen config, the model, and greedy decoding."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_bool, check_positive_int, describe
from .layers import DecoderLayer, Embedding, EncoderLayer
from .masks import causal_mask
from .numerics import softmax
from .positional import sinusoidal_positional_encoding

__all__ = ["DecodeStep", "Transformer", "TransformerConfig"]

Array = NDArray[np.floating]


@dataclass(frozen=True)
class TransformerConfig:
    """Sizes of a transformer; frozen so a model's shape cannot change under it.

    Raises
    ------
    TypeError
        If a size or a special id is not an integer, or ``norm_first`` is not a bool.
    ValueError
        If a size is not positive, ``n_heads`` does not divide ``d_model``, or the special
        ids are not distinct ids below ``vocab_size``.

    Examples
    --------
    >>> TransformerConfig(vocab_size=10, d_model=8, n_heads=2, d_ff=16).d_k
    4
    """

    vocab_size: int  # token ids 0 .. vocab_size - 1, shared by input and output
    d_model: int = 32  # width of every token vector (the paper: 512)
    n_heads: int = 4  # attention heads; each sees d_k = d_model / n_heads columns
    d_ff: int = 64  # feed-forward hidden width (the paper: 4 * d_model)
    n_layers: int = 1  # encoder layers, and as many decoder layers (the paper: 6)
    max_len: int = 64  # longest sequence, for the positional encoding table
    norm_first: bool = False  # False: post-norm as in the paper; True: pre-norm
    pad_id: int = 0  # padding, never attended to, never generated
    bos_id: int = 1  # start symbol fed to the decoder first (distinct from padding)
    eos_id: int = 2  # end symbol: decoding stops when it is produced

    def __post_init__(self) -> None:
        for name in ("vocab_size", "d_model", "n_heads", "d_ff", "n_layers", "max_len"):
            check_positive_int(name, getattr(self, name))
        check_bool("norm_first", self.norm_first)
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

    @property
    def d_k(self) -> int:
        """Size of each head's queries, keys and values."""
        return self.d_model // self.n_heads


@dataclass(frozen=True)
class DecodeStep:
    """One step of greedy decoding, for traces.

    Attributes
    ----------
    input_ids : list of int
        What the decoder was given (starting with ``bos_id``).
    probs : numpy.ndarray, shape (vocab_size,)
        The next-token distribution.
    chosen : int
        The token picked (the most probable one).
    """

    input_ids: list[int]
    probs: Array
    chosen: int


class Transformer:
    """An encoder-decoder transformer (Vaswani et al., 2017), small and exact.

    Parameters
    ----------
    config : TransformerConfig
        The sizes.
    rng : numpy.random.Generator
        Source of every initial weight: the same seed gives the same model.

    Raises
    ------
    TypeError
        If ``config`` is not a TransformerConfig or ``rng`` not a Generator; or (in the
        methods) token ids are not integers, ``memory`` is not a float64 array, or a mask
        is not boolean.
    ValueError
        In the methods: token ids that are not (n,) / (batch, n) with 1 <= n <= max_len,
        ids outside ``0 .. vocab_size - 1``, a ``memory`` that is not (n_x, d_model) /
        (batch, n_x, d_model) or not finite, a mask that does not broadcast to the
        scores, or ``max_new_tokens`` < 1.

    Examples
    --------
    >>> import numpy as np
    >>> config = TransformerConfig(vocab_size=6, d_model=8, n_heads=2, d_ff=16)
    >>> model = Transformer(config, np.random.default_rng(0))
    >>> model.encode(np.array([3, 4, 5])).shape
    (3, 8)
    >>> ids = model.greedy_decode(np.array([3, 4, 5]), max_new_tokens=4)
    >>> len(ids) <= 4
    True
    """

    def __init__(self, config: TransformerConfig, rng: np.random.Generator) -> None:
        if not isinstance(config, TransformerConfig):
            raise TypeError(f"config must be a TransformerConfig, got {describe(config)}")
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
        c = config
        self.config = c
        self.embedding = Embedding(c.vocab_size, c.d_model, rng)  # shared by encoder and decoder
        self.positions = sinusoidal_positional_encoding(c.max_len, c.d_model)  # (max_len, d_model)
        self.encoder_layers = [
            EncoderLayer(c.d_model, c.n_heads, c.d_ff, rng, c.norm_first) for _ in range(c.n_layers)
        ]
        self.decoder_layers = [
            DecoderLayer(c.d_model, c.n_heads, c.d_ff, rng, c.norm_first) for _ in range(c.n_layers)
        ]
        bound = 1.0 / np.sqrt(c.d_model)
        self.w_out = rng.uniform(-bound, bound, (c.d_model, c.vocab_size))  # (d_model, vocab_size)
        self.b_out = np.zeros(c.vocab_size)  # (vocab_size,)

    def parameters(self) -> dict[str, Array]:
        """Every learnable array, by dotted name (the arrays themselves)."""
        params = {f"embedding.{n}": a for n, a in self.embedding.parameters().items()}
        for kind, layers in (("encoder", self.encoder_layers), ("decoder", self.decoder_layers)):
            for i, layer in enumerate(layers):
                params.update({f"{kind}.{i}.{n}": a for n, a in layer.parameters().items()})
        params["w_out"], params["b_out"] = self.w_out, self.b_out
        return params

    def _check_ids(self, name: str, ids: ArrayLike) -> NDArray[np.integer]:
        arr = np.asarray(ids)
        if arr.dtype.kind not in "iu":
            raise TypeError(f"{name} must be integer token ids, got {describe(arr)}")
        if arr.ndim not in (1, 2) or arr.shape[-1] == 0:
            raise ValueError(f"{name} must have shape (n,) or (batch, n) with n >= 1, got shape {arr.shape}")
        if arr.shape[-1] > self.config.max_len:
            raise ValueError(
                f"{name} is longer than max_len = {self.config.max_len}: got length {arr.shape[-1]}"
            )
        return arr

    def embed(self, ids: ArrayLike, *, cache: dict | None = None) -> Array:
        """Token embeddings (scaled by sqrt(d_model)) plus positional encodings.

        ``ids`` (..., n) -> (..., n, d_model). With a ``cache`` dict, the embedding keeps
        the ids for the backward pass (the positional table is fixed: nothing to learn).
        """
        ids = self._check_ids("ids", ids)
        n = ids.shape[-1]
        return self.embedding(ids, cache=cache) + self.positions[:n]  # (..., n, d_model)

    def source_mask(self, src_ids: ArrayLike) -> NDArray[np.bool_]:
        """Which source positions are real tokens rather than padding, as a key mask.

        Parameters
        ----------
        src_ids : array_like of int, shape (n_x,) or (batch, n_x)
            Source ids, padded with ``pad_id`` at the end.

        Returns
        -------
        numpy.ndarray of bool, shape (1, n_x) or (batch, 1, n_x)
            ``True`` where the key is a real token; broadcasts against scores of shape
            (..., n_q, n_x) for the encoder's self-attention and the cross-attention.

        Examples
        --------
        >>> import numpy as np
        >>> model = Transformer(TransformerConfig(vocab_size=6, d_model=4, n_heads=2), np.random.default_rng(0))
        >>> model.source_mask(np.array([[3, 4, 0], [5, 0, 0]])).astype(int)  # pad_id = 0
        array([[[1, 1, 0]],
        <BLANKLINE>
               [[1, 0, 0]]])
        """
        src_ids = self._check_ids("src_ids", src_ids)
        return (src_ids != self.config.pad_id)[..., None, :]  # (..., n_x) -> (..., 1, n_x)

    # --8<-- [start:encode]
    def encode(
        self, src_ids: ArrayLike, src_mask: ArrayLike | None = None, *, cache: dict | None = None
    ) -> Array:
        """Run the encoder stack.

        Parameters
        ----------
        src_ids : array_like of int, shape (n_x,) or (batch, n_x)
        src_mask : array_like of bool, optional, broadcastable to (..., n_x, n_x)
            Hides padded source positions (keys).
        cache : dict, optional
            When given, keeps what the backward pass needs: ``cache["embed"]`` and one dict
            per layer in ``cache["layers"]``.

        Returns
        -------
        numpy.ndarray, shape (n_x, d_model) or (batch, n_x, d_model)
            The encoder output ("memory"), one vector per source token.
        """
        caches = _layer_caches(cache, len(self.encoder_layers))
        x = self.embed(src_ids, cache=caches["embed"])  # (..., n_x) -> (..., n_x, d_model)
        for layer, layer_cache in zip(self.encoder_layers, caches["layers"], strict=True):
            x = layer(x, src_mask, cache=layer_cache)  # (..., n_x, d_model)
        return x
    # --8<-- [end:encode]

    # --8<-- [start:decode]
    def decode(
        self,
        tgt_ids: ArrayLike,
        memory: ArrayLike,
        memory_mask: ArrayLike | None = None,
        *,
        cache: dict | None = None,
    ) -> Array:
        """Run the decoder stack and the output projection: next-token logits.

        Parameters
        ----------
        tgt_ids : array_like of int, shape (n_y,) or (batch, n_y)
            The output so far, starting with ``bos_id``.
        memory : array_like, shape (n_x, d_model) or (batch, n_x, d_model)
            The encoder output.
        memory_mask : array_like of bool, optional, broadcastable to (..., n_y, n_x)
            Hides padded source positions.
        cache : dict, optional
            When given, keeps what the backward pass needs: ``cache["embed"]``, one dict per
            layer in ``cache["layers"]`` and the last decoder states in ``cache["y"]``.

        Returns
        -------
        numpy.ndarray, shape (n_y, vocab_size) or (batch, n_y, vocab_size)
            Row ``t`` scores the token that follows ``tgt_ids[..., t]``.
        """
        caches = _layer_caches(cache, len(self.decoder_layers))
        y = self.embed(tgt_ids, cache=caches["embed"])  # (..., n_y) -> (..., n_y, d_model)
        self_mask = causal_mask(y.shape[-2])  # (n_y, n_y): position t sees 0..t only
        for layer, layer_cache in zip(self.decoder_layers, caches["layers"], strict=True):
            y = layer(y, memory, self_mask, memory_mask, cache=layer_cache)  # (..., n_y, d_model)
        if cache is not None:
            cache["y"] = y
        return y @ self.w_out + self.b_out  # (..., n_y, d_model) -> (..., n_y, vocab_size)
    # --8<-- [end:decode]

    def _forbid_specials(self, logits: Array) -> Array:
        """Logits (..., vocab_size) with padding and the start token set to -inf: never generated."""
        logits = logits.copy()
        logits[..., [self.config.pad_id, self.config.bos_id]] = -np.inf
        return logits

    # --8<-- [start:generate]
    def generate(self, src_ids: ArrayLike, max_new_tokens: int) -> Iterator[DecodeStep]:
        """Greedy decoding, one [DecodeStep][transformer_primer.model.DecodeStep] at a time.

        Stops after producing ``eos_id`` or after ``max_new_tokens`` steps, whichever
        comes first, so it always ends.

        Parameters
        ----------
        src_ids : array_like of int, shape (n_x,)
            One source sequence (no batch axis).
        max_new_tokens : int
            The most tokens to generate (the end token included).

        Yields
        ------
        DecodeStep
        """
        src_ids = self._check_ids("src_ids", src_ids)
        if src_ids.ndim != 1:
            raise ValueError(f"src_ids must have shape (n_x,) for decoding, got shape {src_ids.shape}")
        max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
        limit = min(max_new_tokens, self.config.max_len - 1)  # the decoder input holds bos + tokens
        memory = self.encode(src_ids)  # (n_x, d_model), computed once
        ys = [self.config.bos_id]
        for _ in range(limit):
            logits = self.decode(np.array(ys), memory)[-1]  # (n_y, vocab_size) -> last row (vocab_size,)
            probs = softmax(self._forbid_specials(logits))  # (vocab_size,), 0 for padding and start
            chosen = int(np.argmax(probs))
            yield DecodeStep(list(ys), probs, chosen)
            if chosen == self.config.eos_id:
                return
            ys.append(chosen)
    # --8<-- [end:generate]

    def greedy_decode(self, src_ids: ArrayLike, max_new_tokens: int) -> list[int]:
        """The generated token ids, without the start and end tokens.

        Parameters
        ----------
        src_ids : array_like of int, shape (n_x,)
        max_new_tokens : int

        Returns
        -------
        list of int
        """
        steps = list(self.generate(src_ids, max_new_tokens))
        return [s.chosen for s in steps if s.chosen != self.config.eos_id]

    # --8<-- [start:greedy_decode_batch]
    def greedy_decode_batch(self, src_ids: ArrayLike, max_new_tokens: int) -> list[list[int]]:
        """Greedy decoding of a whole batch at once; the same tokens as one by one.

        Every sequence advances one token per step; a sequence that has produced
        ``eos_id`` is fed padding until all are done or ``max_new_tokens`` steps have run.

        Parameters
        ----------
        src_ids : array_like of int, shape (batch, n_x)
            Source sequences padded at the end with ``pad_id``.
        max_new_tokens : int
            The most tokens to generate per sequence (the end token included).

        Returns
        -------
        list of list of int
            For each sequence, the generated ids without the start and end tokens.

        Examples
        --------
        >>> import numpy as np
        >>> config = TransformerConfig(vocab_size=6, d_model=8, n_heads=2, d_ff=16)
        >>> model = Transformer(config, np.random.default_rng(0))
        >>> src = np.array([[3, 4, 5], [5, 3, 0]])
        >>> batch = model.greedy_decode_batch(src, max_new_tokens=4)
        >>> batch == [model.greedy_decode(src[0], 4), model.greedy_decode(src[1][:2], 4)]
        True
        """
        src_ids = self._check_ids("src_ids", src_ids)
        if src_ids.ndim != 2:
            raise ValueError(f"src_ids must have shape (batch, n_x), got shape {src_ids.shape}")
        max_new_tokens = check_positive_int("max_new_tokens", max_new_tokens)
        c = self.config
        limit = min(max_new_tokens, c.max_len - 1)
        src_mask = self.source_mask(src_ids)  # (batch, 1, n_x)
        memory = self.encode(src_ids, src_mask)  # (batch, n_x, d_model), computed once
        ys = np.full((len(src_ids), 1), c.bos_id)  # (batch, 1)
        done = np.zeros(len(src_ids), dtype=bool)  # (batch,)
        for _ in range(limit):
            logits = self.decode(ys, memory, src_mask)[:, -1]  # (batch, n_y, vocab_size) -> (batch, vocab_size)
            chosen = np.where(done, c.pad_id, np.argmax(self._forbid_specials(logits), axis=-1))  # (batch,)
            ys = np.concatenate([ys, chosen[:, None]], axis=1)  # (batch, n_y) -> (batch, n_y + 1)
            done |= chosen == c.eos_id
            if done.all():
                break
        out = [[int(t) for t in row[1:]] for row in ys]  # drop the start token
        return [row[: row.index(c.eos_id)] if c.eos_id in row else row for row in out]  # cut at the end token
    # --8<-- [end:greedy_decode_batch]


def _layer_caches(cache: dict | None, n_layers: int) -> dict:
    """Sub-caches for the embedding and each layer (all None when not caching)."""
    if cache is None:
        return {"embed": None, "layers": [None] * n_layers}
    cache["embed"] = {}
    cache["layers"] = [{} for _ in range(n_layers)]
    return cache
