"""Equivalence with PyTorch: the same weights give the same numbers, to 1e-5 in float32.

PyTorch is the reference here (an optional extra: ``pip install -e '.[torch]'``; `make`
installs it). Without it these tests are skipped, with the reason shown by ``pytest -ra``,
except under CI (``CI`` set), where a missing torch is an error.

Mapping our weights onto PyTorch's:

- ``nn.MultiheadAttention`` packs the three input projections as ``in_proj_weight`` of
  shape (3 * d_model, d_model), applied as ``x @ W.T``; ours are ``x @ w + b`` with ``w`` of
  shape (d_model, d_model). So ``w_q = in_proj_weight[:d].T``, ``w_k = ...[d:2d].T``,
  ``w_v = ...[2d:].T`` and ``w_o = out_proj.weight.T``; biases are sliced the same way.
  Head ``h`` uses columns ``h*d_k:(h+1)*d_k`` in both.
- ``nn.Linear(d_in, d_out).weight`` has shape (d_out, d_in): ``w_1 = linear1.weight.T``.
- Masks: ours are ``True`` = may attend. ``nn.MultiheadAttention`` and the transformer
  layers take the opposite: a boolean ``attn_mask``/``*_key_padding_mask`` that is
  ``True`` where attending is NOT allowed, so we pass ``~mask``.
  ``torch.nn.functional.scaled_dot_product_attention`` takes ``True`` = may attend, as
  ours does.
- A query whose keys are all masked: ours returns zero weights and a zero output, as
  ``torch.nn.functional.scaled_dot_product_attention`` does (torch 2.13);
  ``nn.MultiheadAttention`` returns NaN for it. The generated masks keep at least one key
  per query, so the comparisons below are about the numbers, not that convention.
- The layers run with dropout 0, ReLU, ``batch_first=True``, ``layer_norm_eps=1e-5``
  (our LayerNorm's default), in train mode, which keeps PyTorch on its plain (not
  fused) path; with dropout 0 that changes nothing else.
- The whole stack: ``nn.Transformer`` always closes its encoder and its decoder with a
  LayerNorm (``encoder.norm``, ``decoder.norm``); ours does so in pre-norm only
  (``encoder_norm``, ``decoder_norm``), where a stack's output is otherwise an
  un-normalised sum. So our pre-norm ``Transformer`` is compared with
  ``nn.Transformer(norm_first=True)`` end to end; it takes embeddings and returns the
  decoder's states, so the embedding and ``w_out`` are ours on both sides.
"""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

try:
    import torch
except ImportError:
    if os.environ.get("CI"):  # CI installs the torch extra: there, a missing torch is a broken setup
        raise
    pytest.skip(
        "PyTorch is not installed: the reference comparison needs the optional 'torch' extra",
        allow_module_level=True,
    )

from transformer_primer.attention import MultiHeadAttention, scaled_dot_product_attention  # noqa: E402
from transformer_primer.gpt import GPT, GPTConfig  # noqa: E402
from transformer_primer.layers import DecoderLayer, EncoderLayer, LayerNorm  # noqa: E402
from transformer_primer.model import Transformer, TransformerConfig  # noqa: E402

TOL = 1e-5  # float32, values of order 1
SEEDS = range(8)
F32 = np.float32


def t(x: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(x))


def to_np(x: torch.Tensor) -> np.ndarray:
    return x.detach().numpy()


def random_mask(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Boolean mask (True = may attend) with at least one visible key per query."""
    mask = rng.random(shape) < 0.7
    rows = np.argwhere(~mask.any(axis=-1))
    for *lead, i in rows:
        mask[(*lead, i, rng.integers(shape[-1]))] = True
    return mask


def copy_mha(ours: MultiHeadAttention, theirs: torch.nn.MultiheadAttention) -> None:
    d = ours.d_model
    w, b = to_np(theirs.in_proj_weight), to_np(theirs.in_proj_bias)
    ours.w_q, ours.w_k, ours.w_v = (np.ascontiguousarray(w[i * d : (i + 1) * d].T) for i in range(3))
    ours.b_q, ours.b_k, ours.b_v = (b[i * d : (i + 1) * d].copy() for i in range(3))
    ours.w_o = np.ascontiguousarray(to_np(theirs.out_proj.weight).T)
    ours.b_o = to_np(theirs.out_proj.bias).copy()


def copy_norm(ours: LayerNorm, theirs: torch.nn.LayerNorm) -> None:
    ours.gamma, ours.beta = to_np(theirs.weight).copy(), to_np(theirs.bias).copy()


def copy_ff(ours, theirs) -> None:
    ff = ours.feed_forward
    ff.w_1, ff.b_1 = np.ascontiguousarray(to_np(theirs.linear1.weight).T), to_np(theirs.linear1.bias).copy()
    ff.w_2, ff.b_2 = np.ascontiguousarray(to_np(theirs.linear2.weight).T), to_np(theirs.linear2.bias).copy()


def randomize(module: torch.nn.Module, gen: torch.Generator) -> None:
    """Non-trivial biases and norm gains too (PyTorch starts them at 0 and 1)."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(
                torch.randn(p.shape, generator=gen) * 0.3
                + (1.0 if p.ndim == 1 and "norm" in _name(module, p) else 0.0)
            )


