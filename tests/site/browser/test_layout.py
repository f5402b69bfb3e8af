"""Every page as a reader sees it at a 1280px desktop and a 390px phone (checks in layout.py).

At the desktop width nothing is cut off: no code block, trace, display equation, table or
figure is wider than its box, and no copy button covers text. At the phone width what has to
scroll sideways shows that it does (scroll shadows, and a sentence under a wide figure), and
the shadows are checked in pixels on one box of each kind, in both colour schemes.
"""

from __future__ import annotations

from typing import Any

import pytest

from primer_site.browser import layout, serving
from primer_site.browser.visits import MATH_DONE

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _fail_if(problems: list[str], what: str) -> None:
    assert not problems, f"{len(problems)} problem(s) with {what}:\n" + "\n".join(problems)


def _measure(browser: Any, base: str, pages: list[str], viewport: dict[str, int]) -> list[layout.Layout]:
    return layout.measure(browser, base, pages, viewport)


def test_nothing_is_cut_off_at_a_desktop(browser: Any, site_base: str, pages: list[str]) -> None:
    layouts = _measure(browser, site_base, pages, DESKTOP)
    assert len(layouts) == len(pages)
    _fail_if(layout.desktop_problems(layouts), "the layout at 1280px")


def test_what_scrolls_on_a_phone_says_so(browser: Any, site_base: str, pages: list[str]) -> None:
    layouts = _measure(browser, site_base, pages, PHONE)
    kinds = {b["what"].split(" ")[0] for lay in layouts for b in lay.overflowing}
    assert {"code", "equation", "figure", "table"} <= kinds, f"nothing of some kind scrolls: {kinds}"
    _fail_if(layout.phone_problems(layouts), "the layout at 390px")


# One box of each kind that scrolls sideways at 390px: (page, selector, index among matches).
SAMPLES = [
    ("/lessons/self-attention/", "article pre > code", 0),
    ("/lessons/positional-encoding/", "article div.arithmatex", 0),
    ("/lessons/transformer-vs-rnn/", "article .md-typeset__scrollwrap", 0),
    ("/lessons/self-attention/", "article .figure", 1),  # the two-panel masks figure
]


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_scroll_shadows_are_drawn(browser: Any, site_base: str, scheme: str) -> None:
    """Shadows on vs. off changes the right edge at the start of the scroll (more to see) and the
    left edge at its end, and not the right edge at the end (nothing more to see)."""
    context = serving.new_context(browser, site_base, viewport=PHONE, color_scheme=scheme)
    problems = []
    try:
        page = context.new_page()
        for path, selector, index in SAMPLES:
            page.goto(site_base + path, wait_until="load")
            page.wait_for_function(MATH_DONE, timeout=15_000)
            got = layout.scroll_indicator(page, selector, index)
            where = f"{path} {selector} #{index} ({scheme})"
            if got["right_at_start"] < 2 or got["left_at_end"] < 2:
                problems.append(f"{where}: no visible shadow where more content hides: {got}")
            if got["right_at_end"] > 0.5:
                problems.append(f"{where}: a shadow at the right edge when nothing more is there: {got}")
    finally:
        context.close()
    _fail_if(problems, "scroll shadows")
