"""Lesson: regularization. Run with ``python -m transformer_primer.lessons.regularization``."""

# --8<-- [start:smoothing]
import numpy as np

from transformer_primer.regularization import label_smoothed_cross_entropy
from transformer_primer.trace import fmt

logits = np.array([[0.0, 0.0, 3.0, 1.0, 0.0]])  # one position, 5 tokens; the right one is 2
target = np.array([2])
for smoothing in (0.0, 0.1):
    loss, dlogits, real = label_smoothed_cross_entropy(logits, target, 0, smoothing)
    wanted = (1 - smoothing) * np.eye(5)[2] + smoothing / 5  # what the model is trained towards
    print(f"smoothing {smoothing}: target {fmt(wanted, 2)}")
    print(f"  loss {fmt(loss, 4)}  gradient {fmt(dlogits[0], 3)}")

# --8<-- [end:smoothing]


# --8<-- [start:smoothing_floor]
import numpy as np

from transformer_primer.regularization import label_smoothed_cross_entropy
from transformer_primer.trace import fmt

vocab_size, smoothing = 15, 0.1  # the addition GPT's vocabulary
print("   gap   plain loss   its gradient   smoothed loss   its gradient")
for gap in (2.0, 4.0, 4.913, 6.0, 8.0):
    logits = np.zeros((1, vocab_size))
    logits[0, 3] = gap  # the right token (3) scores `gap` above every other
    plain, d_plain, _ = label_smoothed_cross_entropy(logits, np.array([3]), 0, 0.0)
    smooth, d_smooth, _ = label_smoothed_cross_entropy(logits, np.array([3]), 0, smoothing)
    print(f"{gap:6.3f}   {fmt(plain, 4):>10}   {fmt(d_plain[0, 3], 4):>12}"
          f"   {fmt(smooth, 4):>13}   {fmt(d_smooth[0, 3], 4):>12}")

best = np.log((1 - smoothing + smoothing / vocab_size) / (smoothing / vocab_size))
print("the smoothed loss stops pushing at a gap of", fmt(best, 3))
# --8<-- [end:smoothing_floor]


# --8<-- [start:smoothing_check]
import numpy as np

from transformer_primer.grad import numerical_gradient, relative_error
from transformer_primer.regularization import label_smoothed_cross_entropy

rng = np.random.default_rng(0)
logits = rng.normal(size=(2, 3, 15))  # (batch, n, vocab_size)
targets = np.array([[4, 1, 0], [2, 0, 3]])  # two padded positions (pad_id 0)
loss, dlogits, real = label_smoothed_cross_entropy(logits, targets, 0, 0.1)
def loss_alone():
    return label_smoothed_cross_entropy(logits, targets, 0, 0.1)[0]

numeric = numerical_gradient(loss_alone, logits)
print("real targets:", int(real.sum()), " gradient at padding is 0:", not dlogits[~real].any())
print("relative error below 1e-6:", relative_error(dlogits, numeric) < 1e-6)
# --8<-- [end:smoothing_check]


# --8<-- [start:dropout]
import numpy as np

from transformer_primer.regularization import dropout, dropout_backward
from transformer_primer.trace import fmt, show

x = np.ones((3, 8))
out, keep = dropout(x, 0.25, np.random.default_rng(0))
show("training, p = 0.25", out, 2)
show("its backward, for a gradient of ones", dropout_backward(np.ones((3, 8)), keep, 0.25), 2)
show("evaluation", dropout(x, 0.25, np.random.default_rng(0), training=False)[0], 2)
again = dropout(x, 0.25, np.random.default_rng(0))[1]
print("the same seed, the same mask:", bool((again == keep).all()))
big = dropout(np.ones(100_000), 0.25, np.random.default_rng(1))[0]
print("100,000 ones: dropped", fmt((big == 0).mean(), 4), " mean", fmt(big.mean(), 4))
# --8<-- [end:dropout]


# --8<-- [start:dropout_gpt]
import numpy as np

from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.grad import gpt_loss, gpt_loss_and_grads, numerical_gradient, relative_error
from transformer_primer.trace import fmt

config = GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16, max_len=6)
gpt = GPT(config, np.random.default_rng(0))
ids = np.array([[1, 5, 4, 3, 2, 0], [1, 6, 3, 4, 5, 2]])
targets = np.array([[0, 4, 3, 2, 0, 0], [0, 3, 4, 5, 2, 0]])  # pad_id 0: not learned
print("without dropout:            loss", fmt(gpt_loss(gpt, ids, targets), 4))
for seed in (1, 2):
    loss = gpt_loss(gpt, ids, targets, dropout=0.1, rng=np.random.default_rng(seed))
    print(f"dropout 0.1, masks of seed {seed}: loss", fmt(loss, 4))

rng = np.random.default_rng(1)
loss, grads, counts = gpt_loss_and_grads(gpt, ids, targets, dropout=0.1, rng=rng)
def same_masks():  # a generator seeded as above: the same masks at every call
    return gpt_loss(gpt, ids, targets, dropout=0.1, rng=np.random.default_rng(1))

