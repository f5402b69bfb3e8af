"""Read bench/results.json and turn it into the tables, verdicts and figures the site shows.

One place for every number derived from a benchmark run: ``bench_run`` prints its summary
with it, ``bench_page`` (through the plugin) builds the benchmark page and the tiled-attention
lesson with it, and the site tests check the built page against the results file. Nothing here
measures anything.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from . import ROOT

RESULTS = ROOT / "bench" / "results.json"

# The targets of issue 6: (what, limit).
PLAIN_VS_TORCH = 1.3  # fast plain attention / torch, headline shape, no mask
TILED_CAUSAL_VS_TORCH = 1.3  # tiled attention / torch, headline shape, causal
MEMORY_FRACTION = 0.1  # tiled peak memory / plain peak memory at the largest n, one head
TILED_VS_PLAIN_TIME = 1.5  # tiled time / plain time at the largest n, one head

LABELS = {
    "python": "pure Python loop",
    "textbook": "numpy, textbook (`reference_attention`)",
    "plain_weights": "numpy, fast, weights returned",
    "plain": "numpy, fast (`need_weights=False`)",
    "tiled": "numpy, tiled (`block_size=128`)",
    "torch": "PyTorch `scaled_dot_product_attention`",
}
ORDER = ["python", "textbook", "plain_weights", "plain", "tiled", "torch"]


def load(path: Path = RESULTS) -> dict:
    """The results of the committed run."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


# --- formatting: every number on the page goes through one of these -------------------------


def ms(seconds: float, like: float | None = None) -> str:
    """Milliseconds: one decimal from 10 ms up, three below (decided by ``like`` when given)."""
    scale = (seconds if like is None else like) * 1e3
    return f"{seconds * 1e3:.1f}" if scale >= 10 else f"{seconds * 1e3:.3f}"


def mb(n_bytes: float) -> str:
    """Megabytes (10**6 bytes), one decimal."""
    return f"{n_bytes / 1e6:.1f}"


def ratio(x: float) -> str:
    """A ratio, two decimals."""
    return f"{x:.2f}"


def gflops(x: float) -> str:
    """GFLOP/s, one decimal."""
    return f"{x:.1f}"


def percent(x: float) -> str:
    """A fraction as a whole percentage."""
    return f"{100 * x:.0f} %"


def spread(stats: dict) -> str:
    """The interquartile range and the full range, in ms, with the decimals of the median."""
    m = stats["median"]
    return f"{ms(stats['q1'], m)} – {ms(stats['q3'], m)} ({ms(stats['min'], m)} – {ms(stats['max'], m)})"


# --- derived numbers ------------------------------------------------------------------------


def median(case: dict, clock: str = "cpu") -> float:
    """The median time of a case, in seconds, on the CPU clock (or `wall`)."""
    return case[clock]["median"]


def peak_gflops(results: dict, which: str = "numpy") -> float:
    """The measured one-thread matrix-product rate, in GFLOP/s."""
    peak = results["peak"]
    return peak["flops"] / median(peak["cases"][which]) / 1e9


def headline_rows(results: dict) -> list[dict]:
    """One row per (variant, causal) of the headline shape, in a fixed order."""
    cases = results["headline"]["cases"]
    rows = []
    for causal in (False, True):
        torch_case = cases.get("torch_causal" if causal else "torch")
        for variant in ORDER:
            case = cases.get(f"{variant}_causal" if causal else variant)
            if case is None:
                continue
            rate = case["flops"] / median(case) / 1e9
            rows.append(
                {
                    "key": f"{variant}_causal" if causal else variant,
                    "label": LABELS[variant],
                    "causal": causal,
                    "median": median(case),
                    "stats": case["cpu"],
                    "wall": median(case, "wall"),
                    "vs_torch": median(case) / median(torch_case) if torch_case else None,
                    "gflops": rate,
                    "of_peak": rate / peak_gflops(results),
                }
            )
    return rows


def scaling_case(results: dict, n: int, variant: str) -> dict | None:
    """The statistics of one variant at length `n` in the scaling group, or None."""
    for point in results["scaling"]["points"]:
        if point["n"] == n:
            return point["cases"].get(variant)
    return None


