"""Decoding strategies: greedy, sampling with top-k / top-p, beam search.

The filters are checked against an independent computation (PyTorch's ``topk`` and a
sort-and-cumsum nucleus written here in torch, as Hugging Face writes it), beam size 1
against greedy on the shipped models, and a beam against greedy on a case where it finds
a more probable sequence.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pytest

from transformer_primer import pretrained
from transformer_primer.decoding import (
    Generation,
    beam_search,
    encoder_decoder_log_probs,
    greedy,
    log_softmax,
    sample,
    top_k_filter,
    top_p_filter,
)
from transformer_primer.kv_cache import EncoderDecoderKVCache, cached_log_probs

try:
    import torch
except ImportError:
    if os.environ.get("CI"):
        raise
    torch = None

needs_torch = pytest.mark.skipif(torch is None, reason="PyTorch is not installed (pip install -e '.[torch]')")

TASKS = ("reverse", "copy", "sort")


def random_texts(chars: str, count: int, seed: int, longest: int = 16) -> list[str]:
    rng = np.random.default_rng(seed)
    return ["".join(rng.choice(list(chars), size=rng.integers(1, longest + 1))) for _ in range(count)]


# --- log_softmax and the filters ---------------------------------------------------------------


def test_log_softmax_matches_torch_and_keeps_minus_inf() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(5, 11)) * 30
    x[:, 3] = -np.inf
    ours = log_softmax(x)
    if torch is not None:
        ref = torch.log_softmax(torch.from_numpy(x), dim=-1).numpy()
        np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-12)
    assert np.isneginf(ours[:, 3]).all()
    np.testing.assert_allclose(np.exp(ours).sum(axis=-1), 1.0, atol=1e-12)


@needs_torch
@pytest.mark.parametrize("k", [1, 2, 5, 13, 40])
def test_top_k_keeps_exactly_the_k_largest_as_torch_topk(k: int) -> None:
    rng = np.random.default_rng(k)
    for _ in range(50):
        logits = rng.normal(size=20) * 3  # no ties (continuous draws)
        kept = np.isfinite(top_k_filter(logits, k))
        values, indices = torch.topk(torch.from_numpy(logits), min(k, 20))
        wanted = np.zeros(20, dtype=bool)
        wanted[indices.numpy()] = True
        assert (kept == wanted).all()
        assert kept.sum() == min(k, 20)
        np.testing.assert_array_equal(top_k_filter(logits, k)[kept], logits[kept])  # values unchanged


def test_top_k_keeps_ties_at_the_boundary() -> None:
    logits = np.array([2.0, 1.0, 1.0, 0.0])
    assert np.isfinite(top_k_filter(logits, 2)).tolist() == [True, True, True, False]


def torch_nucleus(logits: np.ndarray, p: float) -> np.ndarray:
    """Nucleus by sorting in torch (Hugging Face's TopPLogitsWarper, written out): which tokens stay."""
    t = torch.from_numpy(logits)
    sorted_logits, order = torch.sort(t, descending=True, stable=True)
    cumulative = torch.softmax(sorted_logits, dim=-1).cumsum(dim=-1)
    remove = cumulative > p  # past the nucleus ...
    remove[1:] = remove[:-1].clone()  # ... shifted right: the token that crosses p stays
    remove[0] = False
    keep = torch.ones_like(t, dtype=torch.bool)
    keep[order[remove]] = False
    return keep.numpy()


@needs_torch
@pytest.mark.parametrize("p", [0.05, 0.3, 0.5, 0.9, 0.99, 1.0])
def test_top_p_keeps_exactly_the_nucleus_computed_by_sorting_in_torch(p: float) -> None:
    rng = np.random.default_rng(int(p * 100))
    for _ in range(100):
        logits = rng.normal(size=30) * 2
        kept = np.isfinite(top_p_filter(logits, p))
        assert (kept == torch_nucleus(logits, p)).all()


def test_top_p_by_hand() -> None:
    probs = np.array([0.1, 0.5, 0.25, 0.15])  # sorted: 0.5, 0.25, 0.15, 0.1
    logits = np.log(probs)
    assert np.isfinite(top_p_filter(logits, 0.5)).tolist() == [False, True, False, False]
    assert np.isfinite(top_p_filter(logits, 0.6)).tolist() == [False, True, True, False]
    assert np.isfinite(top_p_filter(logits, 0.8)).tolist() == [False, True, True, True]
    assert np.isfinite(top_p_filter(logits, 1.0)).all()
    assert np.isfinite(top_p_filter(logits, 1e-9)).sum() == 1  # the most probable always stays


# --- sampling ----------------------------------------------------------------------------------


def shipped(task: str):  # noqa: ANN201 - a Seq2Seq
    return pretrained(task)


def test_sampling_with_a_seed_is_reproducible_and_seeds_differ() -> None:
    reverse = shipped("reverse")
    src = reverse.encode("hello world")
    next_lp = encoder_decoder_log_probs(reverse.model, src)
    runs = {}
    for seed in range(6):
        a = sample(
            next_lp, [1], max_new_tokens=17, eos_id=2, rng=np.random.default_rng(seed), temperature=3.0
        )
        b = sample(
            next_lp, [1], max_new_tokens=17, eos_id=2, rng=np.random.default_rng(seed), temperature=3.0
        )
        assert a == b
        runs[seed] = a.tokens
    assert len(set(runs.values())) > 1  # at temperature 3 the draws differ between seeds


def test_sampling_frequencies_follow_the_filtered_distribution() -> None:
    probs = np.array([0.4, 0.3, 0.2, 0.1])
    table = np.log(probs)
    rng = np.random.default_rng(0)
    draws = [
        sample(lambda prefix: table, [9], max_new_tokens=1, eos_id=9, rng=rng, top_k=2).tokens[0]
        for _ in range(4000)
    ]
    counts = np.bincount(draws, minlength=4) / 4000
    np.testing.assert_allclose(counts, [0.4 / 0.7, 0.3 / 0.7, 0, 0], atol=0.03)
    hot = [
        sample(lambda prefix: table, [9], max_new_tokens=1, eos_id=9, rng=rng, temperature=0.5).tokens[0]
        for _ in range(4000)
    ]
    sharp = probs**2 / (probs**2).sum()  # temperature 0.5 squares the probabilities
    np.testing.assert_allclose(np.bincount(hot, minlength=4) / 4000, sharp, atol=0.03)


def test_sampling_at_a_tiny_temperature_is_greedy() -> None:
    sort = shipped("sort")
    for text in random_texts(sort.vocab.chars, 10, seed=3, longest=10):
        next_lp = encoder_decoder_log_probs(sort.model, sort.encode(text))
        g = greedy(next_lp, [1], max_new_tokens=17, eos_id=2)
        s = sample(next_lp, [1], max_new_tokens=17, eos_id=2, rng=np.random.default_rng(0), temperature=1e-6)
        assert s.tokens == g.tokens
        assert s.log_prob == pytest.approx(g.log_prob, abs=1e-12)  # under the model, not the sharpened one


# --- greedy and beam search --------------------------------------------------------------------


@pytest.mark.parametrize("task", TASKS)
def test_greedy_equals_the_models_own_greedy_decode(task: str) -> None:
    s = shipped(task)
    limit = s.model.config.max_len - 1
    for text in random_texts(s.vocab.chars, 15, seed=1):
        src = s.encode(text)
        ours = greedy(encoder_decoder_log_probs(s.model, src), [1], max_new_tokens=limit, eos_id=2)
        assert list(ours.tokens) == s.model.greedy_decode(src, limit)
        steps = list(s.model.generate(src, limit))
        total = sum(math.log(st.probs[st.chosen]) for st in steps)
        assert ours.log_prob == pytest.approx(total, abs=1e-9)


@pytest.mark.parametrize("task", TASKS)
def test_beam_size_one_is_greedy(task: str) -> None:
    s = shipped(task)
    limit = s.model.config.max_len - 1
    for text in random_texts(s.vocab.chars, 15, seed=2):
        next_lp = cached_log_probs(EncoderDecoderKVCache(s.model, s.encode(text)))
        g = greedy(next_lp, [1], max_new_tokens=limit, eos_id=2)
        for alpha in (0.0, 0.6, 1.0):
            beams = beam_search(next_lp, [1], beam_size=1, max_new_tokens=limit, eos_id=2, alpha=alpha)
            assert beams == [g]


def test_beam_size_one_is_greedy_when_the_length_runs_out() -> None:
    table = np.log(np.array([0.1, 0.6, 0.3]))  # the end token (0) never wins
    g = greedy(lambda p: table, [1], max_new_tokens=4, eos_id=0)
    assert beam_search(lambda p: table, [1], beam_size=1, max_new_tokens=4, eos_id=0) == [g]
    assert g == Generation((1, 1, 1, 1), 4 * math.log(0.6), finished=False)


def test_a_beam_finds_a_more_probable_sequence_than_greedy() -> None:
    sort = shipped("sort")  # the case shown in the lesson
    next_lp = cached_log_probs(EncoderDecoderKVCache(sort.model, sort.encode("abde  ed")))
    g = greedy(next_lp, [1], max_new_tokens=17, eos_id=2)
    best = beam_search(next_lp, [1], beam_size=3, max_new_tokens=17, eos_id=2, alpha=0.0)[0]
    assert sort.vocab.decode(list(g.tokens)) == "  abdee"  # one "d" short
    assert sort.vocab.decode(list(best.tokens)) == "  abddee"  # right
    assert best.log_prob > g.log_prob + 0.01


@pytest.mark.parametrize("task", TASKS)
def test_beam_totals_are_the_models_own_totals(task: str) -> None:
    # Each returned total is recomputed here from the model, token by token.
    s = shipped(task)
    for text in random_texts(s.vocab.chars[:6], 8, seed=4):
        next_lp = encoder_decoder_log_probs(s.model, s.encode(text))
        for g in beam_search(next_lp, [1], beam_size=3, max_new_tokens=17, eos_id=2, alpha=0.0):
            ids = (1, *g.tokens, *((2,) if g.finished else ()))
            total = sum(float(next_lp(ids[: i + 1])[ids[i + 1]]) for i in range(len(ids) - 1))
            assert g.log_prob == pytest.approx(total, abs=1e-9)


def test_length_normalisation_changes_the_winner() -> None:
    first = np.array([math.log(0.45), math.log(0.55), -np.inf])  # end now (0.45), or go on with token 1
    after = np.array([math.log(0.8), math.log(0.2), -np.inf])
    short = Generation((), math.log(0.45), finished=True)
    long = Generation((1,), math.log(0.55 * 0.8), finished=True)

    def next_lp(prefix: tuple[int, ...]) -> np.ndarray:
        return first if len(prefix) == 1 else after

    by_total = beam_search(next_lp, [2], beam_size=2, max_new_tokens=3, eos_id=0, alpha=0.0)
    by_mean = beam_search(next_lp, [2], beam_size=2, max_new_tokens=3, eos_id=0, alpha=1.0)
    assert by_total[0].tokens == short.tokens  # 0.45 > 0.44
    assert by_mean[0].tokens == long.tokens  # log(0.44) / 2 > log(0.45) / 1
    assert by_mean[0].score(1.0) == pytest.approx(long.log_prob / 2)


# --- refusals ----------------------------------------------------------------------------------

TABLE = np.log(np.array([0.5, 0.5]))


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda: sample(lambda p: TABLE, [1], max_new_tokens=2, eos_id=0, rng=np.random.default_rng(0), temperature=0), ValueError, "temperature"),
        (lambda: sample(lambda p: TABLE, [1], max_new_tokens=2, eos_id=0, rng=np.random.default_rng(0), temperature=float("nan")), ValueError, "temperature"),
        (lambda: sample(lambda p: TABLE, [1], max_new_tokens=2, eos_id=0, rng=np.random.default_rng(0), top_k=0), ValueError, "top_k"),
        (lambda: sample(lambda p: TABLE, [1], max_new_tokens=2, eos_id=0, rng=np.random.default_rng(0), top_p=1.5), ValueError, "p must be in (0, 1]"),
        (lambda: sample(lambda p: TABLE, [1], max_new_tokens=2, eos_id=0, rng=0), TypeError, "rng"),
        (lambda: top_p_filter(TABLE, float("nan")), ValueError, "p must be in (0, 1]"),
        (lambda: top_p_filter(TABLE, 0), ValueError, "p must be in (0, 1]"),
        (lambda: top_k_filter(TABLE, 0), ValueError, "k must be"),
        (lambda: top_k_filter(np.array([np.nan, 1.0]), 1), ValueError, "logits"),
        (lambda: beam_search(lambda p: TABLE, [1], beam_size=0, max_new_tokens=2, eos_id=0), ValueError, "beam_size"),
        (lambda: beam_search(lambda p: TABLE, [1], beam_size=2, max_new_tokens=2, eos_id=0, alpha=-1), ValueError, "alpha"),
        (lambda: greedy(lambda p: TABLE, [], max_new_tokens=2, eos_id=0), ValueError, "prompt"),
        (lambda: greedy(lambda p: TABLE, "ab", max_new_tokens=2, eos_id=0), TypeError, "prompt"),
        (lambda: greedy(lambda p: TABLE, [1], max_new_tokens=0, eos_id=0), ValueError, "max_new_tokens"),
        (lambda: greedy("model", [1], max_new_tokens=2, eos_id=0), TypeError, "next_log_probs"),
        (lambda: greedy(lambda p: np.exp(TABLE) + 1, [1], max_new_tokens=2, eos_id=0), ValueError, "log-probabilities"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_by_name(call, error: type[Exception], says: str) -> None:  # noqa: ANN001
    with pytest.raises(error, match=None) as info:
        call()
    assert says in str(info.value)
