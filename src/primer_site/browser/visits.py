"""Load each page of a site once and record everything the per-page checks need.

`visit_all(browser, base, paths)` loads the pages one after another in one context (one cache,
as a reader's visit) and returns a `Visit` per page: status, console errors, requests and their
sizes, links and ids, images, math, notebook outputs, footer links, definitions on hover, and
every copy button clicked, with what it copied and the trace shown under its block.

Copy buttons are clicked from inside the page (`button.click()`: the same click handler a mouse
click runs, without Playwright's per-click actionability waits, which cost ~20 s over the
~300 buttons of the site); what each click copied is read from its `copy` event, and the
system clipboard (`navigator.clipboard.readText()`, permission granted) is read as a
cross-check after the last button of each page, or for any button that fires no copy event.
"""

from __future__ import annotations

import re
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .serving import DESKTOP, new_context

# Page weight: resources every page shares, fetched once and then served from the browser cache
# (Material's bundle, CSS, search worker and index; MathJax and its fonts; extra CSS/JS).
SHARED_PREFIXES = ("/assets/", "/javascripts/", "/stylesheets/", "/search/")


# What Material's copy button is called: `button.md-clipboard` up to 9.5, then
# `button.md-code__button[data-md-type=copy]` (9.6+, the version pinned here).
COPY_BUTTONS = 'button.md-clipboard, button.md-code__button[data-md-type="copy"]'


@dataclass
class CodeCopy:
    """A code block with a copy button, what it shows, and what the button copied."""

    index: int
    classes: str  # the class attribute of the block's div, e.g. "language-pycon highlight"
    shown: str  # textContent of the <code> element (everything on screen, prompts included)
    copied: str | None  # what reached the clipboard; None when the click copied nothing
    source_listing: bool  # mkdocstrings "Source code in ..." listing (inside <details>)
    error: str = ""
    inputs: list[str] | None = None  # lines with a prompt, prompt removed (None: no line spans)
    trace: str | None = None  # the text of the checked trace shown under the block, if any
    title: str = ""  # the block's title bar (a file name such as src/transformer_primer/sketch.py)

    @property
    def language(self) -> str:
        """The highlighting language of the block (`python`, `text`, ...), or an empty string."""
        match = re.search(r"\blanguage-([\w+-]+)", self.classes)
        return match.group(1) if match else ""

    @property
    def signature(self) -> bool:
        """Whether the block is an API signature rendered by mkdocstrings."""
        return "doc-signature" in self.classes.split()


@dataclass
class Visit:
    """Everything recorded while loading one page once."""

    path: str
    url: str
    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    bad_responses: list[str] = field(default_factory=list)  # "404 http://..."
    sizes: dict[str, int] = field(default_factory=dict)  # url -> encoded body bytes, cold
    links: list[str] = field(default_factory=list)  # absolute href of every a[href]
    ids: set[str] = field(default_factory=set)  # every id and a[name] on the page
    images_without_alt: list[str] = field(default_factory=list)
    math_elements: int = 0
    math_unrendered: list[str] = field(default_factory=list)
    raw_math: list[str] = field(default_factory=list)
    notebook: bool = False
    notebook_outputs: int = 0
    empty_outputs: int = 0
    footer_prev: str | None = None  # href of Material's "Previous" footer link
    footer_next: str | None = None
    abbrs: int = 0  # <abbr title> in the article, outside code blocks (hover definitions)
    abbrs_in_code: int = 0  # <abbr> inside a code block: must never happen
    copies: list[CodeCopy] = field(default_factory=list)
    clipboard: str | None = None  # the system clipboard after the last copy button

    @property
    def root(self) -> str:
        """The path the site is served under: "" at the root, "/transformer-primer" under a sub-path."""
        return urllib.parse.urlsplit(self.url).path.removesuffix(self.path)

    def own_bytes(self) -> int:
        """Bytes downloaded for this page alone (its HTML, its figures)."""
        return sum(n for url, n in self.sizes.items() if not _shared(url, self.root))

    def shared_bytes(self) -> int:
        """Bytes of assets every page shares (theme, scripts, fonts), cached after the first page."""
        return sum(n for url, n in self.sizes.items() if _shared(url, self.root))


def _shared(url: str, root: str = "") -> bool:
    return urllib.parse.urlsplit(url).path.startswith(tuple(root + p for p in SHARED_PREFIXES))


MATH_DONE = """() => [...document.querySelectorAll('.arithmatex')]
    .every(e => e.querySelector('mjx-container'))"""


