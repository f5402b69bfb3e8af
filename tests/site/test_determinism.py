"""Every page trace is the same whatever the BLAS threads and OpenBLAS settings.

``src/primer_site/traces.py`` (the trace check) runs in fresh interpreters: on one thread, on two,
and with ``OPENBLAS_CORETYPE``/``OPENBLAS_L2_SIZE`` removed from the environment (they are
set on some of these machines for old OpenBLAS builds and change which kernel runs). Each
run must find every trace equal to its page, so all runs print the same thing.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from primer_site import ROOT as ROOT_DIR

ROOT = ROOT_DIR
THREADS = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
OPENBLAS_TUNING = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")


def environment(threads: int | None, drop_tuning: bool) -> dict[str, str]:
    env = dict(os.environ)
    if threads is not None:
        env.update({name: str(threads) for name in THREADS})
    if drop_tuning:
        for name in OPENBLAS_TUNING:
            env.pop(name, None)
    return env


VARIANTS = {
    "1 thread": environment(1, drop_tuning=False),
    "2 threads": environment(2, drop_tuning=False),
    "OpenBLAS tuning variables removed": environment(None, drop_tuning=True),
}


@pytest.mark.slow
def test_traces_are_identical_across_threads_and_openblas_settings() -> None:
    runs = {  # started together: the machine's two cores run them side by side; three runs in all
        name: subprocess.Popen(
            [sys.executable, "-m", "primer_site.traces"],
            cwd=ROOT,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for name, env in VARIANTS.items()
    }
    printed = {name: process.communicate(timeout=300)[0] for name, process in runs.items()}
    for name, process in runs.items():
        assert process.returncode == 0, f"trace check failed with {name}:\n{printed[name]}"
    first = printed["1 thread"]
    assert "0 differ" in first and "trace(s) checked" in first
    for name, out in printed.items():
        assert out == first, f"{name} printed differently from 1 thread:\n{out}"


def test_the_variants_really_differ() -> None:
    # Guards the test above against comparing one environment with itself.
    assert VARIANTS["1 thread"]["OMP_NUM_THREADS"] == "1"
    assert VARIANTS["2 threads"]["OPENBLAS_NUM_THREADS"] == "2"
    assert not any(name in VARIANTS["OpenBLAS tuning variables removed"] for name in OPENBLAS_TUNING)
