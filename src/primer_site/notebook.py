"""The original notebook's page, generated from the lesson sections.

``docs/notebooks/original-notebook.ipynb`` holds the notebook the project started from, its
code cells now importing the sketch from the package (the lessons include the same sections).
It is written by ``make traces`` and executed by mkdocs-jupyter at build time; the trace check
fails when it is not what ``build_notebook`` makes.
"""

from __future__ import annotations

import json

from .sections import DOCS, read_section

NOTEBOOK = DOCS / "notebooks" / "original-notebook.ipynb"

# The notebook page: the original notebook's cells, importing the package.
NOTEBOOK_CELLS: list[tuple[str, str]] = [  # (kind, text or section)
    (
        "markdown",
        "# The original notebook\n\n"
        "This is the notebook the project started from, executed when the site is built. "
        "Its classes now live in `transformer_primer.sketch`, so each cell imports them; "
        "the code of each class is shown on the lesson pages. The outputs below are "
        "printed by that code today. Everything here is the *conceptual sketch* with "
        "string placeholders: each lesson goes on to the real numpy computation.",
    ),
    ("code", "import numpy as np\nimport math"),
    ("markdown", "#### encoder-decoder tranformers and attention mechanism's purpose"),
    ("section", "src/transformer_primer/lessons/encoder_decoder.py:sketch"),
    ("markdown", "####  How Self attention works"),
    ("section", "src/transformer_primer/lessons/self_attention.py:sketch"),
    ("markdown", "#### Transformer vs RNN"),
    ("section", "src/transformer_primer/lessons/transformer_vs_rnn.py:sketch"),
    ("section", "src/transformer_primer/lessons/attention_math.py:sketch"),
]


def build_notebook() -> str:
    """The notebook's JSON text, its code cells read from their sections in src/."""
    cells = []
    for number, (kind, content) in enumerate(NOTEBOOK_CELLS):
        source = read_section(content).rstrip("\n") if kind == "section" else content
        cells.append(cell("markdown" if kind == "markdown" else "code", source, number))
    return notebook_json(cells)


def cell(kind: str, source: str, number: int, metadata: dict[str, object] | None = None) -> dict[str, object]:
    """One notebook cell (``kind`` "markdown" or "code"), its id made from ``number``."""
    made: dict[str, object] = {
        "cell_type": kind,
        "id": f"cell-{number}",
        "metadata": metadata or {},
        "source": source.splitlines(keepends=True),
    }
    if kind == "code":
        made.update(execution_count=None, outputs=[])
    return made


def notebook_json(cells: list[dict[str, object]]) -> str:
    """A Python 3 notebook (nbformat 4.5) holding ``cells``, as JSON text."""
    notebook = {
        "cells": cells,
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
            "language_info": {"name": "python"},
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    return json.dumps(notebook, indent=1, ensure_ascii=False) + "\n"
