"""Figures of the training lesson, drawn at build time from the shipped reverse model.

Registered by ``hooks/figures.py`` (``FIGURES.update(training_figures.figures(run_section))``),
which passes its own ``run_section`` (and draws in the site's style), so both figures read
the very variables of the lesson sections whose traces the page shows. Nothing is
retrained: the curves come from the history stored in the ``.npz`` file. The heatmap has
no number on each cell (the trace beside it prints the largest weight of each row): it
keeps the page light.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

LESSON = "src/transformer_primer/lessons/training.py"


def _shown(char: str) -> str:
    return "␣" if char == " " else char  # a space would be an invisible tick label


def figures(run_section: Callable[[str], dict]) -> dict[str, Callable[[], Figure]]:
    """The training lesson's figures by file name; ``run_section`` runs a lesson section."""

    def training_curves() -> Figure:
        history = run_section(f"{LESSON}:history")["history"]
        fig = Figure(figsize=(8.0, 3.0), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.plot(history["step"], history["loss"])
        left.set_yscale("log")
        left.set_xlabel("training step")
        left.set_ylabel("loss (cross-entropy per token)")
        right.plot(history["step"], history["token_accuracy"], label="token accuracy (teacher forcing)")
        right.plot(history["valid_step"], history["valid_exact"], "o-", label="exact match (validation, greedy)")
        right.set_ylim(0.0, 1.02)
        right.set_xlabel("training step")
        right.set_ylabel("accuracy")
        right.legend(loc="lower right")
        return fig

    def reverse_cross_attention() -> Figure:
        ns = run_section(f"{LESSON}:cross_attention")  # weights: (n_y, n_x), rows: the tokens written
        fig = Figure(figsize=(5.4, 4.6), layout="constrained")
        ax = fig.add_subplot()
        image = ax.imshow(ns["weights"], cmap="viridis", vmin=0.0, vmax=1.0, interpolation="nearest")
        ax.set_xticks(range(len(ns["text"])), labels=[_shown(c) for c in ns["text"]])
        ax.set_yticks(range(len(ns["rows"])), labels=[_shown(r) if len(r) == 1 else r for r in ns["rows"]])
        ax.tick_params(length=0)
        ax.set_xlabel("source character (encoder key)")
        ax.set_ylabel("output character being written (decoder query)")
        ax.set_title("trained reverse model: cross-attention, mean of heads")
        fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)
        return fig

    return {"training-curves.svg": training_curves, "reverse-cross-attention.svg": reverse_cross_attention}
