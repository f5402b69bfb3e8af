"""One glossary for the Glossary page and for the definitions shown on hover.

The source is ``includes/abbreviations.md`` (outside ``docs/``, so it is not a page): one line
per term in Python-Markdown's abbreviation syntax, ``*[term]: definition`` (plain text), in
two snippet sections, ``symbols`` and ``terms``. Consecutive lines with the same definition
are one entry with several forms (``query``, ``queries``).

- The plugin appends those lines to the Markdown of every page (``add_abbreviations``), so the ``abbr`` extension
  wraps each word of the prose that is a term in ``<abbr title=...>``, which Material shows as
  a tooltip (``content.tooltips``). Code blocks are never touched. (Not with
  ``pymdownx.snippets``' ``auto_append``: that also appends the file to every docstring that
  mkdocstrings renders, thousands of small conversions, and made the build twice as slow.)
- A symbol is written in backticks, ``*[`d_model`]: ...``: the site always writes symbols as
  inline code, which the ``abbr`` extension never looks into (and ``memory`` or ``n`` as plain
  words must not get a symbol's definition). The plugin gives inline code that is exactly a
  symbol (``<code>d_model</code>``) the same ``<abbr>`` (``add_tooltips``).
- Only the first use of a term in each section (from one ``<h2>`` to the next) keeps its
  tooltip, and none in a heading or a link: a page is not covered in dotted underlines, and
  stays light.
- The Glossary page (``docs/glossary.md``) is rendered from the same lines: each
  ``<!-- glossary: symbols -->`` / ``<!-- glossary: terms -->`` marker becomes a table of that
  section, each entry with an anchor (``glossary.md#d_model``).
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from pathlib import Path

from . import ROOT

SOURCE = ROOT / "includes" / "abbreviations.md"
PAGE = "glossary.md"
SECTIONS = ("symbols", "terms")

LINE_RE = re.compile(r"^\*\[(?P<term>[^\]\\]+)\]: (?P<definition>\S.*)$")
MARKER_RE = re.compile(r"^--8<-- \[(?P<kind>start|end):(?P<name>[a-z]+)\]$")
PLACEHOLDER_RE = re.compile(r"^<!-- glossary: (?P<name>[a-z]+) -->$", re.M)
ABBR_RE = re.compile(r'<abbr title="(?P<title>[^"]*)">(?P<inner>.*?)</abbr>', re.S)
NO_TOOLTIP_RE = re.compile(r"<(?P<tag>h[1-6]|a)\b[^>]*>.*?</(?P=tag)>", re.S)  # headings, links
H2_RE = re.compile(r"(?=<h2\b)")


@dataclass(frozen=True)
class Entry:
    """One glossary entry: its forms (``query``, ``queries``) and its definition."""

    forms: tuple[str, ...]
    definition: str
    code: bool  # a symbol, written as inline code

    @property
    def anchor(self) -> str:
        """The id of its row on the Glossary page: ``d_model``, ``causal-mask``."""
        return re.sub(r"[^a-z0-9_]+", "-", self.forms[0].lower()).strip("-")


def read(path: Path = SOURCE) -> dict[str, list[Entry]]:
    """The entries of each section, in the file's order; raise on any other line."""
    sections: dict[str, list[Entry]] = {}
    current: str | None = None
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        where = f"{path.name}:{number}"
        if marker := MARKER_RE.match(line):
            opening = marker["kind"] == "start"
            if opening == (current is not None) or (not opening and marker["name"] != current):
                raise ValueError(f"{where}: unexpected {line!r}")
            current = marker["name"] if opening else None
            if opening:
                sections[current] = []
            continue
        if not line.strip():
            continue
        match = LINE_RE.match(line)
        if match is None or current is None:
            raise ValueError(f"{where}: expected '*[term]: definition' inside a section, got {line!r}")
        term, definition = match["term"], match["definition"]
        if set('<>&"') & set(definition):  # Material shows a title as HTML: keep it plain text
            raise ValueError(f'{where}: a definition is plain text, without < > & or "')
        code = term.startswith("`") and term.endswith("`") and len(term) > 2
        form = term.strip("`") if code else term
        entries = sections[current]
        if entries and entries[-1].definition == definition and entries[-1].code == code:
            entries[-1] = Entry((*entries[-1].forms, form), definition, code)  # another form
        else:
            entries.append(Entry((form,), definition, code))
    if current is not None:
        raise ValueError(f"{path.name}: section {current!r} is not closed")
    if tuple(sections) != SECTIONS:
        raise ValueError(f"{path.name}: expected the sections {SECTIONS}, found {tuple(sections)}")
    return sections


