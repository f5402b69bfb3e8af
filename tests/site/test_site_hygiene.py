"""Site hygiene: the strict build fails on each kind of breakage, and the pins are safe.

A throwaway MkDocs project is made in a temporary folder with this repository's own
settings (theme, plugins, Markdown extensions from mkdocs.yml; src/ reached through a
link). It builds clean as it is; then one thing at a time is broken, and the strict build
must fail, naming what broke:

- a snippet that includes a file that does not exist,
- a snippet that names a section the file does not have,
- a cross-reference to an object that does not exist,
- a notebook cell that raises,
- a link to a page that does not exist, or to an anchor that a page does not have.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from packaging.version import Version

from primer_site import ROOT as ROOT_DIR

ROOT = ROOT_DIR

# Security floors (see the comments in pyproject.toml).
FLOORS = {
    "mkdocs-material": Version("9.7.7"),  # XSS fix in search suggestions
    "pymdown-extensions": Version("11.0.1"),  # CVE-2026-46338 (snippets path traversal), advisories of 11.0.1
}


# --- the throwaway project ----------------------------------------------------------------


class Relative(str):
    """MkDocs' ``!relative`` YAML tag, kept as it is through a load and a dump."""


class Loader(yaml.SafeLoader):
    pass


class Dumper(yaml.SafeDumper):
    pass


class Env(list):
    """MkDocs' ``!ENV [NAME, default]`` YAML tag, kept as it is through a load and a dump."""


Loader.add_constructor("!relative", lambda loader, node: Relative(loader.construct_scalar(node)))
Dumper.add_representer(Relative, lambda dumper, value: dumper.represent_scalar("!relative", str(value)))
Loader.add_constructor("!ENV", lambda loader, node: Env(loader.construct_sequence(node)))
Dumper.add_representer(Env, lambda dumper, value: dumper.represent_sequence("!ENV", list(value)))

PAGE = """# Home

```python
--8<-- "{snippet}"
```

See [softmax][{target}] and [the numerics page]({link}).
"""
NOTEBOOK_CELL = "print(1 + 1)"


def notebook(source: str) -> str:
    cell = {
        "cell_type": "code",
        "execution_count": None,
        "id": "c0",
        "metadata": {},
        "outputs": [],
        "source": [source],
    }
    meta = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    return json.dumps({"cells": [cell], "metadata": meta, "nbformat": 4, "nbformat_minor": 5})


def make_project(
    folder: Path,
    *,
    snippet: str = "src/transformer_primer/numerics.py:softmax",
    target: str = "transformer_primer.numerics.softmax",
    link: str = "reference.md#numerics",
    cell: str | None = None,
) -> Path:
    """A tiny site with the repository's settings; returns its mkdocs.yml.

    Only the cases that are about notebooks get one: a kernel starting under load could
    otherwise abort a build before the breakage under test is reached (seen once).
    """
    config = yaml.load((ROOT / "mkdocs.yml").read_text(encoding="utf-8"), Loader=Loader)
    for key in ("hooks", "watch", "extra_css", "extra_javascript"):  # the repo's own pages need these
        config.pop(key, None)
    config["theme"]["custom_dir"] = str(ROOT / "overrides")
    config["nav"] = [{"Home": "index.md"}, {"Reference": "reference.md"}]
    if cell is not None:
        config["nav"].append({"Notebook": "nb.ipynb"})
    docs = folder / "docs"
    docs.mkdir(parents=True)
    (folder / "src").symlink_to(ROOT / "src", target_is_directory=True)
    (docs / "index.md").write_text(PAGE.format(snippet=snippet, target=target, link=link), encoding="utf-8")
    (docs / "reference.md").write_text("# numerics\n\n::: transformer_primer.numerics\n", encoding="utf-8")
    if cell is not None:
        (docs / "nb.ipynb").write_text(notebook(cell), encoding="utf-8")
    path = folder / "mkdocs.yml"
    path.write_text(yaml.dump(config, Dumper=Dumper, sort_keys=False), encoding="utf-8")
    return path


