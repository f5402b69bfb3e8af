"""The copy button of every code block on every page, clicked in Chromium.

The `visits` fixture clicks each button (`button.md-code__button[data-md-type=copy]`; the
`md-clipboard` of older Material versions is matched too) after opening every <details>, and
records what it copied (see tests/browser/sitecheck.py: the copy event's text, checked against
`navigator.clipboard.readText()` with clipboard permissions granted).
What a reader pastes must be what the page promises: `>>>` examples copy as plain input
(docs/stylesheets/extra.css hides prompts and output lines while Material copies), and a
`python` block runs on its own.
"""

from __future__ import annotations

import pytest
import sitecheck

pytestmark = pytest.mark.browser


def test_copy_buttons_copy_clean_code(visits: list[sitecheck.Visit]) -> None:
    copies = [c for v in visits for c in v.copies]
    assert copies, "no copy button on any page: is content.code.copy still on?"
    assert any(c.language == "pycon" for c in copies), "no >>> example on any page to check"
    problems = sitecheck.check_copy_buttons(visits)
    assert not problems, f"{len(problems)} copy problem(s):\n" + "\n\n".join(problems)


def test_copied_python_blocks_run(visits: list[sitecheck.Visit]) -> None:
    """Each `python` block (not a mkdocstrings signature or source listing), as copied, runs
    with this environment's Python in an empty temp dir and exits 0 (timeout 120 s)."""
    blocks = sitecheck.runnable_python(visits)
    assert blocks, "no runnable python block found on any page"
    problems = sitecheck.run_python_blocks(blocks)
    assert not problems, f"{len(problems)} of {len(blocks)} block(s) fail:\n" + "\n\n".join(
        problems)
