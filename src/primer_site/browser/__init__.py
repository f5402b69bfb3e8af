"""Real-browser checks of a built site, in Debian's Chromium driven by Playwright.

One module per job: `serving` (the local server, the browser, contexts, the page list),
`visits` (one load per page, everything recorded), `page_checks` (checks on those records),
`copying` (copy buttons and copied code), `paste` (a block pasted at the python prompt),
`interactive` (hover, search, palette, phone), `layout` (nothing cut off at a desktop; what
scrolls on a phone says so), `a11y` (axe-core, the keyboard, motion, zoom). Each check returns
human-readable problems, an empty list when all is well; the tests in tests/site/browser/ run
them on the built site, and on a small broken site to show each can fail.
"""
