"""Training, the shipped models, and the command line (issue 4)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import transformer_primer
from transformer_primer import __main__ as cli
from transformer_primer.model import Transformer, TransformerConfig
from transformer_primer.seq2seq import Seq2Seq, load, pretrained
from transformer_primer.tasks import ALPHABET, QUALITY, TASKS, held_out, sample_strings, split_of, target
from transformer_primer.train import TrainConfig, train
from transformer_primer.vocab import Vocab

ROOT = Path(__file__).resolve().parents[2]
WEIGHTS = ROOT / "src" / "transformer_primer" / "weights"


# --- vocabulary and data ---------------------------------------------------------------


def test_special_tokens_are_distinct_and_padding_is_not_the_start_symbol() -> None:
    vocab = Vocab(ALPHABET)
    assert len({vocab.pad_id, vocab.bos_id, vocab.eos_id}) == 3
    assert vocab.bos_id != vocab.pad_id
    model = pretrained("reverse").model
    assert (model.config.pad_id, model.config.bos_id, model.config.eos_id) == (
        vocab.pad_id,
        vocab.bos_id,
        vocab.eos_id,
    )
    assert len(vocab) == 3 + len(ALPHABET)


def test_unknown_characters_get_an_error_naming_them() -> None:
    with pytest.raises(ValueError, match=r"outside the vocabulary: 'H', '!'"):
        pretrained("reverse").translate("Hello world!")
    with pytest.raises(ValueError, match="1 to 16 characters"):
        pretrained("reverse").translate("a" * 17)
    with pytest.raises(ValueError, match="1 to 16 characters"):
        pretrained("reverse").translate("")
    with pytest.raises(TypeError, match="text must be a str"):
        pretrained("reverse").translate(42)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="name must be one of"):
        pretrained("rot13")


def test_training_never_draws_a_held_out_string() -> None:
    texts = sample_strings(np.random.default_rng(1), 3000, "train")
    assert {split_of(t) for t in texts} == {"train"}
    test = held_out(1000)
    assert len(set(test)) == 1000 and {split_of(t) for t in test} == {"test"}
    assert {len(t) for t in test} == set(range(1, 17))  # every length 1..16 is tested
    assert set("".join(test)) == set(ALPHABET)


def test_targets() -> None:
    assert target("reverse", "hello world") == "dlrow olleh"
    assert target("copy", "hello world") == "hello world"
    assert target("sort", "hello world") == " dehllloorw"


# --- the training loop -----------------------------------------------------------------

TINY = TrainConfig(
    task="copy",
    steps=120,
    batch_size=32,
    lr=1e-2,
    warmup=20,
    d_model=16,
    n_heads=2,
    d_ff=32,
    max_chars=4,
    eval_every=60,
    eval_size=50,
)


def test_a_short_training_run_learns() -> None:
    model = train(TINY, progress=None)
    h = model.history
    first, last = slice(0, 10), slice(-10, None)
    assert h["loss"][last].mean() < 0.5 * h["loss"][first].mean()
    assert h["token_accuracy"][last].mean() > h["token_accuracy"][first].mean() + 0.3
    assert h["valid_exact"][-1] > h["valid_exact"][0]


def test_training_is_deterministic_given_the_seed() -> None:
    config = TrainConfig(
        task="sort", steps=3, d_model=8, n_heads=2, d_ff=8, max_chars=5, eval_every=3, eval_size=5
    )
    a, b = (train(config, progress=None).model.parameters() for _ in range(2))
    c = train(TrainConfig(**{**config.__dict__, "seed": 1}), progress=None).model.parameters()
    assert all(np.array_equal(a[name], b[name]) for name in a)
    assert not all(np.array_equal(a[name], c[name]) for name in a)


def test_a_saved_model_loads_back_the_same(tmp_path: Path) -> None:
    model = train(TINY.__class__(**{**TINY.__dict__, "steps": 5}), progress=None)
    model.save(tmp_path / "m.npz")
    again = load(tmp_path / "m.npz")
    assert all(np.array_equal(p, again.model.parameters()[n]) for n, p in model.model.parameters().items())
    assert again.metadata["train_config"]["seed"] == 0 and again.task == "copy"
    assert np.array_equal(again.history["loss"], model.history["loss"])


def test_a_saved_model_has_the_permissions_of_any_new_file(tmp_path: Path) -> None:
    """Written through a private temporary file (0600), it still ends up 0666 minus the umask."""
    umask = os.umask(0o022)
    try:
        train(TINY.__class__(**{**TINY.__dict__, "steps": 1}), progress=None).save(tmp_path / "m.npz")
    finally:
        os.umask(umask)
    assert (tmp_path / "m.npz").stat().st_mode & 0o777 == 0o644


# --- decoding --------------------------------------------------------------------------


def test_decoding_stops_at_the_length_limit_when_no_end_token_comes() -> None:
    vocab = Vocab(ALPHABET)
    config = TransformerConfig(vocab_size=len(vocab), d_model=8, n_heads=2, d_ff=8, max_len=18)
    model = Transformer(config, np.random.default_rng(0))
    model.b_out[vocab.eos_id] = -1e3  # this model can never produce the end token
    untrained = Seq2Seq(model, vocab, "copy")
    assert len(untrained.translate("abc")) == 17  # max_chars + 1 steps, then it stops
    assert [len(t) for t in untrained.translate_batch(["abc", "a"])] == [17, 17]


def test_batched_decoding_gives_the_same_tokens_as_one_at_a_time() -> None:
    model = pretrained("sort")
    texts = held_out(40)
    assert model.translate_batch(texts, batch_size=16) == [model.translate(t) for t in texts]


# --- the shipped models ----------------------------------------------------------------


def test_hello_world() -> None:
    assert transformer_primer.pretrained("reverse").translate("hello world") == "dlrow olleh"


@pytest.mark.parametrize("task", sorted(TASKS))
def test_shipped_model_quality_on_1000_held_out_strings(task: str) -> None:
    model = pretrained(task)
    assert model.exact_match(held_out(1000)) >= QUALITY[task]


def test_shipped_weights_are_small_and_say_how_they_were_made() -> None:
    files = sorted(f for f in WEIGHTS.glob("*.npz") if f.stem != "add")  # add.npz: tests/unit/test_gpt.py
    assert [f.stem for f in files] == sorted(TASKS)
    assert sum(f.stat().st_size for f in files) < 1_000_000
    for f in files:
        meta = load(f).metadata
        assert meta["command"].startswith(f"python -m transformer_primer train {f.stem}")
        assert meta["train_config"]["seed"] == 0 and meta["train_config"]["task"] == f.stem
        assert (
            meta["train_cpu_seconds"] < cli.MAX_TRAIN_SECONDS
        )  # one core's time (wall clock is in the file too)


# --- the command line ------------------------------------------------------------------


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "transformer_primer", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_cli_translate() -> None:
    result = run_cli("translate", "reverse", "hello world")
    assert (result.returncode, result.stdout) == (0, "dlrow olleh\n")


def test_cli_names_unknown_characters() -> None:
    result = run_cli("translate", "reverse", "Hello")
    assert result.returncode == 2
    assert "outside the vocabulary: 'H'" in result.stderr and "Traceback" not in result.stderr


def test_cli_train_writes_weights_that_translate_uses(tmp_path: Path) -> None:
    out = tmp_path / "copy.npz"
    result = run_cli("train", "copy", "--steps", "3", "--seed", "5", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert re.search(r"\d+ parameters, 3 steps", result.stdout)
    meta = load(out).metadata
    assert meta["train_config"]["seed"] == 5 and meta["train_config"]["steps"] == 3
    assert (
        meta["command"] == f"python -m transformer_primer train copy --steps 3 --seed 5 --out {out} --quiet"
    )
    result = run_cli("translate", "copy", "abc", "--weights", str(out))
    assert result.returncode == 0 and len(result.stdout.strip()) <= 17
    result = run_cli(
        "evaluate", "copy", "--weights", str(out), "--check", "-n", "100"
    )  # 3 steps: far too few
    assert result.returncode == 1 and "FAIL: copy exact match" in result.stderr


def test_cli_knows_every_task() -> None:
    sub = next(a for a in cli._parser()._actions if a.dest == "command")
    gpt_tasks = sorted(cli.QUALITY_GPT)  # the decoder-only models: tests/unit/test_gpt.py
    for command, parser in sub.choices.items():
        task = next(a for a in parser._actions if a.dest == "task")
        wanted = {"translate": sorted(TASKS), "complete": gpt_tasks}.get(
            command, sorted([*TASKS, *gpt_tasks])
        )
        assert sorted(task.choices) == wanted, command
