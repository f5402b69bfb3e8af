"""Byte-pair encoding: how text becomes tokens in the models that read words, not characters.

The package's own models read one character per token (:mod:`transformer_primer.vocab`). Large
models read *subwords*: frequent words are one token, rare words are cut into a few known
pieces, and nothing is ever unknown. Byte-pair encoding (Sennrich et al., 2016; Gage, 1994)
learns those pieces from text:

1. start from the 256 byte values of UTF-8 (every text is a sequence of them);
2. count every pair of neighbouring tokens, inside words (``pretokenize``), each word weighted
   by how often it occurs;
3. merge the most frequent pair into one new token, and repeat.

``encode`` replays the merges on new text, in the order they were learned; ``decode`` joins the
tokens' bytes and reads them as UTF-8, so ``decode(encode(text)) == text`` for every text.
Ties between equally frequent pairs go to the smallest pair of token ids, so the same text
always gives the same merges.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from ._checks import check_positive_int, describe

__all__ = ["BytePairEncoder", "pretokenize", "train_bpe"]

N_BYTES = 256
"""Tokens 0-255 are the byte values; merge ``i`` makes token ``256 + i``."""

MAX_MERGES = 100_000
"""The most merges ``train_bpe`` will learn (each one is a pass over the words)."""

# A word: an optional space and then letters, or digits, or other symbols; or whitespace. Every
# character of a text belongs to exactly one piece, so joining the pieces gives the text back.
# (GPT-2 cuts text the same way, with a longer pattern.)
# --8<-- [start:pretokenize]
WORD_RE = re.compile(r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+|_+|\s+(?!\S)|\s+")


def pretokenize(text: str) -> list[str]:
    """Cut ``text`` into the pieces that merges never cross (words, numbers, symbols, spaces).

    Raises
    ------
    TypeError, ValueError
        If ``text`` is not a str, or holds a lone surrogate (which UTF-8 cannot encode).

    Examples
    --------
    >>> pretokenize("Attention, is all")
    ['Attention', ',', ' is', ' all']
    """
    text = _check_text("text", text)
    return WORD_RE.findall(text)


# --8<-- [end:pretokenize]


@dataclass(frozen=True)
class BytePairEncoder:
    """The merges learned by :func:`train_bpe`, and the encoder and decoder they make.

    Parameters
    ----------
    merges : tuple of (int, int)
        Merge ``i`` joins the pair ``merges[i]`` into the new token ``256 + i``, in this order.
    counts : tuple of int
        How often each merged pair occurred in the training text when it was merged.

    Raises
    ------
    ValueError
        If a merge joins a token that does not exist before it. ``encode`` and ``decode``
        raise TypeError or ValueError for a text that is not a str or an unknown token id.

    Examples
    --------
    >>> bpe = train_bpe("low lower lowest", n_merges=3)
    >>> [bpe.token_text(t) for t in bpe.encode("lowly")]
    ['low', 'l', 'y']
    >>> bpe.decode(bpe.encode("lowly"))
    'lowly'
    """

    merges: tuple[tuple[int, int], ...]
    counts: tuple[int, ...]
    _vocab: list[bytes] = field(init=False, repr=False, compare=False)
    _rank: dict[tuple[int, int], int] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        vocab = [bytes([b]) for b in range(N_BYTES)]
        for i, (a, b) in enumerate(self.merges):
            if not (0 <= a < N_BYTES + i and 0 <= b < N_BYTES + i):
                raise ValueError(
                    f"merge {i} joins tokens {(a, b)}, but only tokens 0..{N_BYTES + i - 1} exist"
                )
            vocab.append(vocab[a] + vocab[b])
        object.__setattr__(self, "_vocab", vocab)
        object.__setattr__(self, "_rank", {pair: i for i, pair in enumerate(self.merges)})

    @property
    def vocab_size(self) -> int:
        """256 byte tokens plus one per merge."""
        return len(self._vocab)

    def token_bytes(self, token: int) -> bytes:
        """The bytes that token ``token`` stands for."""
        return self._vocab[self._check_token(token)]

    def token_text(self, token: int) -> str:
        """The token's bytes as text; a byte that is only part of a character shows as ``\\xNN``."""
        return self.token_bytes(token).decode("utf-8", errors="backslashreplace")

    # --8<-- [start:encode]
    def encode(self, text: str) -> list[int]:
        """The token ids of ``text``: its UTF-8 bytes, merged in the order the merges were learned.

        Parameters
        ----------
        text : str

        Returns
        -------
        list of int
            Each id in ``0 .. vocab_size - 1``.
        """
        text = _check_text("text", text)
        ids: list[int] = []
        for word in pretokenize(text):
            ids.extend(self._encode_word(list(word.encode("utf-8"))))
        return ids

    def _encode_word(self, word: list[int]) -> list[int]:
        while len(word) > 1:
            pairs = set(zip(word, word[1:], strict=False))
            first = min(pairs, key=lambda pair: self._rank.get(pair, MAX_MERGES))  # learned first
            if first not in self._rank:
                break  # no pair of this word was ever merged
            word = merge(word, first, N_BYTES + self._rank[first])
        return word

    def decode(self, ids: Iterable[int]) -> str:
        """The text of token ids: their bytes joined and read as UTF-8."""
        return b"".join(self.token_bytes(token) for token in ids).decode("utf-8", errors="replace")

    # --8<-- [end:encode]

    def _check_token(self, token: object) -> int:
        if isinstance(token, bool) or not isinstance(token, int):
            raise TypeError(f"a token id must be an int, got {describe(token)}")
        if not 0 <= token < len(self._vocab):
            raise ValueError(
                f"token id {token} is out of range: this encoder has ids 0..{len(self._vocab) - 1}"
            )
        return token


