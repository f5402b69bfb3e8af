"""Lesson: training the encoder-decoder. Run with ``python -m transformer_primer.lessons.training``."""

# --8<-- [start:batch]
from transformer_primer.tasks import ALPHABET, make_batch
from transformer_primer.vocab import Vocab

vocab = Vocab(ALPHABET)
src_ids, tgt_in, tgt_out = make_batch(vocab, "reverse", ["hello world", "abc"])
for name, ids in (("source", src_ids), ("decoder input", tgt_in), ("decoder target", tgt_out)):
    print(f"{name}  shape {ids.shape}")
    for row in ids:
        print("  " + " ".join(f"{vocab.tokens[i]:>5}" for i in row))
# --8<-- [end:batch]

# --8<-- [start:untrained_loss]
import math

import numpy as np

from transformer_primer.grad import loss_and_grads
from transformer_primer.model import Transformer
from transformer_primer.tasks import ALPHABET, make_batch
from transformer_primer.train import TrainConfig
from transformer_primer.vocab import Vocab

vocab = Vocab(ALPHABET)
config = TrainConfig(task="reverse").model_config(len(vocab))
model = Transformer(config, np.random.default_rng(0))  # untrained: random weights
batch = make_batch(vocab, "reverse", ["hello world", "abc"])
loss, grads, counts = loss_and_grads(model, *batch)
print(f"real target tokens: {counts['tokens']} (padding not counted)")
print(f"loss of the untrained model:  {loss:.2f}")
print(f"log(vocab_size) = log({len(vocab)}):    {math.log(len(vocab)):.2f}  (a uniform guess)")
print(f"gradients: {len(grads)} arrays, one per parameter, same shapes: "
      f"{all(grads[n].shape == p.shape for n, p in model.parameters().items())}")
# --8<-- [end:untrained_loss]

# --8<-- [start:check]
import numpy as np

from transformer_primer.grad import loss_and_grads, model_loss, numerical_gradient, relative_error
from transformer_primer.model import Transformer, TransformerConfig

config = TransformerConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=6, max_len=6)
model = Transformer(config, np.random.default_rng(0))  # tiny, float64
src = np.array([[3, 4, 5, 0], [6, 3, 4, 5]])  # the first source is padded
tgt_in = np.array([[1, 5, 4, 3, 0], [1, 5, 4, 3, 6]])
tgt_out = np.array([[5, 4, 3, 2, 0], [5, 4, 3, 6, 2]])

loss, grads, _ = loss_and_grads(model, src, tgt_in, tgt_out)


def current_loss():
    """The loss with the weights as they are now: what the check perturbs and re-evaluates."""
    return model_loss(model, src, tgt_in, tgt_out)


pieces = {
    "embedding (+ positions)": ["embedding."],
    "encoder self-attention": ["encoder.0.self_attn."],
    "encoder feed-forward": ["encoder.0.feed_forward."],
    "encoder layer norms": ["encoder.0.norm_"],
    "decoder self-attention": ["decoder.0.self_attn."],
    "cross-attention": ["decoder.0.cross_attn."],
    "decoder feed-forward": ["decoder.0.feed_forward."],
    "decoder layer norms": ["decoder.0.norm_"],
    "output projection": ["w_out", "b_out"],
}
for piece, prefixes in pieces.items():
    names = [n for n in model.parameters() if n.startswith(tuple(prefixes))]
    worst, zero = 0.0, []
    for name in names:
        numeric = numerical_gradient(current_loss, model.parameters()[name])
        if name.endswith("b_k"):  # exactly 0 in theory: softmax ignores a shift of a whole row
            zero.append(bool(np.abs(grads[name]).max() < 1e-9 and np.abs(numeric).max() < 1e-9))
            continue
        worst = max(worst, relative_error(grads[name], numeric))
    note = "  (b_k: both 0)" if zero and all(zero) else ""
    print(f"{piece:<24} {len(names):>2} arrays  relative error < 1e-6: {worst < 1e-6}{note}")
# --8<-- [end:check]

# --8<-- [start:history]
from transformer_primer import pretrained

model = pretrained("reverse")
meta, history = model.metadata, model.history
c = meta["train_config"]
print(f"command:    {meta['command']}")
print(f"parameters: {model.n_parameters}  (d_model {c['d_model']}, {c['n_heads']} heads, "
      f"d_ff {c['d_ff']}, {c['n_layers']} encoder + {c['n_layers']} decoder layer)")
print(f"training:   {c['steps']} steps of {c['batch_size']} strings, peak lr {c['lr']}, seed {c['seed']}")
print(f"time:       {meta['train_cpu_seconds']:.1f} s of CPU time on one thread "
      f"({meta['train_seconds']:.1f} s wall clock), as measured by train()")
print()
print(" step    loss   token acc   valid exact")
for step, exact in zip(history["valid_step"], history["valid_exact"], strict=True):
    if step % 500 == 0:  # the recorded history, every 500 steps
        i = list(history["step"]).index(step)
        print(f"{step:>5}  {history['loss'][i]:.4f}   {history['token_accuracy'][i]:.3f}       {exact:.3f}")
# --8<-- [end:history]

# --8<-- [start:held_out]
from transformer_primer import pretrained
from transformer_primer.tasks import QUALITY, held_out

