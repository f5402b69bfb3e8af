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
