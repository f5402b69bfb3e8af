"""Fixtures of the site wing: the repository, and the site built once per test run."""

from __future__ import annotations

import os
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from primer_site import ROOT


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


# The tests build the site as it is published: for an address under a sub-path (README,
# "Publish"), then serve it under that sub-path (tests/site/browser/conftest.py), so every page,
# asset, link and the search are checked where a real host puts them.
PUBLISHED_URL = "https://example.org/transformer-primer/"


@pytest.fixture(scope="session")
def published_url() -> str:
    """The address the test build is made for (its sitemap and canonical links name it)."""
    return PUBLISHED_URL


@pytest.fixture(scope="session")
def built_site(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """Build the whole site strictly (notebooks executed, no cache) once, for PUBLISHED_URL;
    return (dir, log)."""
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "SITE_URL": PUBLISHED_URL}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"mkdocs build --strict failed:\n{log}"
    return site, log


class Tables(HTMLParser):
    """Every <table> of a page as a list of rows of cell texts."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[list[list[str]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001
        if tag == "table":
            self.tables.append([])
        elif tag == "tr":
            self.tables[-1].append([])
        elif tag in ("td", "th"):
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.tables[-1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def _tables_of(html: str) -> dict[str, list[list[str]]]:
    """The page's tables, by the text of their first header cell plus the second."""
    parser = Tables()
    parser.feed(html)
    return {" | ".join(t[0][:2]): t[1:] for t in parser.tables if t}


@pytest.fixture(scope="session")
def tables_of():  # noqa: ANN201
    """A function: a built page's HTML -> its tables, by the text of their first two header cells."""
    return _tables_of
