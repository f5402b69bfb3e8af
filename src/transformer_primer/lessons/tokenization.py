"""Lesson: tokenization with byte-pair encoding.

Run with ``python -m transformer_primer.lessons.tokenization``.
"""

# --8<-- [start:bytes]
text = "naïve café"
data = text.encode("utf-8")  # every text is a sequence of bytes 0-255
print(f"{len(text)} characters, {len(data)} bytes")
print("bytes:", list(data))
for character in "ïé":
    print(f"{character!r} is {len(character.encode('utf-8'))} bytes: {list(character.encode('utf-8'))}")

# --8<-- [end:bytes]

# --8<-- [start:train]
import inspect

import transformer_primer.sketch
from transformer_primer.bpe import train_bpe

# The training text: the code of the notebook this project started from.
corpus = inspect.getsource(transformer_primer.sketch)
bpe = train_bpe(corpus, n_merges=40)
print(f"trained on {len(corpus)} characters; vocabulary: 256 bytes + {len(bpe.merges)} merges")
print("step  pair                 -> new token       count")
for i, ((a, b), count) in enumerate(zip(bpe.merges, bpe.counts, strict=True)):
    if i < 12 or i >= len(bpe.merges) - 3:
        pair = f"{bpe.token_text(a)!r} + {bpe.token_text(b)!r}"
        print(f"{i + 1:4d}  {pair:20s} -> {bpe.token_text(256 + i)!r:15s} {count:5d}")
    elif i == 12:
        print("   ...")

# --8<-- [end:train]

# --8<-- [start:encode]
import inspect

import transformer_primer.sketch
from transformer_primer.bpe import train_bpe

bpe = train_bpe(inspect.getsource(transformer_primer.sketch), n_merges=40)
for sentence in ("The attention output of each token", "Zürich"):
    ids = bpe.encode(sentence)
    pieces = [bpe.token_text(token) for token in ids]
    print(f"{sentence!r}: {len(sentence)} characters -> {len(ids)} tokens")
    print("  tokens:", "|".join(pieces))
    print("  ids:   ", ids)
    print("  decode(encode(text)) == text:", bpe.decode(ids) == sentence)

# --8<-- [end:encode]

# --8<-- [start:exercise_1]
import inspect

import transformer_primer.sketch
from transformer_primer.bpe import train_bpe

corpus = inspect.getsource(transformer_primer.sketch)
sentence = "The decoder generates the output one token at a time"
print("merges  vocabulary  tokens for the sentence  tokens per character of the corpus")
for n_merges in (0, 25, 100, 400):
    bpe = train_bpe(corpus, n_merges=n_merges)
    per_character = len(bpe.encode(corpus)) / len(corpus)
    print(f"{len(bpe.merges):6d} {bpe.vocab_size:11d} {len(bpe.encode(sentence)):24d} "
          f"{per_character:34.3f}")

# --8<-- [end:exercise_1]

# --8<-- [start:exercise_2]
import inspect

import transformer_primer.sketch
from transformer_primer.bpe import train_bpe

bpe = train_bpe(inspect.getsource(transformer_primer.sketch), n_merges=100)
for word in ("attention", "Attention", " attention", "attentive", "καλημέρα"):
    ids = bpe.encode(word)
    print(f"{word!r:13s} {len(word):2d} characters, {len(word.encode('utf-8')):2d} bytes -> "
          f"{len(ids):2d} tokens: {'|'.join(bpe.token_text(t) for t in ids)}")

# --8<-- [end:exercise_2]
