"""The site as published at an address under a sub-path (README, "Publish").

The test build is made with `SITE_URL` set to such an address (tests/conftest.py) and served
under its sub-path (tests/site/browser/conftest.py), so every other browser test already loads the
pages, assets, links and search from there. This file checks what only the address decides:
the sitemap and the canonical links name it, and the 404 page works at any missing path.
"""

from __future__ import annotations

import re
import urllib.error
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from primer_site.browser import page_checks
from primer_site.browser.visits import visit_all

pytestmark = pytest.mark.browser

SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


def test_the_sitemap_names_every_page_at_the_published_address(
    site_dir: Path, published_url: str, pages: list[str]
) -> None:
    locs = [e.text for e in ET.parse(site_dir / "sitemap.xml").getroot().iter(f"{SITEMAP}loc")]
    expected = [published_url + page.lstrip("/") for page in pages]
    assert sorted(locs) == sorted(expected)


def test_every_canonical_link_is_the_page_at_the_published_address(
    site_dir: Path, published_url: str, pages: list[str]
) -> None:
    wrong = []
    for page in pages:
        html = (site_dir / page.lstrip("/") / "index.html").read_text(encoding="utf-8")
        found = re.findall(r'<link rel="canonical" href="([^"]+)"', html)
        if found != [published_url + page.lstrip("/")]:
            wrong.append(f"{page}: {found}")
    assert not wrong, "\n".join(wrong)


def test_the_404_page_works_at_any_missing_address(browser: Any, site_base: str) -> None:
    """A missing page under the sub-path gets the site's 404 page (status 404), drawn with its
    own styles and scripts: nothing else it requests fails, nothing leaves the local host."""
    paths = ["/no-such-page/", "/lessons/no-such-lesson/deeper/"]
    visits = visit_all(browser, site_base, paths, copy=False)
    problems = []
    for v in visits:
        if v.status != 404:
            problems.append(f"{v.path}: HTTP {v.status}, expected 404")
        others = [r for r in v.bad_responses if not r.endswith(v.url)]
        problems += [f"{v.path}: {r}" for r in others + v.failed_requests]
        stylesheets = [u for u in v.requests if u.endswith(".css")]
        if not any("/assets/stylesheets/main." in u for u in stylesheets):
            problems.append(f"{v.path}: Material's stylesheet was not loaded: {stylesheets}")
    problems += page_checks.check_local_only(visits, site_base)
    assert not problems, "\n".join(problems)
    code, body = 200, ""
    try:
        urllib.request.urlopen(site_base + "/no-such-page/", timeout=10).close()  # a local URL
    except urllib.error.HTTPError as err:
        code, body = err.code, err.read().decode("utf-8")
        err.close()
    assert code == 404 and "404 - Not found" in body, (code, body[:500])
    root = urllib.parse.urlsplit(site_base).path
    assert all(
        urllib.parse.urlsplit(u).path.startswith(root + "/")
        for v in visits
        for u in v.requests
        if urllib.parse.urlsplit(u).netloc == urllib.parse.urlsplit(site_base).netloc
    )
