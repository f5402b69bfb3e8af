"""Fixtures for the real-browser tests: the built site served locally, one Chromium, one visit
per page (shared by every per-page check)."""

from __future__ import annotations

import os
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from primer_site.browser import serving
from primer_site.browser.visits import Visit, visit_all


@pytest.fixture(scope="session")
def site_dir(built_site: tuple[Path, str]) -> Path:
    return built_site[0]


@pytest.fixture(scope="session")
def site_base(site_dir: Path, published_url: str) -> Iterator[str]:
    """The built site over HTTP under the sub-path it was built for (`published_url`):
    http://127.0.0.1:<free port>/transformer-primer, with the site's 404 page for what is missing."""
    with serving.serve(site_dir, prefix=urllib.parse.urlsplit(published_url).path) as base:
        yield base


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Debian Chromium for the whole run; skipped (failed under CI) if missing."""
    problem = None
    if not serving.CHROMIUM.exists():
        problem = f"{serving.CHROMIUM} not found. {serving.INSTALL_HINT}"
    else:
        try:
            from playwright.sync_api import sync_playwright
        except ImportError:
            problem = (
                "the playwright package is missing from this environment: "
                "`make setup` installs it (pip, never `playwright install`)."
            )
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI is set and the browser tests cannot run: {problem}", pytrace=False)
        pytest.skip(problem)
    with sync_playwright() as playwright:
        chromium = serving.launch(playwright)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="session")
def pages(site_dir: Path) -> list[str]:
    """Every page of the built site (each index.html), whatever others have added."""
    found = serving.site_pages(site_dir)
    assert "/" in found and any(p.startswith("/lessons/") for p in found), found
    return found


@pytest.fixture(scope="session")
def visits(browser: Any, site_base: str, pages: list[str]) -> list[Visit]:
    """Each page loaded once (one shared context), every copy button clicked."""
    return visit_all(browser, site_base, pages)
