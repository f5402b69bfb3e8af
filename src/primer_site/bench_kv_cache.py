"""Measure the cost of one generated token with and without the KV cache; write bench/kv_cache.json.

For a GPT and an encoder-decoder of the same width (d_model 64, 4 heads, d_ff 256, 2 layers,
random weights: the cost does not depend on what the weights learned), at each prefix length
``n`` the cost of producing the next token's logits is measured two ways:

- *recomputed*: a full pass on the ``n`` tokens, keeping its last row (what ``generate`` does);
- *cached*: one ``step`` from a state that holds the ``n - 1`` earlier tokens.

Both are timed with ``time.process_time`` (CPU time of this process: the machine is shared),
in rounds that run the two in alternating order, each sample a loop of enough calls to take a
few milliseconds; the median of the per-call times is kept, with the quartiles. Run it with
``make bench`` (one BLAS thread) or::

    OMP_NUM_THREADS=1 python -m primer_site.bench_kv_cache [--out bench/kv_cache.json] [--quick]

The lesson's figure ``kv-cache-cost.svg`` is drawn from the file this writes.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.kv_cache import EncoderDecoderKVCache, GPTKVCache, KVState
from transformer_primer.model import Transformer, TransformerConfig

from . import ROOT
from .bench_common import header

OUT = ROOT / "bench" / "kv_cache.json"
LENGTHS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
SIZES = {"d_model": 64, "n_heads": 4, "d_ff": 256, "n_layers": 2}
VOCAB = 32
SOURCE_LEN = 32


def per_call(call: Callable[[], object], rounds: int, target: float = 0.004) -> list[float]:
    """``rounds`` samples of the CPU time of one call, each averaged over a loop of ~``target`` s."""
    start = time.process_time()
    call()
    once = max(time.process_time() - start, 1e-6)
    loops = max(1, int(target / once))
    samples = []
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(loops):
            call()
        samples.append((time.process_time() - start) / loops)
    return samples


def summary(samples: list[float]) -> dict[str, float]:
    """Median and quartiles of the samples (seconds per call)."""
    q1, median, q3 = statistics.quantiles(samples, n=4, method="inclusive")
    return {"median": median, "q1": q1, "q3": q3, "rounds": len(samples)}


def measure_pair(recompute: Callable[[], object], cached: Callable[[], object], rounds: int) -> dict:
    """The two, interleaved round by round (A B, B A, ...) so drift hits both alike."""
    a: list[float] = []
    b: list[float] = []
    for r in range(rounds):
        order = [(recompute, a), (cached, b)] if r % 2 == 0 else [(cached, b), (recompute, a)]
        for call, out in order:
            out.extend(per_call(call, 1))
    return {"recomputed": summary(a), "cached": summary(b)}


def state_after(stepper: GPTKVCache | EncoderDecoderKVCache, ids: np.ndarray) -> KVState:
    """The cache's state after reading ``ids`` one step at a time."""
    state = stepper.start()
    for token in ids:
        state = stepper.step(state, int(token))
    return state


def run(quick: bool) -> dict:
    """Both models, every length: the measured points."""
    rng = np.random.default_rng(0)
    max_len = max(LENGTHS)
    gpt = GPT(GPTConfig(vocab_size=VOCAB, max_len=max_len, **SIZES), rng)
    config = TransformerConfig(vocab_size=VOCAB, max_len=max_len, norm_first=True, **SIZES)
    seq2seq = Transformer(config, rng)
    src = rng.integers(3, VOCAB, size=SOURCE_LEN)
    memory = seq2seq.encode(src)  # (n_x, d_model): computed once either way
    ids = np.concatenate([[1], rng.integers(3, VOCAB, size=max_len - 1)])  # (max_len,)
    gpt_cache = GPTKVCache(gpt)
    ed_cache = EncoderDecoderKVCache(seq2seq, src)
    lengths = LENGTHS[:6] if quick else LENGTHS
    rounds = 5 if quick else 15
    points = []
    for n in lengths:
        prefix = ids[:n]
        gpt_state = state_after(gpt_cache, prefix[:-1])
        ed_state = state_after(ed_cache, prefix[:-1])
        points.append(
            {
                "n": n,
                "gpt": measure_pair(
                    lambda p=prefix: gpt.forward(p, {})[-1],
                    lambda s=gpt_state, t=int(prefix[-1]): gpt_cache.step(s, t),
                    rounds,
                ),
                "encoder_decoder": measure_pair(
                    lambda p=prefix: seq2seq._decode(p, memory, None, {})[-1],
                    lambda s=ed_state, t=int(prefix[-1]): ed_cache.step(s, t),
                    rounds,
                ),
            }
        )
        print(
            f"n = {n:4d}  GPT: recomputed {points[-1]['gpt']['recomputed']['median'] * 1e6:9.1f} us, "
            f"cached {points[-1]['gpt']['cached']['median'] * 1e6:7.1f} us   encoder-decoder: "
            f"recomputed {points[-1]['encoder_decoder']['recomputed']['median'] * 1e6:9.1f} us, "
            f"cached {points[-1]['encoder_decoder']['cached']['median'] * 1e6:7.1f} us",
            flush=True,
        )
    return {"sizes": {**SIZES, "vocab_size": VOCAB, "source_len": SOURCE_LEN}, "points": points}


def main(argv: list[str] | None = None) -> int:
    """Measure and write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--quick", action="store_true", help="fewer lengths and rounds (a smoke test)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    results = {
        **header(args.quick),
        "method": {
            "clock": "time.process_time",
            "statistic": "median of per-call CPU time over interleaved rounds",
            "dtype": "float64",
        },
        **run(args.quick),
    }
    results["elapsed_seconds"] = round(time.perf_counter() - started, 1)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(f"wrote {args.out} in {results['elapsed_seconds']} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
