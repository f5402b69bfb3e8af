"""The site's own tools: how Transformer Primer's pages are built and checked.

Not part of the library a learner uses (that is ``transformer_primer``): this package turns
the library's code into the site and proves the site true. It runs from the repository (an
editable install, as ``make`` does), whose root is :data:`ROOT`.

Modules, in the order data flows through them:

- ``sections``: the snippet sections of the code, as pages include them;
- ``traces``: runs each section as a reader pastes it, and checks or rewrites the printed
  traces on the pages (``python -m primer_site.traces [--update]``, ``make traces``);
- ``notebook``: the original notebook's page, generated from the lesson sections;
- ``lesson_notebooks``: every lesson page as a downloadable notebook, made at build time;
- ``figure_kit`` and ``figures``: the figures, drawn from the very sections whose traces
  the pages show, each declaring what it reads;
- ``glossary``: the Glossary page and the definitions shown on hover;
- ``bench_run``, ``bench_report``, ``bench_page``: the benchmark, its results file, and the
  page and figures made from it;
- ``refusals``: what the package refuses, the table the tests run and the reliability page
  shows;
- ``plugin``: the MkDocs plugin that wires all of it into the build (``plugins: - primer``);
- ``browser``: the real-browser checks of a built site; ``screenshots``.
"""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository: ``src/primer_site`` lies two levels below it."""
