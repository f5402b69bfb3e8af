"""Figures of the training lesson, drawn at build time from the shipped reverse model.

Registered by ``hooks/figures.py`` (``FIGURES.update(training_figures.figures(run_section,
heatmap))``), which passes its own ``run_section`` and ``heatmap`` (and draws in the site's
style), so both figures read the very variables of the lesson sections whose traces the page
shows, and the heatmap gets the hover grid, the text table and the alt text of every other.
Nothing is retrained: the curves come from the history stored in the ``.npz`` file. The
heatmap has no number on each cell (the trace beside it prints the largest weight of each
row, the table under it every weight): it keeps the picture readable.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

LESSON = "src/transformer_primer/lessons/training.py"


def _shown(char: str) -> str:
    return "␣" if char == " " else char  # a space would be an invisible tick label


def figures(run_section: Callable[[str], dict], heatmap: Callable[..., None]) -> dict[str, Callable[[], Figure]]:
    """The training lesson's figures by file name.

    ``run_section`` runs a lesson section; ``heatmap`` is ``hooks/figures.py``'s.
    """

    def training_curves() -> Figure:
        history = run_section(f"{LESSON}:history")["history"]
        fig = Figure(figsize=(8.0, 3.0), layout="constrained")
        left, right = fig.subplots(1, 2)
        left.plot(history["step"], history["loss"])
        left.set_yscale("log")
        left.set_xlabel("training step")
        left.set_ylabel("loss (cross-entropy per token)")
        right.plot(history["step"], history["token_accuracy"], "-", label="token accuracy (teacher forcing)")
        right.plot(history["valid_step"], history["valid_exact"], "o--", label="exact match (validation, greedy)")
        right.set_ylim(0.0, 1.02)
        right.set_xlabel("training step")
        right.set_ylabel("accuracy")
        right.legend(loc="lower right")
        return fig

    def reverse_cross_attention() -> Figure:
        ns = run_section(f"{LESSON}:cross_attention")  # weights: (n_y, n_x), rows: the tokens written
        fig = Figure(figsize=(5.4, 4.6), layout="constrained")
        heatmap(fig, fig.add_subplot(), ns["weights"], [_shown(r) if len(r) == 1 else r for r in ns["rows"]],
                [_shown(c) for c in ns["text"]], "trained reverse model: cross-attention, mean of heads",
                "source character (encoder key)", "output character being written (decoder query)",
                numbers=False)
        return fig

    return {"training-curves.svg": training_curves, "reverse-cross-attention.svg": reverse_cross_attention}
