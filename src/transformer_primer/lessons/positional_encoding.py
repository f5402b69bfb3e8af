"""Lesson: positional encoding. Run with ``python -m transformer_primer.lessons.positional_encoding``."""

# --8<-- [start:permutation]
import numpy as np

from transformer_primer.attention import MultiHeadAttention
from transformer_primer.trace import fmt, show, step

rng = np.random.default_rng(3)
d_model = 4
vocab = {"dog": 0, "bites": 1, "man": 2}
embedding_table = rng.normal(size=(len(vocab), d_model))  # (vocab, d_model)
mha = MultiHeadAttention(d_model=d_model, n_heads=2, rng=rng)

outputs = {}
for sentence in (["dog", "bites", "man"], ["man", "bites", "dog"]):
    x = embedding_table[[vocab[w] for w in sentence]]  # (3, d_model): no position information
    output, _ = mha(x, x, x)  # (3, d_model)
    outputs[" ".join(sentence)] = output
    step(" ".join(sentence))
    show("self-attention output (one row per word)", output)

step("the vector of 'dog' in each sentence")
dog_first = outputs["dog bites man"][0]  # 'dog' is word 0 here
dog_last = outputs["man bites dog"][2]  # and word 2 here
print("dog bites man:", fmt(dog_first))
print("man bites dog:", fmt(dog_last))
print("largest difference:", fmt(np.abs(dog_first - dog_last).max()))

step("reversing the words reverses the output rows, nothing more")
reversed_rows = outputs["dog bites man"][::-1]  # (3, d_model)
print("largest difference:", fmt(np.abs(outputs["man bites dog"] - reversed_rows).max()))
# --8<-- [end:permutation]


# --8<-- [start:table]
import numpy as np

from transformer_primer.positional import sinusoidal_positional_encoding
from transformer_primer.trace import fmt, show, step

n_positions, d_model = 6, 8
pe = sinusoidal_positional_encoding(n_positions, d_model)  # (6, 8)
show("PE (rows = positions 0..5, columns = dimensions 0..7)", pe)

step("each pair of columns (sin, cos) turns at its own speed")
two_i = np.arange(0, d_model, 2)  # (4,): the even dimensions 0, 2, 4, 6
wavelength = 2 * np.pi * 10000.0 ** (two_i / d_model)  # (4,): positions per full turn
for i, length in zip(two_i, wavelength, strict=True):
    print(f"  dimensions {i} and {i + 1}: wavelength {length:10.1f} positions")

step("the dot product of two positions depends only on their distance")
similarity = pe @ pe.T  # (6, 6): similarity[p, r] = PE[p] . PE[r]
show("PE PE^T", similarity)
for offset in (1, 2):
    print(f"  distance {offset}:", fmt(np.diagonal(similarity, offset)))
# --8<-- [end:table]


# --8<-- [start:with_positions]
import numpy as np

from transformer_primer.attention import MultiHeadAttention
from transformer_primer.positional import sinusoidal_positional_encoding
from transformer_primer.trace import fmt, step

rng = np.random.default_rng(3)
d_model = 4
vocab = {"dog": 0, "bites": 1, "man": 2}
embedding_table = rng.normal(size=(len(vocab), d_model))  # (vocab, d_model), as before
mha = MultiHeadAttention(d_model=d_model, n_heads=2, rng=rng)
pe = sinusoidal_positional_encoding(3, d_model)  # (3, d_model): one row per position

outputs = {}
for sentence in (["dog", "bites", "man"], ["man", "bites", "dog"]):
    x = embedding_table[[vocab[w] for w in sentence]] + pe  # (3, d_model): word + position
    outputs[" ".join(sentence)], _ = mha(x, x, x)

step("the vector of 'dog' in each sentence, with positions added")
dog_first = outputs["dog bites man"][0]
dog_last = outputs["man bites dog"][2]
print("dog bites man:", fmt(dog_first))
print("man bites dog:", fmt(dog_last))
print("largest difference:", fmt(np.abs(dog_first - dog_last).max()))
# --8<-- [end:with_positions]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.attention import MultiHeadAttention
from transformer_primer.masks import causal_mask
from transformer_primer.trace import fmt

