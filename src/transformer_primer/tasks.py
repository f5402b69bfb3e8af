"""Tasks: reverse, copy and sort strings of lowercase letters and spaces; add two numbers.

Each task maps a source string to a target string: ``reverse("hello world")`` is
``"dlrow olleh"``. Strings are drawn at random, with a seeded generator, and every
possible string belongs to exactly one **split** (train, valid or test) by a hash of its
text. The training loop only ever draws from the train split, so a test string can never
have been seen in training, however long the training runs.

The decoder-only model's task is addition written as text: the prompt ``"37+48="`` is
continued by ``"85"`` and the end token. There are only 10,000 such prompts (two numbers
0-99), and the same CRC-32 hash splits them (see
[addition_split][transformer_primer.tasks.addition_split]).
"""

from __future__ import annotations

import functools
import zlib
from collections.abc import Callable

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive_int, describe
from .vocab import Vocab

__all__ = [
    "ADD_CHARS",
    "ADD_MAX_PROMPT",
    "ALPHABET",
    "MAX_CHARS",
    "QUALITY",
    "TASKS",
    "addition_answer",
    "addition_prompt",
    "addition_split",
    "held_out",
    "held_out_additions",
    "make_batch",
    "make_lm_batch",
    "sample_additions",
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


ADD_CHARS = "0123456789+="
"""The characters of the addition task: the digits, the plus sign and the equals sign."""

ADD_MAX_PROMPT = len("99+99=")
"""The longest addition prompt (6 characters); the longest answer is 3 ("198")."""

ADD_MAX = 99
"""The largest number added."""


def addition_prompt(a: int, b: int) -> str:
    """The prompt for ``a + b``, written as text: ``addition_prompt(37, 48)`` is ``"37+48="``.

    Parameters
    ----------
    a, b : int
        Two numbers, 0 to 99.

    Returns
    -------
    str

    Raises
    ------
    TypeError, ValueError
        If ``a`` or ``b`` is not an integer from 0 to 99.

    Examples
    --------
    >>> addition_prompt(37, 48), addition_prompt(3, 0)
    ('37+48=', '3+0=')
    """
    a = check_positive_int("a", a, minimum=0, maximum=ADD_MAX)
    b = check_positive_int("b", b, minimum=0, maximum=ADD_MAX)
    return f"{a}+{b}="


def addition_answer(prompt: str) -> str:
    """What follows ``prompt``: the sum, written normally (most significant digit first).

    Parameters
    ----------
    prompt : str
        ``"a+b="`` with ``a`` and ``b`` from 0 to 99, written without leading zeros.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        If ``prompt`` is not of that form.

    Examples
    --------
    >>> addition_answer("37+48="), addition_answer("0+0=")
    ('85', '0')
    """
    parts = prompt.removesuffix("=").split("+") if isinstance(prompt, str) and prompt.endswith("=") else []
    numbers = [
        int(p) for p in parts if p.isdigit() and p.isascii() and str(int(p)) == p and int(p) <= ADD_MAX
    ]
    if len(parts) != 2 or len(numbers) != 2:
        raise ValueError(f"prompt must be 'a+b=' with a and b from 0 to {ADD_MAX}, got {prompt!r}")
    return str(numbers[0] + numbers[1])


# --8<-- [start:addition_split]
def addition_split(prompt: str) -> str:
    """The split an addition prompt belongs to, fixed forever by the CRC-32 hash of its text.

    The same hash as [split_of][transformer_primer.tasks.split_of], but two buckets in 20
    are ``"test"``: there are only 10,000 prompts, and 1,000 of them must be held out
    (1,010 are), 506 are ``"valid"`` and 8,484 ``"train"``.

    Parameters
    ----------
    prompt : str

    Returns
    -------
    str
        ``"train"``, ``"valid"`` or ``"test"``.

    Examples
    --------
    >>> addition_split("37+48="), addition_split("75+84=")
    ('train', 'test')
    """
    bucket = zlib.crc32(prompt.encode("utf-8")) % 20  # 0..19
    return "test" if bucket < 2 else "valid" if bucket == 2 else "train"


# --8<-- [end:addition_split]


@functools.cache
def _all_additions(split: str) -> tuple[str, ...]:
    """Every prompt of ``split`` (computed once: training draws from it at every step)."""
    every = (f"{a}+{b}=" for a in range(ADD_MAX + 1) for b in range(ADD_MAX + 1))
    return tuple(p for p in every if addition_split(p) == split)


def sample_additions(rng: np.random.Generator, n: int, split: str, *, distinct: bool = False) -> list[str]:
    """Draw ``n`` addition prompts of one split, uniformly.

    Parameters
    ----------
    rng : numpy.random.Generator
    n : int
        How many prompts.
    split : str
        ``"train"``, ``"valid"`` or ``"test"``.
    distinct : bool
        No repeats (for evaluation sets); then ``n`` must not exceed the split's size.

    Returns
    -------
    list of str

    Raises
    ------
    TypeError
        If ``rng`` is not a Generator or ``n`` not an integer.
    ValueError
        If ``split`` is unknown or ``distinct`` asks for more prompts than the split holds.

    Examples
    --------
    >>> import numpy as np
    >>> prompts = sample_additions(np.random.default_rng(0), 3, "test")
    >>> [addition_split(p) for p in prompts]
    ['test', 'test', 'test']
    """
    if split not in _SPLITS:
        raise ValueError(f"split must be one of {_SPLITS}, got {split!r}")
    n = check_positive_int("n", n)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator, got {describe(rng)}")
    pool = _all_additions(split)
    if distinct and n > len(pool):
        raise ValueError(f"the {split!r} split holds {len(pool)} addition prompts, fewer than n = {n}")
    picks = rng.choice(len(pool), size=n, replace=not distinct)
    return [pool[i] for i in picks]


def held_out_additions(n: int = 1000) -> list[str]:
    """The fixed evaluation set of the addition task: ``n`` distinct prompts of the test split.

    Parameters
    ----------
    n : int
        How many prompts (at most 1,010, the size of the test split).

    Returns
    -------
    list of str

    Examples
    --------
    >>> prompts = held_out_additions(1000)
    >>> len(set(prompts)), {addition_split(p) for p in prompts}
    (1000, {'test'})
    """
    return sample_additions(np.random.default_rng(TEST_SEED), n, "test", distinct=True)


# --8<-- [start:make_lm_batch]
def make_lm_batch(vocab: Vocab, prompts: list[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Inputs and targets for next-token training of a decoder-only model on addition.

    Each row is ``<bos>``, the prompt, the answer, ``<eos>``, padded; the input is the row
    without its last token and the target is the row shifted left by one. Only the answer
    and the end token are targets: the prompt's own characters (random numbers) are not
    the model's job, so their targets are ``pad_id`` (no loss, no gradient).

    Parameters
    ----------
    vocab : Vocab
        With the characters of ``ADD_CHARS``.
    prompts : list of str

    Returns
    -------
    ids : numpy.ndarray of int64, shape (batch, n)
    targets : numpy.ndarray of int64, shape (batch, n)

    Examples
    --------
    >>> ids, targets = make_lm_batch(Vocab(ADD_CHARS), ["3+4=", "9+9="])
    >>> ids.tolist()  # <bos> 3 + 4 = 7 / <bos> 9 + 9 = 1 8
    [[1, 6, 13, 7, 14, 10, 0], [1, 12, 13, 12, 14, 4, 11]]
    >>> targets.tolist()  # padding (0) until the answer: 7 <eos> / 1 8 <eos>
    [[0, 0, 0, 0, 10, 2, 0], [0, 0, 0, 0, 4, 11, 2]]
    """
    rows = [(vocab.encode(p), vocab.encode(addition_answer(p))) for p in prompts]
    n = max(len(p) + len(a) + 1 for p, a in rows)  # <bos> + prompt + answer (<eos> is only a target)
    ids = np.full((len(rows), n), vocab.pad_id, dtype=np.int64)  # (batch, n)
    targets = np.full((len(rows), n), vocab.pad_id, dtype=np.int64)  # (batch, n)
    for row, (p, a) in enumerate(rows):
        seq = [vocab.bos_id, *p, *a, vocab.eos_id]
        ids[row, : len(seq) - 1] = seq[:-1]
        targets[row, len(p) : len(seq) - 1] = [*a, vocab.eos_id]  # the answer, then the end
    return ids, targets


# --8<-- [end:make_lm_batch]
