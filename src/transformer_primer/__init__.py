"""Transformer Primer: a small, exact, readable numpy transformer for learning.

Modules, bottom-up: ``sketch`` (the original notebook's placeholders), then the
real computation in the modules that follow; ``grad`` and ``train`` teach a model,
``pretrained("reverse")`` returns the encoder-decoder the lessons use, and
``pretrained("add")`` the decoder-only GPT (``gpt``, ``completer``).
"""

from __future__ import annotations

from typing import Any

__version__ = "0.2.0"
__all__ = ["pretrained"]


def __getattr__(name: str) -> Any:
    # `pretrained` is imported on first use, not with the package: `python -m transformer_primer`
    # must set the BLAS thread variables before numpy is imported (see __main__.py).
    if name == "pretrained":
        from .completer import pretrained

        return pretrained
    raise AttributeError(f"module 'transformer_primer' has no attribute {name!r}")
