"""docs/openapi.json is the served document: regenerate it with `make openapi` when the API changes."""

from __future__ import annotations

import json

from local.openapi_export import DOCUMENT_PATH, current_document, render


def test_committed_openapi_document_matches_the_code():
    committed = DOCUMENT_PATH.read_text(encoding="utf-8")
    assert committed == render(current_document()), "docs/openapi.json is stale: run `make openapi` and commit it"


def test_openapi_document_lists_every_route_of_the_contract():
    paths = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))["paths"]
    expected = {
        ("post", "/api/video/tasks"),
        ("get", "/api/video/tasks"),
        ("get", "/api/video/tasks/{videoId}"),
        ("get", "/api/video/tasks/{videoId}/content"),
        ("post", "/api/video/tasks/{videoId}/cancel"),
        ("get", "/api/video/stats"),
        ("get", "/api/video/health"),
    }
    documented = {(method, path) for path, operations in paths.items() for method in operations}
    assert expected <= documented


def test_document_declares_bearer_jwt_auth():
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    assert document["security"] == [{"bearerAuth": []}]
    assert document["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
