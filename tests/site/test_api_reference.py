"""The API reference (docs/reference/, rendered by mkdocstrings) is complete and linked.

- every name in a documented module's ``__all__`` has its entry (an element with its dotted
  path as id), the notebook's undocumented sketch included;
- every public class's ``__call__`` (how a layer is used) has its entry;
- a type of the package named in a signature links to its entry: mkdocstrings leaves a
  name it could not resolve as ``<span title="transformer_primer....">``.
"""

from __future__ import annotations

import importlib
import inspect
import re
from pathlib import Path

import pytest

from primer_site import ROOT as ROOT_DIR

ROOT = ROOT_DIR
PAGES = sorted((ROOT / "docs" / "reference").glob("*.md"))
MODULES = {
    page.stem: match[1]
    for page in PAGES
    if (match := re.search(r"^::: (transformer_primer\.\w+)$", page.read_text(encoding="utf-8"), re.M))
}


def html_of(site: Path, page: str) -> str:
    return (site / "reference" / page / "index.html").read_text(encoding="utf-8")


def ids(html: str) -> set[str]:
    return set(re.findall(r'\bid="(transformer_primer\.[\w.]+)"', html))


def expected_entries(module_name: str) -> list[str]:
    module = importlib.import_module(module_name)
    names = [f"{module_name}.{name}" for name in module.__all__]
    for name in module.__all__:
        obj = getattr(module, name)
        if inspect.isclass(obj) and "__call__" in vars(obj):
            names.append(f"{module_name}.{name}.__call__")
    return names


def test_every_module_has_a_reference_page() -> None:
    import transformer_primer

    package = Path(transformer_primer.__file__).parent
    modules = {p.stem for p in package.glob("*.py")} - {"__init__", "__main__"}
    public = {m for m in modules if not m.startswith("_")}
    assert public == set(MODULES), f"modules without a page: {public - set(MODULES)}"


@pytest.mark.parametrize("page", sorted(MODULES))
def test_every_public_name_and_call_is_documented(page: str, built_site: tuple[Path, str]) -> None:
    found = ids(html_of(built_site[0], page))
    missing = [name for name in expected_entries(MODULES[page]) if name not in found]
    assert not missing, f"reference/{page}: no entry for {missing}"


def test_package_types_in_signatures_link_to_their_entries(built_site: tuple[Path, str]) -> None:
    site = built_site[0]
    documented = set().union(*(ids(html_of(site, page)) for page in MODULES))
    unlinked = set()
    for page in MODULES:
        for signature in re.findall(r'doc-signature highlight">(.*?)</pre>', html_of(site, page), re.S):
            unlinked |= {
                f"{page}: {t}"
                for t in re.findall(r'<span title="(transformer_primer\.[\w.]+)"', signature)
                if t in documented
            }
    assert not unlinked, sorted(unlinked)
    grad = html_of(site, "grad")
    assert 'href="../attention/#transformer_primer.attention.MultiHeadAttention"' in grad
