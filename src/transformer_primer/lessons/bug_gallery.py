"""The gallery of silent bugs: each bug of ``silent_bugs`` run (a plausible trace), then caught.

For each bug, section ``<bug>_runs`` runs the buggy function the way its author would have
tried it, and section ``<bug>_caught`` runs the check from ``transformer_primer.check`` on it
and prints the diagnosis. Run with ``python -m transformer_primer.lessons.bug_gallery``.
"""

# --8<-- [start:scale_by_width_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import head_attention
from transformer_primer.masks import causal_mask
from transformer_primer.trace import fmt, show

rng = np.random.default_rng(0)
n, d_k = 4, 8  # one head of a layer with d_model = 32 and 4 heads
q, k, v = rng.normal(size=(3, n, d_k))  # each (n, d_k)
out, weights = head_attention(q, k, v, mask=causal_mask(n))
show("weights (rows = queries, columns = keys)", weights)
print("row sums:", fmt(weights.sum(axis=-1)), "  output shape:", out.shape)
# --8<-- [end:scale_by_width_runs]


# --8<-- [start:scale_by_width_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import head_attention

try:
    check.scaled_dot_product_attention(head_attention)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:scale_by_width_caught]


# --8<-- [start:post_norm_text_runs]
import numpy as np

from transformer_primer.layers import LayerNorm
from transformer_primer.lessons.silent_bugs import residual
from transformer_primer.trace import fmt, show

rng = np.random.default_rng(0)
x = rng.normal(size=(3, 4))  # (n, d_model)
w = rng.normal(size=(4, 4))
out = residual(x, lambda h: np.tanh(h @ w), LayerNorm(4), norm_first=False)  # asks for post-norm
show("output (n, d_model)", out)
print("mean of each row:", fmt(out.mean(axis=-1)))
# --8<-- [end:post_norm_text_runs]


# --8<-- [start:post_norm_text_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import residual

try:
    check.residual(residual)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:post_norm_text_caught]


# --8<-- [start:unbiased_layer_norm_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import layer_norm
from transformer_primer.trace import fmt, show

x = np.array([[1.0, 2.0, 3.0, 4.0], [0.0, 10.0, 0.0, 10.0]])  # (n, d_model) = (2, 4)
y = layer_norm(x, gamma=np.ones(4), beta=np.zeros(4))
show("layer_norm(x)", y)
print("mean of each row:", fmt(y.mean(axis=-1)), "  std of each row:", fmt(y.std(axis=-1)))
# --8<-- [end:unbiased_layer_norm_runs]


# --8<-- [start:unbiased_layer_norm_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import layer_norm

try:
    check.layer_norm(layer_norm)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:unbiased_layer_norm_caught]


# --8<-- [start:transposed_padding_mask_runs]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.lessons.silent_bugs import padding_mask
from transformer_primer.trace import show

rng = np.random.default_rng(1)
mask = padding_mask([4, 2], 4)  # sentence 1 is "hi there <pad> <pad>"
print("mask shape:", mask.shape)
q, k, v = rng.normal(size=(3, 2, 4, 4))  # each (batch, n, d_k)
_, weights = scaled_dot_product_attention(q, k, v, mask=mask)  # no error: the mask broadcasts
show("weights of sentence 1 (rows = queries, columns = keys)", weights[1])
# --8<-- [end:transposed_padding_mask_runs]


# --8<-- [start:transposed_padding_mask_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import padding_mask

try:
    check.padding_mask(padding_mask)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:transposed_padding_mask_caught]


# --8<-- [start:float16_overflow_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import attention_additive_mask
from transformer_primer.masks import causal_mask
from transformer_primer.trace import show

rng = np.random.default_rng(2)
q, k, v = rng.normal(size=(3, 3, 4)).astype(np.float32)  # each (n, d_k), float32
_, weights = attention_additive_mask(q, k, v, mask=causal_mask(3))
show("float32 weights with a causal mask", weights)
# --8<-- [end:float16_overflow_runs]


# --8<-- [start:float16_overflow_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import attention_additive_mask

try:
    check.scaled_dot_product_attention(attention_additive_mask)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:float16_overflow_caught]


# --8<-- [start:reshape_heads_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import split_heads

