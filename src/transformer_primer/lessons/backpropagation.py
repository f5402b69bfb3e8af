"""Lesson: backpropagation by hand (exercises).

Run with ``python -m transformer_primer.lessons.backpropagation``.

The lesson's gradient check itself is a section of ``training.py`` (``check``).
"""

# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.grad import layer_norm_backward, numerical_gradient, relative_error
from transformer_primer.layers import LayerNorm

rng = np.random.default_rng(0)
norm = LayerNorm(5)
norm.gamma = rng.normal(size=5)  # (d_model,): not all ones, so every term matters
x = rng.normal(size=(3, 5))  # (n, d_model)
dout = rng.normal(size=(3, 5))  # (n, d_model): the loss is sum(dout * norm(x)), so dL/d out = dout
cache = {}
y = norm(x, cache=cache)  # the forward pass fills the cache
dx, _ = layer_norm_backward(norm, dout, cache)  # (3, 5)
numeric = numerical_gradient(lambda: float(np.sum(dout * norm(x))), x)  # (3, 5)

x_hat, inv_std = cache["x_hat"], cache["inv_std"]  # (3, 5), (3, 1)
g = dout * norm.gamma  # (3, 5)
dropped = inv_std * (g - g.mean(axis=-1, keepdims=True))  # the same formula without - x_hat * mean_gx
print(f"layer_norm_backward:                relative error < 1e-6: {relative_error(dx, numeric) < 1e-6}")
print(f"without the - x_hat * mean_gx term: relative error {relative_error(dropped, numeric):.2f}")
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.grad import loss_and_grads
from transformer_primer.model import Transformer, TransformerConfig

config = TransformerConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=6, max_len=6)  # pad_id 0
model = Transformer(config, np.random.default_rng(0))
src = np.array([[3, 4, 0, 0], [6, 3, 4, 5]])  # (batch, n_x): the first source is padded
tgt_in = np.array([[1, 5, 4, 0, 0], [1, 5, 4, 3, 6]])  # (batch, n_y): <bos> + target + padding
tgt_out = np.array([[5, 4, 2, 0, 0], [5, 4, 3, 6, 2]])  # (batch, n_y): target + <eos> + padding

_, grads, _ = loss_and_grads(model, src, tgt_in, tgt_out)
table = grads["embedding.weight"]  # (vocab_size, d_model): one gradient row per token id
for token_id, row in enumerate(table):
    uses = int((src == token_id).sum() + (tgt_in == token_id).sum())
    exact = "  (exactly 0)" if not row.any() else ""
    largest = np.abs(row).max()
    print(f"token {token_id}: an input {uses} times, largest |gradient| in its embedding row: "
          f"{largest:.3f}{exact}")
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer.grad import encoder_layer_backward, numerical_gradient, relative_error
from transformer_primer.layers import EncoderLayer

rng = np.random.default_rng(0)
x = rng.normal(size=(3, 4))  # (n, d_model)
dout = rng.normal(size=(3, 4))  # (n, d_model): the loss is sum(dout * layer(x))


def largest_error(layer):
    """Check the backward of one layer: the input and every weight, against central differences."""
    cache = {}
    layer(x, cache=cache)
    dx, grads = encoder_layer_backward(layer, dout, cache)  # (3, 4) and one array per parameter
    loss = lambda: float(np.sum(dout * layer(x)))  # noqa: E731 - the loss as the check sees it
    errors = [relative_error(dx, numerical_gradient(loss, x))]
    for name, weight in layer.parameters().items():
        if not name.endswith("b_k"):  # its true gradient is exactly 0 (see the lesson)
            errors.append(relative_error(grads[name], numerical_gradient(loss, weight)))
    return max(errors), len(errors)


for norm_first, name in ((False, "post-norm"), (True, "pre-norm ")):
    layer = EncoderLayer(d_model=4, n_heads=2, d_ff=6, rng=np.random.default_rng(1), norm_first=norm_first)
    worst, count = largest_error(layer)
    print(f"{name}: x and {count - 1} weight arrays, every relative error < 1e-6: {worst < 1e-6}")
# --8<-- [end:exercise_3]



# --8<-- [start:yourself_backward]
import math

import numpy as np

from transformer_primer import check


def my_softmax_backward(dweights, weights):
    inner = np.sum(dweights * weights, axis=-1, keepdims=True)  # each score moves its whole row
    return weights * (dweights - inner)


def my_attention_backward(dout, q, k, v, weights):
    dv = np.swapaxes(weights, -1, -2) @ dout  # (..., n_k, d_v)
    dweights = dout @ np.swapaxes(v, -1, -2)  # (..., n_q, n_k)
    dscores = my_softmax_backward(dweights, weights) / math.sqrt(q.shape[-1])  # the forward's scale
    return dscores @ k, np.swapaxes(dscores, -1, -2) @ q, dv  # dq, dk, dv


def my_embedding_backward(dout, ids, vocab_size):
    d_model = dout.shape[-1]
    dweight = np.zeros((vocab_size, d_model))
    rows = dout.reshape(-1, d_model) * math.sqrt(d_model)  # the forward multiplied by sqrt(d_model)
    np.add.at(dweight, ids.ravel(), rows)  # a repeated id adds up; dweight[ids] += rows would not
    return dweight

check.softmax_backward(my_softmax_backward)
check.attention_backward(my_attention_backward)
check.embedding_backward(my_embedding_backward)
# --8<-- [end:yourself_backward]
