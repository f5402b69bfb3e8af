"""Our fast attention against PyTorch's, interleaved, on this machine: bench/torch/<cpu>.json.

``transformer_primer.fast.flash_attention`` and ``torch.nn.functional.scaled_dot_product_attention``
run on the same float32 arrays, alternately in one process (torch, ours, ours, torch, ...:
the order flips every round, so neither always follows the other), and the result is the
**median of the per-round ratios** ours / torch, which a slow moment of the machine
shifts for both sides at once. Wall-clock time (two threads cannot be measured in CPU time);
the one-thread runs also record CPU time. Cases: one and two threads (two when the machine
has them), no mask and causal, n = 256 ... 16,384, d = 64, with 8 heads up to n = 2,048 and
fewer beyond (the work of one call stays within a few seconds).

Threads: PyTorch gets ``torch.set_num_threads(t)``; ours gets ``threads=t`` with the BLAS
held at one thread (``threadpoolctl``), since its threads are its own.

Also measured: numpy's float32 matrix product (2048 x 2048 x 2048) on one and two threads,
the machine's own peak for the "fraction of peak" column; where the time of one head goes
(each numpy step of the kernel timed alone on its tile, n = 2,048); and the peak memory of
``flash_attention`` against ``scaled_dot_product_attention(need_weights=False)`` at n = 16,384.

One file per CPU model (``bench/torch/<cpu-slug>.json``), so the page shows every machine
that ran it. Run it with ``make bench-torch`` (a quiet machine: nothing else running).

Usage::

    python -m primer_site.bench_torch [--out-dir bench/torch] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from transformer_primer.fast import flash_attention, l2_cache_bytes, tile_sizes
from transformer_primer.kernels import scaled_dot_product_attention

from . import ROOT
from .bench_common import cpu_name
from .bench_run import peak_bytes

OUT_DIR = ROOT / "bench" / "torch"
D = 64
SIZES = [(256, 8), (512, 8), (1024, 8), (2048, 8), (4096, 2), (8192, 1), (16384, 1)]  # (n, heads)
QUICK_SIZES = [(128, 2), (256, 2)]
HEADLINE = (2048, 8)
TARGETS = {1: 1.0, 2: 0.9}  # ratio ours / torch at most, per thread count (issue #16)


def slug(text: str) -> str:
    """A file name from a CPU model: ``"AMD EPYC"`` -> ``"amd-epyc"``."""
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-") or "unknown-cpu"


def _clock_pair() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def interleaved(ours: Callable[[], object], theirs: Callable[[], object], rounds: int) -> dict:
    """Time both ``rounds`` times, alternating which goes first; per-round ratios ours / theirs."""
    ours(), theirs()  # warm-up
    wall: dict[str, list[float]] = {"ours": [], "torch": []}
    cpu: dict[str, list[float]] = {"ours": [], "torch": []}
    calls = {"ours": ours, "torch": theirs}
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for name in ("torch", "ours") if r % 2 == 0 else ("ours", "torch"):
                w0, c0 = _clock_pair()
                calls[name]()
                w1, c1 = _clock_pair()
                wall[name].append(w1 - w0)
                cpu[name].append(c1 - c0)
    finally:
        gc.enable()
    ratios = [o / t for o, t in zip(wall["ours"], wall["torch"], strict=True)]
    cpu_ratios = [o / t for o, t in zip(cpu["ours"], cpu["torch"], strict=True)]
    return {
        "rounds": rounds,
        "wall": {name: statistics.median(x) for name, x in wall.items()},
        "cpu": {name: statistics.median(x) for name, x in cpu.items()},
        "ratio": statistics.median(ratios),
        "ratio_quartiles": statistics.quantiles(ratios, n=4, method="inclusive")[::2]
        if rounds > 1
        else ratios * 2,
        "cpu_ratio": statistics.median(cpu_ratios),
        "wall_rounds": wall,  # every round's time, so the ratio can be checked from them
    }


def matmul_peak(threads: int, quick: bool) -> float:
    """The float32 matrix product of numpy on ``threads`` threads, in GFLOP/s (median of runs)."""
    from threadpoolctl import threadpool_limits

    n = 1024 if quick else 2048
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    out = np.empty((n, n), dtype=np.float32)
    times = []
    with threadpool_limits(threads, user_api="blas"):
        np.matmul(a, b, out=out)
        for _ in range(3 if quick else 7):
            t0 = time.perf_counter()
            np.matmul(a, b, out=out)
            times.append(time.perf_counter() - t0)
    return 2.0 * n**3 / statistics.median(times) / 1e9


def flops(n: int, heads: int, causal: bool) -> float:
    """The two products' useful work: 4 H n^2 d, or only the pairs that count under the mask."""
    pairs = n * (n + 1) / 2 if causal else n * n
    return 4.0 * heads * pairs * D


