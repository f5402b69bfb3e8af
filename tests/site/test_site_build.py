"""The strict site build: clean, complete, executed, and self-contained."""

from __future__ import annotations

import re
from pathlib import Path

LESSONS = ["encoder-decoder", "self-attention", "transformer-vs-rnn", "attention-math"]


def test_build_is_strict_and_has_no_warnings(built_site: tuple[Path, str]) -> None:
    _, log = built_site
    bad = [line for line in log.splitlines() if re.match(r"^(WARNING|ERROR)\b", line)]
    assert not bad, "\n".join(bad)


def test_the_build_prints_no_alarming_kernel_warning(built_site: tuple[Path, str]) -> None:
    """Notebook kernels talk over IPC sockets (src/primer_site/jupyter), so ipykernel has no reason to
    warn that it "is running over TCP without encryption" (it printed that four times a build)."""
    _, log = built_site
    assert "without encryption" not in log and "Kernel is running" not in log, log[-2000:]


def test_api_signatures_are_formatted(built_site: tuple[Path, str]) -> None:
    """mkdocstrings formats signatures with ruff: the docs extra installs it, so the site a
    reader builds with `make serve` wraps long signatures as the tested one does."""
    _, log = built_site
    assert "Formatting signatures requires" not in log


def test_every_lesson_and_the_notebook_is_built(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    for lesson in LESSONS:
        assert (site / "lessons" / lesson / "index.html").is_file()
    assert (site / "notebooks" / "original-notebook" / "index.html").is_file()
    assert (site / "notebooks" / "original-notebook" / "original-notebook.ipynb").is_file()


def test_notebook_page_shows_executed_output(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    html = (site / "notebooks" / "original-notebook" / "index.html").read_text(encoding="utf-8")
    # Outputs exist only if the notebook was executed at build time, by the package's code.
    assert "Encoder output: ['encoded_hello', 'encoded_world']" in html
    assert "This helps model understand which words are most relevant!" in html
    assert re.search(r'href="[^"]*original-notebook\.ipynb"\s+download', html)


def test_included_code_comes_from_src(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    html = (site / "lessons" / "encoder-decoder" / "index.html").read_text(encoding="utf-8")
    assert "--8&lt;--" not in html and "--8<--" not in html  # every include was resolved
    assert "SimpleEncoder" in html


def test_no_asset_is_loaded_from_another_host(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    outside = re.compile(r"""<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=["'](?:https?:)?//""")
    for page in site.rglob("*.html"):
        found = [
            tag
            for tag in outside.findall(page.read_text(encoding="utf-8"))
            if 'rel="canonical"' not in tag  # names the page's own address; loads nothing
        ]
        assert not found, f"{page.relative_to(site)} loads from another host: {found[:3]}"


def test_the_home_page_lists_every_lesson(root: Path) -> None:
    """The home page's lesson table names every lesson page, in the order of the navigation."""
    home = (root / "docs" / "index.md").read_text(encoding="utf-8")
    listed = re.findall(r"^\| \[[^\]]+\]\(lessons/([\w-]+)\.md\)", home, re.M)
    nav = re.findall(
        r"^\s+- .*: lessons/([\w-]+)\.md$", (root / "mkdocs.yml").read_text(encoding="utf-8"), re.M
    )
    pages = sorted(p.stem for p in (root / "docs" / "lessons").glob("*.md"))
    assert sorted(nav) == pages, "a lesson page is missing from the navigation"
    assert listed == nav, f"the home page lists {listed}, the navigation has {nav}"
