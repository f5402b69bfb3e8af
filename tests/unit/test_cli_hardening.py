"""The command line and the model files a user hands it (issue 12).

Every user error is one line on standard error, naming the problem and the fix, with exit
code 2, never a traceback; an output path is checked before training starts, and written
whole or not at all; a model file is validated (config, shapes, dtypes, finiteness) in
memory bounded by what its config needs. Each case failed before its fix.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from transformer_primer import __main__ as cli
from transformer_primer.seq2seq import load, pretrained
from transformer_primer.tasks import sample_strings

SHIPPED = resources.files("transformer_primer") / "weights"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """Run the command line in this process: (exit code, stdout, stderr)."""
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def one_line_error(code: int, err: str, *fragments: str) -> None:
    assert code == 2, (code, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err, (fragment, err)


def shipped(task: str = "reverse") -> bytes:
    return (SHIPPED / f"{task}.npz").read_bytes()


def members(task: str = "reverse") -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(shipped(task))) as z:
        return {name: z.read(name) for name in z.namelist()}


def npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def write_npz(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in entries.items():
            z.writestr(name, data)
    return path


def config_json(**changes: object) -> bytes:
    with zipfile.ZipFile(io.BytesIO(shipped())) as z, z.open("config.npy") as f:
        config = json.loads(str(np.lib.format.read_array(f)))
    config.update(changes)
    return npy(np.array(json.dumps(config)))


# --- model files that are not what they claim ------------------------------------------------


def bad_files(tmp: Path) -> dict[str, tuple[Path, str]]:
    """A broken model file of each kind, and a fragment its error must contain."""
    m = members()
    no_config = {k: v for k, v in m.items() if k != "config.npy"}
    with zipfile.ZipFile(io.BytesIO(shipped())) as z, z.open("metadata.npy") as f:
        metadata = json.loads(str(np.lib.format.read_array(f)))
    del metadata["chars"]
    nan = m | {"param/w_out.npy": npy(np.full((32, 30), np.nan))}
    nested = m | {"config.npy": npy(np.array("[" * 5_000 + "]" * 5_000))}
    pickled = m | {"config.npy": npy(np.array([{"d_model": 32}], dtype=object))}
    return {
        "a folder": (tmp, "is a folder"),
        "an empty file": (tmp / "empty.npz", "not a readable .npz archive"),
        "a truncated file": (tmp / "half.npz", "not a readable .npz archive"),
        "a file without its config": (write_npz(tmp / "noconfig.npz", no_config), "no config in the file"),
        "metadata without characters": (
            write_npz(tmp / "nochars.npz", m | {"metadata.npy": npy(np.array(json.dumps(metadata)))}),
            "characters do not match",
        ),
        "a deeply nested config": (write_npz(tmp / "nested.npz", nested), "config is not valid JSON"),
        "an absurd max_len": (
            write_npz(tmp / "maxlen.npz", m | {"config.npy": config_json(max_len=10**9)}),
            "max_len is 1000000000, more than 4096",
        ),
        "a pickled (object) config": (write_npz(tmp / "pickle.npz", pickled), "the config must be a text"),
        "NaN weights": (write_npz(tmp / "nan.npz", nan), "'param/w_out' holds NaN or infinity"),
        "a missing weight": (
            write_npz(tmp / "noweight.npz", {k: v for k, v in m.items() if k != "param/b_out.npy"}),
            "the weight 'b_out' is missing",
        ),
        "a pre-norm file from before the final norms": (
            write_npz(tmp / "old.npz", {k: v for k, v in m.items() if "_norm." not in k}),
            "a pre-norm model without the final layer norms (encoder_norm, decoder_norm), written by "
            "an older version: retrain it with `python -m transformer_primer train reverse`",
        ),
    }


@pytest.fixture
def broken(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    (tmp_path / "empty.npz").write_bytes(b"")
    (tmp_path / "half.npz").write_bytes(shipped()[: len(shipped()) // 2])
    files = bad_files(tmp_path)
    assert list(files) == KINDS
    return files


KINDS = [
    "a folder",
    "an empty file",
    "a truncated file",
    "a file without its config",
    "metadata without characters",
    "a deeply nested config",
    "an absurd max_len",
    "a pickled (object) config",
    "NaN weights",
    "a missing weight",
    "a pre-norm file from before the final norms",
]


@pytest.mark.parametrize("kind", KINDS)
def test_a_broken_model_file_is_one_clear_error(kind: str, broken: dict, capsys) -> None:  # noqa: ANN001
    path, says = broken[kind]
    code, _, err = run(["translate", "reverse", "abc", "--weights", str(path)], capsys)
    one_line_error(code, err, says)
    with pytest.raises(ValueError) as info:
        load(path)
    assert says in str(info.value)


def test_a_missing_file_is_one_clear_error(tmp_path: Path, capsys) -> None:  # noqa: ANN001
    code, _, err = run(["evaluate", "copy", "--weights", str(tmp_path / "nothere.npz")], capsys)
    one_line_error(code, err, "no model file at")


def test_a_file_that_inflates_is_refused_without_reading_it(tmp_path: Path) -> None:
    """A weight entry whose data is far longer than its header says (a zip bomb: 64 MiB of
    zeros compress to 64 KiB) is refused from the sizes alone, in little memory."""
    m = members()
    header = npy(np.zeros((30,)))[: -30 * 8]  # the header of b_out, shape (30,)
    path = tmp_path / "bomb.npz"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in m.items():
            if name != "param/b_out.npy":
                z.writestr(name, data)
        with z.open("param/b_out.npy", "w", force_zip64=True) as f:
            f.write(header)
            for _ in range(64):
                f.write(bytes(2**20))
    assert path.stat().st_size < 2**20
    tracemalloc.start()
    with pytest.raises(ValueError, match="larger than its header says"):
        load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 16 * 2**20, f"loading took {peak / 2**20:.0f} MiB"


# --- the command line ------------------------------------------------------------------------


def test_weights_of_another_task_are_refused_by_translate_too(capsys) -> None:  # noqa: ANN001
    weights = str(SHIPPED / "reverse.npz")
    code, out, err = run(["translate", "copy", "hello world", "--weights", weights], capsys)
    one_line_error(code, err, "trained on 'reverse', not on 'copy'")
    assert out == ""


def test_an_infinite_learning_rate_is_refused(capsys) -> None:  # noqa: ANN001
    code, _, err = run(["train", "copy", "--lr", "inf", "--quiet"], capsys)
    one_line_error(code, err, "lr must be a finite number > 0", "inf")


def test_an_impossible_number_of_held_out_strings_is_refused(capsys) -> None:  # noqa: ANN001
    code, _, err = run(["evaluate", "copy", "-n", str(10**12)], capsys)
    one_line_error(code, err, "-n must be 1 to 100,000", "1000000000000")


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    """Training would take a minute: these cases must fail before it starts."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started although the output path is bad")

    monkeypatch.setattr("transformer_primer.train.train", refuse)


