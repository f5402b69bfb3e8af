"""Jupyter configuration read when mkdocs-jupyter executes a notebook page.

src/primer_site/plugin.py puts this folder on JUPYTER_CONFIG_PATH. The kernel talks to the build over local IPC sockets (files
in the temporary folder, removed when the kernel stops) instead of TCP ports on 127.0.0.1: no
port is opened, and the kernel has no reason to print "Kernel is running over TCP without
encryption" four times per build.
"""

import os
import tempfile

c = get_config()  # noqa: F821 - provided by traitlets when it reads this file
c.KernelManager.transport = "ipc"
c.KernelManager.ip = os.path.join(tempfile.gettempdir(), f"transformer-primer-kernel-{os.getpid()}")
