"""GET /api/video/models: what a user may request, from the catalog, in the contract's shape."""

from __future__ import annotations

from tests.integration.api_harness import BASE, Api
from videotasks.adapters.providers import ShapeUnavailableError, shape_capabilities
from videotasks.domain.catalog import load_document
from videotasks.domain.models import TaskType
from videotasks.domain.requests import CreateTaskRequest

pytest_plugins = ["tests.integration.api_fixtures"]

CAPABILITIES = {"webhook", "cancel", "remix", "progress"}


def available(shape: str) -> bool:
    try:
        shape_capabilities(shape)
    except ShapeUnavailableError:
        return False
    return True


def test_models_lists_the_catalogs_offered_models_in_the_contract_shape(api: Api) -> None:
    reply = api.call("GET", f"{BASE}/models")

    assert reply.status == 200, reply.body
    document = load_document()
    assert reply.data["default"] == document.default
    items = {item["id"]: item for item in reply.data["items"]}
    expected = {
        model.id
        for model in document.models
        if not model.retired and available(document.providers[model.provider].shape)
    }
    assert set(items) == expected
    for item in items.values():
        assert set(item) >= {"id", "provider", "type", "seconds", "sizes", "capabilities"}
        assert item["type"] in {"VIDEO", "IMAGE"}
        assert set(item["capabilities"]) == CAPABILITIES
        assert all(isinstance(value, bool) for value in item["capabilities"].values())
    assert "sora-2" not in items and "sora-2-pro" not in items
    assert items["sora_video2"]["capabilities"] == {"webhook": False, "cancel": True, "remix": True, "progress": True}
    assert items["gpt-image-1"]["seconds"] == []


def test_every_listed_choice_is_accepted_by_create(api: Api) -> None:
    for item in api.call("GET", f"{BASE}/models").data["items"]:
        for size in item["sizes"]:
            seconds = item["seconds"][-1] if item["seconds"] else None
            body = {"prompt": "x", "model": item["id"], "type": item["type"], "size": size, "seconds": seconds}
            CreateTaskRequest.model_validate(body)  # the body parses; the catalog decides the rest
        reply = api.create(model=item["id"], type=item["type"])
        assert reply.status == 201, (item["id"], reply.body)
        assert reply.data["type"] == TaskType(item["type"]).value


def test_models_needs_a_token(api: Api) -> None:
    reply = api.as_user(None).call("GET", f"{BASE}/models")

    reply.error(401, "UNAUTHORIZED")


def test_models_answers_405_to_another_method(api: Api) -> None:
    reply = api.call("POST", f"{BASE}/models")

    reply.error(405, "METHOD_NOT_ALLOWED")
