"""Label smoothing, dropout, weight tying and the paper's schedule: values, gradients, PyTorch.

Gradient checks compare each backward pass with central differences (float64, relative
error < 1e-6), as tests/unit/test_gradients.py does. Each check is also shown to fail on a
wrong backward (the ``*_is_caught`` tests): a check that cannot fail proves nothing.
With dropout, the loss is recomputed with a generator seeded the same way, so every
evaluation draws the same masks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from transformer_primer import grad
from transformer_primer.completer import load
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.kv_cache import GPTKVCache
from transformer_primer.regularization import (
    Dropout,
    dropout,
    dropout_backward,
    label_smoothed_cross_entropy,
    paper_learning_rate,
)
from transformer_primer.train import GPTTrainConfig, learning_rate, train_gpt

TOL = 1e-6


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def check(loss: Callable[[], float], arrays: dict[str, np.ndarray], analytic: dict[str, np.ndarray]) -> dict:
    """Relative error of each analytic gradient against central differences; all below TOL."""
    errors = {}
    for name, x in arrays.items():
        numeric = grad.numerical_gradient(loss, x)
        if name.endswith("b_k") and np.linalg.norm(numeric) < 1e-9:  # a shift of a whole softmax row:
            assert np.linalg.norm(analytic[name]) < 1e-9, name  # the true gradient is 0 (not under RoPE,
            continue  # which turns the bias differently at each position)
        assert np.linalg.norm(numeric) > 1e-6, f"{name}: the check would be vacuous, the gradient is ~0"
        errors[name] = grad.relative_error(analytic[name], numeric)
    bad = {name: e for name, e in errors.items() if not e < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"
    return errors


# --- label smoothing -----------------------------------------------------------------------

LOGITS = rng().normal(size=(2, 3, 5))  # (batch, n, vocab_size)
TARGETS = np.array([[4, 1, 0], [2, 0, 3]])  # pad_id 0: two padded positions


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
def test_label_smoothing_gradient(smoothing: float) -> None:
    logits = LOGITS.copy()
    loss, dlogits, real = label_smoothed_cross_entropy(logits, TARGETS, 0, smoothing)
    assert real.sum() == 4 and not dlogits[~real].any()  # padding: no gradient at all
    check(
        lambda: label_smoothed_cross_entropy(logits, TARGETS, 0, smoothing)[0],
        {"logits": logits},
        {"logits": dlogits},
    )


def test_label_smoothing_zero_is_plain_cross_entropy() -> None:
    loss, dlogits, real = label_smoothed_cross_entropy(LOGITS, TARGETS, 0, 0.0)
    plain_loss, plain_dlogits, _ = grad.cross_entropy(LOGITS, TARGETS, 0)
    assert loss == pytest.approx(plain_loss, abs=1e-12)
    np.testing.assert_allclose(dlogits, plain_dlogits, atol=1e-15)


def test_label_smoothing_has_its_minimum_off_the_one_hot() -> None:
    """The smoothed loss is lowest when softmax gives exactly the smoothed target, not the one-hot."""
    smoothing, vocab_size = 0.1, 5
    wanted = np.full(vocab_size, smoothing / vocab_size) + np.eye(vocab_size)[2] * (1 - smoothing)
    best = np.log(wanted)[None]  # logits whose softmax is the target
    loss, dlogits, _ = label_smoothed_cross_entropy(best, np.array([2]), 0, smoothing)
    assert np.abs(dlogits).max() < 1e-15
    confident = best + 5 * np.eye(vocab_size)[2]  # more sure of the right token: worse
    assert label_smoothed_cross_entropy(confident, np.array([2]), 0, smoothing)[0] > loss


def test_a_wrong_label_smoothing_gradient_is_caught() -> None:
    """The one-hot gradient (softmax - onehot) is wrong for a smoothed loss: the check sees it."""
    logits = LOGITS.copy()
    _, wrong, _ = grad.cross_entropy(logits, TARGETS, 0)  # forgets the smoothing in the backward
    numeric = grad.numerical_gradient(
        lambda: label_smoothed_cross_entropy(logits, TARGETS, 0, 0.1)[0], logits
    )
    assert grad.relative_error(wrong, numeric) > 1e-2


# --- dropout -------------------------------------------------------------------------------


def test_dropout_gradient() -> None:
    x, r = rng(1).normal(size=(3, 4, 5)), rng(2).normal(size=(3, 4, 5))
    out, keep = dropout(x, 0.3, rng(7))
    assert 0 < keep.sum() < keep.size  # some dropped, some kept: every branch is checked
    check(
        lambda: float(np.sum(r * dropout(x, 0.3, rng(7))[0])),  # seed 7 again: the same mask
        {"x": x},
        {"x": dropout_backward(r, keep, 0.3)},
    )


def test_a_dropout_backward_without_the_scale_is_caught() -> None:
    x, r = rng(1).normal(size=(3, 4, 5)), rng(2).normal(size=(3, 4, 5))
    _, keep = dropout(x, 0.3, rng(7))
    wrong = np.where(keep, r, 0.0)  # the mask but not the 1 / (1 - p)
    numeric = grad.numerical_gradient(lambda: float(np.sum(r * dropout(x, 0.3, rng(7))[0])), x)
    assert grad.relative_error(wrong, numeric) > 1e-2


def test_dropout_keeps_the_mean_and_drops_about_p() -> None:
    x = np.ones(200_000)
    for p in (0.1, 0.3, 0.5):
        out, keep = dropout(x, p, rng(0))
        # std of the mean: sqrt(p / (1 - p) / n) < 0.0023; 0.01 is over 4 of them
        assert abs(out.mean() - 1) < 0.01, p
        assert abs((out == 0).mean() - p) < 0.01, p  # std of the fraction: < 0.0012
        np.testing.assert_array_equal(out[keep], 1 / (1 - p))  # every survivor scaled the same


def test_dropout_is_the_identity_at_evaluation_and_at_p_zero() -> None:
    x = rng(1).normal(size=(4, 6))
    for out, keep in (dropout(x, 0.5, rng(0), training=False), dropout(x, 0.0, rng(0))):
        np.testing.assert_array_equal(out, x)
        assert keep.all()
        np.testing.assert_array_equal(dropout_backward(x, keep, 0.0), x)


def test_dropout_is_reproducible_from_its_seed() -> None:
    x = np.ones((5, 7))
    a, b, c = (dropout(x, 0.5, g)[1] for g in (rng(3), rng(3), rng(4)))
    np.testing.assert_array_equal(a, b)
    assert (a != c).any()


def test_a_dropout_record_gives_back_its_own_mask() -> None:
    drop, x = Dropout(0.5, rng(0)), np.ones((2, 8))
    first, second = drop(x, "a"), drop(x, "b")
    np.testing.assert_array_equal(drop.backward(np.ones((2, 8)), "a"), first)  # d(out)/dx = out here
    np.testing.assert_array_equal(drop.backward(np.ones((2, 8)), "b"), second)
    with pytest.raises(ValueError, match="'a' was already drawn"):
        drop(x, "a")
    with pytest.raises(ValueError, match="no dropout named 'c'"):
        drop.backward(x, "c")


# --- the paper's schedule ------------------------------------------------------------------


def test_paper_learning_rate() -> None:
    d_model, warmup = 512, 4000
    rates = [paper_learning_rate(s, d_model, warmup) for s in range(1, 20_001)]
    peak = int(np.argmax(rates)) + 1
    assert peak == warmup
    assert rates[warmup - 1] == pytest.approx((d_model * warmup) ** -0.5)
    assert rates[0] == pytest.approx(rates[warmup - 1] / warmup)  # linear warm-up from step 1
    assert rates[4 * warmup - 1] == pytest.approx(rates[warmup - 1] / 2)  # 1 / sqrt(step) after


def test_the_schedule_option_picks_the_rate() -> None:
    cosine, paper = (
        GPTTrainConfig(steps=100, warmup=10),
        GPTTrainConfig(steps=100, warmup=10, schedule="paper"),
    )
    assert [cosine.learning_rate(s) for s in (0, 50)] == [learning_rate(s, 100, 3e-3, 10) for s in (0, 50)]
    assert paper.learning_rate(9) == paper_learning_rate(10, 64, 10)


# --- weight tying --------------------------------------------------------------------------


def tied_gpt(n_layers: int = 1, max_len: int = 6) -> GPT:
    config = GPTConfig(
        vocab_size=7, d_model=4, n_heads=2, d_ff=6, n_layers=n_layers, max_len=max_len, tie_weights=True
    )
    return GPT(config, rng())


def test_a_tied_model_has_one_table() -> None:
    gpt = tied_gpt()
    assert "w_out" not in gpt.parameters() and "embedding.weight" in gpt.parameters()
    assert np.shares_memory(gpt.w_out, gpt.embedding.weight)
    gpt.embedding.weight[3, 1] += 1.0  # one update moves both uses
    assert gpt.w_out[1, 3] == gpt.embedding.weight[3, 1]
    untied = GPT(GPTConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=6, n_layers=1, max_len=6), rng())
    n_tied, n_untied = (sum(p.size for p in g.parameters().values()) for g in (gpt, untied))
    assert n_untied - n_tied == 4 * 7  # d_model * vocab_size fewer


def test_a_tied_model_computes_logits_from_the_embedding_table() -> None:
    gpt, ids = tied_gpt(), np.array([1, 3, 4, 5])
    cache: dict = {}
    logits = gpt.logits(ids, cache=cache)
    np.testing.assert_allclose(logits, cache["h"] @ gpt.embedding.weight.T + gpt.b_out, atol=1e-12)
    kv = GPTKVCache(gpt)
    state = kv.start()
    for token in ids:
        state = kv.step(state, int(token))
    np.testing.assert_allclose(state.logits, logits[-1], atol=1e-9)


def test_tied_weights_gradient() -> None:
    gpt = tied_gpt(n_layers=2)
    gpt.final_norm.gamma[...] = rng(1).normal(size=4)
    ids = np.array([[1, 5, 4, 3, 2, 0], [1, 6, 3, 4, 5, 2]])
    targets = np.array([[0, 4, 3, 2, 0, 0], [0, 3, 4, 5, 2, 0]])
    loss, grads, _ = grad.gpt_loss_and_grads(gpt, ids, targets)
    assert sorted(grads) == sorted(gpt.parameters())
    check(lambda: grad.gpt_loss(gpt, ids, targets), gpt.parameters(), grads)


def test_a_tied_gradient_missing_one_use_is_caught() -> None:
    """Only the embedding's own gradient (the bottom use), not the output projection's: caught."""
    gpt = tied_gpt()
    ids, targets = np.array([[1, 5, 4, 3]]), np.array([[0, 4, 3, 2]])
    cache: dict = {}
    logits = gpt.forward(ids, cache)
    _, dlogits, _ = grad.cross_entropy(logits, targets, 0)
    full = grad.gpt_backward(gpt, dlogits, cache)["embedding.weight"]
    _, dw_out, _ = grad.linear_backward(dlogits, cache["h"], gpt.w_out)
    numeric = grad.numerical_gradient(lambda: grad.gpt_loss(gpt, ids, targets), gpt.embedding.weight)
    assert grad.relative_error(full, numeric) < TOL
    assert grad.relative_error(full - dw_out.T, numeric) > 1e-2  # the bottom use alone
    assert grad.relative_error(dw_out.T, numeric) > 1e-2  # the top use alone


def test_a_tied_model_saves_and_loads(tmp_path: Path) -> None:
    config = GPTTrainConfig(steps=3, d_model=8, n_heads=2, d_ff=8, n_layers=1, eval_every=3, eval_size=5)
    model = train_gpt(GPTTrainConfig(**{**config.__dict__, "tie_weights": True}), None)
    model.save(tmp_path / "tied.npz")
    again = load(tmp_path / "tied.npz")
    assert again.gpt.config.tie_weights and "w_out" not in again.gpt.parameters()
    assert np.shares_memory(again.gpt.w_out, again.gpt.embedding.weight)
    np.testing.assert_array_equal(again.gpt.w_out, model.gpt.w_out)
    assert again.complete_batch(["1+2=", "3+4="]) == model.complete_batch(["1+2=", "3+4="])


# --- the whole GPT loss with every option --------------------------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"smoothing": 0.1},
        {"dropout": 0.2},
        {"smoothing": 0.1, "dropout": 0.2, "tie": True},
        *(
            {"smoothing": 0.1, "dropout": 0.2, "tie": True, "positions": kind}
            for kind in ("learned", "rope", "alibi")
        ),
    ],
    ids=["smoothing", "dropout", "all three", "all three, learned", "all three, rope", "all three, alibi"],
)
def test_gpt_gradient_with_regularization(options: dict) -> None:
    config = GPTConfig(
        vocab_size=7,
        d_model=4,
        n_heads=2,
        d_ff=6,
        n_layers=2,
        max_len=6,
        tie_weights=options.get("tie", False),
        positions=options.get("positions", "sinusoidal"),  # every kind of positions with every option
    )
    gpt = GPT(config, rng())
    gpt.final_norm.gamma[...] = rng(1).normal(size=4)
    ids = np.array([[1, 5, 4, 3, 2, 0], [1, 6, 3, 4, 5, 2]])
    targets = np.array([[0, 4, 3, 2, 0, 0], [0, 3, 4, 5, 2, 0]])
    smoothing, p = options.get("smoothing", 0.0), options.get("dropout", 0.0)
    loss, grads, _ = grad.gpt_loss_and_grads(gpt, ids, targets, smoothing=smoothing, dropout=p, rng=rng(9))
    if p:
        cache: dict = {}
        gpt.forward(ids, cache, Dropout(p, rng(9)))
        names = sorted(cache["dropout"].masks)
        assert names == ["embed", *[f"layers.{i}.{s}" for i in (0, 1) for s in ("feed_forward", "self_attn")]]
        assert loss != grad.gpt_loss(gpt, ids, targets, smoothing=smoothing)  # the masks change the loss
    errors = check(
        lambda: grad.gpt_loss(gpt, ids, targets, smoothing=smoothing, dropout=p, rng=rng(9)),
        gpt.parameters(),
        grads,
    )
    print(f"GPT {options}: worst relative error {max(errors.values()):.1e}")


def test_a_gpt_dropout_backward_without_the_scale_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    """Break the backward's 1 / (1 - p) inside the whole GPT: the full check sees it."""
    gpt = GPT(GPTConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=6, n_layers=1, max_len=6), rng())
    ids, targets = np.array([[1, 5, 4, 3]]), np.array([[0, 4, 3, 2]])
    monkeypatch.setattr(Dropout, "backward", lambda self, d, name: np.where(self.masks[name], d, 0.0))
    _, wrong, _ = grad.gpt_loss_and_grads(gpt, ids, targets, dropout=0.2, rng=rng(9))
    x = gpt.embedding.weight
    numeric = grad.numerical_gradient(lambda: grad.gpt_loss(gpt, ids, targets, dropout=0.2, rng=rng(9)), x)
    assert grad.relative_error(wrong["embedding.weight"], numeric) > 1e-2


