"""The original notebook, reproduced exactly by ``transformer_primer.sketch``.

``tests/data/original-notebook.txt`` is a verbatim copy of the notebook the project
started from. Its code must appear unchanged in ``sketch.py`` and the lesson sections,
and running those prints the notebook's output character for character.
"""

from __future__ import annotations

import re

import pytest

from primer_site import ROOT, sections, traces

NOTEBOOK = ROOT / "tests" / "data" / "original-notebook.txt"
SKETCH = ROOT / "src" / "transformer_primer" / "sketch.py"


def notebook_cells() -> dict[int, str]:
    """Map each ``In [N]:`` cell to its text (code, then output), up to the next cell."""
    text = NOTEBOOK.read_text(encoding="utf-8")
    parts = re.split(r"^In \[(\d+)\]:\n", text, flags=re.M)
    cells = {int(n): body for n, body in zip(parts[1::2], parts[2::2], strict=True)}
    # A markdown heading ("#### ...") starts the next section, not part of the output.
    return {n: re.split(r"^####", body, flags=re.M)[0] for n, body in cells.items()}


# cell number -> (lesson section that runs it, is the notebook's output cut short there?)
CELLS = {
    3: ("src/transformer_primer/lessons/encoder_decoder.py:sketch", False),
    4: ("src/transformer_primer/lessons/self_attention.py:sketch", False),
    6: ("src/transformer_primer/lessons/transformer_vs_rnn.py:sketch", True),
    7: ("src/transformer_primer/lessons/attention_math.py:sketch", False),
}


def notebook_output(cell: str, printed: str) -> str:
    """The notebook's output of a cell: from the first line the code prints to the end."""
    first = next(line for line in printed.splitlines() if line.strip())
    start = cell.index("\n" + first + "\n") + 1
    return cell[start:].rstrip("\n")


@pytest.mark.parametrize("number", sorted(CELLS))
def test_sketch_prints_the_notebook_output(number: int) -> None:
    ref, cut_short = CELLS[number]
    printed = traces.run_section(ref)
    shown = notebook_output(notebook_cells()[number], printed)
    printed_body = printed.lstrip("\n")
    if cut_short:
        # The notebook's own output stops mid-line here; all it shows must match.
        assert len(shown) > 500
        assert printed_body.startswith(shown)
        assert len(printed_body) > len(shown)
    else:
        assert printed_body == shown


def test_the_notebook_output_is_cut_short_only_in_cell_6() -> None:
    cell = notebook_cells()[6]
    assert cell.rstrip("\n").endswith("'cat': 0.27272")


def code_blocks(cell: str) -> list[str]:
    """Top-level ``class``/``def`` blocks of a notebook cell, verbatim."""
    return [m.group(0).rstrip("\n") for m in re.finditer(r"^(class|def) .*?(?=^\S|\Z)", cell, re.M | re.S)]


@pytest.mark.parametrize("number", [2, 4, 5, 7])
def test_sketch_source_is_the_notebook_code(number: int) -> None:
    sketch = SKETCH.read_text(encoding="utf-8")
    blocks = code_blocks(notebook_cells()[number])
    assert blocks, f"no class or def found in cell {number}"
    for block in blocks:
        assert block in sketch, f"cell {number}: this block is not verbatim in sketch.py:\n{block}"


@pytest.mark.parametrize(("number", "ref"), [(n, ref) for n, (ref, _) in CELLS.items()])
def test_demo_lines_are_the_notebook_lines(number: int, ref: str) -> None:
    # Every line of the lesson's demo, except its import, is a line of the notebook cell.
    cell = notebook_cells()[number]
    for line in sections.read_section(ref).splitlines():
        if line.startswith("from transformer_primer"):
            continue
        assert line in cell.splitlines(), f"line not in notebook cell {number}: {line!r}"