def largest_n(results: dict) -> int:
    """The longest sequence the tiled kernel was timed at."""
    return max(p["n"] for p in results["scaling"]["points"] if "tiled" in p["cases"])


def targets(results: dict) -> list[dict]:
    """The four targets of the issue: measured value, limit, met or missed."""
    cases = results["headline"]["cases"]
    shape = results["headline"]["shape"]
    at = f"B={shape['B']}, H={shape['H']}, n={shape['n']}, d={shape['d']}"
    rows = []
    for key, torch_key, limit, what in (
        ("plain", "torch", PLAIN_VS_TORCH, f"fast plain attention / PyTorch ({at})"),
        (
            "tiled_causal",
            "torch_causal",
            TILED_CAUSAL_VS_TORCH,
            f"causal tiled attention / causal PyTorch ({at})",
        ),
    ):
        if torch_key in cases:
            value = median(cases[key]) / median(cases[torch_key])
            rows.append(
                {
                    "target": what,
                    "measured": ratio(value),
                    "limit": f"≤ {ratio(limit)}",
                    "met": value <= limit,
                }
            )
        else:
            rows.append(
                {
                    "target": what,
                    "measured": "not measured: torch is not installed",
                    "limit": f"≤ {ratio(limit)}",
                    "met": None,
                }
            )
    n = largest_n(results)
    plain, tiled = scaling_case(results, n, "plain"), scaling_case(results, n, "tiled")
    memory = tiled["peak_bytes"] / plain["peak_bytes"]
    rows.append(
        {
            "target": f"tiled peak memory / plain peak memory (n={n}, H=1, d={results['scaling']['shape']['d']})",
            "measured": f"{ratio(memory)} ({mb(tiled['peak_bytes'])} MB / {mb(plain['peak_bytes'])} MB)",
            "limit": f"≤ {ratio(MEMORY_FRACTION)}",
            "met": memory <= MEMORY_FRACTION,
        }
    )
    slower = median(tiled) / median(plain)
    rows.append(
        {
            "target": f"tiled time / plain time (n={n}, H=1, d={results['scaling']['shape']['d']})",
            "measured": f"{ratio(slower)} ({ms(median(tiled))} ms / {ms(median(plain))} ms)",
            "limit": f"≤ {ratio(TILED_VS_PLAIN_TIME)}",
            "met": slower <= TILED_VS_PLAIN_TIME,
        }
    )
    return rows


def rnn_ratios(results: dict) -> list[tuple[int, float]]:
    """(n, attention time / RNN time) for each measured length."""
    return [
        (p["n"], median(p["cases"]["attention"]) / median(p["cases"]["rnn"]))
        for p in results["rnn"]["points"]
    ]


def crossover(results: dict) -> float | None:
    """The length beyond which the attention layer stays slower than the RNN (log-log interpolation).

    The last place where the ratio attention / RNN rises through 1; ``None`` if it never does.
    """
    points = rnn_ratios(results)
    found = None
    for (n0, r0), (n1, r1) in zip(points, points[1:], strict=False):
        if r0 <= 1 < r1:
            t = -math.log(r0) / (math.log(r1) - math.log(r0))
            found = math.exp(math.log(n0) + t * (math.log(n1) - math.log(n0)))
    return found


# --- markdown for the pages -----------------------------------------------------------------


def table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    """A Markdown table; `align` gives one letter per column, `l` or `r`."""
    align = align or "l" + "r" * (len(header) - 1)
    marks = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join(marks) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def verdict(met: bool | None) -> str:
    """How a target reads in the table: met, missed or not measured."""
    return {True: "met", False: "**missed**", None: "not measured"}[met]


