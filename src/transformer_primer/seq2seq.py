"""Seq2Seq: a character-level encoder-decoder that reverses, copies or sorts text.

``pretrained("reverse")`` loads the weights shipped in the package
(``transformer_primer/weights/reverse.npz``), which ``python -m transformer_primer train
reverse`` produced; ``translate`` runs the greedy decoder, one token at a time, until the
end token.

The ``.npz`` file holds plain arrays only (no pickles): each weight under ``param/<name>``,
the training history under ``history/<name>``, and the model config and training metadata
(seed, command, time, parameter count) as JSON text.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, fields
from importlib import resources
from pathlib import Path
from typing import Any, Protocol, TypeVar

import numpy as np
from numpy.typing import NDArray

from ._checks import check_positive_int, describe
from .model import Transformer, TransformerConfig
from .tasks import MAX_CHARS, TASKS
from .vocab import Vocab

__all__ = ["MAX_FILE_BYTES", "MAX_LOADED_LEN", "Seq2Seq", "check_writable", "load", "pretrained"]


class _ModelConfig(Protocol):
    """What ``check_config`` needs of a config: the longest sequence it makes a table for."""

    @property
    def max_len(self) -> int: ...


ConfigT = TypeVar("ConfigT", bound=_ModelConfig)


class Seq2Seq:
    """A trained encoder-decoder with its vocabulary: text in, text out.

    Parameters
    ----------
    model : Transformer
        The encoder-decoder.
    vocab : Vocab
        Its characters and special tokens (ids must match ``model.config``).
    task : str
        What it was trained to do (``"reverse"``, ``"copy"`` or ``"sort"``).
    max_chars : int
        The longest input it was trained on; longer inputs are refused.

    Attributes
    ----------
    history : dict of numpy.ndarray
        The training curves: ``step``, ``loss``, ``token_accuracy``, ``valid_step``,
        ``valid_exact`` (empty for an untrained model).
    metadata : dict
        How it was trained: ``train_config``, ``train_seconds``, ``parameters``, ``command``.

    Examples
    --------
    >>> model = pretrained("reverse")
    >>> model.translate("hello world")
    'dlrow olleh'
    """

    def __init__(self, model: Transformer, vocab: Vocab, task: str, max_chars: int = MAX_CHARS) -> None:
        c = model.config
        if (c.pad_id, c.bos_id, c.eos_id, c.vocab_size) != (
            vocab.pad_id,
            vocab.bos_id,
            vocab.eos_id,
            len(vocab),
        ):
            raise ValueError(f"the model's special ids and vocab_size do not match the vocabulary {vocab!r}")
        if max_chars + 2 > c.max_len:
            raise ValueError(f"max_chars + 2 must be <= max_len = {c.max_len}, got max_chars = {max_chars}")
        self.model, self.vocab, self.task, self.max_chars = model, vocab, task, max_chars
        self.history: dict[str, NDArray[np.generic]] = {}
        self.metadata: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"<Seq2Seq task={self.task!r} parameters={self.n_parameters}>"

    @property
    def n_parameters(self) -> int:
        """How many numbers the model learned."""
        return sum(p.size for p in self.model.parameters().values())

    def encode(self, text: str) -> NDArray[np.int64]:
        """The source ids of ``text``, after checking it.

        Parameters
        ----------
        text : str
            1 to ``max_chars`` characters of the vocabulary.

        Returns
        -------
        numpy.ndarray of int64, shape (len(text),)

        Raises
        ------
        TypeError
            If ``text`` is not a string.
        ValueError
            If it is empty, too long, or holds characters outside the vocabulary (named).

        Examples
        --------
        >>> pretrained("copy").encode("Hi")
        Traceback (most recent call last):
        ...
        ValueError: text holds characters outside the vocabulary: 'H'
        (the vocabulary is ' abcdefghijklmnopqrstuvwxyz')
        """
        ids = self.vocab.encode(text)  # checks the type and the characters
        if not 1 <= len(ids) <= self.max_chars:
            raise ValueError(
                f"text must have 1 to {self.max_chars} characters (the model was trained on those), "
                f"got {len(ids)}"
            )
        return np.array(ids, dtype=np.int64)

    def translate(self, text: str) -> str:
        """Greedy decoding: the output text for ``text``.

        Parameters
        ----------
        text : str
            1 to ``max_chars`` lowercase letters and spaces.

        Returns
        -------
        str

        Raises
        ------
        TypeError, ValueError
            As [encode][transformer_primer.seq2seq.Seq2Seq.encode].

        Examples
        --------
        >>> pretrained("sort").translate("hello world")
        ' dehllloorw'
        """
        ids = self.model.greedy_decode(self.encode(text), max_new_tokens=self.max_chars + 1)
        return self.vocab.decode(ids)

    def translate_batch(self, texts: Sequence[str], batch_size: int = 500) -> list[str]:
        """[translate][transformer_primer.seq2seq.Seq2Seq.translate] for many texts, batched.

        Parameters
        ----------
        texts : sequence of str
        batch_size : int
            Texts decoded together.

        Returns
        -------
        list of str, one per text

        Raises
        ------
        TypeError
            If ``texts`` is one string rather than a sequence of them, a text is not a string,
            or ``batch_size`` is not an integer.
        ValueError
            If ``batch_size`` < 1, or a text is empty, too long or has characters outside
            the vocabulary.

        Examples
        --------
        >>> pretrained("copy").translate_batch(["abc", "hello world"])
        ['abc', 'hello world']
        """
        batch_size = check_positive_int("batch_size", batch_size)
        if isinstance(texts, str):
            raise TypeError(f"texts must be a sequence of strings, not one string: got {texts!r}")
        for text in texts:
            self.encode(text)  # the same checks and messages as translate
        out: list[str] = []
        for start in range(0, len(texts), batch_size):
            chunk = list(texts[start : start + batch_size])
            src_ids = self.vocab.encode_batch(chunk)  # (batch, n_x), padded
            decoded = self.model.greedy_decode_batch(src_ids, max_new_tokens=self.max_chars + 1)
            out.extend(self.vocab.decode(ids) for ids in decoded)
        return out

    def exact_match(self, texts: Sequence[str]) -> float:
        """The fraction of ``texts`` whose whole output is right, character for character.

        Parameters
        ----------
        texts : sequence of str

        Returns
        -------
        float, in [0, 1]

        Raises
        ------
        TypeError, ValueError
            If ``texts`` is empty or one string, or as
            [translate_batch][transformer_primer.seq2seq.Seq2Seq.translate_batch].

        Examples
        --------
        >>> pretrained("reverse").exact_match(["abc", "hello world"])
        1.0
        """
        if isinstance(texts, str) or not len(texts):
            raise ValueError(f"texts must be a non-empty sequence of strings, got {describe(texts)}")
        outputs = self.translate_batch(texts)
        wanted = [TASKS[self.task](t) for t in texts]
        return sum(o == w for o, w in zip(outputs, wanted, strict=True)) / len(texts)

    def save(self, path: str | Path) -> None:
        """Write the weights, config, history and metadata to an ``.npz`` file (no pickles).

        The file is written whole or not at all: to a temporary file in the same folder,
        renamed over ``path`` only once it is complete, so an error (a full disk, an
        interrupted run) never leaves a half-written model behind.

        Parameters
        ----------
        path : str or pathlib.Path

        Raises
        ------
        ValueError
            If ``path`` names a folder, or its folder does not exist or cannot be written to.
        """
        info = {"task": self.task, "chars": self.vocab.chars, "max_chars": self.max_chars, **self.metadata}
        write_model_file(path, self.model.parameters(), self.history, asdict(self.model.config), info)


def write_model_file(
    path: str | Path,
    params: dict[str, NDArray[np.floating]],
    history: dict[str, NDArray[np.generic]],
    config: dict[str, Any],
    metadata: dict[str, Any],
) -> None:
    """Write a model file atomically: ``param/<name>``, ``history/<name>``, JSON config and metadata.

    Shared by [Seq2Seq.save][transformer_primer.seq2seq.Seq2Seq.save] and the decoder-only
    [Completer.save][transformer_primer.completer.Completer.save]; see the former.
    """
    path = check_writable("path", path)
    arrays: dict[str, NDArray[np.generic]] = {f"param/{name}": p for name, p in params.items()}
    arrays.update({f"history/{name}": h for name, h in history.items()})
    arrays["config"] = np.array(json.dumps(config))
    arrays["metadata"] = np.array(json.dumps(metadata))
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp", delete=False
    ) as f:
        tmp = Path(f.name)
        try:
            np.savez_compressed(f, allow_pickle=False, **arrays)  # an open file: no ".npz" added
        except BaseException:
            f.close()
            tmp.unlink(missing_ok=True)
            raise
    umask = os.umask(0)  # read the process's umask (there is no other way) and put it back
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # the temporary file is private (0600); a saved model is not
    os.replace(tmp, path)  # atomic on one file system


def check_writable(name: str, path: str | Path) -> Path:
    """Return ``path`` as a Path if a file can be written there; say what is wrong otherwise.

    Creates and removes a small temporary file in the folder: the only sure test that the
    folder takes new files (permissions, a read-only mount, a full disk).

    Raises
    ------
    TypeError
        If ``path`` is not a string or a Path.
    ValueError
        If it names a folder, or its folder does not exist or cannot be written to.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a file path, got {describe(path)}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder: give a file name for the model, e.g. {path / 'model.npz'}")
    if not path.parent.is_dir():
        raise ValueError(f"the folder {path.parent} does not exist: create it first, or write elsewhere")
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=".write-test-"):
            pass
    except OSError as err:
        raise ValueError(
            f"cannot write to the folder {path.parent} ({err.strerror}): choose another path"
        ) from None
    return path


