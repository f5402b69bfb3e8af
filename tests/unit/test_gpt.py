"""The decoder-only GPT (issue 13): its model, its task, its shipped weights and its command line.

The gradient check is in test_gradients.py and the PyTorch cross-check in
test_torch_equivalence.py, beside the encoder-decoder's.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

import transformer_primer
from transformer_primer import __main__ as cli
from transformer_primer.completer import Completer, load, pretrained
from transformer_primer.gpt import GPT, GPTConfig
from transformer_primer.masks import causal_mask
from transformer_primer.seq2seq import load as load_seq2seq
from transformer_primer.tasks import (
    ADD_CHARS,
    addition_answer,
    addition_prompt,
    addition_split,
    held_out_additions,
    make_lm_batch,
    sample_additions,
)
from transformer_primer.train import GPTTrainConfig, train_gpt
from transformer_primer.vocab import Vocab

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = resources.files("transformer_primer") / "weights"


def small_gpt(seed: int = 0, **sizes: int) -> GPT:
    config = GPTConfig(**{"vocab_size": 9, "d_model": 8, "n_heads": 2, "d_ff": 16, "max_len": 8, **sizes})
    return GPT(config, np.random.default_rng(seed))


# --- the model ---------------------------------------------------------------------------


def test_the_structure_other_code_relies_on() -> None:
    gpt = small_gpt(n_layers=3)
    assert len(gpt.layers) == 3 and all(layer.norm_first for layer in gpt.layers)
    assert gpt.final_norm.d_model == 8 and gpt.w_out.shape == (8, 9) and gpt.b_out.shape == (9,)
    assert gpt.positions.shape == (8, 8) and gpt.embedding.weight.shape == (9, 8)
    names = gpt.parameters()
    assert "layers.2.self_attn.w_q" in names and "final_norm.gamma" in names
    assert not any("cross_attn" in name for name in names)  # self-attention only


def test_a_position_never_sees_the_future() -> None:
    gpt = small_gpt()
    ids = np.array([1, 3, 4, 5, 6])
    changed = ids.copy()
    changed[3:] = [8, 7]  # change the last two tokens
    before, after = gpt.logits(ids), gpt.logits(changed)
    np.testing.assert_array_equal(before[:3], after[:3])  # the first three rows cannot know
    assert not np.allclose(before[3:], after[3:])


def test_the_forward_pass_is_the_layers_in_order() -> None:
    gpt = small_gpt(n_layers=2)
    ids = np.array([[1, 4, 5, 6]])
    x = gpt.embedding(ids) + gpt.positions[:4]
    for layer in gpt.layers:
        x = layer(x, causal_mask(4))
    expected = gpt.final_norm(x) @ gpt.w_out + gpt.b_out
    np.testing.assert_array_equal(gpt.logits(ids), expected)


def test_run_with_cache_shows_causal_attention() -> None:
    gpt = small_gpt()
    logits, cache = gpt.run_with_cache(np.array([1, 3, 4, 5]))
    weights = cache["layers.0.self_attn.weights"]  # (n_heads, n, n)
    assert weights.shape == (2, 4, 4)
    assert np.all(np.triu(weights, k=1) == 0.0)
    np.testing.assert_allclose(weights.sum(axis=-1), 1.0)
    np.testing.assert_array_equal(cache["h"] @ gpt.w_out + gpt.b_out, logits)


def test_batched_generation_is_generation_one_by_one() -> None:
    gpt = small_gpt(seed=3)
    prompts = np.array([[1, 3, 4], [1, 5, 6], [1, 8, 8]])
    assert gpt.greedy_decode_batch(prompts, 5) == [gpt.greedy_decode(p, 5) for p in prompts]


def test_generation_stops_at_max_len() -> None:
    gpt = small_gpt()
    steps = list(gpt.generate(np.array([1, 3, 4, 5, 6, 7, 8]), max_new_tokens=50))
    assert 1 <= len(steps) <= 2 and max(len(s.input_ids) for s in steps) <= 8


@pytest.mark.parametrize(
    ("call", "error", "says"),
    [
        (lambda g: g.logits(np.array([1.0, 2.0])), TypeError, "ids must be integer token ids"),
        (lambda g: g.logits(np.array([1, 9])), ValueError, "ids must be in 0..8"),
        (lambda g: g.logits(np.ones(9, dtype=int)), ValueError, "longer than max_len = 8"),
        (lambda g: g.logits(np.ones((2, 2, 2), dtype=int)), ValueError, "shape (n,) or (batch, n)"),
        (lambda g: list(g.generate(np.array([1]), 0)), ValueError, "max_new_tokens"),
        (lambda g: g.greedy_decode_batch(np.array([1, 2]), 2), ValueError, "shape (batch, n)"),
    ],
)
def test_bad_input_is_refused_with_its_name(call, error, says) -> None:  # noqa: ANN001
    with pytest.raises(error) as info:
        call(small_gpt())
    assert says in str(info.value)


@pytest.mark.parametrize(
    ("sizes", "says"),
    [
        ({"d_model": 6, "n_heads": 4}, "divisible by n_heads"),
        ({"eos_id": 1}, "distinct"),
        ({"n_layers": 0}, "n_layers"),
    ],
)
def test_a_bad_config_is_refused(sizes: dict, says: str) -> None:
    with pytest.raises(ValueError, match=says):
        GPTConfig(**{"vocab_size": 9, **sizes})


def test_a_config_is_needed() -> None:
    with pytest.raises(TypeError, match="config must be a GPTConfig"):
        GPT({"vocab_size": 9}, np.random.default_rng(0))  # type: ignore[arg-type]


# --- the task ----------------------------------------------------------------------------


def test_the_addition_task() -> None:
    assert addition_prompt(37, 48) == "37+48=" and addition_answer("37+48=") == "85"
    assert addition_answer("99+99=") == "198" and addition_answer("0+0=") == "0"
    for bad in ("37+48", "037+1=", "100+1=", "1+2+3=", "a+b=", 37):
        with pytest.raises(ValueError, match="prompt must be 'a\\+b='"):
            addition_answer(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="a must be"):
        addition_prompt(100, 1)


def test_the_held_out_prompts_are_never_drawn_for_training() -> None:
    held = held_out_additions(1000)
    assert len(set(held)) == 1000 and {addition_split(p) for p in held} == {"test"}
    drawn = set(sample_additions(np.random.default_rng(0), 60_000, "train"))
    assert not drawn & set(held)
    assert len(drawn) > 8_400  # nearly all of the 8,484 training prompts
    with pytest.raises(ValueError, match="holds 1010 addition prompts"):
        held_out_additions(1011)


def test_a_batch_learns_only_the_answer() -> None:
    vocab = Vocab(ADD_CHARS)
    ids, targets = make_lm_batch(vocab, ["37+48=", "1+1="])
    assert vocab.decode(ids[0]) == "37+48=85"
    assert vocab.decode(t for t in targets[0] if t) == "85"  # the end token stops decode
    assert list(targets[1][:4]) == [0, 0, 0, 0] and vocab.decode(targets[1][4:]) == "2"


# --- the shipped model -------------------------------------------------------------------


def test_hello_gpt() -> None:
    model = transformer_primer.pretrained("add")
    assert isinstance(model, Completer)
    assert model.complete("37+48=") == "85"


def test_shipped_model_quality_on_1000_held_out_prompts() -> None:
    model = pretrained("add")
    assert model.exact_match(held_out_additions(1000)) >= cli.QUALITY_GPT["add"]


def test_shipped_weights_are_small_and_say_how_they_were_made() -> None:
    path = SHIPPED / "add.npz"
    assert path.stat().st_size < 1_000_000
    meta = load(path).metadata
    assert meta["command"].startswith("python -m transformer_primer train add")
    assert meta["train_config"]["seed"] == 0 and meta["train_config"]["task"] == "add"
    assert meta["train_cpu_seconds"] < cli.MAX_TRAIN_SECONDS_GPT  # one core's time


@pytest.mark.parametrize(
    ("prompt", "error", "says"),
    [
        ("37 + 48 =", ValueError, "prompt holds characters outside the vocabulary: ' '"),
        ("1+2=3+4=5+6=", ValueError, "prompt must have 1 to 6 characters"),
        ("", ValueError, "prompt must have 1 to 6 characters"),
        (37, TypeError, "prompt must be a str"),
    ],
)
def test_a_bad_prompt_is_refused_with_its_name(prompt: object, error: type, says: str) -> None:
    with pytest.raises(error) as info:
        pretrained("add").complete(prompt)  # type: ignore[arg-type]
    assert says in str(info.value)


def test_batched_completion_is_completion_one_by_one() -> None:
    model = pretrained("add")
    prompts = ["1+2=", "37+48=", "5+95=", "99+99=", "0+0=", "12+3="]
    assert model.complete_batch(prompts, batch_size=2) == [model.complete(p) for p in prompts]


def test_pretrained_names_every_model() -> None:
    with pytest.raises(ValueError, match=r"name must be one of \['add', 'copy', 'reverse', 'sort'\]"):
        transformer_primer.pretrained("gpt2")


def test_save_and_load_give_the_same_model(tmp_path: Path) -> None:
    model = train_gpt(
        GPTTrainConfig(steps=3, d_model=8, n_heads=2, d_ff=8, n_layers=1, eval_every=3, eval_size=5), None
    )
    model.save(tmp_path / "tiny.npz")
    again = load(tmp_path / "tiny.npz")
    for name, p in model.gpt.parameters().items():
        np.testing.assert_array_equal(p, again.gpt.parameters()[name])
    assert again.complete_batch(["1+2=", "3+4="]) == model.complete_batch(["1+2=", "3+4="])


# --- model files that are not what they claim ----------------------------------------------


def members() -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO((SHIPPED / "add.npz").read_bytes())) as z:
        return {name: z.read(name) for name in z.namelist()}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array)
    return buffer.getvalue()


def write_npz(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def metadata_with(**changes: object) -> bytes:
    with zipfile.ZipFile(SHIPPED / "add.npz") as z, z.open("metadata.npy") as f:
        meta = json.loads(str(np.lib.format.read_array(f)))
    meta.update(changes)
    return npy(np.array(json.dumps(meta)))


def broken(tmp: Path, kind: str) -> tuple[Path, str]:
    m = members()
    w_out = np.lib.format.read_array(io.BytesIO(m["param/w_out.npy"]))
    files = {
        "an encoder-decoder's file": (Path(str(SHIPPED / "reverse.npz")), "the config must have the fields"),
        "a truncated file": (tmp / "half.npz", "not a readable .npz archive"),
        "a weight of the wrong shape": (
            write_npz(tmp / "shape.npz", m | {"param/w_out.npy": npy(w_out[:, :-1])}),
            "'param/w_out' must have shape",
        ),
        "NaN weights": (
            write_npz(tmp / "nan.npz", m | {"param/w_out.npy": npy(np.full_like(w_out, np.nan))}),
            "'param/w_out' holds NaN or infinity",
        ),
        "characters of another task": (
            write_npz(tmp / "chars.npz", m | {"metadata.npy": metadata_with(chars="0123456789-=")}),
            "characters do not match",
        ),
        "an unknown task": (
            write_npz(tmp / "task.npz", m | {"metadata.npy": metadata_with(task="multiply")}),
            "task must be one of ['add']",
        ),
        "an extra entry": (write_npz(tmp / "extra.npz", m | {"code.py": b"print(1)"}), "unexpected entries"),
    }
    (tmp / "half.npz").write_bytes((SHIPPED / "add.npz").read_bytes()[:5000])
    return files[kind]


KINDS = [
    "an encoder-decoder's file",
    "a truncated file",
    "a weight of the wrong shape",
    "NaN weights",
    "characters of another task",
    "an unknown task",
    "an extra entry",
]


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_model_file_is_one_clear_error(kind: str, tmp_path: Path, capsys) -> None:  # noqa: ANN001
    path, says = broken(tmp_path, kind)
    code = cli.main(["complete", "add", "1+2=", "--weights", str(path)])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1 and err.startswith("error: "), err
    assert says in err and "Traceback" not in err
    with pytest.raises(ValueError) as info:
        load(path)
    assert says in str(info.value)


def test_a_gpt_file_is_refused_by_the_encoder_decoder(capsys) -> None:  # noqa: ANN001
    code = cli.main(["translate", "reverse", "abc", "--weights", str(SHIPPED / "add.npz")])
    err = capsys.readouterr().err
    assert code == 2 and "the config must have the fields" in err and len(err.strip().splitlines()) == 1
    with pytest.raises(ValueError, match="the config must have the fields"):
        load_seq2seq(Path(str(SHIPPED / "add.npz")))


# --- the command line --------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "transformer_primer", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_complete() -> None:
    result = run_cli("complete", "add", "37+48=")
    assert (result.returncode, result.stdout) == (0, "85\n")


def test_cli_names_a_bad_prompt(capsys) -> None:  # noqa: ANN001
    code = cli.main(["complete", "add", "37 + 48"])
    err = capsys.readouterr().err
    assert code == 2 and err == (
        "error: prompt holds characters outside the vocabulary: ' ' (the vocabulary is '0123456789+=')\n"
    )


def test_cli_train_and_evaluate_add(tmp_path: Path) -> None:
    out = tmp_path / "add.npz"
    result = run_cli("train", "add", "--steps", "3", "--seed", "5", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    meta = load(out).metadata
    assert meta["train_config"]["seed"] == 5 and meta["train_config"]["steps"] == 3
    assert meta["command"] == f"python -m transformer_primer train add --steps 3 --seed 5 --out {out} --quiet"
    result = run_cli("evaluate", "add", "--weights", str(out), "--check", "-n", "50")  # 3 steps: too few
    assert result.returncode == 1 and "FAIL: add exact match" in result.stderr
    result = run_cli("evaluate", "add", "-n", "1011")
    assert result.returncode == 2 and "-n must be 1 to 1,010 held-out prompts" in result.stderr


def test_cli_evaluate_the_shipped_gpt() -> None:
    result = run_cli("evaluate", "add", "--check")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("add: exact match ") and "on 1000 held-out prompts" in result.stdout
