"""Silent bugs: functions that run, return the right shapes, and compute the wrong thing.

Each section is one bug from the gallery (docs/bug-gallery.md), written as it is found in the
wild; the line with the bug ends with ``# <- the bug``. ``transformer_primer.lessons.bug_gallery``
runs each one (a plausible trace) and shows the check that catches it. Importing this module
prints nothing.
"""

# --8<-- [start:scale_by_width]
import math

import numpy as np

D_MODEL = 32  # the model width; with 4 heads, each head's queries and keys have d_k = 8


def head_attention(q, k, v, mask=None):
    """One head of a 4-head layer: q, k (..., n, d_k) with d_k = 8, v (..., n, d_v)."""
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(D_MODEL)  # <- the bug: d_model, not d_k
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return weights @ v, weights

# --8<-- [end:scale_by_width]


# --8<-- [start:post_norm_text]
def residual(x, sublayer, norm, norm_first=False):
    """Residual connection and layer norm, post-norm as in the paper: LayerNorm(x + Sublayer(x))."""
    return x + sublayer(norm(x))  # <- the bug: this is pre-norm, whatever norm_first says

# --8<-- [end:post_norm_text]


# --8<-- [start:unbiased_layer_norm]
def layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)
    std = x.std(axis=-1, ddof=1, keepdims=True)  # <- the bug: ddof=1, torch.Tensor.std's default
    return gamma * (x - mean) / (std + eps) + beta

# --8<-- [end:unbiased_layer_norm]


# --8<-- [start:transposed_padding_mask]
import numpy as np


def padding_mask(lengths, n):
    """True where a token is real: position j of sequence b is real when j < lengths[b]."""
    real = np.arange(n)[None, :] < np.asarray(lengths)[:, None]  # (batch, n)
    return real[:, :, None]  # <- the bug: (batch, n, 1) masks query rows, not key columns

# --8<-- [end:transposed_padding_mask]


# --8<-- [start:float16_overflow]
import math

import numpy as np


def attention_additive_mask(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])
    if mask is not None:  # an additive mask: 0 where allowed, -1e9 where blocked
        scores = scores + (1.0 - mask.astype(scores.dtype)) * -1e9  # <- the bug in float16
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return weights @ v, weights

# --8<-- [end:float16_overflow]


# --8<-- [start:reshape_heads]
def split_heads(x, n_heads):
    """(n, d_model) -> (n_heads, n, d_k)."""
    n, d_model = x.shape[-2:]
    return x.reshape(*x.shape[:-2], n_heads, n, d_model // n_heads)  # <- the bug: no transpose

# --8<-- [end:reshape_heads]


# --8<-- [start:wrong_axis]
import math

import numpy as np


def attention_axis0(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2) / math.sqrt(q.shape[-1])  # (n_q, n_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    weights = e / e.sum(axis=0, keepdims=True)  # <- the bug: axis=0 normalises over the queries
    return weights @ v, weights

# --8<-- [end:wrong_axis]


# --8<-- [start:no_shift]
import numpy as np

from transformer_primer.tasks import target


def make_batch(vocab, task, texts):
    """Source ids, decoder input and decoder target, for teacher forcing."""
    targets = [vocab.encode(target(task, t)) for t in texts]
    n_y = max(len(t) for t in targets) + 1
    tgt_in = np.full((len(texts), n_y), vocab.pad_id, dtype=np.int64)
    for row, ids in enumerate(targets):
        tgt_in[row, : len(ids) + 1] = [vocab.bos_id, *ids]
    tgt_out = tgt_in.copy()  # <- the bug: the target must be the input shifted left by one
    return vocab.encode_batch(texts), tgt_in, tgt_out

# --8<-- [end:no_shift]


# --8<-- [start:no_max_shift]
import numpy as np


def softmax(x, axis=-1):
    e = np.exp(x)  # <- the bug: exp(1000) overflows; subtract the row maximum first
    return e / e.sum(axis=axis, keepdims=True)

# --8<-- [end:no_max_shift]


# --8<-- [start:no_scale]
import numpy as np


def attention_unscaled(q, k, v, mask=None):
    scores = q @ np.swapaxes(k, -1, -2)  # <- the bug: not divided by sqrt(d_k)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    scores = scores - scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores) / np.exp(scores).sum(axis=-1, keepdims=True)
    return weights @ v, weights

# --8<-- [end:no_scale]


# --8<-- [start:causal_off_by_one]
import numpy as np


def causal_mask(n):
    """Query i may attend to the keys before it."""
    return np.tril(np.ones((n, n), dtype=bool), k=-1)  # <- the bug: k=-1 drops the diagonal

# --8<-- [end:causal_off_by_one]


# --8<-- [start:repeated_ids]
import math

import numpy as np


def embedding_backward(dout, ids, vocab_size):
    """Gradient of weight[ids] * sqrt(d_model) with respect to the table."""
    d_model = dout.shape[-1]
    dweight = np.zeros((vocab_size, d_model))
    dweight[ids] += dout * math.sqrt(d_model)  # <- the bug: a repeated id is written once
    return dweight

# --8<-- [end:repeated_ids]
