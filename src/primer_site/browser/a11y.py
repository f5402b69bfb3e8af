"""Accessibility checks of a built site in Chromium: axe-core, the keyboard, motion and zoom.

Used by the site tests on the built site (tests/site/browser/test_accessibility.py), and on a
small broken site, to show each check fails when it should
(tests/site/browser/test_checks_catch_breakage.py). It reuses the server, launcher and
contexts of `serving`.

axe-core comes from the PyPI package `axe-playwright-python` (0.1.8 bundles axe-core 4.12.1,
MPL-2.0; `AXE_VERSION` below is read from the script itself, and `audit` checks that the
engine that ran is that one). It is injected into each page as a script from the package
file: nothing is fetched from the network. The rules run are those tagged WCAG 2.0 and 2.1,
levels A and AA (`AXE_TAGS`).

The pattern of the other browser checks: a function loads pages and records what it saw, another turns
the records into human-readable problems (an empty list when all is well).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .interactive import WIDEST
from .serving import DESKTOP, new_context, site_pages
from .visits import wait_for_math

AXE_TAGS = ("wcag2a", "wcag2aa", "wcag21a", "wcag21aa")
SCHEMES = {"light": "default", "dark": "slate"}  # emulated prefers-color-scheme -> Material's
WIDTHS = {"desktop": DESKTOP, "phone": {"width": 390, "height": 844}}
# 200% zoom of a 1280x900 window: the page lays out in half as many CSS pixels.
ZOOM_200 = {"width": 640, "height": 450}


def axe_script() -> str:
    """The axe-core script bundled by `axe-playwright-python` (axe.min.js)."""
    from axe_playwright_python.base import AXE_SCRIPT

    return AXE_SCRIPT


def axe_version(script: str | None = None) -> str:
    """The axe-core version in the bundled script's banner (``/*! axe v4.12.1``)."""
    match = re.search(r"/\*! axe v([\d.]+)", (script or axe_script())[:200])
    assert match, "the bundled axe.min.js has no version banner"
    return match[1]


AXE_VERSION = axe_version()

# Started without waiting for it (`_START_AXE`), so that axe runs in the four pages of a path
# (two schemes, two widths: four renderer processes) at once; collected by `_AXE_RESULT`.
_START_AXE = """(tags) => {
  window.__axeResult = axe.run(document, {
    runOnly: {type: 'tag', values: tags},
    resultTypes: ['violations'],
  }).then(result => ({
    version: axe.version,
    violations: result.violations.map(v => ({
      id: v.id, impact: v.impact, help: v.help,
      nodes: v.nodes.map(n => ({
        target: n.target.map(t => Array.isArray(t) ? t.join(' >> ') : t).join(' '),
        html: n.html.slice(0, 160),
        summary: (n.failureSummary || '').replace(/\\s+/g, ' ').slice(0, 240),
      })),
    })),
  }), error => ({error: String(error)}));
  return true;
}"""
_AXE_RESULT = "() => window.__axeResult"

# A speed-up that cannot change a result: axe's colour-contrast rule parses the same few colour
# strings (`rgb(245, 245, 245)`...) with colorjs.io hundreds of thousands of times on a long
# page; parsing is a pure function, so each string's four numbers are kept after the first
# parse. It halves the time of a run on the API reference pages (measured: 6.6 s -> 3.0 s).
_MEMOIZE_COLOR_PARSING = """() => {
  const Color = axe.commons.color.Color;
  const parse = Color.prototype.parseString;
  const parsed = new Map();
  Color.prototype.parseString = function (text) {
    const known = parsed.get(text);
    if (!known) {
      parse.call(this, text);
      parsed.set(text, [this.r, this.g, this.b, this.alpha]);
      return this;
    }
    [this.r, this.g, this.b, this.alpha] = known;
    return this;
  };
}"""

# Readers open the collapsed blocks (solutions, source listings, the numbers of a figure):
# what they hold is checked too.
_OPEN_DETAILS = "() => document.querySelectorAll('details').forEach(d => { d.open = true; })"


@dataclass
class AxeNode:
    """One failing element: its CSS path, the start of its HTML, and axe's explanation."""

    target: str
    html: str
    summary: str


