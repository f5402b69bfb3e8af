"""Every printed trace on every page is what its example prints today."""

from __future__ import annotations

import pytest

from primer_site import notebook, sections, traces

PAGES = sections.all_pages()
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


@pytest.mark.parametrize("trace", TRACES, ids=[f"{t.page.stem}:{t.ref.rsplit('/', 1)[-1]}" for t in TRACES])
def test_trace_matches_what_the_code_prints(trace: traces.Trace) -> None:
    printed = traces.run_section(trace.ref)
    assert printed == trace.shown, (
        "the page and the code disagree; run `make traces` and review `git diff docs/`:\n"
        + traces.diff(trace.shown, printed, f"{trace.page.name} [{trace.ref}]")
    )


def test_notebook_page_is_generated_from_the_lesson_sections() -> None:
    current = notebook.NOTEBOOK.read_text(encoding="utf-8")
    assert current == notebook.build_notebook(), "run `make traces` to regenerate the notebook"


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


# --- traces inside a collapsible block (exercise solutions), indented by 4 spaces -------------

SECTION = "src/transformer_primer/lessons/attention_math.py:dot_products"


def solution_page(body: str) -> str:
    """A page with one solution block: the include and its trace, indented as `???` needs."""
    fence = "```"
    return (
        f'??? success "Solution"\n\n    {fence}python\n    --8<-- "{SECTION}"\n    {fence}\n\n'
        f'    <!-- trace: {SECTION} -->\n    {fence}text title="Output"\n{body}    {fence}\n'
    )


def test_an_indented_trace_is_found_and_checked(tmp_path, monkeypatch) -> None:
    printed = traces.run_section(SECTION)
    assert "\n\n" in f"\n{printed}", "the section should print a blank line to test them"
    page = tmp_path / "page.md"
    page.write_text(solution_page(traces.indented(printed, "    ") + "\n"), encoding="utf-8")
    [trace] = traces.find_traces(page)
    assert trace.indent == "    " and trace.shown == printed
    monkeypatch.setattr(traces, "all_pages", lambda: [page])
    assert [p for p in traces.check() if "page.md" in p] == []

    # One changed digit inside the block is caught ...
    page.write_text(
        solution_page(traces.indented(printed.replace("2", "3", 1), "    ") + "\n"), encoding="utf-8"
    )
    assert len([p for p in traces.check() if "page.md" in p]) == 1
    # ... and so is a line that lost its indentation (it would end the block on the page).
    lines = traces.indented(printed, "    ").split("\n")
    last = len(lines) - 1
    lines[last] = lines[last].lstrip()
    page.write_text(solution_page("\n".join(lines) + "\n"), encoding="utf-8")
    assert len([p for p in traces.check() if "page.md" in p]) == 1


def test_update_rewrites_an_indented_trace_with_its_indentation(tmp_path, monkeypatch) -> None:
    page = tmp_path / "page.md"
    page.write_text(solution_page("    stale output\n"), encoding="utf-8")
    monkeypatch.setattr(traces, "all_pages", lambda: [page])
    monkeypatch.setattr(notebook, "NOTEBOOK", tmp_path / "notebook.ipynb")  # not the real one
    assert traces.update() >= 1
    text = page.read_text(encoding="utf-8")
    assert text == solution_page(traces.indented(traces.run_section(SECTION), "    ") + "\n")
    assert [p for p in traces.check() if "page.md" in p] == []


def test_a_marker_without_its_block_is_an_error(tmp_path) -> None:
    # The fence is not indented like the marker: the block would go unchecked, so refuse.
    page = tmp_path / "page.md"
    page.write_text(
        solution_page("    x\n").replace('    ```text title="Output"', "```text"), encoding="utf-8"
    )
    with pytest.raises(ValueError, match="no ```text block with the marker's indentation"):
        traces.find_traces(page)


@pytest.mark.parametrize(
    "ref", ["../../etc/passwd:x", ".git/config", "tests/site/conftest.py:x", "src/../bench/results.json"]
)
def test_only_code_under_src_or_bench_can_be_included_or_run(ref: str) -> None:
    with pytest.raises(ValueError, match="may include code from src/ only"):
        sections.read_section(ref)
