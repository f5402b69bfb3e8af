"""The site draws every figure a page shows: valid SVG, labelled axes, same bytes each build."""

from __future__ import annotations

import os
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.figure import Figure

from primer_site import ROOT as ROOT_DIR
from primer_site import bench_page, figure_kit, figures

ROOT = ROOT_DIR
SVG = "{http://www.w3.org/2000/svg}"
IMAGE_RE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<up>(?:\.\./)*)figures/(?P<name>[^)\s]+)\)")


IMAGES = [
    (page, match["alt"], match["name"])
    for page in sorted((ROOT / "docs").rglob("*.md"))
    for match in IMAGE_RE.finditer(page.read_text(encoding="utf-8"))
]


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[Figure, str]]:
    """Each figure once: the matplotlib Figure and its SVG text."""
    each = {name: figures.draw(name) for name in figures.FIGURES}
    return {name: (fig, figure_kit.to_svg(fig)) for name, fig in each.items()}


@pytest.fixture(scope="module")
def rendered(drawn) -> dict[str, str]:
    return {name: svg for name, (_, svg) in drawn.items()}


def test_pages_show_figures() -> None:
    # Guards against a pattern that silently matches nothing.
    assert {page.stem for page, _, _ in IMAGES} >= {"self-attention", "positional-encoding"}


def test_every_figure_shown_is_drawn_and_every_figure_drawn_is_shown(rendered) -> None:
    shown = {name for _, _, name in IMAGES}
    others = set(bench_page.FIGURES)  # the benchmark page's figures, drawn from its results file
    assert shown - rendered.keys() - others == set(), "a page shows a figure the site does not draw"
    assert rendered.keys() - shown == set(), "primer_site.figures draws a figure no page shows"


@pytest.mark.parametrize("image", IMAGES, ids=[f"{p.stem}:{n}" for p, _, n in IMAGES])
def test_every_figure_has_alt_text(image) -> None:
    _, alt, _ = image
    assert len(alt.split()) >= 5, f"alt text too short to describe the figure: {alt!r}"


@pytest.mark.parametrize("name", sorted(figures.FIGURES))
def test_figure_is_an_svg_with_labelled_axes(drawn, name: str) -> None:
    fig, svg = drawn[name]
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = {"".join(t.itertext()).strip() for t in root.iter(f"{SVG}text")}
    assert fig.axes
    for ax in fig.axes:
        labels = [ax.get_ylabel()] if ax.get_label() == "<colorbar>" else [ax.get_xlabel(), ax.get_ylabel()]
        for label in labels:
            assert label, f"{name}: an axis has no label"
            assert label in texts, f"{name}: label {label!r} is not in the SVG"


def test_svg_is_the_same_on_every_build(rendered) -> None:
    again = {name: drawn.svg for name, drawn in figures.render_drawn().items()}
    for name, svg in rendered.items():
        assert again[name] == svg, f"{name} differs between two renderings"


def built_page(site: Path, page: Path) -> Path:
    """Where MkDocs writes a page (directory URLs): docs/a/b.md -> site/a/b/index.html."""
    relative = page.relative_to(ROOT / "docs").with_suffix("")
    return site / (relative.parent if relative.name == "index" else relative) / "index.html"


def test_the_built_site_serves_each_figure(built_site) -> None:
    site, _ = built_site
    for page, _, name in IMAGES:
        assert (site / "figures" / name).is_file()
        html = built_page(site, page)
        src = Path(os.path.relpath(site / "figures" / name, html.parent)).as_posix()
        assert f'src="{src}"' in html.read_text(encoding="utf-8"), f"{page.name} does not show {name}"


# --- Accessibility (issue 17): colour-blind-safe colours, the numbers as text, true alt text ---

