"""What every route shares: ownership (another user's task is a 404 everywhere), the 401/404/405/500
envelopes, and the routes that need no token."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from local.token import make_token
from tests.fixtures.tokens import JWT_SECRET
from tests.integration.api_harness import BASE, MISSING_VIDEO_ID, OTHER_USER, Api, media_objects
from videotasks.adapters.store.tasks import TaskRepository

pytest_plugins = ["tests.integration.api_fixtures"]

TASK_ROUTES = ["GET {base}/tasks/{id}", "GET {base}/tasks/{id}/content", "POST {base}/tasks/{id}/cancel"]
ALL_AUTHORISED_ROUTES = [*TASK_ROUTES, "POST {base}/tasks", "GET {base}/tasks", "GET {base}/stats"]


def _call(api: Api, route: str, video_id: str = MISSING_VIDEO_ID):
    method, path = route.format(base=BASE, id=video_id).split(" ")
    body: dict[str, Any] | None = {"prompt": "x"} if method == "POST" else None
    if path.endswith("/batch"):
        body = {"tasks": [body]}
    return api.call(method, path, body=body)


# -- ownership ------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", TASK_ROUTES)
@pytest.mark.parametrize("state", ["QUEUED", "COMPLETED"])
def test_another_users_task_is_a_404_on_every_route_like_a_missing_one(
    api: Api, steps, aws_stack, counters, route, state
):
    video_id = api.create_id()
    if state == "COMPLETED":
        steps.complete(video_id)
    before = (aws_stack.stored(video_id), counters(), media_objects(aws_stack, video_id))
    intruder = api.as_user(OTHER_USER)

    reply = _call(intruder, route, video_id)
    missing = _call(intruder, route, MISSING_VIDEO_ID)

    reply.error(404, "NOT_FOUND")
    assert reply.body == json.loads(json.dumps(missing.body).replace(MISSING_VIDEO_ID, video_id))
    assert (aws_stack.stored(video_id), counters(), media_objects(aws_stack, video_id)) == before
    assert api.get(video_id).data["status"] == state


def test_another_users_tasks_are_neither_listed_nor_counted(api: Api):
    video_id = api.create_id()
    intruder = api.as_user(OTHER_USER)

    assert video_id not in [item["videoId"] for item in intruder.list().data["items"]]
    assert intruder.list(status="QUEUED").data["items"] == []
    assert intruder.stats().data["total"] == 0


def test_the_owner_can_still_cancel_after_someone_else_tried(api: Api, aws_stack):
    video_id = api.create_id()
    api.as_user(OTHER_USER).cancel(video_id).error(404, "NOT_FOUND")

    assert aws_stack.execution(video_id)["status"] == "RUNNING"
    assert api.cancel(video_id).data["status"] == "CANCELLED"


# -- no token ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("route", ALL_AUTHORISED_ROUTES)
def test_an_authorised_route_without_a_user_is_a_401_envelope_and_writes_nothing(api: Api, aws_stack, route):
    video_id = api.create_id()
    before = aws_stack.stored(video_id)

    reply = _call(api.as_user(None), route, video_id)

    reply.error(401, "UNAUTHORIZED")
    assert aws_stack.stored(video_id) == before


@pytest.mark.parametrize("route", ALL_AUTHORISED_ROUTES)
def test_an_expired_token_is_a_401_naming_why(api: Api, route):
    method, path = route.format(base=BASE, id=MISSING_VIDEO_ID).split(" ")
    expired = make_token("alice", JWT_SECRET, ttl_seconds=-3600)
    event = api.event(method, path, headers={"authorization": f"Bearer {expired}"})

    result = api.send(event)

    body = json.loads(result["body"])
    assert result["statusCode"] == 401
    expired = {"code": "UNAUTHORIZED", "message": "Token expired"}
    assert body == {"success": False, "message": "Token expired", "error": expired}


def test_health_answers_without_a_token(api: Api):
    reply = api.as_user(None).call("GET", f"{BASE}/health")

    assert reply.status == 200, reply.body
    assert reply.data["status"] == "ok"


def test_openapi_document_lists_every_route_without_a_token(api: Api):
    reply = api.as_user(None).call("GET", f"{BASE}/openapi.json")

    assert reply.status == 200
    paths = reply.body["paths"]
    assert {f"{BASE}/tasks", f"{BASE}/tasks/{{videoId}}", f"{BASE}/tasks/{{videoId}}/cancel", f"{BASE}/stats"} <= set(
        paths
    )
    assert {"get", "post"} <= set(paths[f"{BASE}/tasks"])


def test_docs_serve_swagger_ui_without_a_token(api: Api):
    event = api.as_user(None).event("GET", f"{BASE}/docs")

    result = api.send(event)

    assert result["statusCode"] == 200
    assert "text/html" in result["headers"]["Content-Type"]
    assert "swagger" in result["body"].lower()


# -- unknown routes and wrong methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"{BASE}/nothing-here"),
        ("GET", f"{BASE}/taskss"),
        ("POST", f"{BASE}/unknown"),
        ("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}/thumbnail"),
        ("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}/content/extra"),
    ],
)
def test_an_unknown_route_is_a_404_envelope(api: Api, method, path):
    reply = api.call(method, path)

    reply.error(404, "NOT_FOUND")
    assert path in reply.body["message"]


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", f"{BASE}/tasks/{MISSING_VIDEO_ID}/cancel"),
        ("PUT", f"{BASE}/tasks"),
        ("DELETE", f"{BASE}/tasks"),
        ("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}/cancel"),
        ("POST", f"{BASE}/tasks/{MISSING_VIDEO_ID}/content"),
        ("PATCH", f"{BASE}/tasks/{MISSING_VIDEO_ID}"),
        ("POST", f"{BASE}/stats"),
        ("POST", f"{BASE}/health"),
    ],
)
def test_a_known_path_with_a_wrong_method_is_a_405_envelope_and_writes_nothing(api: Api, aws_stack, method, path):
    reply = api.call(method, path, body={"prompt": "x"})

    reply.error(405, "METHOD_NOT_ALLOWED")
    assert method in reply.body["message"]
    assert aws_stack.table("TASKS_TABLE").scan(Select="COUNT")["Count"] == 0


# -- 500: the envelope and nothing else ---------------------------------------------------------------------

SECRET_DETAIL = "arn:aws:dynamodb:us-east-1:123456789012:table/secret-table key=sk-live-1234"
INTERNAL = {"success": False, "message": "Internal error", "error": {"code": "INTERNAL", "message": "Internal error"}}


@pytest.mark.parametrize(
    "failure",
    [
        RuntimeError(f"boom {SECRET_DETAIL}"),
        ClientError({"Error": {"Code": "AccessDeniedException", "Message": SECRET_DETAIL}}, "GetItem"),
    ],
    ids=["runtime-error", "aws-error"],
)
@pytest.mark.parametrize(
    ("route", "broken"),
    [
        ("GET {base}/tasks/{id}", "get"),
        ("GET {base}/tasks/{id}/content", "get"),
        ("POST {base}/tasks/{id}/cancel", "get"),
        ("GET {base}/tasks", "total_matching"),
        ("GET {base}/tasks", "list_owned"),
        ("GET {base}/stats", "get_counters"),
        ("POST {base}/tasks", "create_many"),
        ("POST {base}/tasks/batch", "create_many"),
        ("GET {base}/usage", "usage"),
    ],
)
def test_an_unexpected_failure_is_a_500_envelope_that_leaks_nothing(api: Api, monkeypatch, route, broken, failure):
    def fail(*args, **kwargs):
        raise failure

    monkeypatch.setattr(TaskRepository, broken, fail)

    reply = _call(api, route)

    assert reply.status == 500
    assert reply.body == INTERNAL
    assert reply.headers["Content-Type"] == "application/json"
