"""Fixtures for the real-browser tests: the built site served locally, one Chromium, one visit
per page (shared by every per-page check)."""

from __future__ import annotations

import os
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sitecheck: the reusable checks

import sitecheck  # noqa: E402


@pytest.fixture(scope="session")
def site_dir(built_site: tuple[Path, str]) -> Path:
    return built_site[0]


@pytest.fixture(scope="session")
def site_base(site_dir: Path, published_url: str) -> Iterator[str]:
    """The built site over HTTP under the sub-path it was built for (`published_url`):
    http://127.0.0.1:<free port>/transformer-primer, with the site's 404 page for what is missing."""
    with sitecheck.serve(site_dir, prefix=urllib.parse.urlsplit(published_url).path) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the whole run; skipped (failed under CI) if missing."""
    problem = None
    if not sitecheck.CHROMIUM.exists():
        problem = f"{sitecheck.CHROMIUM} not found. {sitecheck.INSTALL_HINT}"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = ("the playwright package is missing from this environment: "
                       "`make setup` installs it (pip, never `playwright install`).")
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the browser tests cannot run: {problem}", pytrace=False)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = sitecheck.launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def pages(site_dir: Path) -> list[str]:
    """Every page of the built site (each index.html), whatever others have added."""
    found = sitecheck.site_pages(site_dir)
    assert "/" in found and any(p.startswith("/lessons/") for p in found), found
    return found


@pytest.fixture(scope="session")
def visits(browser: Any, site_base: str, pages: list[str]) -> list[sitecheck.Visit]:
    """Each page loaded once (one shared context), every copy button clicked."""
    return sitecheck.visit_all(browser, site_base, pages)
