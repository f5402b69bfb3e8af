"""A GPT with each kind of positions (issue 15): learned, RoPE, ALiBi, none, and the default sine waves.

For every kind: the gradient of the loss against central differences (and once on purpose
with RoPE's gradient turned the wrong way, which the check must catch), the logits against a
forward pass written independently with loops (complex numbers for RoPE, the paper's slopes
for ALiBi), the KV cache against full recomputation at every step, batched generation against
one by one, and model files (saved and loaded; files written before the option load as
sinusoidal).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from transformer_primer import grad
from transformer_primer.attention import rotary_heads
from transformer_primer.completer import Completer, load, pretrained
from transformer_primer.decoding import greedy
from transformer_primer.gpt import GPT, POSITIONS, GPTConfig
from transformer_primer.kv_cache import GPTKVCache, cached_log_probs, recomputed_logits
from transformer_primer.tasks import ADD_CHARS
from transformer_primer.vocab import Vocab

TOL = 1e-6  # relative error of a gradient, float64
ZERO = 1e-9  # both sides of a gradient that must be exactly 0
CACHE_TOL = 1e-9


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def gpt_of(kind: str, seed: int = 0, **sizes: int) -> GPT:
    config = {"vocab_size": 9, "d_model": 8, "n_heads": 2, "d_ff": 12, "n_layers": 2, "max_len": 10}
    gpt = GPT(GPTConfig(**(config | sizes), positions=kind), rng(seed))
    for i, layer in enumerate(gpt.layers):  # not the initial biases and gains: every term counts
        for name, p in layer.parameters().items():
            if name.endswith(("b_q", "b_k", "b_v", "b_o", "gamma", "beta")):
                p[...] += 0.3 * rng(100 + i).normal(size=p.shape)
    return gpt


# --- the option ----------------------------------------------------------------------------


def test_every_kind_is_accepted_and_the_default_is_the_sine_waves() -> None:
    assert POSITIONS == ("sinusoidal", "learned", "rope", "alibi", "none")
    assert GPTConfig(vocab_size=5).positions == "sinusoidal"
    for kind in POSITIONS:
        gpt = GPT(GPTConfig(vocab_size=5, d_model=8, n_heads=2, d_ff=8, positions=kind), rng())
        assert ("positions" in gpt.parameters()) == (kind == "learned")
        assert [layer.self_attn.rotary for layer in gpt.layers] == [kind == "rope"] * 2
        assert [layer.self_attn.alibi for layer in gpt.layers] == [kind == "alibi"] * 2
        if kind in ("rope", "alibi", "none"):
            assert not gpt.positions.any()  # nothing is added to the embeddings


def test_the_other_weights_do_not_depend_on_the_kind() -> None:
    # The learned table is drawn last: with one seed, every kind starts from the same weights.
    base = GPT(GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=8), rng(3)).parameters()
    for kind in POSITIONS:
        params = GPT(
            GPTConfig(vocab_size=7, d_model=8, n_heads=2, d_ff=8, positions=kind), rng(3)
        ).parameters()
        for name, p in base.items():
            np.testing.assert_array_equal(params[name], p)


@pytest.mark.parametrize(
    ("value", "error", "says"),
    [
        (
            "rotary",
            ValueError,
            "positions must be one of 'sinusoidal', 'learned', 'rope', 'alibi', 'none', got 'rotary'",
        ),
        ("", ValueError, "got ''"),
        (None, TypeError, "positions must be a string, one of 'sinusoidal'.* got None"),
        (3, TypeError, "got int 3"),
    ],
)
def test_an_unknown_kind_is_refused_by_name(value: object, error: type[Exception], says: str) -> None:
    with pytest.raises(error, match=says):
        GPTConfig(vocab_size=5, positions=value)  # type: ignore[arg-type]


def test_rope_needs_pairs() -> None:
    with pytest.raises(ValueError, match="d_k must be even, got d_k = 3"):
        GPTConfig(vocab_size=5, d_model=6, n_heads=2, positions="rope")


def test_a_learned_table_refuses_a_longer_sequence() -> None:
    gpt = gpt_of("learned", max_len=6)
    with pytest.raises(ValueError, match="ids is longer than max_len = 6: got length 7"):
        gpt.logits(np.ones(7, dtype=int))


# --- gradients -----------------------------------------------------------------------------


def check_gpt_gradients(gpt: GPT) -> dict[str, float]:
    """Relative error of every parameter's gradient on a padded batch; raises when one is off."""
    ids = np.array([[1, 5, 4, 3, 2, 0, 0], [1, 6, 3, 4, 5, 7, 8]])  # the first one ends early
    targets = np.array([[0, 4, 3, 2, 0, 0, 0], [0, 3, 4, 5, 7, 8, 2]])  # pad_id: nothing learned
    _, grads, _ = grad.gpt_loss_and_grads(gpt, ids, targets)
    assert sorted(grads) == sorted(gpt.parameters())
    errors = {}
    for name, p in gpt.parameters().items():
        numeric = grad.numerical_gradient(lambda: grad.gpt_loss(gpt, ids, targets), p)
        if name.endswith("b_k") and gpt.config.positions != "rope":
            # A key bias shifts a query's whole row of scores: the softmax ignores it. Under RoPE
            # the bias is turned by a different angle at every key, so it does matter.
            assert np.linalg.norm(grads[name]) < ZERO and np.linalg.norm(numeric) < ZERO, name
            continue
        assert np.linalg.norm(numeric) > 1e-6, f"{name}: the check would be vacuous"
        errors[name] = grad.relative_error(grads[name], numeric)
    bad = {name: e for name, e in errors.items() if not e < TOL}
    assert not bad, f"relative errors above {TOL}: {bad}"
    return errors


