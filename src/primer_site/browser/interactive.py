"""Checks that drive their own pages: hover tooltips, search, the palette, the phone layout.

Each opens the pages it needs in a fresh context, acts as a reader would (hovers, types, clicks,
narrows the window) and returns human-readable problems (an empty list when all is well).
"""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from typing import Any

from .serving import DESKTOP, PHONE, new_context
from .visits import wait_for_math

_TOOLTIP = """(text) => [...document.querySelectorAll('.md-tooltip2--active')]
    .some(t => t.textContent.trim() === text)"""


def check_hover(
    browser: Any, base: str, path: str, selectors: Iterable[str], *, timeout_ms: int = 3_000
) -> tuple[list[str], list[str]]:
    """Hover the first element matching each selector on `path`: a tooltip must show its title.

    The text is compared as Material shows it: the title is HTML, so `&lt;` shows as `<`.

    Returns the problems and the texts the tooltips showed.
    """
    problems, shown = [], []
    context = new_context(browser, base)
    try:
        page = context.new_page()
        page.goto(base + path, wait_until="load")
        for selector in selectors:
            target = page.locator(selector).first
            if not target.count():
                problems.append(f"{path}: nothing matches {selector!r} to hover")
                continue
            target.scroll_into_view_if_needed(timeout=timeout_ms)
            title = target.get_attribute("title") or ""
            text = page.evaluate(
                "t => { const e = document.createElement('div'); e.innerHTML = t; "
                "return e.textContent.trim(); }",
                title,
            )
            if not text:
                problems.append(f"{path}: {selector!r} has no title to show")
                continue
            page.mouse.move(0, 0)
            target.hover(timeout=timeout_ms)
            try:
                page.wait_for_function(_TOOLTIP, arg=text, timeout=timeout_ms)
                shown.append(text)
            except Exception:
                problems.append(f"{path}: hovering {selector!r} shows no tooltip {text!r}")
    finally:
        context.close()
    return problems, shown


_NOTEBOOK_LAYOUT = r"""() => {
  const wrapper = document.querySelector('.jupyter-wrapper');
  if (!wrapper) return {missing: true};
  const full = wrapper.getBoundingClientRect().width;
  const narrow = [...document.querySelectorAll('.jp-InputArea-editor')]
    .map(e => e.getBoundingClientRect().width).filter(w => w < 0.95 * full);
  // An output wraps when its text takes more line boxes than it has lines.
  const wrapped = [];
  for (const pre of document.querySelectorAll('.jp-RenderedText pre')) {
    const range = document.createRange();
    range.selectNodeContents(pre);
    const tops = new Set([...range.getClientRects()].filter(r => r.width > 0)
      .map(r => Math.round(r.top)));
    const lines = pre.textContent.replace(/\n$/, '').split('\n').length;
    if (tops.size > lines)
      wrapped.push(`${pre.textContent.trim().split('\n')[0].slice(0, 40)} (${lines} lines `
                   + `shown on ${tops.size})`);
  }
  return {full, narrow: narrow.map(Math.round), wrapped,
          scroll: document.documentElement.scrollWidth, inner: window.innerWidth};
}"""


def check_notebook_layout(
    browser: Any, base: str, paths: Iterable[str], viewports: Iterable[dict[str, int]] = (DESKTOP, PHONE)
) -> list[str]:
    """Check 9: notebook pages use the width and keep their printed lines.

    At each width, code cells use the page's width (>= 95%), outputs keep their printed lines
    (no wrapping), and the page does not scroll sideways.
    """
    problems = []
    for viewport in viewports:
        context = new_context(browser, base, viewport=viewport)
        try:
            page = context.new_page()
            for path in paths:
                page.goto(base + path, wait_until="load")
                where = f"{path} at {viewport['width']}px"
                got = page.evaluate(_NOTEBOOK_LAYOUT)
                if got.get("missing"):
                    problems.append(f"{where}: not a notebook page (.jupyter-wrapper)")
                    continue
                if got["narrow"]:
                    problems.append(
                        f"{where}: {len(got['narrow'])} code cell(s) narrower than "
                        f"95% of the page's {got['full']:.0f}px: {got['narrow'][:3]}"
                    )
                problems += [f"{where}: output wraps: {w}" for w in got["wrapped"]]
                if got["scroll"] > got["inner"]:
                    problems.append(f"{where}: scrolls sideways ({got['scroll']}px)")
        finally:
            context.close()
    return problems


