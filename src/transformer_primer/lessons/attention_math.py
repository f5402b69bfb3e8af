"""Lesson: the math of attention. Run with ``python -m transformer_primer.lessons.attention_math``."""

# --8<-- [start:sketch]
from transformer_primer.sketch import attention_math_demo

attention_math_demo()
# --8<-- [end:sketch]


# --8<-- [start:dot_products]
import numpy as np

from transformer_primer.numerics import softmax
from transformer_primer.trace import fmt, show, step

words = ["cat", "sat", "mat"]
# (3 words, d_k = 3), the notebook's
vectors = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0]])

step("every dot product at once: one matrix product")
scores = vectors @ vectors.T  # (3, 3) @ (3, 3) -> (3, 3); scores[i, j] = vector_i . vector_j
show(f"scores (rows = queries, columns = keys, both {words})", scores, decimals=1)

step("the 'cat' row, turned into weights")
cat = scores[0]  # (3,)
d_k = vectors.shape[1]
print("scores:                   ", fmt(cat, 1))
print("softmax(scores):          ", fmt(softmax(cat)))
print(f"softmax(scores / sqrt({d_k})):", fmt(softmax(cat / np.sqrt(d_k))))
# --8<-- [end:dot_products]


# --8<-- [start:scaling]
import numpy as np

from transformer_primer.numerics import softmax

rng = np.random.default_rng(0)
n_queries, n_keys = 200, 16  # 200 queries, each against its own 16 keys
d_ks = [4, 16, 64, 256, 1024]
variance = {"raw": [], "scaled": []}  # variance of one score
top_weight = {"raw": [], "scaled": []}  # mean largest weight of a row: 1.0 is one-hot
gradient = {"raw": [], "scaled": []}  # mean norm of d softmax / d scores: 0.0 is no learning signal

print("        variance of a score     largest weight     softmax gradient")
print("  d_k     raw    scaled          raw   scaled       raw   scaled")
for d_k in d_ks:
    q = rng.normal(size=(n_queries, d_k))  # (200, d_k), entries with mean 0 and variance 1
    k = rng.normal(size=(n_queries, n_keys, d_k))  # (200, 16, d_k)
    raw = np.einsum("qd,qkd->qk", q, k)  # (200, 16): raw[i, j] = q_i . k_ij
    for name, scores in (("raw", raw), ("scaled", raw / np.sqrt(d_k))):
        p = softmax(scores)  # (200, 16), each row sums to 1
        # (200, 16, 16): diag(p) - p p^T
        jacobian = p[:, :, None] * np.eye(n_keys) - p[:, :, None] * p[:, None, :]
        variance[name].append(scores.var())
        top_weight[name].append(p.max(axis=1).mean())
        gradient[name].append(np.linalg.norm(jacobian, axis=(1, 2)).mean())
    print(
        f"{d_k:5d} {variance['raw'][-1]:7.1f} {variance['scaled'][-1]:9.2f}"
        f"       {top_weight['raw'][-1]:6.3f} {top_weight['scaled'][-1]:8.3f}"
        f"     {gradient['raw'][-1]:6.3f} {gradient['scaled'][-1]:8.3f}"
    )
# --8<-- [end:scaling]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.numerics import softmax

rng = np.random.default_rng(0)
d_k, n_keys = 4096, 16
q = rng.normal(size=(200, d_k))  # (200, d_k): 200 queries
k = rng.normal(size=(200, n_keys, d_k))  # (200, 16, d_k): 16 keys per query
raw = np.einsum("qd,qkd->qk", q, k)  # (200, 16)
print(f"d_k = {d_k}, {n_keys} keys per query")
for name, scores in (("raw   ", raw), ("scaled", raw / np.sqrt(d_k))):
    p = softmax(scores)  # (200, 16)
    jacobian = p[:, :, None] * np.eye(n_keys) - p[:, :, None] * p[:, None, :]  # (200, 16, 16)
    print(f"{name}  score std {scores.std():6.1f}   largest weight {p.max(axis=1).mean():.3f}"
          f"   rows with a weight > 0.99: {np.mean(p.max(axis=1) > 0.99):.2f}"
          f"   gradient {np.linalg.norm(jacobian, axis=(1, 2)).mean():.3f}")
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

rng = np.random.default_rng(0)
d_k = 256
for scale in (1.0, 2.0, 0.5):
    q = rng.normal(scale=scale, size=(2000, d_k))  # entries with variance scale^2
    k = rng.normal(scale=scale, size=(2000, d_k))
    scaled = (q * k).sum(axis=1) / np.sqrt(d_k)  # (2000,): one scaled score per pair
    print(f"entries with std {scale:.1f}: variance of q.k / sqrt(d_k) = {scaled.var():6.2f}"
          f"   (scale^4 = {scale ** 4:.4g})")
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer.numerics import softmax
from transformer_primer.trace import fmt

words = ["cat", "sat", "mat", "hat"]
vectors = np.array([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0], [1.0, 1.0, 0.0], [1.0, 0.0, 1.0]])  # hat = cat
scores = vectors[0] @ vectors.T  # (4,): the 'cat' query against every key
weights = softmax(scores / np.sqrt(3))  # (4,)
print("keys:                     ", words)
print("scores of 'cat':          ", fmt(scores, 1))
print("softmax(scores / sqrt(3)):", fmt(weights))
print("without 'hat':            ", fmt(softmax(scores[:3] / np.sqrt(3))))
print("'cat' + 'hat' together:   ", fmt(weights[0] + weights[3]))
# --8<-- [end:exercise_3]


# --8<-- [start:yourself_softmax]
import numpy as np

from transformer_primer import check


def my_softmax(x, axis=-1):
    x = np.asarray(x)
    row_max = np.max(x, axis=axis, keepdims=True)  # subtract it: every exponent <= 0, no overflow
    row_max = np.where(np.isneginf(row_max), 0.0, row_max).astype(x.dtype)  # an all -inf row: no shift
    e = np.exp(x - row_max)  # a -inf score gives exactly 0
    total = np.sum(e, axis=axis, keepdims=True)
    return np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # an all -inf row: zeros, not nan

check.softmax(my_softmax)
# --8<-- [end:yourself_softmax]
