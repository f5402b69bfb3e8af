"""Figure kit: the site's figure style, its deterministic SVG, and what a page adds to a figure.

Figures are drawn with matplotlib (no pyplot: no global state, no GUI backend) in one style
(``STYLE``), readable in the light and the dark scheme: a transparent background, mid-grey
text, numbers written on the cells themselves. ``to_svg`` writes the same bytes on every build.

Attention heatmaps (``heatmap``) can also be read by hovering: an SVG shown by ``<img>`` cannot
react to the mouse, so the page gets, over the picture, one invisible grid per heatmap, one
``<span title="query 'I', key 'love': weight 0.024">`` per cell (Material shows the title as a
tooltip). The grid's place is computed from the drawn figure, its texts from the same weights.

For readers who cannot see the colours or use a mouse, each heatmap's numbers are also given
as a text table, collapsed under the figure in a ``<details>`` ("The numbers in this figure",
one table per panel, ``<th scope>`` headers), and an attention heatmap's alt text ends with the
largest weight of each row. Both are written from the arrays the figure draws, so they cannot
drift from it. Colours are safe for colour-blind readers: viridis for weights, a diverging map
with a dark centre (managua) for signed values, and the Okabe-Ito colours with differing
markers and line styles for line charts (checked in ``tests/site/test_figures.py``).
"""

from __future__ import annotations

import html
import io
import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib
import numpy as np
from matplotlib import cycler
from matplotlib.axes import Axes
from matplotlib.figure import Figure

matplotlib.use("Agg")

GREY = "#808080"  # readable on Material's white and on its slate background
# Line colours: the Okabe-Ito colours that keep 3:1 against both page backgrounds (white and
# slate #1e2129; sky blue, orange and yellow do not on white, black does not on slate), and a
# violet that stays apart from them for every kind of colour blindness (simulated in
# tests/site/test_figures.py). Lines of one chart also differ in marker or line style.
LINE_COLORS = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#8A3FFC")
WEIGHTS_CMAP = "viridis"  # sequential, in [0, 1]: perceptually uniform and colour-blind safe
SIGNED_CMAP = "managua"  # diverging, in [-1, 1]: colour-blind safe, centre dark on both schemes
STYLE = {
    "svg.hashsalt": "transformer-primer",  # fixed ids: the same SVG on every build
    "svg.fonttype": "none",  # real <text>: small files, searchable, drawn in the page's font
    "figure.facecolor": "none",
    "axes.facecolor": "none",
    "savefig.transparent": True,
    "text.color": GREY,
    "axes.labelcolor": GREY,
    "axes.edgecolor": GREY,
    "xtick.color": GREY,
    "ytick.color": GREY,
    "legend.labelcolor": GREY,
    "legend.frameon": False,
    "font.size": 10,
    # Written into every <text> of the SVG: a short list (the default one is ten names long)
    # keeps the pages light; the browser draws with the first it has, else its sans-serif.
    "font.sans-serif": ["DejaVu Sans", "Verdana", "Arial", "Helvetica"],
    "axes.titlesize": 10,
    "axes.prop_cycle": cycler(color=LINE_COLORS),
}


@dataclass(frozen=True)
class HoverGrid:
    """A heatmap's cells on its figure, and the text of each cell (row by row).

    ``left``, ``top``, ``width`` and ``height`` are fractions of the figure's width and
    height, from its top left corner.
    """

    left: float
    top: float
    width: float
    height: float
    texts: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class DataTable:
    """The numbers of one heatmap panel, as the page's text table shows them.

    ``values[i][j]`` is the cell of row ``rows[i]`` and column ``columns[j]``, as drawn.
    ``weights`` marks attention weights (rows sum to 1): their alt text names the largest
    weight of each row.
    """

    title: str
    row_label: str
    column_label: str
    rows: tuple[str, ...]
    columns: tuple[str, ...]
    values: tuple[tuple[float, ...], ...]
    digits: int = 3
    weights: bool = True


_TABLES: weakref.WeakKeyDictionary[Figure, list[DataTable]] = weakref.WeakKeyDictionary()


def add_table(
    fig: Figure,
    values: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    row_label: str,
    column_label: str,
    *,
    digits: int = 3,
    weights: bool = True,
) -> None:
    """Keep the numbers of one heatmap with its figure, for the page's text table."""
    table = DataTable(
        title=title,
        row_label=row_label,
        column_label=column_label,
        rows=tuple(rows),
        columns=tuple(columns),
        values=tuple(tuple(float(v) for v in row) for row in values),
        digits=digits,
        weights=weights,
    )
    assert len(table.values) == len(table.rows) and all(len(r) == len(table.columns) for r in table.values)
    _TABLES.setdefault(fig, []).append(table)


def data_tables(fig: Figure) -> list[DataTable]:
    """The text tables of a figure's heatmaps, in drawing order."""
    return list(_TABLES.get(fig, []))


def cell_text_color(rgba: Sequence[float]) -> str:
    """Black or white, whichever contrasts more with a cell of colour ``rgba`` (WCAG ratio)."""
    lum = relative_luminance(rgba)
    return "black" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "white"


