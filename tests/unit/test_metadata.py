"""The package's metadata: one version, an MIT license shipped as a file, a changelog entry."""

from __future__ import annotations

import tomllib
from pathlib import Path

import transformer_primer

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]


def test_one_version_everywhere() -> None:
    assert transformer_primer.__version__ == PROJECT["version"]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert f"## {PROJECT['version']} " in changelog, "the changelog has no entry for this version"


def test_the_license_is_declared_and_shipped() -> None:
    assert PROJECT["license"] == "MIT" and PROJECT["license-files"] == ["LICENSE"]
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert text.startswith("MIT License") and "Permission is hereby granted, free of charge" in text


def test_the_python_classifiers_match_requires_python() -> None:
    minor = [
        c.rsplit(".", 1)[1]
        for c in PROJECT["classifiers"]
        if c.startswith("Programming Language :: Python :: 3.")
    ]
    assert PROJECT["requires-python"] == f">=3.{min(map(int, minor))}"
