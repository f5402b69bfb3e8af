"""Real-browser checks of a built MkDocs site, reusable on any directory of HTML.

The tests in this folder use these functions on the built site; the negative test uses them on a
small broken site to show that every check fails when it should; `scripts/screenshots.py` uses
the server and the browser launcher.

The pattern: `serve(site_dir)` serves a directory on 127.0.0.1 (real 404s), `launch(pw)` starts
Debian's Chromium, `visit_all(browser, base, paths)` loads each page once (one shared context)
and records everything the checks need in a `Visit`, and each `check_*` function turns a list
of visits into a list of human-readable problems (empty when all is well). The interactive
checks (search, palette, phone) drive their own pages.

Copy buttons are clicked from inside the page (`button.click()`: the same click handler a
mouse click runs, without Playwright's per-click actionability waits, which cost ~20 s over
the ~300 buttons of the site); what each click copied is read from its `copy` event, and the
system clipboard (`navigator.clipboard.readText()`, permission granted) is read as a
cross-check after the last button of each page, or for any button that fires no copy event.
"""

from __future__ import annotations

import ast
import functools
import html.parser
import http.server
import os
import re
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")
# Playwright refuses `--user-data-dir` in `args`: for every `launch()` it creates a fresh, empty
# profile directory itself (`playwright_chromiumdev_profile-*` under $TMPDIR) and removes it on
# close, which is what the flag would do here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
INSTALL_HINT = (
    "Debian's Chromium is needed at /usr/bin/chromium for the browser tests: "
    "install it with `sudo apt-get install chromium` (never `playwright install`)."
)

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 375, "height": 812}

# Page weight: resources every page shares, fetched once and then served from the browser cache
# (Material's bundle, CSS, search worker and index; MathJax and its fonts; extra CSS/JS).
SHARED_PREFIXES = ("/assets/", "/javascripts/", "/stylesheets/", "/search/")
PAGE_BUDGET_BYTES = 300 * 1024

# What Material's copy button is called: `button.md-clipboard` up to 9.5, then
# `button.md-code__button[data-md-type=copy]` (9.6+, the version pinned here).
COPY_BUTTONS = 'button.md-clipboard, button.md-code__button[data-md-type="copy"]'


