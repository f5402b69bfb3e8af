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
