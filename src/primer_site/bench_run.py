"""Benchmark attention on this machine and write bench/results.json.

Compared in one run, on one thread, in float32: a pure-Python loop (small n only), the
textbook numpy form (``reference_attention``), the fast ``scaled_dot_product_attention``
(with and without the weights), ``tiled_attention``, and PyTorch's
``torch.nn.functional.scaled_dot_product_attention`` on the CPU when torch is installed
(skipped, and recorded as skipped, when it is not). Also: a float32 matrix product for
this machine's peak, time and peak memory as n grows, and an Elman RNN against an
attention layer across sequence lengths.

Run it with ``make bench``: that command sets one thread for every BLAS and unsets
OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE for this process only. Times are medians over
rounds in which every variant of a group runs once, in a rotating order, after warm-up
calls; the spread (quartiles, min, max) is kept. The CPU time of the process
(``time.process_time``) is the measure, since the machine is shared: a process that waits
for a core is not charged for it. The wall-clock time is recorded beside it.

Usage::

    python -m primer_site.bench_run [--out bench/results.json] [--quick]
"""

from __future__ import annotations

import argparse
import datetime
import gc
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np

from transformer_primer.attention import reference_attention, scaled_dot_product_attention, tiled_attention
from transformer_primer.masks import causal_mask
from transformer_primer.rnn import ElmanRNN

from . import ROOT
from .bench_report import summary_lines  # the same code that builds the page

ENV_VARS = [
    "OMP_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "MALLOC_MMAP_THRESHOLD_",
]
DTYPE = np.float32


# --8<-- [start:python_loop]
def python_loop_attention(
    q: list[list[float]], k: list[list[float]], v: list[list[float]]
) -> list[list[float]]:
    """softmax(q k^T / sqrt(d_k)) v for one head, with Python lists and loops only."""
    scale = 1.0 / math.sqrt(len(q[0]))
    output = []
    for q_i in q:  # one query at a time
        scores = [sum(a * b for a, b in zip(q_i, k_j, strict=True)) * scale for k_j in k]  # (n_k,)
        top = max(scores)
        weights = [math.exp(s - top) for s in scores]  # unnormalised, all <= 1
        total = sum(weights)
        row = [sum(w * v_j[c] for w, v_j in zip(weights, v, strict=True)) for c in range(len(v[0]))]
        output.append([x / total for x in row])  # (d_v,)
    return output  # (n_q, d_v)


# --8<-- [end:python_loop]


# --- measuring ----------------------------------------------------------------------------


def summary(samples: list[float]) -> dict[str, float]:
    """Median, quartiles and range of a list of times, in seconds."""
    q1, median, q3 = (
        statistics.quantiles(samples, n=4, method="inclusive") if len(samples) > 1 else samples * 3
    )
    return {"median": median, "q1": q1, "q3": q3, "min": min(samples), "max": max(samples), "n": len(samples)}


def measure(cases: dict[str, Callable[[], object]], rounds: int, warmup: int = 1) -> dict[str, dict]:
    """Time every case ``rounds`` times, interleaved: each round runs every case once.

    The order rotates from round to round, so no case always follows the same neighbour.
    Returns, per case, the summary of its CPU times and of its wall-clock times.
    """
    names = list(cases)
    for _ in range(warmup):
        for name in names:
            cases[name]()
    cpu: dict[str, list[float]] = {name: [] for name in names}
    wall: dict[str, list[float]] = {name: [] for name in names}
    gc.collect()
    gc.disable()
    try:
        for r in range(rounds):
            for name in names[r % len(names) :] + names[: r % len(names)]:
                w0, c0 = time.perf_counter(), time.process_time()
                cases[name]()
                c1, w1 = time.process_time(), time.perf_counter()
                cpu[name].append(c1 - c0)
                wall[name].append(w1 - w0)
            gc.collect()
    finally:
        gc.enable()
    return {name: {"cpu": summary(cpu[name]), "wall": summary(wall[name])} for name in names}


def rounds_for(seconds_per_round: float, budget: float, low: int, high: int) -> int:
    """How many rounds fit in ``budget`` seconds, clamped to [low, high]."""
    return max(low, min(high, int(budget / max(seconds_per_round, 1e-9))))


def peak_bytes(call: Callable[[], object]) -> int:
    """Peak bytes allocated through Python and numpy while ``call`` runs, beyond what existed before."""
    gc.collect()
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        tracemalloc.reset_peak()
        result = call()
        _, peak = tracemalloc.get_traced_memory()
        del result
    finally:
        tracemalloc.stop()
    return peak - before


# --- what is compared ---------------------------------------------------------------------