def _name(module: torch.nn.Module, param: torch.Tensor) -> str:
    return next(name for name, p in module.named_parameters() if p is param)


def sizes(seed: int) -> tuple[np.random.Generator, torch.Generator, int, int, int, int, int]:
    rng = np.random.default_rng(seed)
    gen = torch.Generator().manual_seed(seed)
    n_heads = int(rng.integers(1, 4))
    d_model = n_heads * int(rng.integers(2, 7))
    batch, n_q, n_k = (int(v) for v in rng.integers(1, 7, size=3))
    return rng, gen, n_heads, d_model, batch, n_q, n_k


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("seed", SEEDS)
def test_scaled_dot_product_attention(seed: int) -> None:
    rng = np.random.default_rng(seed)
    lead = tuple(int(v) for v in rng.integers(1, 4, size=int(rng.integers(1, 3))))
    n_q, n_k, d_k, d_v = (int(v) for v in rng.integers(1, 9, size=4))
    q = rng.normal(size=(*lead, n_q, d_k)).astype(F32)
    k = rng.normal(size=(*lead, n_k, d_k)).astype(F32)
    v = rng.normal(size=(*lead, n_k, d_v)).astype(F32)
    mask = random_mask(rng, (*lead, n_q, n_k))
    ours, _ = scaled_dot_product_attention(q, k, v, mask)
    theirs = torch.nn.functional.scaled_dot_product_attention(
        t(q), t(k), t(v), attn_mask=t(mask)
    )  # True = may attend
    assert ours.dtype == np.float32
    assert np.max(np.abs(ours - to_np(theirs))) <= TOL
    ours, _ = scaled_dot_product_attention(q, k, v)
    assert (
        np.max(np.abs(ours - to_np(torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v)))))
        <= TOL
    )


@pytest.mark.parametrize("seed", SEEDS)
def test_multi_head_attention(seed: int) -> None:
    rng, gen, n_heads, d_model, batch, n_q, n_k = sizes(seed)
    theirs = torch.nn.MultiheadAttention(d_model, n_heads, dropout=0.0, batch_first=True)
    randomize(theirs, gen)
    ours = MultiHeadAttention(d_model, n_heads, rng, dtype=F32)
    copy_mha(ours, theirs)
    query = rng.normal(size=(batch, n_q, d_model)).astype(F32)
    memory = rng.normal(size=(batch, n_k, d_model)).astype(F32)
    mask = random_mask(rng, (n_q, n_k))
    out, weights = ours(query, memory, memory, mask)
    ref, ref_weights = theirs(t(query), t(memory), t(memory), attn_mask=t(~mask), average_attn_weights=False)
    assert out.dtype == np.float32
    assert np.max(np.abs(out - to_np(ref))) <= TOL
    assert np.max(np.abs(weights - to_np(ref_weights))) <= TOL


def test_the_mask_conventions_the_self_attention_lesson_warns_about() -> None:
    """The lesson's warning, checked: our mask passed unchanged as nn.MultiheadAttention's
    ``attn_mask`` runs without complaint and attends to exactly the other keys; inverted, it
    gives our numbers. F.scaled_dot_product_attention takes it unchanged."""
    rng, gen, n_heads, d_model, batch, n_q = (
        np.random.default_rng(0),
        torch.Generator().manual_seed(0),
        2,
        8,
        3,
        4,
    )
    theirs = torch.nn.MultiheadAttention(d_model, n_heads, dropout=0.0, batch_first=True)
    randomize(theirs, gen)
    ours = MultiHeadAttention(d_model, n_heads, rng, dtype=F32)
    copy_mha(ours, theirs)
    x = rng.normal(size=(batch, n_q, d_model)).astype(F32)
    # Each query sees some keys and not others, both ways round (no row all True or all False).
    mask = np.array([[0, 1, 0, 0], [0, 1, 0, 0], [0, 1, 1, 0], [0, 1, 1, 1]], dtype=bool)
    _, weights = ours(x, x, x, mask)
    _, as_is = theirs(t(x), t(x), t(x), attn_mask=t(mask), average_attn_weights=False)
    _, inverted = theirs(t(x), t(x), t(x), attn_mask=t(~mask), average_attn_weights=False)
    assert np.max(np.abs(weights - to_np(inverted))) <= TOL
    assert (to_np(as_is)[..., mask] == 0).all() and (weights[..., ~mask] == 0).all()  # opposite keys
    q, k, v = (rng.normal(size=(n_heads, n_q, 4)).astype(F32) for _ in range(3))
    ref = torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask))
    assert np.max(np.abs(scaled_dot_product_attention(q, k, v, mask)[0] - to_np(ref))) <= TOL


