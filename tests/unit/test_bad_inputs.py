"""Bad input at the public boundary: a clear ValueError/TypeError, raised by our code.

The table (``primer_site.refusals.CASES``, also shown on the site's reliability page) lists
wrong calls, the exception each must raise, and fragments its message must contain: the
parameter's name, what was expected and what was given. The error must come from
``transformer_primer`` itself, never from deep inside numpy.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import numpy as np
import pytest

import transformer_primer
from primer_site.refusals import CASES, Case
from transformer_primer import (
    attention,
    bpe,
    check,
    gpt,
    kernels,
    layers,
    masks,
    model,
    numerics,
    positional,
    rnn,
    trace,
)

PACKAGE = Path(transformer_primer.__file__).resolve().parent


def test_the_table_is_large_and_covers_every_core_module() -> None:
    assert len(CASES) >= 40
    assert len({c.name for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_gets_a_clear_error_from_our_code(case: Case) -> None:
    with pytest.raises(case.error) as info:
        case.call()
    message = str(info.value)
    missing = [fragment for fragment in case.says if fragment not in message]
    assert not missing, f"message {message!r} lacks {missing}"
    where = Path(info.traceback[-1].path).resolve()
    assert PACKAGE in where.parents, f"raised in {where}, not by transformer_primer: {message}"


def test_the_origin_check_catches_a_bare_numpy_error() -> None:
    # The same check on an unguarded numpy call must fail: it can tell the two apart.
    with pytest.raises(ValueError) as info:
        np.ones((2, 3)) @ np.ones((2, 3))
    assert PACKAGE not in Path(info.traceback[-1].path).resolve().parents


# --- every public function and class documents what it raises ------------------------------

MODULES = [numerics, masks, attention, kernels, positional, layers, model, gpt, rnn, trace, bpe, check]
NO_RAISES = {"DecodeStep", "attend"}  # a record of values; the unchecked core of the fast kernel


def public_objects() -> list[tuple[str, object]]:
    found = []
    for module in MODULES:
        for name in module.__all__:
            obj = getattr(module, name)
            if name not in NO_RAISES and (inspect.isfunction(obj) or inspect.isclass(obj)):
                found.append((f"{module.__name__}.{name}", obj))
    return found


@pytest.mark.parametrize(("name", "obj"), public_objects(), ids=[n for n, _ in public_objects()])
def test_public_docstring_has_a_raises_section(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj) or ""
    section = re.search(r"^Raises\n-{6}\n(?P<body>(?:.+\n?)+)", doc, re.M)
    assert section, f"{name} has no numpy-style Raises section"
    assert re.search(r"^(TypeError|ValueError)", section["body"], re.M), f"{name}: Raises names no error"