# Machado, Oliveira & Fernandes (2009), severity 1: linear-RGB matrices simulating each kind
# of dichromacy.
CVD = {
    "protanopia": [
        [0.152286, 1.052583, -0.204868],
        [0.114503, 0.786281, 0.099216],
        [-0.003882, -0.048116, 1.051998],
    ],
    "deuteranopia": [
        [0.367322, 0.860646, -0.227968],
        [0.280085, 0.672501, 0.047413],
        [-0.011820, 0.042940, 0.968881],
    ],
    "tritanopia": [
        [1.255528, -0.076749, -0.178779],
        [-0.078411, 0.930809, 0.147602],
        [0.004733, 0.691367, 0.303900],
    ],
}
VISIONS = ["normal", *CVD]
PAGE_BACKGROUNDS = {"light": "#ffffff", "dark": "#1e2129"}  # Material's default and slate pages


def linear(rgb):
    import numpy as np

    c = np.asarray(rgb, float)[..., :3]
    return np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)


def seen(rgb, vision: str):
    """Linear RGB of `rgb` as seen with `vision` (simulated)."""
    import numpy as np

    lin = linear(rgb)
    return lin if vision == "normal" else np.clip(lin @ np.array(CVD[vision]).T, 0, 1)


def lab(lin):
    """CIELAB (D65) of linear RGB."""
    import numpy as np

    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = lin @ m.T / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 216 / 24389, np.cbrt(xyz), (24389 / 27 * xyz + 16) / 116)
    return np.stack([116 * f[..., 1] - 16, 500 * (f[..., 0] - f[..., 1]), 200 * (f[..., 1] - f[..., 2])], -1)


def delta_e(a, b, vision: str = "normal") -> float:
    import numpy as np

    return float(np.linalg.norm(lab(seen(a, vision)) - lab(seen(b, vision))))


def contrast(a, b) -> float:
    la, lb = (figure_kit.relative_luminance(c) for c in (a, b))
    return (max(la, lb) + 0.05) / (min(la, lb) + 0.05)


def rgb(color):
    from matplotlib.colors import to_rgb

    return to_rgb(color)


def test_line_colours_stay_apart_for_colour_blind_readers_and_show_on_both_schemes() -> None:
    colors = [rgb(c) for c in figure_kit.LINE_COLORS]
    for vision in VISIONS:
        for i, a in enumerate(colors):
            for b in colors[i + 1 :]:
                assert delta_e(a, b, vision) >= 15, (vision, a, b, delta_e(a, b, vision))
    for color in figure_kit.LINE_COLORS:
        for scheme, background in PAGE_BACKGROUNDS.items():  # WCAG 1.4.11: 3:1 for graphics
            assert contrast(rgb(color), rgb(background)) >= 3, (color, scheme)


def test_charts_draw_lines_in_the_safe_colours_with_differing_markers_and_styles(drawn) -> None:
    from matplotlib.colors import to_hex

    charts = 0
    for name, (fig, _) in drawn.items():
        for ax in fig.axes:
            lines = [ln for ln in ax.get_lines() if len(ln.get_xdata()) > 2]  # not the crossover line
            if len(lines) < 2:
                continue
            charts += 1
            for line in lines:
                assert to_hex(line.get_color()).upper() in figure_kit.LINE_COLORS, (name, line.get_label())
            looks = [(line.get_marker(), line.get_linestyle()) for line in lines]
            assert len(set(looks)) == len(looks), f"{name}: two lines look alike but for colour: {looks}"
    assert charts >= 2


def test_heatmaps_use_colour_blind_safe_maps(drawn) -> None:
    import matplotlib as mpl
    import numpy as np

    maps = {im.get_cmap().name for fig, _ in drawn.values() for ax in fig.axes for im in ax.get_images()}
    assert maps == {figure_kit.WEIGHTS_CMAP, figure_kit.SIGNED_CMAP}, maps
    xs = np.linspace(0, 1, 41)
    for vision in VISIONS:  # sequential: lightness rises all the way, for every kind of vision
        lightness = lab(seen(mpl.colormaps[figure_kit.WEIGHTS_CMAP](xs), vision))[:, 0]
        assert np.all(np.diff(lightness) > 0), vision
    signed = mpl.colormaps[figure_kit.SIGNED_CMAP](xs)
    for vision in VISIONS:  # diverging: +v and -v stay apart; lightness falls to the centre (no
        colors = lab(seen(signed, vision))  # step back by more than 0.5 L*, below what an eye sees)
        assert min(np.linalg.norm(colors[20 + k] - colors[20 - k]) for k in range(10, 21)) >= 40, vision
        assert np.all(np.diff(colors[:21, 0]) < 0.5) and np.all(np.diff(colors[20:, 0]) > -0.5), vision
    centre = signed[20]
    for scheme, background in PAGE_BACKGROUNDS.items():  # the zeros do not vanish into the page
        assert delta_e(centre, rgb(background)) >= 20, scheme
    # the positional-encoding alt text calls -1 orange, 0 dark, 1 blue
    low, high = signed[0], signed[-1]
    assert low[0] > low[2] and high[2] > high[0] and lab(linear(centre))[0] < 30