@dataclass
class AxeRun:
    """The violations axe found on one page, in one colour scheme, at one width."""

    path: str
    scheme: str  # "light" or "dark": the emulated prefers-color-scheme
    width: str  # a key of WIDTHS
    shown_scheme: str | None = None  # Material's data-md-color-scheme after loading
    version: str = ""
    violations: dict[str, list[AxeNode]] = field(default_factory=dict)  # rule id -> nodes
    impacts: dict[str, str] = field(default_factory=dict)  # rule id -> impact
    error: str = ""

    @property
    def where(self) -> str:
        """Path, scheme and width, for messages."""
        return f"{self.path} ({self.scheme}, {self.width})"


def audit(
    browser: Any,
    base: str,
    paths: Iterable[str],
    *,
    schemes: Iterable[str] = tuple(SCHEMES),
    widths: Iterable[str] = tuple(WIDTHS),
    math_timeout_ms: int = 15_000,
) -> list[AxeRun]:
    """Axe on every path, in each scheme at each width, every <details> opened first.

    One context per (scheme, width), made once; for each path, the pages of all contexts are
    loaded and axe is started in each without waiting, then the results are collected: the
    contexts' renderer processes work at the same time (axe's colour-contrast rule is most of
    the cost, several seconds on a long page). Runs come back path by path, in the order of
    `widths` then `schemes`.
    """
    script = axe_script()
    combos = [(scheme, width) for width in widths for scheme in schemes]
    contexts = [
        new_context(browser, base, viewport=WIDTHS[width], color_scheme=scheme) for scheme, width in combos
    ]
    runs = []
    try:
        pages = [context.new_page() for context in contexts]
        for path in paths:
            batch = [AxeRun(path=path, scheme=scheme, width=width) for scheme, width in combos]
            responses = []
            for page in pages:  # start every navigation, then wait for each
                try:
                    responses.append(page.goto(base + path, wait_until="commit"))
                except Exception as exc:
                    responses.append(exc)
            for run, page, response in zip(batch, pages, responses, strict=True):
                try:
                    if isinstance(response, Exception):
                        raise response
                    if not response or response.status != 200:
                        run.error = f"HTTP {response and response.status}"
                        continue
                    page.wait_for_load_state("load")
                    wait_for_math(page, math_timeout_ms)  # unrendered math is reported by the math check
                    page.evaluate("document.fonts.ready.then(() => true)")
                    run.shown_scheme = page.evaluate(
                        "document.body && document.body.getAttribute('data-md-color-scheme')"
                    )
                    page.evaluate(_OPEN_DETAILS)
                    page.evaluate(script)
                    page.evaluate(_MEMOIZE_COLOR_PARSING)
                    page.evaluate(_START_AXE, list(AXE_TAGS))
                except Exception as exc:  # reported by check_axe, with the page named
                    run.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
            for run, page in zip(batch, pages, strict=True):
                if run.error:
                    continue
                try:
                    got = page.evaluate(_AXE_RESULT)
                except Exception as exc:
                    run.error = f"{type(exc).__name__}: {str(exc).splitlines()[0]}"
                    continue
                if "error" in got:
                    run.error = f"axe.run failed: {got['error']}"
                    continue
                run.version = got["version"]
                for v in got["violations"]:
                    run.violations[v["id"]] = [AxeNode(**n) for n in v["nodes"]]
                    run.impacts[v["id"]] = v["impact"] or ""
            runs += batch
    finally:
        for context in contexts:
            context.close()
    return runs


