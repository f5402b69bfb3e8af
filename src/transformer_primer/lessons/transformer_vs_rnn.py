"""Lesson: transformer vs RNN. Run with ``python -m transformer_primer.lessons.transformer_vs_rnn``."""

# --8<-- [start:sketch]
from transformer_primer.sketch import SimpleRNN, SimpleTransformer

# Comparison Demo
print("=== ADVANTAGE: TRANSFORMER vs RNN ===")
test_tokens = ["The", "cat", "sat"]

rnn = SimpleRNN()
transformer = SimpleTransformer()

print("\n--- RNN Approach ---")
rnn_outputs = rnn.process_sequence(test_tokens)

print("\n--- Transformer Approach ---")
transformer_outputs = transformer.process_sequence(test_tokens)
# --8<-- [end:sketch]


# --8<-- [start:dependency]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.rnn import ElmanRNN
from transformer_primer.trace import step

rng = np.random.default_rng(0)
n, d = 6, 4
rnn = ElmanRNN(d_in=d, d_hidden=d, rng=rng)
w_q, w_k, w_v = rng.normal(size=(3, d, d))  # each (d, d)


def attention(x):
    """Single-head self-attention of x (n, d) -> (n, d), every position in one call."""
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)[0]


x = rng.normal(size=(n, d))  # (6, 4): six token vectors
x_changed = x.copy()
x_changed[3] = rng.normal(size=d)  # change token 3 only

step("which outputs change when token 3 changes?")
for name, model in (("RNN      ", rnn), ("attention", attention)):
    changed = ~np.isclose(model(x), model(x_changed)).all(axis=1)  # (6,): one flag per position
    print(f"{name} positions 0..5:", " ".join("changed" if c else "same" for c in changed))
# --8<-- [end:dependency]


# --8<-- [start:cost]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.rnn import ElmanRNN


class CountingMatrix:  # no blank line inside: at the python prompt one would end the class
    """A weight matrix that counts the products ``x @ w`` made with it."""
    __array_ufunc__ = None  # numpy then hands `x @ counting_matrix` to __rmatmul__ below
    def __init__(self, w):
        self.w = w
        self.products = 0
    def __rmatmul__(self, x):
        self.products += 1
        return x @ self.w


def matmul_flops(a, b, c):
    """FLOPs of an (a, b) @ (b, c) product: a * c dot products of length b, 2 FLOPs per term."""
    return 2 * a * b * c


d = 64  # d_model of attention, d_hidden of the RNN
rng = np.random.default_rng(0)
rnn = ElmanRNN(d_in=d, d_hidden=d, rng=rng)
rnn.w_h = CountingMatrix(rnn.w_h)  # counts h_{t-1} @ W_h: each product waits for the one before
w_q = CountingMatrix(rng.normal(size=(d, d)) / np.sqrt(d))  # counts X @ W_q
w_k, w_v = rng.normal(size=(2, d, d)) / np.sqrt(d)

print("        products with W_h or W_q          FLOPs of the matrix products")
print("    n        RNN  attention           RNN    attention  attention + QKV")
for n in (16, 64, 256, 1024):
    x = rng.normal(size=(n, d))  # (n, d)
    rnn.w_h.products = w_q.products = 0
    states = rnn(x)  # the RNN layer over all n tokens
    output, _ = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)  # the attention layer, all n
    # X W_x for all tokens at once, then n times h W_h
    rnn_flops = matmul_flops(n, d, d) + n * matmul_flops(1, d, d)
    core = matmul_flops(n, d, n) + matmul_flops(n, n, d)  # Q K^T, then weights V
    qkv = 3 * matmul_flops(n, d, d)  # X W_q, X W_k, X W_v
    counts = f"{n:5d} {rnn.w_h.products:10d} {w_q.products:10d}"
    print(f"{counts} {rnn_flops:13,d} {core:12,d} {core + qkv:16,d}")

crossover = next(n for n in range(1, 10_000) if matmul_flops(n, d, n) + matmul_flops(n, n, d)
                 > matmul_flops(n, d, d) + n * matmul_flops(1, d, d))

