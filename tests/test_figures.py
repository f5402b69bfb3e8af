"""The figures hook draws every figure a page shows: valid SVG, labelled axes, same bytes each build."""

from __future__ import annotations

import importlib.util
import os
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from matplotlib.figure import Figure

ROOT = Path(__file__).resolve().parent.parent
SVG = "{http://www.w3.org/2000/svg}"
IMAGE_RE = re.compile(r"!\[(?P<alt>[^\]]*)\]\((?P<up>(?:\.\./)*)figures/(?P<name>[^)\s]+)\)")


def load_hook(path: Path):
    spec = importlib.util.spec_from_file_location(f"{path.stem}_hook_under_test", path)
    module = sys.modules.setdefault(spec.name, importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


HOOK = load_hook(ROOT / "hooks" / "figures.py")  # the lesson figures, checked in detail here
IMAGES = [
    (page, match["alt"], match["name"])
    for page in sorted((ROOT / "docs").rglob("*.md"))
    for match in IMAGE_RE.finditer(page.read_text(encoding="utf-8"))
]


@pytest.fixture(scope="module")
def drawn() -> dict[str, tuple[Figure, str]]:
    """Each figure once: the matplotlib Figure and its SVG text."""
    figures = {name: HOOK.draw(name) for name in HOOK.FIGURES}
    return {name: (fig, HOOK.to_svg(fig)) for name, fig in figures.items()}


@pytest.fixture(scope="module")
def rendered(drawn) -> dict[str, str]:
    return {name: svg for name, (_, svg) in drawn.items()}


def test_pages_show_figures() -> None:
    # Guards against a pattern that silently matches nothing.
    assert {page.stem for page, _, _ in IMAGES} >= {"self-attention", "positional-encoding"}


def test_every_figure_shown_is_drawn_and_every_figure_drawn_is_shown(rendered) -> None:
    shown = {name for _, _, name in IMAGES}
    others = {  # figures that other hooks declare (e.g. the benchmark page's, drawn from its data)
        name
        for path in sorted((ROOT / "hooks").glob("*.py")) if path.name != "figures.py"
        for name in getattr(load_hook(path), "FIGURES", {})
    }
    assert shown - rendered.keys() - others == set(), "a page shows a figure no hook draws"
    assert rendered.keys() - shown == set(), "hooks/figures.py draws a figure no page shows"


@pytest.mark.parametrize("image", IMAGES, ids=[f"{p.stem}:{n}" for p, _, n in IMAGES])
def test_every_figure_has_alt_text(image) -> None:
    _, alt, _ = image
    assert len(alt.split()) >= 5, f"alt text too short to describe the figure: {alt!r}"


@pytest.mark.parametrize("name", sorted(HOOK.FIGURES))
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
    again = HOOK.render_all()
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
