"""The checks fail when they should: each one, run on a tiny broken site, reports its problem.

A green browser suite only means something if its checks can go red. This builds a small site
in a temp dir with one of each fault (and a clean page that must not be blamed), serves it the
same way, and runs the same sitecheck functions as the real tests.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from primer_site.browser import a11y, copying, interactive, layout, page_checks, paste, serving
from primer_site.browser.visits import CodeCopy, visit_all

pytestmark = pytest.mark.browser

COPY_BY_EXECCOMMAND = """
<script>
  // A copy button done wrong: copies everything shown, prompts and outputs included.
  document.querySelectorAll('button[data-md-type=copy]:not([data-dead])').forEach(b =>
    b.addEventListener('click', () => {
      const code = document.querySelector(b.dataset.clipboardTarget);
      const area = document.createElement('textarea');
      area.value = code.textContent.trimEnd();
      document.body.append(area);
      area.select();
      // data-swap: the clipboard gets other text than the selection the copy event shows
      if (b.hasAttribute('data-swap')) area.addEventListener('copy', e => {
        e.clipboardData.setData('text/plain', 'print("swapped")');
        e.preventDefault();
      });
      document.execCommand('copy');
      area.remove();
    }));
</script>
"""

BROKEN = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>broken</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<script src="/big.js"></script>
</head><body>
<p>Raw math \\(x\\) left as text.</p>
<div class="arithmatex">\\(y\\)</div>
<span class="arithmatex"><mjx-container><mjx-math><mjx-c></mjx-c><mjx-c></mjx-c></mjx-math>
</mjx-container>z</span>
<a href="/missing/">a page that does not exist</a>
<a href="/good/#nowhere">an anchor that does not exist</a>
<a href="/good/#here">a good anchor</a>
<a href="#not-on-this-page">a missing local anchor</a>
<img src="http://example.com/x.png">
<img src="/nothere.png" alt="a picture that is not there">
<div style="width: 2000px">too wide for a phone</div>
<p>A <abbr title="A definition that no tooltip shows">term</abbr> outside any article.</p>
<pre><code>x = <abbr title="a definition in code">y</abbr></code></pre>
<style>@keyframes spin {{ to {{ transform: rotate(1turn); }} }}</style>
<article>
<p style="color: #999; background: #fff">Faint grey text on white.</p>
<p style="color: #212121">A paragraph of running text, long enough to be read as a block of
text around <a href="/good/" style="color: #4051b5; text-decoration: none">a link</a> that only
its colour tells apart from the words on either side of it.</p>
<div class="md-typeset"><span class="figure" style="display: block; overflow-x: auto;
  width: 100px"><span style="display: inline-block; width: 500px">a wide figure</span></span></div>
<div style="overflow: hidden; width: 60px"><span style="white-space: nowrap">text cut off by its
box</span></div>
</article>
<input type="checkbox" id="__drawer" hidden>
<label class="md-header__button" for="__drawer">menu (opens nothing)</label>
<div class="language-pycon highlight"><pre id="__code_0"><code><span id="__span-0-1"><span
 class="gp">&gt;&gt;&gt; </span>x = 1 + 1
</span><span id="__span-0-2"><span class="gp">&gt;&gt;&gt; </span>x
</span><span id="__span-0-3"><span class="go">2</span>
</span><span id="__span-0-4"><span class="gp">&gt;&gt;&gt; </span>1 / 0
</span><span id="__span-0-5"><span class="gt">Traceback (most recent call last):</span>
</span><span id="__span-0-6"><span class="c">...</span>
</span><span id="__span-0-7"><span class="gr">ZeroDivisionError</span>: division by zero
</span></code></pre><button class="md-code__button" data-md-type="copy"
  data-clipboard-target="#__code_0 > code">copy</button></div>
<div class="language-python highlight"><pre id="__code_1"><code>raise SystemExit(3)
</code></pre><button class="md-code__button" data-md-type="copy"
  data-clipboard-target="#__code_1 > code">copy</button></div>
<div class="language-python highlight"><pre id="__code_2"><code>print("never copied")
</code></pre><button class="md-code__button" data-md-type="copy" data-dead
  data-clipboard-target="#__code_2 > code">copy</button></div>
<details class="mkdocstrings-source"><summary>Source code in <code>x.py</code></summary>
<div class="language-python highlight"><pre id="__code_3"><code>    def broken(self:
        pass
</code></pre><button class="md-code__button" data-md-type="copy"
  data-clipboard-target="#__code_3 > code">copy</button></div></details>
<div class="language-python highlight"><pre id="__code_5"><code>for i in range(2):
    print(i)
print("done")
</code></pre><button class="md-code__button" data-md-type="copy"
  data-clipboard-target="#__code_5 > code">copy</button></div>
<p><!-- trace: a block that runs as a file but not at the prompt --></p>
<div class="language-text highlight"><pre><code>0
1
done
</code></pre></div>
<div class="language-python highlight"><pre id="__code_6"><code>x = 41
x
print("shown")
</code></pre><button class="md-code__button" data-md-type="copy"
  data-clipboard-target="#__code_6 > code">copy</button></div>
<p>Prose between a block and its trace.</p>
<!-- trace: a block whose value the prompt echoes -->
<div class="language-text highlight"><pre><code>shown
</code></pre></div>
<div class="language-python highlight"><pre id="__code_4"><code>print("shown")
</code></pre><button class="md-code__button" data-md-type="copy" data-swap
  data-clipboard-target="#__code_4 > code">copy</button></div>
{COPY_BY_EXECCOMMAND}
<p style="margin-top: 200px"><span style="display: inline-block; animation: spin 2s infinite"
  >spinning</span></p>
<script>
  console.error("boom: a console error");
  setTimeout(() => {{ throw new Error("kaboom: an uncaught exception"); }}, 0);
</script>
</body></html>
"""

