"""Lesson: layer norm, residuals and the feed-forward block.

Run with ``python -m transformer_primer.lessons.norms``.
"""

# --8<-- [start:layer_norm]
import numpy as np

from transformer_primer.layers import LayerNorm
from transformer_primer.trace import fmt

x = np.array([[2.0, 4.0, 6.0, 8.0],  # two positions, d_model = 4
              [100.0, 100.5, 99.5, 100.0]])
norm = LayerNorm(4)  # gamma = 1, beta = 0 at initialisation
y = norm(x)
for name, rows in (("x", x), ("LayerNorm(x)", y)):
    for i, row in enumerate(rows):
        stats = f"mean {fmt(row.mean(), 3):>7}  std {fmt(row.std(), 3)}"
        print(f"{name:>12} row {i}: {fmt(row, 3):34} {stats}")

norm.gamma[...] = [1.0, 2.0, 1.0, 0.5]  # learned: a scale and a shift per feature, for every row
norm.beta[...] = [0.0, 0.0, 1.0, 0.0]
print("with gamma and beta:", fmt(norm(x)[0], 3))
# --8<-- [end:layer_norm]


# --8<-- [start:feed_forward]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.layers import FeedForward
from transformer_primer.trace import fmt

ff = FeedForward(d_model=4, d_ff=16, rng=np.random.default_rng(0))
x = np.random.default_rng(1).normal(size=(3, 4))  # three positions
together = ff(x)  # (3, 4): every position at once
alone = np.stack([ff(row[None])[0] for row in x])  # (3, 4): one position at a time
print("position-wise: |together - one at a time| =", fmt(np.abs(together - alone).max(), 9))

model = pretrained("reverse").model
sizes = {"attention": 0, "feed-forward": 0, "layer norms": 0, "embedding, w_out": 0}
for name, p in model.parameters().items():
    kind = ("attention" if "attn" in name else "feed-forward" if "feed_forward" in name
            else "layer norms" if "norm" in name else "embedding, w_out")
    sizes[kind] += p.size

total = sum(sizes.values())
for kind, n in sizes.items():
    print(f"{kind:>17}: {n:6,} parameters ({n / total:6.1%})")

# --8<-- [end:feed_forward]


# --8<-- [start:stream]
import numpy as np

from transformer_primer.masks import causal_mask
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.trace import fmt

src, tgt = np.array([[3, 4, 5, 6, 7, 8]]), np.array([[1, 8, 7, 6, 5, 4]])
print("RMS of the decoder's states in random 12-layer models: the input | after each layer")
for norm_first in (False, True):
    config = TransformerConfig(vocab_size=10, d_model=32, n_heads=4, d_ff=64, n_layers=12,
                               norm_first=norm_first)
    model = Transformer(config, np.random.default_rng(0))
    memory = model.encode(src)  # (1, 6, d_model)
    y = model.embed(tgt)  # (1, 6, d_model)
    rms = [np.sqrt(np.mean(y**2))]
    for layer in model.decoder_layers:
        y = layer(y, memory, causal_mask(6))
        rms.append(np.sqrt(np.mean(y**2)))
    name = "pre-norm " if norm_first else "post-norm"
    print(f"{name}  {fmt(rms[0], 2)} |", " ".join(fmt(r, 2) for r in rms[1:]))
    if norm_first:
        rms_final = np.sqrt(np.mean(model.decoder_norm(y) ** 2))
        print(f"pre-norm, after decoder_norm: {fmt(rms_final, 2)}")

# --8<-- [end:stream]


# --8<-- [start:gradients]
import numpy as np

from transformer_primer.grad import loss_and_grads
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.tasks import ALPHABET, make_batch, sample_strings
from transformer_primer.trace import fmt
from transformer_primer.vocab import Vocab

vocab = Vocab(ALPHABET)
batch = make_batch(vocab, "reverse", sample_strings(np.random.default_rng(0), 32, "train"))
seeds = (0, 1, 2)


def layer_grad_norms(n_layers, norm_first, seed):
    """The norm of the loss's gradient for each decoder layer's weights, at initialisation."""
    config = TransformerConfig(vocab_size=len(vocab), d_model=32, n_heads=4, d_ff=64,
                               n_layers=n_layers, max_len=18, norm_first=norm_first)
    _, grads, _ = loss_and_grads(Transformer(config, np.random.default_rng(seed)), *batch)
    return np.array([np.sqrt(sum(np.sum(g**2) for name, g in grads.items()
                                 if name.startswith(f"decoder.{i}.")))
                     for i in range(n_layers)])


