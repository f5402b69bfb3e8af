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


# --8<-- [start:encoder]
import numpy as np

from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.trace import show, step

vocab = ["<pad>", "<bos>", "<eos>", "hello", "world", "bonjour", "le", "monde"]
config = TransformerConfig(vocab_size=len(vocab), d_model=8, n_heads=2, d_ff=16, n_layers=1)
model = Transformer(config, np.random.default_rng(2))  # random weights: nothing learned yet

step("tokens -> ids")
source = ["hello", "world"]
src_ids = np.array([vocab.index(word) for word in source])  # (n_x,) = (2,)
print(f"{source} -> {src_ids.tolist()}")

step("ids -> embedding + position: one d_model vector per token")
x = model.embed(src_ids)  # (2,) -> (2, d_model) = (2, 8)
show("x", x)

step("the encoder: self-attention (every token sees every token), then feed-forward")
cache = {}  # the layers keep their intermediate values here (the attention weights too)
memory = model.encode(src_ids, cache=cache)  # (2, 8): the encoder states, one per source token
show("memory = encoder output", memory)
weights = cache["layers"][0]["self_attn"]["weights"]  # (n_heads, n_x, n_x) = (2, 2, 2)
show(f"encoder self-attention weights (heads, queries {source}, keys {source})", weights)
# --8<-- [end:encoder]


# --8<-- [start:decoder]
import numpy as np

from transformer_primer.masks import causal_mask
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.trace import show, step

vocab = ["<pad>", "<bos>", "<eos>", "hello", "world", "bonjour", "le", "monde"]
config = TransformerConfig(vocab_size=len(vocab), d_model=8, n_heads=2, d_ff=16, n_layers=1)
model = Transformer(config, np.random.default_rng(2))  # the same random model as above
source = ["hello", "world"]
src_ids = np.array([vocab.index(word) for word in source])  # (2,)

step("the decoder's causal mask: rows = queries, columns = keys, True = may attend")
print(causal_mask(4).astype(int))  # decoder position t sees positions 0..t only

never = []  # the probability of <pad> and of <bos> at each step
for number, decode_step in enumerate(model.generate(src_ids, max_new_tokens=4), start=1):
    words = [vocab[i] for i in decode_step.input_ids]
    step(f"step {number}: the decoder reads {words}")
    _, cache = model.run_with_cache(src_ids, decode_step.input_ids)  # this step's pass, again
    self_weights = cache["decoder.0.self_attn.weights"]  # (n_heads, n_y, n_y)
    cross_weights = cache["decoder.0.cross_attn.weights"]  # (n_heads, n_y, n_x): decoder queries
    show(f"self-attention, head 0 (rows = queries, columns = keys {words})", self_weights[0])
    show(f"cross-attention of '{words[-1]}' (rows = heads 0, 1; columns = keys {source})",
         cross_weights[:, -1, :])
    top = np.argsort(-decode_step.probs, kind="stable")[:3]  # the 3 most probable next tokens
    print("most probable next:", ", ".join(f"{vocab[i]} {decode_step.probs[i]:.3f}" for i in top))
    print(f"chosen: {vocab[decode_step.chosen]}")
    never += [f"{decode_step.probs[vocab.index(token)]:.3f}" for token in ("<pad>", "<bos>")]

print()
print("generated:", [vocab[i] for i in model.greedy_decode(src_ids, max_new_tokens=4)])
print("probability of <pad>, <bos> at each step:", " ".join(never))
# --8<-- [end:decoder]

# --8<-- [start:trained]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.trace import fmt, step

model = pretrained("reverse")  # trained by `python -m transformer_primer train reverse`
vocab, net = model.vocab, model.model
norm = "pre-norm, x + Sublayer(LayerNorm(x))" if net.config.norm_first else "post-norm"
print(f"{len(net.encoder_layers)} encoder + {len(net.decoder_layers)} decoder layer(s), {norm}")
text = "hello world"
src_ids = model.encode(text)  # (11,) character ids
memory = net.encode(src_ids)  # (11,) -> (11, d_model): one vector per source character

step(f"the encoder's output for {text!r}: shape {memory.shape}, first 6 of {net.config.d_model} columns")
for char, row in zip(text, memory, strict=True):
    print(f"{char!r}  " + " ".join(f"{fmt(value, decimals=2):>6}" for value in row[:6]))

