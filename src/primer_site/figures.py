"""The lessons' figures, drawn at build time from the very sections whose traces the pages show.

Each figure is a function registered with ``@figure(name, section)``. Its parameters name the
variables it reads from that lesson section: the section is run (as the trace check runs it,
its output discarded) and the figure is called with those variables. What a figure reads is
therefore declared in its signature, checked before it is drawn (a variable the section does
not define is an error naming both), and a picture cannot disagree with the numbers printed
beside it. A figure that reads no section (``section=None``) computes its own data.

The SVG files are added to the build by the plugin (``File.generated``): nothing is written
into ``docs/``. Pages show them as ``![alt text](../figures/<name>.svg)``. The drawing kit
(style, heatmaps, hover grids, data tables, deterministic SVG) is ``figure_kit``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
from collections.abc import Callable
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib.figure import Figure

from .figure_kit import (
    GREY,
    LINE_COLORS,
    SIGNED_CMAP,
    STYLE,
    Drawn,
    add_table,
    data_tables,
    heatmap,
    hover_grids,
    to_svg,
)
from .traces import paste

LESSONS = "src/transformer_primer/lessons"


def run_section(ref: str) -> dict[str, object]:
    """Run one lesson section as its trace runs it (pasted at a prompt); return its variables."""
    namespace: dict[str, object] = {"__name__": "__figure__"}
    with contextlib.redirect_stdout(io.StringIO()):
        paste(ref, namespace)
    return namespace


@dataclass(frozen=True)
class FigureSpec:
    """A registered figure: its file name, the section it reads (or None), how to draw it."""

    name: str
    section: str | None
    draw: Callable[..., Figure]

    @property
    def reads(self) -> tuple[str, ...]:
        """The section's variables the figure reads: the names of its parameters."""
        return tuple(inspect.signature(self.draw).parameters)


FIGURES: dict[str, FigureSpec] = {}


def figure(name: str, section: str | None) -> Callable[[Callable[..., Figure]], Callable[..., Figure]]:
    """Register a figure drawn from ``section`` (``"self_attention.py:masks"``, under ``LESSONS``)."""

    def register(draw: Callable[..., Figure]) -> Callable[..., Figure]:
        if name in FIGURES:
            raise ValueError(f"two figures are named {name!r}")
        FIGURES[name] = FigureSpec(name, None if section is None else f"{LESSONS}/{section}", draw)
        return draw

    return register


def draw(name: str) -> Figure:
    """Draw one figure in the site's style, from the variables of its section."""
    spec = FIGURES[name]
    values: dict[str, object] = {}
    if spec.section is not None:
        namespace = run_section(spec.section)
        missing = [v for v in spec.reads if v not in namespace]
        if missing:
            raise LookupError(
                f"figure {name!r} reads {missing} from {spec.section}, which does not define them"
            )
        values = {v: namespace[v] for v in spec.reads}
    with matplotlib.rc_context(STYLE):
        return spec.draw(**values)


def render_drawn() -> dict[str, Drawn]:
    """Every figure, by file name, with what the page lays over and under it."""
    out = {}
    for name in FIGURES:
        fig = draw(name)
        out[name] = Drawn(svg=to_svg(fig), grids=hover_grids(fig), tables=data_tables(fig))
    return out


def _shown(char: str) -> str:
    return "␣" if char == " " else char  # a space would be an invisible tick label


# --- Self-attention step by step -------------------------------------------------------------


@figure("self-attention-weights.svg", "self_attention.py:step_by_step")
def self_attention_weights(weights, tokens) -> Figure:  # noqa: ANN001 - a section's variables
    """The weights of the step-by-step example."""
    fig = Figure(figsize=(4.2, 3.2), layout="constrained")
    heatmap(fig, fig.add_subplot(), weights, tokens, tokens, "softmax(Q Kᵀ / √d_k)")
    return fig


