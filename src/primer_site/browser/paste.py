"""Paste a copied code block at the classic interactive `python` prompt, as a reader does.

The home page tells a reader to copy a block with its copy button and paste it into `python`.
The classic interactive prompt (Python 3.11/3.12, and 3.13+ with `PYTHON_BASIC_REPL=1`) does
not read a paste as a script does:

- it reads line by line, so a blank line ends an indented block, and a dedented statement
  straight after an indented block (no blank line in between) is a SyntaxError;
- a bare expression statement echoes its value, which a script never prints.

So a block that runs as `python -c` can still fail, or print more than its page shows, when
pasted. `paste` feeds the copied text to `python -q -i` on standard input (what the prompt
reads), followed by one more Enter, in an empty temporary directory; the prompts (`>>> `,
`... `) go to standard error and are removed from it, so what is left there is an error.
"""

from __future__ import annotations

import difflib
import os
import re
import subprocess
import sys
import tempfile
from collections.abc import Collection
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

_PROMPTS = re.compile(r"(>>> |\.\.\. )+")


@dataclass(frozen=True)
class Pasted:
    """What the prompt printed for one pasted block."""

    stdout: str  # prints and echoed values
    errors: str  # standard error without the prompts: empty unless something went wrong


def paste(code: str, *, timeout: float = 180) -> Pasted:
    """Paste ``code`` at a fresh classic `python` prompt, press Enter once more, then quit."""
    with tempfile.TemporaryDirectory(prefix="pasted-block-") as cwd:
        env = {
            **os.environ,
            "MPLBACKEND": "Agg",
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTHON_BASIC_REPL": "1",
        }  # 3.13+: the classic prompt, as on 3.11/3.12
        try:
            result = subprocess.run(
                [sys.executable, "-q", "-i"],
                input=code.rstrip("\n") + "\n\n",
                cwd=cwd,
                env=env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
        except subprocess.TimeoutExpired:
            return Pasted("", f"timed out after {timeout:.0f} s")
    errors = _PROMPTS.sub("", result.stderr).strip()
    if result.returncode:
        errors = f"{errors}\n(exit code {result.returncode})".strip()
    return Pasted(result.stdout, errors)


@dataclass(frozen=True)
class Block:
    """A runnable block as its copy button copies it, where it is shown, and its trace."""

    code: str
    where: str  # "/lessons/x/ block #3"
    trace: str | None  # the output the page shows under it (None: the page shows none)


def pasteable(visits: list[Any], *, listings: Collection[str] = ()) -> list[Block]:
    """Every runnable `python` block of the visits (as `copying.runnable_python`), with its trace.

    ``listings`` are block titles (file names) of code shown to be read and imported rather
    than pasted; they are left out.
    """
    return [
        Block(c.copied, f"{v.path} block #{c.index}", c.trace)
        for v in visits
        for c in v.copies
        if c.language == "python"
        and c.copied
        and not c.signature
        and not c.source_listing
        and c.title not in listings
    ]


def _lines(text: str) -> str:
    """Output as a reader compares it: blank lines at the start and the end do not show."""
    return text.strip("\n")


def check_pasted(blocks: list[Block], *, timeout: float = 180) -> list[str]:
    """Each block, pasted, raises nothing and prints exactly what the page shows.

    One with a trace prints exactly its trace, one without prints nothing (an echoed value the
    page does not show is a surprise).
    """

    def check(block: Block) -> str | None:
        got = paste(block.code, timeout=timeout)
        head = "\n".join(block.code.splitlines()[:8])
        if got.errors:
            return (
                f"{block.where}: pasted at the python prompt, it fails:\n{got.errors[-1500:]}"
                f"\n--- code (first lines) ---\n{head}"
            )
        expected = _lines(block.trace) if block.trace is not None else ""
        if _lines(got.stdout) != expected:
            diff = "".join(
                difflib.unified_diff(
                    expected.splitlines(keepends=True),
                    _lines(got.stdout).splitlines(keepends=True),
                    fromfile="on the page",
                    tofile="printed at the prompt",
                )
            )
            return (
                f"{block.where}: pasted at the python prompt, it prints what the page "
                f"does not show:\n{diff[:3000]}"
            )
        return None

    with ThreadPoolExecutor(max_workers=max(2, os.cpu_count() or 2)) as pool:
        return [problem for problem in pool.map(check, blocks) if problem]
