"""The encoder-decoder transformer: a frozen config, the model, and greedy decoding."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import (
    check_bool,
    check_bool_mask,
    check_features,
    check_positive_int,
    check_rng,
    check_size,
    describe,
)
from .caches import DecoderCache, EmbeddingCache, EncoderCache
from .layers import DecoderLayer, Embedding, EncoderLayer, HasParameters, LayerNorm
from .masks import causal_mask
from .numerics import softmax
from .positional import sinusoidal_positional_encoding

__all__ = ["DecodeStep", "Transformer", "TransformerConfig"]

Array = NDArray[np.floating]
Mask = NDArray[np.bool_]


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
    norm_first: bool = False  # False: post-norm as in the paper; True: pre-norm, + a final norm per stack
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

    Pre-norm (``config.norm_first``) leaves each stack's output un-normalised: the sum of
    the embedding and every sublayer's output. So a pre-norm model closes each stack with a
    final [LayerNorm][transformer_primer.layers.LayerNorm], ``encoder_norm`` (its output is
    the memory) and ``decoder_norm`` (before ``w_out``), as PyTorch's ``nn.Transformer``,
    GPT-2 and the Annotated Transformer do. A post-norm stack already ends in a norm: both
    are ``None`` there.

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
        rng = check_rng(rng)
        c = config
        per_layer = 12 * c.d_model**2 + 4 * c.d_model * c.d_ff  # an encoder and a decoder layer's weights
        total = (2 * c.vocab_size + c.max_len) * c.d_model + c.n_layers * per_layer
        check_size("config", (total,), np.float64, f"a model of about {total:,} numbers")
        self.config = c
        self.embedding = Embedding(c.vocab_size, c.d_model, rng)  # shared by encoder and decoder
        self.positions = sinusoidal_positional_encoding(c.max_len, c.d_model)  # (max_len, d_model)
        self.encoder_layers = [
            EncoderLayer(c.d_model, c.n_heads, c.d_ff, rng, c.norm_first) for _ in range(c.n_layers)
        ]
        self.decoder_layers = [
            DecoderLayer(c.d_model, c.n_heads, c.d_ff, rng, c.norm_first) for _ in range(c.n_layers)
        ]
        # pre-norm: one norm closes each stack (its sum of residuals is not normalised otherwise)
        self.encoder_norm = LayerNorm(c.d_model) if c.norm_first else None
        self.decoder_norm = LayerNorm(c.d_model) if c.norm_first else None
        bound = 1.0 / np.sqrt(c.d_model)
        self.w_out: Array = rng.uniform(-bound, bound, (c.d_model, c.vocab_size))  # (d_model, vocab_size)
        self.b_out: Array = np.zeros(c.vocab_size)  # (vocab_size,)

    def parameters(self) -> dict[str, Array]:
        """Every learnable array, by dotted name (the arrays themselves).

        ``embedding.weight``, ``encoder.<i>.<name>`` and ``decoder.<i>.<name>`` (as the
        layers' ``parameters()``), in a pre-norm model ``encoder_norm.gamma``,
        ``encoder_norm.beta``, ``decoder_norm.gamma``, ``decoder_norm.beta``, then ``w_out``,
        ``b_out``.
        """
        params = {f"embedding.{n}": a for n, a in self.embedding.parameters().items()}
        stacks: tuple[tuple[str, Sequence[HasParameters], LayerNorm | None], ...] = (
            ("encoder", self.encoder_layers, self.encoder_norm),
            ("decoder", self.decoder_layers, self.decoder_norm),
        )
        for kind, layers, norm in stacks:
            for i, layer in enumerate(layers):
                params.update({f"{kind}.{i}.{n}": a for n, a in layer.parameters().items()})
            if norm is not None:
                params.update({f"{kind}_norm.{n}": a for n, a in norm.parameters().items()})
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
        if arr.size == 0:
            raise ValueError(f"{name} must hold at least one sequence, got shape {arr.shape}")
        vocab_size = self.config.vocab_size
        if arr.min() < 0 or arr.max() >= vocab_size:
            raise ValueError(
                f"{name} must be in 0..{vocab_size - 1} (vocab_size = {vocab_size}), "
                f"got values from {arr.min()} to {arr.max()}"
            )
        return arr

    def _check_mask(
        self, name: str, mask: ArrayLike | None, lead: tuple[int, ...], n_q: int, n_k: int
    ) -> Mask | None:
        """A key mask checked against scores of shape (*lead, n_q, n_k), or None."""
        return None if mask is None else check_bool_mask(name, mask, (*lead, n_q, n_k), "(..., n_q, n_k)")

    def _check_memory(
        self, memory: ArrayLike, memory_mask: ArrayLike | None, tgt_shape: tuple[int, ...]
    ) -> tuple[Array, Mask | None]:
        """The encoder output and its mask, checked against the decoder ids' shape (..., n_y)."""
        memory = check_features(
            "memory",
            memory,
            self.config.d_model,
            self.w_out.dtype,
            ndim=(len(tgt_shape) + 1,),
            layout="(n_x, d_model) or (batch, n_x, d_model)",
        )
        if memory.shape[:-2] != tgt_shape[:-1]:
            raise ValueError(
                f"memory must have the batch axis of tgt_ids, got memory of shape "
                f"{memory.shape} and tgt_ids of shape {tgt_shape}"
            )
        for layer in self.decoder_layers:
            layer.cross_attn.check_sizes(key=memory, value=memory)
        mask = self._check_mask("memory_mask", memory_mask, tgt_shape[:-1], tgt_shape[-1], memory.shape[-2])
        return memory, mask

    def embed(self, ids: ArrayLike, *, cache: EmbeddingCache | None = None) -> Array:
        """Token embeddings (scaled by sqrt(d_model)) plus positional encodings.

        ``ids`` (..., n) -> (..., n, d_model). With a ``cache``, the embedding keeps the
        ids for the backward pass (the positional table is fixed: nothing to learn).
        """
        ids = self._check_ids("ids", ids)
        return self._embed(ids, {} if cache is None else cache)

    def _embed(self, ids: NDArray[np.integer], cache: EmbeddingCache) -> Array:
        """``embed``, on ids already checked."""
        return self.embedding.forward(ids, cache) + self.positions[: ids.shape[-1]]  # (..., n, d_model)

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
        >>> config = TransformerConfig(vocab_size=6, d_model=4, n_heads=2)
        >>> model = Transformer(config, np.random.default_rng(0))
        >>> model.source_mask(np.array([[3, 4, 0], [5, 0, 0]])).astype(int)  # pad_id = 0
        array([[[1, 1, 0]],
        <BLANKLINE>
               [[1, 0, 0]]])
        """
        src_ids = self._check_ids("src_ids", src_ids)
        return (src_ids != self.config.pad_id)[..., None, :]  # (..., n_x) -> (..., 1, n_x)

    # --8<-- [start:encode]
    def encode(
        self, src_ids: ArrayLike, src_mask: ArrayLike | None = None, *, cache: EncoderCache | None = None
    ) -> Array:
        """Run the encoder stack.

        Parameters
        ----------
        src_ids : array_like of int, shape (n_x,) or (batch, n_x)
        src_mask : array_like of bool, optional, broadcastable to (..., n_x, n_x)
            Hides padded source positions (keys).
        cache : EncoderCache, optional
            When given, keeps what the backward pass needs: ``cache["embed"]``, one record
            per layer in ``cache["layers"]`` and (pre-norm) ``cache["final_norm"]``.

        Returns
        -------
        numpy.ndarray, shape (n_x, d_model) or (batch, n_x, d_model)
            The encoder output ("memory"), one vector per source token.
        """
        src_ids = self._check_ids("src_ids", src_ids)
        lead, n_x = src_ids.shape[:-1], src_ids.shape[-1]
        mask = self._check_mask("src_mask", src_mask, lead, n_x, n_x)
        return self._encode(src_ids, mask, {} if cache is None else cache)

    def _encode(self, src_ids: NDArray[np.integer], src_mask: Mask | None, cache: EncoderCache) -> Array:
        """``encode``, on inputs already checked."""
        cache["embed"], cache["layers"] = {}, [{} for _ in self.encoder_layers]
        x = self._embed(src_ids, cache["embed"])  # (..., n_x) -> (..., n_x, d_model)
        for layer, layer_cache in zip(self.encoder_layers, cache["layers"], strict=True):
            x = layer.forward(x, src_mask, layer_cache)  # (..., n_x, d_model)
        if self.encoder_norm is not None:  # pre-norm: the stack's sum, normalised once at the end
            x = self.encoder_norm.forward(x, cache.setdefault("final_norm", {}))  # (..., n_x, d_model)
        return x

    # --8<-- [end:encode]

    # --8<-- [start:decode]
    def decode(
        self,
        tgt_ids: ArrayLike,
        memory: ArrayLike,
        memory_mask: ArrayLike | None = None,
        *,
        cache: DecoderCache | None = None,
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
        cache : DecoderCache, optional
            When given, keeps what the backward pass needs: ``cache["embed"]``, one record
            per layer in ``cache["layers"]``, (pre-norm) ``cache["final_norm"]`` and the
            states that ``w_out`` reads in ``cache["y"]``.

        Returns
        -------
        numpy.ndarray, shape (n_y, vocab_size) or (batch, n_y, vocab_size)
            Row ``t`` scores the token that follows ``tgt_ids[..., t]``.
        """
        tgt_ids = self._check_ids("tgt_ids", tgt_ids)
        memory, memory_mask = self._check_memory(memory, memory_mask, tgt_ids.shape)
        return self._decode(tgt_ids, memory, memory_mask, {} if cache is None else cache)

    def _decode(
        self, tgt_ids: NDArray[np.integer], memory: Array, memory_mask: Mask | None, cache: DecoderCache
    ) -> Array:
        """``decode``, on inputs already checked."""
        cache["embed"], cache["layers"] = {}, [{} for _ in self.decoder_layers]
        y = self._embed(tgt_ids, cache["embed"])  # (..., n_y) -> (..., n_y, d_model)
        self_mask = causal_mask(y.shape[-2])  # (n_y, n_y): position t sees 0..t only
        for layer, layer_cache in zip(self.decoder_layers, cache["layers"], strict=True):
            y = layer.forward(y, memory, self_mask, memory_mask, layer_cache)  # (..., n_y, d_model)
        if self.decoder_norm is not None:  # pre-norm: normalise the stack's output once
            y = self.decoder_norm.forward(y, cache.setdefault("final_norm", {}))  # (..., n_y, d_model)
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
        memory = self._encode(src_ids, None, {})  # (n_x, d_model), computed once
        ys = [self.config.bos_id]
        for _ in range(limit):
            logits = self._decode(np.array(ys), memory, None, {})[-1]  # (n_y, vocab_size) -> (vocab_size,)
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
        src_mask = (src_ids != c.pad_id)[:, None, :]  # (batch, 1, n_x): padding is never a key
        memory = self._encode(src_ids, src_mask, {})  # (batch, n_x, d_model), computed once
        ys = np.full((len(src_ids), 1), c.bos_id)  # (batch, 1)
        done = np.zeros(len(src_ids), dtype=bool)  # (batch,)
        for _ in range(limit):
            logits = self._decode(ys, memory, src_mask, {})[:, -1]  # (batch, n_y, V) -> (batch, V)
            chosen = np.where(done, c.pad_id, np.argmax(self._forbid_specials(logits), axis=-1))  # (batch,)
            ys = np.concatenate([ys, chosen[:, None]], axis=1)  # (batch, n_y) -> (batch, n_y + 1)
            done |= chosen == c.eos_id
            if done.all():
                break
        out = [[int(t) for t in row[1:]] for row in ys]  # drop the start token
        return [row[: row.index(c.eos_id)] if c.eos_id in row else row for row in out]  # cut at the end token

    # --8<-- [end:greedy_decode_batch]

    def run_with_cache(
        self, src_ids: ArrayLike, tgt_ids: ArrayLike, src_mask: ArrayLike | None = None
    ) -> tuple[Array, dict[str, NDArray[np.generic]]]:
        """One teacher-forced pass: the logits, and every value the layers kept, by dotted name.

        The layers keep no state: read attention weights and other activations from here
        (as TransformerLens's ``run_with_cache`` does). The names follow ``parameters()``:

        - ``"encoder.0.self_attn.weights"``, shape (..., n_heads, n_x, n_x);
        - ``"decoder.0.self_attn.weights"``, (..., n_heads, n_y, n_y), zero above the diagonal;
        - ``"decoder.0.cross_attn.weights"``, (..., n_heads, n_y, n_x);
        - ``"encoder.memory"``, the encoder output (..., n_x, d_model); ``"decoder.y"``, the
          states ``w_out`` reads (..., n_y, d_model); and every field of
          [transformer_primer.caches][] (``"decoder.0.norm_1.x_hat"``, ...), the final
          norms of a pre-norm model under their parameters' names
          (``"encoder_norm.x_hat"``, ``"decoder_norm.inv_std"``).

        Parameters
        ----------
        src_ids : array_like of int, shape (n_x,) or (batch, n_x)
        tgt_ids : array_like of int, shape (n_y,) or (batch, n_y)
            The decoder's input: ``bos_id``, then the tokens so far.
        src_mask : array_like of bool, optional, broadcastable to (..., 1, n_x)
            A key mask, such as [source_mask][transformer_primer.model.Transformer.source_mask];
            the encoder and the cross-attention both use it.

        Returns
        -------
        logits : numpy.ndarray, shape (n_y, vocab_size) or (batch, n_y, vocab_size)
        cache : dict of str to numpy.ndarray

        Raises
        ------
        TypeError, ValueError
            As [encode][transformer_primer.model.Transformer.encode] and
            [decode][transformer_primer.model.Transformer.decode], or if the two sequences
            do not have the same batch layout.

        Examples
        --------
        >>> import numpy as np
        >>> config = TransformerConfig(vocab_size=6, d_model=4, n_heads=2)
        >>> model = Transformer(config, np.random.default_rng(0))
        >>> logits, cache = model.run_with_cache(np.array([3, 4, 5]), np.array([1, 5]))
        >>> logits.shape, cache["decoder.0.cross_attn.weights"].shape  # (n_heads, n_y, n_x)
        ((2, 6), (2, 2, 3))
        """
        src_ids = self._check_ids("src_ids", src_ids)
        tgt_ids = self._check_ids("tgt_ids", tgt_ids)
        if src_ids.shape[:-1] != tgt_ids.shape[:-1]:
            raise ValueError(
                f"src_ids and tgt_ids must have the same batch layout, got shapes "
                f"{src_ids.shape} and {tgt_ids.shape}"
            )
        lead, n_x, n_y = src_ids.shape[:-1], src_ids.shape[-1], tgt_ids.shape[-1]
        mask = self._check_mask("src_mask", src_mask, lead, n_x, n_x)
        self._check_mask("src_mask", src_mask, lead, n_y, n_x)  # the cross-attention's keys too
        encoder: EncoderCache = {}
        decoder: DecoderCache = {}
        memory = self._encode(src_ids, mask, encoder)  # (..., n_x, d_model)
        logits = self._decode(tgt_ids, memory, mask, decoder)  # (..., n_y, vocab_size)
        flat: dict[str, NDArray[np.generic]] = {"encoder.memory": memory}
        for kind, record in (("encoder", encoder), ("decoder", decoder)):
            _flatten(kind, {k: v for k, v in record.items() if k != "final_norm"}, flat)
            if "final_norm" in record:  # pre-norm: named like its weights, "encoder_norm.x_hat"
                _flatten(f"{kind}_norm", record["final_norm"], flat)
        return logits, flat


def _flatten(prefix: str, record: Mapping[str, object], out: dict[str, NDArray[np.generic]]) -> None:
    """Every array of a nested cache record into ``out`` by dotted name (layer lists by index)."""
    for name, value in record.items():
        if isinstance(value, Mapping):
            _flatten(f"{prefix}.{name}", value, out)
        elif isinstance(value, list):  # one record per layer: "encoder.0...."
            for i, layer in enumerate(value):
                _flatten(f"{prefix}.{i}", layer, out)
        else:
            out[f"{prefix}.{name}"] = np.asarray(value)
