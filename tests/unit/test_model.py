"""The whole encoder-decoder: shapes, causality of the decoder, post-norm and pre-norm."""

from __future__ import annotations

import numpy as np
import pytest

from transformer_primer.model import Transformer, TransformerConfig


def make(norm_first: bool = False, seed: int = 0) -> Transformer:
    config = TransformerConfig(
        vocab_size=9, d_model=8, n_heads=2, d_ff=16, n_layers=2, max_len=12, norm_first=norm_first
    )
    return Transformer(config, np.random.default_rng(seed))


@pytest.mark.parametrize("norm_first", [False, True])
def test_logits_at_t_ignore_later_target_tokens(norm_first: bool) -> None:
    model = make(norm_first)
    src = np.array([[3, 4, 5, 6], [7, 8, 0, 0]])
    mask = model.source_mask(src)
    memory = model.encode(src, mask)
    tgt = np.array([[1, 3, 4, 5, 6], [1, 8, 7, 2, 0]])
    changed = tgt.copy()
    changed[:, 3:] = [[8, 8], [3, 4]]
    a, b = model.decode(tgt, memory, mask), model.decode(changed, memory, mask)
    assert a.shape == (2, 5, 9)
    assert np.allclose(a[:, :3], b[:, :3], rtol=0, atol=1e-12)
    assert not np.allclose(a[:, 3:], b[:, 3:])  # the later rows do see the change


@pytest.mark.parametrize("norm_first", [False, True])
def test_padding_in_the_source_does_not_change_the_output(norm_first: bool) -> None:
    model = make(norm_first)
    short = np.array([3, 4, 5])
    padded = np.array([[3, 4, 5, 0, 0]])
    mask = model.source_mask(padded)
    memory_short, memory_padded = model.encode(short), model.encode(padded, mask)
    assert np.allclose(memory_padded[0, :3], memory_short, rtol=0, atol=1e-12)
    tgt = np.array([1, 6, 7])
    assert np.allclose(
        model.decode(tgt[None], memory_padded, mask)[0], model.decode(tgt, memory_short), rtol=0, atol=1e-12
    )


def test_post_norm_and_pre_norm_models_both_run_and_differ() -> None:
    src, tgt = np.array([3, 4, 5]), np.array([1, 3])
    outs = []
    for norm_first in (False, True):
        model = make(norm_first, seed=5)
        logits = model.decode(tgt, model.encode(src))
        assert logits.shape == (2, 9) and np.all(np.isfinite(logits))
        outs.append(logits)
    assert not np.allclose(outs[0], outs[1])


def test_greedy_decoding_always_ends() -> None:
    model = make()
    ids = model.greedy_decode(np.array([3, 4, 5]), max_new_tokens=50)  # more than max_len allows
    assert len(ids) <= model.config.max_len - 1
    assert all(0 <= i < 9 for i in ids)


@pytest.mark.parametrize("seed", range(12))
def test_decoding_never_generates_padding_or_the_start_token(seed: int) -> None:
    # Random weights make every token likely at some step; seed 4 once produced <pad>.
    config = TransformerConfig(vocab_size=6, d_model=8, n_heads=2, d_ff=16)
    model = Transformer(config, np.random.default_rng(seed))
    src = np.array([[3, 4, 5], [5, 3, 4]])
    for ids in [model.greedy_decode(src[0], 8), *model.greedy_decode_batch(src, 8)]:
        assert config.pad_id not in ids and config.bos_id not in ids, ids
    for step in model.generate(src[0], 8):
        assert step.probs[config.pad_id] == 0.0 and step.probs[config.bos_id] == 0.0
