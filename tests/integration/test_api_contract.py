"""Replies against docs/openapi.json. Every reply of the integration tests is checked by the harness
(``Api.call``); these make sure that check can fail, and cover the API's root, which only its own route
hands to the function."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.api_harness import BASE, MISSING_VIDEO_ID, Api, contract_problem

pytest_plugins = ["tests.integration.api_fixtures"]


@pytest.mark.parametrize("method", ["GET", "POST", "DELETE"])
def test_the_api_root_answers_a_404_in_the_envelope(api: Api, method: str):
    event = api.event(method, BASE)
    assert event["routeKey"] == f"ANY {BASE}"  # the template's own route, not API Gateway's bare 404

    reply = api.call(method, BASE)

    reply.error(404, "NOT_FOUND")
    assert BASE in reply.body["message"]


def test_the_api_root_without_a_token_is_a_401_in_the_envelope(api: Api):
    api.as_user(None).call("GET", BASE).error(401, "UNAUTHORIZED")


def test_real_replies_of_each_kind_match_the_document(api: Api):
    video_id = api.create_id()
    assert api.get(video_id).status == 200
    assert api.list(limit=1).status == 200
    assert api.list(page=1, pageSize=1).status == 200
    assert api.stats().status == 200
    assert api.call("GET", f"{BASE}/models").status == 200
    assert api.cancel(video_id).status == 200
    api.content(video_id).error(409, "CONFLICT")
    api.get(MISSING_VIDEO_ID).error(404, "NOT_FOUND")


def _task() -> dict[str, Any]:
    task: dict[str, Any] = {
        "videoId": MISSING_VIDEO_ID,
        "externalVideoId": None,
        "externalTaskId": None,
        "type": "VIDEO",
        "status": "QUEUED",
        "progress": 0,
        "prompt": "p",
        "model": "m",
        "seconds": 4,
        "size": "720x1280",
        "inputReference": None,
        "clientRequestId": None,
        "providerStatus": None,
        "error": None,
        "metadata": {"externalTaskId": None, "createdAt": 1},
        "createdAt": "2026-01-01T00:00:00Z",
        "updatedAt": "2026-01-01T00:00:00Z",
        "completedAt": None,
        "videoUrl": None,
        "posterUrl": None,
        "startedAt": None,
        "finishedAt": None,
        "retryOf": None,
        "remixOf": None,
        "callbackUrl": None,
        "callbackEvents": None,
        "priority": "normal",
        "queuePosition": None,
    }
    return {**task, "success": True, "data": task}


GET_TASK = f"GET {BASE}/tasks/{{videoId}}"


def test_the_contract_check_accepts_a_task_as_documented():
    assert contract_problem(GET_TASK, 200, _task()) is None


@pytest.mark.parametrize(
    ("status", "change", "verdict"),
    [
        (200, lambda body: body.pop("videoUrl"), "'videoUrl' is a required property"),
        (200, lambda body: body.update(extra=1), "Additional properties"),
        (200, lambda body: body["data"].update(status="queued"), "is not one of"),
        (200, lambda body: body.update(success=False), "True was expected"),
        (409, lambda body: None, "does not document"),
        (422, lambda body: None, "does not document"),
    ],
)
def test_the_contract_check_flags_replies_the_document_does_not_allow(status: int, change: Any, verdict: str):
    body = _task()
    change(body)

    problem = contract_problem(GET_TASK, status, body)

    assert problem is not None and verdict in problem, problem


def test_routes_outside_the_document_may_answer_only_the_envelope():
    assert contract_problem(f"ANY {BASE}/{{proxy+}}", 404, {"message": "Not Found"}) is not None
    envelope = {"success": False, "message": "m", "error": {"code": "NOT_FOUND", "message": "m"}}
    assert contract_problem(f"ANY {BASE}/{{proxy+}}", 404, envelope) is None
