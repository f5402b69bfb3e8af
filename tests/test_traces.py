"""Every printed trace on every page is what its example prints today."""

from __future__ import annotations

import pytest
import traces  # scripts/traces.py

PAGES = traces.all_pages()
TRACES = [t for page in PAGES for t in traces.find_traces(page)]


def test_the_site_has_traces() -> None:
    # Guards against a checker that silently finds nothing (a changed marker syntax, say).
    assert len(TRACES) >= 4
    assert {t.page.name for t in TRACES} >= {
        "encoder-decoder.md",
        "self-attention.md",
        "transformer-vs-rnn.md",
        "attention-math.md",
    }


@pytest.mark.parametrize(
    "trace", TRACES, ids=[f"{t.page.stem}:{t.ref.rsplit('/', 1)[-1]}" for t in TRACES]
)
def test_trace_matches_what_the_code_prints(trace: traces.Trace) -> None:
    printed = traces.run_section(trace.ref)
    assert printed == trace.shown, (
        "the page and the code disagree; run `make traces` and review `git diff docs/`:\n"
        + traces.diff(trace.shown, printed, f"{trace.page.name} [{trace.ref}]")
    )


def test_notebook_page_is_generated_from_the_lesson_sections() -> None:
    current = traces.NOTEBOOK.read_text(encoding="utf-8")
    assert current == traces.build_notebook(), "run `make traces` to regenerate the notebook"


def test_a_changed_digit_is_caught(tmp_path, monkeypatch) -> None:
    # The checker itself can fail: alter one character of a real trace and check again.
    page = tmp_path / "page.md"
    original = TRACES[0].page.read_text(encoding="utf-8")
    start, end = TRACES[0].span
    body = original[start:end]
    altered = body.replace("1", "7", 1) if "1" in body else body + "x"
    page.write_text(original[:start] + altered + original[end:], encoding="utf-8")
    monkeypatch.setattr(traces, "all_pages", lambda: [page])
    problems = [p for p in traces.check() if "page.md" in p]
    assert len(problems) == 1
    assert "(on the page)" in problems[0] and "(printed now)" in problems[0]


def test_a_trace_must_follow_the_code_it_shows(tmp_path) -> None:
    page = tmp_path / "docs" / "bad.md"
    page.parent.mkdir()
    page.write_text(
        '```python\n--8<-- "src/a.py:one"\n```\n\n<!-- trace: src/a.py:two -->\n```text\nx\n```\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="follows an include of 'src/a.py:one'"):
        traces.find_traces(page)
