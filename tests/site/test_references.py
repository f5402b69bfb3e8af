"""The bibliography: every entry is cited by a page, every citation names an entry, and each
entry says who, what, when and where."""

from __future__ import annotations

import re

from primer_site.sections import DOCS, all_pages

REFERENCES = DOCS / "references.md"
ENTRY_RE = re.compile(
    r"^\*\*(?P<authors>.+?) \((?P<year>\d{4})\)\.\*\* (?P<rest>.+?)\n\{ #(?P<key>\w+) \}$", re.M | re.S
)
CITATION_RE = re.compile(r"\]\((?:\.\./)*references\.md#(?P<key>\w+)\)")


def entries() -> dict[str, re.Match[str]]:
    text = REFERENCES.read_text(encoding="utf-8")
    found = {m["key"]: m for m in ENTRY_RE.finditer(text)}
    assert len(found) == text.count("{ #"), "an entry does not read **Authors (year).** Title ... { #key }"
    return found


def citations() -> dict[str, list[str]]:
    cited: dict[str, list[str]] = {}
    for page in all_pages():
        for match in CITATION_RE.finditer(page.read_text(encoding="utf-8")):
            cited.setdefault(match["key"], []).append(page.name)
    return cited


def test_every_entry_is_cited_and_every_citation_has_an_entry() -> None:
    keys, cited = set(entries()), citations()
    assert len(keys) >= 15
    assert keys - set(cited) == set(), "entries that no page cites"
    assert set(cited) - keys == set(), "citations of entries the references page lacks"


def test_every_entry_gives_title_venue_or_arxiv_and_the_lessons_citing_it() -> None:
    for key, entry in entries().items():
        rest = " ".join(entry["rest"].split())
        assert key.endswith(entry["year"]), f"{key}: the key ends with the year"
        assert re.search(r"arXiv:\d{4}\.\d{4,5}", rest) or re.search(r"\*[^*]+\*", rest), key
        assert "Cited in: [" in rest, f"{key}: say which lessons cite it"
        cited_from = {name for name in citations()[key]}
        linked = set(re.findall(r"\]\(lessons/([\w-]+\.md)\)", rest))
        assert linked == cited_from, (
            f"{key}: 'cited in' lists {sorted(linked)}, pages cite from {sorted(cited_from)}"
        )