def check_search(browser: Any, base: str, query: str, *, timeout_ms: int = 10_000) -> list[str]:
    """Typing `query` in the search box lists at least one result under lessons/."""
    context = new_context(browser, base)
    try:
        page = context.new_page()
        page.goto(base + "/", wait_until="load")
        box = page.locator("input.md-search__input")
        if not box.count():
            return ["/: no search box (input.md-search__input)"]
        box.click(timeout=timeout_ms)
        box.press_sequentially(query, delay=20)  # as typed: Material searches on key events
        try:
            page.wait_for_selector(".md-search-result__item a", timeout=timeout_ms)
        except Exception:
            return [f"/: searching {query!r} shows no result"]
        hrefs = page.eval_on_selector_all(".md-search-result__item a", "as => as.map(a => a.href)")
        lessons = urllib.parse.urlsplit(base).path + "/lessons/"
        if not any(urllib.parse.urlsplit(h).path.startswith(lessons) for h in hrefs):
            return [f"/: searching {query!r} finds no lesson, only {hrefs[:5]}"]
        return []
    finally:
        context.close()


def check_palette_toggle(browser: Any, base: str, *, timeout_ms: int = 5_000) -> list[str]:
    """The header toggle switches the color scheme from default to slate and back."""
    context = new_context(browser, base)
    try:
        page = context.new_page()
        page.goto(base + "/", wait_until="load")

        def scheme() -> str | None:
            return page.evaluate("document.body.getAttribute('data-md-color-scheme')")

        seen = [scheme()]
        for _ in range(2):
            toggle = page.locator('form[data-md-component="palette"] label:visible')
            if not toggle.count():
                return [f"/: no visible palette toggle (schemes so far: {seen})"]
            toggle.first.click(timeout=timeout_ms)
            seen.append(scheme())
        if seen != ["default", "slate", "default"]:
            return [f"/: color scheme went {seen}, expected ['default', 'slate', 'default']"]
        return []
    finally:
        context.close()


def check_phone(
    browser: Any, base: str, paths: Iterable[str], *, timeout_ms: int = 5_000
) -> tuple[list[str], dict[str, tuple[int, int]]]:
    """At 375x812: no horizontal scroll, and the hamburger opens the navigation drawer.

    Returns the problems and, per page, (scrollWidth, innerWidth).
    """
    problems, widths = [], {}
    context = new_context(browser, base, viewport=PHONE)
    try:
        page = context.new_page()
        for path in paths:
            page.goto(base + path, wait_until="load")
            wait_for_math(page, timeout_ms)  # unrendered math is reported by the math check
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            widths[path] = (scroll, inner)
            if scroll > inner:
                wide = page.evaluate(WIDEST)
                problems.append(
                    f"{path}: scrolls sideways at {inner}px wide (content {scroll}px; widest: {wide})"
                )
            hamburger = page.locator('label.md-header__button[for="__drawer"]')
            if not hamburger.count() or not hamburger.first.is_visible():
                problems.append(f"{path}: no visible navigation button (label for __drawer)")
                continue
            hamburger.first.click(timeout=timeout_ms)
            try:
                page.wait_for_function(_DRAWER_OPEN, timeout=timeout_ms)
            except Exception:
                problems.append(f"{path}: the navigation drawer does not open")
    finally:
        context.close()
    return problems, widths


_DRAWER_OPEN = """() => {
  const toggle = document.getElementById('__drawer');
  const nav = document.querySelector('.md-sidebar--primary');
  if (!toggle || !toggle.checked || !nav) return false;
  const r = nav.getBoundingClientRect();
  return r.width > 0 && r.left >= -1 && r.right <= window.innerWidth + 1;
}"""


WIDEST = """() => {
  // The outermost elements that stick out of the viewport without a scrolling/clipping box.
  const out = [];
  for (const e of document.querySelectorAll('body *')) {
    const r = e.getBoundingClientRect();
    if (r.right <= window.innerWidth + 1 || e.closest('.md-sidebar, .md-search')) continue;
    let p = e.parentElement, clipped = false;
    for (; p && p !== document.body; p = p.parentElement)
      if (getComputedStyle(p).overflowX !== 'visible') { clipped = true; break; }
    if (clipped || e.parentElement.getBoundingClientRect().right > window.innerWidth + 1)
      continue;
    out.push(`<${e.tagName.toLowerCase()} class="${e.getAttribute('class') || ''}"> reaches `
             + `${Math.round(r.right)}px (${e.textContent.trim().slice(0, 40)})`);
  }
  return out.slice(0, 3).join('; ') || 'not found';
}"""
