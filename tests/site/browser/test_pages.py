"""Every page of the built site, in headless Chromium.

Each test checks one thing on ALL pages (the list comes from the built site, so pages added
later are covered) and names every failing page in its message. The pages are loaded once, by
the session fixture `visits` (tests/site/browser/conftest.py); the checks are in sitecheck.py.
"""

from __future__ import annotations

from typing import Any

import pytest

from primer_site import ROOT as ROOT_DIR
from primer_site.browser import interactive, page_checks
from primer_site.browser.visits import Visit

pytestmark = pytest.mark.browser

ROOT = ROOT_DIR
WEIGHT_REPORT = ROOT / "build" / "page-weight.txt"
SEARCH_QUERY = "softmax"


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} problem(s) with {what}:\n" + "\n".join(problems)


def test_every_page_loads_without_errors(visits: list[Visit]) -> None:
    """HTTP 200 and no console error or uncaught exception on any page."""
    _fail_if(page_checks.check_status_and_console(visits), "status / JavaScript errors")


def test_no_page_contacts_another_host(visits: list[Visit], site_base: str) -> None:
    """The site is offline: every request (page, workers, fonts) goes to the local server."""
    _fail_if(page_checks.check_local_only(visits, site_base), "requests to other hosts")


def test_every_requested_resource_loads(visits: list[Visit]) -> None:
    _fail_if(page_checks.check_resources(visits), "resources (404 or failed)")


def test_every_internal_link_and_anchor_resolves(visits: list[Visit], site_base: str) -> None:
    _fail_if(page_checks.check_links(visits, site_base), "internal links and anchors")


def test_every_image_has_alt_text(visits: list[Visit]) -> None:
    _fail_if(page_checks.check_images_alt(visits), "images without alt text")


def test_math_is_typeset(visits: list[Visit]) -> None:
    """Each `.arithmatex` holds MathJax output; no raw `\\(`/`\\[` is left in visible text."""
    assert any(v.math_elements for v in visits), "no page has math: is arithmatex still on?"
    _fail_if(page_checks.check_math(visits), "math")


def test_notebook_pages_show_outputs(visits: list[Visit]) -> None:
    assert any(v.notebook for v in visits), "no page has a .jp-Notebook: is the notebook built?"
    _fail_if(page_checks.check_notebook_outputs(visits), "notebook outputs")


def test_page_weight(visits: list[Visit]) -> None:
    """Markdown pages transfer less than 300 KB of their own; notebook pages are reported.

    How it is counted: every response the page causes (its own scripts' and the search
    worker's included) counts with its encoded body size as fetched cold (headers excluded),
    so the total is what a first visit to that page alone transfers. Files every page shares and
    the browser caches after the first page of a visit (Material's bundle and CSS, the search
    worker and index, the vendored MathJax, about 1.2 MB, and its fonts, the extra CSS/JS: all
    under /assets/, /javascripts/, /stylesheets/, /search/) are reported as "shared" and not
    charged to the page. The 300 KB budget applies to the rest ("own": the HTML itself,
    figures, anything else the page loads), on pages without `.jp-Notebook`. The report is
    printed and written to build/page-weight.txt.
    """
    report, problems = page_checks.page_weight(visits)
    WEIGHT_REPORT.parent.mkdir(exist_ok=True)
    WEIGHT_REPORT.write_text(report, encoding="utf-8")
    print(f"\nPage weight (also in {WEIGHT_REPORT.relative_to(ROOT)}):\n{report}")
    _fail_if(problems, "page weight\n" + report)


def test_search_finds_a_lesson(browser: Any, site_base: str) -> None:
    _fail_if(interactive.check_search(browser, site_base, SEARCH_QUERY), "search")


def test_dark_light_toggle(browser: Any, site_base: str) -> None:
    _fail_if(interactive.check_palette_toggle(browser, site_base), "the palette toggle")


def test_lessons_fit_a_phone_and_the_drawer_opens(browser: Any, site_base: str, pages: list[str]) -> None:
    """At 375x812, no lesson scrolls sideways and the hamburger opens the navigation drawer."""
    lessons = [p for p in pages if p.startswith("/lessons/")]
    assert lessons, pages
    problems, _ = interactive.check_phone(browser, site_base, lessons)
    _fail_if(problems, "the phone layout")
