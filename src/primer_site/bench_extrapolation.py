"""Do a GPT's positions extrapolate? Train one GPT per kind of positions, test on longer inputs.

Four GPTs of the same size differ only in ``GPTConfig.positions`` (the sine waves, a learned
table, RoPE, ALiBi; and "none", the causal mask alone). Each is trained with the same seed,
steps and batches to copy a string of letters given as a prompt (``<bos> abc | abc <eos>``),
on strings of 1 to ``TRAIN_MAX`` letters only, then tested on strings of 1 to ``TEST_MAX``
letters (the same test strings for every model):

- *exact match*: the share of test strings whose whole answer (and the end token) greedy
  generation gets right. It is computed in one teacher-forced pass: greedy generation
  reproduces the answer exactly when the most probable token (padding and start excluded,
  as in generation) is right at every answer position given the true prefix, and the first
  wrong one is where generation would go astray. (The test of this script checks the two
  agree on a trained model.)
- *token accuracy*: the share of answer tokens (the end token included) predicted right given
  the true prefix.

A learned table has no row past the longest training sequence: that model refuses a longer
input (``ids is longer than max_len``), recorded as refused, not as a score. The others are
built with a ``max_len`` that holds the longest test sequence; nothing else about them depends
on it.

Every run is timed with ``time.process_time`` on one BLAS thread. Run it with ``make bench``
or::

    OMP_NUM_THREADS=1 python -m primer_site.bench_extrapolation [--out bench/extrapolation.json] [--quick]

The lesson's figure ``positions-extrapolation.svg`` and its table are drawn from the file
this writes.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import time
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.grad import gpt_loss_and_grads
from transformer_primer.train import Adam, clip_by_global_norm, learning_rate
from transformer_primer.vocab import Vocab

from . import ROOT
from .bench_common import cpu_name

OUT = ROOT / "bench" / "extrapolation.json"
LETTERS = "abcdefghijklmnopqrstuvwxyz"
SEP = "|"
KINDS = ("sinusoidal", "learned", "rope", "alibi", "none")
TRAIN_MAX = 8  # longest training string: sequences of <bos> + 8 + "|" + 8 tokens
TEST_MAX = 16  # longest test string: twice as long
SIZES = {"d_model": 32, "n_heads": 4, "d_ff": 128, "n_layers": 2}
FULL = {
    "steps": 1500,
    "batch_size": 64,
    "lr": 3e-3,
    "warmup": 150,
    "clip": 1.0,
    "seeds": [0, 1],
    "per_length": 200,
}
QUICK = {"steps": 40, "batch_size": 32, "lr": 3e-3, "warmup": 10, "clip": 1.0, "seeds": [0], "per_length": 20}
TEST_SEED = 2022  # the test strings: the same for every model


def vocabulary() -> Vocab:
    """The letters and the separator."""
    return Vocab(LETTERS + SEP)


def sample_texts(rng: np.random.Generator, n: int, lengths: tuple[int, int]) -> list[str]:
    """``n`` random strings of letters, each of a length drawn uniformly from ``lengths`` (inclusive)."""
    sizes = rng.integers(lengths[0], lengths[1] + 1, size=n)
    return ["".join(LETTERS[i] for i in rng.integers(0, len(LETTERS), size=s)) for s in sizes]


def copy_batch(vocab: Vocab, texts: list[str]) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Inputs and targets for ``<bos> text | text <eos>``: only the answer and the end token are targets."""
    n = max(2 * len(t) + 2 for t in texts)  # <bos> + text + "|" + text (<eos> is only a target)
    ids = np.full((len(texts), n), vocab.pad_id, dtype=np.int64)  # (batch, n)
    targets = np.full((len(texts), n), vocab.pad_id, dtype=np.int64)  # (batch, n)
    for row, text in enumerate(texts):
        chars = vocab.encode(text)
        seq = [vocab.bos_id, *chars, *vocab.encode(SEP), *chars, vocab.eos_id]
        ids[row, : len(seq) - 1] = seq[:-1]
        targets[row, len(chars) + 1 : len(seq) - 1] = [*chars, vocab.eos_id]  # from the "|" on
    return ids, targets