print(f"from n = {crossover} on, attention's scores and weighted sum alone cost more FLOPs than the RNN")
# --8<-- [end:cost]


# --8<-- [start:path_length]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.rnn import ElmanRNN

rng = np.random.default_rng(0)
d, trials = 16, 20
rnn = ElmanRNN(d_in=d, d_hidden=d, rng=rng)
w_q, w_k, w_v = rng.normal(size=(3, d, d)) / np.sqrt(d)  # each (d, d)


def attention(x):
    """Single-head self-attention of x (n, d) -> (n, d)."""
    return scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v)[0]


print(f"change of the LAST output when the FIRST token is replaced (mean over {trials} sequences)")
print("    n        RNN  attention")
for n in (2, 4, 8, 16, 32):
    change = {"rnn": 0.0, "attention": 0.0}
    for _ in range(trials):
        x = rng.normal(size=(n, d))  # (n, d)
        x_changed = x.copy()
        x_changed[0] = rng.normal(size=d)  # a different first token
        change["rnn"] += np.linalg.norm(rnn(x_changed)[-1] - rnn(x)[-1]) / trials
        change["attention"] += np.linalg.norm(attention(x_changed)[-1] - attention(x)[-1]) / trials
    print(f"{n:5d} {change['rnn']:10.1e} {change['attention']:10.1e}")
# --8<-- [end:path_length]


# --8<-- [start:exercise_1]
def matmul_flops(a, b, c):
    """FLOPs of an (a, b) @ (b, c) product: a * c dot products of length b, 2 FLOPs per term."""
    return 2 * a * b * c


def rnn_flops(n, d):
    return matmul_flops(n, d, d) + n * matmul_flops(1, d, d)  # X W_x at once, then n times h W_h


def attention_flops(n, d):
    return matmul_flops(n, d, n) + matmul_flops(n, n, d)  # Q K^T, then weights V


print("    d   first n where attention costs more FLOPs than the RNN")
for d in (16, 64, 256, 512):
    crossover = next(n for n in range(1, 10_000) if attention_flops(n, d) > rnn_flops(n, d))
    print(f"{d:5d}   {crossover:5d}")
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.rnn import ElmanRNN

d, trials = 16, 20
print("change of the LAST output when the FIRST token is replaced (mean over 20 sequences)")
for scale in (1.0, 3.0):
    rng = np.random.default_rng(0)
    rnn = ElmanRNN(d_in=d, d_hidden=d, rng=rng)
    rnn.w_h = rnn.w_h * scale  # (d, d): a weaker or a stronger recurrence
    radius = np.abs(np.linalg.eigvals(rnn.w_h)).max()  # below 1: W_h^n -> 0, changes die out
    stretch = np.linalg.norm(rnn.w_h, 2)  # largest singular value: the most one step can stretch
    changes = []
    for n in (2, 8, 32):
        change = 0.0
        for _ in range(trials):
            x = rng.normal(size=(n, d))  # (n, d)
            x_changed = x.copy()
            x_changed[0] = rng.normal(size=d)  # a different first token
            change += np.linalg.norm(rnn(x_changed)[-1] - rnn(x)[-1]) / trials
        changes.append(f"n = {n}: {change:7.1e}")
    print(f"W_h x {scale:.0f}: largest |eigenvalue| {radius:.2f}, largest one-step stretch {stretch:.3f}")
    print("    " + "   ".join(changes))
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.masks import causal_mask
from transformer_primer.trace import show

rng = np.random.default_rng(0)
n, d = 6, 4
x = rng.normal(size=(n, d))  # (6, 4): six token vectors
w_q, w_k, w_v = rng.normal(size=(3, d, d))  # each (d, d)
# (6, 6), in one call
_, weights = scaled_dot_product_attention(x @ w_q, x @ w_k, x @ w_v, mask=causal_mask(n))
show("causal attention weights (rows = positions, columns = the tokens they read)", weights)
print("positions whose output reads token 3:", [t for t in range(n) if weights[t, 3] > 0])
# --8<-- [end:exercise_3]