MAX_FILE_BYTES = 64 * 2**20
"""The largest model file ``load`` reads (64 MiB; the shipped ones are about 200 KB)."""

MAX_LOADED_LEN = 4096
"""The longest ``max_len`` a loaded model may have (its positional table is built, not stored)."""

_JSON_BYTES = 1 << 16  # the config and the metadata are a few hundred bytes


def load(path: str | Path) -> Seq2Seq:
    """Load a model written by [Seq2Seq.save][transformer_primer.seq2seq.Seq2Seq.save], checking it.

    A model file is an archive written by someone else: before anything is allocated, its
    size, its members and each array's header are checked; then the config and the
    metadata (small JSON texts), the shape, dtype and finiteness of every weight. Memory
    stays bounded by what the config says the model needs, whatever the file claims.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Seq2Seq

    Raises
    ------
    FileNotFoundError
        If there is no file at ``path``.
    TypeError
        If ``path`` is not a string or a Path.
    ValueError
        If ``path`` is a folder, or the file is not a model file: not an ``.npz`` archive,
        too large, holding object arrays (pickles), a config or metadata that is not the
        expected JSON, a missing weight (a pre-norm file written before the final layer
        norms were added is named as such), or a weight of the wrong shape, dtype or with
        NaN or infinity. The message names the file and what is wrong.
    """
    path, archive = open_model_file(path)
    with archive:
        members = {info.filename.removesuffix(".npy"): info for info in archive.infolist()}
        config = _read_config(path, archive, members)
        info = _read_json(path, archive, members, "metadata")
        task, chars, max_chars = _read_metadata(path, info, config)
        _refuse_without_final_norms(path, members, config, task)
        model = Transformer(config, np.random.default_rng(0))  # shapes only: every weight is replaced
        for name, p in model.parameters().items():
            p[...] = _read_array(path, archive, members, f"param/{name}", p.shape)  # in place
        history = {
            key.removeprefix("history/"): _read_array(path, archive, members, key, None)
            for key in members
            if key.startswith("history/")
        }
    refuse_unknown_entries(path, members)
    seq2seq = Seq2Seq(model, Vocab(chars), task, max_chars)
    seq2seq.history, seq2seq.metadata = history, info
    return seq2seq


