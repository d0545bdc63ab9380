"""The third-party internals we lean on, one module per library, against the installed (pinned) versions.

Each module lists what it uses in ``relied_on()``; when an upgrade renames, removes or re-signs any of it, this
fails and names the pin to hold back (or the module to adapt), before a patch silently stops applying.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import inspect
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]
INTERNALS_MODULES = (
    "local.moto_seam",
    "local.botocore_internals",
    "videotasks.adapters.powertools_internals",
    "videotasks.edge.openapi",
)


def _load(name: str) -> ModuleType:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        pytest.fail(f"{name} no longer imports ({error}): a library it leans on moved; check the pins it names")


def _pin_line(module: ModuleType) -> str:
    requirements, distribution = module.PIN
    for line in (ROOT / requirements).read_text(encoding="utf-8").splitlines():
        if re.match(rf"{re.escape(distribution)}(\[[^]]*\])?\s*[=<>!~]", line.strip(), re.IGNORECASE):
            return line.strip()
    pytest.fail(f"{module.__name__} names {distribution} in {requirements}, which does not list it")


@pytest.mark.parametrize("name", INTERNALS_MODULES)
def test_the_library_is_pinned_exactly_to_the_installed_version(name: str) -> None:
    module = _load(name)
    requirements, distribution = module.PIN
    line = _pin_line(module)
    pinned = line.partition("==")[2].split()[0] if "==" in line else None
    installed = importlib.metadata.version(distribution)

    assert pinned == installed, (
        f"{name} leans on {distribution} internals, so {requirements} must pin it exactly to the version the "
        f"tests run: it says {line!r}, {installed} is installed"
    )


@pytest.mark.parametrize("name", INTERNALS_MODULES)
def test_every_internal_we_lean_on_is_still_there(name: str) -> None:
    module = _load(name)
    requirements, _ = module.PIN
    moved = []
    for owner, attribute, parameters in module.relied_on():
        where = f"{getattr(owner, '__name__', type(owner).__name__)}.{attribute}"
        if not hasattr(owner, attribute):
            moved.append(f"{where} is gone")
        elif parameters is not None:
            actual = tuple(inspect.signature(getattr(owner, attribute)).parameters)
            if actual[: len(parameters)] != parameters:
                moved.append(f"{where} takes {actual}, not {parameters}")

    assert not moved, (
        f"{name} patches internals that moved: {'; '.join(moved)}. Check the pin {_pin_line(module)!r} in "
        f"{requirements} (did an upgrade change it?) and adapt {name} before changing it."
    )
