"""Lesson: self-attention step by step. Run with ``python -m transformer_primer.lessons.self_attention``."""

# --8<-- [start:sketch]
from transformer_primer.sketch import simple_self_attention

# Demo: Self-attention
tokens = ["I", "love", "AI"]
attended_tokens = simple_self_attention(tokens)
print()
# --8<-- [end:sketch]


# --8<-- [start:step_by_step]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.numerics import softmax
from transformer_primer.trace import fmt, show, step

rng = np.random.default_rng(7)
tokens = ["I", "love", "AI"]
d_model, d_k = 4, 4

step("1. tokens -> embeddings: one row of X per token")
embedding_table = rng.normal(size=(len(tokens), d_model))  # (vocab, d_model), learned in a real model
ids = np.arange(len(tokens))  # "I" -> 0, "love" -> 1, "AI" -> 2
x = embedding_table[ids]  # (n, d_model) = (3, 4)
show("X", x)

step("2. X -> queries, keys, values (three learned matrices)")
w_q = rng.normal(size=(d_model, d_k))  # (d_model, d_k), random stand-ins for learned weights
w_k = rng.normal(size=(d_model, d_k))  # (d_model, d_k)
w_v = rng.normal(size=(d_model, d_k))  # (d_model, d_v), here d_v = d_k
q = x @ w_q  # (3, 4) @ (4, 4) -> (3, 4): row i is the query of token i
k = x @ w_k  # (3, 4): row j is the key of token j
v = x @ w_v  # (3, 4): row j is the value of token j
show("Q = X W_q", q)
show("K = X W_k", k)
show("V = X W_v", v)

step("3. scores: every query against every key (rows = queries, columns = keys)")
scores = q @ k.T  # (3, 4) @ (4, 3) -> (3, 3); scores[i, j] = q_i . k_j
show("Q K^T", scores)

step("4. scaled by sqrt(d_k)")
scaled = scores / np.sqrt(d_k)  # (3, 3)
print(f"sqrt(d_k) = sqrt({d_k}) = {fmt(np.sqrt(d_k))}")
show("Q K^T / sqrt(d_k)", scaled)

step("5. softmax over each row: the attention weights")
weights = softmax(scaled, axis=-1)  # (3, 3); each row sums to 1
show("weights", weights)
print("row sums:", fmt(weights.sum(axis=-1)))
for token, row in zip(tokens, weights, strict=True):
    print(f"  '{token}' attends: " + ", ".join(f"'{t}' {w:.3f}" for t, w in zip(tokens, row, strict=True)))

step("6. weighted sum of the values: one new vector per token")
output = weights @ v  # (3, 3) @ (3, 4) -> (3, 4); row i = sum_j weights[i, j] * v_j
show("output = weights V", output)

step("the same in one call")
output_2, weights_2 = scaled_dot_product_attention(q, k, v)
print("largest difference in weights:", fmt(np.abs(weights_2 - weights).max()))
print("largest difference in output: ", fmt(np.abs(output_2 - output).max()))
# --8<-- [end:step_by_step]


# --8<-- [start:masks]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.masks import causal_mask, padding_mask
from transformer_primer.trace import show, step

rng = np.random.default_rng(1)
tokens = ["the", "cat", "sat", "down"]
n, d_k = len(tokens), 4
q, k, v = rng.normal(size=(3, n, d_k))  # each (n, d_k), random stand-ins for X W_q, X W_k, X W_v

step("causal mask: row i is query i, column j is key j; True = may attend")
causal = causal_mask(n)  # (n_q, n_k) = (4, 4)
print(f"causal_mask({n}), shape {causal.shape} = (n_q, n_k):")
print(causal.astype(int))
_, causal_weights = scaled_dot_product_attention(q, k, v, mask=causal)  # (4, 4)
show(f"weights with the causal mask (rows = queries {tokens}, columns = keys)", causal_weights)

step("padding mask: a batch of two sentences padded to n = 4")
padded_tokens = ["hi", "there", "<pad>", "<pad>"]  # sentence 1; sentence 0 is "the cat sat down"
lengths = np.array([4, 2])  # the true length of each sentence
padding = padding_mask(lengths, n)  # (batch, 1, n_k) = (2, 1, 4)
print(f"padding_mask({lengths.tolist()}, {n}), shape {padding.shape} = (batch, 1, n_k):")
print(padding.astype(int))
print("the axis of size 1 stands for the queries: every query of a sentence sees the same keys")
q_b, k_b, v_b = rng.normal(size=(3, 2, n, d_k))  # each (batch, n, d_k)
# the mask broadcasts to (2, 4, 4)
_, padded_weights = scaled_dot_product_attention(q_b, k_b, v_b, mask=padding)
show(f"weights of sentence 1 (rows = queries {padded_tokens}, columns = keys)", padded_weights[1])

step("both at once: (n_q, n_k) & (batch, 1, n_k) -> (batch, n_q, n_k)")
both = causal & padding  # (4, 4) & (2, 1, 4) -> (2, 4, 4)
print(f"shape {both.shape}; sentence 1:")
print(both[1].astype(int))
# --8<-- [end:masks]


# --8<-- [start:multi_head]
import numpy as np

from transformer_primer.attention import MultiHeadAttention, merge_heads, split_heads
from transformer_primer.trace import show, step