def run_cases(torch, sizes: list[tuple[int, int]], thread_counts: list[int], quick: bool) -> list[dict]:
    """Every (threads, causal, n) case, interleaved against PyTorch."""
    from threadpoolctl import threadpool_limits

    sdpa = torch.nn.functional.scaled_dot_product_attention
    rows = []
    for threads in thread_counts:
        torch.set_num_threads(threads)
        for n, heads in sizes:
            rng = np.random.default_rng(n)
            q, k, v = (rng.standard_normal((1, heads, n, D)).astype(np.float32) for _ in range(3))
            tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
            for causal in (False, True):

                def ours(q=q, k=k, v=v, causal=causal, threads=threads) -> object:
                    return flash_attention(q, k, v, causal=causal, threads=threads)

                def theirs(tq=tq, tk=tk, tv=tv, causal=causal) -> object:
                    return sdpa(tq, tk, tv, is_causal=causal)

                with threadpool_limits(1, user_api="blas"):
                    t0 = time.perf_counter()
                    theirs()
                    ours()
                    per_round = time.perf_counter() - t0
                    rounds = 3 if quick else max(5, min(21, int(20.0 / max(per_round, 1e-6))))
                    stats = interleaved(ours, theirs, rounds)
                rows.append({"threads": threads, "n": n, "heads": heads, "causal": causal, **stats})
                print(
                    f"  threads={threads} n={n} heads={heads} causal={causal}: "
                    f"torch {stats['wall']['torch'] * 1e3:.1f} ms, ours {stats['wall']['ours'] * 1e3:.1f} ms, "
                    f"ratio {stats['ratio']:.3f} ({rounds} rounds)",
                    flush=True,
                )
    torch.set_num_threads(1)
    return rows


def breakdown(torch, quick: bool) -> dict:
    """Where one head's time goes at n = 2,048: each step of the kernel timed alone on its tile.

    The kernel's loop does, per tile of ``block_q x block_k`` scores: the product
    ``q_rows @ k_t`` (scores), ``exp`` in place, the product ``weights @ v`` and the
    matrix-vector product that sums the weights. Each is timed here on one tile, repeated
    as many times as the kernel has tiles; what the whole kernel takes beyond their sum is
    the Python and numpy overhead of the loop (and the per-row division).
    """
    from threadpoolctl import threadpool_limits

    n = 512 if quick else HEADLINE[0]
    block_q, block_k = tile_sizes(n)
    tiles = math.ceil(n / block_q) * math.ceil(n / block_k)
    rng = np.random.default_rng(7)
    q, k, v = (rng.standard_normal((n, D)).astype(np.float32) for _ in range(3))
    q_rows, k_t = q[:block_q] / np.float32(math.sqrt(D)), k[:block_k].T
    scores = np.empty((block_q, block_k), dtype=np.float32)
    np.matmul(q_rows, k_t, out=scores)
    weights = np.exp(scores)  # the input of the weights @ v step
    scores_in = scores.copy()  # the input of the exp step (exp writes to another buffer)
    part = np.empty((block_q, D), dtype=np.float32)
    sums = np.empty(block_q, dtype=np.float32)
    ones = np.ones(block_k, dtype=np.float32)
    repeats = 3 if quick else 21

    def each_tile(step: Callable[[], object]) -> Callable[[], None]:
        def run() -> None:
            for _ in range(tiles):
                step()

        return run

    steps = {
        "scores = q @ k^T": each_tile(lambda: np.matmul(q_rows, k_t, out=scores)),
        "exp": each_tile(lambda: np.exp(scores_in, out=scores)),
        "weights @ v": each_tile(lambda: np.matmul(weights, v[:block_k], out=part)),
        "weight sums": each_tile(lambda: np.matmul(weights, ones, out=sums)),
    }
    tq, tk, tv = (torch.from_numpy(x[None, None]) for x in (q, k, v))
    torch.set_num_threads(1)
    calls = {
        **steps,
        "total": lambda: flash_attention(q, k, v),
        "torch_total": lambda: torch.nn.functional.scaled_dot_product_attention(tq, tk, tv),
    }
    times: dict[str, list[float]] = {name: [] for name in calls}
    with threadpool_limits(1, user_api="blas"):
        for call in calls.values():
            call()  # warm-up
        for r in range(repeats):  # interleaved: every step once per round, the order rotating
            names = list(calls)[r % len(calls) :] + list(calls)[: r % len(calls)]
            for name in names:
                c0 = time.process_time()
                calls[name]()
                times[name].append(time.process_time() - c0)
    median = {name: statistics.median(x) for name, x in times.items()}
    parts = {name: median[name] for name in steps}
    total, torch_total = median["total"], median["torch_total"]
    return {
        "n": n,
        "block_q": block_q,
        "block_k": block_k,
        "tiles": tiles,
        "steps": parts,
        "total": total,
        "overhead": total - sum(parts.values()),
        "torch_total": torch_total,
        "flops": flops(n, 1, False),
    }


