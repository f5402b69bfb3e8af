"""The length-extrapolation measurement (positions lesson): the committed file, its table, the script.

bench/extrapolation.json is written by ``python -m primer_site.bench_extrapolation`` (``make
bench``). These tests check that the committed file is a full one-thread run of every kind,
that the page's table says what the file holds (formatted here independently), that what the
page's prose claims is what the file shows, and that the script runs (``--quick``) and measures
exact match as greedy generation would.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from primer_site import ROOT
from primer_site import bench_extrapolation as bench

RESULTS = json.loads((ROOT / "bench" / "extrapolation.json").read_text(encoding="utf-8"))
PAGE = ROOT / "docs" / "lessons" / "positions.md"
LENGTHS = range(1, 17)


def cell(kind: str, n: int, measure: str) -> float | None:
    """The mean over seeds, computed here without the script's helpers; None when refused."""
    cells = [r["by_length"][str(n)] for r in RESULTS["runs"] if r["kind"] == kind]
    if any("refused" in c for c in cells):
        return None
    return sum(c[measure] for c in cells) / len(cells)


def test_the_committed_file_is_a_full_one_thread_run_of_every_kind() -> None:
    assert RESULTS["schema"] == 1 and RESULTS["quick"] is False
    assert RESULTS["machine"]["omp_num_threads"] == "1"
    assert RESULTS["kinds"] == ["sinusoidal", "learned", "rope", "alibi", "none"]
    assert RESULTS["train_lengths"] == [1, 8] and RESULTS["test_lengths"] == [1, 16]
    seeds = RESULTS["setting"]["seeds"]
    assert len(seeds) >= 2
    runs = {(r["kind"], r["seed"]) for r in RESULTS["runs"]}
    assert runs == {(k, s) for k in RESULTS["kinds"] for s in seeds}
    for run in RESULTS["runs"]:
        assert sorted(run["by_length"], key=int) == [str(n) for n in LENGTHS]
        for n, result in run["by_length"].items():
            refused = run["kind"] == "learned" and int(n) > 8
            assert ("refused" in result) == refused, (run["kind"], n)
            if refused:
                assert "ids is longer than max_len = 18" in result["refused"]


def test_the_page_table_is_the_file() -> None:
    table = bench.markdown_table(RESULTS).splitlines()
    assert table[0] == "| letters | sinusoidal | learned | RoPE | ALiBi | none |"
    for n, line in zip(LENGTHS, table[2:], strict=True):
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert cells[0] == (f"**{n}**" if n <= 8 else str(n))
        for kind, shown in zip(RESULTS["kinds"], cells[1:], strict=True):
            exact, token = cell(kind, n, "exact"), cell(kind, n, "token_accuracy")
            assert shown == ("refused" if exact is None else f"{exact:.2f}&nbsp;/&nbsp;{token:.2f}"), (
                kind,
                n,
            )


def test_the_page_asks_for_the_table_and_the_figure() -> None:
    text = PAGE.read_text(encoding="utf-8")
    assert "<!-- extrapolation: table -->" in text and "<!-- extrapolation: setting -->" in text
    assert "../figures/positions-extrapolation.svg" in text
    rendered = bench.render(text, RESULTS)
    assert "<!-- extrapolation:" not in rendered and "Lowest exact match within the training" in rendered


def test_the_quick_run_writes_a_complete_file(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    quick = json.loads(out.read_text())
    assert quick["quick"] is True and quick["setting"]["steps"] == bench.QUICK["steps"]
    assert {r["kind"] for r in quick["runs"]} == set(bench.KINDS)
    assert bench.markdown_table(quick).count("refused") == 8  # the learned table, lengths 9-16


def test_teacher_forced_exact_match_is_what_greedy_generation_gets() -> None:
    vocab = bench.vocabulary()
    gpt, _ = bench.train_one("rope", 0, {**bench.QUICK, "steps": 120, "batch_size": 64})
    agreed = {True: 0, False: 0}
    for n, texts in bench.test_texts(20).items():
        if n > 5:
            break
        right, real = bench.teacher_forced(gpt, texts)
        exact = right.sum(axis=1) == real.sum(axis=1)
        prompts = np.array([[vocab.bos_id, *vocab.encode(t + bench.SEP)] for t in texts])
        generated = gpt.greedy_decode_batch(prompts, n + 1)
        wanted = [vocab.encode(t) for t in texts]
        assert exact.tolist() == [g == w for g, w in zip(generated, wanted, strict=True)], n
        for e in exact:
            agreed[bool(e)] += 1
    assert agreed[True] >= 5 and agreed[False] >= 5  # both verdicts were compared


@pytest.mark.parametrize("kind", bench.KINDS)
def test_the_batches_learn_the_copy_only(kind: str) -> None:
    ids, targets = bench.copy_batch(bench.vocabulary(), ["ab", "c"])
    assert ids.tolist() == [[1, 3, 4, 29, 3, 4], [1, 5, 29, 5, 0, 0]]
    assert targets.tolist() == [[0, 0, 0, 3, 4, 2], [0, 0, 5, 2, 0, 0]]


# --- what the page's prose says about the file ---------------------------------------------


def past(kind: str, measure: str) -> list[float]:
    values = [cell(kind, n, measure) for n in range(9, 17)]
    assert all(v is not None for v in values)
    return [float(v) for v in values if v is not None]


def test_what_the_page_says_is_what_the_file_shows() -> None:
    text = " ".join(PAGE.read_text(encoding="utf-8").split())
    kinds = ["sinusoidal", "rope", "alibi", "none"]  # the learned table refuses past 8 letters
    # "every kind but one copies every string; the exception is the model with no positions"
    assert "every kind but one copies every string" in text
    for kind in ["sinusoidal", "learned", "rope", "alibi"]:
        assert min(cell(kind, n, "exact") or 0.0 for n in range(1, 9)) >= 0.99, kind
    assert min(cell("none", n, "exact") or 0.0 for n in range(1, 9)) < 0.9
    # "ALiBi is the only one that copies more than a tenth of the strings one letter longer",
    # "the two seeds disagree widely there", "from 10 letters on, no kind copies more than a tenth"
    assert "ALiBi is the only one that copies more than a tenth" in text
    assert [k for k in kinds if past(k, "exact")[0] > 0.1] == ["alibi"]
    alibi_9 = [r["by_length"]["9"]["exact"] for r in RESULTS["runs"] if r["kind"] == "alibi"]
    assert max(alibi_9) - min(alibi_9) > 0.5
    assert all(max(past(k, "exact")[1:]) <= 0.1 for k in kinds)
    # "its token accuracy falls steadily with the length, to about half of the tokens at 16"
    alibi = past("alibi", "token_accuracy")
    assert all(b < a for a, b in zip(alibi, alibi[1:], strict=False)) and 0.4 <= alibi[-1] <= 0.6
    # "the sine waves collapse at once: from 10 letters on, fewer than a quarter of the tokens"
    assert max(past("sinusoidal", "token_accuracy")[1:]) < 0.25
    # "RoPE's token accuracy does not fall steadily: it goes down and up again from length to
    # length, and at 16 letters it is no better than the sine waves'"
    rope, sine = past("rope", "token_accuracy"), past("sinusoidal", "token_accuracy")
    assert any(b > a + 0.1 for a, b in zip(rope, rope[1:], strict=False))
    assert any(b < a - 0.1 for a, b in zip(rope, rope[1:], strict=False))
    assert rope[-1] <= sine[-1] + 0.01
    # "No positions at all did not help here"
    assert all(n <= a for n, a in zip(past("none", "token_accuracy"), alibi, strict=True))
    assert "No positions at all did not help here" in text
