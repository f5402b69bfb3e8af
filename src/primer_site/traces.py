"""Check or regenerate every printed trace on the site.

A trace on a page is a fenced ``text`` block right after a marker comment naming
the example section that prints it::

    ```python
    ;--8<-- "src/transformer_primer/lessons/self_attention.py:sketch"
    ```

    <!-- trace: src/transformer_primer/lessons/self_attention.py:sketch -->
    ```text
    ...what that section prints...
    ```

The marker must name the section that the page included last, so the code shown
and the output shown cannot drift apart. A trace may be indented, as everything inside
a collapsible block (``??? success "Solution"``) is: the marker, the fences and every
line of the output then carry the same indentation, which is not part of the output.

Each section is run on its own, in a fresh namespace, as a learner runs it: pasted at the
interactive ``python`` prompt, line by line (``paste``), so a block that only works as a script
is refused and a value the prompt would echo shows up in the output. What it prints is
compared with the block.

The executed notebook page is generated from the same sections
(``docs/notebooks/original-notebook.ipynb``), so it too is checked here.

Usage (from the repository root)::

    python -m primer_site.traces          # check: exit 1 with a diff on any mismatch
    python -m primer_site.traces --update # rewrite every trace and the notebook
"""

from __future__ import annotations

import argparse
import code
import contextlib
import difflib
import io
import re
import sys
from dataclasses import dataclass
from pathlib import Path

from . import notebook
from .sections import INCLUDE_RE, all_pages, display, read_section

TRACE_RE = re.compile(  # the closing fence has the marker's indentation
    r"^(?P<indent>[ \t]*)<!-- trace: (?P<ref>\S+) -->\n"
    r"(?P=indent)```text[^\n]*\n(?P<body>.*?)^(?P=indent)```$",
    re.M | re.S,
)
MARKER_RE = re.compile(r"^[ \t]*<!-- trace: (\S+) -->", re.M)


class PasteError(Exception):
    """A section fails when pasted at the interactive ``python`` prompt."""


class _Prompt(code.InteractiveConsole):
    """The classic interactive prompt, fed line by line, that raises instead of printing errors."""

    def __init__(self, ref: str, namespace: dict[str, object]) -> None:
        super().__init__(namespace, filename=ref)
        self.ref = ref
        self.line = (0, "")  # the section's line being pushed: its number and text

    def showsyntaxerror(self, filename: str | None = None, **kwargs: object) -> None:
        err = sys.exc_info()[1]
        number, text = self.line
        raise PasteError(
            f"{self.ref}: pasted at the python prompt, line {number} ({text.strip()!r}) raises "
            f"{type(err).__name__}: {getattr(err, 'msg', err)}. The prompt reads line by line: a "
            "statement that follows an indented block needs a blank line before it, and a blank "
            "line inside an indented block ends that block."
        ) from err

    def showtraceback(self) -> None:
        raise sys.exc_info()[1].with_traceback(sys.exc_info()[2])  # type: ignore[union-attr]


def paste(ref: str, namespace: dict[str, object] | None = None) -> str:
    """Paste one section at a fresh interactive prompt (then press Enter); return what it prints.

    This is how a reader runs it: the classic prompt (``python -i``) reads line by line, so a
    dedented statement straight after an indented block is a SyntaxError there (a script
    accepts it), and a bare expression echoes its value (a script prints nothing). The
    section's variables are left in ``namespace`` (the figures read them).
    """
    prompt = _Prompt(ref, namespace if namespace is not None else {"__name__": "__console__"})
    buffer = io.StringIO()
    with contextlib.redirect_stdout(buffer):
        more = False
        for number, line in enumerate(read_section(ref).splitlines(), start=1):
            prompt.line = (number, line)
            more = prompt.push(line)
        if more:
            prompt.push("")  # the Enter that runs a block left open at the end
    return buffer.getvalue()


def run_section(ref: str) -> str:
    """What one section prints when pasted at a fresh ``python`` prompt (trailing newlines cut)."""
    return paste(ref).rstrip("\n")


@dataclass
class Trace:
    """One checked trace block on a page: where it is, what it references, what it shows."""

    page: Path
    ref: str
    shown: str  # the output on the page, its indentation removed
    span: tuple[int, int]
    indent: str = ""  # "    " inside a collapsible block