def train_one(kind: str, seed: int, setting: dict) -> tuple[GPT, dict]:
    """One GPT with positions ``kind``, trained on strings of 1..TRAIN_MAX letters; its record."""
    vocab = vocabulary()
    longest = TRAIN_MAX if kind == "learned" else TEST_MAX  # a learned table: the training length only
    config = GPTConfig(vocab_size=len(vocab), max_len=2 * longest + 2, positions=kind, **SIZES)
    init_rng, data_rng = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    gpt = GPT(config, init_rng)
    optimizer = Adam(gpt.parameters())
    steps = setting["steps"]
    start = time.process_time()
    losses = []
    for step in range(steps):
        ids, targets = copy_batch(vocab, sample_texts(data_rng, setting["batch_size"], (1, TRAIN_MAX)))
        loss, grads, _ = gpt_loss_and_grads(gpt, ids, targets)
        clip_by_global_norm(grads, setting["clip"])
        optimizer.step(grads, learning_rate(step, steps, setting["lr"], setting["warmup"]))
        losses.append(loss)
    cpu = time.process_time() - start
    tail = losses[-max(1, steps // 20) :]
    return gpt, {"train_cpu_seconds": round(cpu, 1), "final_loss": round(float(np.mean(tail)), 4)}


def teacher_forced(gpt: GPT, texts: list[str]) -> tuple[NDArray[np.bool_], NDArray[np.bool_]]:
    """Which answer tokens the most probable token gets right given the true prefix, and which are real.

    Both (batch, n). Padding and the start token are excluded from the choice, as in greedy
    decoding. Raises the model's ValueError when the sequences are longer than its ``max_len``.
    """
    vocab = vocabulary()
    ids, targets = copy_batch(vocab, texts)
    gpt.check_ids("ids", ids)
    logits = gpt.forward(ids, {})  # (batch, n, vocab_size)
    logits[..., [vocab.pad_id, vocab.bos_id]] = -np.inf  # never generated, as in greedy decoding
    real = targets != vocab.pad_id  # (batch, n): the answer and the end token
    return (logits.argmax(axis=-1) == targets) & real, real


def evaluate(gpt: GPT, texts: list[str]) -> dict:
    """Exact match and token accuracy of one teacher-forced pass on strings of one length."""
    try:
        right, real = teacher_forced(gpt, texts)
    except ValueError as err:  # a learned table has no row for these positions
        return {"refused": str(err)}
    exact = (right.sum(axis=1) == real.sum(axis=1)).mean()  # every answer token right: greedy's copy
    return {"exact": round(float(exact), 4), "token_accuracy": round(float(right.sum() / real.sum()), 4)}


def test_texts(per_length: int) -> dict[int, list[str]]:
    """The test strings, ``per_length`` of each length 1..TEST_MAX, the same for every model."""
    rng = np.random.default_rng(TEST_SEED)
    return {n: sample_texts(rng, per_length, (n, n)) for n in range(1, TEST_MAX + 1)}


def run(quick: bool, kinds: tuple[str, ...] = KINDS) -> dict:
    """Every kind, every seed: trained, then tested at every length."""
    setting = QUICK if quick else FULL
    tests = test_texts(setting["per_length"])
    runs = []
    for seed in setting["seeds"]:
        for kind in kinds:
            gpt, record = train_one(kind, seed, setting)
            start = time.process_time()
            by_length = {str(n): evaluate(gpt, texts) for n, texts in tests.items()}
            record["eval_cpu_seconds"] = round(time.process_time() - start, 1)
            runs.append({"kind": kind, "seed": seed, **record, "by_length": by_length})
            shown = " ".join("  -- " if "refused" in r else f"{r['exact']:.2f}" for r in by_length.values())
            print(
                f"{kind:10s} seed {seed}  {record['train_cpu_seconds']:6.1f} s  loss {record['final_loss']:.3f}  exact {shown}",
                flush=True,
            )
    return {"setting": setting, "runs": runs}


# --- what the page shows: the table and the sentence of the setting ----------------------------

MARKER = re.compile(r"^<!-- extrapolation: (?P<name>[a-z]+) -->$", re.M)
LABELS = {"sinusoidal": "sinusoidal", "learned": "learned", "rope": "RoPE", "alibi": "ALiBi", "none": "none"}


def load(path: Path = OUT) -> dict:
    """The committed results file."""
    return dict(json.loads(path.read_text()))


def mean_by_length(results: dict, kind: str, measure: str) -> list[float | None]:
    """The mean over seeds of ``measure`` at each test length; None where the model refused."""
    runs = [r for r in results["runs"] if r["kind"] == kind]
    means: list[float | None] = []
    for n in range(results["test_lengths"][0], results["test_lengths"][1] + 1):
        cells = [r["by_length"][str(n)] for r in runs]
        means.append(
            None if any("refused" in c for c in cells) else float(np.mean([c[measure] for c in cells]))
        )
    return means


def markdown_table(results: dict) -> str:
    """Exact match and token accuracy at each test length, one column per kind (mean over seeds)."""
    kinds = results["kinds"]
    exact = {k: mean_by_length(results, k, "exact") for k in kinds}
    token = {k: mean_by_length(results, k, "token_accuracy") for k in kinds}
    lo, hi = results["train_lengths"]
    lines = [
        "| letters | " + " | ".join(LABELS[k] for k in kinds) + " |",
        "| ---: | " + " | ".join("---:" for _ in kinds) + " |",
    ]
    for i, n in enumerate(range(results["test_lengths"][0], results["test_lengths"][1] + 1)):
        cells = []
        for k in kinds:
            e, t = exact[k][i], token[k][i]
            cells.append("refused" if e is None or t is None else f"{e:.2f}&nbsp;/&nbsp;{t:.2f}")  # one line
        shown = f"**{n}**" if lo <= n <= hi else str(n)
        lines.append(f"| {shown} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def markdown_setting(results: dict) -> str:
    """One sentence: what was trained, how long, on which CPU, and the CPU time it took."""
    s, sizes = results["setting"], results["sizes"]
    seeds = s["seeds"]
    train = [r["train_cpu_seconds"] for r in results["runs"]]
    return (
        f"One GPT per kind and seed ({', '.join(LABELS[k] for k in results['kinds'])}), "
        f"`d_model` {sizes['d_model']}, {sizes['n_heads']} heads, `d_ff` {sizes['d_ff']}, "
        f"{sizes['n_layers']} layers; {s['steps']:,} Adam steps of {s['batch_size']} strings "
        f"(peak learning rate {s['lr']}, warm-up {s['warmup']}, clipping {s['clip']}), "
        f"seed{'s' if len(seeds) > 1 else ''} {' and '.join(map(str, seeds))}; "
        f"{s['per_length']} test strings of each length, the same for every model. "
        f"Training took {min(train):.0f} to {max(train):.0f} CPU seconds a model "
        f"(`time.process_time`, one BLAS thread, {results['machine']['cpu']}); "
        f"the whole measurement {results['total_cpu_seconds']:.0f} CPU seconds."
    )


def markdown_findings(results: dict) -> str:
    """The numbers the page's reading of the table rests on, written from the file."""
    lo, hi = results["train_lengths"]
    lengths = list(range(results["test_lengths"][0], results["test_lengths"][1] + 1))
    inside, outside, at_end = [], [], []
    for kind in results["kinds"]:
        exact = mean_by_length(results, kind, "exact")
        token = mean_by_length(results, kind, "token_accuracy")
        seen = [e for n, e in zip(lengths, exact, strict=True) if lo <= n <= hi and e is not None]
        inside.append(f"{LABELS[kind]} {min(seen):.2f}")
        past = [(e, n) for n, e in zip(lengths, exact, strict=True) if n > hi and e is not None]
        if past:
            best, where = max(past, key=lambda p: (p[0], -p[1]))
            outside.append(f"{LABELS[kind]} {best:.2f}" + (f" ({where} letters)" if best > 0 else ""))
            at_end.append(f"{LABELS[kind]} {token[-1]:.2f}")
    first = hi + 1
    leader = max(
        (k for k in results["kinds"] if mean_by_length(results, k, "exact")[first - lengths[0]] is not None),
        key=lambda k: mean_by_length(results, k, "exact")[first - lengths[0]] or 0.0,
    )
    seeds = [
        f"{r['by_length'][str(first)]['exact']:.2f} (seed {r['seed']})"
        for r in results["runs"]
        if r["kind"] == leader
    ]
    return (
        f"Lowest exact match within the training lengths: {', '.join(inside)}. Highest exact match "
        f"past them: {', '.join(outside)}. Token accuracy at {lengths[-1]} letters: {', '.join(at_end)}. "
        f"{LABELS[leader]}'s exact match at {first} letters, seed by seed: {' and '.join(seeds)}."
    )


def render(markdown: str, results: dict | None = None) -> str:
    """Replace the page's ``<!-- extrapolation: table -->`` and ``<!-- extrapolation: setting -->`` lines."""
    if not MARKER.search(markdown):
        return markdown
    results = load() if results is None else results
    parts = {"table": markdown_table, "setting": markdown_setting, "findings": markdown_findings}
    return MARKER.sub(lambda m: parts[m["name"]](results), markdown)


def main(argv: list[str] | None = None) -> int:
    """Train, test and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="a few steps, one seed (a smoke test)")
    args = parser.parse_args(argv)
    start = time.process_time()
    measured = run(args.quick)
    results = {
        "schema": 1,
        "quick": args.quick,
        "task": f"copy: <bos> text {SEP} text <eos>, letters a-z",
        "train_lengths": [1, TRAIN_MAX],
        "test_lengths": [1, TEST_MAX],
        "sizes": SIZES,
        "kinds": list(KINDS),
        **measured,
        "total_cpu_seconds": round(time.process_time() - start, 1),
        "machine": {
            "cpu": cpu_name(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
            "date": datetime.date.today().isoformat(),
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} ({results['total_cpu_seconds']} CPU s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