def relative_luminance(rgba: Sequence[float]) -> float:
    """WCAG relative luminance of an sRGB colour given as floats in [0, 1]."""
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in rgba[:3]]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


_HOVER: weakref.WeakKeyDictionary[Figure, list[tuple[Axes, list[list[str]]]]] = weakref.WeakKeyDictionary()


def hover_text(query: str, key: str, weight: float, xlabel: str, ylabel: str) -> str:
    """What hovering a cell shows: ``query 'I', key 'love': weight 0.024`` (axis names shortened)."""
    short = lambda label: label.split(" (")[0]  # noqa: E731 - "query (attending)" -> "query"
    return f"{short(ylabel)} {query!r}, {short(xlabel)} {key!r}: weight {weight:.3f}"


def heatmap(
    fig: Figure,
    ax: Axes,
    weights: np.ndarray,
    rows: Sequence[str],
    columns: Sequence[str],
    title: str,
    xlabel: str = "key (attended to)",
    ylabel: str = "query (attending)",
    colorbar: bool = True,
    numbers: bool = True,
) -> None:
    """Attention weights as a labelled heatmap: rows are queries, columns are keys.

    The text of each cell for hovering is kept with the figure (see ``hover_grids``), and so
    are its numbers for the page's text table (see ``data_tables``). With ``numbers``, each
    cell shows its weight, in black or white, whichever contrasts more with the cell.
    """
    texts = [
        [hover_text(r, c, float(w), xlabel, ylabel) for c, w in zip(columns, row, strict=True)]
        for r, row in zip(rows, weights, strict=True)
    ]
    _HOVER.setdefault(fig, []).append((ax, texts))
    add_table(fig, weights, rows, columns, title, ylabel, xlabel)
    image = ax.imshow(weights, cmap=WEIGHTS_CMAP, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks(range(len(columns)), labels=list(columns))
    ax.set_yticks(range(len(rows)), labels=list(rows))
    ax.tick_params(length=0)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    for (i, j), w in np.ndenumerate(weights if numbers else np.empty((0, 0))):  # the number on each cell
        ax.text(
            j,
            i,
            f"{w:.2f}",
            ha="center",
            va="center",
            fontsize=8,
            color=cell_text_color(image.cmap(image.norm(w))),
        )
    if colorbar:
        fig.colorbar(image, ax=ax, label="attention weight", shrink=0.8)


HASHED_ID = re.compile(r"\b([a-z]+)([0-9a-f]{10})\b")


def to_svg(fig: Figure) -> str:
    """The figure as SVG text, the same bytes on every build.

    Matplotlib names clip paths by a hash of their coordinates, and the constrained layout
    can differ in the last bit of a float from one drawing to the next; the ids are
    therefore renumbered in order of appearance.
    """
    with matplotlib.rc_context(STYLE):
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = buffer.getvalue()
    ids = dict.fromkeys(m[0] for m in HASHED_ID.finditer(" ".join(re.findall(r'\bid="([^"]+)"', svg))))
    names = {old: f"{HASHED_ID.match(old)[1]}{n}" for n, old in enumerate(ids)}
    svg = HASHED_ID.sub(lambda m: names.get(m[0], m[0]), svg)
    return NO_ROTATION.sub("", svg)  # matplotlib writes rotate(-0 x y) on every upright text


NO_ROTATION = re.compile(r' transform="rotate\(-0 [-\d.]+ [-\d.]+\)"')


def hover_grids(fig: Figure) -> list[HoverGrid]:
    """The hover grid of each heatmap of a figure that has been saved (its layout is final)."""
    width, height = fig.bbox.width, fig.bbox.height  # display pixels, y upwards
    grids = []
    for ax, texts in _HOVER.get(fig, []):
        n_rows, n_cols = len(texts), len(texts[0])
        (x0, y_top), (x1, y_bottom) = ax.transData.transform([(-0.5, -0.5), (n_cols - 0.5, n_rows - 0.5)])
        grids.append(
            HoverGrid(
                left=x0 / width,
                top=1 - y_top / height,
                width=(x1 - x0) / width,
                height=(y_top - y_bottom) / height,
                texts=tuple(tuple(row) for row in texts),
            )
        )
    return grids


@dataclass(frozen=True)
class Drawn:
    """One figure as the site shows it: its SVG, the hover grids and the text tables of its heatmaps."""

    svg: str
    grids: list[HoverGrid]
    tables: list[DataTable]


def title_attribute(text: str) -> str:
    """``text`` as the value of a ``title`` attribute that Material's tooltip shows as ``text``.

    Material inserts a title into its tooltip as HTML, so ``<pad>`` would vanish as an unknown
    tag: the attribute holds the text HTML-escaped once (and escaped again for the attribute).
    """
    return html.escape(html.escape(text, quote=False), quote=False).replace('"', "&quot;")


def hover_html(grids: list[HoverGrid]) -> str:
    """The invisible grids laid over a figure: one titled span per cell."""
    out = []
    for g in grids:
        rows, cols = len(g.texts), len(g.texts[0])
        style = (
            f"left:{100 * g.left:.2f}%;top:{100 * g.top:.2f}%;width:{100 * g.width:.2f}%;"
            f"height:{100 * g.height:.2f}%;grid-template:repeat({rows},1fr)/repeat({cols},1fr)"
        )
        cells = "".join(f'<span title="{title_attribute(text)}"></span>' for row in g.texts for text in row)
        out.append(f'<span class="heatmap-grid" style="{style}">{cells}</span>')
    return "".join(out)


# Shown under a figure only when it is wider than the screen (docs/javascripts/scroll-hints.js).
FIGURE_HINT = (
    '<span class="figure-hint">This figure is wider than the screen: scroll it sideways '
    "to see all of it.</span>"
)


def _number(value: float, digits: int) -> str:
    text = f"{value:.{digits}f}"
    return "0." + "0" * digits if text == "-0." + "0" * digits else text  # no "-0.00"


def _short(label: str) -> str:
    return label.split(" (")[0]  # "query (attending)" -> "query"


def table_html(table: DataTable) -> str:
    """One heatmap's numbers as an HTML table: a header row of columns, a header cell per row.

    The corner cell names both axes ("query / key"); row and column headers have ``scope``,
    so a screen reader announces, for each number, its row and its column.
    """
    esc = lambda text: html.escape(text, quote=True)  # noqa: E731
    corner = f"{_short(table.row_label)} / {_short(table.column_label)}"
    head = "".join(f'<th scope="col">{esc(c)}</th>' for c in table.columns)
    body = "".join(
        f'<tr><th scope="row">{esc(r)}</th>'
        + "".join(f"<td>{_number(v, table.digits)}</td>" for v in row)
        + "</tr>"
        for r, row in zip(table.rows, table.values, strict=True)
    )
    return (
        f"<table><caption>{esc(table.title)} (rows: {esc(table.row_label)}; columns: "
        f'{esc(table.column_label)})</caption><thead><tr><th scope="col">{esc(corner)}</th>{head}'
        f"</tr></thead><tbody>{body}</tbody></table>"
    )


def tables_html(tables: list[DataTable]) -> str:
    """The collapsed block under a figure: every table of its heatmaps."""
    return (
        '<details class="figure-data"><summary>The numbers in this figure</summary>'
        + "".join(table_html(t) for t in tables)
        + "</details>"
    )


def alt_summary(tables: list[DataTable]) -> str:
    """What the alt text adds to an attention figure: the largest weight of each row.

    One clause per panel (named by its title when there are several); a panel of more than
    six rows gives the range of its rows' largest weights instead of listing them.
    """
    parts = []
    for table in (t for t in tables if t.weights):
        values = np.array(table.values)
        best = values.argmax(axis=1)
        if len(table.rows) <= 6:
            text = ", ".join(
                f"{r!r} on {table.columns[j]!r} ({values[i, j]:.{table.digits}f})"
                for i, (r, j) in enumerate(zip(table.rows, best, strict=True))
            )
        else:
            top = values.max(axis=1)
            text = f"from {top.min():.{table.digits}f} to {top.max():.{table.digits}f}"
        parts.append(f"{table.title}: {text}" if len(tables) > 1 else text)
    if not parts:
        return ""
    return "Largest weight of each " + _short(tables[0].row_label) + ": " + "; ".join(parts) + "."


IMG_RE = re.compile(
    r'(?P<p><p>)?<img alt="(?P<alt>[^"]*)" src="(?P<src>(?:\.\./)*figures/(?P<name>[^"/]+\.svg))" />'
    r"(?(p)(?P<end></p>)?)"
)


def wrap_figures(content: str, drawn: dict[str, Drawn]) -> str:
    """A page's HTML with each figure in its box, its hover grids over it, its numbers after it.

    On a phone the box keeps the figure at its own size and scrolls sideways (extra.css), and
    says so (``FIGURE_HINT``); the grids, the tables (after the figure's paragraph) and the alt
    text are described in the module docstring. ``drawn`` is every figure, by file name.
    """

    def wrap(match: re.Match[str]) -> str:
        name = match["name"]
        tables = drawn[name].tables if name in drawn else []
        alt = match["alt"]
        summary = alt_summary(tables)
        if summary:
            alt = f"{alt.rstrip('.')}. {html.escape(summary, quote=True)}"
        img = f'<img alt="{alt}" src="{match["src"]}" />'
        grids = drawn[name].grids if name in drawn else []
        inner = f'<span class="heatmap">{img}{hover_html(grids)}</span>' if grids else img
        figure = f'<span class="figure">{inner}</span>{FIGURE_HINT}'
        after = tables_html(tables) if tables else ""
        if match["p"] and match["end"]:
            return f"<p>{figure}</p>\n{after}" if after else f"<p>{figure}</p>"
        if match["p"]:  # the image starts a paragraph that goes on: the table would break it
            if tables:
                raise ValueError(f"{name}: a figure with a data table must be alone in its paragraph")
            return f"<p>{figure}"
        return figure + after

    return IMG_RE.sub(wrap, content)
