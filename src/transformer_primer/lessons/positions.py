"""Lesson: positions, three more ways (learned, RoPE, ALiBi).

Run with ``python -m transformer_primer.lessons.positions``.
"""

# --8<-- [start:learned]
import numpy as np

from transformer_primer.layers import Embedding
from transformer_primer.trace import show

rng = np.random.default_rng(0)
max_len, d_model = 8, 4
positions = Embedding(max_len, d_model, rng)  # one learned row per position, like a token's
table = positions(np.arange(3))  # (3, d_model): the rows of positions 0, 1, 2
show("learned rows of positions 0-2", table)
try:
    positions(np.arange(10))  # a sequence longer than any seen in training
except ValueError as err:
    print("position 9:", err)

# --8<-- [end:learned]

# --8<-- [start:rope]
import numpy as np

from transformer_primer.positional import rotary_embedding
from transformer_primer.trace import fmt

rng = np.random.default_rng(0)
q, k = rng.normal(size=(2, 8))  # one query and one key vector, d = 8
for m, n in [(2, 0), (5, 3), (40, 38), (3, 0)]:
    q_m = rotary_embedding(q[None], positions=[m])[0]  # the query, turned for position m
    k_n = rotary_embedding(k[None], positions=[n])[0]  # the key, turned for position n
    print(f"query at {m:2d}, key at {n:2d} (offset {m - n}): score {fmt(q_m @ k_n)}")

print("|q| =", fmt(np.linalg.norm(q)), "  |q turned to 40| =",
      fmt(np.linalg.norm(rotary_embedding(q[None], positions=[40]))))

# --8<-- [end:rope]

# --8<-- [start:alibi]
import numpy as np

from transformer_primer.positional import alibi_bias, alibi_slopes
from transformer_primer.trace import fmt, show

print("slopes of 8 heads:", fmt(alibi_slopes(8), 4))
bias = alibi_bias(8, 5)  # (n_heads, n_q, n_k)
show("bias of head 0 (slope 1/2)", bias[0])
show("bias of head 7 (slope 1/256)", bias[7])
last = bias[:, -1]  # (n_heads, n_k): the bias of the last query, every raw score 0
weights = np.exp(last - last.max(axis=-1, keepdims=True))
weights /= weights.sum(axis=-1, keepdims=True)
show("last query's weights, head 0 and head 7, equal raw scores", weights[[0, 7]])

# --8<-- [end:alibi]

# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.positional import rotary_embedding
from transformer_primer.trace import show

rng = np.random.default_rng(0)
q, k = rng.normal(size=(2, 8))
n = 5
queries = rotary_embedding(np.tile(q, (n, 1)))  # (n, 8): the same query at positions 0..4
keys = rotary_embedding(np.tile(k, (n, 1)))  # (n, 8): the same key at positions 0..4
scores = queries @ keys.T  # (n, n)
show("scores, rows = query positions, columns = key positions", scores)
spread = max(np.ptp(np.diagonal(scores, offset)) for offset in range(-n + 1, n))
print("every diagonal constant (to 1e-12):", bool(spread < 1e-12))

# --8<-- [end:exercise_1]

# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.positional import alibi_bias

full = alibi_bias(4, 6)  # (4, 6, 6): six queries against six keys
newest = alibi_bias(4, 1, 6)  # (4, 1, 6): only the newest query, against all six keys
print("the newest query's bias equals the last row of the full bias:",
      bool(np.array_equal(newest[:, 0], full[:, -1])))
longer = alibi_bias(4, 1, 1000)  # a sequence far longer than any in training
print("bias of head 3 on the 1,000th query, keys 0, 500 and 999:",
      np.round(longer[3, 0, [0, 500, 999]], 3).tolist())

# --8<-- [end:exercise_2]
