"""What a reader sees at a given window width: nothing cut off, and boxes that scroll say so.

At a desktop width nothing may be wider than its box: a code block, a trace, a display
equation, a table or a figure that scrolls sideways there hides the end of its lines (the part
a reader compares with their terminal), and nothing may sit under a copy button. At a phone
width most code has to scroll; each box that does must show it: a shadow at the edge behind
which more content hides (docs/stylesheets/extra.css), and a figure says so in words under
it (docs/javascripts/scroll-hints.js).

`check_layout` measures every page at one width. `scroll_indicator` checks in pixels, on one
box, that the shadow is really drawn: the box's edge is screenshotted with the page's styles
and again with its background reduced to a plain colour; the two must differ where more
content hides (the start of a box that scrolls right), and agree where none does.
"""

from __future__ import annotations

import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .serving import new_context
from .visits import wait_for_math

# The boxes that may scroll sideways: code blocks (and traces), display equations, tables,
# figures, and notebook cells and outputs.
SCROLL_BOXES = ", ".join(
    [
        "article pre > code",
        "article div.arithmatex",
        "article .md-typeset__scrollwrap",
        "article .figure",
        ".jp-RenderedText pre",
        ".jp-InputArea-editor .highlight pre",
    ]
)

_MEASURE = r"""([selector]) => {
  const visible = e => e.checkVisibility() && e.getBoundingClientRect().width > 0;
  const describe = e => {
    const text = e.textContent.trim().replace(/\s+/g, ' ').slice(0, 50);
    const kind = e.matches('.arithmatex') ? 'equation' : e.matches('.figure') ? 'figure'
      : e.matches('.md-typeset__scrollwrap') ? 'table' : e.matches('.jp-RenderedText pre')
      ? 'notebook output' : 'code block';
    return `${kind} "${text}"`;
  };
  const boxes = [];
  document.querySelectorAll(selector).forEach((e, index) => {
    if (!visible(e)) return;
    const over = e.scrollWidth - e.clientWidth;
    if (over <= 1) return;
    const style = getComputedStyle(e);
    const layers = style.backgroundImage.split(/,(?![^(]*\))/).filter(l => l.includes('gradient'));
    let hint = null;
    if (e.matches('.figure')) {
      const next = e.nextElementSibling;
      hint = !!(next && next.matches('.figure-hint') && visible(next)
                && getComputedStyle(next).display !== 'none');
    }
    boxes.push({index, what: describe(e), over,
                indicator: layers.length >= 4 && style.backgroundAttachment.includes('local'),
                hint});
  });
  // Text under a copy button: the rectangles of each line's text against the button bar.
  const covered = [];
  for (const nav of document.querySelectorAll('article .md-code__nav')) {
    if (!visible(nav)) continue;
    const bar = nav.getBoundingClientRect();
    const code = nav.closest('.highlight')?.querySelector('pre > code');
    if (!code) continue;
    const walker = document.createTreeWalker(code, NodeFilter.SHOW_TEXT);
    for (let n = walker.nextNode(); n; n = walker.nextNode()) {
      if (!n.textContent.trim()) continue;
      const range = document.createRange();
      range.selectNodeContents(n);
      const hit = [...range.getClientRects()].some(r => r.width > 0 && r.right > bar.left + 1
        && r.left < bar.right - 1 && r.bottom > bar.top + 1 && r.top < bar.bottom - 1);
      if (hit) { covered.push(`${describe(code)}: "${n.textContent.trim().slice(0, 40)}"`); break; }
    }
  }
  return {boxes, covered, scroll: document.documentElement.scrollWidth, inner: window.innerWidth};
}"""


@dataclass
class Layout:
    """What one page looked like at one width."""

    path: str
    width: int
    overflowing: list[dict[str, Any]] = field(default_factory=list)  # boxes that scroll sideways
    covered: list[str] = field(default_factory=list)  # text under a copy button
    page_scroll: int = 0  # the document's scrollWidth


