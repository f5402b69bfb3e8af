"""Regularization: label smoothing, dropout and the paper's learning-rate schedule.

Three of the paper's training choices (Vaswani et al., 2017, section 5.3 and 5.4), each a
small function with its backward pass beside it:

- [label_smoothed_cross_entropy][transformer_primer.regularization.label_smoothed_cross_entropy]
  trains towards ``1 - smoothing`` on the right token and ``smoothing / vocab_size`` on every
  token (Szegedy et al., 2016);
- [dropout][transformer_primer.regularization.dropout] and
  [dropout_backward][transformer_primer.regularization.dropout_backward] zero each value with
  probability ``p`` in training and scale the rest by ``1 / (1 - p)`` (inverted dropout,
  Srivastava et al., 2014); [Dropout][transformer_primer.regularization.Dropout] keeps the
  masks of one training pass so that the backward pass uses the same ones;
- [paper_learning_rate][transformer_primer.regularization.paper_learning_rate] is
  ``d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)``.

The fourth, weight tying (Press and Wolf, 2017), is an option of the GPT itself:
``GPTConfig(tie_weights=True)``.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import as_array, check_float_array, check_positive_int, check_rng, describe

__all__ = [
    "Dropout",
    "dropout",
    "dropout_backward",
    "label_smoothed_cross_entropy",
    "paper_learning_rate",
]

Array = NDArray[np.floating]


def check_rate(name: str, value: object, *, upper: float = 1.0) -> float:
    """Return ``value`` as a float if it is a real number in ``[0, upper)``, else raise."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{name} must be a number in [0, {upper:g}), got {describe(value)}")
    if not (math.isfinite(value) and 0 <= value < upper):
        raise ValueError(f"{name} must be a number in [0, {upper:g}), got {value}")
    return float(value)


# --8<-- [start:label_smoothing]
def _smoothed_cross_entropy(
    logits: Array, targets: NDArray[np.integer], pad_id: int, smoothing: float
) -> tuple[float, Array, NDArray[np.bool_]]:
    """``label_smoothed_cross_entropy`` on inputs already checked."""
    real = targets != pad_id  # (..., n)
    count = int(real.sum())
    if count == 0:
        raise ValueError("targets must hold a token that is not padding, got only pad_id")
    vocab_size = logits.shape[-1]
    shifted = logits - logits.max(axis=-1, keepdims=True)  # (..., n, vocab_size), for stability
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))  # same shape
    onehot = np.eye(vocab_size)[targets]  # (..., n) -> (..., n, vocab_size)
    wanted = (1 - smoothing) * onehot + smoothing / vocab_size  # the smoothed target, rows sum to 1
    per_token = -(wanted * log_probs).sum(axis=-1)  # (..., n): cross-entropy against it
    loss = float(per_token[real].sum()) / count
    dlogits = np.where(real[..., None], np.exp(log_probs) - wanted, 0.0) / count  # padding: 0
    return loss, dlogits, real


# --8<-- [end:label_smoothing]


