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

# --8<-- [start:gpt_positions]
import numpy as np

from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.kv_cache import GPTKVCache
from transformer_primer.trace import fmt

ids = [1, 5, 9, 4, 7, 3, 8]  # <bos> and six tokens
print("kind        parameters  |cached - recomputed|  logits 3-5 of the last token")
for kind in ["sinusoidal", "learned", "rope", "alibi", "none"]:
    config = GPTConfig(vocab_size=12, d_model=16, n_heads=4, d_ff=32, max_len=8, positions=kind)
    gpt = GPT(config, np.random.default_rng(0))  # the same weights for every kind, for one seed
    cache = GPTKVCache(gpt)
    state, worst = cache.start(), 0.0
    for t, token in enumerate(ids):  # one token at a time, each at its true position t
        state = cache.step(state, token)
        full = gpt.logits(np.array(ids[: t + 1]))[-1]  # the whole prefix, recomputed
        worst = max(worst, float(np.abs(state.logits - full).max()))
    size = sum(p.size for p in gpt.parameters().values())
    print(f"{kind:10s}  {size:10d}  {fmt(worst, 9):>21s}  {fmt(full[3:6])}")

learned = GPT(GPTConfig(vocab_size=12, d_model=16, n_heads=4, d_ff=32, max_len=8,
                        positions="learned"), np.random.default_rng(0))
try:
    learned.logits(np.array([1, 5, 9, 4, 7, 3, 8, 6, 2]))  # 9 tokens, 8 rows in the table
except ValueError as err:
    print("learned, 9 tokens:", err)

# --8<-- [end:gpt_positions]

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

# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer import grad
from transformer_primer.attention import rotary_heads
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.trace import fmt

config = GPTConfig(vocab_size=9, d_model=8, n_heads=2, d_ff=12, max_len=8, positions="rope")
gpt = GPT(config, np.random.default_rng(0))
ids, targets = np.array([[1, 5, 4, 3, 8, 6]]), np.array([[0, 4, 3, 8, 6, 2]])
w_q = gpt.layers[0].self_attn.w_q  # RoPE turns the queries made with it
numeric = grad.numerical_gradient(lambda: grad.gpt_loss(gpt, ids, targets), w_q)
right = grad.gpt_loss_and_grads(gpt, ids, targets)[1]["layers.0.self_attn.w_q"]
print("turned back by R^T: relative error below 1e-6:", grad.relative_error(right, numeric) < 1e-6)
real = grad.rotary_backward
grad.rotary_backward = lambda dout, start=0, base=10000.0: rotary_heads(dout, start)  # R, not R^T
wrong = grad.gpt_loss_and_grads(gpt, ids, targets)[1]["layers.0.self_attn.w_q"]
grad.rotary_backward = real  # put the right one back
print("turned again by R:  relative error", fmt(grad.relative_error(wrong, numeric), 2))

# --8<-- [end:exercise_3]