def check_axe(runs: list[AxeRun], *, material: bool = True) -> list[str]:
    """Every violation of every run, one line per rule and page, its elements listed.

    With `material`, a run whose page did not show Material's scheme for the emulated
    preference (``default`` for light, ``slate`` for dark) is a problem too: the dark pages
    would not have been checked dark. A run of another axe-core than `AXE_VERSION` is one.
    """
    problems = []
    for run in runs:
        if run.error:
            problems.append(f"{run.where}: axe did not run: {run.error}")
            continue
        if run.version != AXE_VERSION:
            problems.append(f"{run.where}: axe-core {run.version} ran, not {AXE_VERSION}")
        if material and run.shown_scheme != SCHEMES[run.scheme]:
            problems.append(
                f"{run.where}: Material shows scheme {run.shown_scheme!r}, not {SCHEMES[run.scheme]!r}"
            )
        for rule, nodes in run.violations.items():
            listed = "\n".join(f"    {n.target}: {n.summary} [{n.html}]" for n in nodes[:5])
            more = f"\n    ... and {len(nodes) - 5} more" if len(nodes) > 5 else ""
            problems.append(
                f"{run.where}: {rule} ({run.impacts.get(rule, '')}), {len(nodes)} element(s):\n{listed}{more}"
            )
    return problems


def tally(runs: list[AxeRun]) -> dict[str, tuple[int, int]]:
    """Per rule: (failing elements, page-scheme-width runs with at least one), over all runs."""
    counts: dict[str, tuple[int, int]] = {}
    for run in runs:
        for rule, nodes in run.violations.items():
            elements, pairs = counts.get(rule, (0, 0))
            counts[rule] = (elements + len(nodes), pairs + 1)
    return dict(sorted(counts.items()))


def tally_table(runs: list[AxeRun]) -> str:
    """The tally as a plain-text table, with a total line."""
    counts = tally(runs)
    lines = [f"{'rule':<32} {'elements':>9} {'runs':>5}  (of {len(runs)} page/scheme/width runs)"]
    lines += [f"{rule:<32} {e:>9} {p:>5}" for rule, (e, p) in counts.items()]
    failing = sum(1 for r in runs if r.violations)
    lines.append(f"{'total':<32} {sum(e for e, _ in counts.values()):>9} {failing:>5}")
    return "\n".join(lines) + "\n"


def all_pages(site_dir: Path) -> list[str]:
    """Every page of the built site, the not-found page (`/404.html`) included."""
    return [*site_pages(site_dir), *(["/404.html"] if (site_dir / "404.html").is_file() else [])]


# --- The keyboard ---------------------------------------------------------------------------

# What the focus looks like: the focused element's outline or box-shadow, or, for a visually
# hidden input (Material's palette toggle is a radio input of size 0 before its label), those
# of the label drawn next to it.
_FOCUS = r"""() => {
  const e = document.activeElement;
  if (!e || e === document.body) return null;
  const box = el => el.getBoundingClientRect();
  const hidden = el => { const r = box(el); return r.width < 1 || r.height < 1
    || getComputedStyle(el).opacity === '0'; };
  let shown = e;
  if (hidden(e) && e.nextElementSibling && e.nextElementSibling.tagName === 'LABEL')
    shown = e.nextElementSibling;
  const s = getComputedStyle(shown);
  const outline = s.outlineStyle !== 'none' && (s.outlineStyle === 'auto'
    || parseFloat(s.outlineWidth) > 0);
  const shadow = s.boxShadow !== 'none' && s.boxShadow !== '';
  const r = box(shown);
  return {
    tag: e.tagName.toLowerCase(), cls: String(e.className), id: e.id,
    text: (e.getAttribute('aria-label') || e.textContent || '').trim().slice(0, 40),
    ring: outline || shadow, style: `outline ${s.outlineStyle} ${s.outlineWidth}; box-shadow ${s.boxShadow}`,
    visible: !hidden(shown) && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth,
    inArticle: !!e.closest('article'), inNav: !!e.closest('.md-sidebar--primary'),
  };
}"""


def focused(page: Any) -> dict[str, Any] | None:
    """What has the keyboard focus now, and whether a focus ring shows it (see `_FOCUS`)."""
    return page.evaluate(_FOCUS)