_COLLECT = r"""() => {
  const visible = el => el.checkVisibility ? el.checkVisibility() : el.offsetParent !== null;
  const ids = new Set();
  document.querySelectorAll('[id]').forEach(e => ids.add(e.id));
  document.querySelectorAll('a[name]').forEach(e => ids.add(e.getAttribute('name')));
  // Raw TeX delimiters left in visible text outside code: math that was never typeset.
  const raw = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const p = n.parentElement;
    if (!p || p.closest('pre, code, script, style, textarea, mjx-container, mjx-assistive-mml'))
      continue;
    if (/\\[(\[]/.test(n.textContent) && visible(p)) {
      const box = p.closest('[id], nav, article, header, footer');
      const where = box ? `${box.tagName.toLowerCase()}${box.id ? '#' + box.id : ''}`
        + `${box.className ? '.' + String(box.className).split(' ')[0] : ''}` : 'body';
      raw.push(`${n.textContent.trim().slice(0, 80)} (in ${where})`);
    }
  }
  const outputs = [...document.querySelectorAll('.jp-Notebook .jp-OutputArea-output')];
  return {
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    ids: [...ids],
    imagesWithoutAlt: [...document.querySelectorAll('img')]
      .filter(i => !(i.getAttribute('alt') || '').trim())
      .map(i => i.getAttribute('src') || '(no src)'),
    math: [...document.querySelectorAll('.arithmatex')].length,
    // Typeset math whose glyphs have no width is typeset but invisible (MathJax's CSS for
    // its characters was lost): count it as not rendered.
    mathUnrendered: [...document.querySelectorAll('.arithmatex')].map(e => {
      const text = e.textContent.trim().slice(0, 80);
      if (!e.querySelector('mjx-container')) return `${text} (no mjx-container)`;
      if (!visible(e)) return null;
      const glyphs = [...e.querySelectorAll('mjx-math mjx-c')];
      const blank = glyphs.filter(g => g.getBoundingClientRect().width < 0.5).length;
      return glyphs.length && blank * 2 > glyphs.length
        ? `${text} (typeset but invisible: ${blank} of ${glyphs.length} glyphs have no width)`
        : null;
    }).filter(m => m !== null),
    raw,
    notebook: document.querySelector('.jp-Notebook') !== null,
    outputs: outputs.length,
    emptyOutputs: outputs.filter(o => !o.textContent.trim()
      && !o.querySelector('img, svg, canvas, iframe, video')).length,
    footerPrev: document.querySelector('a.md-footer__link--prev')?.href ?? null,
    footerNext: document.querySelector('a.md-footer__link--next')?.href ?? null,
    abbrs: [...document.querySelectorAll('article abbr[title]')]
      .filter(a => !a.closest('pre')).length,
    abbrsInCode: document.querySelectorAll('pre abbr, .highlight abbr').length,
  };
}"""