# --- Serving and launching ---------------------------------------------------------------


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site under ``prefix`` (a sub-path such as ``/transformer-primer``), and its
    ``404.html`` (with status 404) for anything missing, as static hosts do."""

    prefix = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def translate_path(self, path: str) -> str:
        route = urllib.parse.urlsplit(path).path
        if self.prefix and not (route == self.prefix or route.startswith(self.prefix + "/")):
            return os.path.join(self.directory, "\0 outside the site")  # never a file: 404
        return super().translate_path(path[len(self.prefix):])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a tab closed mid-download
            super().handle_error(request, client_address)


@contextmanager
def serve(site_dir: Path, prefix: str = "") -> Iterator[str]:
    """Serve `site_dir` at http://127.0.0.1:<free port><prefix>; yield that base URL (no final /).

    ``prefix`` is a sub-path such as ``/transformer-primer``, where a site built for
    ``https://example.org/transformer-primer/`` is published; a missing page gets the site's
    404.html with status 404.
    """
    handler_class = type("Handler", (_QuietHandler,), {"prefix": prefix.rstrip("/")})
    handler = functools.partial(handler_class, directory=str(site_dir))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{prefix.rstrip('/')}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def launch(playwright: Any) -> Any:
    """Start headless Debian Chromium with the flags this stack needs (see stack.md)."""
    return playwright.chromium.launch(
        executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
    )


def new_context(browser: Any, base: str, **options: Any) -> Any:
    """A fresh context (own cache, storage, clipboard) that cannot reach any other host.

    Requests to other hosts are still recorded by `visit` (the request event fires first), then
    aborted here, so a page that tries to reach the internet fails fast instead of hanging.
    """
    options.setdefault("viewport", DESKTOP)
    options.setdefault("color_scheme", "light")
    context = browser.new_context(**options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    local = re.escape(base)
    context.route(re.compile(rf"^(?!{local}/)(https?|wss?|ftp)://"), lambda route: route.abort())
    return context


def site_pages(site_dir: Path) -> list[str]:
    """URL path of every page of a built site: each `index.html`, as `/`, `/lessons/x/`..."""
    pages = []
    for index in site_dir.rglob("index.html"):
        rel = index.parent.relative_to(site_dir).as_posix()
        pages.append("/" if rel == "." else f"/{rel}/")
    return sorted(pages)


# --- One visit per page -------------------------------------------------------------------


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
        match = re.search(r"\blanguage-([\w+-]+)", self.classes)
        return match.group(1) if match else ""

    @property
    def signature(self) -> bool:
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
        return sum(n for url, n in self.sizes.items() if not _shared(url, self.root))

    def shared_bytes(self) -> int:
        return sum(n for url, n in self.sizes.items() if _shared(url, self.root))


def _shared(url: str, root: str = "") -> bool:
    return urllib.parse.urlsplit(url).path.startswith(tuple(root + p for p in SHARED_PREFIXES))


_MATH_DONE = """() => [...document.querySelectorAll('.arithmatex')]
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
        await navigator.clipboard.writeText(sentinel);
        button.click();
        await new Promise(r => setTimeout(r, 100));
        const text = await navigator.clipboard.readText();
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
                f"{message.text} [{where.get('url', '')}:{where.get('lineNumber', '')}]")

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
        if page.locator(".arithmatex").count():
            try:
                page.wait_for_function(_MATH_DONE, timeout=math_timeout_ms)
            except Exception:  # recorded below as unrendered math
                pass
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
            record.copies = [
                CodeCopy(index=i, classes=b["classes"], shown=b["shown"], copied=b["copied"],
                         source_listing=bool(b["sourceListing"]), error=b["error"],
                         inputs=b["inputs"], trace=b["trace"], title=b["title"])
                for i, b in enumerate(result["blocks"])
            ]
            record.clipboard = result["clipboard"]
        self.settle()  # late requests (favicon, search worker) still count for this page
        return record

    def close(self) -> None:
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


# --- Checks on recorded visits --------------------------------------------------------------


def check_status_and_console(visits: list[Visit]) -> list[str]:
    """Check 1: each page answers 200 and logs no JavaScript error."""
    problems = []
    for v in visits:
        if v.status != 200:
            problems.append(f"{v.path}: HTTP {v.status}")
        problems += [f"{v.path}: console error: {e}" for e in v.console_errors]
        problems += [f"{v.path}: page error: {e}" for e in v.page_errors]
    return problems


def check_local_only(visits: list[Visit], base: str) -> list[str]:
    """Check 2: no page requests anything from a host other than the local server."""
    host = urllib.parse.urlsplit(base).netloc
    problems = []
    for v in visits:
        for url in dict.fromkeys(v.requests):
            parts = urllib.parse.urlsplit(url)
            if parts.scheme in ("data", "blob", "about"):
                continue
            if parts.netloc != host:
                problems.append(f"{v.path}: request to another host: {url}")
    return problems


def check_resources(visits: list[Visit]) -> list[str]:
    """Check 3a: no requested resource answers 404 (or any error) or fails to load."""
    problems = []
    for v in visits:
        problems += [f"{v.path}: {r}" for r in dict.fromkeys(v.bad_responses)]
        problems += [f"{v.path}: failed: {r}" for r in dict.fromkeys(v.failed_requests)]
    return problems


def check_images_alt(visits: list[Visit]) -> list[str]:
    """Check 3b: every <img> has a non-empty alt text."""
    return [f"{v.path}: <img src={src!r}> has no alt text"
            for v in visits for src in v.images_without_alt]


