"""Hovering an attention heatmap shows each cell's query, key and weight (src/primer_site/figures.py).

The hook lays an invisible grid of titled cells over each heatmap picture. These tests check
that the grid sits exactly on the picture's cells (against the <image> element of the SVG the
page shows), that its texts are the weights the lesson computes, and that they agree with the
numbers the page prints in its trace. The browser suite hovers a cell for real.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest

from primer_site import ROOT as ROOT_DIR
from primer_site import figure_kit, figures, traces

ROOT = ROOT_DIR


SVG = "{http://www.w3.org/2000/svg}"
HEATMAPS = {  # figure -> how many heatmaps it has
    "self-attention-weights.svg": 1,
    "masked-weights.svg": 2,
    "multi-head-weights.svg": 2,
    "encoder-decoder-attention.svg": 3,
}


@pytest.fixture(scope="module")
def rendered() -> dict[str, tuple[str, list]]:
    out = {}
    for name in HEATMAPS:
        fig = figures.draw(name)
        out[name] = (figure_kit.to_svg(fig), figure_kit.hover_grids(fig))
    return out


def images(svg: str) -> list[tuple[float, float, float, float]]:
    """(left, top, width, height) of each raster <image> of a matplotlib SVG, as fractions."""
    root = ET.fromstring(svg)
    width, height = (float(root.get(a).removesuffix("pt")) for a in ("width", "height"))
    boxes = []
    for image in root.iter(f"{SVG}image"):
        x, y, w, h = (float(image.get(a)) for a in ("x", "y", "width", "height"))
        shift = re.fullmatch(r"scale\(1 -1\) translate\(0 (-?[\d.]+)\)", image.get("transform", ""))
        top = -float(shift[1]) - y - h if shift else y  # the flip matplotlib writes for imshow
        boxes.append((x / width, top / height, w / width, h / height))
    return boxes


@pytest.mark.parametrize("name", HEATMAPS)
def test_each_heatmap_has_a_grid_on_its_cells(rendered, name: str) -> None:
    svg, grids = rendered[name]
    assert len(grids) == HEATMAPS[name]
    pictures = images(svg)
    for grid in grids:
        box = (grid.left, grid.top, grid.width, grid.height)
        # matplotlib snaps an image to whole points: allow one point of a ~300-650 pt figure
        assert any(max(abs(a - b) for a, b in zip(box, p, strict=True)) < 0.004 for p in pictures), (
            f"{name}: the grid {box} is on none of the pictures {pictures}"
        )
        assert len({len(row) for row in grid.texts}) == 1


def test_the_hover_texts_are_the_weights_of_the_lesson(rendered) -> None:
    ns = figures.run_section(f"{figures.LESSONS}/self_attention.py:multi_head")
    [first, second] = rendered["multi-head-weights.svg"][1]
    for head, grid in enumerate((first, second)):
        expected = [
            [f"query {q!r}, key {k!r}: weight {w:.3f}" for k, w in zip(ns["tokens"], row, strict=True)]
            for q, row in zip(ns["tokens"], ns["weights"][head], strict=True)
        ]
        assert [list(row) for row in grid.texts] == expected


def test_the_hover_texts_agree_with_the_trace_on_the_page(rendered) -> None:
    """The self-attention page prints each weight ('I' attends: 'I' 0.875, ...): hovering the
    figure beside it must show the same numbers."""
    page = ROOT / "docs" / "lessons" / "self-attention.md"
    [trace] = [t for t in traces.find_traces(page) if t.ref.endswith(":step_by_step")]
    printed = re.findall(r"^  '(\S+)' attends: (.*)$", trace.shown, re.M)
    assert len(printed) == 3
    [grid] = rendered["self-attention-weights.svg"][1]
    for (query, weights), row in zip(printed, grid.texts, strict=True):
        from_trace = [
            f"query '{query}', key '{k}': weight {w}" for k, w in re.findall(r"'(\S+)' ([\d.]+)", weights)
        ]
        assert list(row) == from_trace


def test_the_page_gets_the_grid_and_a_title_shows_as_text(rendered) -> None:
    html = '<p><img alt="x" src="../../figures/masked-weights.svg" /></p>'
    drawn = {name: figure_kit.Drawn(svg, grids, []) for name, (svg, grids) in rendered.items()}
    out = figure_kit.wrap_figures(html, drawn)
    assert out.startswith(
        '<p><span class="figure"><span class="heatmap"><img alt="x" src="../../figures/masked-weights.svg" />'
    )
    assert out.count('<span class="heatmap-grid"') == 2
    # Material puts a title into its tooltip as HTML: '<pad>' must arrive as text, escaped once.
    assert "key '&amp;lt;pad&amp;gt;': weight 0.000" in out
    assert figure_kit.wrap_figures('<img alt="y" src="../figures/positional-encoding.svg" />', drawn) == (
        '<span class="figure"><img alt="y" src="../figures/positional-encoding.svg" /></span>'
        + figure_kit.FIGURE_HINT
    )
