"""Every lesson as a notebook: beside its page in the built site, made of the page's sections,
its links working once downloaded, and printing exactly the page's traces when run."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from primer_site import lesson_notebooks
from primer_site.plugin import JUPYTER_CONFIG
from primer_site.sections import includes, read_section
from primer_site.traces import find_traces

PAGES = lesson_notebooks.lesson_pages()
LINK_RE = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def load(site: Path, page: Path) -> nbformat.NotebookNode:
    return nbformat.reads((site / lesson_notebooks.site_path(page)).read_text(encoding="utf-8"), as_version=4)


def test_every_lesson_has_a_notebook(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    assert len(PAGES) >= 8
    for page in PAGES:
        path = site / lesson_notebooks.site_path(page)
        assert path.is_file(), f"{page.name}: no notebook at {lesson_notebooks.site_path(page)}"
        nbformat.validate(load(site, page))
        html = (path.parent / "index.html").read_text(encoding="utf-8")
        assert f'href="{path.name}" download' in html, f"{page.name}: the page has no download link"


def test_code_cells_are_the_runnable_sections_in_page_order(built_site: tuple[Path, str]) -> None:
    site, _ = built_site
    for page in PAGES:
        code = [c for c in load(site, page).cells if c.cell_type == "code"]
        wanted = [
            ref
            for ref in includes(page.read_text(encoding="utf-8"))
            if ref.startswith(lesson_notebooks.RUNNABLE)
        ]
        assert [c.metadata["section"] for c in code] == wanted, page.name
        for c in code:
            assert c.source == read_section(c.metadata["section"]).rstrip("\n")


def target_file(site: Path, url: str, published_url: str) -> tuple[Path, str]:
    path, _, anchor = url[len(published_url) :].partition("#")
    file = site / path
    return (file / "index.html" if path.endswith("/") or not path else file), anchor


def test_links_work_once_downloaded(built_site: tuple[Path, str], published_url: str) -> None:
    """No link is relative (it would break outside the site); each one under the site's
    address names a file of the built site, and its anchor an id on that page."""
    site, _ = built_site
    problems = []
    for page in PAGES:
        for c in load(site, page).cells:
            if c.cell_type != "markdown":
                continue
            for url in LINK_RE.findall(c.source):
                if not url.startswith(published_url):
                    if not url.startswith("https://"):
                        problems.append(f"{page.name}: link {url!r} does not work once downloaded")
                    continue
                file, anchor = target_file(site, url, published_url)
                if not file.is_file():
                    problems.append(f"{page.name}: {url} names no file of the site")
                elif anchor and f'id="{anchor}"' not in file.read_text(encoding="utf-8"):
                    problems.append(f"{page.name}: {url}: no #{anchor} on that page")
    assert not problems, "\n".join(problems)


def test_no_page_syntax_is_left_for_jupyter(built_site: tuple[Path, str]) -> None:
    """What only MkDocs reads would show as raw text in Jupyter."""
    site, _ = built_site
    leftovers = re.compile(r"^(!!!|\?\?\?)|--8<--|<!-- trace|\\\(|\\\[", re.M)
    for page in PAGES:
        for c in load(site, page).cells:
            if c.cell_type == "markdown":
                found = leftovers.search(c.source)
                assert found is None, f"{page.name}: {found.group(0)!r} left in: {c.source[:200]}"


@pytest.mark.parametrize("page", PAGES, ids=[p.stem for p in PAGES])
def test_notebook_runs_and_prints_the_page_traces(
    built_site: tuple[Path, str], page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run in a fresh kernel, in an empty folder (as downloaded): no cell fails, and each cell
    prints exactly the trace its page shows under that section (nothing, where it shows none)."""
    site, _ = built_site
    monkeypatch.setenv(
        "JUPYTER_CONFIG_PATH",
        os.pathsep.join([str(JUPYTER_CONFIG), os.environ.get("JUPYTER_CONFIG_PATH", "")]),
    )
    notebook = load(site, page)
    NotebookClient(
        notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    ).execute()
    traces = {t.ref: t.shown for t in find_traces(page)}
    for c in notebook.cells:
        if c.cell_type != "code":
            continue
        ref = c.metadata["section"]
        printed = "".join(
            o.get("text", "") for o in c.outputs if o.output_type == "stream" and o.name == "stdout"
        )
        others = [
            json.dumps(o)[:300] for o in c.outputs if not (o.output_type == "stream" and o.name == "stdout")
        ]
        assert not others, f"{page.name} {ref}: output other than print: {others}"
        assert printed.strip("\n") == traces.get(ref, "").strip("\n"), (
            f"{page.name} {ref}: prints what the page does not show"
        )