def md_machine(results: dict) -> str:
    """The machine table: CPU, BLAS and its threads, load, commit, measured peak."""
    m = results["machine"]
    blas = [b for b in m["blas"] if b.get("user_api") == "blas"]
    rows = [
        ["CPU", f"{m['cpu']}, {m['logical_cpus']} logical CPUs (shared with other jobs)"],
        ["Python / numpy", f"{m['python']} / {m['numpy']}"],
    ]
    for b in blas:
        rows.append(
            [
                "numpy's BLAS (threadpoolctl)",
                f"{b['internal_api']} {b['version']}, kernel {b['architecture']}, {b['num_threads']} thread(s)",
            ]
        )
    if m["torch"]:
        t = m["torch"]
        rows.append(
            ["PyTorch", f"{t['version']}, {t['threads']} thread(s), {t['cpu_capability']}, {t['blas']}"]
        )
    else:
        rows.append(["PyTorch", "not installed: its rows are skipped"])
    env = ", ".join(f"{k}={v}" if v is not None else f"{k} unset" for k, v in m["env"].items())
    rows.append(["Environment", env])
    rows.append(
        [
            "Load average (1, 5, 15 min) before / after",
            " / ".join(
                ", ".join(f"{x:.2f}" for x in results[key])
                for key in ("load_average_before", "load_average_after")
            ),
        ]
    )
    commit = (results["git_commit"] or "unknown")[:10] + (
        " with uncommitted changes" if results["git_dirty"] else ""
    )
    rows.append(["Run", f"{results['created']}, {results['elapsed_seconds']:.0f} s, commit {commit}"])
    peak = results["peak"]
    line = f"{gflops(peak_gflops(results))} GFLOP/s (numpy, float32 {peak['n']} x {peak['n']} matrix product)"
    if "torch" in peak["cases"]:
        line += f"; PyTorch: {gflops(peak_gflops(results, 'torch'))} GFLOP/s"
    rows.append(["Measured matmul peak, one thread", line])
    return table(["", ""], rows, "ll")


def md_headline(results: dict) -> str:
    """The headline table: every variant at the headline shape."""
    rows = []
    for row in headline_rows(results):
        rows.append(
            [
                row["label"] + (", causal" if row["causal"] else ""),
                ms(row["median"]),
                spread(row["stats"]),
                ratio(row["vs_torch"]) if row["vs_torch"] is not None else "–",
                gflops(row["gflops"]),
                percent(row["of_peak"]),
                ms(row["wall"]),
            ]
        )
    return table(
        [
            "variant",
            "CPU time, median (ms)",
            "quartiles (min – max), ms",
            "/ PyTorch",
            "GFLOP/s",
            "of matmul peak",
            "wall clock, median (ms)",
        ],
        rows,
    )


def md_headline_shape(results: dict) -> str:
    """The sentence that gives the headline shape and the number of rounds."""
    s = results["headline"]["shape"]
    n_rounds = next(iter(results["headline"]["cases"].values()))["cpu"]["n"]
    return (
        f"float32, B = {s['B']}, H = {s['H']}, n = {s['n']}, d = {s['d']}; "
        f"{n_rounds} interleaved rounds after a warm-up call"
    )


def md_targets(results: dict) -> str:
    """The targets table, measured against their limits."""
    rows = [[t["target"], t["measured"], t["limit"], verdict(t["met"])] for t in targets(results)]
    return table(["target", "measured", "limit", "verdict"], rows, "lrrl")


def md_block_sizes(results: dict) -> str:
    """The tiled kernel's time for each block size, with and without the causal mask."""
    cases = results["block_sizes"]["cases"]
    sizes = sorted({c["block_size"] for c in cases.values()})
    rows = []
    for b in sizes:
        full, causal = cases[str(b)], cases[f"{b}_causal"]
        rows.append(
            [str(b), ms(median(full)), spread(full["cpu"]), ms(median(causal)), spread(causal["cpu"])]
        )
    return table(
        ["block_size", "no mask (ms)", "quartiles (range)", "causal (ms)", "quartiles (range)"], rows
    )


def md_scaling(results: dict) -> str:
    """Time and peak memory of every variant as the sequence grows."""
    variants = [v for v in ORDER if any(v in p["cases"] for p in results["scaling"]["points"])]
    rows = []
    for p in results["scaling"]["points"]:
        row = [str(p["n"])]
        for v in variants:
            case = p["cases"].get(v)
            row.append(ms(median(case)) if case else "–")
        for v in ("textbook", "plain", "tiled"):
            case = p["cases"].get(v)
            row.append(mb(case["peak_bytes"]) if case and "peak_bytes" in case else "–")
        rows.append(row)
    header = (
        ["n"]
        + [f"{LABELS[v]} (ms)" for v in variants]
        + ["textbook peak (MB)", "fast plain peak (MB)", "tiled peak (MB)"]
    )
    return table(header, rows)


