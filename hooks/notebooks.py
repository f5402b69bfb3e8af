"""MkDocs hook: notebook pages are executed with this project's Jupyter configuration.

mkdocs-jupyter runs each notebook through nbconvert, which reads its configuration from the
folders on ``JUPYTER_CONFIG_PATH``; this hook puts ``hooks/jupyter`` first on that path when the
build starts, so the kernel talks over local IPC sockets rather than TCP (see the file there).
"""

from __future__ import annotations

import os
from pathlib import Path

CONFIG_DIR = Path(__file__).resolve().parent / "jupyter"


def on_config(config):  # noqa: ANN001, ANN201 - MkDocs hook signature
    """Put ``hooks/jupyter`` first on the Jupyter configuration path."""
    paths = [str(CONFIG_DIR), *filter(None, os.environ.get("JUPYTER_CONFIG_PATH", "").split(os.pathsep))]
    os.environ["JUPYTER_CONFIG_PATH"] = os.pathsep.join(dict.fromkeys(paths))
    return config