class _IdParser(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if value and (name == "id" or (tag == "a" and name == "name")):
                self.ids.add(value)


def check_links(visits: list[Visit], base: str) -> list[str]:
    """Check 3c: every internal link resolves (HTTP 200) and every #fragment names an element.

    Fragments are looked up in the DOM recorded by the visit of the target page (after its
    JavaScript ran); a target that was not visited (a download, a file) is fetched and parsed.
    """
    by_url = {v.url: v for v in visits}
    fetched: dict[str, tuple[int, set[str] | None]] = {}

    def target(url: str) -> tuple[int, set[str] | None]:
        if url in by_url:
            return by_url[url].status or 0, by_url[url].ids
        if url not in fetched:
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:  # a local URL
                    body = resp.read()
                    status, ctype = resp.status, resp.headers.get_content_type()
                    final = resp.url
            except urllib.error.HTTPError as exc:
                exc.close()
                fetched[url] = (exc.code, None)
                return fetched[url]
            if final in by_url:  # e.g. /lessons/x -> /lessons/x/
                fetched[url] = (status, by_url[final].ids)
            elif ctype == "text/html":
                parser = _IdParser()
                parser.feed(body.decode("utf-8", "replace"))
                fetched[url] = (status, parser.ids)
            else:
                fetched[url] = (status, None)
        return fetched[url]

    problems = []
    for v in visits:
        for href in dict.fromkeys(v.links):
            if not href.startswith(base + "/") and href != base:
                continue  # another scheme or host: not part of this site
            page_url, _, fragment = href.partition("#")
            status, ids = target(page_url)
            if status != 200:
                problems.append(f"{v.path}: broken link {href} (HTTP {status})")
                continue
            fragment = urllib.parse.unquote(fragment)
            if fragment and (ids is None or fragment not in ids):
                problems.append(f"{v.path}: link {href}: no element with id {fragment!r}")
    return problems


def check_math(visits: list[Visit]) -> list[str]:
    """Check 4: every `.arithmatex` holds an `mjx-container` whose glyphs have a width (math
    that is typeset but drawn zero-wide is invisible); no raw `\\(`/`\\[` is visible."""
    problems = []
    for v in visits:
        problems += [f"{v.path}: math not rendered: {t!r}" for t in v.math_unrendered]
        problems += [f"{v.path}: raw TeX visible: {t!r}" for t in v.raw_math]
    return problems


def check_notebook_outputs(visits: list[Visit]) -> list[str]:
    """Check 5: notebook pages (with `.jp-Notebook`) show their cells' outputs."""
    problems = []
    for v in visits:
        if not v.notebook:
            continue
        if not v.notebook_outputs:
            problems.append(f"{v.path}: notebook page shows no output at all")
        elif v.empty_outputs:
            problems.append(f"{v.path}: {v.empty_outputs} empty notebook output(s)")
    return problems


def check_footer_links(visits: list[Visit], paths: Iterable[str]) -> list[str]:
    """Check 7: each of `paths` has a "Previous" and a "Next" link in its footer (Material's
    navigation.footer); where they lead is checked with every other link."""
    problems, wanted = [], set(paths)
    for v in visits:
        if v.path in wanted:
            problems += [f"{v.path}: no {name} link in the footer"
                         for name, href in (("previous", v.footer_prev), ("next", v.footer_next))
                         if not href]
    return problems


def check_abbreviations(visits: list[Visit], paths: Iterable[str]) -> list[str]:
    """Check 8: each of `paths` defines some term on hover (an <abbr title> in the article's
    prose), and no page has an <abbr> inside a code block."""
    problems, wanted = [], set(paths)
    for v in visits:
        if v.path in wanted and not v.abbrs:
            problems.append(f"{v.path}: no term with a definition on hover (<abbr title>)")
        if v.abbrs_in_code:
            problems.append(f"{v.path}: {v.abbrs_in_code} <abbr> inside code blocks")
    return problems


_TOOLTIP = """(text) => [...document.querySelectorAll('.md-tooltip2--active')]
    .some(t => t.textContent.trim() === text)"""


def check_hover(browser: Any, base: str, path: str, selectors: Iterable[str], *,
                timeout_ms: int = 3_000) -> tuple[list[str], list[str]]:
    """Hover the first element matching each selector on `path`: a tooltip must show the text
    of its title (as Material shows it: the title is HTML, so `&lt;` shows as `<`).

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
            text = page.evaluate("t => { const e = document.createElement('div'); e.innerHTML = t; "
                                 "return e.textContent.trim(); }", title)
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


def check_notebook_layout(browser: Any, base: str, paths: Iterable[str],
                          viewports: Iterable[dict[str, int]] = (DESKTOP, PHONE)) -> list[str]:
    """Check 9: on notebook pages, at each width, code cells use the page's width (>= 95%),
    outputs keep their printed lines (no wrapping), and the page does not scroll sideways."""
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
                    problems.append(f"{where}: {len(got['narrow'])} code cell(s) narrower than "
                                    f"95% of the page's {got['full']:.0f}px: {got['narrow'][:3]}")
                problems += [f"{where}: output wraps: {w}" for w in got["wrapped"]]
                if got["scroll"] > got["inner"]:
                    problems.append(f"{where}: scrolls sideways ({got['scroll']}px)")
        finally:
            context.close()
    return problems


def page_weight(visits: list[Visit], budget: int = PAGE_BUDGET_BYTES) -> tuple[str, list[str]]:
    """Check 6: a report of the bytes each page transfers, and the pages over budget.

    Each response counts with its encoded body size as first fetched (headers excluded), so
    `total` is what a first visit to that page alone transfers, whatever was visited before
    (the checks share one browser cache). `shared` is
    the part under SHARED_PREFIXES (Material's bundle and CSS, the search worker and index,
    MathJax and its fonts, extra CSS/JS): fetched once per site visit and then cached, so it
    is not charged to any page. `own` = total - shared: the HTML and everything else the page
    loads (figures, inline CSS, downloads). The budget applies to `own`, on Markdown pages only
    (pages without `.jp-Notebook`); notebook pages are only reported.
    """
    lines = [f"{'page':<44} {'own KB':>8} {'shared KB':>10} {'total KB':>9}  note"]
    problems = []
    for v in visits:
        own, shared = v.own_bytes(), v.shared_bytes()
        note = "notebook: reported only" if v.notebook else ""
        if not v.notebook and own > budget:
            note = f"OVER the {budget / 1024:.0f} KB budget"
            problems.append(f"{v.path}: {own / 1024:.1f} KB of its own, over "
                            f"{budget / 1024:.0f} KB")
        lines.append(f"{v.path:<44} {own / 1024:8.1f} {shared / 1024:10.1f} "
                     f"{(own + shared) / 1024:9.1f}  {note}".rstrip())
    return "\n".join(lines) + "\n", problems


# --- The copy button ------------------------------------------------------------------------

_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")


def pycon_input(copy: CodeCopy) -> str:
    """The input lines of a `>>>` session, prompts removed: what copying must produce.

    Input lines are those Pygments marked with a prompt (`.gp`), read from the line spans;
    without line spans, those starting with `>>> ` or `... ` (a traceback's `...` then
    counts as input: the DOM is the better source).
    """
    if copy.inputs is not None:
        lines = copy.inputs
    else:
        lines = [_PROMPT.sub("", line) for line in copy.shown.splitlines() if _PROMPT.match(line)]
    return "\n".join(lines).rstrip()


def check_copy_buttons(visits: list[Visit]) -> list[str]:
    """Each copy button copies; pycon copies exactly its input; no prompts; listings parse.

    What a button copied is the text of the `copy` event it fired (Material copies with
    ClipboardJS, i.e. `execCommand('copy')`), read from the system clipboard instead when no
    such event fires; after the last button the system clipboard must hold the same text.
    - every button puts something on the clipboard;
    - `pycon` blocks: no copied line starts with a `>>> `/`... ` prompt and the copied text is
      exactly the input lines (outputs dropped, prompts stripped);
    - `python` blocks: no prompts, and nothing copied that is not on screen (no line numbers);
    - mkdocstrings source listings: the copied text is valid Python (compiles once dedented).
    """
    problems = []
    for v in visits:
        last = v.copies[-1].copied if v.copies else None
        if last is not None and v.clipboard != last:
            problems.append(f"{v.path}: the system clipboard holds {v.clipboard!r}, not what "
                            f"the last copy button copied, {last!r}")
        for c in v.copies:
            where = f"{v.path}: code block #{c.index} ({c.language or c.classes})"
            if c.error or c.copied is None:
                problems.append(f"{where}: copy button copied nothing {c.error}".rstrip())
                continue
            if c.language in ("pycon", "python"):
                prompts = [line for line in c.copied.splitlines() if _PROMPT.match(line)]
                if prompts:
                    problems.append(f"{where}: copied prompt lines {prompts[:3]}")
            if c.language == "pycon":
                expected = pycon_input(c)
                if c.copied != expected:
                    problems.append(f"{where}: copied {c.copied!r}, expected only the input "
                                    f"lines {expected!r}")
            elif c.language == "python" and c.copied != c.shown.rstrip():
                problems.append(f"{where}: copied text differs from the block's code: "
                                f"{c.copied[:120]!r}")
            if c.language == "python" and c.source_listing:
                try:
                    ast.parse(textwrap.dedent(c.copied))
                except SyntaxError as exc:
                    problems.append(f"{where}: copied source listing is not valid Python: "
                                    f"{exc}")
    return problems


def runnable_python(visits: list[Visit]) -> dict[str, list[str]]:
    """The copied text of each runnable `python` block -> the pages and blocks showing it.

    Runnable: language class `python`, and not one of the two kinds of block that
    mkdocstrings generates for reading, not running: a signature (`.doc-signature`, e.g.
    `softmax(x: ArrayLike, axis: int = -1) -> Array`, not valid Python) and a "Source code in"
    listing (a method out of its class and module; check_copy_buttons parses those instead).
    """
    blocks: dict[str, list[str]] = {}
    for v in visits:
        for c in v.copies:
            if (c.language == "python" and c.copied and not c.signature
                    and not c.source_listing):
                blocks.setdefault(c.copied, []).append(f"{v.path} block #{c.index}")
    return blocks


def run_python_blocks(blocks: dict[str, list[str]], timeout: float = 120) -> list[str]:
    """Run each block with this interpreter in a fresh temp dir; report those that fail."""

    def run(code: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="copied-block-") as cwd:
            env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
            try:
                result = subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                return f"timed out after {timeout:.0f} s"
        if result.returncode != 0:
            return f"exit code {result.returncode}:\n{result.stderr[-1500:]}"
        return None

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        outcomes = list(pool.map(run, blocks))
    def head(code: str, n: int = 12) -> str:
        lines = code.splitlines()
        return "\n".join(lines[:n] + ([f"... ({len(lines) - n} more lines)"] if len(lines) > n
                                       else []))

    return [
        f"{', '.join(where)}: copied code fails when run: {outcome}\n--- code ---\n{head(code)}"
        for (code, where), outcome in zip(blocks.items(), outcomes, strict=True)
        if outcome
    ]


# --- Site-wide interactive checks -----------------------------------------------------------


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
        hrefs = page.eval_on_selector_all(".md-search-result__item a",
                                          "as => as.map(a => a.href)")
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
            if page.locator(".arithmatex").count():
                try:
                    page.wait_for_function(_MATH_DONE, timeout=timeout_ms)
                except Exception:  # check_math reports it
                    pass
            scroll, inner = page.evaluate(
                "[document.documentElement.scrollWidth, window.innerWidth]")
            widths[path] = (scroll, inner)
            if scroll > inner:
                wide = page.evaluate(_WIDEST)
                problems.append(f"{path}: scrolls sideways at {inner}px wide "
                                f"(content {scroll}px; widest: {wide})")
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

_WIDEST = """() => {
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
