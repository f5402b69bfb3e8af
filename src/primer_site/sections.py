"""Snippet sections: the named pieces of code that pages include.

A section is marked in a source file by ``# --8<-- [start:name]`` and ``# --8<-- [end:name]``
lines; a page includes it with a line ``--8<-- "src/pkg/module.py:name"`` (pymdownx.snippets).
Pages may include code from ``src/`` only (``INCLUDABLE``): a page is text
anyone can edit, and an include of ``.git/config`` would be published, one of any Python file
run by the trace check.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

from . import ROOT

DOCS = ROOT / "docs"
SNIPPET_MARK = "--8<--"
INCLUDE_RE = re.compile(r"^\s*" + re.escape(SNIPPET_MARK) + r'\s+"(?P<ref>[^"]+)"\s*$', re.M)
SECTION_RE = r"^[ \t]*# {mark} \[start:{name}\][ \t]*\n(?P<body>.*?)^[ \t]*# {mark} \[end:{name}\]"
START_RE = re.compile(r"^[ \t]*# --8<-- \[start:(\w+)\]", re.M)

# The only places a page may include code from, and so the only code the trace check runs.
INCLUDABLE = ("src",)


def display(path: Path) -> str:
    """A path as a maintainer reads it: relative to the repository when inside it."""
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def source_file(path: str) -> Path:
    """The file a page's include names, refused unless it lies under ``src/``."""
    resolved = (ROOT / path).resolve()
    if not any(resolved.is_relative_to(ROOT / folder) for folder in INCLUDABLE):
        allowed = " or ".join(f"{folder}/" for folder in INCLUDABLE)
        raise ValueError(f"a page may include code from {allowed} only, not {path!r}")
    return resolved


def read_section(ref: str) -> str:
    """Return the code of ``path:section`` (as the page shows it), markers removed."""
    path, _, name = ref.partition(":")
    text = source_file(path).read_text(encoding="utf-8")
    if not name:
        return text
    pattern = SECTION_RE.format(mark=re.escape(SNIPPET_MARK), name=re.escape(name))
    match = re.search(pattern, text, re.M | re.S)
    if match is None:
        raise LookupError(f"section {name!r} not found in {path}")
    lines = [line for line in match["body"].splitlines(keepends=True) if SNIPPET_MARK not in line]
    return textwrap.dedent("".join(lines))


def all_pages() -> list[Path]:
    """Every Markdown page of the site."""
    return sorted(DOCS.rglob("*.md"))


def includes(text: str) -> list[str]:
    """The refs of every include of a page's Markdown, in order."""
    return INCLUDE_RE.findall(text)


def defined() -> set[str]:
    """``path:name`` of every section in the code a page may include."""
    files = [f for folder in INCLUDABLE for f in (ROOT / folder).rglob("*.py")]
    return {
        f"{f.relative_to(ROOT).as_posix()}:{name}"
        for f in files
        for name in START_RE.findall(f.read_text(encoding="utf-8"))
    }
