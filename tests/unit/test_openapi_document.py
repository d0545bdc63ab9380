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


def test_document_is_valid_openapi():
    from openapi_spec_validator import validate

    validate(json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")))


def test_every_operation_documents_its_success_schema_and_never_a_422():
    paths = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            successes = [status for status in responses if status.startswith("2")]
            assert successes, (method, path)
            for status in successes:
                assert "$ref" in json.dumps(responses[status]["content"]["application/json"]["schema"]), (method, path)
            assert {"405", "500"} <= set(responses), (method, path)


def test_create_documents_201_200_and_the_old_clients_aliases():
    document = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    create = document["paths"]["/api/video/tasks"]["post"]
    assert {"201", "200", "429"} <= set(create["responses"])
    properties = document["components"]["schemas"]["CreateTaskRequest"]["properties"]
    assert {"duration", "aspectRatio", "referenceImage", "mediaType"} <= set(properties)
