"""Accessible to every reader (issue 17), in Chromium: WCAG 2.1 AA by axe-core on every page,
the keyboard alone, reduced motion and 200% zoom. The checks are in a11y.py;
test_checks_catch_breakage.py shows each of them failing on a broken page.

axe-core runs once per page, colour scheme and width (`a11y.audit`: the light "default" and
dark "slate" schemes through the emulated `prefers-color-scheme`, checked against the scheme
Material shows), every `<details>` opened first. At desktop width every page is checked; at
phone width the home page and the lessons (`PHONE_PAGES`): axe costs about 3 s of CPU per page
and scheme, and the other pages (API reference, notebooks, glossary, benchmarks) have the same
colours at both widths. Set A11Y_PHONE=all to check every page at phone width too.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from primer_site import ROOT as ROOT_DIR
from primer_site.browser import a11y

pytestmark = pytest.mark.browser

ROOT = ROOT_DIR
AXE_REPORT = ROOT / "build" / "axe-report.txt"
LESSON = "/lessons/self-attention/"


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} problem(s) with {what}:\n" + "\n".join(problems)


def phone_pages(pages: list[str]) -> list[str]:
    if os.environ.get("A11Y_PHONE") == "all":
        return pages
    return [p for p in pages if p == "/" or p.startswith("/lessons/")]


@pytest.fixture(scope="module")
def axe_runs(browser: Any, site_base: str, site_dir: Path) -> dict[str, list[a11y.AxeRun]]:
    """axe on every page in both schemes at desktop width, on PHONE_PAGES at phone width."""
    pages = a11y.all_pages(site_dir)
    runs = {
        "desktop": a11y.audit(browser, site_base, pages, widths=["desktop"]),
        "phone": a11y.audit(browser, site_base, phone_pages(pages), widths=["phone"]),
    }
    AXE_REPORT.parent.mkdir(exist_ok=True)
    AXE_REPORT.write_text(
        "".join(
            f"axe-core {a11y.AXE_VERSION}, {width}:\n{a11y.tally_table(r)}\n" for width, r in runs.items()
        ),
        encoding="utf-8",
    )
    return runs


@pytest.mark.slow  # several minutes: axe's colour-contrast rule costs ~3 s of CPU per page and scheme
def test_axe_finds_no_wcag_violation_at_desktop_width(
    axe_runs: dict[str, list[a11y.AxeRun]], site_dir: Path
) -> None:
    runs = axe_runs["desktop"]
    assert {r.path for r in runs} == set(a11y.all_pages(site_dir))
    assert {r.scheme for r in runs} == {"light", "dark"}
    _fail_if(a11y.check_axe(runs), "axe-core (WCAG 2.0/2.1 A and AA) at 1280x900")


@pytest.mark.slow
def test_axe_finds_no_wcag_violation_at_phone_width(axe_runs: dict[str, list[a11y.AxeRun]]) -> None:
    runs = axe_runs["phone"]
    assert len({r.path for r in runs if r.path.startswith("/lessons/")}) >= 7, runs
    _fail_if(a11y.check_axe(runs), "axe-core (WCAG 2.0/2.1 A and AA) at 390x844")


def test_a_lesson_works_with_the_keyboard_alone(browser: Any, site_base: str) -> None:
    _fail_if(a11y.check_keyboard(browser, site_base, LESSON), "the keyboard")


def test_boxes_that_scroll_sideways_take_the_focus(browser: Any, site_base: str) -> None:
    """On a phone, the figures, wide tables and long code of the lessons scroll sideways in
    their own box: each such box is in the Tab order, and the arrow keys scroll it."""
    found = 0
    problems: list[str] = []
    for path in (LESSON, "/lessons/positional-encoding/", "/benchmarks/"):
        more, boxes = a11y.check_scroll_boxes(browser, site_base, path)
        problems += more
        found += boxes
    assert found >= 5, f"only {found} box(es) scroll sideways at phone width: is the check blind?"
    _fail_if(problems, "boxes that scroll sideways")


def test_nothing_moves_for_readers_who_ask_for_less_motion(
    browser: Any, site_base: str, pages: list[str]
) -> None:
    lessons = [p for p in pages if p.startswith("/lessons/")][:2]
    _fail_if(a11y.check_reduced_motion(browser, site_base, ["/", *lessons]), "reduced motion")
    # The same check sees the motion a reader who did not ask gets.
    assert a11y.check_reduced_motion(browser, site_base, ["/"], reduced_motion="no-preference")


def test_lessons_at_200_percent_zoom_lose_nothing_and_do_not_scroll_sideways(
    browser: Any, site_base: str, pages: list[str]
) -> None:
    lessons = [p for p in pages if p.startswith("/lessons/")]
    assert len(lessons) >= 7, pages
    _fail_if(a11y.check_zoom(browser, site_base, ["/", *lessons]), "200% zoom (640x450)")


def test_the_numbers_of_each_heatmap_are_a_table_under_it(site_dir: Path) -> None:
    """The built lesson has, after each heatmap, a collapsed table with row and column headers."""
    html = (site_dir / "lessons" / "self-attention" / "index.html").read_text(encoding="utf-8")
    assert html.count('<details class="figure-data"><summary>The numbers in this figure</summary>') == 3
    assert html.count('<th scope="row">') >= 3 * 3 and html.count('<th scope="col">') >= 3 * 4
    assert "Largest weight of each query: &#x27;I&#x27; on &#x27;I&#x27; (0.875)" in html