def _refuse_without_final_norms(
    path: Path, members: dict[str, zipfile.ZipInfo], config: TransformerConfig, task: str
) -> None:
    """Refuse a pre-norm file from before the final layer norms (0.2.x): it cannot be run as it was."""
    if config.norm_first and not any(
        k.startswith(("param/encoder_norm.", "param/decoder_norm.")) for k in members
    ):
        raise ValueError(
            f"{path}: a pre-norm model without the final layer norms (encoder_norm, decoder_norm), "
            f"written by an older version: retrain it with `python -m transformer_primer train {task}`"
        )


def open_model_file(path: str | Path) -> tuple[Path, zipfile.ZipFile]:
    """The checked path and the open archive of a model file, before anything is read from it.

    Raises
    ------
    FileNotFoundError, TypeError, ValueError
        As [load][transformer_primer.seq2seq.load]: not a path, a folder, no file, a file
        too large, or not a zip archive.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file path, got {describe(path)}")
    path = Path(path)
    if path.is_dir():
        raise ValueError(f"{path} is a folder, not a model file (an .npz file written by `train`)")
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    size = path.stat().st_size
    if size > MAX_FILE_BYTES:
        raise ValueError(
            f"{path} is {size / 2**20:.1f} MiB: not a model file of this package (at most "
            f"{MAX_FILE_BYTES // 2**20} MiB)"
        )
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as err:
        raise ValueError(f"{path} is not a model file: not a readable .npz archive ({err})") from None
    return path, archive


def refuse_unknown_entries(path: Path, members: dict[str, zipfile.ZipInfo]) -> None:
    """Refuse an archive with entries other than the config, the metadata, weights and history."""
    unknown = sorted(
        k for k in members if k not in ("config", "metadata") and not k.startswith(("param/", "history/"))
    )
    if unknown:
        raise ValueError(f"{path}: unexpected entries {unknown[:3]}: not a model file of this package")


def _header(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype of an ``.npy`` member, read from its header alone."""
    with archive.open(info) as f:
        try:
            version = np.lib.format.read_magic(f)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(f)  # the header only, no data
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(f)
            else:
                raise ValueError(f"unknown .npy version {version}")
        except (ValueError, OSError, SyntaxError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: the entry {info.filename!r} is not a numpy array ({err})") from None
    return shape, dtype


def _read(path: Path, archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> NDArray[Any]:
    """Read one ``.npy`` member (no pickles), its size already checked."""
    with archive.open(info) as f:
        try:
            return np.lib.format.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as err:
            raise ValueError(f"{path}: the entry {info.filename!r} cannot be read ({err})") from None


def _read_array(
    path: Path,
    archive: zipfile.ZipFile,
    members: dict[str, zipfile.ZipInfo],
    key: str,
    shape: tuple[int, ...] | None,
) -> NDArray[Any]:
    """A float array: of ``shape`` for a weight, 1-D and at most a million numbers for history."""
    if key not in members:
        raise ValueError(f"{path}: the weight {key.removeprefix('param/')!r} is missing")
    found, dtype = _header(path, archive, members[key])
    what = "weight" if shape is not None else "history"
    if dtype.kind not in "fiu" or dtype.itemsize > 8:
        raise ValueError(f"{path}: the {what} {key!r} has dtype {dtype}, not float64")
    if (shape is not None and found != shape) or (shape is None and (len(found) != 1 or found[0] > 10**6)):
        wanted = shape if shape is not None else "(steps,), at most 1,000,000"
        raise ValueError(f"{path}: the {what} {key!r} must have shape {wanted}, found {found}")
    if members[key].file_size > math.prod(found) * dtype.itemsize + 4096:  # data plus the header
        raise ValueError(f"{path}: the entry {key!r} is larger than its header says")
    array = _read(path, archive, members[key])
    if not np.isfinite(array).all():
        raise ValueError(f"{path}: the {what} {key!r} holds NaN or infinity: the model is broken")
    return array


def _read_json(
    path: Path, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo], key: str
) -> dict[str, Any]:
    """The JSON object stored as a 0-d text array under ``key`` (the config, the metadata)."""
    if key not in members:
        raise ValueError(f"{path}: no {key} in the file: not a model file written by `train`")
    if members[key].file_size > _JSON_BYTES:
        raise ValueError(f"{path}: the {key} is {members[key].file_size} bytes, too large to be one")
    shape, dtype = _header(path, archive, members[key])
    if shape != () or dtype.kind != "U":
        raise ValueError(
            f"{path}: the {key} must be a text, found an array of shape {shape} and dtype {dtype}"
        )
    try:
        value = json.loads(str(_read(path, archive, members[key])))
    except (ValueError, RecursionError) as err:  # RecursionError: nested far too deep
        raise ValueError(f"{path}: the {key} is not valid JSON ({str(err)[:80]})") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: the {key} must be a JSON object, found {type(value).__name__}")
    return value


def _read_config(
    path: Path, archive: zipfile.ZipFile, members: dict[str, zipfile.ZipInfo]
) -> TransformerConfig:
    """The model's sizes, checked: the right fields, and a max_len whose table fits."""
    return check_config(path, _read_json(path, archive, members, "config"), TransformerConfig)


def check_config(
    path: Path, raw: dict[str, Any], config_class: type[ConfigT], optional: frozenset[str] = frozenset()
) -> ConfigT:
    """``config_class(**raw)`` for a model file: exactly its fields, valid, a max_len that fits.

    Shared by every model file the package reads (the encoder-decoder's and the GPT's).
    ``optional`` names fields added after files were shipped (e.g. ``tie_weights``): an
    older file without them gets their defaults, which is what the older code did.
    """
    wanted = {f.name for f in fields(config_class)}  # type: ignore[arg-type]  # a dataclass
    if not wanted - optional <= set(raw) <= wanted:
        raise ValueError(f"{path}: the config must have the fields {sorted(wanted)}, found {sorted(raw)}")
    try:
        config = config_class(**raw)
    except (TypeError, ValueError) as err:
        raise ValueError(f"{path}: the config is not valid: {err}") from None
    if config.max_len > MAX_LOADED_LEN:
        raise ValueError(f"{path}: the config's max_len is {config.max_len}, more than {MAX_LOADED_LEN}")
    return config


def _read_metadata(path: Path, info: dict[str, Any], config: TransformerConfig) -> tuple[str, str, int]:
    """The task, the characters and the longest input, checked against the config."""
    task, chars, max_chars = info.pop("task", None), info.pop("chars", None), info.pop("max_chars", None)
    if task not in TASKS:
        raise ValueError(f"{path}: the metadata's task must be one of {sorted(TASKS)}, found {task!r}")
    if not isinstance(chars, str) or len(chars) + 3 != config.vocab_size:
        raise ValueError(f"{path}: the metadata's characters do not match the config's vocab_size")
    if (
        isinstance(max_chars, bool)
        or not isinstance(max_chars, int)
        or not 1 <= max_chars <= config.max_len - 2
    ):
        raise ValueError(f"{path}: the metadata's max_chars must be 1 to max_len - 2, found {max_chars!r}")
    return task, chars, max_chars


# --8<-- [start:pretrained]
def pretrained(name: str) -> Seq2Seq:
    """The trained model shipped with the package for task ``name``.

    Parameters
    ----------
    name : str
        ``"reverse"``, ``"copy"`` or ``"sort"``.

    Returns
    -------
    Seq2Seq

    Raises
    ------
    ValueError
        If ``name`` is not one of the tasks.

    Examples
    --------
    >>> pretrained("reverse").translate("hello world")
    'dlrow olleh'
    """
    if not isinstance(name, str) or name not in TASKS:
        raise ValueError(f"name must be one of {sorted(TASKS)}, got {describe(name)}")
    weights = resources.files("transformer_primer") / "weights" / f"{name}.npz"
    with resources.as_file(weights) as path:
        return load(path)


# --8<-- [end:pretrained]