GOOD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>good</title></head><body>
<h2 id="here">Here</h2><p>A clean page.</p><img src="/dot.svg" alt="a dot">
<a href="/">home</a> <a href="#here">here</a>
</body></html>
"""

NOTEBOOK = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>nb</title></head><body>
<div class="jp-Notebook"><div class="jp-OutputArea-output">  </div></div>
</body></html>
"""

# Layout faults: a code block wider than its box with no scroll shadow, text under a copy
# button, a figure that scrolls without saying so, and a box that scrolls with its shadows.
LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>layout</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
  article {{ width: 600px; }}
  pre > code {{ display: block; overflow: auto; white-space: pre; }}
  .highlight {{ position: relative; }}
  .md-code__nav {{ position: absolute; top: 0; left: 0; width: 120px; height: 30px; }}
  .figure {{ display: block; overflow-x: auto; }}
  .shadowed {{ background: linear-gradient(white, white) local, linear-gradient(white, white) local,
    radial-gradient(black, white) scroll, radial-gradient(black, white) scroll, white; }}
</style></head><body><article>
<div class="highlight"><pre><code>{first}</code></pre><nav class="md-code__nav"></nav></div>
<span class="figure"><img alt="a wide picture" src="/wide.svg"></span>
<pre><code class="shadowed">{second}</code></pre>
</article></body></html>
""".format(first="x = 1  # " + "a long line " * 80, second="y = 2  # " + "another long line " * 60)

WIDE = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="1600" height="40"><rect width="1600" height="40"/></svg>'
)
DOT = '<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><circle r="2"/></svg>'


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    site = tmp_path_factory.mktemp("broken-site")
    for rel, text in {
        "index.html": BROKEN,
        "good/index.html": GOOD,
        "nb/index.html": NOTEBOOK,
        "layout/index.html": LAYOUT,
        "dot.svg": DOT,
        "wide.svg": WIDE,
    }.items():
        (site / rel).parent.mkdir(parents=True, exist_ok=True)
        (site / rel).write_text(text, encoding="utf-8")
    (site / "big.js").write_text("// padding\n" * 40_000, encoding="utf-8")  # ~440 KB
    return site


@pytest.fixture(scope="module")
def broken(broken_site: Path, browser: Any) -> Any:
    with serving.serve(broken_site) as base:
        paths = [*serving.site_pages(broken_site), "/absent/"]
        visits = visit_all(browser, base, paths, math_timeout_ms=300)
        yield base, visits


def _only_about(problems: list[str], *expected: str) -> None:
    """Every expected fault is reported, and the clean page /good/ is never blamed."""
    text = "\n".join(problems)
    missing = [e for e in expected if e not in text]
    assert not missing, f"not reported: {missing}\nreported:\n{text}"
    assert not [p for p in problems if p.startswith("/good/")], text


def test_site_pages_finds_every_index(broken_site: Path) -> None:
    assert serving.site_pages(broken_site) == ["/", "/good/", "/layout/", "/nb/"]


def test_status_and_console(broken: Any) -> None:
    _, visits = broken
    _only_about(
        page_checks.check_status_and_console(visits),
        "/absent/: HTTP 404",
        "/: console error: boom",
        "/: page error: kaboom",
    )


def test_local_only(broken: Any) -> None:
    base, visits = broken
    _only_about(
        page_checks.check_local_only(visits, base), "/: request to another host: http://example.com/x.png"
    )


def test_resources(broken: Any) -> None:
    _, visits = broken
    _only_about(page_checks.check_resources(visits), "404 ", "/nothere.png", "failed: http://example.com")


def test_links_and_anchors(broken: Any) -> None:
    base, visits = broken
    problems = page_checks.check_links(visits, base)
    _only_about(
        problems,
        "broken link " + base + "/missing/ (HTTP 404)",
        "no element with id 'nowhere'",
        "no element with id 'not-on-this-page'",
    )
    assert "'here'" not in "\n".join(problems)


def test_images_alt(broken: Any) -> None:
    _, visits = broken
    _only_about(page_checks.check_images_alt(visits), "http://example.com/x.png")
    assert "nothere" not in "\n".join(page_checks.check_images_alt(visits))


def test_math(broken: Any) -> None:
    _, visits = broken
    _only_about(
        page_checks.check_math(visits),
        "/: math not rendered: '\\\\(y\\\\) (no mjx-container)'",
        "/: math not rendered: 'z (typeset but invisible: 2 of 2 glyphs have no width)'",
        "/: raw TeX visible: 'Raw math \\\\(x\\\\)",
    )


def test_notebook_outputs(broken: Any) -> None:
    _, visits = broken
    _only_about(page_checks.check_notebook_outputs(visits), "/nb/: 1 empty notebook output")


def test_page_weight(broken: Any) -> None:
    _, visits = broken
    report, problems = page_checks.page_weight(visits)
    _only_about(problems, "/: 4")  # ~430 KB of its own (big.js is not a shared asset)
    assert "OVER" in report and len(problems) == 1, report


def test_copy_buttons(broken: Any) -> None:
    _, visits = broken
    problems = copying.check_copy_buttons(visits)
    _only_about(
        problems,
        "/: code block #0 (pycon): copied prompt lines ['>>> x = 1 + 1'",
        "expected only the input lines 'x = 1 + 1\\nx\\n1 / 0'",
        "/: code block #2 (python): copy button copied nothing",
        "/: code block #3 (python): copied source listing is not valid Python",
        "/: the system clipboard holds 'print(\"swapped\")', not what the last copy "
        "button copied, 'print(\"shown\")'",
    )


def test_copied_python_runs(broken: Any) -> None:
    _, visits = broken
    blocks = copying.runnable_python(visits)
    assert list(blocks) == [
        "raise SystemExit(3)",
        'for i in range(2):\n    print(i)\nprint("done")',
        'x = 41\nx\nprint("shown")',
        'print("shown")',
    ]
    _only_about(
        copying.run_python_blocks(blocks, timeout=60), "/ block #1: copied code fails when run: exit code 3"
    )


def test_phone(broken: Any, browser: Any) -> None:
    base, _ = broken
    problems, widths = interactive.check_phone(browser, base, ["/", "/good/"], timeout_ms=500)
    assert widths["/"][0] > 375 and widths["/good/"] == (375, 375), widths
    text = "\n".join(problems)
    for expected in (
        "/: scrolls sideways at 375px wide",
        "/: the navigation drawer does not open",
        "/good/: no visible navigation button",
    ):
        assert expected in text, text


def test_search_and_palette(broken: Any, browser: Any) -> None:
    base, _ = broken
    assert interactive.check_search(browser, base, "softmax", timeout_ms=500) == [
        "/: no search box (input.md-search__input)"
    ]
    assert interactive.check_palette_toggle(browser, base, timeout_ms=500) == [
        "/: no visible palette toggle (schemes so far: [None])"
    ]


def test_reading_aids(broken: Any, browser: Any) -> None:
    base, visits = broken
    _only_about(
        page_checks.check_footer_links(visits, ["/"]),
        "/: no previous link in the footer",
        "/: no next link in the footer",
    )
    _only_about(
        page_checks.check_abbreviations(visits, ["/"]),
        "/: no term with a definition on hover",
        "/: 1 <abbr> inside code blocks",
    )
    problems, shown = interactive.check_hover(
        browser, base, "/", ["p abbr[title]", "#nowhere"], timeout_ms=500
    )
    assert shown == [], shown
    _only_about(
        problems,
        "/: hovering 'p abbr[title]' shows no tooltip 'A definition that no tooltip shows'",
        "/: nothing matches '#nowhere'",
    )


def test_pycon_input_without_line_spans() -> None:
    """Without line spans the prompts are read from the text."""
    shown = ">>> for i in range(2):\n...     i\n0\n1\n>>> 'done'\n'done'\n"
    copy = CodeCopy(index=0, classes="language-pycon", shown=shown, copied=None, source_listing=False)
    assert copying.pycon_input(copy) == "for i in range(2):\n    i\n'done'"


def test_pasting_at_the_prompt(broken: Any) -> None:
    """A block that runs as a file fails at the prompt; an echoed value is a difference; a block
    found with its trace (even with prose in between) is compared with it."""
    _, visits = broken
    blocks = {b.code: b for b in paste.pasteable(visits)}
    assert blocks['print("shown")'].trace is None
    assert blocks['x = 41\nx\nprint("shown")'].trace == "shown\n"
    problems = paste.check_pasted(list(blocks.values()), timeout=60)
    _only_about(
        problems,
        "/ block #1: pasted at the python prompt, it fails:\n(exit code 3)",
        "/ block #4: pasted at the python prompt, it fails:",
        "SyntaxError: invalid syntax",
        "/ block #5: pasted at the python prompt, it prints what the page does not show:",
        "+41",
        "/ block #6: pasted at the python prompt, it prints what the page does not show:\n"
        "--- on the page\n+++ printed at the prompt\n@@ -0,0 +1 @@\n+shown",
    )
    assert len(problems) == 4, problems


def test_layout(broken: Any, browser: Any) -> None:
    """At a desktop width the long code, the covered text and the wide figure are reported (the
    shadowed box too: nothing may scroll there); at a phone width only what lacks its shadows
    or its hint is reported."""
    base, _ = broken

    def measure(width: int) -> list[layout.Layout]:
        return layout.measure(browser, base, ["/layout/", "/good/"], {"width": width, "height": 800})

    desktop = layout.desktop_problems(measure(1280))
    _only_about(
        desktop,
        '/layout/ at 1280px: code block "x = 1 # a long line',
        '/layout/ at 1280px: code block "y = 2 # another long line',
        "/layout/ at 1280px: a copy button covers text: code block",
        '/layout/ at 1280px: figure "" is',
    )
    phone = layout.phone_problems(measure(390))
    _only_about(
        phone,
        '/layout/ at 390px: code block "x = 1 # a long line a long line a long line a long" scrolls sideways',
        "without its scroll shadows",
        '/layout/ at 390px: figure "" scrolls sideways',
        "without saying so",
    )
    assert not [p for p in phone if "another long line" in p], phone


def test_axe(broken: Any, browser: Any) -> None:
    base, _ = broken
    runs = a11y.audit(
        browser, base, ["/", "/good/"], schemes=["light"], widths=["desktop"], math_timeout_ms=300
    )
    assert [r.version for r in runs] == [a11y.AXE_VERSION] * 2
    problems = a11y.check_axe(runs, material=False)
    _only_about(
        problems,
        "/ (light, desktop): color-contrast (serious), 1 element(s)",
        "insufficient color contrast of 2.84",
        "Faint grey text",
        "/ (light, desktop): link-in-text-block (serious)",
        "/ (light, desktop): scrollable-region-focusable (serious)",
        "/ (light, desktop): image-alt (critical)",
    )
    assert not [p for p in problems if p.startswith("/good/")], problems
    # Not a Material site: the scheme it shows is not the one asked for.
    assert "/good/ (light, desktop): Material shows scheme None, not 'default'" in a11y.check_axe(runs)
    assert "image-alt" in a11y.tally(runs) and a11y.tally(runs)["color-contrast"] == (1, 1)


def test_keyboard_and_scroll_boxes(broken: Any, browser: Any) -> None:
    base, _ = broken
    problems = a11y.check_keyboard(browser, base, "/good/", timeout_ms=500)
    text = "\n".join(problems)
    for expected in (
        "/good/: the first Tab does not focus a skip link",
        "/good/: the palette toggle cannot be reached with Tab",
        "/good/: the search box cannot be reached with Tab",
        "/good/: only 0 navigation link(s) reached with Tab",
        "/good/: a copy button cannot be reached with Tab",
        "/good/: a collapsed solution cannot be reached with Tab",
    ):
        assert expected in text, text
    problems, boxes = a11y.check_scroll_boxes(browser, base, "/", math_timeout_ms=300)
    assert boxes == 1
    assert "/ at 390px: a box that scrolls sideways is not focusable: <figure> 'a wide figure'" in problems
    # Chromium itself lets Tab reach a scroll box with nothing focusable inside ("keyboard-
    # focusable scrollers"), other browsers do not: what fails here is the missing tabindex.


def test_motion_and_zoom(broken: Any, browser: Any) -> None:
    base, _ = broken
    moving = a11y.check_reduced_motion(browser, base, ["/", "/good/"])
    assert moving == ['/: <span class="">: animation spin 2s'], moving
    _only_about(
        a11y.check_zoom(browser, base, ["/", "/good/"], math_timeout_ms=300),
        "/ at 640x450: the page scrolls sideways (content 20",
        '/ at 640x450: <span class=""> cut off by <div class="">: text cut off by its',
    )
