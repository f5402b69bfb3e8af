"""Transformer Primer: a small, exact, readable numpy transformer for learning.

Modules, bottom-up: ``sketch`` (the original notebook's placeholders), then the
real computation in the modules that follow.
"""

__version__ = "0.1.0"