def unindent(body: str, indent: str) -> str:
    """The output shown in an indented block: each line without the block's indentation.

    A line that lacks it would end the block on the page: it is returned with a note, so it
    differs from what the code prints and the check shows where it is.
    """
    lines = []
    for line in body.rstrip("\n").split("\n"):
        if line.startswith(indent):
            line = line[len(indent) :]
        elif not line.strip(" \t"):
            line = ""  # a blank line, with or without trailing spaces
        else:
            line = f"{line}    <- not indented by {indent!r}"
        lines.append(line)
    return "\n".join(lines)


def indented(output: str, indent: str) -> str:
    """The output as written into a block with this indentation (blank lines stay empty)."""
    return "\n".join(indent + line if line else "" for line in output.split("\n"))


def find_traces(page: Path) -> list[Trace]:
    """Every trace block of one page; raise if a marker does not follow its include."""
    text = page.read_text(encoding="utf-8")
    traces = []
    for match in TRACE_RE.finditer(text):
        includes = INCLUDE_RE.findall(text, 0, match.start())
        if not includes or includes[-1] != match["ref"]:
            last = includes[-1] if includes else "nothing"
            raise ValueError(
                f"{display(page)}: trace of {match['ref']!r} follows an include "
                f"of {last!r}; show the code whose output you show"
            )
        indent = match["indent"]
        traces.append(Trace(page, match["ref"], unindent(match["body"], indent), match.span("body"), indent))
    markers = MARKER_RE.findall(text)
    if len(markers) != len(traces):  # a marker without its block would go unchecked
        found = {t.ref for t in traces}
        lost = [ref for ref in markers if ref not in found] or markers
        raise ValueError(
            f"{display(page)}: {len(markers)} trace marker(s) but {len(traces)} trace block(s); "
            f"no ```text block with the marker's indentation follows {lost[0]!r}"
        )
    return traces


def diff(expected: str, actual: str, name: str) -> str:
    """A unified diff from the trace on the page to what the code prints now."""
    return "".join(
        difflib.unified_diff(
            expected.splitlines(keepends=True),
            actual.splitlines(keepends=True),
            fromfile=f"{name} (on the page)",
            tofile=f"{name} (printed now)",
        )
    )


def check() -> list[str]:
    """Return one readable diff per trace that differs from what the code prints."""
    problems = []
    for page in all_pages():
        for trace in find_traces(page):
            actual = run_section(trace.ref)
            if actual != trace.shown:
                name = f"{display(page)} [{trace.ref}]"
                problems.append(diff(trace.shown, actual, name))
    wanted = notebook.build_notebook()
    current = notebook.NOTEBOOK.read_text(encoding="utf-8") if notebook.NOTEBOOK.exists() else ""
    if current != wanted:
        problems.append(diff(current, wanted, display(notebook.NOTEBOOK)))
    return problems


def update() -> int:
    """Rewrite every trace with what the code prints now; return how many changed."""
    changed = 0
    for page in all_pages():
        text = page.read_text(encoding="utf-8")
        for trace in reversed(find_traces(page)):  # from the end, so spans stay valid
            actual = run_section(trace.ref)
            if actual != trace.shown:
                start, end = trace.span
                text = text[:start] + indented(actual, trace.indent) + "\n" + text[end:]
                changed += 1
        page.write_text(text, encoding="utf-8")
    wanted = notebook.build_notebook()
    if not notebook.NOTEBOOK.exists() or notebook.NOTEBOOK.read_text(encoding="utf-8") != wanted:
        notebook.NOTEBOOK.write_text(wanted, encoding="utf-8")
        changed += 1
    return changed


def main(argv: list[str] | None = None) -> int:
    """Check every trace (or rewrite them with --update); returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="rewrite traces in place")
    args = parser.parse_args(argv)
    if args.update:
        print(f"{update()} trace(s) rewritten; review them with `git diff docs/`")
        return 0
    problems = check()
    for problem in problems:
        print(problem)
    total = sum(len(find_traces(page)) for page in all_pages())
    print(f"{total} trace(s) checked, {len(problems)} differ")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