def tab_to(page: Any, want: Any, *, limit: int = 400) -> dict[str, Any] | None:
    """Press Tab until `want(focused)` is true; the focused element then, or None."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        now = focused(page)
        if now and want(now):
            return now
    return None


def _ring(where: str, what: str, now: dict[str, Any] | None) -> list[str]:
    if now is None:
        return [f"{where}: {what} cannot be reached with Tab"]
    problems = []
    if not now["ring"]:
        problems.append(f"{where}: {what} has no visible focus indicator ({now['style']})")
    if not now["visible"]:
        problems.append(f"{where}: {what} has the focus but is not on screen")
    return problems


def check_keyboard(browser: Any, base: str, path: str, *, timeout_ms: int = 5_000) -> list[str]:
    """One page with the keyboard alone, at desktop width: every control of a lesson.

    - the first Tab shows the skip link; Enter on it moves to the content (the next Tab is
      in the article);
    - the navigation links are reached with Tab, each with a focus ring;
    - Tab reaches the search box, which opens the search; typing lists results, ArrowDown
      moves into them, Escape closes the search;
    - a copy button is reached and Enter copies its block;
    - a collapsed solution (`<details>`) is reached; Enter opens it, Space closes it;
    - the palette toggle is reached; Enter switches to the dark scheme and back.
    Every element reached must show a focus ring (outline or box-shadow) and be on screen.
    """
    problems: list[str] = []
    context = new_context(browser, base, reduced_motion="reduce")
    try:
        page = context.new_page()

        def fresh() -> None:
            page.goto(base + path, wait_until="load")
            page.evaluate("document.fonts.ready.then(() => true)")

        # The skip link.
        fresh()
        page.keyboard.press("Tab")
        skip = focused(page)
        if not skip or "md-skip" not in skip["cls"]:
            problems.append(f"{path}: the first Tab does not focus a skip link (got {skip})")
        else:
            problems += _ring(path, "the skip link", skip)
            target = page.evaluate("document.activeElement.getAttribute('href')")
            page.keyboard.press("Enter")
            page.keyboard.press("Tab")
            after = focused(page)
            if page.evaluate("location.hash") != target or not (after and after["inArticle"]):
                problems.append(
                    f"{path}: Enter on the skip link does not move to the content "
                    f"(hash {page.evaluate('location.hash')!r}, then Tab focuses {after})"
                )

        # The navigation, the search box, the palette: in the header and the sidebar.
        fresh()
        toggle = tab_to(page, lambda f: "md-option" in f["cls"], limit=10)
        problems += _ring(path, "the palette toggle", toggle)
        if toggle:
            schemes = []
            for _ in range(2):
                page.keyboard.press("Enter")
                page.wait_for_timeout(50)
                schemes.append(page.evaluate("document.body.dataset.mdColorScheme"))
            if schemes != ["slate", "default"]:
                problems.append(
                    f"{path}: Enter on the palette toggle went {schemes}, not ['slate', 'default']"
                )
            problems += _ring(path, "the palette toggle after switching", focused(page))
        search = tab_to(page, lambda f: "md-search__input" in f["cls"], limit=10)
        problems += _ring(path, "the search box", search)
        if search:
            try:  # Material opens the search on the focus event: wait for it on a busy machine
                page.wait_for_function("document.getElementById('__search').checked", timeout=timeout_ms)
            except Exception:
                problems.append(f"{path}: focusing the search box does not open the search")
            page.keyboard.type("softmax", delay=20)
            try:
                page.wait_for_selector(".md-search-result__item a", timeout=timeout_ms)
                page.keyboard.press("ArrowDown")
                result = focused(page)
                if not result or "md-search-result__link" not in result["cls"]:
                    problems.append(f"{path}: ArrowDown does not move into the search results ({result})")
                else:
                    problems += _ring(path, "a search result", result)
            except Exception:
                problems.append(f"{path}: typing in the search box lists no result")
            page.keyboard.press("Escape")
            if page.evaluate("document.getElementById('__search').checked"):
                problems.append(f"{path}: Escape does not close the search")
        nav = []
        for _ in range(60):
            now = tab_to(page, lambda f: f["inNav"], limit=10)
            if not now:
                break
            nav.append(now)
        if len(nav) < 5:
            problems.append(f"{path}: only {len(nav)} navigation link(s) reached with Tab")
        for link in nav:
            problems += _ring(path, f"the navigation link {link['text']!r}", link)

        # A copy button, then a collapsed solution, in the article.
        fresh()
        button = tab_to(page, lambda f: f["tag"] == "button" and "md-code__button" in f["cls"])
        problems += _ring(path, "a copy button", button)
        if button:
            expected = page.evaluate("""() => {
              const b = document.activeElement;
              return document.querySelector(b.dataset.clipboardTarget).textContent.trimEnd(); }""")
            page.evaluate("navigator.clipboard.writeText('')")
            page.keyboard.press("Enter")
            page.wait_for_timeout(200)
            copied = page.evaluate("navigator.clipboard.readText()")
            if copied.strip() != expected.strip() or not copied.strip():
                problems.append(
                    f"{path}: Enter on a copy button copied {copied[:60]!r}, not its block {expected[:60]!r}"
                )
        summary = tab_to(page, lambda f: f["tag"] == "summary" and f["text"].startswith("Solution"))
        problems += _ring(path, "a collapsed solution", summary)
        if summary:
            states = []
            for key in ("Enter", "Space"):
                page.keyboard.press(key)
                states.append(page.evaluate("document.activeElement.parentElement.open"))
            if states != [True, False]:
                problems.append(
                    f"{path}: Enter then Space on a solution left it open={states}, not [True, False]"
                )
    finally:
        context.close()
    return problems


SCROLL_BOXES = (
    ".md-typeset__scrollwrap, .md-typeset .figure, .md-typeset div.arithmatex, pre > code, "
    ".jupyter-wrapper .jp-RenderedText pre, .jupyter-wrapper .highlight-ipynb pre"
)
_SCROLL_BOXES = """(selector) => [...document.querySelectorAll(selector)]
  .filter(e => e.scrollWidth > e.clientWidth + 1 && e.checkVisibility())
  .map(e => ({cls: String(e.className), tabindex: e.getAttribute('tabindex'),
              text: e.textContent.trim().slice(0, 40)}))"""


def check_scroll_boxes(
    browser: Any,
    base: str,
    path: str,
    *,
    viewport: dict[str, int] = WIDTHS["phone"],
    math_timeout_ms: int = 15_000,
) -> tuple[list[str], int]:
    """Every box that scrolls sideways can be reached and scrolled with the keyboard.

    Each such box on `path` is in the Tab order; the first one reached with Tab shows a focus
    ring and scrolls with ArrowRight. Returns (problems, boxes found).
    """
    problems: list[str] = []
    context = new_context(browser, base, viewport=viewport, reduced_motion="reduce")
    try:
        page = context.new_page()
        page.goto(base + path, wait_until="load")
        wait_for_math(page, math_timeout_ms)  # unrendered math is reported by the math check
        page.wait_for_timeout(100)  # the ResizeObservers of javascripts/a11y.js
        boxes = page.evaluate(_SCROLL_BOXES, SCROLL_BOXES)
        where = f"{path} at {viewport['width']}px"
        for box in boxes:
            if box["tabindex"] != "0":
                problems.append(
                    f"{where}: a box that scrolls sideways is not focusable: <{box['cls']}> {box['text']!r}"
                )
        first = tab_to(
            page,
            lambda f: page.evaluate(
                "s => { const e = document.activeElement; return e.matches(s) "
                "&& e.scrollWidth > e.clientWidth + 1; }",
                SCROLL_BOXES,
            ),
        )
        if boxes:
            problems += _ring(where, "the first box that scrolls sideways", first)
            if first:
                page.keyboard.press("ArrowRight")
                page.wait_for_timeout(100)
                if page.evaluate("document.activeElement.scrollLeft") <= 0:
                    problems.append(f"{where}: ArrowRight does not scroll <{first['cls']}>")
    finally:
        context.close()
    return problems, len(boxes)


# --- Motion and zoom ------------------------------------------------------------------------

_MOTION = """() => {
  const out = [];
  const durations = v => v.split(',').map(s => parseFloat(s));
  for (const sel of ['.md-header', '.md-sidebar--primary', '.md-skip', '.md-search__form',
                     '.md-top', '.md-nav__link', '.md-typeset details summary']) {
    for (const e of [...document.querySelectorAll(sel)].slice(0, 3)) {
      for (const pseudo of [null, '::before', '::after']) {
        const s = getComputedStyle(e, pseudo);
        if (durations(s.transitionDuration).some(d => d > 0) && s.transitionProperty !== 'none')
          out.push(`${sel}${pseudo || ''}: transition ${s.transitionProperty} `
                   + `${s.transitionDuration}`);
      }
    }
  }
  for (const e of document.querySelectorAll('*')) {
    const s = getComputedStyle(e);
    if (s.animationName !== 'none' && durations(s.animationDuration).some(d => d > 0))
      out.push(`<${e.tagName.toLowerCase()} class="${e.className}">: animation `
               + `${s.animationName} ${s.animationDuration}`);
  }
  const scroll = getComputedStyle(document.documentElement).scrollBehavior;
  if (scroll !== 'auto') out.push(`html: scroll-behavior ${scroll}`);
  return out;
}"""


def check_reduced_motion(
    browser: Any, base: str, paths: Iterable[str], *, reduced_motion: str = "reduce"
) -> list[str]:
    """With `prefers-reduced-motion: reduce`, nothing moves.

    The header, the drawer, the skip link, the search and the navigation have no transition
    (0s), no element runs an animation, and the page does not scroll smoothly. Returns what
    still moves, page by page.
    """
    problems = []
    context = new_context(browser, base, viewport=WIDTHS["phone"], reduced_motion=reduced_motion)
    try:
        page = context.new_page()
        for path in paths:
            page.goto(base + path, wait_until="load")
            problems += [f"{path}: {m}" for m in page.evaluate(_MOTION)]
    finally:
        context.close()
    return problems


_CLIPPED = """() => {
  // Text inside the article cut off by a box that hides its overflow (content lost), as
  // opposed to a box that scrolls (overflow auto/scroll: still reachable).
  const out = [];
  for (const e of document.querySelectorAll('article *')) {
    if (e.closest('mjx-assistive-mml')) continue;  // MathML for screen readers, hidden on purpose
    if (!e.childNodes.length || ![...e.childNodes].some(n => n.nodeType === 3 && n.textContent.trim()))
      continue;
    const r = e.getBoundingClientRect();
    if (!r.width) continue;
    for (let p = e.parentElement; p && p.tagName !== 'ARTICLE'; p = p.parentElement) {
      const s = getComputedStyle(p);
      if (s.overflowX === 'hidden' || s.overflowX === 'clip') {
        const b = p.getBoundingClientRect();
        if (b.width > 1 && (r.right > b.right + 1 || r.left < b.left - 1))
          out.push(`<${e.tagName.toLowerCase()} class="${e.className}"> cut off by `
                   + `<${p.tagName.toLowerCase()} class="${p.className}">: `
                   + `${e.textContent.trim().slice(0, 40)}`);
        break;
      }
      if (s.overflowX === 'auto' || s.overflowX === 'scroll') break;
    }
  }
  return out.slice(0, 5);
}"""


def check_zoom(
    browser: Any,
    base: str,
    paths: Iterable[str],
    *,
    viewport: dict[str, int] = ZOOM_200,
    math_timeout_ms: int = 15_000,
) -> list[str]:
    """At 200% zoom, no page scrolls sideways and no text is cut off.

    The zoom is a 1280x900 window laid out in 640x450 CSS pixels. No text of the article may be
    cut off by a box that hides its overflow; boxes that scroll on their own (code, tables,
    figures) are fine.
    """
    problems = []
    context = new_context(browser, base, viewport=viewport)
    try:
        page = context.new_page()
        for path in paths:
            page.goto(base + path, wait_until="load")
            wait_for_math(page, math_timeout_ms)  # unrendered math is reported by the math check
            where = f"{path} at {viewport['width']}x{viewport['height']}"
            scroll, inner = page.evaluate("[document.documentElement.scrollWidth, innerWidth]")
            if scroll > inner:
                problems.append(
                    f"{where}: the page scrolls sideways (content {scroll}px; "
                    f"widest: {page.evaluate(WIDEST)})"
                )
            problems += [f"{where}: {c}" for c in page.evaluate(_CLIPPED)]
    finally:
        context.close()
    return problems