CASES = {
    "clean": ({"cell": NOTEBOOK_CELL}, None),
    "broken snippet": ({"snippet": "src/transformer_primer/no_such_file.py:softmax"}, "no_such_file.py"),
    "missing section": ({"snippet": "src/transformer_primer/numerics.py:no_such_section"}, "no_such_section"),
    "unknown cross-reference": (
        {"target": "transformer_primer.numerics.no_such_function"},
        "no_such_function",
    ),
    "notebook error": ({"cell": "raise RuntimeError('cell failed on purpose')"}, "cell failed on purpose"),
    "link to a missing page": ({"link": "no-such-page.md"}, "no-such-page.md"),
    "link to a missing anchor": ({"link": "reference.md#no-such-anchor"}, "no-such-anchor"),
}


@pytest.fixture(scope="module")
def builds(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[int, str]]:
    """Build every case side by side; return (exit code, log) for each."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    running = {}
    for name, (changes, _) in CASES.items():
        folder = tmp_path_factory.mktemp(name.replace(" ", "-"))
        config = make_project(folder, **changes)
        running[name] = subprocess.Popen(
            # No -q: it hides warnings from --strict (an unknown cross-reference then passes).
            [
                sys.executable,
                "-m",
                "mkdocs",
                "build",
                "--strict",
                "-f",
                str(config),
                "-d",
                str(folder / "site"),
            ],
            cwd=folder,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
    logs = {name: process.communicate(timeout=300)[0] for name, process in running.items()}
    return {name: (process.returncode, logs[name]) for name, process in running.items()}


@pytest.mark.slow
def test_the_throwaway_site_builds_clean_as_it_is(builds: dict[str, tuple[int, str]]) -> None:
    code, log = builds["clean"]
    assert code == 0, log  # so each failure below is the breakage, not the setup


@pytest.mark.slow
@pytest.mark.parametrize("case", [name for name in CASES if name != "clean"])
def test_the_strict_build_fails_on(case: str, builds: dict[str, tuple[int, str]]) -> None:
    code, log = builds[case]
    assert code != 0, f"the build passed despite a {case}:\n{log}"
    assert CASES[case][1] in log, f"the log does not name what broke ({CASES[case][1]!r}):\n{log}"


# --- dependency pins meet the security floors ---------------------------------------------


def pins(text: str) -> dict[str, Version]:
    found = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if "==" in line:
            name, version = line.split("==", 1)
            found[name.strip().lower().replace("_", "-")] = Version(version.strip())
    return found


def below_floor(text: str) -> list[str]:
    pinned = pins(text)
    return [
        f"{name} {pinned.get(name, 'unpinned')} < {floor}"
        for name, floor in FLOORS.items()
        if name not in pinned or pinned[name] < floor
    ]


def test_pinned_versions_meet_the_security_floors() -> None:
    assert below_floor((ROOT / "constraints.txt").read_text(encoding="utf-8")) == []


def test_the_floor_check_catches_an_old_pin() -> None:
    old = "mkdocs-material==9.7.6\npymdown_extensions==11.0.1  # a comment\n"
    assert below_floor(old) == ["mkdocs-material 9.7.6 < 9.7.7"]
    assert below_floor("pymdown-extensions==11.0.1\n") == ["mkdocs-material unpinned < 9.7.7"]
    assert below_floor("mkdocs-material==9.8.2\npymdown-extensions==10.21.3\n") == [
        "pymdown-extensions 10.21.3 < 11.0.1"
    ]


def test_the_ranges_in_pyproject_start_at_the_floors() -> None:
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for name, floor in FLOORS.items():
        assert f'"{name}>={floor}' in text, f"pyproject.toml lets {name} below {floor}"


def test_the_environment_runs_the_pinned_pip() -> None:
    """`make` replaces a new venv's pip (23.2 on these machines, with advisories) by the pin."""
    pinned = pins((ROOT / "constraints.txt").read_text(encoding="utf-8"))["pip"]
    assert pinned >= Version("25.3")
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        pytest.skip("not the project's .venv: its pip is not ours to check")
    from importlib.metadata import version

    assert Version(version("pip")) == pinned
