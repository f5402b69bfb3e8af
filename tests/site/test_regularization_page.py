"""The regularization experiment: the script runs, the committed file is a full run, the page shows it."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

from primer_site import ROOT
from primer_site import bench_regularization as bench

PAGE = ROOT / "docs" / "lessons" / "regularization.md"


def test_the_script_runs_quick(tmp_path: Path) -> None:
    out = tmp_path / "regularization.json"
    assert bench.main(["--quick", "--out", str(out)]) == 0
    results = json.loads(out.read_text())
    assert results["quick"] is True and results["method"]["seeds"] == [0]
    assert [r["config"] for r in results["runs"]] == list(bench.CONFIGS)
    for run in results["runs"]:
        assert 0 <= run["held_out_exact"] <= 1 and run["held_out_loss"] > 0
    assert set(results["summary"]) == set(bench.CONFIGS)


def test_the_committed_results_are_a_full_run() -> None:
    results = bench.load()
    assert results["quick"] is False and results["method"]["seeds"] == list(bench.SEEDS)
    assert results["method"]["baseline"]["steps"] == bench.STEPS
    assert results["method"]["baseline"]["train_size"] == bench.TRAIN_SIZE
    assert results["machine"]["omp_num_threads"] == "1"
    assert len(results["runs"]) == len(bench.SEEDS) * len(bench.CONFIGS)
    baseline = results["summary"]["baseline"]  # what the page says the experiment shows
    assert baseline["train_exact"] - baseline["held_out_exact"] > 0.5, "the baseline no longer overfits"


def test_the_page_shows_the_file() -> None:
    results = bench.load()
    shown = bench.render(PAGE.read_text(encoding="utf-8"))
    assert "<!-- regularization:" not in shown
    for name, s in results["summary"].items():
        row = next(line for line in shown.splitlines() if line.startswith(f"| {name} |"))
        assert f"{s['held_out_exact']:.3f}" in row and f"{s['held_out_loss']:.2f}" in row


def test_a_changed_result_changes_the_page() -> None:
    results = bench.load()
    changed = copy.deepcopy(results)
    changed["summary"]["dropout 0.1"]["held_out_exact"] = 0.123456
    before, after = bench.table(results), bench.table(changed)
    assert re.search(r"\| dropout 0\.1 \| 0\.123 ", after) and not re.search(
        r"\| dropout 0\.1 \| 0\.123 ", before
    )


def test_what_the_page_says_about_the_results_holds() -> None:
    """The prose after the table is qualitative; each of its claims is checked against the file."""
    results = bench.load()
    summary, runs = results["summary"], results["runs"]

    def held_out(name: str) -> list[float]:
        return [r["held_out_exact"] for r in runs if r["config"] == name]

    base = summary["baseline"]
    # dropout: better on every seed, does not memorise, still far from addition
    assert all(d > b for d, b in zip(held_out("dropout 0.1"), held_out("baseline"), strict=True))
    assert summary["dropout 0.1"]["train_exact"] < 0.9 and summary["dropout 0.1"]["held_out_exact"] < 0.5
    assert summary["dropout 0.1"]["held_out_exact_max"] > 2.5 * summary["dropout 0.1"]["held_out_exact_min"]
    # smoothing and tying: a lower held-out loss, the same held-out exact match (within the seeds)
    for name in ("label smoothing 0.1", "tied weights"):
        assert summary[name]["held_out_loss"] < base["held_out_loss"]
        assert (
            base["held_out_exact_min"] - 0.01 <= summary[name]["held_out_exact"] <= base["held_out_exact_max"]
        )
    # the paper's schedule: within the spread of the seeds of the baseline and its own
    paper = summary["paper schedule"]
    assert paper["held_out_exact_min"] <= base["held_out_exact_max"]
    # all three together: about dropout alone (within its spread)
    drop = summary["dropout 0.1"]
    assert drop["held_out_exact_min"] <= summary["all three"]["held_out_exact"] <= drop["held_out_exact_max"]
