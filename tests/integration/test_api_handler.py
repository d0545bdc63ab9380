"""The API function invoked with payload 2.0 events (events/api_*.json) on moto built from template.yaml."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from videotasks.domain.ids import VIDEO_ID_PATTERN
from videotasks.domain.models import Task, TaskStatus

Invoke = Callable[[str, Any], Any]
ApiEvent = Callable[..., dict[str, Any]]
StoredTask = Callable[..., Task]

API = "ApiFunction"
UUID4_VIDEO_ID = re.compile(VIDEO_ID_PATTERN)


def call(invoke: Invoke, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    result = invoke(API, event)
    assert result["headers"]["Content-Type"].startswith("application/json")
    return result["statusCode"], json.loads(result["body"])


def assert_error(status: int, body: dict[str, Any], expected_status: int, code: str) -> str:
    """The error envelope; returns the message (the old frontend reads the top-level one)."""
    assert (status, body["success"], body["error"]["code"]) == (expected_status, False, code)
    assert body["message"] == body["error"]["message"]
    return str(body["message"])


# -- health -----------------------------------------------------------------------------------------


def test_health_answers_200_without_a_token(aws_stack: Any, invoke: Invoke, api_event: ApiEvent) -> None:
    status, body = call(invoke, api_event("api_health", user=None))

    assert status == 200
    assert body["success"] is True
    assert body["data"]["status"] == "ok"


# -- the sample events, as they are ---------------------------------------------------------------


def test_the_sample_create_event_makes_a_queued_task_and_starts_its_execution(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent
) -> None:
    status, body = call(invoke, api_event("api_create_task", user="dev-user"))

    assert status == 201
    assert body["success"] is True
    task = body["data"]
    assert UUID4_VIDEO_ID.match(task["videoId"])
    assert uuid.UUID(task["videoId"].removeprefix("video_")).version == 4
    assert (task["status"], task["progress"], task["externalVideoId"]) == ("QUEUED", 0, None)
    assert (task["model"], task["seconds"], task["size"]) == ("veo-3.1-fast", 8, "1280x720")
    execution = aws_stack.execution(task["videoId"])
    webhooks = "https://abcdef1234.execute-api.us-east-1.amazonaws.com/api/video/webhooks"  # the event's domainName
    assert (execution["status"], json.loads(execution["input"])) == (
        "RUNNING",
        {"videoId": task["videoId"], "webhookBase": webhooks},
    )
    assert execution["stateMachineArn"] == aws_stack.state_machine_arn


def test_the_sample_get_event_answers_the_callers_own_task(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, stored_task: StoredTask
) -> None:
    task = stored_task("dev-user", status=TaskStatus.PROCESSING)

    status, reply = call(invoke, api_event("api_get_task", video_id=task.videoId, user="dev-user"))

    assert status == 200
    assert (reply["data"]["videoId"], reply["data"]["status"]) == (task.videoId, "PROCESSING")
    assert reply["data"]["externalVideoId"] == reply["data"]["externalTaskId"] == "ext_1"


def test_another_users_task_is_a_404_that_reveals_nothing(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, stored_task: StoredTask
) -> None:
    task = stored_task("alice")

    status, reply = call(invoke, api_event("api_get_task", video_id=task.videoId, user="mallory"))

    assert_error(status, reply, 404, "NOT_FOUND")
    assert task.prompt not in json.dumps(reply)


# -- auth -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [(None, "Missing token"), ("Bearer not.a.jwt", "Invalid token"), ("Bearer", "Missing token")],
    ids=["missing", "invalid", "bearer-alone"],
)
def test_a_refused_token_is_a_401_envelope_naming_why(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, authorization: str | None, message: str
) -> None:
    event = api_event("api_create_task", user=None, authorization=authorization)

    status, reply = call(invoke, event)

    assert assert_error(status, reply, 401, "UNAUTHORIZED") == message
    assert aws_stack.counters("alice") == {}


def test_an_expired_token_is_refused_on_the_next_request(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, token: Callable[..., str]
) -> None:
    # Verified per request: nothing remembers that a token was good a moment ago.
    expired = f"Bearer {token('carol', ttl_seconds=-3600)}"

    status, reply = call(invoke, api_event("api_create_task", user=None, authorization=expired))

    assert assert_error(status, reply, 401, "UNAUTHORIZED") == "Token expired"


def test_a_request_with_a_valid_token_reaches_the_route_as_its_user(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, token: Callable[..., str]
) -> None:
    event = api_event("api_create_task", user=None, authorization=token("carol"))  # "Bearer " is optional

    status, reply = call(invoke, event)

    assert status == 201
    assert aws_stack.stored(reply["data"]["videoId"])["userId"] == "carol"


def test_an_authorizer_context_in_the_event_is_never_taken_for_a_user(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent
) -> None:
    # The HTTP API has no authorizer: only a verified token names the caller.
    event = api_event("api_create_task", user=None)
    event["requestContext"]["authorizer"] = {"lambda": {"userId": "alice"}}

    assert_error(*call(invoke, event), 401, "UNAUTHORIZED")


def test_tokens_are_verified_with_the_secret_in_secrets_manager(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, token: Callable[..., str], jwt_secret: str
) -> None:
    secret_arn = aws_stack.environment["JWT_SECRET_NAME"]
    assert secret_arn.startswith("arn:aws:secretsmanager:")
    rotated_secret = "not-the-secret-in-secrets-manager-0123456789"
    aws_stack.client("secretsmanager").put_secret_value(SecretId=secret_arn, SecretString=rotated_secret)

    rotated = call(invoke, api_event("api_create_task", authorization=token("carol", secret=rotated_secret)))
    stale = call(invoke, api_event("api_create_task", authorization=token("carol", secret=jwt_secret)))

    assert rotated[0] == 201
    assert assert_error(*stale, 401, "UNAUTHORIZED") == "Invalid token"


def test_the_header_is_found_whatever_its_case(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent, token: Callable[..., str]
) -> None:
    event = api_event("api_create_task", user=None, headers={"Authorization": f"Bearer {token('carol')}"})

    assert call(invoke, event)[0] == 201


def test_a_refused_request_to_an_unknown_route_is_still_a_401(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent
) -> None:
    event = api_event(
        "api_health", user=None, route_key="ANY /api/video/{proxy+}", path="/api/video/admin", method="GET"
    )

    assert_error(*call(invoke, event), 401, "UNAUTHORIZED")


def test_a_public_path_under_another_route_key_needs_a_token(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent
) -> None:
    # POST /health is not the public GET route: API Gateway sends it to the catch-all, which needs a token.
    event = api_event("api_health", user=None, route_key="ANY /api/video/{proxy+}", method="POST")

    assert_error(*call(invoke, event), 401, "UNAUTHORIZED")


# -- routing ----------------------------------------------------------------------------------------


def test_an_unknown_route_is_a_404_envelope(aws_stack: Any, invoke: Invoke, api_event: ApiEvent) -> None:
    event = api_event("api_health", route_key="ANY /api/video/{proxy+}", path="/api/video/nope", method="GET")

    message = assert_error(*call(invoke, event), 404, "NOT_FOUND")
    assert "/api/video/nope" in message


def test_a_known_path_with_another_method_is_a_405_envelope(
    aws_stack: Any, invoke: Invoke, api_event: ApiEvent
) -> None:
    event = api_event("api_health", route_key="ANY /api/video/{proxy+}", path="/api/video/health", method="DELETE")

    assert_error(*call(invoke, event), 405, "METHOD_NOT_ALLOWED")
