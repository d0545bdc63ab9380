"""Writes the API's OpenAPI document to docs/openapi.json (`make openapi`); a test fails on drift."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DOCUMENT_PATH = ROOT / "docs" / "openapi.json"


@functools.cache
def api_module() -> Any:
    """functions/api/app.py, loaded once: its resolver (``app``) and route table (``ROUTES``)."""
    spec = importlib.util.spec_from_file_location("_api_for_openapi", ROOT / "functions" / "api" / "app.py")
    assert spec
    assert spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def current_document() -> dict[str, Any]:
    from videotasks.edge import openapi

    return dict(json.loads(openapi.render(api_module().app)))


def render(document: dict[str, Any]) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=False) + "\n"


def main() -> None:
    DOCUMENT_PATH.write_text(render(current_document()), encoding="utf-8")
    print(f"wrote {DOCUMENT_PATH.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