# --8<-- [start:train]
def merge(word: Sequence[int], pair: tuple[int, int], new: int) -> list[int]:
    """``word`` with every occurrence of ``pair``, left to right, replaced by the token ``new``.

    A step of ``train_bpe`` and of ``encode``, which have checked their input.

    Examples
    --------
    >>> merge([1, 2, 1, 2, 2], (1, 2), 256)
    [256, 256, 2]
    """
    out: list[int] = []
    i = 0
    while i < len(word):
        if i + 1 < len(word) and (word[i], word[i + 1]) == pair:
            out.append(new)
            i += 2
        else:
            out.append(word[i])
            i += 1
    return out


def train_bpe(text: str, n_merges: int) -> BytePairEncoder:
    """Learn ``n_merges`` merges from ``text``: each time, the most frequent neighbouring pair.

    Parameters
    ----------
    text : str
        The training text.
    n_merges : int
        How many merges to learn (0 .. 100,000); fewer when no pair occurs any more.

    Returns
    -------
    BytePairEncoder

    Raises
    ------
    TypeError, ValueError
        If ``text`` is not a str (or holds a lone surrogate), or ``n_merges`` is not an
        integer in 0 .. 100,000.

    Examples
    --------
    >>> bpe = train_bpe("low lower lowest", n_merges=2)
    >>> [(bpe.token_text(a) + bpe.token_text(b), count) for (a, b), count in zip(bpe.merges, bpe.counts)]
    [('lo', 3), ('low', 3)]
    """
    text = _check_text("text", text)
    n_merges = check_positive_int("n_merges", n_merges, minimum=0, maximum=MAX_MERGES)
    words = Counter(tuple(word.encode("utf-8")) for word in pretokenize(text))
    pieces = {word: list(word) for word in words}  # each distinct word, as tokens so far
    merges: list[tuple[int, int]] = []
    counts: list[int] = []
    for i in range(n_merges):
        pairs: Counter[tuple[int, int]] = Counter()
        for word, tokens in pieces.items():
            for pair in zip(tokens, tokens[1:], strict=False):
                pairs[pair] += words[word]  # a word that occurs 5 times counts its pairs 5 times
        if not pairs:
            break  # every word is one token
        best = max(pairs, key=lambda pair: (pairs[pair], -pair[0], -pair[1]))  # ties: smallest ids
        for word, tokens in pieces.items():
            pieces[word] = merge(tokens, best, N_BYTES + i)
        merges.append(best)
        counts.append(pairs[best])
    return BytePairEncoder(tuple(merges), tuple(counts))


# --8<-- [end:train]


def _check_text(name: str, text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"{name} must be a str, got {describe(text)}")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as err:
        raise ValueError(
            f"{name} contains {text[err.start]!r} at index {err.start}, a lone surrogate that UTF-8 "
            "cannot encode"
        ) from None
    return text