def md_scaling_shape(results: dict) -> str:
    """The sentence that gives the scaling group's shape."""
    s = results["scaling"]["shape"]
    ns = [p["n"] for p in results["scaling"]["points"]]
    return f"float32, B = {s['B']}, H = {s['H']}, d = {s['d']}, n from {min(ns)} to {max(ns)}"


def md_rnn(results: dict) -> str:
    """The Elman RNN against one attention layer, per sequence length."""
    rows = []
    for p in results["rnn"]["points"]:
        rnn, att = p["cases"]["rnn"], p["cases"]["attention"]
        rows.append([str(p["n"]), ms(median(rnn)), ms(median(att)), ratio(median(att) / median(rnn))])
    return table(["n", "Elman RNN (ms)", "attention layer (ms)", "attention / RNN"], rows)


def md_crossover(results: dict) -> str:
    """The sentence that says where attention becomes slower than the RNN."""
    n = crossover(results)
    d = results["rnn"]["d_model"]
    if n is None:
        return f"With d_model = {d}, the attention layer did not become the slower one in the measured range."
    text = (
        f"With d_model = {d}, beyond about **n = {n:.0f}** the attention layer is slower than the "
        f"RNN (interpolated between the two measured lengths around it)."
    )
    shortest, ratio_there = rnn_ratios(results)[0]
    if ratio_there > 1:
        text += (
            f" At the shortest lengths (from n = {shortest}) it is slower too: both take a fraction "
            "of a millisecond there, and the attention layer's fixed cost per call (its input "
            "checks, a dozen numpy calls) outweighs the RNN's few steps."
        )
    return text


def md_tiled_memory(results: dict) -> str:
    """The lesson's comparison: plain against tiled, time and memory, as n grows."""
    rows = []
    for p in results["scaling"]["points"]:
        plain, tiled = p["cases"].get("plain"), p["cases"].get("tiled")
        if plain is None or tiled is None:
            continue
        rows.append(
            [
                str(p["n"]),
                ms(median(plain)),
                ms(median(tiled)),
                ratio(median(tiled) / median(plain)),
                mb(plain["peak_bytes"]),
                mb(tiled["peak_bytes"]),
            ]
        )
    return table(
        ["n", "plain (ms)", "tiled (ms)", "tiled / plain", "plain peak (MB)", "tiled peak (MB)"], rows
    )


SECTIONS = {
    "machine": md_machine,
    "headline-shape": md_headline_shape,
    "headline": md_headline,
    "targets": md_targets,
    "block-sizes": md_block_sizes,
    "scaling-shape": md_scaling_shape,
    "scaling": md_scaling,
    "rnn": md_rnn,
    "crossover": md_crossover,
    "tiled-memory": md_tiled_memory,
}


def markdown(name: str, results: dict) -> str:
    """The generated Markdown for ``<!-- bench: name -->``."""
    if name not in SECTIONS:
        raise KeyError(f"unknown benchmark section {name!r}; known: {', '.join(SECTIONS)}")
    return SECTIONS[name](results)


def summary_lines(results: dict) -> list[str]:
    """What ``bench_run`` prints at the end: the headline and the targets."""
    lines = [f"peak: {gflops(peak_gflops(results))} GFLOP/s"]
    for row in headline_rows(results):
        torch = f", {ratio(row['vs_torch'])}x torch" if row["vs_torch"] is not None else ""
        lines.append(f"{row['key']:<22} {ms(row['median']):>9} ms{torch}, {gflops(row['gflops'])} GFLOP/s")
    for t in targets(results):
        lines.append(f"target: {t['target']}: {t['measured']} (limit {t['limit']}): {verdict(t['met'])}")
    n = crossover(results)
    lines.append(f"RNN / attention crossover: n = {n:.0f}" if n else "RNN / attention: no crossover")
    return lines
