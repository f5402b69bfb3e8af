"""The MkDocs plugin that builds the site from the package: ``plugins: - primer`` in mkdocs.yml.

It wires the site's tools into the build, event by event:

- ``on_config``: notebook pages are executed with the Jupyter configuration in
  ``primer_site/jupyter`` (first on ``JUPYTER_CONFIG_PATH``), so the kernel talks over local
  IPC sockets rather than TCP ports, and does not print "Kernel is running over TCP without
  encryption" four times per build;
- ``on_files``: every figure (``figures``, ``bench_page``) is drawn and added to the build as
  ``figures/<name>.svg`` (``File.generated``: nothing is written into ``docs/``);
- ``on_page_markdown``: every code include of the page is checked to come from ``src/``
  (``sections.source_file``); the glossary's abbreviations are appended; the
  ``<!-- bench: NAME -->``, ``<!-- vs-torch: NAME -->``, ``<!-- refusals: NAME -->``,
  ``<!-- extrapolation: NAME -->``, ``<!-- regularization: NAME -->`` and
  ``<!-- norms: NAME -->`` lines are replaced by the tables generated from
  ``bench/results.json``, ``bench/torch/*.json``, the table of refused inputs,
  ``bench/extrapolation.json``, ``bench/regularization.json`` and ``bench/norms.json``;
- ``on_page_content``: each figure gets its box, hover grids, numbers and alt text
  (``figure_kit.wrap_figures``); glossary terms get their tooltips;
- ``on_post_build``: every lesson is written as a notebook beside its page
  (``lesson_notebooks``), which the page's download button (``overrides/main.html``) links.

It is registered by the project's ``pyproject.toml`` (``[project.entry-points."mkdocs.plugins"]``).
"""

from __future__ import annotations

import os
from pathlib import Path

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.plugins import BasePlugin
from mkdocs.structure.files import File, Files
from mkdocs.structure.pages import Page

from . import (
    bench_extrapolation,
    bench_norms,
    bench_page,
    bench_regularization,
    bench_report,
    bench_torch,
    figures,
    glossary,
    lesson_notebooks,
    refusals,
)
from .figure_kit import Drawn, wrap_figures
from .sections import includes, source_file

JUPYTER_CONFIG = Path(__file__).resolve().parent / "jupyter"


class PrimerPlugin(BasePlugin):  # type: ignore[type-arg]  # MkDocs' BasePlugin takes a config class
    """Figures, generated tables, the glossary and the include policy, in one build."""

    def __init__(self) -> None:
        self.drawn: dict[str, Drawn] = {}

    def on_config(self, config: MkDocsConfig) -> MkDocsConfig:
        """Put ``primer_site/jupyter`` first on the Jupyter configuration path."""
        paths = [
            str(JUPYTER_CONFIG),
            *filter(None, os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep)),
        ]
        os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(dict.fromkeys(paths))
        return config

    def on_files(self, files: Files, *, config: MkDocsConfig) -> Files:
        """Draw every figure and add it to the build as ``figures/<name>.svg``."""
        self.drawn = figures.render_drawn()
        svgs = {name: drawn.svg for name, drawn in self.drawn.items()}
        svgs.update(bench_page.render_figures(bench_report.load()))
        for name, svg in svgs.items():
            files.append(File.generated(config, f"figures/{name}", content=svg))
        return files

    def on_page_markdown(self, markdown: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Check the page's includes; generated tables and the glossary's abbreviations in."""
        for ref in includes(markdown):
            try:
                source_file(ref.partition(":")[0])
            except ValueError as err:
                raise ValueError(f"{page.file.src_uri}: {err}") from None
        if bench_page.MARKER.search(markdown):
            markdown = bench_page.render(markdown, bench_report.load())
        if bench_torch.MARKER.search(markdown):
            markdown = bench_torch.render(markdown, bench_torch.load_all())
        markdown = refusals.render(markdown)
        markdown = bench_extrapolation.render(markdown)  # <!-- extrapolation: ... --> (positions page)
        markdown = bench_regularization.render(markdown)
        markdown = bench_norms.render(markdown)  # <!-- norms: NAME -->, from bench/norms.json
        if page.file.abs_src_path and Path(page.file.abs_src_path) in lesson_notebooks.lesson_pages():
            page.meta["notebook"] = lesson_notebooks.notebook_name(Path(page.file.abs_src_path))
        return glossary.add_abbreviations(markdown, page.file.src_uri)

    def on_page_content(self, html: str, *, page: Page, config: MkDocsConfig, files: Files) -> str:
        """Figures in their boxes with their numbers; tooltips on glossary terms."""
        return glossary.add_tooltips(wrap_figures(html, self.drawn), page.file.src_uri)

    def on_post_build(self, *, config: MkDocsConfig) -> None:
        """Write each lesson's notebook beside its page, its links under the site's address."""
        for page in lesson_notebooks.lesson_pages():
            target = Path(config.site_dir) / lesson_notebooks.site_path(page)
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(lesson_notebooks.build(page, config.site_url or ""), encoding="utf-8")