@pytest.mark.parametrize("kind", POSITIONS)
def test_gpt_gradients_for_every_kind(kind: str) -> None:
    errors = check_gpt_gradients(gpt_of(kind))
    print(f"{kind}: worst relative error {max(errors.values()):.1e} over {len(errors)} arrays")
    if kind == "learned":
        assert errors["positions"] < TOL
    if kind == "rope":
        assert errors["layers.0.self_attn.b_k"] < TOL


def test_the_check_catches_rope_turned_the_wrong_way_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def same_way(dout: np.ndarray, start: int = 0, base: float = 10000.0) -> np.ndarray:
        return rotary_heads(dout, start)  # the forward turn R instead of its transpose R^T

    with monkeypatch.context() as m:
        m.setattr(grad, "rotary_backward", same_way)
        with pytest.raises(AssertionError, match=r"w_q|w_k"):
            check_gpt_gradients(gpt_of("rope"))
    check_gpt_gradients(gpt_of("rope"))  # and passes again with the real one


def test_learned_positions_backward_adds_over_the_batch() -> None:
    dout = rng().normal(size=(3, 4, 2))
    table = grad.learned_positions_backward(dout, max_len=6)
    np.testing.assert_allclose(table[:4], dout.sum(axis=0))
    assert not table[4:].any()


# --- an independent forward pass ----------------------------------------------------------


def layer_norm(x: np.ndarray, gamma: np.ndarray, beta: np.ndarray) -> np.ndarray:
    mean = sum(x) / len(x)
    var = sum((xi - mean) ** 2 for xi in x) / len(x)
    return np.array([(xi - mean) / math.sqrt(var + 1e-5) for xi in x]) * gamma + beta


def turned(x: np.ndarray, pos: int) -> np.ndarray:
    """RoPE as complex numbers: pair (x_2i, x_2i+1) is x_2i + i x_2i+1, times e^(i pos theta_i)."""
    d = len(x)
    z = x[0::2] + 1j * x[1::2]
    z = z * np.exp(1j * pos * 10000.0 ** (-np.arange(0, d, 2) / d))
    out = np.empty(d)
    out[0::2], out[1::2] = z.real, z.imag
    return out