x = np.arange(24).reshape(3, 8)  # (n, d_model): entry (i, j) = 8 i + j comes from token i
heads = split_heads(x, 2)
print("heads shape:", heads.shape, "= (n_heads, n, d_k)")
print("head 0:")
print(heads[0])
# --8<-- [end:reshape_heads_runs]


# --8<-- [start:reshape_heads_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import split_heads

try:
    check.split_heads(split_heads)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:reshape_heads_caught]


# --8<-- [start:wrong_axis_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import attention_axis0
from transformer_primer.trace import fmt, show

rng = np.random.default_rng(7)
q, k, v = rng.normal(size=(3, 3, 4))  # each (n, d_k)
_, weights = attention_axis0(q, k, v)
show("weights", weights)
print("sums:", fmt(weights.sum(axis=0)))  # the author's sanity check
# --8<-- [end:wrong_axis_runs]


# --8<-- [start:wrong_axis_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import attention_axis0

try:
    check.scaled_dot_product_attention(attention_axis0)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:wrong_axis_caught]


# --8<-- [start:no_shift_runs]
from transformer_primer.lessons.silent_bugs import make_batch
from transformer_primer.vocab import Vocab

vocab = Vocab("abc")
src, tgt_in, tgt_out = make_batch(vocab, "reverse", ["abc", "ab"])
print("source:        ", src.tolist())
print("decoder input: ", tgt_in.tolist())
print("decoder target:", tgt_out.tolist())
# --8<-- [end:no_shift_runs]


# --8<-- [start:no_shift_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import make_batch

try:
    check.make_batch(make_batch)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:no_shift_caught]


# --8<-- [start:no_max_shift_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import softmax
from transformer_primer.trace import fmt

print("softmax([2, 1, 1]) =", fmt(softmax(np.array([2.0, 1.0, 1.0]))))
print("softmax([[0, 1], [3, -1]]) =")
print(fmt(softmax(np.array([[0.0, 1.0], [3.0, -1.0]]))))
# --8<-- [end:no_max_shift_runs]


# --8<-- [start:no_max_shift_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import softmax

try:
    check.softmax(softmax)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:no_max_shift_caught]


# --8<-- [start:no_scale_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import attention_unscaled
from transformer_primer.trace import fmt, show

rng = np.random.default_rng(7)
q, k, v = rng.normal(size=(3, 3, 4))  # each (n, d_k) with d_k = 4
_, weights = attention_unscaled(q, k, v)
show("weights", weights)
print("row sums:", fmt(weights.sum(axis=-1)))
# --8<-- [end:no_scale_runs]


# --8<-- [start:no_scale_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import attention_unscaled

try:
    check.scaled_dot_product_attention(attention_unscaled)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:no_scale_caught]


# --8<-- [start:causal_off_by_one_runs]
import numpy as np

from transformer_primer.attention import scaled_dot_product_attention
from transformer_primer.lessons.silent_bugs import causal_mask
from transformer_primer.trace import show

print(causal_mask(4).astype(int))
rng = np.random.default_rng(1)
q, k, v = rng.normal(size=(3, 4, 4))  # each (n, d_k)
out, weights = scaled_dot_product_attention(q, k, v, mask=causal_mask(4))
show("weights (rows = queries, columns = keys)", weights)
# --8<-- [end:causal_off_by_one_runs]


# --8<-- [start:causal_off_by_one_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import causal_mask

try:
    check.causal_mask(causal_mask)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:causal_off_by_one_caught]


# --8<-- [start:repeated_ids_runs]
import numpy as np

from transformer_primer.lessons.silent_bugs import embedding_backward
from transformer_primer.trace import show

ids = np.array([2, 0, 2])  # token 2 appears twice
dout = np.ones((3, 4))  # (n, d_model): the same gradient at every position
show("dweight (vocab_size, d_model)", embedding_backward(dout, ids, vocab_size=3))
# --8<-- [end:repeated_ids_runs]


# --8<-- [start:repeated_ids_caught]
import textwrap

from transformer_primer import check
from transformer_primer.lessons.silent_bugs import embedding_backward

try:
    check.embedding_backward(embedding_backward)
except AssertionError as diagnosis:
    print(textwrap.fill(f"check says: {diagnosis}", 88))

# --8<-- [end:repeated_ids_caught]
