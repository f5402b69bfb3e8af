"""Every snippet section in the code is shown somewhere, and every include names a real one.

A section (``# --8<-- [start:name]`` ... ``[end:name]``) exists to be included by a page: one
that no page includes is code written for the site that the site does not show (or a page
that lost its include). The generated notebook page counts as a page.
"""

from __future__ import annotations

from primer_site import notebook, sections


def included() -> set[str]:
    pages = {
        ref for page in sections.all_pages() for ref in sections.includes(page.read_text(encoding="utf-8"))
    }
    cells = {ref for kind, ref in notebook.NOTEBOOK_CELLS if kind == "section"}
    return pages | cells


def test_every_section_is_included_by_a_page() -> None:
    unused = sorted(sections.defined() - included())
    assert not unused, f"sections no page includes (include them, or remove their markers): {unused}"


def test_every_include_names_a_section_that_exists() -> None:
    missing = sorted(ref for ref in included() if ":" in ref and ref not in sections.defined())
    assert not missing, missing


def test_the_check_finds_sections() -> None:
    found = sections.defined()
    assert "src/transformer_primer/numerics.py:softmax" in found and len(found) > 60, len(found)
