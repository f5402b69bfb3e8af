"""Checks on recorded visits: each turns a list of `Visit` into human-readable problems.

An empty list means all is well. Status and console errors, requests to other hosts, resources
that fail, images without alt text, links and anchors, math, notebook outputs, the footer's
previous/next links, definitions on hover, and the weight of each page.
"""

from __future__ import annotations

import html.parser
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable

from .visits import Visit

PAGE_BUDGET_BYTES = 300 * 1024


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
    return [f"{v.path}: <img src={src!r}> has no alt text" for v in visits for src in v.images_without_alt]


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
    """Check 4: every equation is typeset and visible.

    Every `.arithmatex` holds an `mjx-container` whose glyphs have a width (math that is typeset
    but drawn zero-wide is invisible); no raw `\\(`/`\\[` is visible.
    """
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
    """Check 7: each of `paths` has a "Previous" and a "Next" link in its footer.

    They come from Material's navigation.footer; where they lead is checked with every other
    link.
    """
    problems, wanted = [], set(paths)
    for v in visits:
        if v.path in wanted:
            problems += [
                f"{v.path}: no {name} link in the footer"
                for name, href in (("previous", v.footer_prev), ("next", v.footer_next))
                if not href
            ]
    return problems


def check_abbreviations(visits: list[Visit], paths: Iterable[str]) -> list[str]:
    """Check 8: each of `paths` defines some term on hover, never inside code.

    A definition is an <abbr title> in the article's prose; no page has an <abbr> inside a code
    block.
    """
    problems, wanted = [], set(paths)
    for v in visits:
        if v.path in wanted and not v.abbrs:
            problems.append(f"{v.path}: no term with a definition on hover (<abbr title>)")
        if v.abbrs_in_code:
            problems.append(f"{v.path}: {v.abbrs_in_code} <abbr> inside code blocks")
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
            problems.append(f"{v.path}: {own / 1024:.1f} KB of its own, over {budget / 1024:.0f} KB")
        lines.append(
            f"{v.path:<44} {own / 1024:8.1f} {shared / 1024:10.1f} "
            f"{(own + shared) / 1024:9.1f}  {note}".rstrip()
        )
    return "\n".join(lines) + "\n", problems