def measure(
    browser: Any,
    base: str,
    paths: Iterable[str],
    viewport: dict[str, int],
    *,
    color_scheme: str = "light",
) -> list[Layout]:
    """Load each page at ``viewport`` (math typeset, fonts and pictures loaded) and measure it."""
    out = []
    context = new_context(browser, base, viewport=viewport, color_scheme=color_scheme)
    try:
        page = context.new_page()
        for path in paths:
            page.goto(base + path, wait_until="load")
            wait_for_math(page)  # unrendered math is reported by the math check
            page.evaluate("document.fonts.ready.then(() => true)")
            got = page.evaluate(_MEASURE, [SCROLL_BOXES])
            out.append(Layout(path, viewport["width"], got["boxes"], got["covered"], got["scroll"]))
    finally:
        context.close()
    return out


def desktop_problems(layouts: list[Layout]) -> list[str]:
    """At a desktop width: no box scrolls sideways, no text under a copy button, no page scroll."""
    problems = []
    for lay in layouts:
        where = f"{lay.path} at {lay.width}px"
        problems += [f"{where}: {b['what']} is {b['over']}px wider than its box" for b in lay.overflowing]
        problems += [f"{where}: a copy button covers text: {c}" for c in lay.covered]
        if lay.page_scroll > lay.width:
            problems.append(f"{where}: the page scrolls sideways ({lay.page_scroll}px)")
    return problems


def phone_problems(layouts: list[Layout]) -> list[str]:
    """At a phone width, whatever scrolls sideways says so.

    Every box that scrolls sideways shows its scroll shadows; a figure that does also shows its
    hint; the page itself does not scroll sideways.
    """
    problems = []
    for lay in layouts:
        where = f"{lay.path} at {lay.width}px"
        for b in lay.overflowing:
            if not b["indicator"]:
                problems.append(
                    f"{where}: {b['what']} scrolls sideways ({b['over']}px) without its scroll shadows"
                )
            if b["hint"] is False:
                problems.append(f"{where}: {b['what']} scrolls sideways without saying so")
        if lay.page_scroll > lay.width:
            problems.append(f"{where}: the page scrolls sideways ({lay.page_scroll}px)")
    return problems


_STRIP = 12  # px of the box's edge that are compared


def _edge(page: Any, handle: Any, side: str) -> Any:
    """A screenshot (PIL image) of the box's left or right edge strip, as the reader sees it."""
    from PIL import Image

    box = handle.bounding_box()
    x = box["x"] if side == "left" else box["x"] + box["width"] - _STRIP
    clip = {"x": x, "y": box["y"], "width": _STRIP, "height": min(box["height"], 400)}
    return Image.open(io.BytesIO(page.screenshot(clip=clip, animations="disabled"))).convert("L")


def _difference(a: Any, b: Any) -> float:
    """Mean absolute difference of two greyscale images, 0..255."""
    from PIL import ImageChops, ImageStat

    return ImageStat.Stat(ImageChops.difference(a, b)).mean[0]


def scroll_indicator(page: Any, selector: str, index: int) -> dict[str, float]:
    """How much the scroll shadows change the pixels of one box, at each end of its scroll.

    Returns the mean grey-level difference (0..255), shadows on versus off, of the right edge
    at the start, the right edge at the end, and the left edge at the end.
    """
    handle = page.locator(selector).nth(index)
    handle.scroll_into_view_if_needed()

    def edges() -> dict[str, Any]:
        handle.evaluate("e => { e.scrollLeft = 0; }")
        right_start = _edge(page, handle, "right")
        handle.evaluate("e => { e.scrollLeft = e.scrollWidth; }")
        return {
            "right_at_start": right_start,
            "right_at_end": _edge(page, handle, "right"),
            "left_at_end": _edge(page, handle, "left"),
        }

    shown = edges()
    handle.evaluate(
        "e => e.style.setProperty('background', getComputedStyle(e).backgroundColor, 'important')"
    )
    try:
        plain = edges()
    finally:
        handle.evaluate("e => { e.style.removeProperty('background'); e.scrollLeft = 0; }")
    return {name: _difference(shown[name], plain[name]) for name in shown}