def test_the_numbers_on_heatmap_cells_contrast_with_their_cell(drawn) -> None:
    checked = 0
    for name, (fig, _) in drawn.items():
        for ax in fig.axes:
            for image in ax.get_images():
                data = image.get_array()
                for text in ax.texts:
                    j, i = (round(v) for v in text.get_position())
                    cell = image.cmap(image.norm(data[i, j]))
                    assert contrast(rgb(text.get_color()), cell) >= 4.5, (name, text.get_text())
                    checked += 1
    assert checked >= 40


def test_every_heatmap_has_a_text_table_of_the_numbers_it_draws(drawn) -> None:
    import numpy as np

    for name, (fig, _) in drawn.items():
        images = [im for ax in fig.axes for im in ax.get_images()]
        tables = figure_kit.data_tables(fig)
        assert len(tables) == len(images), f"{name}: {len(images)} heatmaps, {len(tables)} tables"
        for image, table in zip(images, tables, strict=True):
            np.testing.assert_array_equal(np.array(table.values), image.get_array().data.astype(float))
            assert (len(table.rows), len(table.columns)) == image.get_array().shape
            ax = image.axes
            if ax.get_title():
                assert table.title == ax.get_title()


def test_the_table_html_has_headers_for_rows_and_columns(drawn) -> None:
    import html.parser

    [table] = figure_kit.data_tables(drawn["self-attention-weights.svg"][0])

    class Cells(html.parser.HTMLParser):
        def __init__(self):
            super().__init__()
            self.cells, self.cell = [], None

        def handle_starttag(self, tag, attrs):
            if tag in ("th", "td"):
                self.cell = [tag, dict(attrs).get("scope"), ""]

        def handle_data(self, data):
            if self.cell is not None:
                self.cell[2] += data

        def handle_endtag(self, tag):
            if tag in ("th", "td") and self.cell:
                self.cells.append(tuple(self.cell))
                self.cell = None

    parser = Cells()
    parser.feed(figure_kit.table_html(table))
    cells = parser.cells
    assert cells[:4] == [
        ("th", "col", "query / key"),
        ("th", "col", "I"),
        ("th", "col", "love"),
        ("th", "col", "AI"),
    ]
    assert cells[4:8] == [
        ("th", "row", "I"),
        ("td", None, "0.875"),
        ("td", None, "0.024"),
        ("td", None, "0.101"),
    ]
    assert len(cells) == 4 * 4


def test_the_alt_text_summary_is_the_largest_weight_of_each_row(drawn) -> None:
    import numpy as np

    tables = figure_kit.data_tables(drawn["self-attention-weights.svg"][0])
    assert figure_kit.alt_summary(tables) == (
        "Largest weight of each query: 'I' on 'I' (0.875), 'love' on 'love' (0.806), 'AI' on 'love' (0.489)."
    )
    [reverse] = figure_kit.data_tables(drawn["reverse-cross-attention.svg"][0])
    top = np.array(reverse.values).max(axis=1)
    assert figure_kit.alt_summary([reverse]) == (
        f"Largest weight of each output character being written: from {top.min():.3f} to {top.max():.3f}."
    )
    for fig, _ in drawn.values():  # each panel named once, one clause per row
        for table in figure_kit.data_tables(fig):
            if table.weights and len(table.rows) <= 6:
                assert figure_kit.alt_summary([table]).count(" on ") == len(table.rows)


