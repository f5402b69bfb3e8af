"""MkDocs hook: the benchmark numbers on the site, built from the committed bench/results.json.

A page asks for a generated table or sentence with a line ``<!-- bench: NAME -->`` (the
names are those of ``bench/report.py``'s ``SECTIONS``); the line is replaced by Markdown
that ``bench/report.py`` renders from the results file, so no measured number is ever typed
into a page. The figures (``figures/bench-*.svg``) are drawn from the same file and added
to the build with ``File.generated``, like the lesson figures of ``hooks/figures.py``,
whose style and deterministic SVG writer they share.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import matplotlib
from matplotlib.figure import Figure

matplotlib.use("Agg")

ROOT = Path(__file__).resolve().parent.parent
MARKER = re.compile(r"^<!-- bench: (?P<name>[a-z-]+) -->$", re.M)


def _load(name: str, path: Path):  # noqa: ANN202 - a module
    """Import a file that is not on sys.path (the hooks and bench/ are not packages)."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


report = _load("_primer_bench_report", ROOT / "bench" / "report.py")
figures = _load("_primer_figures", ROOT / "hooks" / "figures.py")  # STYLE and to_svg


def render(markdown: str, results: dict) -> str:
    """Replace every ``<!-- bench: NAME -->`` line with its generated Markdown."""
    return MARKER.sub(lambda m: report.markdown(m["name"], results), markdown)


# --- figures ----------------------------------------------------------------------------------


def scaling_figure(results: dict) -> Figure:
    """Time and peak memory against n, log-log, one line per variant."""
    fig = Figure(figsize=(8.4, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    points = results["scaling"]["points"]
    styles = {"python": "x:", "textbook": "o-", "plain": "s-", "tiled": "^-", "torch": "d--"}
    for color, (variant, style) in enumerate(styles.items()):  # one colour per variant in both panels
        xs = [p["n"] for p in points if variant in p["cases"]]
        if not xs:
            continue
        label = report.LABELS[variant].replace("`", "")
        left.plot(xs, [report.median(p["cases"][variant]) * 1e3 for p in points if variant in p["cases"]],
                  style, color=f"C{color}", label=label)
        memory = [(p["n"], p["cases"][variant]["peak_bytes"] / 1e6) for p in points
                  if "peak_bytes" in p["cases"].get(variant, {})]
        if memory:
            right.plot(*zip(*memory, strict=True), style, color=f"C{color}", label=label)
    for ax, ylabel in ((left, "CPU time, median (ms)"), (right, "peak memory during the call (MB)")):
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("sequence length n")
        ax.set_ylabel(ylabel)
        ax.grid(True, which="major", alpha=0.3)
    left.legend(fontsize=8)
    return fig


def rnn_figure(results: dict) -> Figure:
    """The RNN and the attention layer against n, with the crossover marked."""
    fig = Figure(figsize=(5.6, 3.4), layout="constrained")
    ax = fig.add_subplot()
    points = results["rnn"]["points"]
    ns = [p["n"] for p in points]
    ax.plot(ns, [report.median(p["cases"]["rnn"]) * 1e3 for p in points], "o-", label="Elman RNN (n steps)")
    ax.plot(ns, [report.median(p["cases"]["attention"]) * 1e3 for p in points], "s-",
            label="attention layer (one step)")
    n = report.crossover(results)
    if n is not None:
        ax.axvline(n, linestyle=":", color=figures.GREY)
        ax.annotate(f"n ≈ {n:.0f}", (n, ax.get_ylim()[1]), ha="left", va="top", xytext=(4, -4),
                    textcoords="offset points")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("sequence length n")
    ax.set_ylabel("CPU time, median (ms)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def headline_figure(results: dict) -> Figure:
    """Achieved GFLOP/s of each variant against the measured matmul peak."""
    rows = report.headline_rows(results)
    fig = Figure(figsize=(7.6, 3.6), layout="constrained")
    ax = fig.add_subplot()
    labels = [r["label"].replace("`", "") + (", causal" if r["causal"] else "") for r in rows]
    ax.barh(range(len(rows)), [r["gflops"] for r in rows], color=["C0" if not r["causal"] else "C1" for r in rows])
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=8)
    ax.invert_yaxis()
    peak = report.peak_gflops(results)
    ax.axvline(peak, linestyle="--", color=figures.GREY)
    ax.annotate("measured matmul peak", (peak, 0), ha="right", va="bottom", xytext=(-4, 0),
                textcoords="offset points", fontsize=8)
    ax.set_xlabel("GFLOP/s (useful floating-point operations per second)")
    return fig


FIGURES = {
    "bench-scaling.svg": scaling_figure,
    "bench-rnn.svg": rnn_figure,
    "bench-headline.svg": headline_figure,
}


def render_figures(results: dict) -> dict[str, str]:
    """Every benchmark figure as SVG text, by file name."""
    out = {}
    for name, draw in FIGURES.items():
        with matplotlib.rc_context(figures.STYLE):
            out[name] = figures.to_svg(draw(results))
    return out


# --- MkDocs hooks -----------------------------------------------------------------------------


def on_files(files, config):  # noqa: ANN001, ANN201 - MkDocs hook signature
    """Add the benchmark figures to the build as ``figures/bench-*.svg``."""
    from mkdocs.structure.files import File

    for name, svg in render_figures(report.load()).items():
        files.append(File.generated(config, f"figures/{name}", content=svg))
    return files


def on_page_markdown(markdown, page, config, files):  # noqa: ANN001, ANN201, ARG001 - MkDocs hook signature
    """Fill the ``<!-- bench: NAME -->`` lines of any page from the results file."""
    if MARKER.search(markdown) is None:
        return markdown
    return render(markdown, report.load())