@pytest.mark.parametrize("seed", SEEDS)
def test_layer_norm(seed: int) -> None:
    rng, gen, _, d_model, batch, n_q, _ = sizes(seed)
    theirs = torch.nn.LayerNorm(d_model, eps=1e-5)
    randomize(theirs, gen)
    ours = LayerNorm(d_model, dtype=F32)
    copy_norm(ours, theirs)
    x = (rng.normal(size=(batch, n_q, d_model)) * 3 + 1).astype(F32)
    assert np.max(np.abs(ours(x) - to_np(theirs(t(x))))) <= TOL


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("seed", SEEDS)
def test_encoder_layer(seed: int, norm_first: bool) -> None:
    rng, gen, n_heads, d_model, batch, n, _ = sizes(seed)
    d_ff = int(rng.integers(1, 17))
    theirs = torch.nn.TransformerEncoderLayer(
        d_model,
        n_heads,
        dim_feedforward=d_ff,
        dropout=0.0,
        activation="relu",
        layer_norm_eps=1e-5,
        batch_first=True,
        norm_first=norm_first,
    ).train()
    randomize(theirs, gen)
    ours = EncoderLayer(d_model, n_heads, d_ff, rng, norm_first=norm_first, dtype=F32)
    copy_mha(ours.self_attn, theirs.self_attn)
    copy_ff(ours, theirs)
    copy_norm(ours.norm_1, theirs.norm1)
    copy_norm(ours.norm_2, theirs.norm2)
    x = rng.normal(size=(batch, n, d_model)).astype(F32)
    lengths = rng.integers(1, n + 1, size=batch)
    padding = np.arange(n)[None, :] >= lengths[:, None]  # (batch, n): True = padding
    out = ours(x, ~padding[:, None, :])  # ours: (batch, 1, n), True = may attend
    ref = theirs(t(x), src_key_padding_mask=t(padding))  # theirs: True = ignore this key
    assert out.dtype == np.float32
    assert np.max(np.abs(out - to_np(ref))) <= TOL


@pytest.mark.parametrize("norm_first", [False, True], ids=["post-norm", "pre-norm"])
@pytest.mark.parametrize("seed", SEEDS)
def test_decoder_layer(seed: int, norm_first: bool) -> None:
    rng, gen, n_heads, d_model, batch, n_y, n_x = sizes(seed)
    d_ff = int(rng.integers(1, 17))
    theirs = torch.nn.TransformerDecoderLayer(
        d_model,
        n_heads,
        dim_feedforward=d_ff,
        dropout=0.0,
        activation="relu",
        layer_norm_eps=1e-5,
        batch_first=True,
        norm_first=norm_first,
    ).train()
    randomize(theirs, gen)
    ours = DecoderLayer(d_model, n_heads, d_ff, rng, norm_first=norm_first, dtype=F32)
    copy_mha(ours.self_attn, theirs.self_attn)
    copy_mha(ours.cross_attn, theirs.multihead_attn)
    copy_ff(ours, theirs)
    for i in (1, 2, 3):
        copy_norm(getattr(ours, f"norm_{i}"), getattr(theirs, f"norm{i}"))
    y = rng.normal(size=(batch, n_y, d_model)).astype(F32)
    memory = rng.normal(size=(batch, n_x, d_model)).astype(F32)
    causal = np.tril(np.ones((n_y, n_y), dtype=bool))  # True = may attend
    lengths = rng.integers(1, n_x + 1, size=batch)
    padding = np.arange(n_x)[None, :] >= lengths[:, None]  # (batch, n_x): True = padding
    out = ours(y, memory, causal, ~padding[:, None, :])
    ref = theirs(t(y), t(memory), tgt_mask=t(~causal), memory_key_padding_mask=t(padding))
    assert out.dtype == np.float32
    assert np.max(np.abs(out - to_np(ref))) <= TOL