_COPY_ALL = r"""async ([selector, sentinel]) => {
  // Open every <details> (mkdocstrings source listings) and select the tab holding each
  // block, so that every button is on screen as a reader would click it.
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const reveal = el => {
    for (let b = el.closest('.tabbed-block'); b; b = b.parentElement.closest('.tabbed-block')) {
      const set = b.closest('.tabbed-set');
      const input = set && set.querySelectorAll(':scope > input')[
        [...b.parentElement.children].indexOf(b)];
      if (input) input.checked = true;
    }
  };
  // The trace a page shows for a block: the first code block after a `<!-- trace: ... -->`
  // comment that follows it, before any other code block (prose may stand in between). Inside
  // a collapsible block the comment ends up alone in a <p> of its own.
  const isTrace = n => n.nodeType === Node.COMMENT_NODE && n.textContent.trim().startsWith('trace:');
  const traceOf = block => {
    let comment = false;
    for (let n = block.nextSibling; n; n = n.nextSibling) {
      if (isTrace(n) || (n.nodeType === Node.ELEMENT_NODE && [...n.childNodes].some(isTrace))) {
        comment = true;
      } else if (n.nodeType === Node.ELEMENT_NODE && n.matches('div.highlight')) {
        const code = n.querySelector('code');
        return comment && code ? code.textContent : null;
      }
    }
    return null;
  };
  let seen = null;
  const onCopy = () => { seen = document.getSelection().toString(); };
  document.addEventListener('copy', onCopy, true);
  await navigator.clipboard.writeText(sentinel);
  const out = [];
  for (const button of document.querySelectorAll(selector)) {
    const block = button.closest('div[class*="language-"], div.highlight') || button.parentElement;
    const target = button.getAttribute('data-clipboard-target');
    const code = (target && document.querySelector(target)) || block.querySelector('code');
    reveal(button);
    // With `line_spans`, each line is a span: the input lines of a console session are those
    // with a prompt (.gp); everything else (outputs, tracebacks) is output.
    const lines = code ? [...code.querySelectorAll(':scope > span[id]')] : [];
    const inputs = lines.length ? lines.filter(l => l.querySelector(':scope > .gp')).map(l =>
      [...l.childNodes].filter(n => !(n.classList && n.classList.contains('gp')))
        .map(n => n.textContent).join('').replace(/\n$/, '')) : null;
    const item = {
      classes: block.className,
      shown: code ? code.textContent : '',
      inputs,
      sourceListing: button.closest('details.mkdocstrings-source') !== null
        || !!button.closest('details')?.querySelector('summary')?.textContent
          .includes('Source code'),
      copied: null,
      error: '',
      trace: traceOf(block),
      title: block.querySelector(':scope > .filename')?.textContent.trim() ?? '',
    };
    if (!button.checkVisibility()) {
      item.error = 'the copy button is not visible, even with details opened and tabs selected';
    } else {
      seen = null;
      button.click();
      await new Promise(r => setTimeout(r, 0));
      item.copied = seen;
      if (seen === null) {  // no execCommand('copy'): click again, read the system clipboard
        // The clipboard is written asynchronously: on a loaded machine 100 ms was not enough
        // (a CI run saw 52 buttons "copy nothing"), so wait up to 3 s for it to change.
        await navigator.clipboard.writeText(sentinel);
        button.click();
        let text = sentinel;
        for (let waited = 0; text === sentinel && waited < 3000; waited += 50) {
          await new Promise(r => setTimeout(r, 50));
          text = await navigator.clipboard.readText();
        }
        item.copied = text === sentinel ? null : text;
      }
    }
    out.push(item);
  }
  document.removeEventListener('copy', onCopy, true);
  return {blocks: out, clipboard: await navigator.clipboard.readText()};
}"""


_SENTINEL = "\u2400 nothing copied \u2400"


