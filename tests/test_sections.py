"""Every snippet section in the code is shown somewhere, and every include names a real one.

A section (``# --8<-- [start:name]`` ... ``[end:name]``) exists to be included by a page: one
that no page includes is code written for the site that the site does not show (or a page
that lost its include). The generated notebook page counts as a page.
"""

from __future__ import annotations

import re
from pathlib import Path

import traces  # scripts/traces.py

ROOT = Path(__file__).resolve().parent.parent
START = re.compile(r"^[ \t]*# --8<-- \[start:(\w+)\]", re.M)


def defined() -> set[str]:
    """``path:name`` of every section in the package and the benchmark scripts."""
    files = [*(ROOT / "src").rglob("*.py"), *(ROOT / "bench").glob("*.py")]
    return {f"{f.relative_to(ROOT).as_posix()}:{name}" for f in files
            for name in START.findall(f.read_text(encoding="utf-8"))}


def included() -> set[str]:
    pages = {ref for page in traces.all_pages() for ref in traces.INCLUDE_RE.findall(page.read_text(encoding="utf-8"))}
    notebook = {ref for kind, ref in traces.NOTEBOOK_CELLS if kind == "section"}
    return pages | notebook


def test_every_section_is_included_by_a_page() -> None:
    unused = sorted(defined() - included())
    assert not unused, f"sections no page includes (include them, or remove their markers): {unused}"


def test_every_include_names_a_section_that_exists() -> None:
    missing = sorted(ref for ref in included() if ":" in ref and ref not in defined())
    assert not missing, missing


def test_the_check_finds_sections() -> None:
    found = defined()
    assert "src/transformer_primer/numerics.py:softmax" in found and len(found) > 60, len(found)