step("split: (n, d_model) -> (n_heads, n, d_k)")
n, d_model, n_heads = 3, 8, 2
d_k = d_model // n_heads  # 4 columns per head
x = np.arange(n * d_model).reshape(n, d_model)  # (3, 8): the numbers show where each entry goes
print(f"x, shape {x.shape} = (n, d_model):")
print(x)
cut = x.reshape(n, n_heads, d_k)  # (3, 8) -> (3, 2, 4): cut each row into n_heads pieces
print(f"x.reshape(n, n_heads, d_k), shape {cut.shape} = (n, n_heads, d_k):")
print(cut)
heads = split_heads(x, n_heads)  # (3, 2, 4) -> swap the first two axes -> (2, 3, 4)
print(f"split_heads(x, {n_heads}), shape {heads.shape} = (n_heads, n, d_k):")
print(heads)
print("head 0 holds columns 0-3 of every position, head 1 columns 4-7")

step("merge: (n_heads, n, d_k) -> (n, d_model), the exact inverse")
merged = merge_heads(heads)  # (2, 3, 4) -> (3, 2, 4) -> (3, 8)
print(f"merge_heads(heads), shape {merged.shape}; equal to x: {bool((merged == x).all())}")

step("multi-head attention on three token vectors")
rng = np.random.default_rng(0)
tokens = ["I", "love", "AI"]
mha = MultiHeadAttention(d_model=d_model, n_heads=n_heads, rng=rng)
x = rng.normal(size=(n, d_model))  # (3, 8) token vectors
output, weights = mha(x, x, x)  # self-attention: queries, keys and values all come from x
print(f"weights, shape {weights.shape} = (n_heads, n_q, n_k): one matrix per head")
for h in range(n_heads):
    show(f"head {h} (rows = queries {tokens}, columns = keys)", weights[h])

show("output (n, d_model)", output)
# --8<-- [end:multi_head]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.masks import padding_mask
from transformer_primer.trace import fmt, show

rng = np.random.default_rng(7)
q, k, v = rng.normal(size=(3, 3, 4))  # each (n, d_k) = (3, 4): three tokens, 'AI' is now padding
mask = padding_mask([2], 3)[0]  # (batch, 1, n_k) -> (1, n_k) = (1, 3): keys 0 and 1 are real
output, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # the mask broadcasts to (3, 3)
show("weights with key 2 padded (rows = queries, columns = keys)", weights)
print("weight on the padded key, per query:", fmt(weights[:, 2]))
print("row sums:", fmt(weights.sum(axis=-1)))
short, _ = scaled_dot_product_attention(q, k[:2], v[:2])  # the padded key deleted: (3, 2) weights
print("largest difference from attention without key 2 at all:", fmt(np.abs(output - short).max()))
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.attention import split_heads

n, d_model, n_heads = 3, 8, 2
d_k = d_model // n_heads  # 4
x = np.arange(n * d_model).reshape(n, d_model)  # (3, 8): entry (i, j) is 8 i + j, from token i
right = split_heads(x, n_heads)  # (n_heads, n, d_k) = (2, 3, 4)
wrong = x.reshape(n_heads, n, d_k)  # (2, 3, 4) as well, filled in memory order
for name, heads in (("split_heads", right), ("plain reshape", wrong)):
    print(f"{name}: head 0 =")
    print(heads[0])
    tokens = [int(row[0]) // d_model for row in heads[0]]  # the token each row was cut from
    print(f"  its rows come from tokens {tokens}")

print("same shape:", right.shape == wrong.shape, "  same numbers:", bool((right == wrong).all()))
# --8<-- [end:exercise_2]


# --8<-- [start:yourself_attention]
import math

import numpy as np

from transformer_primer import check


def my_attention(q, k, v, mask=None):
    d_k = q.shape[-1]
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(d_k)  # (..., n_q, n_k); not k.T on a batch
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)  # True = may attend; a blocked key gets weight 0
    row_max = np.max(scores, axis=-1, keepdims=True)
    row_max = np.where(np.isneginf(row_max), 0.0, row_max).astype(scores.dtype)
    e = np.exp(scores - row_max)
    total = e.sum(axis=-1, keepdims=True)  # over the keys: the last axis
    weights = np.divide(e, total, out=np.zeros_like(e), where=total > 0)  # a query that sees no key: 0
    return weights @ v, weights  # (..., n_q, d_v), (..., n_q, n_k)

check.scaled_dot_product_attention(my_attention)
# --8<-- [end:yourself_attention]


# --8<-- [start:yourself_masks]
import numpy as np

from transformer_primer import check


def my_causal_mask(n):
    query = np.arange(n)[:, None]  # rows are queries
    key = np.arange(n)[None, :]  # columns are keys
    return key <= query  # (n, n): query i sees keys 0..i, itself included


def my_padding_mask(lengths, n):
    real = np.arange(n)[None, :] < np.asarray(lengths)[:, None]  # (batch, n): key j is real if j < length
    return real[:, None, :]  # (batch, 1, n): the axis of size 1 stands for the queries

check.causal_mask(my_causal_mask)
check.padding_mask(my_padding_mask)
# --8<-- [end:yourself_masks]


# --8<-- [start:yourself_heads]
import numpy as np

from transformer_primer import check


def my_split_heads(x, n_heads):
    *lead, n, d_model = x.shape
    x = x.reshape(*lead, n, n_heads, d_model // n_heads)  # cut each position's row into heads
    return np.swapaxes(x, -3, -2)  # (..., n_heads, n, d_k)


def my_merge_heads(x):
    *lead, n_heads, n, d_k = x.shape
    return np.swapaxes(x, -3, -2).reshape(*lead, n, n_heads * d_k)  # (..., n, d_model)

check.split_heads(my_split_heads)
check.merge_heads(my_merge_heads)
# --8<-- [end:yourself_heads]