test = held_out(1000)  # never drawn in training: a hash puts every string in one split
print(f"{len(test)} held-out strings, lengths {min(map(len, test))} to {max(map(len, test))}")
for task in ("reverse", "copy", "sort"):
    model = pretrained(task)
    outputs = model.translate_batch(test)
    print(f"{task:<8} exact match {model.exact_match(test):.3f}  (needed {QUALITY[task]:.2f})"
          f"   {test[0]!r} -> {outputs[0]!r}")
# --8<-- [end:held_out]

# --8<-- [start:cross_attention]
import numpy as np

from transformer_primer import pretrained

model = pretrained("reverse")
text = "hello world"
output = model.translate(text)
vocab, net = model.vocab, model.model
src_ids = np.array(vocab.encode(text))
tgt_in = np.array([vocab.bos_id, *vocab.encode(output)])  # what the decoder was fed
logits, cache = net.run_with_cache(src_ids, tgt_in)  # one pass, keeping every activation
weights = cache["decoder.0.cross_attn.weights"].mean(axis=0)  # (n_heads, n_y, n_x) -> (n_y, n_x)
rows = [*output, "<eos>"]  # row t predicts this token
print(f"{text!r} -> {output!r}; cross-attention averaged over {net.config.n_heads} heads")
for t, token in enumerate(rows):
    j = int(np.argmax(weights[t]))
    print(f"writing {token!r:<8} looks most at source position {j:>2} ({text[j]!r}), "
          f"weight {weights[t, j]:.2f}")
# --8<-- [end:cross_attention]

# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer import pretrained

history = pretrained("reverse").history
lengths = np.arange(1, 17)  # strings of 1 to 16 characters, equally likely, each plus <eos>
print(" step   token acc   if errors were independent   valid exact")
for step, exact in zip(history["valid_step"], history["valid_exact"], strict=True):
    accuracy = history["token_accuracy"][list(history["step"]).index(step)]
    independent = np.mean(accuracy ** (lengths + 1))  # every token of a string right
    print(f"{step:>5}   {accuracy:9.3f}   {independent:26.3f}   {exact:11.3f}")
# --8<-- [end:exercise_1]

# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer import pretrained

text = "hello world"
for task in ("reverse", "sort"):
    model = pretrained(task)
    vocab, net = model.vocab, model.model
    answer = model.translate(text)
    memory = net.encode(model.encode(text))  # (11, d_model)
    wrong = answer[:2] + "y" + answer[3:]  # one wrong character, third position
    for name, fed in (("the right characters", answer), ("a wrong 3rd character", wrong)):
        tgt_in = np.array([vocab.bos_id, *vocab.encode(fed)])  # (12,): teacher forcing with what we choose
        # (11,): the next character at each position
        predicted = net.decode(tgt_in, memory).argmax(axis=-1)[:-1]
        predicts = "".join(vocab.tokens[i] for i in predicted)
        print(f"{task:<8} fed {name:<22} {fed!r}  ->  predicts {predicts!r}")
# --8<-- [end:exercise_2]

# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer import pretrained

model = pretrained("sort")
text = "hello world"
output = model.translate(text)
vocab, net = model.vocab, model.model
tgt_in = np.array([vocab.bos_id, *vocab.encode(output)])  # what the decoder was fed
logits, cache = net.run_with_cache(np.array(vocab.encode(text)), tgt_in)
weights = cache["decoder.0.cross_attn.weights"].mean(axis=0)  # (n_y, n_x), mean of the heads
print(f"{text!r} -> {output!r}")
same = 0  # rows whose strongest source position holds the very character being written
for t, char in enumerate(output):
    j = int(np.argmax(weights[t]))
    same += text[j] == char
    print(f"writing {char!r}  looks most at source position {j:>2} ({text[j]!r}), "
          f"weight {weights[t, j]:.2f}")

print(f"{same} of {len(output)} rows look most at a copy of the character they write")
# --8<-- [end:exercise_3]


# --8<-- [start:yourself_training]
import numpy as np

from transformer_primer import check
from transformer_primer.tasks import target


def my_make_batch(vocab, task, texts):
    targets = [vocab.encode(target(task, t)) for t in texts]
    n_y = max(len(t) for t in targets) + 1  # room for <bos> (input) or <eos> (target)
    tgt_in = np.full((len(texts), n_y), vocab.pad_id, dtype=np.int64)
    tgt_out = np.full((len(texts), n_y), vocab.pad_id, dtype=np.int64)
    for row, ids in enumerate(targets):
        tgt_in[row, : len(ids) + 1] = [vocab.bos_id, *ids]  # what the decoder reads
        tgt_out[row, : len(ids) + 1] = [*ids, vocab.eos_id]  # what it must predict: shifted by one
    return vocab.encode_batch(texts), tgt_in, tgt_out


def my_cross_entropy(logits, targets, pad_id):
    real = targets != pad_id  # (..., n)
    count = int(real.sum())
    shifted = logits - logits.max(axis=-1, keepdims=True)  # no overflow
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # log_softmax
    picked = np.take_along_axis(log_probs, targets[..., None], axis=-1)[..., 0]  # (..., n)
    loss = -float(picked[real].sum()) / count  # the mean over the real targets only
    onehot = np.eye(logits.shape[-1])[targets]
    dlogits = np.where(real[..., None], np.exp(log_probs) - onehot, 0.0) / count
    return loss, dlogits, real

check.make_batch(my_make_batch)
check.cross_entropy(my_cross_entropy)
# --8<-- [end:yourself_training]
