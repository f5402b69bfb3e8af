"""Lesson: the math of attention. Run with ``python -m transformer_primer.lessons.attention_math``."""

# --8<-- [start:sketch]
from transformer_primer.sketch import attention_math_demo

attention_math_demo()
# --8<-- [end:sketch]