def load_torch():
    """PyTorch set to one thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    return torch


def qkv(rng: np.random.Generator, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """Three float32 standard-normal arrays of `shape`: queries, keys, values."""
    return tuple(rng.standard_normal(shape).astype(DTYPE) for _ in range(3))


def attention_cases(
    q, k, v, causal: bool, torch, block_sizes=(128,), textbook: bool = True, with_weights: bool = True
) -> dict[str, Callable[[], object]]:
    """The callables compared at one shape; the mask is built once, outside the timing."""
    n = q.shape[-2]
    mask = causal_mask(n) if causal else None
    cases: dict[str, Callable[[], object]] = {}
    if textbook:
        cases["textbook"] = lambda: reference_attention(q, k, v, mask)
    if with_weights:
        cases["plain_weights"] = lambda: scaled_dot_product_attention(q, k, v, mask)
    cases["plain"] = lambda: scaled_dot_product_attention(q, k, v, mask, need_weights=False)
    for b in block_sizes:
        cases["tiled" if b == 128 else f"tiled_{b}"] = lambda b=b: tiled_attention(
            q, k, v, mask, block_size=b
        )
    if torch is not None:
        tq, tk, tv = (torch.from_numpy(x) for x in (q, k, v))
        sdpa = torch.nn.functional.scaled_dot_product_attention
        cases["torch"] = lambda: sdpa(tq, tk, tv, is_causal=causal)
    return cases


def flops(shape: dict[str, int], causal: bool) -> float:
    """Multiply-adds x 2 of the two matrix products; under a causal mask only the pairs that count."""
    b, h, n, d = shape["B"], shape["H"], shape["n"], shape["d"]
    pairs = n * (n + 1) / 2 if causal else n * n
    return 4.0 * b * h * pairs * d


def machine(torch) -> dict:
    """What the numbers were measured on: CPU, BLAS kernel and threads, versions, environment."""
    from threadpoolctl import threadpool_info

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = [
        {
            key: entry.get(key)
            for key in (
                "user_api",
                "internal_api",
                "version",
                "architecture",
                "threading_layer",
                "num_threads",
                "prefix",
            )
        }
        for entry in threadpool_info()
    ]
    info = {
        "cpu": cpu,
        "logical_cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "blas": blas,
        "env": {name: os.environ.get(name) for name in ENV_VARS},
        "torch": None,
    }
    if torch is not None:
        config = torch.__config__.show()
        blas_line = next(
            (line.strip(" -") for line in config.splitlines() if "Math Kernel" in line or "BLAS" in line),
            None,
        )
        info["torch"] = {
            "version": torch.__version__,
            "threads": torch.get_num_threads(),
            "blas": blas_line,
            "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        }
    return info


# --- the groups ---------------------------------------------------------------------------


def run_peak(torch, quick: bool) -> dict:
    """The one-thread matrix-product peak, the yardstick for the GFLOP/s columns."""
    n = 1024 if quick else 2048
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal((n, n)).astype(DTYPE) for _ in range(2))
    cases: dict[str, Callable[[], object]] = {"numpy": lambda: a @ b}
    if torch is not None:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        cases["torch"] = lambda: ta @ tb
    stats = measure(cases, rounds=3 if quick else 9)
    return {"n": n, "flops": 2.0 * n**3, "cases": stats}


def run_headline(torch, quick: bool) -> dict:
    """Every variant at the headline shape, with and without the causal mask."""
    shape = {"B": 1, "H": 8, "n": 512 if quick else 2048, "d": 64}
    rng = np.random.default_rng(1)
    q, k, v = qkv(rng, (shape["B"], shape["H"], shape["n"], shape["d"]))
    cases, meta = {}, {}
    for causal in (False, True):
        for name, call in attention_cases(q, k, v, causal, torch).items():
            key = f"{name}_causal" if causal else name
            cases[key] = call
            meta[key] = {"variant": name, "causal": causal, "flops": flops(shape, causal)}
    stats = measure(cases, rounds=3 if quick else 15)
    return {"shape": shape, "dtype": "float32", "cases": {key: {**meta[key], **stats[key]} for key in cases}}


def run_block_sizes(torch, quick: bool) -> dict:
    """The tiled kernel at the headline shape for several block sizes."""
    shape = {"B": 1, "H": 8, "n": 512 if quick else 2048, "d": 64}
    rng = np.random.default_rng(2)
    q, k, v = qkv(rng, (shape["B"], shape["H"], shape["n"], shape["d"]))
    sizes = (64, 128, 256, 512)
    cases, meta = {}, {}
    for causal in (False, True):
        mask = causal_mask(shape["n"]) if causal else None
        for b in sizes:
            key = f"{b}_causal" if causal else str(b)
            cases[key] = lambda b=b, mask=mask: tiled_attention(q, k, v, mask, block_size=b)
            meta[key] = {"block_size": b, "causal": causal, "flops": flops(shape, causal)}
    stats = measure(cases, rounds=3 if quick else 9)
    return {"shape": shape, "cases": {key: {**meta[key], **stats[key]} for key in cases}}


def run_scaling(torch, quick: bool) -> dict:
    """Time and peak memory of every variant as the sequence length grows."""
    d = 64
    sizes = [128, 256, 512, 1024] if quick else [128, 256, 512, 1024, 2048, 4096, 8192, 16384]
    python_sizes = [32, 64, 128]
    points = []
    for n in sorted(set(sizes) | set(python_sizes)):
        rng = np.random.default_rng(n)
        q, k, v = qkv(rng, (1, 1, n, d))
        cases: dict[str, Callable[[], object]] = {}
        if n in python_sizes:
            lists = [x[0, 0].astype(np.float64).tolist() for x in (q, k, v)]
            cases["python"] = lambda lists=lists: python_loop_attention(*lists)
        if n in sizes:
            cases.update(attention_cases(q, k, v, False, torch, with_weights=False))
        start = time.process_time()
        for call in cases.values():
            call()  # one call each, to size the rounds (and as the warm-up)
        per_round = time.process_time() - start
        budget = 1.5 if quick else 6.0
        stats = measure(cases, rounds=rounds_for(per_round, budget, 3, 15), warmup=0)
        for name in list(stats):
            if name in ("textbook", "plain", "tiled"):
                stats[name]["peak_bytes"] = peak_bytes(cases[name])
        points.append({"n": n, "cases": stats})
        print(
            f"  scaling n={n}: "
            + ", ".join(f"{name} {s['cpu']['median'] * 1e3:.2f} ms" for name, s in stats.items()),
            flush=True,
        )
    return {"shape": {"B": 1, "H": 1, "d": d}, "points": points}


def run_rnn(quick: bool) -> dict:
    """An Elman RNN against one attention layer, per sequence length."""
    d = 64
    sizes = [16, 32, 64, 128, 256, 512] if quick else [16, 32, 64, 128, 256, 512, 1024, 2048, 4096]
    points = []
    for n in sizes:
        rng = np.random.default_rng(n)
        rnn = ElmanRNN(d_in=d, d_hidden=d, rng=rng)
        rnn.w_x, rnn.w_h, rnn.b = (
            p.astype(DTYPE) for p in (rnn.w_x, rnn.w_h, rnn.b)
        )  # float32 like the rest
        w_q, w_k, w_v = (rng.uniform(-1, 1, (d, d)).astype(DTYPE) / math.sqrt(d) for _ in range(3))
        x = rng.standard_normal((n, d)).astype(DTYPE)

        def attention_layer(x=x, w_q=w_q, w_k=w_k, w_v=w_v):
            return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, need_weights=False)[0]

        cases = {"rnn": lambda rnn=rnn, x=x: rnn(x), "attention": attention_layer}
        start = time.process_time()
        for call in cases.values():
            call()
        per_round = time.process_time() - start
        stats = measure(cases, rounds=rounds_for(per_round, 0.5 if quick else 2.0, 5, 25), warmup=0)
        points.append({"n": n, "cases": stats})
    return {"d_model": d, "points": points}


def git(*args: str) -> str | None:
    """The output of a git command run at the repository root, or None when git fails."""
    try:
        out = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    return out.stdout.strip()


def main(argv: list[str] | None = None) -> int:
    """Run every group and write the results file; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results.json")
    parser.add_argument("--quick", action="store_true", help="small sizes, few rounds: a smoke test")
    args = parser.parse_args(argv)

    torch = load_torch()
    started = time.perf_counter()
    results = {
        "schema": 1,
        "quick": args.quick,
        "created": datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat(),
        "git_commit": git("rev-parse", "HEAD"),
        "git_dirty": bool(git("status", "--porcelain", "--", "src")),  # code not yet committed
        "machine": machine(torch),
        "load_average_before": list(os.getloadavg()),
        "method": {
            "clock": "cpu",
            "statistic": "median",
            "dtype": "float32",
            "torch_skipped": torch is None,
        },
    }
    for name, run in (
        ("peak", lambda: run_peak(torch, args.quick)),
        ("headline", lambda: run_headline(torch, args.quick)),
        ("block_sizes", lambda: run_block_sizes(torch, args.quick)),
        ("scaling", lambda: run_scaling(torch, args.quick)),
        ("rnn", lambda: run_rnn(args.quick)),
    ):
        t0 = time.perf_counter()
        print(f"{name} ...", flush=True)
        results[name] = run()
        print(f"{name}: {time.perf_counter() - t0:.0f} s", flush=True)
    results["load_average_after"] = list(os.getloadavg())
    results["elapsed_seconds"] = time.perf_counter() - started
    args.out.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
    print("\n".join(summary_lines(results)))
    print(f"written to {args.out} in {results['elapsed_seconds']:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