def reference_logits(gpt: GPT, ids: list[int]) -> np.ndarray:
    """The GPT written out position by position and head by head, sharing no code with the package."""
    c = gpt.config
    n, d, d_k = len(ids), c.d_model, c.d_k
    if c.positions == "sinusoidal":
        table = np.array(
            [[math.sin(p / 10000 ** (i / d)) if i % 2 == 0 else math.cos(p / 10000 ** ((i - 1) / d)) for i in range(d)]
             for p in range(n)]
        )  # fmt: skip
    elif c.positions == "learned":
        table = gpt.parameters()["positions"][:n]
    else:
        table = np.zeros((n, d))
    xs = [gpt.embedding.weight[t] * math.sqrt(d) + table[p] for p, t in enumerate(ids)]
    slopes = [2.0 ** (-8.0 * (h + 1) / c.n_heads) for h in range(c.n_heads)]  # powers of two only
    for layer in gpt.layers:
        w = layer.parameters()
        hs = [layer_norm(x, w["norm_1.gamma"], w["norm_1.beta"]) for x in xs]
        q = [h @ w["self_attn.w_q"] + w["self_attn.b_q"] for h in hs]
        k = [h @ w["self_attn.w_k"] + w["self_attn.b_k"] for h in hs]
        v = [h @ w["self_attn.w_v"] + w["self_attn.b_v"] for h in hs]
        out = []
        for i in range(n):
            heads = []
            for head in range(c.n_heads):
                cols = slice(head * d_k, (head + 1) * d_k)
                scores = []
                for j in range(i + 1):  # causal: keys 0..i
                    qi, kj = q[i][cols], k[j][cols]
                    if c.positions == "rope":
                        qi, kj = turned(qi, i), turned(kj, j)
                    s = float(qi @ kj) / math.sqrt(d_k)
                    if c.positions == "alibi":
                        s -= slopes[head] * (i - j)
                    scores.append(s)
                e = np.exp(np.array(scores) - max(scores))
                heads.append(sum(e[j] / e.sum() * v[j][cols] for j in range(i + 1)))
            out.append(np.concatenate(heads) @ w["self_attn.w_o"] + w["self_attn.b_o"])
        xs = [x + o for x, o in zip(xs, out, strict=True)]
        hs = [layer_norm(x, w["norm_2.gamma"], w["norm_2.beta"]) for x in xs]
        ff = [np.maximum(0, h @ w["feed_forward.w_1"] + w["feed_forward.b_1"]) for h in hs]
        xs = [x + f @ w["feed_forward.w_2"] + w["feed_forward.b_2"] for x, f in zip(xs, ff, strict=True)]
    h = [layer_norm(x, gpt.final_norm.gamma, gpt.final_norm.beta) for x in xs]
    return np.array([hi @ gpt.w_out + gpt.b_out for hi in h])


@pytest.mark.parametrize("kind", POSITIONS)
@pytest.mark.parametrize("n_layers", [1, 2])
def test_logits_equal_an_independent_forward_pass(kind: str, n_layers: int) -> None:
    gpt = gpt_of(kind, seed=n_layers, n_heads=4, n_layers=n_layers)
    ids = [1, 5, 4, 3, 8, 6, 7, 3]
    worst = float(np.abs(gpt.logits(np.array(ids)) - reference_logits(gpt, ids)).max())
    print(f"{kind}, {n_layers} layer(s): |package - loops| = {worst:.1e}")
    assert worst < 1e-10


