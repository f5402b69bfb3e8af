"""Lesson: tiled attention and the online softmax.

Run with ``python -m transformer_primer.lessons.tiled_attention``.
"""

# --8<-- [start:online_softmax]
import numpy as np

from transformer_primer.trace import fmt, step

scores = np.array([1.2, -0.3, 2.1, 0.5, 3.0, -1.0, 0.8, 2.5])  # one query against 8 keys
values = np.array([[1.0, 0.0], [0.0, 1.0], [2.0, 1.0], [1.0, 3.0],
                   [0.5, 0.5], [4.0, 0.0], [1.0, 1.0], [0.0, 2.0]])  # (8 keys, d_v = 2)
block_size = 3  # blocks of keys 0-2, 3-5, 6-7: it need not divide 8

step("all at once: needs every score before the first weight")
m = scores.max()
weights = np.exp(scores - m) / np.exp(scores - m).sum()  # (8,)
print("max m =", fmt(m), "  weights =", fmt(weights))
print("output = weights @ values =", fmt(weights @ values))

step("one block at a time: keep only m (running max), l (running sum), o (running output)")
m_run, l_run, o_run = -np.inf, 0.0, np.zeros(2)
for start in range(0, len(scores), block_size):
    s = scores[start:start + block_size]  # this block's scores
    v = values[start:start + block_size]  # and its values
    m_new = max(m_run, s.max())
    rescale = np.exp(m_run - m_new)  # exp(old max - new max): 0 at the start, 1 if the max did not move
    p = np.exp(s - m_new)  # this block's weights relative to the new max, all <= 1
    print(f"keys {start}-{start + len(s) - 1}: scores {fmt(s)}")
    print(f"  m: {fmt(m_run)} -> {fmt(m_new)}   "
          f"rescale the old sums by exp(m_old - m_new) = {fmt(rescale)}")
    l_run = rescale * l_run + p.sum()
    o_run = rescale * o_run + p @ v
    m_run = m_new
    print(f"  l = {fmt(l_run)}   o = {fmt(o_run)}")

step("divide once at the end")
print("o / l =", fmt(o_run / l_run))
print("largest difference from all at once:", fmt(np.abs(o_run / l_run - weights @ values).max(), 12))
# --8<-- [end:online_softmax]


# --8<-- [start:tiled_vs_plain]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention, tiled_attention
from transformer_primer.masks import causal_mask
from transformer_primer.trace import fmt, step

rng = np.random.default_rng(0)
n_heads, n, d_k = 2, 16, 4
q, k, v = rng.normal(size=(3, n_heads, n, d_k))  # each (n_heads, n, d_k), float64

step("tiled_attention against plain attention, block by block")
for mask_name, mask in (("no mask", None), ("causal", causal_mask(n))):
    plain, _ = scaled_dot_product_attention(q, k, v, mask)  # (n_heads, n, d_k)
    for block_size in (1, 3, 4, 16, 100):
        tiled = tiled_attention(q, k, v, mask, block_size=block_size)
        difference = np.abs(tiled - plain).max()
        largest = fmt(difference, 12)
        print(f"{mask_name:>7}, block_size {block_size:>3}: largest |tiled - plain| = {largest}")

step("which tiles a causal mask needs (# computed, . skipped), block_size 4")
block_size = 4
mask = causal_mask(n)  # (n, n): query i may see keys 0..i
blocks = range(0, n, block_size)
print("             key block " + " ".join(str(b // block_size) for b in blocks))
needed = 0
for a in blocks:
    row = ["#" if mask[a:a + block_size, b:b + block_size].any() else "." for b in blocks]
    needed += row.count("#")
    print(f"query block {a // block_size}            " + " ".join(row))

print(f"computed {needed} of {len(blocks) ** 2} tiles; the rest are never multiplied")
# --8<-- [end:tiled_vs_plain]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.trace import fmt

# The scores of the first example, with its largest score (3.0) moved into the first block.
scores = np.array([3.0, -0.3, 2.1, 0.5, 1.2, -1.0, 0.8, 2.5])  # one query against 8 keys
block_size = 3
m_run = -np.inf
for start in range(0, len(scores), block_size):
    m_new = max(m_run, scores[start:start + block_size].max())
    print(f"keys {start}-{min(start + block_size, len(scores)) - 1}: "
          f"m {fmt(m_run)} -> {fmt(m_new)}, rescale exp(m_old - m_new) = {fmt(np.exp(m_run - m_new))}")
    m_run = m_new
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import tracemalloc

import numpy as np

from transformer_primer.attention import scaled_dot_product_attention, tiled_attention


def peak_mib(attention, q, k, v, **options):
    """The most memory numpy held at once during one call of ``attention``, in MiB."""
    attention(q, k, v, **options)  # the first call also sets up numpy's caches: not measured
    tracemalloc.start()
    attention(q, k, v, **options)  # the result is not needed, only the memory it took
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


rng = np.random.default_rng(0)
sizes = (512, 1024, 2048)
peaks = {"plain": [], "tiled": []}
for n in sizes:
    q, k, v = rng.normal(size=(3, n, 64)).astype(np.float32)  # one head, d_k = d_v = 64
    peaks["plain"].append(peak_mib(scaled_dot_product_attention, q, k, v, need_weights=False))
    peaks["tiled"].append(peak_mib(tiled_attention, q, k, v, block_size=128))

print("    n   plain peak (MiB)   tiled peak (MiB)")
for i, n in enumerate(sizes):
    print(f"{n:5d} {peaks['plain'][i]:18.1f} {peaks['tiled'][i]:18.1f}")

for name, peak in peaks.items():
    print(f"{name}: each doubling of n multiplies the peak by "
          + ", ".join(f"{b / a:.1f}" for a, b in zip(peak, peak[1:], strict=False)))
# --8<-- [end:exercise_2]


# --8<-- [start:yourself_tiled_attention]
import math

import numpy as np

from transformer_primer import check


def my_tiled_attention(q, k, v, mask=None, block_size=128):
    n_k = k.shape[-2]
    m = np.full((*q.shape[:-1], 1), -np.inf)  # running maximum of each query's scores
    l_sum = np.zeros((*q.shape[:-1], 1))  # running sum of its weights
    o = np.zeros((*q.shape[:-1], v.shape[-1]))  # running weighted sum of the values
    for start in range(0, n_k, block_size):  # the last block may be shorter
        stop = min(start + block_size, n_k)
        s = q @ np.swapaxes(k[..., start:stop, :], -1, -2) / math.sqrt(q.shape[-1])
        if mask is not None:
            s = np.where(mask[..., start:stop], s, -np.inf)
        m_new = np.maximum(m, s.max(axis=-1, keepdims=True))
        m_use = np.where(np.isneginf(m_new), 0.0, m_new)  # no key seen yet: nothing to shift
        rescale = np.exp(m - m_use)  # move the old sums to the new maximum
        p = np.exp(s - m_use)
        l_sum = rescale * l_sum + p.sum(axis=-1, keepdims=True)
        o = rescale * o + p @ v[..., start:stop, :]
        m = m_new
    return np.divide(o, l_sum, out=np.zeros_like(o), where=l_sum > 0)  # a query that sees no key: 0

check.tiled_attention(my_tiled_attention)
# --8<-- [end:yourself_tiled_attention]
