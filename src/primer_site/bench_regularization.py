"""Measure what each regularizer does to a small GPT that overfits; write bench/regularization.json.

The experiment: the addition task (``"37+48="`` -> ``"85"``) with a deliberately small fixed
training set (``TRAIN_SIZE`` prompts of the train split, drawn once per seed) and a model
big enough to memorise it (``SIZES``, about 26k parameters). The baseline is the package's
own recipe (Adam, warm-up and cosine decay, clipping); each other configuration changes
one thing: label smoothing 0.1, dropout 0.1, tied weights, the paper's schedule, and the
three regularizers together. Every configuration is trained from the same seeds.

After training, each model is scored on its own training set and on the package's fixed
held-out prompts (``held_out_additions``, the test split, never trained on): exact match
(greedy generation, the whole answer right) and the plain cross-entropy per answer token
(no smoothing, no dropout, so the losses of all configurations are comparable). Training
time is ``time.process_time`` (CPU time of this process; the machine is shared). Run it
with ``make bench`` or::

    OMP_NUM_THREADS=1 python -m primer_site.bench_regularization [--out PATH] [--quick]

The regularization lesson's table, sentence and figure are drawn from the file this writes:
a line ``<!-- regularization: table -->`` (or ``verdict``) on a page is replaced by
``render`` with Markdown made from it.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from transformer_primer.grad import gpt_loss
from transformer_primer.tasks import held_out_additions, make_lm_batch, sample_additions
from transformer_primer.train import GPTTrainConfig, train_gpt

from . import ROOT
from .bench_common import header

OUT = ROOT / "bench" / "regularization.json"
SIZES = {"d_model": 32, "n_heads": 2, "d_ff": 64, "n_layers": 2}
TRAIN_SIZE = 500  # of 9,000-odd train-split prompts: small enough to be memorised
STEPS = 3000
BATCH = 32
WARMUP = 100
SEEDS = (0, 1, 2)
HELD_OUT = 1000
CONFIGS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "label smoothing 0.1": {"smoothing": 0.1},
    "dropout 0.1": {"dropout": 0.1},
    "tied weights": {"tie_weights": True},
    "paper schedule": {"schedule": "paper"},
    "all three": {"smoothing": 0.1, "dropout": 0.1, "tie_weights": True},
}


def training_set(config: GPTTrainConfig) -> list[str]:
    """The fixed training prompts ``train_gpt`` draws for ``config`` (its fifth seed)."""
    pool_rng = np.random.default_rng(np.random.SeedSequence(config.seed).spawn(5)[4])
    return sample_additions(pool_rng, config.train_size, "train", distinct=True)


def one_run(name: str, seed: int, quick: bool) -> dict[str, Any]:
    """Train one configuration from one seed; score it on its training set and the held-out set."""
    config = GPTTrainConfig(
        seed=seed,
        steps=30 if quick else STEPS,
        batch_size=BATCH,
        warmup=10 if quick else WARMUP,
        eval_every=10 if quick else 500,
        eval_size=20 if quick else 200,
        train_size=50 if quick else TRAIN_SIZE,
        **SIZES,
        **CONFIGS[name],
    )
    start = time.process_time()
    model = train_gpt(config, None)
    cpu = time.process_time() - start
    train, held = training_set(config), held_out_additions(50 if quick else HELD_OUT)
    assert not set(train) & set(held), "a held-out prompt was trained on"

    def loss(prompts: list[str]) -> float:
        ids, targets = make_lm_batch(model.vocab, prompts)
        return gpt_loss(model.gpt, ids, targets)  # plain cross-entropy, no dropout: comparable

    result = {
        "config": name,
        "seed": seed,
        "train_loss": loss(train),
        "held_out_loss": loss(held),
        "train_exact": model.exact_match(train),
        "held_out_exact": model.exact_match(held),
        "valid_step": model.history["valid_step"].tolist(),
        "valid_exact": model.history["valid_exact"].tolist(),
        "train_cpu_seconds": round(cpu, 1),
        "parameters": model.n_parameters,
    }
    print(
        f"{name:20s} seed {seed}: train loss {result['train_loss']:.3f}, held-out loss "
        f"{result['held_out_loss']:.3f}, train exact {result['train_exact']:.3f}, held-out exact "
        f"{result['held_out_exact']:.3f} ({cpu:.1f} CPU s)",
        flush=True,
    )
    return result


def summarise(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Mean, smallest and largest of each score over the seeds, per configuration."""
    out: dict[str, dict[str, float]] = {}
    for name in CONFIGS:
        mine = [r for r in runs if r["config"] == name]
        out[name] = {}
        for key in ("train_loss", "held_out_loss", "train_exact", "held_out_exact", "train_cpu_seconds"):
            values = [r[key] for r in mine]
            out[name][key] = statistics.fmean(values)
            out[name][f"{key}_min"], out[name][f"{key}_max"] = min(values), max(values)
    return out


