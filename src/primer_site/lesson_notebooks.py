"""Every lesson as a Jupyter notebook, made from its page at build time.

A lesson page becomes a notebook in reading order: its prose as Markdown cells and each code
include as a code cell holding that section's code (``cell.metadata["section"]`` names it).
The traces are left out: running the notebook prints them. What only MkDocs understands is
rewritten for Jupyter:

- a section from ``transformer_primer.lessons`` is a code cell; the package's own code,
  shown on the page to be read, is a Python block in a Markdown cell (it runs by import);
- admonitions (``!!! note "Title"``, ``??? success "Solution"``) become a bold title over
  their content, which is converted like the rest (a solution's code is a code cell);
- ``\\(...\\)`` and ``\\[...\\]`` become ``$...$`` and ``$$...$$``;
- links and images are made absolute, under the address the site is built for, so they work
  once the notebook is downloaded (``lessons/x.md#a`` -> ``<site_url>lessons/x/#a``).

The plugin writes ``lessons/<name>/<name>.ipynb`` beside each lesson page and the page's
download button links to it. ``tests/site/test_lesson_notebooks.py`` runs every notebook in a
fresh kernel and compares each cell's output with the page's trace.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from .notebook import cell, notebook_json
from .sections import DOCS, includes, read_section

LESSONS = DOCS / "lessons"

ADMONITION_RE = re.compile(r'^(?P<kind>!!!|\?\?\?\+?)\s+(?P<type>[\w-]+)(?:\s+"(?P<title>[^"]*)")?\s*$')
FENCE_RE = re.compile(r"^(?P<fence>```+|~~~+)")
TRACE_MARKER_RE = re.compile(r"^\s*<!--\s*trace:.*-->\s*$")
COMMENT_RE = re.compile(r"^\s*<!--.*-->\s*$")
LINK_RE = re.compile(r"(?P<text>!?\[[^\]]*\])\((?P<target>[^)\s]+)\)")
INLINE_CODE_RE = re.compile(r"(`+)(?:(?!\1).)+?\1")
PAGE_SUFFIXES = (".md", ".ipynb")
# Sections that a reader runs (the lessons' examples); the package's own code is shown as text.
RUNNABLE = "src/transformer_primer/lessons/"


def lesson_pages() -> list[Path]:
    """Every lesson page, the ones that get a notebook."""
    return sorted(LESSONS.glob("*.md"))


def notebook_name(page: Path) -> str:
    """The notebook's file name: the page's name with ``.ipynb``."""
    return f"{page.stem}.ipynb"


def site_path(page: Path) -> str:
    """Where the notebook lies in the built site, beside the page: ``lessons/x/x.ipynb``."""
    return f"{page.parent.relative_to(DOCS).as_posix()}/{page.stem}/{notebook_name(page)}"


def absolute(target: str, page_uri: str, site_url: str) -> str:
    """A page's link target as an address under ``site_url`` (directory URLs, as built).

    ``page_uri`` is the page's path under ``docs/`` (``lessons/x.md``). Addresses with a
    scheme are kept; ``#a`` points at the page's own address.
    """
    if re.match(r"^[a-z][a-z0-9+.-]*:", target):
        return target
    path, hash_, anchor = target.partition("#")
    if path:
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(page_uri), path))
    else:
        resolved = page_uri
    if resolved.endswith(PAGE_SUFFIXES):
        stem = resolved.rsplit(".", 1)[0]
        resolved = (
            "" if stem == "index" else (stem[: -len("index")] if stem.endswith("/index") else f"{stem}/")
        )
    return f"{site_url.rstrip('/')}/{resolved}{hash_}{anchor}"


def prose(line: str, page_uri: str, site_url: str) -> str:
    """One line of Markdown for Jupyter: absolute links, and math delimiters outside code."""
    line = LINK_RE.sub(lambda m: f"{m['text']}({absolute(m['target'], page_uri, site_url)})", line)
    parts = []
    last = 0
    for code in INLINE_CODE_RE.finditer(line):
        parts.append(_math(line[last : code.start()]))
        parts.append(code.group(0))
        last = code.end()
    parts.append(_math(line[last:]))
    return "".join(parts)


def _math(text: str) -> str:
    return text.replace("\\(", "$").replace("\\)", "$").replace("\\[", "$$").replace("\\]", "$$")


def convert(lines: list[str], page_uri: str, site_url: str) -> list[tuple[str, str, str]]:
    """A page's lines as ``(kind, source, section)`` cells; ``section`` is "" for Markdown."""
    cells: list[tuple[str, str, str]] = []
    markdown: list[str] = []

    def flush() -> None:
        text = "\n".join(markdown).strip("\n")
        if text:
            cells.append(("markdown", text, ""))
        markdown.clear()

    i = 0
    while i < len(lines):
        line = lines[i]
        admonition = ADMONITION_RE.match(line)
        fence = FENCE_RE.match(line)
        if admonition:
            title = admonition["title"] or admonition["type"].capitalize()
            end = i + 1
            while end < len(lines) and (not lines[end].strip() or lines[end].startswith("    ")):
                end += 1
            markdown.extend(["", f"**{prose(title, page_uri, site_url)}**", ""])
            inner = convert([body[4:] for body in lines[i + 1 : end]], page_uri, site_url)
            if inner and inner[0][0] == "markdown":
                markdown.extend([inner.pop(0)[1], ""])
            if inner:
                flush()
                cells.extend(inner)
                if cells[-1][0] == "markdown":  # carry on the last Markdown cell
                    markdown.extend([cells.pop()[1], ""])
            i = end
        elif fence:
            end = i + 1
            while end < len(lines) and not lines[end].startswith(fence["fence"]):
                end += 1
            block = lines[i : end + 1]
            refs = includes("\n".join(block))
            previous = next((m for m in reversed(markdown) if m.strip()), "")
            if refs and all(ref.startswith(RUNNABLE) for ref in refs):
                flush()
                for ref in refs:
                    cells.append(("code", read_section(ref).rstrip("\n"), ref))
            elif refs:  # the package's own code, shown to be read: it runs by importing it
                markdown.append(fence["fence"] + "python")
                markdown.extend(read_section(ref).rstrip("\n") for ref in refs)
                markdown.append(fence["fence"])
            elif TRACE_MARKER_RE.match(previous):  # the output: running the cell prints it
                markdown.pop(len(markdown) - 1 - markdown[::-1].index(previous))
            else:
                markdown.extend(block)
            i = end + 1
        elif COMMENT_RE.match(line) and not TRACE_MARKER_RE.match(line):
            i += 1
        else:
            markdown.append(line if TRACE_MARKER_RE.match(line) else prose(line, page_uri, site_url))
            i += 1
    flush()
    return cells


def build(page: Path, site_url: str) -> str:
    """The notebook of one lesson page, as JSON text, its links under ``site_url``."""
    page_uri = page.relative_to(DOCS).as_posix()
    lines = page.read_text(encoding="utf-8").splitlines()
    title, body = lines[0], lines[1:]
    address = absolute(page.name, page_uri, site_url)
    intro = (
        f"{title}\n\n"
        f"This notebook is the lesson [{title.lstrip('# ')}]({address}) of Transformer Primer, "
        "made from the page when the site was built: the same text, and each code block as a "
        "cell that prints the output the page shows. Run it where the `transformer_primer` "
        "package is installed (from a clone of the project: `pip install -e .`)."
    )
    cells = [("markdown", intro, "")] + convert(body, page_uri, site_url)
    made = [
        cell(kind, source, number, {"section": section} if section else None)
        for number, (kind, source, section) in enumerate(cells)
    ]
    return notebook_json(made)
