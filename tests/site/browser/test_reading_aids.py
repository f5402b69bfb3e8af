"""The reading aids of the lessons (issue 5), in Chromium: previous / next links, definitions
on hover (from the glossary, src/primer_site/glossary.py), the cells of attention heatmaps on hover
(src/primer_site/figures.py), and notebook pages laid out for reading (docs/stylesheets/extra.css). The
checks are in sitecheck.py; test_checks_catch_breakage.py and the last test here show that
they fail on pages without these aids.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from primer_site import ROOT as ROOT_DIR
from primer_site import glossary, traces
from primer_site.browser import interactive, page_checks, serving
from primer_site.browser.visits import Visit

pytestmark = pytest.mark.browser

ROOT = ROOT_DIR
LESSON = "/lessons/self-attention/"


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} problem(s) with {what}:\n" + "\n".join(problems)


def glossary_definitions() -> set[str]:
    return {entry.definition for entries in glossary.read().values() for entry in entries}


def lessons(visits: list[Visit]) -> list[str]:
    found = [v.path for v in visits if v.path.startswith("/lessons/")]
    assert len(found) >= 7, found
    return found


def test_every_lesson_has_previous_and_next_links(visits: list[Visit]) -> None:
    _fail_if(page_checks.check_footer_links(visits, lessons(visits)), "footer links")


def test_lessons_define_terms_on_hover_and_code_blocks_are_untouched(
    visits: list[Visit],
) -> None:
    _fail_if(page_checks.check_abbreviations(visits, lessons(visits)), "hover definitions")


def test_hovering_a_term_shows_its_glossary_definition(browser: Any, site_base: str) -> None:
    """A word of the prose (`query`) and a symbol written as inline code (`d_model`)."""
    problems, shown = interactive.check_hover(
        browser, site_base, LESSON, ["article p abbr[title]", "article abbr[title]:has(> code)"]
    )
    _fail_if(problems, "definitions on hover")
    assert set(shown) <= glossary_definitions(), shown


def test_hovering_a_heatmap_cell_shows_the_weight_the_trace_prints(browser: Any, site_base: str) -> None:
    # The trace beside the first figure prints "'I' attends: 'I' 0.875, 'love' 0.024, ...".
    [trace] = [
        t
        for t in traces.find_traces(ROOT / "docs" / "lessons" / "self-attention.md")
        if t.ref.endswith(":step_by_step")
    ]
    query, row = re.search(r"^  '(\S+)' attends: (.*)$", trace.shown, re.M).groups()
    key, weight = re.findall(r"'(\S+)' ([\d.]+)", row)[1]  # row 0, column 1
    first = '.heatmap:has(img[src$="self-attention-weights.svg"]) .heatmap-grid > span:nth-child(2)'
    padded = (
        '.heatmap:has(img[src$="masked-weights.svg"]) .heatmap-grid:nth-of-type(2) '
        "> span:nth-child(3)"
    )  # the padding panel: query 'hi', key '<pad>'
    problems, shown = interactive.check_hover(browser, site_base, LESSON, [first, padded])
    _fail_if(problems, "heatmap cells on hover")
    assert shown == [
        f"query '{query}', key '{key}': weight {weight}",
        "query 'hi', key '<pad>': weight 0.000",
    ]


def test_notebook_pages_use_the_width_and_keep_output_lines(
    browser: Any, site_base: str, pages: list[str]
) -> None:
    notebooks = [p for p in pages if p.startswith("/notebooks/")]
    assert len(notebooks) >= 2, pages
    _fail_if(interactive.check_notebook_layout(browser, site_base, notebooks), "notebook layout")


NARROW_NOTEBOOK = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>nb</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head><body>
<div class="jupyter-wrapper" style="width: 300px"><div class="jp-Notebook">
<div class="jp-InputArea-editor" style="width: 200px">print("hello world " * 3)</div>
<div class="jp-RenderedText" style="width: 120px"><pre style="white-space: pre-wrap; word-break: break-all">hello world hello world hello world
</pre></div></div></div></body></html>
"""


def test_the_notebook_check_catches_a_narrow_cell_and_a_wrapped_output(browser: Any, tmp_path: Path) -> None:
    (tmp_path / "nb").mkdir()
    (tmp_path / "nb" / "index.html").write_text(NARROW_NOTEBOOK, encoding="utf-8")
    with serving.serve(tmp_path) as base:
        problems = interactive.check_notebook_layout(browser, base, ["/nb/"], [serving.PHONE])
    text = "\n".join(problems)
    assert "/nb/ at 375px: 1 code cell(s) narrower than 95% of the page's 300px: [200]" in text
    assert "/nb/ at 375px: output wraps: hello world hello world hello world (1 lines shown on" in text
