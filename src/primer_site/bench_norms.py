"""Post-norm against pre-norm at a large learning rate without warm-up; write bench/norms.json.

Small encoder-decoders (2 encoder and 2 decoder layers, ``d_model`` 32, the sizes of the shipped
models otherwise) are trained on the ``reverse`` task by ``transformer_primer.train.train``, as
``python -m transformer_primer train`` trains them (Adam, gradient clipping at 1, the cosine
decay), except that the warm-up is removed (``warmup=1``: the first step uses the peak rate) and
the run is short. For each norm order, each peak learning rate and each seed, the file keeps the
training loss curve (``train`` logs the mean of every tenth of the run), the mean of the last
tenth, the exact match on 100 validation strings at the end, and the CPU seconds of the run
(``time.process_time``). A run whose loss is not finite is
recorded as such. Run it with ``make bench`` or::

    OMP_NUM_THREADS=1 python -m primer_site.bench_norms [--out bench/norms.json] [--quick]

The norms lesson's figure (``norms-learning-rate.svg``) and its table (``<!-- norms: table -->``)
are drawn from the file this writes.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import time
from pathlib import Path

import numpy as np

from transformer_primer.train import TrainConfig, train

from . import ROOT
from .bench_common import header

OUT = ROOT / "bench" / "norms.json"
LEARNING_RATES = [0.005, 0.01, 0.02, 0.05, 0.1]
SEEDS = [0, 1, 2]
STEPS = 200
N_LAYERS = 2
TASK = "reverse"
EVAL_SIZE = 100
NORMS = {"post-norm": False, "pre-norm": True}


def one_run(norm_first: bool, lr: float, seed: int, steps: int) -> dict:
    """Train one model; its final loss, validation exact match and CPU seconds."""
    config = TrainConfig(
        task=TASK,
        seed=seed,
        steps=steps,
        lr=lr,
        warmup=1,
        n_layers=N_LAYERS,
        norm_first=norm_first,
        eval_every=steps,
        eval_size=EVAL_SIZE,
    )
    start = time.process_time()
    model = train(config, None)
    cpu = time.process_time() - start
    losses = [float(v) for v in model.history["loss"]]  # each the mean over steps // 10 steps
    final = losses[-1]
    return {
        "norm_first": norm_first,
        "lr": lr,
        "seed": seed,
        "final_loss": final if math.isfinite(final) else None,
        "loss_curve": {"step": [int(v) for v in model.history["step"]], "loss": losses},
        "valid_exact": float(model.history["valid_exact"][-1]),
        "cpu_seconds": round(cpu, 2),
    }


def run(quick: bool) -> dict:
    """Every norm order, learning rate and seed."""
    steps = 40 if quick else STEPS
    rates = LEARNING_RATES[-1:] if quick else LEARNING_RATES
    seeds = SEEDS[:1] if quick else SEEDS
    runs = []
    for lr in rates:
        for seed in seeds:
            for name, norm_first in NORMS.items():
                runs.append(one_run(norm_first, lr, seed, steps))
                r = runs[-1]
                print(
                    f"lr {lr:<6g} seed {seed}  {name:9}  loss of the last {steps // 10} steps {r['final_loss']}"
                    f"  valid exact {r['valid_exact']:.3f}  {r['cpu_seconds']:.1f} s CPU",
                    flush=True,
                )
    setup = {"task": TASK, "n_layers": N_LAYERS, "steps": steps, "warmup": 1, "last": steps // 10}
    setup.update({"eval_size": EVAL_SIZE, "d_model": TrainConfig.d_model, "clip": TrainConfig.clip})
    return {"setup": setup, "runs": runs}


def load(path: Path = OUT) -> dict:
    """The committed results."""
    return json.loads(path.read_text())


def summary(results: dict) -> list[dict]:
    """One row per (learning rate, norm order): the mean, min and max over the seeds."""
    rows = []
    for lr in sorted({r["lr"] for r in results["runs"]}):
        for name, norm_first in NORMS.items():
            runs = [r for r in results["runs"] if r["lr"] == lr and r["norm_first"] == norm_first]
            losses = [r["final_loss"] for r in runs if r["final_loss"] is not None]
            rows.append(
                {
                    "lr": lr,
                    "norm": name,
                    "seeds": len(runs),
                    "diverged": len(runs) - len(losses),
                    "loss_mean": float(np.mean(losses)) if losses else None,
                    "loss_min": min(losses) if losses else None,
                    "loss_max": max(losses) if losses else None,
                    "exact_mean": float(np.mean([r["valid_exact"] for r in runs])),
                }
            )
    return rows


def _loss(value: float | None) -> str:
    return "not finite" if value is None else f"{value:.3f}"


def table(results: dict) -> str:
    """The Markdown table of the lesson: loss and exact match per learning rate and norm order."""
    s = results["setup"]
    lines = [
        f"Mean training loss of the last {s['last']} of {s['steps']} steps (over "
        f"{len({r['seed'] for r in results['runs']})} seeds, lowest and highest in brackets) and "
        f"exact match on {s['eval_size']} validation strings, {s['n_layers']} + {s['n_layers']} "
        f"layers, `d_model` {s['d_model']}, no warm-up; measured on {results['machine']['cpu']}, "
        f"one thread, {sum(r['cpu_seconds'] for r in results['runs']):.0f} s of CPU time in all.",
        "",
        "| peak learning rate | norm | loss (last steps) | exact match |",
        "| ---: | --- | ---: | ---: |",
    ]
    for row in summary(results):
        loss = _loss(row["loss_mean"])
        if row["loss_mean"] is not None:
            loss += f" ({row['loss_min']:.3f} to {row['loss_max']:.3f})"
        if row["diverged"]:
            loss += f", {row['diverged']} of {row['seeds']} not finite"
        lines.append(f"| {row['lr']:g} | {row['norm']} | {loss} | {row['exact_mean']:.2f} |")
    return "\n".join(lines) + "\n"


LEARNED = 0.2  # the exact match on the validation strings at the end that counts as having learned


def verdict(results: dict) -> str:
    """One generated sentence: at each learning rate, how many runs of each order learned."""
    seeds = len({r["seed"] for r in results["runs"]})
    parts = []
    for lr in sorted({r["lr"] for r in results["runs"]}):
        counts = []
        for name, norm_first in NORMS.items():
            runs = [r for r in results["runs"] if r["lr"] == lr and r["norm_first"] == norm_first]
            counts.append(f"{name} {sum(r['valid_exact'] >= LEARNED for r in runs)}")
        parts.append(f"at {lr:g}, " + ", ".join(counts))
    return (
        f"Runs that learned the task, counting a run when at least {LEARNED:.0%} of the validation "
        f"strings come out exactly right after {results['setup']['steps']} steps, out of {seeds} "
        f"seeds: " + "; ".join(parts) + "."
    )


MARKER = re.compile(r"^<!-- norms: (?P<name>[a-z]+) -->$", re.M)
SECTIONS = {"table": table, "verdict": verdict}


def render(markdown: str) -> str:
    """Replace every ``<!-- norms: NAME -->`` line (``table``, ``verdict``) with its Markdown."""
    if not MARKER.search(markdown):
        return markdown
    results = load()
    return MARKER.sub(lambda m: SECTIONS[m["name"]](results), markdown)


def main(argv: list[str] | None = None) -> int:
    """Train every run and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="one rate, one seed, 40 steps (a smoke test)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = {
        **header(args.quick),
        "method": {"clock": "time.process_time", "dtype": "float64"},
        **run(args.quick),
    }
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} in {results['elapsed_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
