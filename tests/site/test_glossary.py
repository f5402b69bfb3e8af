"""The glossary: one file (includes/abbreviations.md) gives the Glossary page and the definitions
shown on hover in every page (src/primer_site/glossary.py). The page must show every definition of the
file, the lessons must carry them, and the hook's rules (first use per section, symbols only as
inline code, never in code blocks or headings) must hold."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest

from primer_site import ROOT as ROOT_DIR
from primer_site import glossary

ROOT = ROOT_DIR


HOOK = glossary
SECTIONS = HOOK.read()
ENTRIES = [e for entries in SECTIONS.values() for e in entries]
# The words the lessons lean on: each must be in the glossary (issue 5).
REQUIRED = {
    "symbols": {"n", "n_q", "n_k", "d_model", "d_k", "d_v", "n_heads", "d_ff"},
    "terms": {
        "query",
        "key",
        "value",
        "mask",
        "causal mask",
        "padding",
        "softmax",
        "logits",
        "cross-attention",
        "teacher forcing",
    },
}


@pytest.mark.parametrize("section", REQUIRED)
def test_the_glossary_defines_the_required_words(section: str) -> None:
    forms = {form for entry in SECTIONS[section] for form in entry.forms}
    assert REQUIRED[section] <= forms, REQUIRED[section] - forms


def test_definitions_are_short_sentences() -> None:
    for entry in ENTRIES:
        assert 20 <= len(entry.definition) <= 200, entry
        assert entry.definition[0].isupper() or entry.definition[0] in "xn", entry
        assert entry.definition.endswith("."), entry


def test_every_entry_has_its_own_anchor() -> None:
    anchors = [e.anchor for e in ENTRIES]
    assert len(set(anchors)) == len(anchors)


def test_the_glossary_page_shows_every_definition_once(built_site) -> None:
    site, _ = built_site
    page = (site / "glossary" / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r'<tr id="([^"]+)"><td>(.*?)</td><td>(.*?)</td></tr>', page)
    shown = {
        anchor: (re.sub(r"</?code>", "", forms), html.unescape(definition))
        for anchor, forms, definition in rows
    }
    assert len(rows) == len(ENTRIES) == len(shown)
    for entry in ENTRIES:
        assert shown[entry.anchor] == (html.escape(", ".join(entry.forms), quote=False), entry.definition)


def test_the_lessons_carry_the_same_definitions_on_hover(built_site) -> None:
    site, _ = built_site
    titles = {e.definition for e in ENTRIES}
    for page in sorted((site / "lessons").glob("*/index.html")):
        text = page.read_text(encoding="utf-8")
        abbrs = re.findall(r'<abbr title="([^"]*)">(.*?)</abbr>', text)
        assert abbrs, f"{page.parent.name}: no term has a hover definition"
        assert {html.unescape(t) for t, _ in abbrs} <= titles, f"{page.parent.name}: a stale definition"
        for block in re.findall(r"<pre\b.*?</pre>", text, re.S):
            assert "<abbr" not in block, f"{page.parent.name}: a definition inside a code block"
        for heading in re.findall(r"<h[1-6]\b.*?</h[1-6]>|<a\b.*?</a>", text, re.S):
            assert "<abbr" not in heading, f"{page.parent.name}: a definition in a heading or link"
    self_attention = (site / "lessons" / "self-attention" / "index.html").read_text(encoding="utf-8")
    assert re.search(r'<abbr title="[^"]*"><code>d_model</code></abbr>', self_attention), (
        "a symbol in inline code has no hover definition"
    )


# --- the hook's rules, on small inputs -----------------------------------------------------------


def test_only_the_first_use_in_each_section_keeps_its_tooltip() -> None:
    q = '<abbr title="Q">query</abbr>'
    qs = '<abbr title="Q">queries</abbr>'
    content = f'<h2>A {q}</h2><p><a href="x">{q}</a> {q} and {qs} and {q}</p><h2>B</h2><p>{qs}, {q}</p>'
    assert HOOK.first_uses_only(content) == (
        f'<h2>A query</h2><p><a href="x">query</a> {q} and queries and query</p><h2>B</h2><p>{qs}, query</p>'
    )


def test_symbols_get_a_tooltip_as_inline_code_only() -> None:
    symbols = {"d_model": "Width.", "n": "Length."}
    inline = "<p>each row has <code>d_model</code> numbers, <code>n</code> rows, <code>n_q</code></p>"
    block = '<pre><code><span id="__span-0-1">d_model = 8\n</span></code></pre>'
    assert HOOK.symbol_tooltips(inline + block, symbols) == (
        '<p>each row has <abbr title="Width."><code>d_model</code></abbr> numbers, '
        '<abbr title="Length."><code>n</code></abbr> rows, <code>n_q</code></p>' + block
    )


BAD_FILES = {
    "outside a section": ("*[x]: An x.\n", "inside a section"),
    "not a definition": ("--8<-- [start:symbols]\nx: An x.\n--8<-- [end:symbols]\n", "expected '*[term]"),
    "not closed": ("--8<-- [start:symbols]\n*[x]: An x.\n", "is not closed"),
    "a missing section": (
        "--8<-- [start:symbols]\n*[x]: An x.\n--8<-- [end:symbols]\n",
        "expected the sections",
    ),
    "markup in a definition": ("--8<-- [start:symbols]\n*[x]: An <x>.\n--8<-- [end:symbols]\n", "plain text"),
}


@pytest.mark.parametrize("case", BAD_FILES)
def test_a_malformed_glossary_file_is_refused(case: str, tmp_path: Path) -> None:
    text, message = BAD_FILES[case]
    path = tmp_path / "abbreviations.md"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ValueError, match=re.escape(message)):
        HOOK.read(path)


def test_forms_with_the_same_definition_are_one_entry(tmp_path: Path) -> None:
    path = tmp_path / "abbreviations.md"
    path.write_text(
        "--8<-- [start:symbols]\n*[`d_k`]: Width.\n--8<-- [end:symbols]\n"
        "--8<-- [start:terms]\n*[key]: A vector.\n*[keys]: A vector.\n*[mask]: Hides.\n"
        "--8<-- [end:terms]\n",
        encoding="utf-8",
    )
    sections = HOOK.read(path)
    assert [(e.forms, e.code) for e in sections["symbols"]] == [(("d_k",), True)]
    assert [e.forms for e in sections["terms"]] == [("key", "keys"), ("mask",)]
