"""The reading aids of the lessons (issue 5), in Chromium: previous / next links, definitions
on hover (from the glossary, hooks/glossary.py) and the cells of attention heatmaps on hover
(hooks/figures.py). The checks are in sitecheck.py; test_checks_catch_breakage.py shows that
they fail on a page without these aids.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

import pytest
import sitecheck
import traces  # scripts/traces.py

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
LESSON = "/lessons/self-attention/"


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} problem(s) with {what}:\n" + "\n".join(problems)


def glossary_definitions() -> set[str]:
    spec = importlib.util.spec_from_file_location("glossary_hook_for_browser", ROOT / "hooks" / "glossary.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {entry.definition for entries in module.read().values() for entry in entries}


def lessons(visits: list[sitecheck.Visit]) -> list[str]:
    found = [v.path for v in visits if v.path.startswith("/lessons/")]
    assert len(found) >= 7, found
    return found


def test_every_lesson_has_previous_and_next_links(visits: list[sitecheck.Visit]) -> None:
    _fail_if(sitecheck.check_footer_links(visits, lessons(visits)), "footer links")


def test_lessons_define_terms_on_hover_and_code_blocks_are_untouched(
    visits: list[sitecheck.Visit],
) -> None:
    _fail_if(sitecheck.check_abbreviations(visits, lessons(visits)), "hover definitions")


def test_hovering_a_term_shows_its_glossary_definition(browser: Any, site_base: str) -> None:
    """A word of the prose (`query`) and a symbol written as inline code (`d_model`)."""
    problems, shown = sitecheck.check_hover(
        browser, site_base, LESSON, ["article p abbr[title]", "article abbr[title]:has(> code)"])
    _fail_if(problems, "definitions on hover")
    assert set(shown) <= glossary_definitions(), shown


def test_hovering_a_heatmap_cell_shows_the_weight_the_trace_prints(
    browser: Any, site_base: str
) -> None:
    # The trace beside the first figure prints "'I' attends: 'I' 0.875, 'love' 0.024, ...".
    [trace] = [t for t in traces.find_traces(ROOT / "docs" / "lessons" / "self-attention.md")
               if t.ref.endswith(":step_by_step")]
    query, row = re.search(r"^  '(\S+)' attends: (.*)$", trace.shown, re.M).groups()
    key, weight = re.findall(r"'(\S+)' ([\d.]+)", row)[1]  # row 0, column 1
    first = '.heatmap:has(img[src$="self-attention-weights.svg"]) .heatmap-grid > span:nth-child(2)'
    padded = ('.heatmap:has(img[src$="masked-weights.svg"]) .heatmap-grid:nth-of-type(2) '
              "> span:nth-child(3)")  # the padding panel: query 'hi', key '<pad>'
    problems, shown = sitecheck.check_hover(browser, site_base, LESSON, [first, padded])
    _fail_if(problems, "heatmap cells on hover")
    assert shown == [f"query '{query}', key '{key}': weight {weight}",
                     "query 'hi', key '<pad>': weight 0.000"]
