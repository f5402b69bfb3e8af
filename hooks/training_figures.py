"""Figures of the training lesson, drawn at build time from the shipped reverse model.

Registered by ``hooks/figures.py`` (``FIGURES.update(training_figures.figures(...))``),
which passes its own ``run_section`` and ``heatmap`` so both figures follow the site's
style and read the very variables of the lesson sections whose traces the page shows.
Nothing is retrained: the curves come from the history stored in the ``.npz`` file.
"""

from __future__ import annotations

from collections.abc import Callable

from matplotlib.figure import Figure

LESSON = "src/transformer_primer/lessons/training.py"


def _shown(char: str) -> str:
    return "␣" if char == " " else char  # a space would be an invisible tick label


def figures(run_section: Callable[[str], dict], heatmap: Callable[..., None]) -> dict[str, Callable[[], Figure]]:
    """The training lesson's figures by file name, drawn with the hook's helpers."""

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
        ns = run_section(f"{LESSON}:cross_attention")
        fig = Figure(figsize=(5.8, 5.0), layout="constrained")
        heatmap(fig, fig.add_subplot(), ns["weights"], [_shown(r) if len(r) == 1 else r for r in ns["rows"]],
                [_shown(c) for c in ns["text"]], "trained reverse model: cross-attention, mean of heads",
                "source character (encoder key)", "output character being written (decoder query)")
        return fig

    return {"training-curves.svg": training_curves, "reverse-cross-attention.svg": reverse_cross_attention}
