"""Lesson: generating text (greedy, sampling, beam search).

Run with ``python -m transformer_primer.lessons.generating``.
"""

# --8<-- [start:next_token]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import encoder_decoder_log_probs
from transformer_primer.trace import fmt

sort = pretrained("sort")
text = "abde  ed"  # 8 characters, two of them spaces
bos, eos = sort.vocab.bos_id, sort.vocab.eos_id
next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode(text))  # a prefix -> log-probs
log_probs = next_log_probs((bos,))  # (vocab_size,): what may follow the start token
print(f"source {text!r}, sorted it is {''.join(sorted(text))!r}")
print("the four most probable first characters:")
for token in np.argsort(-log_probs)[:4]:
    name = repr(sort.vocab.tokens[token])
    print(f"  {name:7} p = {fmt(np.exp(log_probs[token]))}   log p = {fmt(log_probs[token])}")

print("probabilities sum to", fmt(np.exp(log_probs).sum()))
# --8<-- [end:next_token]


# --8<-- [start:greedy]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import encoder_decoder_log_probs, greedy
from transformer_primer.trace import fmt

sort = pretrained("sort")
text = "abde  ed"
bos, eos = sort.vocab.bos_id, sort.vocab.eos_id
next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode(text))
out = greedy(next_log_probs, [bos], max_new_tokens=17, eos_id=eos)
prefix = (bos,)
for token in (*out.tokens, eos):  # replay it: the probability of each chosen token
    p = np.exp(next_log_probs(prefix)[token])
    print(f"  after {sort.vocab.decode(prefix)!r:11} picks {sort.vocab.tokens[token]!r:7} p = {fmt(p)}")
    prefix = (*prefix, token)

print(f"greedy: {sort.vocab.decode(out.tokens)!r}   total log p = {fmt(out.log_prob)}"
      f"   p = {fmt(np.exp(out.log_prob))}")
print("right?", sort.vocab.decode(out.tokens) == "".join(sorted(text)))
# --8<-- [end:greedy]


# --8<-- [start:temperature]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import encoder_decoder_log_probs, log_softmax, top_k_filter, top_p_filter
from transformer_primer.trace import fmt

sort = pretrained("sort")
bos = sort.vocab.bos_id
next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode("abde  ed"))
log_probs = next_log_probs((bos, 3, 3, 4, 5, 7))  # after "  abd": a second "d" or an "e"?
shown = [6, 7, 8, 9]  # the tokens 'c', 'd', 'e', 'f'
print("tokens:          ", "     ".join(repr(sort.vocab.tokens[t]) for t in shown))
for temperature in (0.5, 1.0, 2.0):
    probs = np.exp(log_softmax(log_probs / temperature))  # (vocab_size,)
    print(f"temperature {temperature}: {fmt(probs[shown])}")

print("top_k = 2 keeps:  ", fmt(np.exp(log_softmax(top_k_filter(log_probs, 2)))[shown]))
print("top_p = 0.9 keeps:", fmt(np.exp(log_softmax(top_p_filter(log_probs, 0.9)))[shown]))
# --8<-- [end:temperature]


# --8<-- [start:sampling]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import encoder_decoder_log_probs, sample
from transformer_primer.trace import fmt

sort = pretrained("sort")
bos, eos = sort.vocab.bos_id, sort.vocab.eos_id
next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode("abde  ed"))
for temperature, top_k in ((0.5, None), (1.0, None), (3.0, None), (3.0, 2)):
    print(f"temperature {temperature}, top_k {top_k}:")
    for seed in (0, 1, 2):
        rng = np.random.default_rng(seed)  # the same seed draws the same text
        out = sample(next_log_probs, [bos], max_new_tokens=17, eos_id=eos, rng=rng,
                     temperature=temperature, top_k=top_k)
        print(f"  seed {seed}: {sort.vocab.decode(out.tokens)!r:18} log p = {fmt(out.log_prob)}")

# --8<-- [end:sampling]


# --8<-- [start:beam]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import beam_search, encoder_decoder_log_probs, greedy
from transformer_primer.trace import fmt

sort = pretrained("sort")
text = "abde  ed"
bos, eos = sort.vocab.bos_id, sort.vocab.eos_id
next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode(text))
found = greedy(next_log_probs, [bos], max_new_tokens=17, eos_id=eos)
beams = beam_search(next_log_probs, [bos], beam_size=3, max_new_tokens=17, eos_id=eos, alpha=0.0)
print(f"beam search, beam_size = 3: {len(beams)} sequences, the best four")
for g in beams[:4]:
    print(f"  {sort.vocab.decode(g.tokens)!r:12} length {g.length:2}   total log p = {fmt(g.log_prob)}")

best = beams[0]
print(f"greedy: {sort.vocab.decode(found.tokens)!r:12} total log p = {fmt(found.log_prob)}")
print(f"beam:   {sort.vocab.decode(best.tokens)!r:12} total log p = {fmt(best.log_prob)}")
print("the beam's sequence is", fmt(np.exp(best.log_prob - found.log_prob)), "times as probable")
print("right?", sort.vocab.decode(best.tokens) == "".join(sorted(text)))
# --8<-- [end:beam]