@figure("masked-weights.svg", "self_attention.py:masks")
def masked_weights(causal_weights, tokens, padded_weights, padded_tokens) -> Figure:  # noqa: ANN001
    """Causal weights and the weights of a padded sentence, side by side."""
    fig = Figure(figsize=(7.6, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2)
    heatmap(fig, left, causal_weights, tokens, tokens, "causal mask: no key after the query", colorbar=False)
    heatmap(fig, right, padded_weights[1], padded_tokens, padded_tokens, "padding mask: no <pad> key")
    return fig


@figure("multi-head-weights.svg", "self_attention.py:multi_head")
def multi_head_weights(weights, tokens) -> Figure:  # noqa: ANN001
    """One weight matrix per head of the multi-head example."""
    fig = Figure(figsize=(7.0, 3.0), layout="constrained")
    for h, ax in enumerate(fig.subplots(1, len(weights))):
        heatmap(fig, ax, weights[h], tokens, tokens, f"head {h}", colorbar=h == len(weights) - 1)
    return fig


# --- The math of attention -------------------------------------------------------------------


@figure("attention-scaling.svg", "attention_math.py:scaling")
def attention_scaling(d_ks, variance, top_weight, gradient) -> Figure:  # noqa: ANN001
    """The measurement of the math lesson: variance, saturation and gradient against d_k."""
    fig = Figure(figsize=(8.4, 2.9), layout="constrained")
    panels = [
        (variance, "variance of a score", True, None),
        (top_weight, "largest weight in a row", False, 1.0),
        (gradient, "softmax gradient (norm)", False, None),
    ]
    for ax, (measured, ylabel, log, top) in zip(fig.subplots(1, 3), panels, strict=True):
        for name, label, style in (("raw", "Q Kᵀ", "o-"), ("scaled", "Q Kᵀ / √d_k", "s--")):
            ax.plot(d_ks, measured[name], style, label=label)
        ax.set_xscale("log", base=2)
        if log:
            ax.set_yscale("log", base=2)
        else:
            ax.set_ylim(0.0, top)
        ax.set_xlabel("d_k")
        ax.set_ylabel(ylabel)
    fig.axes[0].legend()
    return fig


# --- Positional encoding ---------------------------------------------------------------------


@figure("positional-encoding.svg", None)
def positional_encoding() -> Figure:
    """The sinusoidal encoding matrix: positions down, dimensions across."""
    from transformer_primer.positional import sinusoidal_positional_encoding

    pe = sinusoidal_positional_encoding(64, 64)  # (n_positions, d_model)
    fig = Figure(figsize=(5.6, 4.4), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(pe, cmap=SIGNED_CMAP, vmin=-1.0, vmax=1.0, interpolation="nearest", aspect="auto")
    ax.set_xlabel("dimension (even: sin, odd: cos)")
    ax.set_ylabel("position")
    ax.set_title("sinusoidal_positional_encoding(64, 64)")
    add_table(
        fig,
        pe,
        [str(i) for i in range(pe.shape[0])],
        [str(j) for j in range(pe.shape[1])],
        ax.get_title(),
        "position",
        "dimension",
        digits=2,
        weights=False,
    )
    fig.colorbar(image, ax=ax, label="PE value")
    return fig


@figure("positions-extrapolation.svg", None)
def positions_extrapolation() -> Figure:
    """Exact match and token accuracy against the test length, one line per kind of positions.

    Drawn from bench/extrapolation.json (``python -m primer_site.bench_extrapolation``, run by
    ``make bench``): the mean over the seeds. A learned table's line stops where it refuses.
    """
    from .bench_extrapolation import LABELS, load, mean_by_length

    results = load()
    lo, hi = results["test_lengths"]
    lengths = list(range(lo, hi + 1))
    trained = results["train_lengths"][1]
    styles = ["o-", "s--", "^-", "D-.", "v:"]  # with the colours, no two lines look alike
    fig = Figure(figsize=(8.4, 3.4), layout="constrained")
    measures = {"exact": "exact match", "token_accuracy": "token accuracy (teacher-forced)"}
    for ax, (measure, ylabel) in zip(fig.subplots(1, 2), measures.items(), strict=True):
        ax.axvspan(lo - 0.5, trained + 0.5, color=GREY, alpha=0.15, linewidth=0)
        ax.text(trained / 2 + 0.5, 0.03, "training lengths", ha="center", fontsize="small")
        for kind, style in zip(results["kinds"], styles, strict=False):
            points = [
                (n, v)
                for n, v in zip(lengths, mean_by_length(results, kind, measure), strict=True)
                if v is not None
            ]
            label = LABELS[kind] + (f" (refuses > {trained})" if len(points) < len(lengths) else "")
            ax.plot(*zip(*points, strict=True), style, label=label, markersize=4)
        ax.set_xticks(lengths[::2] if len(lengths) > 12 else lengths)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("letters in the test string")
        ax.set_ylabel(ylabel)
    fig.legend(
        *fig.axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=5, fontsize="small"
    )
    seeds = results["setting"]["seeds"]
    fig.suptitle(
        f"copy, trained on 1-{trained} letters; mean of seeds {' and '.join(map(str, seeds))}", fontsize=10
    )
    return fig


# --- The encoder-decoder ---------------------------------------------------------------------


@figure("encoder-decoder-attention.svg", "encoder_decoder.py:decoder")
def encoder_decoder_attention(self_weights, cross_weights, words, source) -> Figure:  # noqa: ANN001
    """The decoder's self-attention and cross-attention at the last step of the loop."""
    fig = Figure(figsize=(9.0, 3.4), layout="constrained")
    left, middle, right = fig.subplots(1, 3, width_ratios=[4, 2.2, 2.2])
    heatmap(
        fig,
        left,
        self_weights[0],
        words,
        words,
        "decoder self-attention, head 0",
        "decoder key",
        "decoder query",
        colorbar=False,
    )
    for h, ax in enumerate((middle, right)):
        heatmap(
            fig,
            ax,
            cross_weights[h],
            words,
            source,
            f"cross-attention, head {h}",
            "source key (encoder)",
            "decoder query",
            colorbar=h == 1,
        )
    return fig


# --- Training the model (the shipped reverse model: nothing is retrained) --------------------


@figure("training-curves.svg", "training.py:history")
def training_curves(history) -> Figure:  # noqa: ANN001
    """Loss, token accuracy and validation exact match along the run, from the .npz history."""
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


@figure("reverse-cross-attention.svg", "training.py:cross_attention")
def reverse_cross_attention(weights, rows, text) -> Figure:  # noqa: ANN001
    """The trained reverse model's cross-attention, mean of the heads.

    No number on each cell: the trace beside it prints the largest weight of each row, the
    table under it every weight, and the picture stays readable.
    """
    fig = Figure(figsize=(5.4, 4.6), layout="constrained")
    heatmap(
        fig,
        fig.add_subplot(),
        weights,
        [_shown(r) if len(r) == 1 else r for r in rows],
        [_shown(c) for c in text],
        "trained reverse model: cross-attention, mean of heads",
        "source character (encoder key)",
        "output character being written (decoder query)",
        numbers=False,
    )
    return fig


# --- From encoder-decoder to GPT (the shipped add model: nothing is retrained) ---------------


@figure("gpt-attention.svg", "gpt.py:attention")
def gpt_attention(weights, tokens) -> Figure:  # noqa: ANN001 - a section's variables
    """The trained GPT's last-block attention on "<bos>37+48=85", one heatmap per head.

    No number on each cell (81 per head): the trace beside it prints the rows that write the
    answer, the table under it every weight.
    """
    fig = Figure(figsize=(7.6, 7.2), layout="constrained")
    shown = [_shown(t) if len(t) == 1 else t for t in tokens]
    for h, ax in enumerate(fig.subplots(2, (len(weights) + 1) // 2).flat):
        if h >= len(weights):
            ax.set_axis_off()
            continue
        heatmap(
            fig,
            ax,
            weights[h],
            shown,
            shown,
            f"last block, head {h}",
            colorbar=h == len(weights) - 1,
            numbers=False,
        )
        ax.tick_params(axis="x", labelrotation=90)  # "<bos>" is wider than a cell
    return fig


# --- The KV cache ----------------------------------------------------------------------------


@figure("kv-cache-cost.svg", None)
def kv_cache_cost() -> Figure:
    """CPU time of one generated token against the prefix length, with and without the cache.

    Drawn from bench/kv_cache.json (``python -m primer_site.bench_kv_cache``, run by ``make bench``).
    """
    import json

    from . import ROOT

    results = json.loads((ROOT / "bench" / "kv_cache.json").read_text())
    points = results["points"]
    lengths = [p["n"] for p in points]
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    styles = {("gpt", "recomputed"): "o-", ("gpt", "cached"): "s-"}
    styles.update({("encoder_decoder", "recomputed"): "o--", ("encoder_decoder", "cached"): "s--"})
    names = {"gpt": "GPT", "encoder_decoder": "encoder-decoder"}
    for (model, how), style in styles.items():
        ms = [p[model][how]["median"] * 1e3 for p in points]  # seconds -> milliseconds
        label = f"{names[model]}, {'full recomputation' if how == 'recomputed' else 'KV cache'}"
        ax.plot(lengths, ms, style, label=label)
    ax.set_xscale("log", base=2)
    ax.set_xticks(lengths, [str(n) for n in lengths])
    ax.set_yscale("log")
    ax.set_xlabel("tokens already in the sequence (n)")
    ax.set_ylabel("CPU ms for the next token")
    ax.set_title(f"one token's cost, d_model {results['sizes']['d_model']}, {results['machine']['cpu']}")
    ax.legend(fontsize="small")
    return fig


# --- Regularization ----------------------------------------------------------------------------


@figure("regularization-schedules.svg", "regularization.py:schedules")
def regularization_schedules(steps: np.ndarray, cosine: np.ndarray, paper: np.ndarray) -> Figure:
    """Our warm-up + cosine learning rate and the paper's, at every step of the shipped GPT's run."""
    fig = Figure(figsize=(6.4, 3.2), layout="constrained")
    ax = fig.add_subplot()
    ax.plot(steps, cosine * 1e3, "-", label="ours: warm-up, then cosine to lr / 20")
    ax.plot(steps, paper * 1e3, "--", label="the paper: d_model^-0.5 min(s^-0.5, s warmup^-1.5)")
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate (x 1e-3)")
    ax.set_ylim(bottom=0)
    ax.set_title("d_model 64, 200 warm-up steps, 3,000 steps")
    ax.legend(fontsize="small")
    return fig


@figure("regularization-effect.svg", None)
def regularization_effect() -> Figure:
    """Held-out exact match and loss per configuration: the mean of the seeds, bars from min to max.

    Drawn from bench/regularization.json (``python -m primer_site.bench_regularization``).
    """
    from .bench_regularization import load

    results = load()
    summary = results["summary"]
    names = list(summary)
    fig = Figure(figsize=(7.2, 3.4), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    ys = np.arange(len(names))
    for ax, key, label in (
        (left, "held_out_exact", "held-out exact match"),
        (right, "held_out_loss", "held-out loss (cross-entropy)"),
    ):
        means = np.array([summary[n][key] for n in names])
        low = means - np.array([summary[n][f"{key}_min"] for n in names])
        high = np.array([summary[n][f"{key}_max"] for n in names]) - means
        ax.barh(ys, means, xerr=np.vstack([low, high]), color="C0", ecolor="C1", capsize=0)
        ax.set_xlabel(label)
        ax.set_ylabel("configuration")
        ax.axvline(summary["baseline"][key], color="grey", linewidth=0.8, linestyle=":")
    left.set_yticks(ys, names)
    left.invert_yaxis()
    n = len(results["method"]["seeds"])
    fig.suptitle(f"mean of {n} seeds, bars from the smallest to the largest run", fontsize="medium")
    return fig


# --- Layer norm, residuals and the feed-forward block -----------------------------------------


@figure("norms-learning-rate.svg", None)
def norms_learning_rate() -> Figure:
    """Final training loss against the peak learning rate, post-norm and pre-norm, no warm-up.

    Drawn from bench/norms.json (``python -m primer_site.bench_norms``, run by ``make bench``):
    one marker per seed, a line through the means.
    """
    from .bench_norms import NORMS, load, summary

    results = load()
    rows = summary(results)
    fig = Figure(figsize=(6.4, 3.6), layout="constrained")
    ax = fig.add_subplot()
    for color, (name, norm_first) in enumerate(NORMS.items()):
        runs = [r for r in results["runs"] if r["norm_first"] == norm_first and r["final_loss"] is not None]
        ax.plot(
            [r["lr"] for r in runs],
            [r["final_loss"] for r in runs],
            "o" if norm_first else "s",
            color=LINE_COLORS[color],
            alpha=0.5,
            label=f"{name}, one seed",
        )
        means = [(r["lr"], r["loss_mean"]) for r in rows if r["norm"] == name and r["loss_mean"] is not None]
        style = "--" if norm_first else "-"  # told apart without colour too
        ax.plot(*zip(*means, strict=True), style, color=LINE_COLORS[color], label=f"{name}, mean")
    rates = sorted({r["lr"] for r in results["runs"]})
    ax.set_xscale("log")
    ax.set_xticks(rates, [f"{lr:g}" for lr in rates])
    ax.minorticks_off()
    ax.set_xlabel("peak learning rate (no warm-up)")
    ax.set_ylabel(f"training loss, last {results['setup']['last']} steps")
    s = results["setup"]
    ax.set_title(f"{s['task']}, {s['n_layers']} + {s['n_layers']} layers, {s['steps']} steps")
    ax.legend(fontsize="small")
    return fig
