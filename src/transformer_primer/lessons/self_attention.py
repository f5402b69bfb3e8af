"""Lesson: self-attention step by step. Run with ``python -m transformer_primer.lessons.self_attention``."""

# --8<-- [start:sketch]
from transformer_primer.sketch import simple_self_attention

# Demo: Self-attention
tokens = ["I", "love", "AI"]
attended_tokens = simple_self_attention(tokens)
print()
# --8<-- [end:sketch]