def label_smoothed_cross_entropy(
    logits: ArrayLike, targets: ArrayLike, pad_id: int, smoothing: float
) -> tuple[float, Array, NDArray[np.bool_]]:
    """Mean cross-entropy against smoothed targets, over the non-padding targets; and its gradient.

    The target distribution puts ``1 - smoothing`` on the right token and spreads
    ``smoothing`` evenly over the whole vocabulary (the right token included), as
    ``torch.nn.functional.cross_entropy(label_smoothing=smoothing)`` does:
    ``q = (1 - smoothing) * onehot(target) + smoothing / vocab_size``. The loss is
    ``-sum(q * log softmax(logits))`` averaged over the ``N`` real targets, and the gradient
    is ``(softmax(logits) - q) / N``; a padded position adds nothing and gets gradient 0.
    With ``smoothing = 0`` it is the plain cross-entropy of
    [cross_entropy][transformer_primer.grad.cross_entropy].

    Parameters
    ----------
    logits : array_like of float, shape (..., n, vocab_size)
    targets : array_like of int, shape (..., n)
        The right token at each position, ``pad_id`` where there is none.
    pad_id : int
        The padding id, in ``0 .. vocab_size - 1``.
    smoothing : float
        In ``[0, 1)``; the paper used 0.1.

    Returns
    -------
    loss : float
    dlogits : numpy.ndarray, shape (..., n, vocab_size)
    real : numpy.ndarray of bool, shape (..., n)
        Which targets are real tokens.

    Raises
    ------
    TypeError
        If ``logits`` is not floating-point, ``targets`` not integers, ``pad_id`` not an
        integer or ``smoothing`` not a number.
    ValueError
        If the shapes do not match, a target or ``pad_id`` is outside the vocabulary,
        ``smoothing`` is outside ``[0, 1)``, a logit is not finite, or every target is padding.

    Examples
    --------
    >>> import numpy as np
    >>> logits = np.array([[2.0, 0.0, 0.0]])  # the right token (0) already scores highest
    >>> loss, dlogits, real = label_smoothed_cross_entropy(logits, np.array([0]), pad_id=2, smoothing=0.3)
    >>> round(loss, 4), dlogits.round(3)  # the target is (0.8, 0.1, 0.1): pushed down, not up
    (0.6395, array([[-0.013,  0.007,  0.007]]))
    """
    logits = check_float_array("logits", logits, ndim=None, layout="(..., n, vocab_size)")
    vocab_size = logits.shape[-1]
    targets = as_array("targets", targets, "integer token ids")
    if targets.dtype.kind not in "iu":
        raise TypeError(f"targets must be integer token ids, got {describe(targets)}")
    if targets.shape != logits.shape[:-1]:
        raise ValueError(
            f"targets must have shape logits.shape[:-1] = {logits.shape[:-1]}, got shape {targets.shape}"
        )
    if targets.size and (targets.min() < 0 or targets.max() >= vocab_size):
        raise ValueError(
            f"targets must be in 0..{vocab_size - 1} (vocab_size = {vocab_size}), "
            f"got values from {targets.min()} to {targets.max()}"
        )
    pad_id = check_positive_int("pad_id", pad_id, minimum=0, maximum=vocab_size - 1)
    smoothing = check_rate("smoothing", smoothing)
    return _smoothed_cross_entropy(logits, targets, pad_id, smoothing)


# --8<-- [start:dropout]
def _dropout(x: Array, p: float, rng: np.random.Generator) -> tuple[Array, NDArray[np.bool_]]:
    """Inverted dropout in training, on inputs already checked: the output and the kept entries."""
    keep = rng.random(x.shape) >= p  # (...): True with probability 1 - p
    return np.where(keep, x / (1 - p), 0.0), keep  # the survivors scaled up: the mean is unchanged


def _dropout_backward(dout: Array, keep: NDArray[np.bool_], p: float) -> Array:
    """The same mask and the same scale: a dropped value passed nothing on, so gets no gradient."""
    return np.where(keep, dout / (1 - p), 0.0)  # (...)


# --8<-- [end:dropout]


def dropout(
    x: ArrayLike, p: float, rng: np.random.Generator, *, training: bool = True
) -> tuple[Array, NDArray[np.bool_]]:
    """Inverted dropout: zero each entry with probability ``p``, scale the rest by ``1 / (1 - p)``.

    In training every entry is kept with probability ``1 - p`` (a fresh draw from ``rng``)
    and divided by ``1 - p``, so the expected output equals ``x``; at evaluation nothing is
    dropped and nothing is scaled. That is why no rescaling is needed at test time (the
    "inverted" form; Srivastava et al. 2014 scale the weights at test time instead).

    Parameters
    ----------
    x : array_like of float, any shape
    p : float
        The probability of dropping an entry, in ``[0, 1)``; ``0`` is the identity.
    rng : numpy.random.Generator
        The source of the mask: the same seed gives the same mask.
    training : bool
        ``False``: the identity (``x`` itself is returned, and every entry counts as kept).

    Returns
    -------
    out : numpy.ndarray, same shape as ``x``
    keep : numpy.ndarray of bool, same shape as ``x``
        The entries kept: what [dropout_backward][transformer_primer.regularization.dropout_backward]
        needs.

    Raises
    ------
    TypeError
        If ``x`` is not floating-point, ``p`` not a number, ``rng`` not a Generator or
        ``training`` not a bool.
    ValueError
        If ``p`` is outside ``[0, 1)`` or ``x`` holds NaN or infinity.

    Examples
    --------
    >>> import numpy as np
    >>> out, keep = dropout(np.ones(8), 0.5, np.random.default_rng(0))
    >>> out  # about half dropped, the survivors doubled
    array([2., 0., 0., 0., 2., 2., 2., 2.])
    >>> dropout(np.ones(3), 0.5, np.random.default_rng(0), training=False)[0]
    array([1., 1., 1.])
    """
    x = check_float_array("x", x, min_ndim=0, allow_empty=True)
    p = check_rate("p", p)
    rng = check_rng(rng)
    if not isinstance(training, (bool, np.bool_)):
        raise TypeError(f"training must be True or False, got {describe(training)}")
    if not training or p == 0:
        return x, np.ones(x.shape, dtype=bool)
    return _dropout(x, p, rng)


