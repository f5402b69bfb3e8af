"""Seq2Seq: a character-level encoder-decoder that reverses, copies or sorts text.

``pretrained("reverse")`` loads the weights shipped in the package
(``transformer_primer/weights/reverse.npz``), which ``python -m transformer_primer train
reverse`` produced; ``translate`` runs the greedy decoder, one token at a time, until the
end token.

The ``.npz`` file holds plain arrays only (no pickles): each weight under ``param/<name>``,
the training history under ``history/<name>``, and the model config and training metadata
(seed, command, time, parameter count) as JSON text.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ._checks import describe
from .model import Transformer, TransformerConfig
from .tasks import MAX_CHARS, TASKS
from .vocab import Vocab

__all__ = ["Seq2Seq", "load", "pretrained"]


class Seq2Seq:
    """A trained encoder-decoder with its vocabulary: text in, text out.

    Parameters
    ----------
    model : Transformer
        The encoder-decoder.
    vocab : Vocab
        Its characters and special tokens (ids must match ``model.config``).
    task : str
        What it was trained to do (``"reverse"``, ``"copy"`` or ``"sort"``).
    max_chars : int
        The longest input it was trained on; longer inputs are refused.

    Attributes
    ----------
    history : dict of numpy.ndarray
        The training curves: ``step``, ``loss``, ``token_accuracy``, ``valid_step``,
        ``valid_exact`` (empty for an untrained model).
    metadata : dict
        How it was trained: ``train_config``, ``train_seconds``, ``parameters``, ``command``.

    Examples
    --------
    >>> model = pretrained("reverse")
    >>> model.translate("hello world")
    'dlrow olleh'
    """

    def __init__(self, model: Transformer, vocab: Vocab, task: str, max_chars: int = MAX_CHARS) -> None:
        c = model.config
        if (c.pad_id, c.bos_id, c.eos_id, c.vocab_size) != (
            vocab.pad_id,
            vocab.bos_id,
            vocab.eos_id,
            len(vocab),
        ):
            raise ValueError(f"the model's special ids and vocab_size do not match the vocabulary {vocab!r}")
        if max_chars + 2 > c.max_len:
            raise ValueError(f"max_chars + 2 must be <= max_len = {c.max_len}, got max_chars = {max_chars}")
        self.model, self.vocab, self.task, self.max_chars = model, vocab, task, max_chars
        self.history: dict[str, NDArray[np.generic]] = {}
        self.metadata: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Seq2Seq task={self.task!r} parameters={self.n_parameters}>"

    @property
    def n_parameters(self) -> int:
        """How many numbers the model learned."""
        return sum(p.size for p in self.model.parameters().values())

    def encode(self, text: str) -> NDArray[np.int64]:
        """The source ids of ``text``, after checking it.

        Parameters
        ----------
        text : str
            1 to ``max_chars`` characters of the vocabulary.

        Returns
        -------
        numpy.ndarray of int64, shape (len(text),)

        Raises
        ------
        TypeError
            If ``text`` is not a string.
        ValueError
            If it is empty, too long, or holds characters outside the vocabulary (named).

        Examples
        --------
        >>> pretrained("copy").encode("Hi")
        Traceback (most recent call last):
        ...
        ValueError: text holds characters outside the vocabulary: 'H'
        (the vocabulary is ' abcdefghijklmnopqrstuvwxyz')
        """
        ids = self.vocab.encode(text)  # checks the type and the characters
        if not 1 <= len(ids) <= self.max_chars:
            raise ValueError(
                f"text must have 1 to {self.max_chars} characters (the model was trained on those), "
                f"got {len(ids)}"
            )
        return np.array(ids, dtype=np.int64)

    def translate(self, text: str) -> str:
        """Greedy decoding: the output text for ``text``.

        Parameters
        ----------
        text : str
            1 to ``max_chars`` lowercase letters and spaces.

        Returns
        -------
        str

        Raises
        ------
        TypeError, ValueError
            As [encode][transformer_primer.seq2seq.Seq2Seq.encode].

        Examples
        --------
        >>> pretrained("sort").translate("hello world")
        ' dehllloorw'
        """
        ids = self.model.greedy_decode(self.encode(text), max_new_tokens=self.max_chars + 1)
        return self.vocab.decode(ids)

    def translate_batch(self, texts: Sequence[str], batch_size: int = 500) -> list[str]:
        """[translate][transformer_primer.seq2seq.Seq2Seq.translate] for many texts, batched.

        Parameters
        ----------
        texts : sequence of str
        batch_size : int
            Texts decoded together.

        Returns
        -------
        list of str, one per text

        Examples
        --------
        >>> pretrained("copy").translate_batch(["abc", "hello world"])
        ['abc', 'hello world']
        """
        for text in texts:
            self.encode(text)  # the same checks and messages as translate
        out: list[str] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            src_ids = self.vocab.encode_batch(chunk)  # (batch, n_x), padded
            decoded = self.model.greedy_decode_batch(src_ids, max_new_tokens=self.max_chars + 1)
            out.extend(self.vocab.decode(ids) for ids in decoded)
        return out

    def exact_match(self, texts: Sequence[str]) -> float:
        """The fraction of ``texts`` whose whole output is right, character for character.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        float, in [0, 1]

        Examples
        --------
        >>> pretrained("reverse").exact_match(["abc", "hello world"])
        1.0
        """
        outputs = self.translate_batch(texts)
        wanted = [TASKS[self.task](t) for t in texts]
        return sum(o == w for o, w in zip(outputs, wanted, strict=True)) / len(texts)

    def save(self, path: str | Path) -> None:
        """Write the weights, config, history and metadata to an ``.npz`` file (no pickles).

        Parameters
        ----------
        path : str or pathlib.Path
        """
        arrays: dict[str, NDArray[np.generic]] = {
            f"param/{name}": p for name, p in self.model.parameters().items()
        }
        arrays.update({f"history/{name}": h for name, h in self.history.items()})
        arrays["config"] = np.array(json.dumps(asdict(self.model.config)))
        info = {"task": self.task, "chars": self.vocab.chars, "max_chars": self.max_chars, **self.metadata}
        arrays["metadata"] = np.array(json.dumps(info))
        with open(path, "wb") as f:  # an open file: np.savez would otherwise append ".npz"
            np.savez_compressed(f, allow_pickle=False, **arrays)


def load(path: str | Path) -> Seq2Seq:
    """Load a model written by [Seq2Seq.save][transformer_primer.seq2seq.Seq2Seq.save].

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Seq2Seq

    Raises
    ------
    ValueError
        If the file lacks a weight the config needs, or a weight has the wrong shape.
    """
    with np.load(path, allow_pickle=False) as data:
        config = TransformerConfig(**json.loads(str(data["config"])))
        info = json.loads(str(data["metadata"]))
        model = Transformer(config, np.random.default_rng(0))  # shapes only: every weight is replaced
        for name, p in model.parameters().items():
            key = f"param/{name}"
            if key not in data or data[key].shape != p.shape:
                found = data[key].shape if key in data else "nothing"
                raise ValueError(f"{path}: weight {name!r} must have shape {p.shape}, found {found}")
            p[...] = data[key]  # in place: the layers hold these very arrays
        history = {k.removeprefix("history/"): data[k] for k in data.files if k.startswith("history/")}
    seq2seq = Seq2Seq(model, Vocab(info.pop("chars")), info.pop("task"), info.pop("max_chars"))
    seq2seq.history, seq2seq.metadata = history, info
    return seq2seq


# --8<-- [start:pretrained]
def pretrained(name: str) -> Seq2Seq:
    """The trained model shipped with the package for task ``name``.

    Parameters
    ----------
    name : str
        ``"reverse"``, ``"copy"`` or ``"sort"``.

    Returns
    -------
    Seq2Seq

    Raises
    ------
    ValueError
        If ``name`` is not one of the tasks.

    Examples
    --------
    >>> pretrained("reverse").translate("hello world")
    'dlrow olleh'
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"name must be one of {sorted(TASKS)}, got {describe(name)}")
    weights = resources.files("transformer_primer") / "weights" / f"{name}.npz"
    with resources.as_file(weights) as path:
        return load(path)


# --8<-- [end:pretrained]