def test_the_comparison_can_fail() -> None:
    # One wrong mapping (w_q not transposed) must be caught at this tolerance.
    rng, gen, n_heads, d_model = np.random.default_rng(0), torch.Generator().manual_seed(0), 2, 6
    theirs = torch.nn.MultiheadAttention(d_model, n_heads, batch_first=True)
    randomize(theirs, gen)
    ours = MultiHeadAttention(d_model, n_heads, rng, dtype=F32)
    copy_mha(ours, theirs)
    ours.w_q = np.ascontiguousarray(ours.w_q.T)
    x = rng.normal(size=(1, 4, d_model)).astype(F32)
    ref, _ = theirs(t(x), t(x), t(x))
    assert np.max(np.abs(ours(x, x, x)[0] - to_np(ref))) > TOL


def test_a_query_that_may_see_no_key() -> None:
    # Ours: zero output, like torch's functional attention; torch's module gives NaN.
    q = k = v = np.ones((2, 4), dtype=F32)
    mask = np.array([[True, False], [False, False]])
    ours, _ = scaled_dot_product_attention(q, k, v, mask)
    functional = to_np(torch.nn.functional.scaled_dot_product_attention(t(q), t(k), t(v), attn_mask=t(mask)))
    assert np.all(ours[1] == 0.0) and np.all(functional[1] == 0.0)
    assert np.max(np.abs(ours - functional)) <= TOL
    module = torch.nn.MultiheadAttention(4, 2, batch_first=True)
    out, _ = module(t(q[None]), t(k[None]), t(v[None]), attn_mask=t(~mask))
    assert np.all(np.isnan(to_np(out)[0, 1]))
    mha = MultiHeadAttention(4, 2, np.random.default_rng(0), dtype=F32)
    copy_mha(mha, module)
    assert np.all(mha(q, k, v, mask)[0][1] == mha.b_o)  # zero heads, then the output bias only


def torch_gpt(gpt: GPT) -> tuple[list[torch.nn.TransformerEncoderLayer], torch.nn.LayerNorm]:
    """PyTorch's pieces of a GPT: a stack of pre-norm encoder layers and a final norm, float64."""
    c = gpt.config
    layers = [
        torch.nn.TransformerEncoderLayer(
            c.d_model,
            c.n_heads,
            dim_feedforward=c.d_ff,
            dropout=0.0,
            activation="relu",
            layer_norm_eps=1e-5,
            batch_first=True,
            norm_first=True,
        )
        .double()
        .train()
        for _ in range(c.n_layers)
    ]
    return layers, torch.nn.LayerNorm(c.d_model, eps=1e-5).double()


@pytest.mark.parametrize("seed", SEEDS)
def test_gpt_is_a_causal_encoder_stack_with_a_final_norm(seed: int) -> None:
    # Float64 end to end (the GPT's weights are float64): the same logits to ~1e-12.
    rng, gen, n_heads, d_model, batch, n, _ = sizes(seed)
    config = GPTConfig(
        vocab_size=11,
        d_model=d_model,
        n_heads=n_heads,
        d_ff=int(rng.integers(1, 17)),
        n_layers=int(rng.integers(1, 4)),
        max_len=8,
    )
    gpt = GPT(config, rng)
    layers, final_norm = torch_gpt(gpt)
    for ours, theirs in zip(gpt.layers, layers, strict=True):
        randomize(theirs, gen)
        copy_mha(ours.self_attn, theirs.self_attn)
        copy_ff(ours, theirs)
        copy_norm(ours.norm_1, theirs.norm1)
        copy_norm(ours.norm_2, theirs.norm2)
    randomize(final_norm, gen)
    final_norm.weight.data += 1.0  # a gain around 1, as randomize gives the layers' norms
    copy_norm(gpt.final_norm, final_norm)
    gpt.b_out[...] = rng.normal(size=config.vocab_size)
    ids = rng.integers(0, config.vocab_size, size=(batch, min(n + 1, 8)))
    ours_logits = gpt.logits(ids)  # (batch, n, vocab_size)
    n_ids = ids.shape[1]
    x = t(gpt.embedding.weight[ids] * np.sqrt(d_model) + gpt.positions[:n_ids])  # the same input
    causal = t(~np.tril(np.ones((n_ids, n_ids), dtype=bool)))  # torch: True = may NOT attend
    for layer in layers:
        x = layer(x, src_mask=causal)
    ref = to_np(final_norm(x)) @ gpt.w_out + gpt.b_out
    worst = float(np.max(np.abs(ours_logits - ref)))
    print(f"seed {seed}: {config.n_layers} layer(s), worst |ours - torch| = {worst:.1e}")
    assert ours_logits.dtype == np.float64
    assert worst <= 1e-10


