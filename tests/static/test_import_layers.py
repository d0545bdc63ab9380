"""The import direction docs/ARCHITECTURE.md draws holds in the code (see tests/static/import_layers.py)."""

from __future__ import annotations

import pytest

from tests.static.import_layers import LAYERS, PACKAGE, Import, all_imports, check, imports_in, violations


def test_no_module_imports_a_higher_layer() -> None:
    found = violations()
    assert not found, "imports against the layering:\n" + "\n".join(map(str, found))


def test_every_package_folder_is_a_known_layer() -> None:
    folders = {path.name for path in PACKAGE.iterdir() if path.is_dir() and not path.name.startswith("__")}
    modules = {path.stem for path in PACKAGE.glob("*.py") if path.stem != "__init__"}
    assert folders | modules <= set(LAYERS), f"place {sorted((folders | modules) - set(LAYERS))} in a layer"


def test_the_check_sees_every_module() -> None:
    importers = {imp.module.split(".")[1] for imp in all_imports() if imp.module.startswith("videotasks.")}
    assert {"domain", "adapters", "services", "edge", "wiring"} <= importers


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("videotasks.domain.models", "from videotasks.adapters.store.tasks import TaskRepository"),
        ("videotasks.domain.models", "import boto3"),
        ("videotasks.domain.models", "import httpx"),
        ("videotasks.domain.models", "from aws_lambda_powertools import Logger"),
        ("videotasks.domain.models", "import socket"),
        ("videotasks.settings", "from videotasks.domain.models import Task"),
        ("videotasks.adapters.media", "from videotasks.services.tasks import TaskService"),
        ("videotasks.adapters.store.tasks", "def later():\n    from videotasks.edge import envelope"),
        ("videotasks.services.tasks", "from videotasks import wiring"),
        ("videotasks.services.workflow", "from ..edge.envelope import success"),
        ("functions.api.app", "import boto3"),
    ],
)
def test_the_check_refuses_an_import_against_the_direction(module: str, source: str) -> None:
    refused = [found for imp in imports_in(source, module) if (found := check(imp)) is not None]
    assert refused, f"{module} importing {source!r} should break the layering"


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("videotasks.domain.requests", "from videotasks.settings import Settings"),
        ("videotasks.domain.models", "from pydantic import BaseModel\nimport json, hashlib"),
        ("videotasks.adapters.store.tasks", "from videotasks.domain.models import Task\nimport boto3"),
        ("videotasks.services.tasks", "from videotasks.adapters.media import MediaStore"),
        ("videotasks.edge.auth", "from videotasks.adapters.secrets import get_secret"),
        ("videotasks.wiring", "from videotasks.services.tasks import TaskService"),
        ("functions.api.app", "from videotasks import wiring"),
    ],
)
def test_the_check_allows_an_import_along_the_direction(module: str, source: str) -> None:
    assert [check(imp) for imp in imports_in(source, module)] == [None] * len(list(imports_in(source, module)))


def test_relative_imports_resolve_against_the_importing_package() -> None:
    (imp,) = imports_in("from ..domain import models", "videotasks.services.workflow")
    assert imp == Import("videotasks.services.workflow", "videotasks.domain", 1)
