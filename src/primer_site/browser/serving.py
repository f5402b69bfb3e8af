"""Serve a built site locally and start the browser that reads it.

`serve(site_dir, prefix)` serves a directory on 127.0.0.1 under a sub-path, with real 404s (the
site's own 404 page, as static hosts do); `launch(playwright)` starts Debian's Chromium with
the flags this machine needs; `new_context` makes a browser context that cannot reach any
other host; `site_pages` lists the pages of a built site. Every other browser module, the
tests and `screenshots` use these.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import sys
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

CHROMIUM = Path("/usr/bin/chromium")


# Playwright refuses `--user-data-dir` in `args`: for every `launch()` it creates a fresh, empty
# profile directory itself (`playwright_chromiumdev_profile-*` under $TMPDIR) and removes it on
# close, which is what the flag would do here.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


INSTALL_HINT = (
    "Debian's Chromium is needed at /usr/bin/chromium for the browser tests: "
    "install it with `sudo apt-get install chromium` (never `playwright install`)."
)


DESKTOP = {"width": 1280, "height": 900}


PHONE = {"width": 375, "height": 812}


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves the site under ``prefix``, and its ``404.html`` for anything missing.

    ``prefix`` is a sub-path such as ``/transformer-primer``; the 404 page comes with status 404,
    as static hosts do.
    """

    prefix = ""

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def translate_path(self, path: str) -> str:
        route = urllib.parse.urlsplit(path).path
        if self.prefix and not (route == self.prefix or route.startswith(self.prefix + "/")):
            return os.path.join(self.directory, "\0 outside the site")  # never a file: 404
        return super().translate_path(path[len(self.prefix) :])

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        page = Path(self.directory) / "404.html"
        if code != 404 or not page.is_file():
            super().send_error(code, message, explain)
            return
        body = page.read_bytes()
        self.send_response(404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a tab closed mid-download
            super().handle_error(request, client_address)


@contextmanager
def serve(site_dir: Path, prefix: str = "") -> Iterator[str]:
    """Serve `site_dir` at http://127.0.0.1:<free port><prefix>; yield that base URL (no final /).

    ``prefix`` is a sub-path such as ``/transformer-primer``, where a site built for
    ``https://example.org/transformer-primer/`` is published; a missing page gets the site's
    404.html with status 404.
    """
    handler_class = type("Handler", (_QuietHandler,), {"prefix": prefix.rstrip("/")})
    handler = functools.partial(handler_class, directory=str(site_dir))
    server = _Server(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="site-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}{prefix.rstrip('/')}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def launch(playwright: Any) -> Any:
    """Start headless Debian Chromium with the flags this stack needs (see stack.md)."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)


def new_context(browser: Any, base: str, **options: Any) -> Any:
    """A fresh context (own cache, storage, clipboard) that cannot reach any other host.

    Requests to other hosts are still recorded by `visit` (the request event fires first), then
    aborted here, so a page that tries to reach the internet fails fast instead of hanging.
    """
    options.setdefault("viewport", DESKTOP)
    options.setdefault("color_scheme", "light")
    context = browser.new_context(**options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=base)
    local = re.escape(base)
    context.route(re.compile(rf"^(?!{local}/)(https?|wss?|ftp)://"), lambda route: route.abort())
    return context


def site_pages(site_dir: Path) -> list[str]:
    """URL path of every page of a built site: each `index.html`, as `/`, `/lessons/x/`..."""
    pages = []
    for index in site_dir.rglob("index.html"):
        rel = index.parent.relative_to(site_dir).as_posix()
        pages.append("/" if rel == "." else f"/{rel}/")
    return sorted(pages)