step("the decoder's greedy loop: feed what it wrote so far, take the most probable next token")
for number, s in enumerate(net.generate(src_ids, max_new_tokens=model.max_chars + 1), start=1):
    so_far = "".join(vocab.tokens[i] for i in s.input_ids)  # starts with the start token <bos>
    top = np.argsort(-s.probs, kind="stable")[:3]  # the 3 most probable next tokens
    candidates = ", ".join(f"{vocab.tokens[i]!r} {s.probs[i]:.3f}" for i in top)
    chosen = vocab.tokens[s.chosen]
    print(f"step {number:>2}  input {so_far!r:<18}  top 3: {candidates:<36}  chosen {chosen!r}")

print()
print(f"{text!r} -> {model.translate(text)!r}")
# --8<-- [end:trained]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.trace import fmt

vocab = ["<pad>", "<bos>", "<eos>", "hello", "world", "bonjour", "le", "monde"]
config = TransformerConfig(vocab_size=len(vocab), d_model=8, n_heads=2, d_ff=16, n_layers=1)
model = Transformer(config, np.random.default_rng(2))  # the lesson's random model
forward = np.array([vocab.index("hello"), vocab.index("world")])  # (2,)
swapped = forward[::-1]  # (2,): ['world', 'hello']

memory, memory_swapped = model.encode(forward), model.encode(swapped)  # each (2, d_model)
print("with positions:    largest |memory(swapped) - memory with its rows swapped| =",
      fmt(np.abs(memory_swapped - memory[::-1]).max()))

layer = model.encoder_layers[0]
# (2, d_model) each: embeddings with no positions added
no_pos, no_pos_swapped = layer(model.embedding(forward)), layer(model.embedding(swapped))
print("without positions: largest |memory(swapped) - memory with its rows swapped| =",
      fmt(np.abs(no_pos_swapped - no_pos[::-1]).max()))
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.trace import fmt

model = pretrained("reverse")
vocab, net = model.vocab, model.model
src_ids = model.encode("hello world")  # (11,)
memory = net.encode(src_ids)  # (11, d_model)
loop = list(net.generate(src_ids, max_new_tokens=model.max_chars + 1))  # one DecodeStep per token
written = [s.chosen for s in loop]  # the greedy loop's choices, <eos> last
loop_logits = np.array([net.decode(np.array(s.input_ids), memory)[-1] for s in loop])  # (12, vocab_size)

tgt_in = np.array([vocab.bos_id, *written[:-1]])  # (12,): <bos> + everything the loop wrote
logits = net.decode(tgt_in, memory)  # (12, vocab_size): every position in ONE pass
one_pass = logits.argmax(axis=-1)  # (12,)
print("the loop wrote:  ", [vocab.tokens[i] for i in written])
print("one pass writes: ", [vocab.tokens[i] for i in one_pass])
print("largest |logits of the loop - logits of the one pass|:", fmt(np.abs(loop_logits - logits).max()))
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer import pretrained

model = pretrained("reverse")
vocab, net = model.vocab, model.model


def greedy(memory):
    """The decoder's greedy loop, written out, reading the memory it is given."""
    ids = [vocab.bos_id]
    while len(ids) <= model.max_chars:
        logits = net.decode(np.array(ids), memory)[-1]  # (vocab_size,): scores of the next token
        logits[[vocab.pad_id, vocab.bos_id]] = -np.inf  # never generated
        ids.append(int(np.argmax(logits)))
        if ids[-1] == vocab.eos_id:
            break
    return "".join(vocab.tokens[i] for i in ids[1:] if i != vocab.eos_id)


for text in ("hello world", "abc"):
    memory = net.encode(model.encode(text))  # (n_x, d_model): all the decoder knows of the source
    zero = greedy(np.zeros_like(memory))
    print(f"{text!r:<14} real memory -> {greedy(memory)!r:<14} zero memory -> {zero!r}")
# --8<-- [end:exercise_3]


# --8<-- [start:yourself_layer_norm]
import numpy as np

from transformer_primer import check


def my_layer_norm(x, gamma, beta, eps=1e-5):
    mean = x.mean(axis=-1, keepdims=True)  # over the d_model features of each position
    var = x.var(axis=-1, keepdims=True)  # the biased variance (ddof=0)
    return (x - mean) / np.sqrt(var + eps) * gamma + beta


def my_residual(x, sublayer, norm, norm_first):
    if norm_first:  # pre-norm
        return x + sublayer(norm(x))
    return norm(x + sublayer(x))  # post-norm, as in the paper

check.layer_norm(my_layer_norm)
check.residual(my_residual)
# --8<-- [end:yourself_layer_norm]
