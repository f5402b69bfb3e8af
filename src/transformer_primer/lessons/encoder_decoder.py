"""Lesson: the encoder-decoder. Run with ``python -m transformer_primer.lessons.encoder_decoder``."""

# --8<-- [start:sketch]
from transformer_primer.sketch import SimpleDecoder, SimpleEncoder

print("=== ENCODER-DECODER DEMO ===")
encoder = SimpleEncoder()
decoder = SimpleDecoder()

input_sequence = ["hello", "world"]
encoded_sequence = encoder.encode(input_sequence)
output_sequence = decoder.decode(encoded_sequence)
print(f"Final output: {output_sequence}")
print()
# --8<-- [end:sketch]
