"""Lesson: the KV cache. Run with ``python -m transformer_primer.lessons.kv_cache``."""

# --8<-- [start:waste]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.trace import fmt

reverse = pretrained("reverse")
model = reverse.model
src = reverse.encode("hello world")
memory = model.encode(src)  # (n_x, d_model), computed once
tgt = [reverse.vocab.bos_id, *model.greedy_decode(src, 17)]  # the decoder inputs of the whole run
logits_5 = model.decode(tgt[:5], memory)  # (5, vocab_size): step 5 of decoding without a cache
logits_6 = model.decode(tgt[:6], memory)  # (6, vocab_size): step 6 recomputes the same 5 rows
print("rows 0-4 at step 6 minus rows 0-4 at step 5:", fmt(np.abs(logits_6[:5] - logits_5).max(), 9))
n = len(tgt)
print(f"generating {n} tokens: {n * (n + 1) // 2} decoder rows computed, {n} of them new")
# --8<-- [end:waste]


# --8<-- [start:equal]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.kv_cache import EncoderDecoderKVCache
from transformer_primer.trace import fmt

reverse = pretrained("reverse")
model = reverse.model
src = reverse.encode("hello world")
memory = model.encode(src)
cache = EncoderDecoderKVCache(model, src)  # encodes the source, and the cross-attention's K, V
state = cache.start()
tokens = [reverse.vocab.bos_id]
while True:
    state = cache.step(state, tokens[-1])  # one row through the decoder
    full = model.decode(tokens, memory)[-1]  # the same logits, recomputed from scratch
    allowed = np.where(np.isin(np.arange(len(state.logits)), cache.forbidden), -np.inf, state.logits)
    chosen = int(np.argmax(allowed))  # greedy: padding and the start token are never generated
    gap = np.abs(state.logits - full).max()
    print(f"position {state.length - 1:2}  read {reverse.vocab.tokens[tokens[-1]]!r:8}"
          f"  keys kept {state.keys[0].shape}  |cached - full| {fmt(gap, 9)}"
          f"  -> {reverse.vocab.tokens[chosen]!r}")
    if chosen == reverse.vocab.eos_id:
        break
    tokens.append(chosen)

print("output:", repr(reverse.vocab.decode(tokens)))
# --8<-- [end:equal]


# --8<-- [start:position_bug]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import greedy
from transformer_primer.kv_cache import EncoderDecoderKVCache, cached_log_probs
from transformer_primer.trace import fmt


class PositionZero(EncoderDecoderKVCache):
    def position(self, state):
        return 0  # the bug: every new token is embedded as if it came first


reverse = pretrained("reverse")
src = reverse.encode("hello world")
bos, eos = reverse.vocab.bos_id, reverse.vocab.eos_id
for cache_type in (EncoderDecoderKVCache, PositionZero):
    out = greedy(cached_log_probs(cache_type(reverse.model, src)), [bos], max_new_tokens=17, eos_id=eos)
    print(f"{cache_type.__name__:22} {reverse.vocab.decode(out.tokens)!r:16} log p = {fmt(out.log_prob)}")

buggy, right = PositionZero(reverse.model, src), EncoderDecoderKVCache(reverse.model, src)
state_b, state_r = buggy.start(), right.start()
for token in [bos, *reverse.vocab.encode("dlro")]:
    state_b, state_r = buggy.step(state_b, token), right.step(state_r, token)
    gap = np.abs(state_b.logits - state_r.logits).max()
    print(f"  read {reverse.vocab.tokens[token]!r:8} logits differ by up to {fmt(gap)}")

# --8<-- [end:position_bug]


# --8<-- [start:gpt]
import numpy as np

from transformer_primer.decoding import beam_search, gpt_log_probs, greedy
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.kv_cache import GPTKVCache, cached_log_probs, recomputed_logits
from transformer_primer.trace import fmt

