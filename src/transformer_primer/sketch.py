"""The original notebook's conceptual sketch, reproduced exactly.

These classes and functions print placeholder strings such as ``encoded_hello``
and ``attended_I``: they describe *what* each part of a transformer does, not
*how*. Every lesson starts from them and then runs the real numpy computation
from the rest of the package.

The code between the snippet markers is the notebook's code, character for
character, so that running the notebook's cells against this module prints the
notebook's output exactly (``tests/site/test_sketch.py`` checks both).

Examples
--------
>>> from transformer_primer.sketch import SimpleEncoder
>>> SimpleEncoder().encode(["hi"])
Encoder processing: ['hi']
Encoder output: ['encoded_hi']
['encoded_hi']
"""

from __future__ import annotations

__all__ = [
    "SimpleDecoder",
    "SimpleEncoder",
    "SimpleRNN",
    "SimpleTransformer",
    "attention_math_demo",
    "simple_self_attention",
]

# fmt: off
# The notebook's own code follows, unchanged: no type hints, its own comments.

# --8<-- [start:encoder_decoder]
class SimpleEncoder:

    def __init__(self):
        self.name = "Encoder"

    def encode(self, input_tokens):
        print(f"Encoder processing: {input_tokens}")
        # In real transformers, this involves self-attention and feed-forward layers
        encoded = [f"encoded_{token}" for token in input_tokens]
        print(f"Encoder output: {encoded}")
        return encoded

class SimpleDecoder:
    def __init__(self):
        self.name = "Decoder"

    def decode(self, encoded_input, target_length=3):
        print(f"Decoder using encoded input: {encoded_input}")
        # Decoder generates output tokens one by one
        output = []
        for i in range(target_length):
            next_token = f"output_{i+1}"
            output.append(next_token)
            print(f"Generated token {i+1}: {next_token}")
        return output
# --8<-- [end:encoder_decoder]


# --8<-- [start:self_attention]
def simple_self_attention(tokens):
    print("=== SELF-ATTENTION STEP-BY-STEP ===")
    print(f"Input tokens: {tokens}")

    # Step 1: Create Query, Key, Value for each token (simplified)
    queries = [f"Q_{token}" for token in tokens]
    keys = [f"K_{token}" for token in tokens]
    values = [f"V_{token}" for token in tokens]

    print(f"Queries: {queries}")
    print(f"Keys: {keys}")
    print(f"Values: {values}")
    print()

    # Step 2: Calculate attention scores (how much each token should attend to others)
    print("Attention process for each token:")
    attention_outputs = []

    for i, token in enumerate(tokens):
        print(f"\nToken '{token}' attending to all tokens:")

        # In real implementation, this involves dot products and softmax
        # Here we simulate with simple scores
        attention_scores = {}
        for j, other_token in enumerate(tokens):
            # Simulate attention score calculation
            score = 1.0 / (abs(i - j) + 1)  # Closer tokens get higher scores
            attention_scores[other_token] = score
            print(f"  Attention to '{other_token}': {score:.2f}")

        # Normalize scores (like softmax)
        total_score = sum(attention_scores.values())
        normalized_scores = {k: v/total_score for k, v in attention_scores.items()}

        print(f"  Normalized attention: {normalized_scores}")

        # Create attended representation (weighted combination of values)
        attended_token = f"attended_{token}"
        attention_outputs.append(attended_token)

    print(f"\nSelf-attention output: {attention_outputs}")
    return attention_outputs
# --8<-- [end:self_attention]


# --8<-- [start:rnn_vs_transformer]
class SimpleRNN:
    """Simplified RNN to show sequential processing"""
    def __init__(self):
        self.hidden_state = None

    def process_sequence(self, tokens):
        print("=== RNN PROCESSING (Sequential) ===")
        print("Processing one token at a time, left to right:")

        outputs = []
        for i, token in enumerate(tokens):
            print(f"Step {i+1}: Processing '{token}'")
            # RNN updates hidden state sequentially
            self.hidden_state = f"hidden_after_{token}"
            output = f"rnn_output_{i+1}"
            outputs.append(output)
            print(f"  Hidden state: {self.hidden_state}")
            print(f"  Output: {output}")

        print(f"Final RNN outputs: {outputs}")
        return outputs

class SimpleTransformer:
    """Simplified Transformer to show parallel processing"""
    def process_sequence(self, tokens):
        print("=== TRANSFORMER PROCESSING (Parallel) ===")
        print("Processing ALL tokens simultaneously:")

        # All tokens processed at once through self-attention
        print("Step 1: Self-attention on all tokens")
        attended = simple_self_attention(tokens)

        print("Step 2: Feed-forward processing (parallel)")
        outputs = [f"transformer_output_{i+1}" for i in range(len(tokens))]
        print(f"Final Transformer outputs: {outputs}")
        return outputs
# --8<-- [end:rnn_vs_transformer]


# --8<-- [start:attention_math]
def attention_math_demo():
    """Very simple math behind attention"""
    print("\n=== ATTENTION MATH (SIMPLIFIED) ===")

    # Simple vectors representing words
    word_vectors = {
        "cat": [1, 0, 1],
        "sat": [0, 1, 1],
        "mat": [1, 1, 0]
    }

    print("Word vectors:")
    for word, vec in word_vectors.items():
        print(f"  {word}: {vec}")

    print("\nCalculating attention between 'cat' and other words:")

    cat_vec = word_vectors["cat"]
    for word, vec in word_vectors.items():
        # Dot product as similarity measure
        similarity = sum(a * b for a, b in zip(cat_vec, vec))
        print(f"  'cat' ⋅ '{word}' = {similarity}")

    print("\nHigher dot product = higher attention weight")
    print("This helps model understand which words are most relevant!")
# --8<-- [end:attention_math]
# fmt: on