def test_the_independent_forward_tells_the_kinds_apart() -> None:
    ids = [1, 5, 4, 3, 8, 6]
    logits = {kind: gpt_of(kind).logits(np.array(ids)) for kind in POSITIONS}
    for a in POSITIONS:
        for b in POSITIONS:
            if a < b:
                assert np.abs(logits[a][1:] - logits[b][1:]).max() > 1e-3, (a, b)
    for kind in POSITIONS:  # the comparison above is not vacuous: the reference follows the kind
        other = "alibi" if kind == "rope" else "rope"
        gpt = gpt_of(kind)
        gpt.config = GPTConfig(**{**gpt.config.__dict__, "positions": other})
        assert np.abs(reference_logits(gpt, ids) - logits[kind]).max() > 1e-3


# --- the KV cache, generation, model files ------------------------------------------------


@pytest.mark.parametrize("kind", POSITIONS)
def test_cached_equals_recomputed_at_every_step(kind: str) -> None:
    gpt = gpt_of(kind, seed=5, max_len=16)
    worst = 0.0
    r = rng(6)
    for _ in range(20):
        prompt = [1, *r.integers(3, 9, size=r.integers(0, 8)).tolist()]
        generated = greedy(
            cached_log_probs(GPTKVCache(gpt)), prompt, max_new_tokens=16 - len(prompt), eos_id=2
        )
        assert list(generated.tokens) == gpt.greedy_decode(np.array(prompt), 16 - len(prompt))
        ids = [*prompt, *generated.tokens, *r.integers(3, 9, size=16).tolist()][:16]  # up to max_len
        cache, full = GPTKVCache(gpt), recomputed_logits(gpt, ids)
        state = cache.start()
        for t, token in enumerate(ids):
            state = cache.step(state, token)
            worst = max(worst, float(np.abs(state.logits - full[t]).max()))
    print(f"{kind}: largest |cached - recomputed| {worst:.1e}")
    assert worst < CACHE_TOL


def test_a_rope_cache_that_turns_the_new_token_at_position_0_is_caught(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from transformer_primer import kv_cache

    gpt, ids = gpt_of("rope"), [1, 5, 4, 3, 8, 6]
    real = kv_cache.rotary_heads
    monkeypatch.setattr(kv_cache, "rotary_heads", lambda x, start=0: real(x, 0))
    state, cache = GPTKVCache(gpt).start(), GPTKVCache(gpt)
    for token in ids:
        state = cache.step(state, token)
    assert np.abs(state.logits - gpt.logits(np.array(ids))[-1]).max() > 1e-3


@pytest.mark.parametrize("kind", POSITIONS)
def test_batched_generation_and_run_with_cache(kind: str) -> None:
    gpt = gpt_of(kind, seed=7)
    prompts = np.array([[1, 3, 4], [1, 5, 6], [1, 8, 8]])
    assert gpt.greedy_decode_batch(prompts, 7) == [gpt.greedy_decode(p, 7) for p in prompts]
    logits, flat = gpt.run_with_cache(prompts)
    np.testing.assert_array_equal(logits, gpt.logits(prompts))
    weights = flat["layers.0.self_attn.weights"]  # (batch, n_heads, n, n)
    assert weights.shape == (3, 2, 3, 3) and not np.triu(weights, 1).any()
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)


@pytest.mark.parametrize("kind", POSITIONS)
def test_a_model_file_keeps_its_kind(kind: str, tmp_path: Path) -> None:
    gpt = gpt_of(kind, seed=8, vocab_size=len(ADD_CHARS) + 3)
    model = Completer(gpt, Vocab(ADD_CHARS), "add", 6)
    model.save(tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert again.gpt.config == gpt.config
    for name, p in gpt.parameters().items():
        np.testing.assert_array_equal(again.gpt.parameters()[name], p)
    ids = model.encode("12+34=")
    np.testing.assert_array_equal(again.gpt.logits(ids), gpt.logits(ids))


def test_a_file_written_before_the_option_loads_as_sinusoidal() -> None:
    model = pretrained("add")  # its config has no "positions"
    assert model.gpt.config.positions == "sinusoidal"
    assert model.complete("37+48=") == "85"
