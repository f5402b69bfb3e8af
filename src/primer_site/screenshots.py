"""Screenshots of the built site's lesson pages, to look at the layout by eye.

Builds nothing: serves an already built site (default `site/`, made by `make build`) on
127.0.0.1 and saves full-page PNGs of the home page, every page under lessons/ and every
notebook page, at desktop (1280x900) and phone (375x812) widths, light and dark, into
`screenshots/` (gitignored). `make screenshots` builds then runs this.

Uses Debian's Chromium (/usr/bin/chromium) through Playwright, with the same server, launch
flags and page list as the browser tests (``primer_site.browser.serving``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from . import ROOT
from .browser import serving
from .browser.visits import wait_for_math

SIZES = {"desktop": serving.DESKTOP, "phone": serving.PHONE}
SCHEMES = {"light": "default", "dark": "slate"}  # emulated prefers-color-scheme -> Material


def pages_to_shoot(site: Path) -> list[str]:
    """The home page, the lessons and the notebooks of the built site."""
    return [p for p in serving.site_pages(site) if p == "/" or p.startswith(("/lessons/", "/notebooks/"))]


def file_name(path: str, size: str, scheme: str) -> str:
    """The PNG's name: page slug, size and colour scheme."""
    slug = path.strip("/").replace("/", "--") or "home"
    return f"{slug}--{size}-{scheme}.png"


def shoot(browser: object, base: str, paths: list[str], out: Path) -> list[Path]:
    """Screenshot every path at each size in each scheme; returns the files written."""
    saved = []
    for size, viewport in SIZES.items():
        for scheme, material_scheme in SCHEMES.items():
            context = serving.new_context(browser, base, viewport=viewport, color_scheme=scheme)
            page = context.new_page()
            for path in paths:
                response = page.goto(base + path, wait_until="load")
                if not response or response.status != 200:
                    print(
                        f"warning: {path} answered {response and response.status}: skipped "
                        "(is the site being rebuilt?)",
                        file=sys.stderr,
                    )
                    continue
                if not wait_for_math(page):
                    print(f"warning: {path}: math not typeset after 15 s", file=sys.stderr)
                page.evaluate("document.fonts.ready.then(() => true)")
                shown = page.evaluate("document.body.getAttribute('data-md-color-scheme')")
                if shown != material_scheme:
                    print(f"warning: {path} shows scheme {shown!r}, not {material_scheme!r}", file=sys.stderr)
                target = out / file_name(path, size, scheme)
                page.screenshot(path=str(target), full_page=True)
                saved.append(target)
            context.close()
    return saved


def main(argv: list[str] | None = None) -> int:
    """Serve the built site and save the screenshots; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "site", nargs="?", type=Path, default=ROOT / "site", help="the built site (default: site/)"
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=ROOT / "screenshots",
        help="where to save the PNGs (default: screenshots/)",
    )
    args = parser.parse_args(argv)

    if not (args.site / "index.html").is_file():
        parser.error(f"{args.site} is not a built site (no index.html): run `make build` first")
    if not serving.CHROMIUM.exists():
        print(serving.INSTALL_HINT, file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    paths = pages_to_shoot(args.site)
    start = time.monotonic()
    with serving.serve(args.site) as base, sync_playwright() as playwright:
        browser = serving.launch(playwright)
        try:
            saved = shoot(browser, base, paths, args.out)
        finally:
            browser.close()
    print(f"{len(saved)} screenshots of {len(paths)} pages in {args.out} ({time.monotonic() - start:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