rng = np.random.default_rng(3)
d_model = 4
vocab = {"dog": 0, "bites": 1, "man": 2}
embedding_table = rng.normal(size=(len(vocab), d_model))  # (vocab, d_model), as in the lesson
mha = MultiHeadAttention(d_model=d_model, n_heads=2, rng=rng)

outputs = {}
for sentence in (["dog", "bites", "man"], ["man", "bites", "dog"]):
    x = embedding_table[[vocab[w] for w in sentence]]  # (3, d_model): still no positional encoding
    outputs[" ".join(sentence)], _ = mha(x, x, x, mask=causal_mask(3))  # (3, d_model)

dog_first, dog_last = outputs["dog bites man"][0], outputs["man bites dog"][2]
print("with a causal mask, 'dog' in dog bites man:", fmt(dog_first))
print("with a causal mask, 'dog' in man bites dog:", fmt(dog_last))
print("largest difference:", fmt(np.abs(dog_first - dog_last).max()))
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.positional import sinusoidal_positional_encoding
from transformer_primer.trace import fmt

n_positions, d_model = 50, 64
pe = sinusoidal_positional_encoding(n_positions, d_model)  # (50, 64)
similarity = pe @ pe.T  # (50, 50): similarity[p, r] = PE[p] . PE[r]
# 0 if each diagonal is constant
spread = max(np.ptp(np.diagonal(similarity, k)) for k in range(n_positions))
print(f"{n_positions} positions, d_model = {d_model}")
print("largest spread along any diagonal of PE PE^T:", fmt(spread))
print("PE[p] . PE[p + k] for k = 0, 1, 2, 4, 8, 16, 32:",
      fmt(np.array([similarity[0, k] for k in (0, 1, 2, 4, 8, 16, 32)]), 1))
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer.positional import sinusoidal_positional_encoding
from transformer_primer.trace import fmt

n_positions, d_model, k = 20, 8, 3
pe = sinusoidal_positional_encoding(n_positions, d_model)  # (20, 8)
omega = 1.0 / 10000.0 ** (np.arange(0, d_model, 2) / d_model)  # (4,): the angle per position of each pair
rotation = np.zeros((d_model, d_model))  # block diagonal: one 2x2 rotation by k * omega_i per pair
for i, w in enumerate(omega):
    c, s = np.cos(k * w), np.sin(k * w)
    rotation[2 * i:2 * i + 2, 2 * i:2 * i + 2] = [[c, -s], [s, c]]  # (sin, cos) of pos -> of pos + k

shifted = pe[:-k] @ rotation  # (17, 8): every PE[pos] turned by the same matrix
largest = np.abs(shifted - pe[k:]).max()
print(f"largest |PE[pos] R - PE[pos + {k}]| over pos = 0..{n_positions - k - 1}:", fmt(largest))
print("R is a rotation, largest |R R^T - I|:", fmt(np.abs(rotation @ rotation.T - np.eye(d_model)).max()))
# --8<-- [end:exercise_3]


# --8<-- [start:yourself_positional_encoding]
import numpy as np

from transformer_primer import check


def my_positional_encoding(n_positions, d_model):
    pos = np.arange(n_positions)[:, None]  # (n_positions, 1)
    two_i = np.arange(0, d_model, 2)  # the even columns 0, 2, 4, ...
    angle = pos / 10000.0 ** (two_i / d_model)  # one angle per (sin, cos) pair
    pe = np.zeros((n_positions, d_model))
    pe[:, 0::2] = np.sin(angle)  # even columns: sin
    pe[:, 1::2] = np.cos(angle[:, : d_model // 2])  # odd columns: cos of the same angle
    return pe

check.sinusoidal_positional_encoding(my_positional_encoding)
# --8<-- [end:yourself_positional_encoding]