def test_out_naming_a_folder_fails_before_training(tmp_path: Path, no_training: None, capsys) -> None:  # noqa: ANN001
    code, _, err = run(["train", "copy", "--out", str(tmp_path), "--quiet"], capsys)
    one_line_error(code, err, "is a folder", "model.npz")


def test_out_in_a_missing_folder_fails_before_training(tmp_path: Path, no_training: None, capsys) -> None:  # noqa: ANN001
    code, _, err = run(["train", "copy", "--out", str(tmp_path / "no" / "x.npz"), "--quiet"], capsys)
    one_line_error(code, err, "does not exist")


@pytest.mark.skipif(
    not Path("/sys").is_dir() or os.access("/sys", os.W_OK) and sys.platform != "linux",
    reason="needs a folder that even root cannot write to (Linux's /sys)",
)
def test_out_in_an_unwritable_folder_fails_before_training(no_training: None, capsys) -> None:  # noqa: ANN001
    code, _, err = run(["train", "copy", "--out", "/sys/transformer-primer.npz", "--quiet"], capsys)
    one_line_error(code, err, "cannot write to the folder /sys")


def test_a_save_that_fails_leaves_nothing_behind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model, path = pretrained("copy"), tmp_path / "model.npz"
    path.write_bytes(b"the previous model")

    def full_disk(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(np, "savez_compressed", full_disk)
    with pytest.raises(OSError, match="No space left"):
        model.save(path)
    assert path.read_bytes() == b"the previous model"  # untouched: the new file never replaced it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.npz"]  # no temporary file left


@pytest.mark.parametrize(
    ("how", "usage"),
    [
        ([sys.executable, "-m", "transformer_primer"], "usage: python -m transformer_primer"),
        ([str(Path(sys.executable).with_name("transformer-primer"))], "usage: transformer-primer"),
    ],
)
def test_the_usage_line_names_the_command_that_was_run(how: list[str], usage: str) -> None:
    result = subprocess.run([*how, "--help"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith(usage), result.stdout[:200]


# --- requests that could never finish ---------------------------------------------------------


def test_more_distinct_strings_than_a_split_holds_is_an_error_not_a_hang() -> None:
    with pytest.raises(ValueError, match="could draw only .* distinct strings of the 'valid' split"):
        sample_strings(np.random.default_rng(0), 200, "valid", max_chars=1, distinct=True)


def test_batch_size_and_empty_texts() -> None:
    model = pretrained("copy")
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1, got -1"):
        model.translate_batch(["abc"], batch_size=-1)
    with pytest.raises(ValueError, match="texts must be a non-empty sequence"):
        model.exact_match([])