def test_the_page_shows_the_table_after_the_figure_and_the_summary_in_the_alt_text(
    drawn, monkeypatch
) -> None:
    tables = {
        name: figure_kit.Drawn(svg, [], figure_kit.data_tables(fig)) for name, (fig, svg) in drawn.items()
    }
    out = figure_kit.wrap_figures(
        '<p><img alt="Heatmap." src="../figures/self-attention-weights.svg" /></p>', tables
    )
    assert out.startswith(
        '<p><span class="figure"><img alt="Heatmap. Largest weight of each query: '
        "&#x27;I&#x27; on &#x27;I&#x27; (0.875)"
    )
    assert (
        f'</span>{figure_kit.FIGURE_HINT}</p>\n<details class="figure-data"><summary>The numbers in this '
        "figure</summary><table>"
    ) in out
    with pytest.raises(ValueError, match="alone in its paragraph"):
        figure_kit.wrap_figures(
            '<p><img alt="x" src="../figures/positional-encoding.svg" /> and text</p>', tables
        )
    assert figure_kit.wrap_figures('<img alt="x" src="../figures/attention-scaling.svg" />', tables) == (
        '<span class="figure"><img alt="x" src="../figures/attention-scaling.svg" /></span>'
        + figure_kit.FIGURE_HINT
    )


def test_what_the_alt_texts_claim_is_what_the_figures_draw() -> None:
    """The claims of the hand-written alt texts (docs/lessons/*.md), checked on the figure data."""
    import numpy as np

    alts = {name: alt for _, alt, name in IMAGES}
    ns = figures.run_section(f"{figures.LESSONS}/self_attention.py:masks")
    assert "every weight above the diagonal is 0" in alts["masked-weights.svg"]
    assert np.all(np.triu(ns["causal_weights"], 1) == 0)
    assert "the two padding keys get weight 0" in alts["masked-weights.svg"]
    pads = [j for j, t in enumerate(ns["padded_tokens"]) if t == "<pad>"]
    assert len(pads) == 2 and np.all(ns["padded_weights"][1][:, pads] == 0)
    heads = figures.run_section(f"{figures.LESSONS}/self_attention.py:multi_head")["weights"]
    assert "largest weights on different tokens" in alts["multi-head-weights.svg"]
    assert np.any(heads[0].argmax(axis=1) != heads[1].argmax(axis=1))
    decoder = figures.run_section(f"{figures.LESSONS}/encoder_decoder.py:decoder")["self_weights"]
    assert "every weight above the diagonal is 0" in alts["encoder-decoder-attention.svg"]
    assert np.all(np.triu(decoder[0], 1) == 0)
    trained = figures.run_section("src/transformer_primer/lessons/training.py:cross_attention")
    assert "on or next to its mirror position" in alts["reverse-cross-attention.svg"]
    n = len(trained["text"])
    for t, row in enumerate(trained["weights"][:n]):  # every output character (the <eos> row aside)
        assert abs(int(row.argmax()) - (n - 1 - t)) <= 1, t
    scaling = figures.run_section(f"{figures.LESSONS}/attention_math.py:scaling")
    d_ks = np.array(scaling["d_ks"])
    assert np.all(np.abs(np.log2(np.array(scaling["variance"]["raw"]) / d_ks)) < 0.5)  # grows like d_k
    assert np.all(np.abs(np.array(scaling["variance"]["scaled"]) - 1) < 0.2)  # stays near 1
    assert np.all(np.diff(scaling["top_weight"]["raw"]) > 0) and scaling["top_weight"]["raw"][-1] > 0.9
    assert np.all(np.diff(scaling["gradient"]["raw"]) < 0) and scaling["gradient"]["raw"][-1] < 0.1
    history = figures.run_section("src/transformer_primer/lessons/training.py:history")["history"]
    assert "both reaching 1" in alts["training-curves.svg"]
    assert history["token_accuracy"][-1] == 1.0 and history["valid_exact"][-1] == 1.0
    first = lambda steps, values: steps[int(np.argmax(np.asarray(values) >= 0.9))]  # noqa: E731
    assert first(history["step"], history["token_accuracy"]) <= first(
        history["valid_step"], history["valid_exact"]
    )