MARKER = re.compile(r"^<!-- regularization: (?P<name>table|verdict) -->$", re.M)


def load(path: Path = OUT) -> dict[str, Any]:
    """The committed results."""
    results: dict[str, Any] = json.loads(path.read_text())
    return results


def _cell(s: dict[str, float], key: str, digits: int) -> str:
    """The mean, then the smallest and largest run in brackets."""
    return f"{s[key]:.{digits}f} ({s[key + '_min']:.{digits}f}-{s[key + '_max']:.{digits}f})"


def table(results: dict[str, Any]) -> str:
    """The per-configuration means as a Markdown table (held-out: smallest and largest run too)."""
    n = len(results["method"]["seeds"])
    lines = [
        f"| mean of {n} seeds | held-out exact (range) | held-out loss (range) "
        "| train exact | train loss | CPU s |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, s in results["summary"].items():
        lines.append(
            f"| {name} | {_cell(s, 'held_out_exact', 3)} | {_cell(s, 'held_out_loss', 2)} "
            f"| {s['train_exact']:.3f} | {s['train_loss']:.3f} | {s['train_cpu_seconds']:.0f} |"
        )
    m = results["machine"]
    lines.append("")
    lines.append(
        f"Measured on {m['cpu']} with {m['omp_num_threads'] or 'unset'} BLAS thread(s), numpy "
        f"{m['numpy']}: {results['cpu_seconds']:.0f} CPU seconds in all ({results['created'][:10]})."
    )
    return "\n".join(lines)


def verdict(results: dict[str, Any]) -> str:
    """One sentence per configuration: how its held-out scores compare with the baseline's."""
    summary = results["summary"]
    base = summary["baseline"]
    parts = []
    for name, s in summary.items():
        if name == "baseline":
            continue
        beats = sum(
            r["held_out_exact"] > b["held_out_exact"]
            for r, b in zip(
                [r for r in results["runs"] if r["config"] == name],
                [r for r in results["runs"] if r["config"] == "baseline"],
                strict=True,
            )
        )
        parts.append(
            f"- **{name}**: held-out exact match {s['held_out_exact']:.3f} against the baseline's "
            f"{base['held_out_exact']:.3f} (better on {beats} of {len(results['method']['seeds'])} seeds), "
            f"held-out loss {s['held_out_loss']:.2f} against {base['held_out_loss']:.2f}."
        )
    gap = base["train_exact"] - base["held_out_exact"]
    overfits = ": it has learned its training prompts, not addition" if gap > 0.5 else ""
    return (
        f"The baseline's exact match is {base['train_exact']:.3f} on its training prompts and "
        f"{base['held_out_exact']:.3f} on prompts it never saw{overfits}. Against it, seed for "
        "seed:\n\n" + "\n".join(parts)
    )


def render(markdown: str, path: Path = OUT) -> str:
    """Replace each ``<!-- regularization: NAME -->`` line with its Markdown from the results."""
    if not MARKER.search(markdown):
        return markdown
    results = load(path)
    return MARKER.sub(lambda m: table(results) if m["name"] == "table" else verdict(results), markdown)


def main(argv: list[str] | None = None) -> int:
    """Train every configuration from every seed and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="tiny runs, one seed (a smoke test)")
    args = parser.parse_args(argv)
    started, started_cpu = time.perf_counter(), time.process_time()
    seeds = SEEDS[:1] if args.quick else SEEDS
    runs = [one_run(name, seed, args.quick) for seed in seeds for name in CONFIGS]
    setup = GPTTrainConfig(steps=STEPS, batch_size=BATCH, warmup=WARMUP, train_size=TRAIN_SIZE, **SIZES)
    results = {
        **header(args.quick),
        "method": {
            "clock": "time.process_time",
            "task": "add",
            "seeds": list(seeds),
            "held_out": HELD_OUT,
            "baseline": asdict(setup),
            "configs": CONFIGS,
            "loss": "plain cross-entropy per answer token, dropout off (the same measure for every config)",
        },
        "runs": runs,
        "summary": summarise(runs),
    }
    results["cpu_seconds"] = round(time.process_time() - started_cpu, 1)
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out}: {results['cpu_seconds']} CPU s, {results['elapsed_seconds']} s elapsed")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