def test_dropout_never_reaches_logits_or_generation() -> None:
    gpt = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=16), rng())
    ids = np.array([1, 3, 4])
    np.testing.assert_array_equal(gpt.logits(ids), gpt.logits(ids))
    assert gpt.greedy_decode(ids, 3) == gpt.greedy_decode(ids, 3)
    with pytest.raises(ValueError, match="dropout = 0.2 needs rng"):
        grad.gpt_loss_and_grads(gpt, ids[None], ids[None], dropout=0.2)


def test_the_defaults_leave_training_unchanged() -> None:
    """Every option off: the same losses, bit for bit, as the loss with no options at all."""
    gpt = GPT(GPTConfig(vocab_size=7, d_model=4, n_heads=2, d_ff=6, max_len=6), rng())
    ids, targets = np.array([[1, 5, 4, 3]]), np.array([[0, 4, 3, 2]])
    plain = grad.gpt_loss_and_grads(gpt, ids, targets)
    off = grad.gpt_loss_and_grads(gpt, ids, targets, smoothing=0.0, dropout=0.0, rng=rng(1))
    assert plain[0] == off[0]
    for name, g in plain[1].items():
        np.testing.assert_array_equal(g, off[1][name])


def test_training_with_every_option_on_a_fixed_training_set() -> None:
    config = GPTTrainConfig(
        steps=4, d_model=8, n_heads=2, d_ff=8, n_layers=1, eval_every=4, eval_size=5,
        smoothing=0.1, dropout=0.1, tie_weights=True, schedule="paper", train_size=20,
    )  # fmt: skip
    a, b = train_gpt(config, None), train_gpt(config, None)
    np.testing.assert_array_equal(a.history["loss"], b.history["loss"])  # seeded: the same run twice
    assert a.metadata["train_config"]["schedule"] == "paper"


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"smoothing": 1.0}, "smoothing must be a number in [0, 1), got 1.0"),
        ({"dropout": -0.1}, "dropout must be a number in [0, 1), got -0.1"),
        ({"schedule": "linear"}, "schedule must be one of ('cosine', 'paper'), got 'linear'"),
        ({"train_size": -1}, "train_size must be an integer >= 0, got -1"),
    ],
)
def test_a_bad_training_option_is_refused(options: dict, says: str) -> None:
    with pytest.raises(ValueError) as err:
        GPTTrainConfig(**options)
    assert says in str(err.value)


