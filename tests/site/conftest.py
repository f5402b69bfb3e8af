"""Fixtures of the site wing: the repository, and the site built once per test run."""

from __future__ import annotations

import os
import subprocess
import sys
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