def copy_transformer(ours: Transformer, theirs: torch.nn.Transformer) -> None:
    """Every weight of PyTorch's stacks, final norms included, into ours."""
    for mine, their in zip(ours.encoder_layers, theirs.encoder.layers, strict=True):
        copy_mha(mine.self_attn, their.self_attn)
        copy_ff(mine, their)
        copy_norm(mine.norm_1, their.norm1)
        copy_norm(mine.norm_2, their.norm2)
    for mine, their in zip(ours.decoder_layers, theirs.decoder.layers, strict=True):
        copy_mha(mine.self_attn, their.self_attn)
        copy_mha(mine.cross_attn, their.multihead_attn)
        copy_ff(mine, their)
        for i in (1, 2, 3):
            copy_norm(getattr(mine, f"norm_{i}"), getattr(their, f"norm{i}"))
    assert ours.encoder_norm is not None and ours.decoder_norm is not None
    copy_norm(ours.encoder_norm, theirs.encoder.norm)
    copy_norm(ours.decoder_norm, theirs.decoder.norm)


def torch_transformer(c: TransformerConfig) -> torch.nn.Transformer:
    with warnings.catch_warnings():  # its nested-tensor fast path is off for pre-norm: it says so
        warnings.filterwarnings("ignore", message="enable_nested_tensor is True")
        module = torch.nn.Transformer(
            c.d_model,
            c.n_heads,
            num_encoder_layers=c.n_layers,
            num_decoder_layers=c.n_layers,
            dim_feedforward=c.d_ff,
            dropout=0.0,
            activation="relu",
            layer_norm_eps=1e-5,
            batch_first=True,
            norm_first=True,
        )
    return module.double().train()


def compare_with_nn_transformer(seed: int, skip_final_norms: bool = False) -> float:
    """Largest |our logits - logits from nn.Transformer's output| on a padded batch, float64."""
    rng, gen, n_heads, d_model, batch, n_y, n_x = sizes(seed)
    config = TransformerConfig(
        vocab_size=11,
        d_model=d_model,
        n_heads=n_heads,
        d_ff=int(rng.integers(1, 17)),
        n_layers=int(rng.integers(1, 4)),
        max_len=8,
        norm_first=True,
    )
    ours = Transformer(config, rng)
    theirs = torch_transformer(config)
    randomize(theirs, gen)  # the final norms too: gains around 1, biases around 0
    copy_transformer(ours, theirs)
    ours.b_out[...] = rng.normal(size=config.vocab_size)
    src = rng.integers(3, config.vocab_size, size=(batch, n_x))
    src[0, rng.integers(1, n_x + 1) :] = config.pad_id  # the first source is padded
    tgt = rng.integers(3, config.vocab_size, size=(batch, n_y))
    tgt[:, 0] = config.bos_id
    src_mask = ours.source_mask(src)  # (batch, 1, n_x), True = a real token
    if skip_final_norms:  # the stack as it was before the final norms: must not match
        ours.encoder_norm = ours.decoder_norm = None
    logits = ours.decode(tgt, ours.encode(src, src_mask), src_mask)  # (batch, n_y, vocab_size)
    padding = t(src == config.pad_id)  # torch: True = ignore this key
    out = theirs(
        t(ours.embed(src)),
        t(ours.embed(tgt)),
        tgt_mask=t(~np.tril(np.ones((n_y, n_y), dtype=bool))),  # torch: True = may NOT attend
        src_key_padding_mask=padding,
        memory_key_padding_mask=padding,
    )
    ref = to_np(out) @ ours.w_out + ours.b_out
    assert logits.dtype == np.float64
    return float(np.max(np.abs(logits - ref)))


@pytest.mark.parametrize("seed", SEEDS)
def test_pre_norm_transformer_is_nn_transformer_with_its_final_norms(seed: int) -> None:
    # Float64 end to end: embeddings in, logits out, the same to ~1e-12.
    worst = compare_with_nn_transformer(seed)
    print(f"seed {seed}: worst |ours - nn.Transformer(norm_first=True)| = {worst:.1e}")
    assert worst <= 1e-10


def test_the_stack_without_its_final_norms_is_not_nn_transformer() -> None:
    # The same comparison fails for the pre-norm stack as it was before (no final norms).
    assert min(compare_with_nn_transformer(seed, skip_final_norms=True) for seed in SEEDS) > 1e-2