def render(entries: list[Entry], heading: str) -> str:
    """A section as an HTML table (raw HTML: Markdown leaves it as it is), one row per entry.

    The table has no class, so Material styles it as any Markdown table (the ``glossary``
    class of its box keeps symbols on one line, see extra.css); each row has the entry's
    anchor as its id.
    """
    lines = [
        '<div class="glossary">',
        "<table>",
        f"<thead><tr><th>{heading}</th><th>Meaning</th></tr></thead>",
        "<tbody>",
    ]
    for entry in entries:
        forms = ", ".join(
            f"<code>{html.escape(f)}</code>" if entry.code else html.escape(f) for f in entry.forms
        )
        lines.append(f'<tr id="{entry.anchor}"><td>{forms}</td><td>{html.escape(entry.definition)}</td></tr>')
    lines += ["</tbody>", "</table>", "</div>"]
    return "\n".join(lines)


def definitions(sections: dict[str, list[Entry]]) -> dict[str, str]:
    """Every form of every entry, with its definition as an ``abbr`` title (HTML-escaped)."""
    return {form: html.escape(e.definition) for es in sections.values() for e in es for form in e.forms}


def symbol_tooltips(content: str, symbols: dict[str, str]) -> str:
    """Wrap inline code that is exactly a symbol in an ``<abbr>`` with its definition.

    Inline code is a bare ``<code>`` with text only; code blocks never match (their
    ``<code>`` holds one span per line).
    """
    if not symbols:
        return content
    pattern = re.compile(
        "<code>(" + "|".join(map(re.escape, sorted(symbols, key=len, reverse=True))) + ")</code>"
    )
    return pattern.sub(lambda m: f'<abbr title="{symbols[m[1]]}">{m[0]}</abbr>', content)


def first_uses_only(content: str) -> str:
    """Keep the tooltip of each term on its first use in each h2 section only.

    None in headings or links either (a link has its own meaning on hover).
    """

    def unwrap(match: re.Match[str]) -> str:
        return match["inner"]

    content = NO_TOOLTIP_RE.sub(lambda h: ABBR_RE.sub(unwrap, h[0]), content)

    def once(match: re.Match[str], seen: set[str]) -> str:
        if match["title"] in seen:  # the same entry (query, queries) used again
            return match["inner"]
        seen.add(match["title"])
        return match[0]

    out = []
    for part in H2_RE.split(content):
        seen: set[str] = set()
        out.append(ABBR_RE.sub(lambda m, seen=seen: once(m, seen), part))
    return "".join(out)


def abbreviations(path: Path = SOURCE) -> str:
    """The ``*[term]: definition`` lines of the file, as appended to every page."""
    read(path)  # refuse a malformed file
    lines = path.read_text(encoding="utf-8").splitlines()
    return "\n".join(line for line in lines if LINE_RE.match(line))


def add_abbreviations(markdown: str, src_uri: str) -> str:
    """A page's Markdown with the abbreviations appended; the Glossary page's markers rendered."""
    markdown = f"{markdown.rstrip()}\n\n{abbreviations()}\n"
    if src_uri != PAGE:
        return markdown
    sections = read()
    used = PLACEHOLDER_RE.findall(markdown)
    if sorted(used) != sorted(SECTIONS):
        raise ValueError(f"{PAGE}: expected one marker per section {SECTIONS}, found {used}")
    headings = {"symbols": "Symbol", "terms": "Term"}
    return PLACEHOLDER_RE.sub(lambda m: render(sections[m["name"]], headings[m["name"]]), markdown)


def add_tooltips(content: str, src_uri: str) -> str:
    """A page's HTML: symbols in inline code get their tooltip; one tooltip per term and section."""
    if src_uri != PAGE:
        sections = read()
        content = symbol_tooltips(content, definitions({"symbols": sections["symbols"]}))
    return first_uses_only(content)