# --8<-- [start:length_normalisation]
import math

import numpy as np

from transformer_primer.decoding import beam_search
from transformer_primer.trace import fmt

end = 0  # token 0 ends a sequence; token 1 is a word
first = np.array([math.log(0.45), math.log(0.55)])  # after the prompt: end now, or a word
then = np.array([math.log(0.80), math.log(0.20)])  # after the word: end, or another word


def next_log_probs(prefix):
    return first if len(prefix) == 1 else then


for alpha in (0.0, 1.0):
    beams = beam_search(next_log_probs, [1], beam_size=2, max_new_tokens=3, eos_id=end, alpha=alpha)
    print(f"alpha = {alpha}: ranked by log p / length ** {alpha}")
    for g in beams:
        print(f"  tokens {str(g.tokens):9} length {g.length}  log p = {fmt(g.log_prob)}"
              f"  score = {fmt(g.score(alpha))}")

# --8<-- [end:length_normalisation]


# --8<-- [start:gpt]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import beam_search, gpt_log_probs, greedy, sample
from transformer_primer.trace import fmt

add = pretrained("add")  # a GPT: the prompt and the answer are one sequence
eos, limit = add.vocab.eos_id, add.max_new_tokens
next_log_probs = gpt_log_probs(add.gpt)
prompt = add.encode("37+48=").tolist()  # <bos>, then the characters
found = greedy(next_log_probs, prompt, max_new_tokens=limit, eos_id=eos)
print(f"greedy: '37+48=' -> {add.vocab.decode(found.tokens)!r}   log p = {fmt(found.log_prob)}")
print("the same as complete('37+48='):", add.vocab.decode(found.tokens) == add.complete("37+48="))
beams = beam_search(next_log_probs, prompt, beam_size=3, max_new_tokens=limit, eos_id=eos)
print("beam search, beam_size = 3, the best three:")
for g in beams[:3]:
    print(f"  {add.vocab.decode(g.tokens)!r:7} log p = {fmt(g.log_prob)}")

for seed in (0, 1, 2):
    rng = np.random.default_rng(seed)
    out = sample(next_log_probs, prompt, max_new_tokens=limit, eos_id=eos, rng=rng, temperature=3.0)
    print(f"temperature 3, seed {seed}: {add.vocab.decode(out.tokens)!r:7} log p = {fmt(out.log_prob)}")

# --8<-- [end:gpt]


# --8<-- [start:exercise_1]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import beam_search, encoder_decoder_log_probs, greedy

sort = pretrained("sort")
bos, eos = sort.vocab.bos_id, sort.vocab.eos_id
rng = np.random.default_rng(1)
same = 0
for _ in range(20):
    text = "".join(rng.choice(list("abcdef "), size=rng.integers(1, 17)))
    next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode(text))
    g = greedy(next_log_probs, [bos], max_new_tokens=17, eos_id=eos)
    beams = beam_search(next_log_probs, [bos], beam_size=1, max_new_tokens=17, eos_id=eos)
    same += beams == [g]  # the same tokens and the same total, to the last bit

print(f"beam_size = 1 gave greedy's output on {same} of 20 sources")
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer.decoding import top_k_filter, top_p_filter

rng = np.random.default_rng(0)
logits = rng.normal(size=10)
k, p = 3, 0.8
by_sort = np.argsort(-logits)  # most probable first
mine_k = set(by_sort[:k].tolist())
probs = np.exp(logits[by_sort]) / np.exp(logits).sum()  # sorted probabilities
n_nucleus = int(np.searchsorted(np.cumsum(probs), p)) + 1  # first running total >= p, included
mine_p = set(by_sort[:n_nucleus].tolist())
print("top-k by hand:", sorted(mine_k), " top_k_filter:", np.flatnonzero(top_k_filter(logits, k) > -np.inf))
print("top-p by hand:", sorted(mine_p), " top_p_filter:", np.flatnonzero(top_p_filter(logits, p) > -np.inf))
# --8<-- [end:exercise_2]


# --8<-- [start:exercise_3]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import encoder_decoder_log_probs, sample

sort = pretrained("sort")
text = "abde  ed"
bos, eos = sort.vocab.bos_id, sort.vocab.eos_id
next_log_probs = encoder_decoder_log_probs(sort.model, sort.encode(text))
rng = np.random.default_rng(0)
outputs = [sort.vocab.decode(sample(next_log_probs, [bos], max_new_tokens=17, eos_id=eos, rng=rng).tokens)
           for _ in range(100)]
right = sum(o == "".join(sorted(text)) for o in outputs)
print(f"100 samples at temperature 1: {right} right, {len(set(outputs))} different outputs")
for output in sorted(set(outputs), key=outputs.count, reverse=True)[:3]:
    print(f"  {output!r:12} {outputs.count(output)} times")

# --8<-- [end:exercise_3]
