"""The benchmark numbers on the site, built from the committed bench/results.json.

A page asks for a generated table or sentence with a line ``<!-- bench: NAME -->`` (the names
are those of ``bench_report``'s ``SECTIONS``); the plugin replaces the line with Markdown that
``bench_report`` renders from the results file, so no measured number is ever typed into a
page. The figures (``figures/bench-*.svg``) are drawn from the same file, in the style and with
the deterministic SVG writer of the lesson figures (``figure_kit``).
"""

from __future__ import annotations

import re

import matplotlib
from matplotlib.figure import Figure

from . import bench_report as report
from .figure_kit import GREY, STYLE, to_svg

MARKER = re.compile(r"^<!-- bench: (?P<name>[a-z-]+) -->$", re.M)


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
        left.plot(
            xs,
            [report.median(p["cases"][variant]) * 1e3 for p in points if variant in p["cases"]],
            style,
            color=f"C{color}",
            label=label,
        )
        memory = [
            (p["n"], p["cases"][variant]["peak_bytes"] / 1e6)
            for p in points
            if "peak_bytes" in p["cases"].get(variant, {})
        ]
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
    ax.plot(
        ns,
        [report.median(p["cases"]["attention"]) * 1e3 for p in points],
        "s-",
        label="attention layer (one step)",
    )
    n = report.crossover(results)
    if n is not None:
        ax.axvline(n, linestyle=":", color=GREY)
        ax.annotate(
            f"n ≈ {n:.0f}",
            (n, ax.get_ylim()[1]),
            ha="left",
            va="top",
            xytext=(4, -4),
            textcoords="offset points",
        )
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
    ax.barh(
        range(len(rows)), [r["gflops"] for r in rows], color=["C0" if not r["causal"] else "C1" for r in rows]
    )
    ax.set_yticks(range(len(rows)), labels=labels, fontsize=8)
    ax.invert_yaxis()
    peak = report.peak_gflops(results)
    ax.axvline(peak, linestyle="--", color=GREY)
    ax.annotate(
        "measured matmul peak",
        (peak, 0),
        ha="right",
        va="bottom",
        xytext=(-4, 0),
        textcoords="offset points",
        fontsize=8,
    )
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
        with matplotlib.rc_context(STYLE):
            out[name] = to_svg(draw(results))
    return out