for name in ("embedding.weight", "layers.0.self_attn.w_q", "layers.1.feed_forward.w_2", "w_out"):
    numeric = numerical_gradient(same_masks, gpt.parameters()[name])
    print(f"{name:27} relative error below 1e-6: {relative_error(grads[name], numeric) < 1e-6}")

# --8<-- [end:dropout_gpt]


# --8<-- [start:tying]
import numpy as np

from transformer_primer.gpt import GPT, GPTConfig

sizes = {"vocab_size": 15, "d_model": 32, "n_heads": 2, "d_ff": 64, "max_len": 10}  # as measured
untied = GPT(GPTConfig(**sizes), np.random.default_rng(0))
tied = GPT(GPTConfig(**sizes, tie_weights=True), np.random.default_rng(0))
for name, gpt in (("untied", untied), ("tied", tied)):
    n = sum(p.size for p in gpt.parameters().values())
    print(f"{name:7} {n:,} parameters, w_out listed: {'w_out' in gpt.parameters()}")

shared = np.shares_memory(tied.w_out, tied.embedding.weight)
print("w_out shares the embedding table's memory:", shared)
tied.embedding.weight[4, 0] = 1.5  # change the table...
print("...and the output projection changed with it:", tied.w_out[0, 4] == 1.5)
# --8<-- [end:tying]


# --8<-- [start:tying_gradient]
import numpy as np

from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.grad import (
    cross_entropy,
    gpt_backward,
    gpt_loss,
    linear_backward,
    numerical_gradient,
    relative_error,
)
from transformer_primer.trace import fmt

config = GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16, max_len=6, tie_weights=True)
tied = GPT(config, np.random.default_rng(0))
ids, targets = np.array([[1, 5, 4, 3]]), np.array([[0, 4, 3, 2]])
cache = {}
loss, dlogits, real = cross_entropy(tied.forward(ids, cache), targets, 0)
both = gpt_backward(tied, dlogits, cache)["embedding.weight"]  # (vocab_size, d_model)
top = linear_backward(dlogits, cache["h"], tied.w_out)[1].T  # the use as the output projection
bottom = both - top  # the use as the embedding table
numeric = numerical_gradient(lambda: gpt_loss(tied, ids, targets), tied.embedding.weight)
for name, part in (("bottom only", bottom), ("top only", top), ("both, added", both)):
    print(f"{name:12} relative error {fmt(relative_error(part, numeric), 3)}")

# --8<-- [end:tying_gradient]


# --8<-- [start:schedules]
import numpy as np

from transformer_primer.trace import fmt
from transformer_primer.train import GPTTrainConfig

ours = GPTTrainConfig()  # the shipped GPT's run: 3,000 steps, warm-up 200, peak 3e-3
paper_schedule = GPTTrainConfig(schedule="paper")  # d_model 64, the same warm-up
steps = np.arange(1, ours.steps + 1)  # counted from 1, as the paper does
cosine = np.array([ours.learning_rate(s - 1) for s in steps])
paper = np.array([paper_schedule.learning_rate(s - 1) for s in steps])
print("  step   warm-up + cosine     paper")
for s in (1, 100, 200, 1000, 2000, 3000):
    print(f"{s:6}   {fmt(cosine[s - 1] * 1e3, 3):>16}   {fmt(paper[s - 1] * 1e3, 3):>7}   (x 1e-3)")

print("peaks:", fmt(cosine.max() * 1e3, 3), "and", fmt(paper.max() * 1e3, 3), "x 1e-3, at steps",
      int(steps[cosine.argmax()]), "and", int(steps[paper.argmax()]))
# --8<-- [end:schedules]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer.regularization import label_smoothed_cross_entropy
from transformer_primer.trace import fmt

vocab_size, smoothing = 15, 0.1
wanted = (1 - smoothing) * np.eye(vocab_size)[3] + smoothing / vocab_size  # (vocab_size,)
floor = -(wanted * np.log(wanted)).sum()  # the entropy of the target: the least loss
at_target = label_smoothed_cross_entropy(np.log(wanted)[None], np.array([3]), 0, smoothing)[0]
print("entropy of the smoothed target:", fmt(floor, 4))
print("the loss when softmax(logits) is the target:", fmt(at_target, 4))
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.regularization import dropout
from transformer_primer.trace import fmt

for p in (0.1, 0.25, 0.5):
    out = dropout(np.ones(1_000_000), p, np.random.default_rng(0))[0]
    print(f"p = {p}: mean {fmt(out.mean(), 3)}, variance {fmt(out.var(), 3)},"
          f" p / (1 - p) = {fmt(p / (1 - p), 3)}")

# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer.train import GPTTrainConfig

for d_model, warmup, steps in ((64, 200, 3000), (32, 100, 3000), (512, 4000, 100_000)):
    ours = GPTTrainConfig(d_model=d_model, warmup=warmup, steps=steps)
    paper = GPTTrainConfig(d_model=d_model, warmup=warmup, steps=steps, schedule="paper")
    above = [s for s in range(steps) if paper.learning_rate(s) > ours.learning_rate(s)]
    peak = paper.learning_rate(warmup - 1)
    print(f"d_model {d_model:3}, warm-up {warmup:4}: paper's peak {peak:.2e},"
          f" above ours on {len(above) / steps:.0%} of {steps:,} steps")

# --8<-- [end:exercise_3]
