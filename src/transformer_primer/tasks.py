"""Tasks: reverse, copy and sort strings of lowercase letters and spaces.

Each task maps a source string to a target string: ``reverse("hello world")`` is
``"dlrow olleh"``. Strings are drawn at random, with a seeded generator, and every
possible string belongs to exactly one **split** (train, valid or test) by a hash of its
text. The training loop only ever draws from the train split, so a test string can never
have been seen in training, however long the training runs.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive_int, describe
from .vocab import Vocab

__all__ = [
    "ALPHABET",
    "MAX_CHARS",
    "QUALITY",
    "TASKS",
    "held_out",
    "make_batch",
    "sample_strings",
    "split_of",
    "target",
]

ALPHABET = " abcdefghijklmnopqrstuvwxyz"
"""The characters of every task: a space, then the 26 lowercase letters."""

MAX_CHARS = 16
"""The longest source string the models are trained and tested on."""

TASKS: dict[str, Callable[[str], str]] = {
    "reverse": lambda text: text[::-1],
    "copy": lambda text: text,
    "sort": lambda text: "".join(sorted(text)),  # a space sorts before the letters
}
"""Each task's name and the function from a source string to its target."""

QUALITY = {"reverse": 0.99, "copy": 0.99, "sort": 0.95}
"""The exact match on held-out strings that each shipped model must reach (``make reproduce``)."""
TEST_SEED = 2017  # fixes which held-out strings the accuracy is measured on

_SPLITS = ("train", "valid", "test")


def target(task: str, text: str) -> str:
    """What the model should output for ``text``.

    Parameters
    ----------
    task : str
        ``"reverse"``, ``"copy"`` or ``"sort"``.
    text : str

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``task`` is not one of the tasks.

    Examples
    --------
    >>> target("reverse", "hello world"), target("sort", "hello world")
    ('dlrow olleh', ' dehllloorw')
    """
    if task not in TASKS:
        raise ValueError(f"task must be one of {sorted(TASKS)}, got {task!r}")
    return TASKS[task](text)


# --8<-- [start:split_of]
def split_of(text: str) -> str:
    """The split a string belongs to, fixed forever by a hash of its text.

    About 5% of all strings are ``"test"``, 5% ``"valid"``, the rest ``"train"``. The hash
    (CRC-32) is the same on every machine and every Python run.

    Parameters
    ----------
    text : str

    Returns
    -------
    str
        ``"train"``, ``"valid"`` or ``"test"``.

    Examples
    --------
    >>> split_of("hello world"), split_of("hello world") == split_of("hello" + " world")
    ('train', True)
    """
    bucket = zlib.crc32(text.encode("utf-8")) % 20  # 0..19
    return "test" if bucket == 0 else "valid" if bucket == 1 else "train"


# --8<-- [end:split_of]


def sample_strings(
    rng: np.random.Generator,
    n: int,
    split: str,
    *,
    max_chars: int = MAX_CHARS,
    distinct: bool = False,
) -> list[str]:
    """Draw ``n`` random strings of one split: length uniform in 1..max_chars, then characters.

    A drawn string of another split is thrown away and drawn again (length included).

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        How many strings.
    split : str
        ``"train"``, ``"valid"`` or ``"test"``.
    max_chars : int
        The longest string.
    distinct : bool
        Refuse repeats, for evaluation sets (short strings are few: there are only 27 of
        length 1, and about one in 20 of them is in each held-out split).

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``rng`` is not a Generator, or ``n`` or ``max_chars`` not an integer.
    ValueError
        If ``split`` is unknown, or ``distinct`` asks for more strings than the split holds
        (found out after a bounded number of draws: it never loops forever).

    Examples
    --------
    >>> import numpy as np
    >>> texts = sample_strings(np.random.default_rng(0), 3, "test")
    >>> [split_of(t) for t in texts]
    ['test', 'test', 'test']
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    n = check_positive_int("n", n)
    max_chars = check_positive_int("max_chars", max_chars)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    out: list[str] = []
    seen: set[str] = set()
    draws, max_draws = 0, 1000 * n + 100_000  # a split holds about 1 string in 20: plenty of room
    while len(out) < n:
        draws += 1
        if draws > max_draws:
            raise ValueError(
                f"could draw only {len(out)} distinct strings of the {split!r} split with at most "
                f"{max_chars} characters in {max_draws:,} draws, not n = {n}: there may be no more; "
                "ask for fewer, or allow longer strings (max_chars)"
            )
        length = int(rng.integers(1, max_chars + 1))
        text = "".join(ALPHABET[i] for i in rng.integers(0, len(ALPHABET), length))
        if split_of(text) != split or (distinct and text in seen):
            continue
        seen.add(text)
        out.append(text)
    return out


def held_out(n: int = 1000) -> list[str]:
    """The fixed evaluation set: ``n`` distinct strings of the test split, lengths 1..16.

    No training run can ever draw them (see [split_of][transformer_primer.tasks.split_of]).

    Parameters
    ----------
    n : int
        How many strings.

    Returns
    -------
    list of str

    Examples
    --------
    >>> texts = held_out(1000)
    >>> len(set(texts)), {split_of(t) for t in texts}, max(map(len, texts))
    (1000, {'test'}, 16)
    """
    return sample_strings(np.random.default_rng(TEST_SEED), n, "test", distinct=True)


# --8<-- [start:make_batch]
def make_batch(
    vocab: Vocab, task: str, texts: list[str]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.int64]]:
    """Source, decoder input and decoder target arrays for a batch, for teacher forcing.

    For ``"ab" -> "ba"``: source ``a b``, decoder input ``<bos> b a``, target
    ``b a <eos>``: at each position the target is the input shifted left by one.

    Parameters
    ----------
    vocab : Vocab
    task : str
    texts : list of str
        The source strings.

    Returns
    -------
    src_ids : numpy.ndarray of int64, shape (batch, n_x)
        Padded with ``pad_id``; ``n_x`` is the longest source.
    tgt_in : numpy.ndarray of int64, shape (batch, n_y)
        ``bos_id`` then the target, padded; ``n_y`` = longest target + 1.
    tgt_out : numpy.ndarray of int64, shape (batch, n_y)
        The target then ``eos_id``, padded.

    Examples
    --------
    >>> src, tgt_in, tgt_out = make_batch(Vocab("ab"), "reverse", ["ab", "b"])
    >>> src.tolist(), tgt_in.tolist(), tgt_out.tolist()
    ([[3, 4], [4, 0]], [[1, 4, 3], [1, 4, 0]], [[4, 3, 2], [4, 2, 0]])
    """
    targets = [target(task, t) for t in texts]
    src_ids = vocab.encode_batch(texts)  # (batch, n_x)
    n_y = max(len(t) for t in targets) + 1  # room for the start (input) or end (target) token
    tgt_in = np.full((len(texts), n_y), vocab.pad_id, dtype=np.int64)  # (batch, n_y)
    tgt_out = np.full((len(texts), n_y), vocab.pad_id, dtype=np.int64)  # (batch, n_y)
    for row, t in enumerate(targets):
        ids = vocab.encode(t)
        tgt_in[row, : len(ids) + 1] = [vocab.bos_id, *ids]
        tgt_out[row, : len(ids) + 1] = [*ids, vocab.eos_id]
    return src_ids, tgt_in, tgt_out


# --8<-- [end:make_batch]
