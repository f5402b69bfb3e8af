"""An Elman RNN, for the comparison with attention.

``h_t = tanh(x_t W_x + h_{t-1} W_h + b)``: each step needs the previous one, so a
sequence of ``n`` tokens takes ``n`` steps one after another.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from ._checks import check_float_array, check_positive_int, check_rng, check_size

__all__ = ["ElmanRNN"]

Array = NDArray[np.floating]


class ElmanRNN:
    """A single-layer Elman recurrent network.

    Parameters
    ----------
    d_in : int
        Size of each input vector ``x_t``.
    d_hidden : int
        Size of the hidden state ``h_t``.
    rng : numpy.random.Generator
        Source of the initial weights.

    Raises
    ------
    TypeError
        If a size is not an integer, ``rng`` is not a Generator, or (when called) ``x``
        or ``h0`` is not a float array.
    ValueError
        If a size is not positive, or (when called) ``x`` is not (n, d_in) or ``h0`` not
        (d_hidden,), or an input is empty or holds NaN or infinity.

    Attributes
    ----------
    w_x : numpy.ndarray, shape (d_in, d_hidden)
    w_h : numpy.ndarray, shape (d_hidden, d_hidden)
    b : numpy.ndarray, shape (d_hidden,)

    Examples
    --------
    >>> import numpy as np
    >>> rnn = ElmanRNN(d_in=3, d_hidden=4, rng=np.random.default_rng(0))
    >>> rnn(np.ones((5, 3))).shape  # one hidden state per step
    (5, 4)
    """

    def __init__(self, d_in: int, d_hidden: int, rng: np.random.Generator) -> None:
        self.d_in = check_positive_int("d_in", d_in)
        self.d_hidden = check_positive_int("d_hidden", d_hidden)
        rng = check_rng(rng)
        check_size("d_hidden", (d_in + d_hidden, d_hidden), np.float64, "the weights W_x and W_h")
        self.w_x = rng.uniform(-1, 1, (d_in, d_hidden)) / math.sqrt(d_in)
        self.w_h = rng.uniform(-1, 1, (d_hidden, d_hidden)) / math.sqrt(d_hidden)
        self.b = np.zeros(d_hidden)

    def parameters(self) -> dict[str, Array]:
        """The learnable arrays by name."""
        return {"w_x": self.w_x, "w_h": self.w_h, "b": self.b}

    # --8<-- [start:rnn_call]
    def __call__(self, x: ArrayLike, h0: ArrayLike | None = None) -> Array:
        """Run over a sequence, one step per token.

        Parameters
        ----------
        x : array_like, shape (n, d_in)
            The input sequence.
        h0 : array_like, shape (d_hidden,), optional
            The initial hidden state (zeros by default).

        Returns
        -------
        numpy.ndarray, shape (n, d_hidden)
            The hidden state after each step.
        """
        x = check_float_array("x", x, ndim=(2,), layout="(n, d_in)")
        if x.shape[1] != self.d_in:
            raise ValueError(f"x must have shape (n, d_in = {self.d_in}), got shape {x.shape}")
        h = (
            np.zeros(self.d_hidden, dtype=x.dtype)
            if h0 is None
            else check_float_array("h0", h0, ndim=(1,), layout="(d_hidden,)")
        )
        if h.shape != (self.d_hidden,):
            raise ValueError(f"h0 must have shape (d_hidden,) = ({self.d_hidden},), got {h.shape}")
        projected = x @ self.w_x + self.b  # (n, d_in) -> (n, d_hidden): all inputs at once
        states = np.empty((x.shape[0], self.d_hidden), dtype=projected.dtype)  # (n, d_hidden)
        for t in range(x.shape[0]):  # n sequential steps: h_t needs h_{t-1}
            h = np.tanh(projected[t] + h @ self.w_h)  # (d_hidden,)
            states[t] = h
        return states

    # --8<-- [end:rnn_call]
