"""The KV cache: incremental decoding equals full recomputation at every step.

For 100 random sources per shipped model (and random models, post-norm and pre-norm, two
layers), and for 100 random prompts to a GPT, the cached decoder's logits at every step are compared with the last row of a full
decoder pass on the same prefix; the largest difference is printed (``pytest -s``) and must
stay below 1e-9 in float64. A cache that puts the new token at position 0 (the classic bug)
is caught by the same comparison.
"""

from __future__ import annotations

import numpy as np
import pytest

from transformer_primer import pretrained
from transformer_primer.decoding import beam_search, encoder_decoder_log_probs, gpt_log_probs, greedy
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.kv_cache import (
    EncoderDecoderKVCache,
    GPTKVCache,
    KVState,
    cached_log_probs,
    recomputed_logits,
)
from transformer_primer.model import Transformer, TransformerConfig

TOLERANCE = 1e-9


def worst_step_difference(
    model: Transformer, src: np.ndarray, tgt: list[int], cache_type: type = EncoderDecoderKVCache
) -> float:
    """Largest |cached - full| over the logits of every step of decoding ``tgt``."""
    full = recomputed_logits(model, tgt, src)  # (n_y, vocab_size)
    cache = cache_type(model, src)
    state = cache.start()
    worst = 0.0
    for t, token in enumerate(tgt):
        state = cache.step(state, token)
        assert state.length == t + 1
        worst = max(worst, float(np.abs(state.logits - full[t]).max()))
    return worst


@pytest.mark.parametrize("task", ["reverse", "sort"])
def test_cached_equals_full_recomputation_at_every_step_on_100_sources(task: str) -> None:
    s = pretrained(task)
    rng = np.random.default_rng(13)
    limit = s.model.config.max_len - 1
    worst = 0.0
    for _ in range(100):
        text = "".join(rng.choice(list(s.vocab.chars), size=rng.integers(1, s.max_chars + 1)))
        src = s.encode(text)
        generated = greedy(
            cached_log_probs(EncoderDecoderKVCache(s.model, src)), [1], max_new_tokens=limit, eos_id=2
        )
        tgt = [1, *generated.tokens]  # the prefixes decoding actually visits
        worst = max(worst, worst_step_difference(s.model, src, tgt))
    print(f"\n{task}: largest |cached - full| logit difference over 100 sources, every step: {worst:.2e}")
    assert worst < TOLERANCE


@pytest.mark.parametrize("norm_first", [False, True])
def test_cached_equals_full_on_random_two_layer_models(norm_first: bool) -> None:
    config = TransformerConfig(
        vocab_size=11, d_model=16, n_heads=4, d_ff=24, n_layers=2, max_len=20, norm_first=norm_first
    )
    model = Transformer(config, np.random.default_rng(5))
    rng = np.random.default_rng(6)
    worst = 0.0
    for _ in range(30):
        src = rng.integers(3, 11, size=rng.integers(1, 20))
        tgt = [1, *rng.integers(2, 11, size=rng.integers(0, 19)).tolist()]  # random prefixes, up to max_len
        worst = max(worst, worst_step_difference(model, src, tgt))
    assert worst < TOLERANCE


class PositionZero(EncoderDecoderKVCache):
    """The classic bug: every new token gets the positional encoding of position 0."""

    def position(self, state: KVState) -> int:
        return 0


def test_the_position_offset_bug_is_caught() -> None:
    s = pretrained("reverse")
    src = s.encode("hello world")
    tgt = [1, *s.model.greedy_decode(src, 17)]
    assert worst_step_difference(s.model, src, tgt) < TOLERANCE
    assert worst_step_difference(s.model, src, tgt, PositionZero) > 0.1  # the same check fails the bug
    buggy = greedy(cached_log_probs(PositionZero(s.model, src)), [1], max_new_tokens=17, eos_id=2)
    assert s.vocab.decode(list(buggy.tokens)) != "dlrow olleh"


def test_cached_and_uncached_log_probs_agree_and_states_are_shared() -> None:
    s = pretrained("sort")
    src = s.encode("banana")
    uncached = encoder_decoder_log_probs(s.model, src)
    cached = cached_log_probs(EncoderDecoderKVCache(s.model, src))
    for prefix in [(1,), (1, 3), (1, 3, 4), (1, 5), (1, 3, 4, 4)]:
        a, b = uncached(prefix), cached(prefix)
        assert np.array_equal(np.isneginf(a), np.isneginf(b))
        finite = np.isfinite(a)
        assert np.abs(a[finite] - b[finite]).max() < TOLERANCE