class Visitor:
    """Loads pages one after another in one context and records each in a `Visit`.

    One context (one cache) for all pages keeps the suite fast: MathJax and Material's bundle
    are fetched once, as on a reader's visit. Network events are recorded at the context level
    (so search-worker requests count too) into the current page's record; a page is left only
    when its network has been quiet for `QUIET_S` (no request cut short by the next page).
    """

    QUIET_S = 0.2

    def __init__(self, browser: Any, base: str, *, viewport: dict[str, int] = DESKTOP) -> None:
        self.base = base
        self.context = new_context(browser, base, viewport=viewport)
        self.record: Visit | None = None
        self.pending: set[Any] = set()
        self.last_event = time.monotonic()
        self.known_sizes: dict[str, int] = {}  # url -> largest body size seen (cold fetch)
        ctx = self.context
        ctx.on("request", self._on_request)
        ctx.on("requestfinished", self._on_finished)
        ctx.on("requestfailed", self._on_failed)
        ctx.on("response", self._on_response)
        self.page = ctx.new_page()
        self.page.on("console", self._on_console)
        self.page.on("pageerror", self._on_page_error)

    def _on_request(self, request: Any) -> None:
        self.pending.add(request)
        self.last_event = time.monotonic()
        if self.record:
            self.record.requests.append(request.url)

    def _on_finished(self, request: Any) -> None:
        self.pending.discard(request)
        self.last_event = time.monotonic()
        try:
            size = request.sizes()["responseBodySize"]
        except Exception:  # the size of a cancelled request is unknown
            size = 0
        self.known_sizes[request.url] = max(size, self.known_sizes.get(request.url, 0))

    def _on_failed(self, request: Any) -> None:
        self.pending.discard(request)
        self.last_event = time.monotonic()
        if self.record:
            self.record.failed_requests.append(f"{request.url} ({request.failure})")

    def _on_response(self, response: Any) -> None:
        if self.record and response.status >= 400:
            self.record.bad_responses.append(f"{response.status} {response.url}")

    def _on_console(self, message: Any) -> None:
        if self.record and message.type == "error":
            where = message.location or {}
            self.record.console_errors.append(
                f"{message.text} [{where.get('url', '')}:{where.get('lineNumber', '')}]"
            )

    def _on_page_error(self, error: Any) -> None:
        if self.record:
            self.record.page_errors.append(str(error))

    def settle(self, timeout_s: float = 5.0) -> None:
        """Wait until no request is in flight and none started for QUIET_S seconds."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if not self.pending and time.monotonic() - self.last_event >= self.QUIET_S:
                return
            self.page.wait_for_timeout(50)

    def visit(self, path: str, *, copy: bool = True, math_timeout_ms: int = 15_000) -> Visit:
        """Load `path` and record what the checks need (see `Visit`)."""
        record = self.record = Visit(path=path, url=self.base + path)
        page = self.page
        response = page.goto(record.url, wait_until="load")
        record.status = response.status if response else None
        wait_for_math(page, math_timeout_ms)  # unrendered math is reported by the math check
        page.evaluate("document.fonts.ready.then(() => true)")
        data = page.evaluate(_COLLECT)
        record.links = data["links"]
        record.ids = set(data["ids"])
        record.images_without_alt = data["imagesWithoutAlt"]
        record.math_elements = data["math"]
        record.math_unrendered = data["mathUnrendered"]
        record.raw_math = data["raw"]
        record.notebook = data["notebook"]
        record.notebook_outputs = data["outputs"]
        record.empty_outputs = data["emptyOutputs"]
        record.footer_prev, record.footer_next = data["footerPrev"], data["footerNext"]
        record.abbrs, record.abbrs_in_code = data["abbrs"], data["abbrsInCode"]
        if copy:
            result = page.evaluate(_COPY_ALL, [COPY_BUTTONS, _SENTINEL])
            # A scripted click that copied nothing is tried once more as a reader's click (real
            # input events): on a machine loaded with other work, a burst of scripted clicks in a
            # row was seen to copy nothing while the same buttons copied fine when clicked.
            missed = [i for i, b in enumerate(result["blocks"]) if b["copied"] is None and not b["error"]]
            for i in missed:
                result["blocks"][i]["copied"] = self.copy_by_click(i)
            if missed:
                result["clipboard"] = self.copy_by_click(len(result["blocks"]) - 1)
            record.copies = [
                CodeCopy(
                    index=i,
                    classes=b["classes"],
                    shown=b["shown"],
                    copied=b["copied"],
                    source_listing=bool(b["sourceListing"]),
                    error=b["error"],
                    inputs=b["inputs"],
                    trace=b["trace"],
                    title=b["title"],
                )
                for i, b in enumerate(result["blocks"])
            ]
            record.clipboard = result["clipboard"]
        self.settle()  # late requests (favicon, search worker) still count for this page
        return record

    def copy_by_click(self, index: int, timeout_s: float = 5.0) -> str | None:
        """Click copy button number ``index`` as a reader does; what reached the clipboard."""
        page = self.page
        page.evaluate("s => navigator.clipboard.writeText(s)", _SENTINEL)
        page.locator(COPY_BUTTONS).nth(index).click(timeout=timeout_s * 1000)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            text = page.evaluate("() => navigator.clipboard.readText()")
            if text != _SENTINEL:
                return str(text)
            page.wait_for_timeout(50)
        return None

    def close(self) -> None:
        """Wait for late requests, then close the browser context."""
        self.settle()
        self.context.close()

    def sizes_for(self, record: Visit) -> dict[str, int]:
        """Body size of each local resource the page requested, as fetched cold."""
        host = urllib.parse.urlsplit(self.base).netloc
        return {
            url: self.known_sizes.get(url, 0)
            for url in dict.fromkeys(record.requests)
            if urllib.parse.urlsplit(url).netloc == host
        }


def wait_for_math(page: Any, timeout_ms: float = 15_000, math_done: str = MATH_DONE) -> bool:
    """Wait until the page's math is typeset (at once when it has none); False on a timeout.

    A timeout is not raised: the math check (``page_checks.check_math``) reports unrendered
    math with the page it is on, and the other checks still run.
    """
    if not page.locator(".arithmatex").count():
        return True
    try:
        page.wait_for_function(math_done, timeout=timeout_ms)
    except Exception:  # Playwright's TimeoutError
        return False
    return True


def visit_all(browser: Any, base: str, paths: Iterable[str], **kwargs: Any) -> list[Visit]:
    """Visit each page once (one shared context) and return the records, sizes filled in."""
    visitor = Visitor(browser, base)
    try:
        visits = [visitor.visit(path, **kwargs) for path in paths]
    finally:
        visitor.close()
    for v in visits:
        v.sizes = visitor.sizes_for(v)
    return visits
