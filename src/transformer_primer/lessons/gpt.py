"""Lesson: from encoder-decoder to GPT. Run with ``python -m transformer_primer.lessons.gpt``."""

# --8<-- [start:block]
import numpy as np

from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.layers import DecoderLayer, EncoderLayer
from transformer_primer.trace import show, step

config = GPTConfig(vocab_size=8, d_model=8, n_heads=2, d_ff=16, n_layers=2, max_len=8)
gpt = GPT(config, np.random.default_rng(0))  # random weights: nothing learned yet

step("the blocks: encoder layers, pre-norm; no cross-attention anywhere")
print([type(layer).__name__ for layer in gpt.layers], "norm_first:", gpt.layers[0].norm_first)
print("final norm after the stack:", type(gpt.final_norm).__name__, gpt.final_norm.gamma.shape)
enc = len(EncoderLayer(8, 2, 16, np.random.default_rng(0)).parameters())
dec = len(DecoderLayer(8, 2, 16, np.random.default_rng(0)).parameters())
print(f"weight arrays: encoder layer {enc}, decoder layer {dec} (cross-attention, its norm: {dec - enc})")

step("one pass scores the next token at every position")
ids = np.array([1, 3, 4, 5, 6])  # (n,) = (5,): <bos> then four tokens
logits, cache = gpt.run_with_cache(ids)  # (5, vocab_size)
print("logits shape", logits.shape, "-> row t scores the token after ids[t]")
show("layer 0, head 0: attention weights (rows = queries, columns = keys)",
     cache["layers.0.self_attn.weights"][0])
# --8<-- [end:block]


# --8<-- [start:trained]
import numpy as np

from transformer_primer import pretrained

model = pretrained("add")  # the decoder-only model shipped with the package
c = model.gpt.config
print(f"{c.n_layers} blocks, d_model {c.d_model}, {c.n_heads} heads, d_ff {c.d_ff}, "
      f"{model.n_parameters:,} parameters")
print("vocabulary:", " ".join(model.vocab.tokens))
print(repr(model.complete("37+48=")))
# --8<-- [end:trained]


# --8<-- [start:next_token]
import numpy as np

from transformer_primer import pretrained

model = pretrained("add")
vocab = model.vocab
for number, s in enumerate(model.gpt.generate(model.encode("37+48="), max_new_tokens=4), start=1):
    text = "".join(vocab.tokens[i] for i in s.input_ids)
    top = np.argsort(-s.probs, kind="stable")[:3]  # the 3 most probable next tokens
    best = ", ".join(f"{vocab.tokens[i]!r} {s.probs[i]:.3f}" for i in top)
    print(f"step {number}  input {text:<15} top 3: {best:<36} chosen {vocab.tokens[s.chosen]!r}")

print("complete('37+48=') ->", repr(model.complete("37+48=")))
# --8<-- [end:next_token]


# --8<-- [start:attention]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.trace import fmt

model = pretrained("add")
ids = np.array([model.vocab.bos_id, *model.vocab.encode("37+48=85")])  # the prompt and its answer
tokens = [model.vocab.tokens[i] for i in ids]
logits, cache = model.gpt.run_with_cache(ids)
weights = cache[f"layers.{len(model.gpt.layers) - 1}.self_attn.weights"]  # (n_heads, n, n)
print("last layer: where '=' and the answer digits look (rows = queries, columns = keys)")
print("         " + "".join(f"{t:>7}" for t in tokens))
for head in range(len(weights)):
    for query in range(6, len(tokens)):  # the rows that predict the answer: '=', '8', '5'
        print(f"head {head} {tokens[query]!r:>4}"
              + "".join(f"{w:>7}" for w in fmt(weights[head, query]).strip("[]").split()))
# --8<-- [end:attention]


# --8<-- [start:held_out]
from transformer_primer import pretrained
from transformer_primer.tasks import addition_answer, addition_split, held_out_additions

model = pretrained("add")
prompts = held_out_additions(200)  # 200 of the 1,000 held-out prompts: a quick check
print("every one held out from training:", {addition_split(p) for p in prompts} == {"test"})
answers = model.complete_batch(prompts)
for prompt, answer in list(zip(prompts, answers, strict=True))[:5]:
    print(f"{prompt:<7} -> {answer:<4} (right: {addition_answer(prompt)})")

print(f"exact match on {len(prompts)} held-out prompts: {model.exact_match(prompts):.3f}")
# --8<-- [end:held_out]


# --8<-- [start:batch]
from transformer_primer.tasks import ADD_CHARS, make_lm_batch
from transformer_primer.vocab import Vocab

vocab = Vocab(ADD_CHARS)
ids, targets = make_lm_batch(vocab, ["37+48=", "5+5="])
for row, target in zip(ids, targets, strict=True):
    print("input  ", " ".join(f"{vocab.tokens[i]:>5}" for i in row))
    print("target ", " ".join(f"{vocab.tokens[i]:>5}" for i in target))
    print()
# --8<-- [end:batch]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer import pretrained

model = pretrained("add")
ids = np.array([model.vocab.bos_id, *model.vocab.encode("37+48=85")])  # (9,): <bos>37+48=85
changed = ids.copy()
changed[-2:] = model.vocab.encode("19")  # replace the answer by another one
before, after = model.gpt.logits(ids), model.gpt.logits(changed)  # (9, vocab_size) each
print(f"rows 0-6, largest |before - after|: {np.abs(before[:7] - after[:7]).max():.3f}")
print(f"rows 7-8, largest |before - after|: {np.abs(before[7:] - after[7:]).max():.3f}")
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer import pretrained

model = pretrained("add")
prompt = "37+48="
loop = [s.chosen for s in model.gpt.generate(model.encode(prompt), max_new_tokens=4)]
ids = np.array([model.vocab.bos_id, *model.vocab.encode(prompt + model.complete(prompt))])
one_pass = model.gpt.logits(ids).argmax(axis=-1)[len(prompt):]  # rows from '=' on
print("the loop wrote: ", [model.vocab.tokens[i] for i in loop])
print("one pass writes:", [model.vocab.tokens[i] for i in one_pass])
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
from transformer_primer import pretrained
from transformer_primer.tasks import held_out_additions

model = pretrained("add")
prompts = held_out_additions(200)
carry = [p for p in prompts if sum(int(n) % 10 for n in p[:-1].split("+")) >= 10]
no_carry = [p for p in prompts if p not in carry]
print(f"with a carry:    {len(carry):>3} prompts, exact match {model.exact_match(carry):.3f}")
print(f"without a carry: {len(no_carry):>3} prompts, exact match {model.exact_match(no_carry):.3f}")
# --8<-- [end:exercise_3]