def dropout_backward(dout: ArrayLike, keep: ArrayLike, p: float) -> Array:
    """Backward of [dropout][transformer_primer.regularization.dropout]: ``dout * keep / (1 - p)``.

    Parameters
    ----------
    dout : array_like of float, any shape
        The gradient at dropout's output.
    keep : array_like of bool, same shape
        The mask the forward pass drew.
    p : float
        The rate the forward pass used.

    Returns
    -------
    numpy.ndarray, same shape as ``dout``

    Raises
    ------
    TypeError
        If ``dout`` is not floating-point, ``keep`` not boolean or ``p`` not a number.
    ValueError
        If the shapes differ or ``p`` is outside ``[0, 1)``.

    Examples
    --------
    >>> import numpy as np
    >>> dropout_backward(np.ones(4), np.array([True, False, True, True]), 0.25)
    array([1.33333333, 0.        , 1.33333333, 1.33333333])
    """
    dout = check_float_array("dout", dout, min_ndim=0, allow_empty=True)
    keep = as_array("keep", keep, "a boolean mask")
    if keep.dtype != np.bool_:
        raise TypeError(f"keep must be a boolean mask (the one dropout returned), got {describe(keep)}")
    if keep.shape != dout.shape:
        raise ValueError(f"keep must have the shape of dout, {dout.shape}, got shape {keep.shape}")
    return _dropout_backward(dout, keep, check_rate("p", p))


class Dropout:
    """The dropout of one training pass: its rate, its generator, and every mask it drew, by name.

    A model calls it on each value to drop (``drop(x, "embed")``); the backward pass calls
    ``drop.backward(dout, "embed")`` and gets the same mask back. Made fresh for each
    training step; never used for evaluation or generation.

    Parameters
    ----------
    p : float
        The rate, in ``[0, 1)``.
    rng : numpy.random.Generator

    Raises
    ------
    TypeError, ValueError
        As [dropout][transformer_primer.regularization.dropout]; calling it twice with one
        name, or ``backward`` with a name never used, is a ValueError.

    Examples
    --------
    >>> import numpy as np
    >>> drop = Dropout(0.5, np.random.default_rng(0))
    >>> drop(np.ones(4), "embed")
    array([2., 0., 0., 0.])
    >>> drop.backward(np.ones(4), "embed")  # the same mask, the same scale
    array([2., 0., 0., 0.])
    """

    def __init__(self, p: float, rng: np.random.Generator) -> None:
        self.p = check_rate("p", p)
        self.rng = check_rng(rng)
        self.masks: dict[str, NDArray[np.bool_]] = {}

    def __call__(self, x: Array, name: str) -> Array:
        """``x`` with dropout applied; the mask is kept under ``name``."""
        if name in self.masks:
            raise ValueError(f"dropout {name!r} was already drawn in this pass: use each name once")
        out, self.masks[name] = _dropout(x, self.p, self.rng)
        return out

    def backward(self, dout: Array, name: str) -> Array:
        """The gradient through the dropout named ``name``: the same mask, the same scale."""
        if name not in self.masks:
            raise ValueError(f"no dropout named {name!r} in this pass; drawn: {sorted(self.masks)}")
        return _dropout_backward(dout, self.masks[name], self.p)


# --8<-- [start:paper_learning_rate]
def paper_learning_rate(step: int, d_model: int, warmup: int) -> float:
    """The paper's schedule: ``d_model^-0.5 * min(step^-0.5, step * warmup^-1.5)``.

    Vaswani et al. (2017), section 5.3: the rate grows linearly for ``warmup`` steps, then
    decays as the inverse square root of the step. It peaks at ``step = warmup`` with
    ``(d_model * warmup)^-0.5`` and never reaches zero; there is no separate peak to choose.
    The paper used ``warmup = 4000`` with ``d_model = 512``: a peak of about 7e-4.

    Parameters
    ----------
    step : int
        The step number, counted from 1 (``step^-0.5`` is not defined at 0).
    d_model : int
    warmup : int

    Returns
    -------
    float

    Raises
    ------
    TypeError
        If an argument is not an integer.
    ValueError
        If an argument is smaller than 1.

    Examples
    --------
    >>> [round(paper_learning_rate(s, 512, 4000), 6) for s in (1, 4000, 16000)]
    [0.0, 0.000699, 0.000349]
    """
    step = check_positive_int("step", step)
    d_model = check_positive_int("d_model", d_model)
    warmup = check_positive_int("warmup", warmup)
    return d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)


# --8<-- [end:paper_learning_rate]