# --- PyTorch, the reference ----------------------------------------------------------------


def torch_or_skip():  # noqa: ANN201
    try:
        import torch
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("PyTorch is not installed: the reference comparison needs the optional 'torch' extra")
    return torch


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_pytorch(smoothing: float) -> None:
    torch = torch_or_skip()
    logits = torch.tensor(LOGITS.reshape(-1, 5), requires_grad=True)  # float64, (batch * n, vocab_size)
    loss_t = torch.nn.functional.cross_entropy(
        logits, torch.tensor(TARGETS.reshape(-1)), ignore_index=0, label_smoothing=smoothing
    )
    loss_t.backward()
    loss, dlogits, _ = label_smoothed_cross_entropy(LOGITS, TARGETS, 0, smoothing)
    assert loss == pytest.approx(loss_t.item(), abs=1e-12)
    np.testing.assert_allclose(dlogits.reshape(-1, 5), logits.grad.numpy(), atol=1e-12)


def test_dropout_matches_pytorch_given_the_same_mask() -> None:
    """PyTorch draws its own masks; given ours, its dropout-scaled output and gradient are ours."""
    torch = torch_or_skip()
    x = rng(1).normal(size=(4, 6))
    out, keep = dropout(x, 0.25, rng(2))
    xt = torch.tensor(x, requires_grad=True)
    ours_in_torch = xt * torch.tensor(keep) / (1 - 0.25)  # what F.dropout computes with this mask
    ours_in_torch.sum().backward()
    np.testing.assert_allclose(out, ours_in_torch.detach().numpy(), atol=1e-15)
    np.testing.assert_allclose(dropout_backward(np.ones_like(x), keep, 0.25), xt.grad.numpy(), atol=1e-15)
    dropped = torch.nn.functional.dropout(torch.ones(100_000, dtype=torch.float64), 0.25, training=True)
    scaled = dropped[dropped != 0]
    assert torch.allclose(scaled, torch.full_like(scaled, 1 / 0.75))  # the same inverted scaling
    assert torch.equal(torch.nn.functional.dropout(xt, 0.25, training=False), xt)  # eval: identity


