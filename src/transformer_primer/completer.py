"""Completer: a trained decoder-only model that continues a prompt, such as ``"37+48="`` -> ``"85"``.

``pretrained("add")`` loads the GPT shipped in the package
(``transformer_primer/weights/add.npz``), which ``python -m transformer_primer train add``
produced; ``complete`` runs greedy generation after the prompt until the end token. The
file has the layout of the encoder-decoder's (plain arrays, JSON config and metadata, no
pickles) and is read by the same checked, bounded-memory code
([load][transformer_primer.seq2seq.load]'s helpers).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from importlib import resources
from pathlib import Path
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive_int, describe
from .gpt import GPT, GPTConfig
from .seq2seq import (
    Seq2Seq,
    _read_array,
    _read_json,
    check_config,
    open_model_file,
    refuse_unknown_entries,
    write_model_file,
)
from .seq2seq import pretrained as pretrained_seq2seq
from .tasks import ADD_CHARS, ADD_MAX_PROMPT, TASKS, addition_answer
from .vocab import Vocab

__all__ = ["COMPLETION_TASKS", "Completer", "load", "pretrained"]

COMPLETION_TASKS: dict[str, tuple[str, int]] = {"add": (ADD_CHARS, ADD_MAX_PROMPT)}
"""Each decoder-only task: its characters and its longest prompt."""

_ANSWERS = {"add": addition_answer}


class Completer:
    """A trained decoder-only model with its vocabulary: a prompt in, its continuation out.

    Parameters
    ----------
    gpt : GPT
        The model.
    vocab : Vocab
        Its characters and special tokens (ids must match ``gpt.config``).
    task : str
        What it was trained to do (``"add"``).
    max_prompt : int
        The longest prompt it was trained on; longer prompts are refused.

    Attributes
    ----------
    history : dict of numpy.ndarray
        The training curves (``step``, ``loss``, ``token_accuracy``, ``valid_step``,
        ``valid_exact``); empty for an untrained model.
    metadata : dict
        How it was trained: ``train_config``, ``train_seconds``, ``train_cpu_seconds``,
        ``parameters``, ``command``.

    Examples
    --------
    >>> model = pretrained("add")
    >>> model.complete("37+48=")
    '85'
    """

    def __init__(self, gpt: GPT, vocab: Vocab, task: str, max_prompt: int) -> None:
        c = gpt.config
        if (c.pad_id, c.bos_id, c.eos_id, c.vocab_size) != (
            vocab.pad_id,
            vocab.bos_id,
            vocab.eos_id,
            len(vocab),
        ):
            raise ValueError(f"the model's special ids and vocab_size do not match the vocabulary {vocab!r}")
        max_prompt = check_positive_int("max_prompt", max_prompt)
        if max_prompt + 2 > c.max_len:
            raise ValueError(
                f"max_prompt + 2 must be <= max_len = {c.max_len}, got max_prompt = {max_prompt}"
            )
        self.gpt, self.vocab, self.task, self.max_prompt = gpt, vocab, task, max_prompt
        self.history: dict[str, NDArray[np.generic]] = {}
        self.metadata: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Completer task={self.task!r} parameters={self.n_parameters}>"

    @property
    def n_parameters(self) -> int:
        """How many numbers the model learned."""
        return sum(p.size for p in self.gpt.parameters().values())

    @property
    def max_new_tokens(self) -> int:
        """The most tokens a completion may take: the room left after the longest prompt."""
        return self.gpt.config.max_len - self.max_prompt

    def encode(self, prompt: str) -> NDArray[np.int64]:
        """The model's input for ``prompt``: ``<bos>`` then the prompt's ids, after checking it.

        Parameters
        ----------
        prompt : str
            1 to ``max_prompt`` characters of the vocabulary.

        Returns
        -------
        numpy.ndarray of int64, shape (len(prompt) + 1,)

        Raises
        ------
        TypeError
            If ``prompt`` is not a string.
        ValueError
            If it is empty, too long, or holds characters outside the vocabulary (named).

        Examples
        --------
        >>> pretrained("add").encode("1+2=").tolist()  # <bos> = 1, then the characters
        [1, 4, 13, 5, 14]
        >>> pretrained("add").encode("1 + 2")
        Traceback (most recent call last):
        ...
        ValueError: prompt holds characters outside the vocabulary: ' ' (the vocabulary is '0123456789+=')
        """
        if not isinstance(prompt, str):
            raise TypeError(f"prompt must be a str, got {describe(prompt)}")
        unknown = list(dict.fromkeys(c for c in prompt if c not in self.vocab.chars))
        if unknown:
            names = ", ".join(repr(c) for c in unknown)
            raise ValueError(
                f"prompt holds characters outside the vocabulary: {names} (the vocabulary is {self.vocab.chars!r})"
            )
        if not 1 <= len(prompt) <= self.max_prompt:
            raise ValueError(
                f"prompt must have 1 to {self.max_prompt} characters (the model was trained on those), "
                f"got {len(prompt)}"
            )
        return np.array([self.vocab.bos_id, *self.vocab.encode(prompt)], dtype=np.int64)

    # --8<-- [start:complete]
    def complete(self, prompt: str) -> str:
        """Greedy generation: the characters the model writes after ``prompt``, up to its end token.

        Parameters
        ----------
        prompt : str
            1 to ``max_prompt`` characters of the vocabulary, such as ``"37+48="``.

        Returns
        -------
        str

        Raises
        ------
        TypeError, ValueError
            As [encode][transformer_primer.completer.Completer.encode].

        Examples
        --------
        >>> pretrained("add").complete("75+84=")  # a prompt held out from training
        '159'
        """
        ids = self.gpt.greedy_decode(self.encode(prompt), max_new_tokens=self.max_new_tokens)
        return self.vocab.decode(ids)

    # --8<-- [end:complete]

    def complete_batch(self, prompts: Sequence[str], batch_size: int = 500) -> list[str]:
        """[complete][transformer_primer.completer.Completer.complete] for many prompts, batched.

        Prompts of the same length are generated together (so no padding is needed).

        Parameters
        ----------
        prompts : sequence of str
        batch_size : int
            Prompts generated together.

        Returns
        -------
        list of str, one per prompt

        Raises
        ------
        TypeError
            If ``prompts`` is one string rather than a sequence of them, a prompt is not a
            string, or ``batch_size`` is not an integer.
        ValueError
            If ``batch_size`` < 1, or as [encode][transformer_primer.completer.Completer.encode].

        Examples
        --------
        >>> pretrained("add").complete_batch(["1+2=", "37+48=", "99+99="])
        ['3', '85', '198']
        """
        batch_size = check_positive_int("batch_size", batch_size)
        if isinstance(prompts, str):
            raise TypeError(f"prompts must be a sequence of strings, not one string: got {prompts!r}")
        encoded = [self.encode(p) for p in prompts]  # the same checks and messages as complete
        out = [""] * len(encoded)
        by_length: dict[int, list[int]] = {}
        for i, prompt_ids in enumerate(encoded):
            by_length.setdefault(len(prompt_ids), []).append(i)
        for rows in by_length.values():
            for start in range(0, len(rows), batch_size):
                chunk = rows[start : start + batch_size]
                batch = np.stack([encoded[i] for i in chunk])  # (batch, n): one length, no padding
                generated = self.gpt.greedy_decode_batch(batch, self.max_new_tokens)
                for i, ids in zip(chunk, generated, strict=True):
                    out[i] = self.vocab.decode(ids)
        return out

    def exact_match(self, prompts: Sequence[str]) -> float:
        """The fraction of ``prompts`` whose whole completion is right, character for character.

        Parameters
        ----------
        prompts : sequence of str
            Prompts of the task (for ``"add"``: ``"a+b="``).

        Returns
        -------
        float, in [0, 1]

        Raises
        ------
        TypeError, ValueError
            If ``prompts`` is empty or one string, a prompt is not of the task's form, or as
            [complete_batch][transformer_primer.completer.Completer.complete_batch].

        Examples
        --------
        >>> pretrained("add").exact_match(["1+2=", "37+48="])
        1.0
        """
        if isinstance(prompts, str) or not len(prompts):
            raise ValueError(f"prompts must be a non-empty sequence of strings, got {describe(prompts)}")
        wanted = [_ANSWERS[self.task](p) for p in prompts]
        outputs = self.complete_batch(prompts)
        return sum(o == w for o, w in zip(outputs, wanted, strict=True)) / len(prompts)

    def save(self, path: str | Path) -> None:
        """Write the weights, config, history and metadata to an ``.npz`` file (no pickles), atomically.

        Parameters
        ----------
        path : str or pathlib.Path

        Raises
        ------
        ValueError
            If ``path`` names a folder, or its folder does not exist or cannot be written to.
        """
        info = {"task": self.task, "chars": self.vocab.chars, "max_prompt": self.max_prompt, **self.metadata}
        write_model_file(path, self.gpt.parameters(), self.history, asdict(self.gpt.config), info)


def load(path: str | Path) -> Completer:
    """Load a decoder-only model written by [Completer.save][transformer_primer.completer.Completer.save].

    The same checks as the encoder-decoder's [load][transformer_primer.seq2seq.load],
    before anything is allocated: the file's size and members, each array's header, the
    config and metadata (small JSON texts), then the shape, dtype and finiteness of every
    weight. Memory stays bounded by what the config says the model needs.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Completer

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    TypeError
        If ``path`` is not a string or a Path.
    ValueError
        If the file is not a decoder-only model file of this package; the message names the
        file and what is wrong.
    """
    path, archive = open_model_file(path)
    with archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        config = check_config(
            path,
            _read_json(path, archive, members, "config"),
            GPTConfig,
            frozenset({"positions", "tie_weights"}),  # options newer than some files: their defaults
        )
        info = _read_json(path, archive, members, "metadata")
        task, chars, max_prompt = _read_metadata(path, info, config)
        gpt = GPT(config, np.random.default_rng(0))  # shapes only: every weight is replaced
        for name, p in gpt.parameters().items():
            p[...] = _read_array(path, archive, members, f"param/{name}", p.shape)  # in place
        history = {
            key.removeprefix("history/"): _read_array(path, archive, members, key, None)
            for key in members
            if key.startswith("history/")
        }
    refuse_unknown_entries(path, members)
    completer = Completer(gpt, Vocab(chars), task, max_prompt)
    completer.history, completer.metadata = history, info
    return completer


def _read_metadata(path: Path, info: dict[str, Any], config: GPTConfig) -> tuple[str, str, int]:
    """The task, the characters and the longest prompt, checked against the config."""
    task, chars, max_prompt = info.pop("task", None), info.pop("chars", None), info.pop("max_prompt", None)
    if task not in COMPLETION_TASKS:
        raise ValueError(
            f"{path}: the metadata's task must be one of {sorted(COMPLETION_TASKS)}, found {task!r}"
        )
    if (
        not isinstance(chars, str)
        or chars != COMPLETION_TASKS[task][0]
        or len(chars) + 3 != config.vocab_size
    ):
        raise ValueError(f"{path}: the metadata's characters do not match the task {task!r} and the config")
    if (
        isinstance(max_prompt, bool)
        or not isinstance(max_prompt, int)
        or not 1 <= max_prompt <= config.max_len - 2
    ):
        raise ValueError(f"{path}: the metadata's max_prompt must be 1 to max_len - 2, found {max_prompt!r}")
    return task, chars, max_prompt


@overload
def pretrained(name: Literal["add"]) -> Completer: ...  # type: ignore[overload-overlap]


@overload
def pretrained(name: str) -> Seq2Seq: ...


def pretrained(name: str) -> Seq2Seq | Completer:
    """The trained model shipped with the package: ``transformer_primer.pretrained``.

    Parameters
    ----------
    name : str
        ``"add"`` (a decoder-only [Completer][transformer_primer.completer.Completer]), or
        ``"reverse"``, ``"copy"``, ``"sort"`` (an encoder-decoder
        [Seq2Seq][transformer_primer.seq2seq.Seq2Seq]).

    Returns
    -------
    Completer or Seq2Seq

    Raises
    ------
    ValueError
        If ``name`` is not one of the shipped models.

    Examples
    --------
    >>> pretrained("add").complete("37+48="), pretrained("reverse").translate("abc")
    ('85', 'cba')
    """
    if isinstance(name, str) and name in TASKS:
        return pretrained_seq2seq(name)
    if not isinstance(name, str) or name not in COMPLETION_TASKS:
        raise ValueError(f"name must be one of {sorted([*TASKS, *COMPLETION_TASKS])}, got {describe(name)}")
    weights = resources.files("transformer_primer") / "weights" / f"{name}.npz"
    with resources.as_file(weights) as path:
        return load(path)