def memory(quick: bool) -> dict:
    """Peak memory of the fast kernel and of plain attention without weights, one head."""
    n = 1024 if quick else 16384
    rng = np.random.default_rng(3)
    q, k, v = (rng.standard_normal((1, 1, n, D)).astype(np.float32) for _ in range(3))
    fast = peak_bytes(lambda: flash_attention(q, k, v))
    plain = peak_bytes(lambda: scaled_dot_product_attention(q, k, v, need_weights=False))
    return {"n": n, "heads": 1, "flash_attention": fast, "plain": plain}


def main(argv: list[str] | None = None) -> int:
    """Measure, and write ``<out-dir>/<cpu-slug>.json``; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out-dir", type=Path, default=OUT_DIR)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, few rounds: a smoke test")
    args = parser.parse_args(argv)
    try:
        import torch
    except ImportError:
        print("error: this benchmark compares with PyTorch; install the torch extra", file=sys.stderr)
        return 2
    torch.set_num_threads(1)
    thread_counts = [1, 2] if (os.cpu_count() or 1) >= 2 else [1]
    cpu = cpu_name()
    started = time.perf_counter()
    results: dict = {
        "schema": 1,
        "quick": args.quick,
        "created": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "l2_bytes": l2_cache_bytes(),
        "tile": list(tile_sizes(HEADLINE[0])),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "load_average_before": list(os.getloadavg()),
        "d": D,
        "targets": {str(t): limit for t, limit in TARGETS.items()},
    }
    print(f"{cpu}: matmul peak ...", flush=True)
    results["matmul_gflops"] = {str(t): matmul_peak(t, args.quick) for t in thread_counts}
    print("cases ...", flush=True)
    results["cases"] = run_cases(torch, QUICK_SIZES if args.quick else SIZES, thread_counts, args.quick)
    print("breakdown, memory ...", flush=True)
    results["breakdown"] = breakdown(torch, args.quick)
    results["memory"] = memory(args.quick)
    results["load_average_after"] = list(os.getloadavg())
    results["elapsed_seconds"] = time.perf_counter() - started
    args.out_dir.mkdir(parents=True, exist_ok=True)
    out = args.out_dir / f"{slug(cpu)}.json"
    out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print(f"written to {out} in {results['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())


# --- the page: every file in bench/torch, rendered where benchmarks.md asks --------------------

MARKER = re.compile(r"^<!-- vs-torch: (?P<name>[a-z-]+) -->$", re.M)


def load_all(directory: Path = OUT_DIR) -> list[dict]:
    """Every committed result, one per CPU model, sorted by CPU name."""
    files = sorted(directory.glob("*.json"))
    return sorted((json.loads(f.read_text(encoding="utf-8")) for f in files), key=lambda r: r["cpu"])


def _case(results: dict, threads: int, n: int, causal: bool) -> dict | None:
    return next(
        (c for c in results["cases"] if (c["threads"], c["n"], c["causal"]) == (threads, n, causal)),
        None,
    )


def _threads(results: dict) -> list[int]:
    return sorted({c["threads"] for c in results["cases"]})


def _machines(all_results: list[dict]) -> str:
    rows = [
        "| CPU | L2 per core | tile (queries x keys) | numpy matmul, 1 / 2 threads | torch (CPU kernel) | numpy | measured | load before / after |",
        "| --- | ---: | --- | --- | --- | --- | --- | --- |",
    ]
    for r in all_results:
        peaks = " / ".join(f"{r['matmul_gflops'][str(t)]:.1f}" for t in _threads(r))
        load = f"{r['load_average_before'][0]:.2f} / {r['load_average_after'][0]:.2f}"
        rows.append(
            f"| {r['cpu']} | {r['l2_bytes'] // 1024} KiB | {r['tile'][0]} x {r['tile'][1]} | {peaks} GFLOP/s "
            f"| {r['torch']} ({r['torch_cpu_capability']}) | {r['numpy']} | {r['created'][:10]} | {load} |"
        )
    return "\n".join(rows)


def _ratios(all_results: list[dict]) -> str:
    out = []
    for r in all_results:
        threads = _threads(r)
        head = ["n (heads)"] + [
            f"{t} thread{'s' if t > 1 else ''}, {'causal' if causal else 'no mask'}"
            for t in threads
            for causal in (False, True)
        ]
        lines = [f"**{r['cpu']}**: ours / torch, median of per-round ratios (below 1: ours is faster)", ""]
        lines += ["| " + " | ".join(head) + " |", "| --- |" + " ---: |" * (len(head) - 1)]
        met = total = 0
        for n, heads in sorted({(c["n"], c["heads"]) for c in r["cases"]}):
            cells = [f"{n} ({heads})"]
            for t in threads:
                for causal in (False, True):
                    case = _case(r, t, n, causal)
                    if case is None:
                        cells.append("-")
                        continue
                    ok = case["ratio"] <= r["targets"][str(t)]
                    met, total = met + ok, total + 1
                    cells.append(f"{case['ratio']:.2f}" if not ok else f"**{case['ratio']:.2f}**")
            lines.append("| " + " | ".join(cells) + " |")
        limits = ", ".join(f"{r['targets'][str(t)]:.1f} on {t} thread{'s' if t > 1 else ''}" for t in threads)
        lines += ["", f"Targets (at most {limits}): **{met} of {total}** cases met (in bold)."]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _headline(all_results: list[dict]) -> str:
    n, heads = HEADLINE
    rows = [
        "| CPU | threads | mask | torch (ms) | ours (ms) | ours / torch | torch, of matmul peak | ours, of matmul peak |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in all_results:
        for t in _threads(r):
            peak = r["matmul_gflops"][str(t)] * 1e9
            for causal in (False, True):
                case = _case(r, t, n, causal)
                if case is None:
                    continue
                work = flops(n, heads, causal)
                rows.append(
                    f"| {r['cpu']} | {t} | {'causal' if causal else 'none'} | {case['wall']['torch'] * 1e3:.1f} "
                    f"| {case['wall']['ours'] * 1e3:.1f} | {case['ratio']:.2f} "
                    f"| {work / case['wall']['torch'] / peak:.0%} | {work / case['wall']['ours'] / peak:.0%} |"
                )
    return "\n".join(rows)


def _breakdown(all_results: list[dict]) -> str:
    out = []
    for r in all_results:
        b = r["breakdown"]
        lines = [
            f"**{r['cpu']}**, one head, n = {b['n']}, d = {r['d']}, tiles of {b['block_q']} x {b['block_k']} "
            f"({b['tiles']} tiles), one thread, CPU time:",
            "",
            "| step | ms | share of ours | GFLOP/s |",
            "| --- | ---: | ---: | ---: |",
        ]
        half = b["flops"] / 2  # each of the two products does half of the work
        for name, seconds in b["steps"].items():
            rate = f"{half / seconds / 1e9:.1f}" if name in ("scores = q @ k^T", "weights @ v") else ""
            lines.append(f"| {name} | {seconds * 1e3:.2f} | {seconds / b['total']:.0%} | {rate} |")
        lines += [
            f"| Python and the rest (whole kernel minus the steps) | {b['overhead'] * 1e3:.2f} "
            f"| {b['overhead'] / b['total']:.0%} | |",
            f"| **ours, whole kernel** | **{b['total'] * 1e3:.2f}** | 100% | |",
            f"| **torch, whole kernel** | **{b['torch_total'] * 1e3:.2f}** | {b['torch_total'] / b['total']:.0%} | |",
        ]
        out.append("\n".join(lines))
    return "\n\n".join(out)


def _memory(all_results: list[dict]) -> str:
    rows = [
        "| CPU | n | `flash_attention` (MB) | plain, no weights (MB) | fast / plain |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in all_results:
        m = r["memory"]
        rows.append(
            f"| {r['cpu']} | {m['n']} | {m['flash_attention'] / 1e6:.1f} | {m['plain'] / 1e6:.1f} "
            f"| {m['flash_attention'] / m['plain']:.3f} |"
        )
    return "\n".join(rows)


SECTIONS: dict[str, Callable[[list[dict]], str]] = {
    "machines": _machines,
    "ratios": _ratios,
    "headline": _headline,
    "breakdown": _breakdown,
    "memory": _memory,
}


def render(markdown: str, all_results: list[dict]) -> str:
    """Replace every ``<!-- vs-torch: NAME -->`` line with its generated Markdown."""

    def section(match: re.Match[str]) -> str:
        if match["name"] not in SECTIONS:
            raise KeyError(f"unknown vs-torch section {match['name']!r}; known: {', '.join(SECTIONS)}")
        return SECTIONS[match["name"]](all_results)

    return MARKER.sub(section, markdown)