def test_tied_logits_match_pytorch() -> None:
    """nn.Linear(d_model, vocab_size, bias) with weight = the embedding: the same logits and gradient."""
    torch = torch_or_skip()
    gpt = tied_gpt()
    ids = np.array([[1, 5, 4, 3]])
    cache: dict = {}
    gpt.forward(ids, cache)
    table = torch.tensor(gpt.embedding.weight, requires_grad=True)  # (vocab_size, d_model)
    head = torch.nn.Linear(4, 7, dtype=torch.float64)
    head.weight = torch.nn.Parameter(table)  # the tie: one tensor, two uses
    head.bias = torch.nn.Parameter(torch.tensor(gpt.b_out))
    h = torch.tensor(cache["h"], requires_grad=True)
    emb = torch.nn.functional.embedding(torch.tensor(ids), head.weight) * 2.0  # sqrt(d_model) = 2
    logits = head(h)
    (logits.sum() + (emb * torch.tensor(rng(3).normal(size=emb.shape))).sum()).backward()
    np.testing.assert_allclose(logits.detach().numpy(), cache["h"] @ gpt.w_out + gpt.b_out, atol=1e-12)
    # both uses add into the one .grad, as ours do in gpt_backward
    assert head.weight.grad is not None and float(head.weight.grad.abs().sum()) > 0
    bottom = grad.embedding_backward(rng(3).normal(size=emb.shape), ids, 7)  # scales by sqrt(d_model)
    _, dw_out, _ = grad.linear_backward(np.ones((1, 4, 7)), cache["h"], gpt.w_out)
    np.testing.assert_allclose(head.weight.grad.numpy(), bottom + dw_out.T, atol=1e-12)
