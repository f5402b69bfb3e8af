"""The copy button of every code block on every page, clicked in Chromium.

The `visits` fixture clicks each button (`button.md-code__button[data-md-type=copy]`; the
`md-clipboard` of older Material versions is matched too) after opening every <details>, and
records what it copied (see src/primer_site/browser/: the copy event's text, checked against
`navigator.clipboard.readText()` with clipboard permissions granted).
What a reader pastes must be what the page promises: `>>>` examples copy as plain input
(docs/stylesheets/extra.css hides prompts and output lines while Material copies), and a
`python` block runs on its own.
"""

from __future__ import annotations

import pytest

from primer_site.browser import copying, paste
from primer_site.browser.visits import Visit

pytestmark = pytest.mark.browser


def test_copy_buttons_copy_clean_code(visits: list[Visit]) -> None:
    copies = [c for v in visits for c in v.copies]
    assert copies, "no copy button on any page: is content.code.copy still on?"
    assert any(c.language == "pycon" for c in copies), "no >>> example on any page to check"
    problems = copying.check_copy_buttons(visits)
    assert not problems, f"{len(problems)} copy problem(s):\n" + "\n\n".join(problems)


def test_copied_python_blocks_run(visits: list[Visit]) -> None:
    """Each `python` block (not a mkdocstrings signature or source listing), as copied, runs
    with this environment's Python in an empty temp dir and exits 0 (timeout 120 s)."""
    blocks = copying.runnable_python(visits)
    assert blocks, "no runnable python block found on any page"
    problems = copying.run_python_blocks(blocks)
    assert not problems, f"{len(problems)} of {len(blocks)} block(s) fail:\n" + "\n\n".join(problems)


# The notebook's own code, kept verbatim (tests/site/test_sketch.py): its functions have blank lines
# inside them, so it runs as a file but cannot be pasted at the `>>>` prompt. The pages show it
# to be read; the example after it imports it from the package, and that example is pasted here.
VERBATIM_LISTINGS = ("src/transformer_primer/sketch.py",)


def test_every_block_pastes_at_the_python_prompt(visits: list[Visit]) -> None:
    """Each runnable `python` block, exactly as its copy button copies it, pasted at the classic
    `python` prompt (`python -q -i` reading it; `PYTHON_BASIC_REPL=1`), then Enter: no error,
    and it prints exactly the trace the page shows under it (nothing, when it shows none)."""
    blocks = paste.pasteable(visits, listings=VERBATIM_LISTINGS)
    traced = [b for b in blocks if b.trace is not None]
    assert len(traced) >= 40, f"only {len(traced)} blocks with a trace found: is the trace lookup broken?"
    problems = paste.check_pasted(blocks)
    assert not problems, f"{len(problems)} of {len(blocks)} block(s) do not paste:\n" + "\n\n".join(problems)