print("gradient norm of each decoder layer's weights at initialisation, mean of 3 seeds")
print("layers  norm   first layer  last layer  last / first")
per_layer = {}
for n_layers in (2, 6, 12):
    for norm_first in (False, True):
        g = np.mean([layer_grad_norms(n_layers, norm_first, s) for s in seeds], axis=0)
        per_layer[n_layers, norm_first] = g
        name = "pre " if norm_first else "post"
        ratio = fmt(g[-1] / g[0], 2)
        print(f"{n_layers:6}  {name} {fmt(g[0], 3):>12} {fmt(g[-1], 3):>11} {ratio:>13}")

for norm_first in (False, True):
    name = "pre-norm " if norm_first else "post-norm"
    layers = " ".join(fmt(v, 2) for v in per_layer[12, norm_first])
    print(f"12 layers, {name}, layer 1..12: {layers}")

# --8<-- [end:gradients]


# --8<-- [start:final_norm]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.trace import fmt

reverse = pretrained("reverse")
model = reverse.model
src = reverse.encode("hello world")
encoder_states = model.embed(src)  # (11, d_model)
for layer in model.encoder_layers:
    encoder_states = layer(encoder_states)

memory = model.encode(src)  # the same layers, then encoder_norm
final_norms = [name for name in model.parameters() if "_norm." in name]
print("norm_first:", model.config.norm_first)
print("final norms:", ", ".join(final_norms))
rms_before = np.sqrt(np.mean(encoder_states**2, axis=-1))  # (11,): one per position
rms_after = np.sqrt(np.mean(memory**2, axis=-1))
print("RMS per position, before encoder_norm:", fmt(rms_before, 2))
print("RMS per position, after encoder_norm: ", fmt(rms_after, 2))
# --8<-- [end:final_norm]


# --8<-- [start:yourself]
import numpy as np

from transformer_primer import check


def my_layer_norm(x, gamma, beta, eps=1e-5):
    centred = x - x.mean(axis=-1, keepdims=True)  # each position on its own: the last axis
    var = (centred**2).mean(axis=-1, keepdims=True)  # divided by d_model, not d_model - 1
    return centred / np.sqrt(var + eps) * gamma + beta


def my_residual(x, sublayer, norm, norm_first):
    if norm_first:  # pre-norm: the sum x + ... is never normalised here
        return x + sublayer(norm(x))
    return norm(x + sublayer(x))  # post-norm: the paper's order

check.layer_norm(my_layer_norm)
check.residual(my_residual)
# --8<-- [end:yourself]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.layers import LayerNorm
from transformer_primer.trace import fmt

norm = LayerNorm(8)
x = np.random.default_rng(0).normal(size=(5, 8))
for a, b in ((10.0, 0.0), (0.01, 0.0), (1.0, 50.0), (-1.0, 0.0)):
    gap = np.abs(norm(a * x + b) - norm(x)).max()
    print(f"LayerNorm({a:g} x + {b:g}) - LayerNorm(x): largest |difference| {fmt(gap, 4)}")

# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
from transformer_primer import pretrained

reverse = pretrained("reverse")
model = reverse.model
texts = ["hello world", "abc", "transformer"]
print("with the final norms:   ", reverse.translate_batch(texts))
model.encoder_norm, model.decoder_norm = None, None  # the stack as it was before: no final norms
print("without the final norms:", reverse.translate_batch(texts))
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
d_model, d_ff = 512, 2048  # the paper's base model
attention = 4 * (d_model * d_model + d_model)  # w_q, w_k, w_v, w_o and their biases
feed_forward = d_model * d_ff + d_ff + d_ff * d_model + d_model  # w_1, b_1, w_2, b_2
norm = 2 * d_model  # gamma and beta
encoder_layer = attention + feed_forward + 2 * norm
print(f"an encoder layer: {encoder_layer:,} parameters")
for name, n in (("feed-forward", feed_forward), ("attention", attention), ("norms", 2 * norm)):
    print(f"{name:>12}: {n / encoder_layer:6.2%}")

# --8<-- [end:exercise_3]
