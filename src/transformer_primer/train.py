"""Training: Adam, a learning-rate schedule, padded batches and teacher forcing.

One training step: draw a batch of training strings, pad them, run the model forward with
teacher forcing, take the mean cross-entropy over the real (non-padding) target tokens,
backpropagate by hand ([transformer_primer.grad][]), clip the gradient, and let Adam move
every weight. Everything random comes from one seed, so the same seed gives the same model.

Speed: the arrays here are tiny, so each numpy call is short and BLAS threads only add
overhead. ``python -m transformer_primer train`` sets ``OMP_NUM_THREADS=1`` (and the
OpenBLAS and MKL equivalents) before numpy is imported, unless they are already set.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass
from typing import TextIO

import numpy as np
from numpy.typing import NDArray

from ._checks import check_bool, check_positive_float, check_positive_int
from .completer import COMPLETION_TASKS, Completer
from .gpt import GPT, GPTConfig
from .grad import gpt_loss_and_grads, loss_and_grads
from .model import Transformer, TransformerConfig
from .regularization import check_rate, paper_learning_rate
from .seq2seq import Seq2Seq
from .tasks import ALPHABET, MAX_CHARS, TASKS, make_batch, make_lm_batch, sample_additions, sample_strings
from .vocab import Vocab

__all__ = [
    "Adam",
    "GPTTrainConfig",
    "TrainConfig",
    "clip_by_global_norm",
    "learning_rate",
    "train",
    "train_gpt",
]

Array = NDArray[np.floating]


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; with the same values it gives the same model.

    Examples
    --------
    >>> TrainConfig(task="copy", steps=10).batch_size
    64
    """

    task: str  # "reverse", "copy" or "sort"
    seed: int = 0  # the one source of randomness: initial weights and training batches
    steps: int = 2000  # Adam updates
    batch_size: int = 64  # strings per step
    lr: float = 5e-3  # peak learning rate, reached after the warm-up
    warmup: int = 200  # steps of linear warm-up from 0
    clip: float = 1.0  # the gradient's global norm is scaled down to at most this
    d_model: int = 32  # model width
    n_heads: int = 2  # attention heads
    d_ff: int = 64  # feed-forward hidden width
    n_layers: int = 1  # encoder layers and decoder layers
    norm_first: bool = True  # pre-norm: trains more steadily than the paper's post-norm
    max_chars: int = MAX_CHARS  # longest source string
    eval_every: int = 250  # steps between two exact-match checks on the validation split
    eval_size: int = 200  # validation strings per check

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ValueError(f"task must be one of {sorted(TASKS)}, got {self.task!r}")
        for name in ("steps", "batch_size", "warmup", "max_chars", "eval_every", "eval_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("seed", self.seed, minimum=0)
        for name in ("lr", "clip"):
            check_positive_float(name, getattr(self, name))  # finite and > 0: --lr inf is refused

    def model_config(self, vocab_size: int) -> TransformerConfig:
        """The model's sizes; ``max_len`` holds the longest source plus start and end tokens."""
        return TransformerConfig(
            vocab_size=vocab_size,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_ff=self.d_ff,
            n_layers=self.n_layers,
            max_len=self.max_chars + 2,
            norm_first=self.norm_first,
        )


# --8<-- [start:learning_rate]
def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then a cosine decay to ``peak / 20``.

    Small steps first, while Adam's running averages are still poor estimates; the
    decay at the end lets the weights settle instead of jumping around a minimum.

    Parameters
    ----------
    step : int
        The step about to be taken, ``0 .. steps - 1``.
    steps : int
        The length of the run.
    peak : float
        The largest learning rate.
    warmup : int
        Steps of warm-up.

    Returns
    -------
    float

    Examples
    --------
    >>> [round(learning_rate(s, 100, 1.0, 10), 3) for s in (0, 9, 10, 55, 99)]
    [0.1, 1.0, 1.0, 0.517, 0.05]
    """
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - 1 - warmup)  # 0 -> 1
    floor = peak / 20
    return floor + (peak - floor) * 0.5 * (1 + math.cos(math.pi * progress))


# --8<-- [end:learning_rate]


# --8<-- [start:adam]
class Adam:
    """Adam (Kingma and Ba, 2015): a step per weight from running gradient averages.

    $$
    m \\leftarrow \\beta_1 m + (1-\\beta_1) g, \\quad
    v \\leftarrow \\beta_2 v + (1-\\beta_2) g^2, \\quad
    w \\leftarrow w - \\eta\\, \\frac{m / (1-\\beta_1^t)}{\\sqrt{v / (1-\\beta_2^t)} + \\epsilon}
    $$

    Each weight gets a step of about ``lr`` in the direction its gradient has kept
    pointing, whatever the gradient's scale.

    Parameters
    ----------
    params : dict of numpy.ndarray
        The arrays to train (``model.parameters()``); they are updated in place.
    beta_1, beta_2, eps : float
        The paper's values by default (the transformer paper uses ``beta_2 = 0.98``).

    Examples
    --------
    >>> import numpy as np
    >>> w = np.array([1.0, -1.0])
    >>> opt = Adam({"w": w})
    >>> opt.step({"w": np.array([0.5, -2.0])}, lr=0.1)
    >>> w  # each moved by lr against the sign of its gradient, whatever its size
    array([ 0.9, -0.9])
    """

    def __init__(
        self, params: dict[str, Array], beta_1: float = 0.9, beta_2: float = 0.98, eps: float = 1e-9
    ) -> None:
        self.params = params
        self.beta_1, self.beta_2, self.eps = beta_1, beta_2, eps
        self.m = {name: np.zeros_like(p) for name, p in params.items()}
        self.v = {name: np.zeros_like(p) for name, p in params.items()}
        self.t = 0

    def step(self, grads: dict[str, Array], lr: float) -> None:
        """Move every parameter one step against its gradient.

        Parameters
        ----------
        grads : dict of numpy.ndarray
            One gradient per parameter, same names and shapes.
        lr : float
            The learning rate for this step.
        """
        self.t += 1
        b1, b2 = self.beta_1, self.beta_2
        step = lr / (1 - b1**self.t)  # bias correction of m folded into the step size
        v_scale = 1 / math.sqrt(1 - b2**self.t)  # and of v
        for name, p in self.params.items():
            g, m, v = grads[name], self.m[name], self.v[name]
            m *= b1
            m += (1 - b1) * g  # running mean of the gradient
            v *= b2
            v += (1 - b2) * g * g  # running mean of its square
            p -= step * m / (np.sqrt(v) * v_scale + self.eps)  # in place: the model's own array


# --8<-- [end:adam]


def clip_by_global_norm(grads: dict[str, Array], max_norm: float) -> float:
    """Scale all gradients down together if their joint norm exceeds ``max_norm``.

    Parameters
    ----------
    grads : dict of numpy.ndarray
        Changed in place.
    max_norm : float

    Returns
    -------
    float
        The norm before clipping.

    Examples
    --------
    >>> import numpy as np
    >>> g = {"a": np.array([3.0]), "b": np.array([4.0])}
    >>> clip_by_global_norm(g, 1.0), g["a"], g["b"]
    (5.0, array([0.6]), array([0.8]))
    """
    norm = math.sqrt(sum(float(np.sum(g * g)) for g in grads.values()))
    if norm > max_norm:
        for g in grads.values():
            g *= max_norm / norm
    return norm


class _Progress:
    """A one-line progress bar on a terminal; a line per check otherwise (for logs)."""

    def __init__(self, stream: TextIO | None, task: str, steps: int) -> None:
        self.stream, self.task, self.steps = stream, task, steps
        self.tty = bool(stream is not None and stream.isatty())
        self.start = time.perf_counter()

    def update(self, step: int, loss: float, acc: float, exact: float | None, final: bool = False) -> None:
        if self.stream is None:
            return
        filled = int(20 * step / self.steps)
        bar = "#" * filled + "." * (20 - filled)
        shown = f"  valid exact {exact:.3f}" if exact is not None else ""
        line = (
            f"{self.task} [{bar}] {step}/{self.steps}  loss {loss:.4f}  token acc {acc:.3f}"
            f"{shown}  {time.perf_counter() - self.start:.1f}s"
        )
        if self.tty:
            self.stream.write("\r" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()


# --8<-- [start:train]
def train(config: TrainConfig, progress: TextIO | None = sys.stderr) -> Seq2Seq:
    """Train a model from scratch on ``config.task``.

    Parameters
    ----------
    config : TrainConfig
        Sizes, steps, learning rate and seed.
    progress : text stream, optional
        Where the progress bar goes (standard error by default); ``None`` for silence.

    Returns
    -------
    Seq2Seq
        The trained model, with its training history (loss, token accuracy and
        validation exact match along the way) and its config in ``metadata``.

    Examples
    --------
    >>> model = train(TrainConfig(task="copy", steps=2, d_model=8, n_heads=2, d_ff=8,
    ...                           n_layers=1, eval_every=2, eval_size=4), progress=None)
    >>> model.history["step"].tolist()
    [1, 2]
    """
    seeds = np.random.SeedSequence(config.seed).spawn(3)
    init_rng, data_rng, valid_rng = (np.random.default_rng(s) for s in seeds)
    vocab = Vocab(ALPHABET)
    model = Transformer(config.model_config(len(vocab)), init_rng)
    seq2seq = Seq2Seq(model, vocab, config.task, config.max_chars)
    valid = sample_strings(valid_rng, config.eval_size, "valid", max_chars=config.max_chars, distinct=True)
    optimizer = Adam(model.parameters())
    bar = _Progress(progress, config.task, config.steps)
    curves = ("step", "loss", "token_accuracy", "valid_step", "valid_exact")
    history: dict[str, list[float]] = {name: [] for name in curves}
    start, start_cpu = time.perf_counter(), time.process_time()
    window_loss, window_correct, window_tokens, exact = 0.0, 0, 0, None
    log_every = max(1, config.eval_every // 10)  # every check of the validation set is also a log point
    for step in range(config.steps):
        texts = sample_strings(data_rng, config.batch_size, "train", max_chars=config.max_chars)
        src_ids, tgt_in, tgt_out = make_batch(vocab, config.task, texts)  # teacher forcing
        loss, grads, counts = loss_and_grads(model, src_ids, tgt_in, tgt_out)
        clip_by_global_norm(grads, config.clip)
        optimizer.step(grads, learning_rate(step, config.steps, config.lr, config.warmup))
        window_loss += loss * counts["tokens"]
        window_correct += counts["correct"]
        window_tokens += counts["tokens"]
        done = step + 1
        if done % config.eval_every == 0 or done == config.steps:  # greedy decoding, no teacher
            exact = seq2seq.exact_match(valid)
            history["valid_step"].append(done)
            history["valid_exact"].append(exact)
        if done % log_every == 0 or done == config.steps:
            history["step"].append(done)
            history["loss"].append(window_loss / window_tokens)
            history["token_accuracy"].append(window_correct / window_tokens)
            loss_now, accuracy_now = history["loss"][-1], history["token_accuracy"][-1]
            bar.update(done, loss_now, accuracy_now, exact, done == config.steps)
            window_loss, window_correct, window_tokens = 0.0, 0, 0
    seq2seq.history = {name: np.asarray(values) for name, values in history.items()}
    seq2seq.metadata = {
        "train_config": asdict(config),
        "train_seconds": round(time.perf_counter() - start, 1),  # wall clock
        # CPU time: what a busy machine does not inflate
        "train_cpu_seconds": round(time.process_time() - start_cpu, 1),
        "parameters": sum(p.size for p in model.parameters().values()),
    }
    return seq2seq


# --8<-- [end:train]


SCHEDULES = ("cosine", "paper")
"""The learning-rate schedules of ``GPTTrainConfig.schedule``."""


@dataclass(frozen=True)
class GPTTrainConfig:
    """Everything a decoder-only training run depends on; the same values give the same model.

    Examples
    --------
    >>> GPTTrainConfig(steps=10).model_config(vocab_size=15).max_len
    10
    """

    task: str = "add"  # the one decoder-only task: "37+48=" -> "85"
    seed: int = 0  # the one source of randomness: initial weights and training batches
    steps: int = 3000  # Adam updates
    batch_size: int = 64  # prompts per step
    lr: float = 3e-3  # peak learning rate, reached after the warm-up
    warmup: int = 200  # steps of linear warm-up from 0
    clip: float = 1.0  # the gradient's global norm is scaled down to at most this
    d_model: int = 64  # model width
    n_heads: int = 4  # attention heads
    d_ff: int = 256  # feed-forward hidden width
    n_layers: int = 2  # blocks
    eval_every: int = 500  # steps between two exact-match checks on the validation split
    eval_size: int = 200  # validation prompts per check
    # regularization (the regularization lesson); every default is off, as the shipped model
    smoothing: float = 0.0  # label smoothing of the targets (the paper: 0.1)
    dropout: float = 0.0  # dropout rate in training, never at evaluation (the paper: 0.1)
    tie_weights: bool = False  # the output projection is the embedding table transposed
    schedule: str = "cosine"  # "cosine": warm-up then cosine to lr / 20; "paper": section 5.3 (no lr)
    train_size: int = 0  # 0: fresh prompts every step; else a fixed training set of that many prompts

    def __post_init__(self) -> None:
        if self.task not in COMPLETION_TASKS:
            raise ValueError(f"task must be one of {sorted(COMPLETION_TASKS)}, got {self.task!r}")
        for name in ("steps", "batch_size", "warmup", "eval_every", "eval_size"):
            check_positive_int(name, getattr(self, name))
        check_positive_int("seed", self.seed, minimum=0)
        check_positive_int("train_size", self.train_size, minimum=0)
        for name in ("lr", "clip"):
            check_positive_float(name, getattr(self, name))
        for name in ("smoothing", "dropout"):
            check_rate(name, getattr(self, name))
        check_bool("tie_weights", self.tie_weights)
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule must be one of {SCHEDULES}, got {self.schedule!r}")

    def model_config(self, vocab_size: int) -> GPTConfig:
        """The model's sizes; ``max_len`` holds the start token, the longest prompt and answer."""
        max_prompt = COMPLETION_TASKS[self.task][1]
        return GPTConfig(
            vocab_size=vocab_size,
            d_model=self.d_model,
            n_heads=self.n_heads,
            d_ff=self.d_ff,
            n_layers=self.n_layers,
            max_len=max_prompt + 4,  # <bos> + "99+99=" + "198": the end token is only a target
            tie_weights=self.tie_weights,
        )

    def learning_rate(self, step: int) -> float:
        """The rate of step ``step`` (``0 .. steps - 1``) under ``schedule``."""
        if self.schedule == "paper":
            return paper_learning_rate(step + 1, self.d_model, self.warmup)  # the paper counts from 1
        return learning_rate(step, self.steps, self.lr, self.warmup)


# --8<-- [start:train_gpt]
def train_gpt(config: GPTTrainConfig, progress: TextIO | None = sys.stderr) -> Completer:
    """Train a decoder-only model from scratch on ``config.task``: next-token prediction.

    The loop of [train][transformer_primer.train.train] (Adam, warm-up and cosine decay,
    gradient clipping), with the GPT's batches: each row is a prompt and its answer, and
    only the answer's tokens are targets.

    Parameters
    ----------
    config : GPTTrainConfig
    progress : text stream, optional
        Where the progress bar goes (standard error by default); ``None`` for silence.

    Returns
    -------
    Completer
        The trained model, its training history and its config in ``metadata``.

    Examples
    --------
    >>> model = train_gpt(GPTTrainConfig(steps=2, d_model=8, n_heads=2, d_ff=8, n_layers=1,
    ...                                  eval_every=2, eval_size=4), progress=None)
    >>> model.history["step"].tolist()
    [1, 2]
    """
    seeds = np.random.SeedSequence(config.seed).spawn(5)  # the first three are the ones earlier versions drew
    init_rng, data_rng, valid_rng, drop_rng, pool_rng = (np.random.default_rng(s) for s in seeds)
    chars, max_prompt = COMPLETION_TASKS[config.task]
    vocab = Vocab(chars)
    gpt = GPT(config.model_config(len(vocab)), init_rng)
    completer = Completer(gpt, vocab, config.task, max_prompt)
    valid = sample_additions(valid_rng, config.eval_size, "valid", distinct=True)
    pool = sample_additions(pool_rng, config.train_size, "train", distinct=True) if config.train_size else []
    optimizer = Adam(gpt.parameters())
    bar = _Progress(progress, config.task, config.steps)
    curves = ("step", "loss", "token_accuracy", "valid_step", "valid_exact")
    history: dict[str, list[float]] = {name: [] for name in curves}
    start, start_cpu = time.perf_counter(), time.process_time()
    window_loss, window_correct, window_tokens, exact = 0.0, 0, 0, None
    log_every = max(1, config.eval_every // 10)
    for step in range(config.steps):
        if pool:  # a fixed training set: the batch is drawn from it
            prompts = [pool[i] for i in data_rng.choice(len(pool), config.batch_size)]
        else:
            prompts = sample_additions(data_rng, config.batch_size, "train")
        ids, targets = make_lm_batch(vocab, prompts)
        loss, grads, counts = gpt_loss_and_grads(
            gpt, ids, targets, smoothing=config.smoothing, dropout=config.dropout, rng=drop_rng
        )
        clip_by_global_norm(grads, config.clip)
        optimizer.step(grads, config.learning_rate(step))
        window_loss += loss * counts["tokens"]
        window_correct += counts["correct"]
        window_tokens += counts["tokens"]
        done = step + 1
        if done % config.eval_every == 0 or done == config.steps:  # greedy generation, no teacher
            exact = completer.exact_match(valid)
            history["valid_step"].append(done)
            history["valid_exact"].append(exact)
        if done % log_every == 0 or done == config.steps:
            history["step"].append(done)
            history["loss"].append(window_loss / window_tokens)
            history["token_accuracy"].append(window_correct / window_tokens)
            bar.update(done, history["loss"][-1], history["token_accuracy"][-1], exact, done == config.steps)
            window_loss, window_correct, window_tokens = 0.0, 0, 0
    completer.history = {name: np.asarray(values) for name, values in history.items()}
    completer.metadata = {
        "train_config": asdict(config),
        "train_seconds": round(time.perf_counter() - start, 1),  # wall clock
        "train_cpu_seconds": round(time.process_time() - start_cpu, 1),  # one core's work
        "parameters": sum(p.size for p in gpt.parameters().values()),
    }
    return completer


# --8<-- [end:train_gpt]
