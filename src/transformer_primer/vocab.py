"""Vocabulary: characters to token ids and back, with the three special tokens.

Ids 0, 1 and 2 are the special tokens, each with its own job:

- ``<pad>`` (0) fills the end of shorter sequences in a batch; it is masked out of
  attention and of the loss;
- ``<bos>`` (1), "beginning of sequence", is the decoder's first input: the start symbol.
  It is **not** the padding id, so the model can tell "start" from "nothing here";
- ``<eos>`` (2), "end of sequence", is what the decoder produces to say it has finished.

The characters follow from id 3 on.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive_int, describe

__all__ = ["BOS", "EOS", "PAD", "Vocab"]

PAD = 0
"""The padding id: fills the end of shorter sequences; masked out of attention and the loss."""
BOS = 1
"""The start id ("beginning of sequence"): the decoder's first input."""
EOS = 2
"""The end id ("end of sequence"): what the decoder produces when it has finished."""
_SPECIALS = ("<pad>", "<bos>", "<eos>")


# --8<-- [start:vocab]
class Vocab:
    """A character vocabulary: ``<pad>`` = 0, ``<bos>`` = 1, ``<eos>`` = 2, then the characters.

    Parameters
    ----------
    chars : str
        The characters, each once, in the order of their ids (from 3 on).

    Raises
    ------
    TypeError
        If ``chars`` is not a string.
    ValueError
        If ``chars`` is empty or repeats a character.

    Examples
    --------
    >>> vocab = Vocab(" abc")
    >>> len(vocab), vocab.encode("cab")
    (7, [6, 4, 5])
    >>> vocab.decode([6, 4, 5, vocab.eos_id])  # stops at the end token
    'cab'
    """

    pad_id: int = PAD
    bos_id: int = BOS
    eos_id: int = EOS

    def __init__(self, chars: str) -> None:
        if not isinstance(chars, str):
            raise TypeError(f"chars must be a str, got {describe(chars)}")
        if not chars:
            raise ValueError("chars must hold at least one character, got ''")
        repeated = sorted({c for c in chars if chars.count(c) > 1})
        if repeated:
            raise ValueError(f"chars must not repeat a character, got {repeated} more than once")
        self.chars = chars
        self.tokens = (*_SPECIALS, *chars)  # id -> token
        self._ids = {c: i for i, c in enumerate(self.tokens) if i >= len(_SPECIALS)}

    def __len__(self) -> int:
        return len(self.tokens)

    def __repr__(self) -> str:
        return f"Vocab({self.chars!r})"

    def encode(self, text: str) -> list[int]:
        """The ids of the characters of ``text`` (no special tokens added).

        Parameters
        ----------
        text : str

        Returns
        -------
        list of int, length len(text)

        Raises
        ------
        TypeError
            If ``text`` is not a string.
        ValueError
            If ``text`` holds characters outside the vocabulary; the message names them.

        Examples
        --------
        >>> Vocab("ab").encode("bab")
        [4, 3, 4]
        >>> Vocab("ab").encode("aXb!")
        Traceback (most recent call last):
        ...
        ValueError: text holds characters outside the vocabulary: 'X', '!' (the vocabulary is 'ab')
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {describe(text)}")
        unknown = list(dict.fromkeys(c for c in text if c not in self._ids))  # in order, once each
        if unknown:
            names = ", ".join(repr(c) for c in unknown)
            raise ValueError(
                f"text holds characters outside the vocabulary: {names} (the vocabulary is {self.chars!r})"
            )
        return [self._ids[c] for c in text]

    def decode(self, ids: Iterable[int]) -> str:
        """The text of ``ids``: stops at ``<eos>``, skips ``<bos>`` and ``<pad>``.

        Parameters
        ----------
        ids : iterable of int

        Returns
        -------
        str

        Raises
        ------
        ValueError
            If an id is outside ``0 .. len(vocab) - 1``.

        Examples
        --------
        >>> Vocab("ab").decode([1, 3, 4, 2, 3])
        'ab'
        """
        out = []
        for i in ids:
            i = int(i)
            if not 0 <= i < len(self.tokens):
                raise ValueError(f"ids must be in 0..{len(self.tokens) - 1}, got {i}")
            if i == self.eos_id:
                break
            if i >= len(_SPECIALS):
                out.append(self.tokens[i])
        return "".join(out)

    def encode_batch(self, texts: Sequence[str], length: int | None = None) -> NDArray[np.int64]:
        """Encode several texts into one array, padded at the end with ``pad_id``.

        Parameters
        ----------
        texts : sequence of str
            At least one text, each at least one character long.
        length : int, optional
            The padded length; the longest text by default.

        Returns
        -------
        numpy.ndarray of int64, shape (len(texts), length)

        Raises
        ------
        ValueError
            If ``texts`` is empty, a text is empty or longer than ``length``, or holds an
            unknown character.

        Examples
        --------
        >>> Vocab("ab").encode_batch(["ab", "b"])
        array([[3, 4],
               [4, 0]])
        """
        if isinstance(texts, str) or not len(texts):
            raise ValueError(f"texts must be a non-empty sequence of strings, got {describe(texts)}")
        encoded = [self.encode(t) for t in texts]
        longest = max(len(e) for e in encoded)
        length = longest if length is None else check_positive_int("length", length)
        if min(len(e) for e in encoded) == 0:
            raise ValueError("every text must hold at least one character, got ''")
        if longest > length:
            raise ValueError(f"every text must be at most {length} characters long, got one of {longest}")
        out = np.full((len(texts), length), self.pad_id, dtype=np.int64)  # (batch, length)
        for row, e in zip(out, encoded, strict=True):
            row[: len(e)] = e
        return out


# --8<-- [end:vocab]
