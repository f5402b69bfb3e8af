"""Byte-pair encoding against an independent trainer, and its round trip (its refusals are rows
of primer_site.refusals, run by test_bad_inputs.py)."""

from __future__ import annotations

import inspect
import re
from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import transformer_primer.sketch
from transformer_primer.bpe import pretokenize, train_bpe

SKETCH = inspect.getsource(transformer_primer.sketch)


def naive_train(text: str, n_merges: int) -> tuple[list[tuple[bytes, bytes]], list[int], list[list[bytes]]]:
    """BPE written another way: every word occurrence kept (no counting of distinct words),
    tokens as bytes objects, and ties broken by looking the ids up in a growing table.

    Returns the merged pairs (as bytes), their counts, and the final pieces of each occurrence.
    """
    ids = {bytes([b]): b for b in range(256)}
    occurrences = [
        [bytes([b]) for b in word.encode("utf-8")]
        for word in re.findall(r" ?[^\W\d_]+| ?\d+| ?[^\s\w]+|_+|\s+(?!\S)|\s+", text)
    ]
    merges, counts = [], []
    for _ in range(n_merges):
        pairs = Counter(pair for occ in occurrences for pair in zip(occ, occ[1:], strict=False))
        if not pairs:
            break
        top = max(pairs.values())
        best = min((p for p, c in pairs.items() if c == top), key=lambda p: (ids[p[0]], ids[p[1]]))
        ids[best[0] + best[1]] = len(ids)
        merges.append(best)
        counts.append(top)
        new = []
        for occ in occurrences:
            # merge left to right, non-overlapping
            merged: list[bytes] = []
            i = 0
            while i < len(occ):
                if i + 1 < len(occ) and (occ[i], occ[i + 1]) == best:
                    merged.append(occ[i] + occ[i + 1])
                    i += 2
                else:
                    merged.append(occ[i])
                    i += 1
            new.append(merged)
        occurrences = new
    return merges, counts, occurrences


@pytest.mark.parametrize(
    ("text", "n_merges"),
    [
        (SKETCH, 60),
        ("low lower lowest newest widest " * 3, 12),
        ("aaaaaaa aaa aa", 6),
        ("naïve café über", 10),
    ],
)
def test_merges_counts_and_segmentation_match_an_independent_trainer(text: str, n_merges: int) -> None:
    bpe = train_bpe(text, n_merges)
    merges, counts, occurrences = naive_train(text, n_merges)
    assert [(bpe.token_bytes(a), bpe.token_bytes(b)) for a, b in bpe.merges] == merges
    assert list(bpe.counts) == counts
    # Encoding the training text replays the merges: the same pieces training ended with.
    assert [bpe.token_bytes(t) for t in bpe.encode(text)] == [piece for occ in occurrences for piece in occ]


def test_training_stops_when_every_word_is_one_token() -> None:
    bpe = train_bpe("ab ab", 10)
    assert [bpe.token_text(256 + i) for i in range(len(bpe.merges))] == ["ab", " ab"]
    assert bpe.vocab_size == 258


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=60))
def test_pretokenize_keeps_every_character_and_the_round_trip_holds(text: str) -> None:
    text = text.encode("utf-8", errors="replace").decode("utf-8")  # no lone surrogates
    assert "".join(pretokenize(text)) == text
    bpe = train_bpe("the cat sat on the mat; über alles 12345", 20)
    assert bpe.decode(bpe.encode(text)) == text
