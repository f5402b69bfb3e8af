"""Every lesson ends with "What to try": 2 or 3 exercises, each with a collapsible solution that
is a tested example (a section of the lesson's module, included, then its checked trace).

The traces themselves are checked by tests/site/test_traces.py like any other; this file checks the
shape: the exercises exist, each solution block shows the section it names and that section's
output, and no exercise section in a module is left unused.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from primer_site import ROOT as ROOT_DIR
from primer_site import traces

ROOT = ROOT_DIR
# Every lesson page, and the module its solutions live in (its name with "_" for "-").
LESSONS = {
    page.stem: page.stem.replace("-", "_") for page in sorted((ROOT / "docs" / "lessons").glob("*.md"))
}
EXERCISE_RE = re.compile(r"^### Exercise (\d+): \S.*$", re.M)
SOLUTION_RE = re.compile(r'^\?\?\? success "Solution"\n\n(?P<body>(?:    .*\n|\n)+)', re.M)
SECTION_RE = re.compile(r"^# --8<-- \[start:(exercise_\d+)\]$", re.M)


def page_text(page: str) -> str:
    return (ROOT / "docs" / "lessons" / f"{page}.md").read_text(encoding="utf-8")


def exercises(text: str) -> list[tuple[int, str]]:
    """(number, text up to the next exercise) for each `### Exercise N: ...` heading."""
    starts = list(EXERCISE_RE.finditer(text))
    ends = [m.start() for m in starts[1:]] + [len(text)]
    return [(int(m[1]), text[m.start() : end]) for m, end in zip(starts, ends, strict=True)]


def problems(text: str, module: str, scratch: Path) -> list[str]:
    """What is wrong with the "What to try" of a lesson page (`text`), its solutions in `module`."""
    if text.count("\n## What to try\n") != 1:
        return ["no (or two) '## What to try' section"]
    section = text.split("\n## What to try\n", 1)[1]
    found = exercises(section)
    out = []
    if "\n## " in section:
        out.append("'What to try' is not the last section")
    if [n for n, _ in found] != list(range(1, len(found) + 1)):
        out.append(f"exercises numbered {[n for n, _ in found]}")
    if not 2 <= len(found) <= 3:
        out.append(f"{len(found)} exercise(s), expected 2 or 3")
    for number, exercise in found:
        blocks = SOLUTION_RE.findall(exercise)
        if len(blocks) != 1:
            out.append(f"exercise {number}: {len(blocks)} collapsible solutions, expected 1")
            continue
        ref = f"{module}:exercise_{number}"
        if f'    --8<-- "{ref}"\n' not in blocks[0]:
            out.append(f"exercise {number}: the solution does not include {ref}")
            continue
        # The trace inside the block, as the trace checker finds it: indented, of this section.
        probe = scratch / f"exercise-{number}.md"
        probe.write_text(blocks[0], encoding="utf-8")
        try:
            shown = [(t.ref, t.indent, bool(t.shown.strip())) for t in traces.find_traces(probe)]
        except ValueError as error:  # a trace of another section than the one included
            out.append(f"exercise {number}: {error}")
            continue
        if shown != [(ref, "    ", True)]:
            out.append(
                f"exercise {number}: the solution shows traces {shown}, expected the "
                f"output of {ref} (run `make traces` to fill it)"
            )
    return out


@pytest.mark.parametrize("page", LESSONS)
def test_each_lesson_ends_with_exercises_and_tested_solutions(page: str, tmp_path: Path) -> None:
    module = f"src/transformer_primer/lessons/{LESSONS[page]}.py"
    assert problems(page_text(page), module, tmp_path) == []


@pytest.mark.parametrize("page", LESSONS)
def test_every_exercise_section_is_used(page: str) -> None:
    source = (ROOT / "src" / "transformer_primer" / "lessons" / f"{LESSONS[page]}.py").read_text(
        encoding="utf-8"
    )
    used = [f"exercise_{n}" for n, _ in exercises(page_text(page).split("\n## What to try\n")[1])]
    assert SECTION_RE.findall(source) == used


BROKEN = {  # one fault each, made from the real self-attention page
    "no output": (
        lambda t: re.sub(r"    <!-- trace: [^\n]*exercise_1 -->\n", "", t, count=1),
        "exercise 1: the solution shows traces []",
    ),
    "another section's output": (
        lambda t: t.replace("exercise_1 -->", "exercise_2 -->", 1),
        "show the code whose output you show",
    ),
    "an empty output": (
        lambda t: re.sub(
            r'(exercise_2 -->\n    ```text title="Output"\n)'
            r"(?:    .*\n|\n)*?(    ```\n)",
            r"\1\2",
            t,
        ),
        "exercise 2: the solution shows traces",
    ),
    "one exercise only": (lambda t: t[: t.index("### Exercise 2")], "1 exercise(s), expected 2 or 3"),
    "no solution": (
        lambda t: t.replace('??? success "Solution"', "Solution:", 1),
        "exercise 1: 0 collapsible solutions",
    ),
}


@pytest.mark.parametrize("fault", BROKEN)
def test_the_check_catches(fault: str, tmp_path: Path) -> None:
    module = "src/transformer_primer/lessons/self_attention.py"
    broken, expected = BROKEN[fault]
    text = page_text("self-attention")
    assert broken(text) != text, "the fault was not applied"
    assert any(expected in p for p in problems(broken(text), module, tmp_path)), fault