config = GPTConfig(vocab_size=15, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=24)
gpt = GPT(config, np.random.default_rng(0))  # random weights: the cache must match any weights
rng = np.random.default_rng(1)
worst, same = 0.0, 0
for _ in range(100):  # 100 random prompts, each continued to max_len
    prompt = [gpt.config.bos_id, *rng.integers(3, 15, size=rng.integers(0, 12)).tolist()]
    out = greedy(cached_log_probs(GPTKVCache(gpt)), prompt, max_new_tokens=24 - len(prompt), eos_id=2)
    same += list(out.tokens) == gpt.greedy_decode(np.array(prompt), 24 - len(prompt))
    ids = [*prompt, *out.tokens]
    cache = GPTKVCache(gpt)
    state = cache.start()
    full = recomputed_logits(gpt, ids)  # (n, vocab_size): a full pass on every prefix
    for t, token in enumerate(ids):
        state = cache.step(state, token)
        worst = max(worst, float(np.abs(state.logits - full[t]).max()))

print(f"same tokens as GPT.greedy_decode: {same} of 100 prompts")
print(f"max |cached - full| over every step of every prompt below 1e-12: {worst < 1e-12}")
beam = beam_search(cached_log_probs(GPTKVCache(gpt)), [1, 5, 6], beam_size=1, max_new_tokens=8, eos_id=2)
plain = greedy(gpt_log_probs(gpt), [1, 5, 6], max_new_tokens=8, eos_id=2)
print("beam_size 1 with the cache, greedy without it: the same tokens", beam[0].tokens == plain.tokens,
      " log p", fmt(beam[0].log_prob), fmt(plain.log_prob))
# --8<-- [end:gpt]


# --8<-- [start:cost]
d_model, d_ff, n_layers, vocab_size = 64, 256, 2, 32  # the benchmark's GPT
per_row = n_layers * (4 * d_model**2 + 2 * d_model * d_ff)  # projections and feed-forward, one row
print("multiply-adds for the next token (millions)")
print("     n   recomputed      cached   ratio")
for n in (1, 8, 64, 512):
    recomputed = n * per_row + n_layers * 2 * n * n * d_model + n * d_model * vocab_size
    cached = per_row + n_layers * 2 * n * d_model + d_model * vocab_size
    print(f"{n:6} {recomputed / 1e6:12.3f} {cached / 1e6:11.3f} {recomputed / cached:7.1f}")

# --8<-- [end:cost]


# --8<-- [start:exercise_1]
def cache_bytes(n_layers, d_model, n_tokens, bytes_per_number):
    return 2 * n_layers * n_tokens * d_model * bytes_per_number  # keys and values, every layer


print(f"the reverse model, 17 tokens, float64: {cache_bytes(1, 32, 17, 8):>13,} bytes")
print(f"GPT-2 small, 1,024 tokens, float32:    {cache_bytes(12, 768, 1024, 4):>13,} bytes")
print(f"32 layers, d_model 4,096, 4,096 tokens, float16: {cache_bytes(32, 4096, 4096, 2):,} bytes")
# --8<-- [end:exercise_1]


# --8<-- [start:exercise_2]
import numpy as np

from transformer_primer import pretrained
from transformer_primer.decoding import beam_search, encoder_decoder_log_probs
from transformer_primer.kv_cache import EncoderDecoderKVCache, cached_log_probs


class Counting:
    def __init__(self, inner):
        self.inner, self.steps = inner, 0
        self.max_len, self.forbidden = inner.max_len, inner.forbidden
    def start(self):
        return self.inner.start()
    def step(self, state, token):
        self.steps += 1  # one decoder row
        return self.inner.step(state, token)


sort = pretrained("sort")
src = sort.encode("abde  ed")
rows = []
uncached = encoder_decoder_log_probs(sort.model, src)


def counted(prefix):
    rows.append(len(prefix))  # a full pass runs every row of the prefix
    return uncached(prefix)


stepper = Counting(EncoderDecoderKVCache(sort.model, src))
kwargs = {"beam_size": 3, "max_new_tokens": 17, "eos_id": sort.vocab.eos_id}
without = beam_search(counted, [sort.vocab.bos_id], **kwargs)
with_cache = beam_search(cached_log_probs(stepper), [sort.vocab.bos_id], **kwargs)
print("the same sequences:", [g.tokens for g in without] == [g.tokens for g in with_cache])
print(f"decoder rows: {sum(rows)} without the cache, {stepper.steps} with it")
# --8<-- [end:exercise_2]