def test_a_state_is_never_changed_by_a_later_step() -> None:
    s = pretrained("copy")
    cache = EncoderDecoderKVCache(s.model, s.encode("abc"))
    state = cache.step(cache.start(), 1)
    keys = [k.copy() for k in state.keys]
    one, other = cache.step(state, 4), cache.step(state, 5)
    assert all(np.array_equal(k, k0) for k, k0 in zip(state.keys, keys, strict=True))
    assert not np.array_equal(one.logits, other.logits)


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda c: c.step(c.start(), 99), ValueError, "token"),
        (lambda c: c.step(c.start(), 1.0), TypeError, "token"),
        (lambda c: c.step("state", 1), TypeError, "state must be a KVState"),
        (lambda c: EncoderDecoderKVCache("model", [3]), TypeError, "model must be a Transformer"),
        (lambda c: EncoderDecoderKVCache(c.model, [[3, 4]]), ValueError, "src_ids"),
        (lambda c: cached_log_probs("cache"), TypeError, "stepper"),
        (lambda c: cached_log_probs(c)(()), ValueError, "prefix"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_by_name(call, error: type[Exception], says: str) -> None:  # noqa: ANN001
    cache = EncoderDecoderKVCache(pretrained("copy").model, np.array([3, 4]))
    with pytest.raises(error) as info:
        call(cache)
    assert says in str(info.value)


def test_a_full_state_is_refused() -> None:
    s = pretrained("copy")
    cache = EncoderDecoderKVCache(s.model, s.encode("ab"))
    state = cache.start()
    for _ in range(s.model.config.max_len):
        state = cache.step(state, 3)
    with pytest.raises(ValueError, match="max_len"):
        cache.step(state, 3)


# --- the GPT -----------------------------------------------------------------------------------

GPT_CONFIG = GPTConfig(vocab_size=15, d_model=32, n_heads=4, d_ff=64, n_layers=2, max_len=24)


def gpt_worst_step_difference(model: GPT, ids: list[int]) -> float:
    """Largest |cached - full| over the logits of every step of reading ``ids``."""
    full = recomputed_logits(model, ids)  # (n, vocab_size): a full pass on each prefix
    cache = GPTKVCache(model)
    state = cache.start()
    worst = 0.0
    for t, token in enumerate(ids):
        state = cache.step(state, token)
        worst = max(worst, float(np.abs(state.logits - full[t]).max()))
    return worst


def test_gpt_cached_equals_full_recomputation_at_every_step_on_100_prompts() -> None:
    model = GPT(GPT_CONFIG, np.random.default_rng(21))
    rng = np.random.default_rng(22)
    worst, steps = 0.0, 0
    for _ in range(100):
        prompt = [1, *rng.integers(3, 15, size=rng.integers(0, 12)).tolist()]
        generated = greedy(
            cached_log_probs(GPTKVCache(model)), prompt, max_new_tokens=24 - len(prompt), eos_id=2
        )
        assert list(generated.tokens) == model.greedy_decode(np.array(prompt), 24 - len(prompt))
        ids = [*prompt, *generated.tokens]  # every prefix that generation reads
        worst = max(worst, gpt_worst_step_difference(model, ids))
        steps += len(ids)
    print(f"\nGPT: largest |cached - full| logit difference over 100 prompts ({steps} steps): {worst:.2e}")
    assert worst < TOLERANCE


class GPTPositionZero(GPTKVCache):
    def position(self, state: KVState) -> int:
        return 0


def test_gpt_position_offset_bug_is_caught() -> None:
    model = GPT(GPT_CONFIG, np.random.default_rng(21))
    ids = [1, 5, 6, 7, 8, 9]
    assert gpt_worst_step_difference(model, ids) < TOLERANCE
    cache = GPTPositionZero(model)
    state = cache.start()
    for token in ids:
        state = cache.step(state, token)
    assert np.abs(state.logits - model.logits(np.array(ids))[-1]).max() > 1e-3


def test_gpt_beam_size_one_is_greedy_cached_and_not() -> None:
    model = GPT(GPT_CONFIG, np.random.default_rng(23))
    rng = np.random.default_rng(24)
    for _ in range(20):
        prompt = [1, *rng.integers(3, 15, size=rng.integers(0, 8)).tolist()]
        limit = 24 - len(prompt)
        for next_lp in (gpt_log_probs(model), cached_log_probs(GPTKVCache(model))):
            g = greedy(next_lp, prompt, max_new_tokens=limit, eos_id=2)
            assert list(g.tokens) == model.greedy_decode(np.array(prompt), limit)
            assert beam_search(next_lp, prompt, beam_size=1, max_new_tokens=limit, eos_id=2) == [g]


def test_gpt_cache_refuses_what_is_not_a_gpt() -> None:
    with pytest.raises(TypeError, match="model must be a GPT"):
        GPTKVCache("gpt")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="model must be a GPT"):
        gpt_log_probs(pretrained("copy").model)  # type: ignore[arg-type]


def test_trained_gpt_cached_equals_full_on_100_addition_prompts() -> None:
    add = pretrained("add")
    rng = np.random.default_rng(31)
    worst = 0.0
    for _ in range(100):
        a, b = rng.integers(0, 100, size=2)
        prompt = add.encode(f"{a}+{b}=").tolist()
        out = greedy(
            cached_log_probs(GPTKVCache(add.gpt)), prompt, max_new_tokens=add.max_new_tokens, eos_id=2
        )
        assert add.vocab.decode(out.tokens) == add.complete(f"{a}+{b}=")
        uncached = gpt_log_probs(add.gpt)
        beams = beam_search(uncached, prompt, beam_size=1, max_new_tokens=add.max_new_tokens, eos_id=2)
        assert beams == [greedy(uncached, prompt, max_new_tokens=add.max_new_tokens, eos_id=2)]
        worst = max(worst, gpt_worst_step_difference(add.gpt, [*prompt, *out.tokens]))
    print(f"\nadd: largest |cached - full| logit difference over 100 prompts, every step: {worst:.2e}")
    assert worst < TOLERANCE
