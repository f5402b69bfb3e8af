"""What a copy button copies, and whether the copied code runs.

Material copies a block's text; `docs/stylesheets/extra.css` hides the prompts and outputs of a
`>>>` session while it does, so it copies as plain input. `check_copy_buttons` holds every
button to that; `runnable_python` and `run_python_blocks` run each copied block as a file
(`paste` pastes it at the prompt instead).
"""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor

from .visits import CodeCopy, Visit

_PROMPT = re.compile(r"^(>>>|\.\.\.)( |$)")


def pycon_input(copy: CodeCopy) -> str:
    """The input lines of a `>>>` session, prompts removed: what copying must produce.

    Input lines are those Pygments marked with a prompt (`.gp`), read from the line spans;
    without line spans, those starting with `>>> ` or `... ` (a traceback's `...` then
    counts as input: the DOM is the better source).
    """
    if copy.inputs is not None:
        lines = copy.inputs
    else:
        lines = [_PROMPT.sub("", line) for line in copy.shown.splitlines() if _PROMPT.match(line)]
    return "\n".join(lines).rstrip()


def check_copy_buttons(visits: list[Visit]) -> list[str]:
    """Each copy button copies; pycon copies exactly its input; no prompts; listings parse.

    What a button copied is the text of the `copy` event it fired (Material copies with
    ClipboardJS, i.e. `execCommand('copy')`), read from the system clipboard instead when no
    such event fires; after the last button the system clipboard must hold the same text.
    - every button puts something on the clipboard;
    - `pycon` blocks: no copied line starts with a `>>> `/`... ` prompt and the copied text is
      exactly the input lines (outputs dropped, prompts stripped);
    - `python` blocks: no prompts, and nothing copied that is not on screen (no line numbers);
    - mkdocstrings source listings: the copied text is valid Python (compiles once dedented).
    """
    problems = []
    for v in visits:
        last = v.copies[-1].copied if v.copies else None
        if last is not None and v.clipboard != last:
            problems.append(
                f"{v.path}: the system clipboard holds {v.clipboard!r}, not what "
                f"the last copy button copied, {last!r}"
            )
        for c in v.copies:
            where = f"{v.path}: code block #{c.index} ({c.language or c.classes})"
            if c.error or c.copied is None:
                problems.append(f"{where}: copy button copied nothing {c.error}".rstrip())
                continue
            if c.language in ("pycon", "python"):
                prompts = [line for line in c.copied.splitlines() if _PROMPT.match(line)]
                if prompts:
                    problems.append(f"{where}: copied prompt lines {prompts[:3]}")
            if c.language == "pycon":
                expected = pycon_input(c)
                if c.copied != expected:
                    problems.append(
                        f"{where}: copied {c.copied!r}, expected only the input lines {expected!r}"
                    )
            elif c.language == "python" and c.copied != c.shown.rstrip():
                problems.append(f"{where}: copied text differs from the block's code: {c.copied[:120]!r}")
            if c.language == "python" and c.source_listing:
                try:
                    ast.parse(textwrap.dedent(c.copied))
                except SyntaxError as exc:
                    problems.append(f"{where}: copied source listing is not valid Python: {exc}")
    return problems


def runnable_python(visits: list[Visit]) -> dict[str, list[str]]:
    """The copied text of each runnable `python` block -> the pages and blocks showing it.

    Runnable: language class `python`, and not one of the two kinds of block that
    mkdocstrings generates for reading, not running: a signature (`.doc-signature`, e.g.
    `softmax(x: ArrayLike, axis: int = -1) -> Array`, not valid Python) and a "Source code in"
    listing (a method out of its class and module; check_copy_buttons parses those instead).
    """
    blocks: dict[str, list[str]] = {}
    for v in visits:
        for c in v.copies:
            if c.language == "python" and c.copied and not c.signature and not c.source_listing:
                blocks.setdefault(c.copied, []).append(f"{v.path} block #{c.index}")
    return blocks


def run_python_blocks(blocks: dict[str, list[str]], timeout: float = 120) -> list[str]:
    """Run each block with this interpreter in a fresh temp dir; report those that fail."""

    def run(code: str) -> str | None:
        with tempfile.TemporaryDirectory(prefix="copied-block-") as cwd:
            env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONDONTWRITEBYTECODE": "1"}
            try:
                result = subprocess.run(
                    [sys.executable, "-c", code],
                    cwd=cwd,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=timeout,
                )
            except subprocess.TimeoutExpired:
                return f"timed out after {timeout:.0f} s"
        if result.returncode != 0:
            return f"exit code {result.returncode}:\n{result.stderr[-1500:]}"
        return None

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        outcomes = list(pool.map(run, blocks))

    def head(code: str, n: int = 12) -> str:
        lines = code.splitlines()
        return "\n".join(lines[:n] + ([f"... ({len(lines) - n} more lines)"] if len(lines) > n else []))

    return [
        f"{', '.join(where)}: copied code fails when run: {outcome}\n--- code ---\n{head(code)}"
        for (code, where), outcome in zip(blocks.items(), outcomes, strict=True)
        if outcome
    ]
