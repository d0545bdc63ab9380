"""Helpers of the task API's integration tests (their fixtures are in ``api_fixtures``): the API
function called in process as API Gateway calls it, the workflow's steps driven by hand, and views of
what landed in moto.
"""

from __future__ import annotations

import functools
import json
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import pytest
from boto3.dynamodb.conditions import Key
from openapi_schema_validator import OAS31Validator

from local.http_gateway import CompiledRoute
from local.openapi_export import DOCUMENT_PATH, api_module
from local.template import http_routes, load_template
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.models import TaskStatus, TaskType
from videotasks.services.workflow import Workflow

BASE = "/api/video"
USER = "alice"
OTHER_USER = "mallory"
MISSING_VIDEO_ID = "video_00000000-0000-4000-8000-000000000000"
_UNSET: Any = object()

# The template's routes of the API function, matched as API Gateway matches them, so events carry the
# routeKey and pathParameters that API Gateway would put there.
_ROUTES = sorted(
    (CompiledRoute.compile(route) for route in http_routes(load_template()) if route.function == "ApiFunction"),
    key=lambda compiled: compiled.rank,
)


def _route(method: str, path: str) -> tuple[str, dict[str, str] | None]:
    for compiled in _ROUTES:
        found = compiled.pattern.match(path)
        if compiled.route.method in (method, "ANY") and found:
            return f"{compiled.route.method} {compiled.route.path}", found.groupdict() or None
    raise AssertionError(f"no route of the template takes {method} {path}")


@functools.cache
def _document() -> dict[str, Any]:
    return dict(json.loads(DOCUMENT_PATH.read_text(encoding="utf-8")))


def contract_problem(route_key: str, status: int, body: Any) -> str | None:
    """What is wrong with a reply under docs/openapi.json, or None: its status must be one the operation
    documents and its body must match that status's schema. Routes outside the document (the catch-all, the
    API's root) answer only errors, in the envelope."""
    document = _document()
    method, path = route_key.split(" ", 1)
    operation = document["paths"].get(path, {}).get(method.lower())
    if operation is None and route_key in api_module().ROUTES.route_keys():
        return None  # /openapi.json and /docs: the document itself and its page, outside the document
    if operation is None:
        schema = {"$ref": "#/components/schemas/ErrorEnvelope"}
    elif str(status) not in operation["responses"]:
        return f"{route_key} answered {status}, which its operation does not document"
    else:
        schema = operation["responses"][str(status)]["content"]["application/json"]["schema"]
    errors = sorted(
        OAS31Validator({**schema, "components": document["components"]}).iter_errors(body), key=lambda e: e.path
    )
    if errors:
        where = "/".join(str(part) for part in errors[0].absolute_path)
        return f"{route_key} {status} does not match the document at '{where}': {errors[0].message}"
    return None


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any]
    headers: dict[str, str]

    @property
    def data(self) -> Any:
        assert self.body.get("success") is True, self.body
        return self.body["data"]

    def error(self, status: int, code: str) -> dict[str, Any]:
        """Asserts the error envelope with this status and code; returns its ``error`` object."""
        assert self.status == status, (self.status, self.body)
        assert self.body["success"] is False, self.body
        assert self.body["error"]["code"] == code, self.body
        assert isinstance(self.body["message"], str) and self.body["message"], self.body
        assert self.body["error"]["message"], self.body
        return dict(self.body["error"])

    def validation_error(self, field: str) -> dict[str, Any]:
        """A 400 ``VALIDATION_ERROR`` whose message names ``field``."""
        error = self.error(400, "VALIDATION_ERROR")
        assert field in self.body["message"], (field, self.body)
        return error

    def fields(self) -> list[str]:
        """The fields the error's details name."""
        return [item["field"] for item in self.body["error"].get("details") or []]


class Api:
    """The API function as one user reaches it through API Gateway and the authorizer."""

    def __init__(self, invoke: Callable[[str, Any], Any], api_event: Callable[..., dict[str, Any]], user: str | None):
        self._invoke = invoke
        self._api_event = api_event
        self.user = user

    def as_user(self, user: str | None) -> Api:
        return Api(self._invoke, self._api_event, user)

    def event(
        self,
        method: str,
        path: str,
        *,
        body: Any = _UNSET,
        query: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        route_key, path_parameters = _route(method, path)
        event = self._api_event(
            "api_create_task" if method == "POST" else "api_get_task",
            user=self.user,
            body=body if body is not _UNSET else None,
            method=method,
            path=path,
            route_key=route_key,
            headers=headers,
        )
        event["pathParameters"] = path_parameters
        query = {name: str(value) for name, value in (query or {}).items() if value is not None}
        event["queryStringParameters"] = query or None
        event["rawQueryString"] = urlencode(query)
        return event

    def send(self, event: dict[str, Any]) -> dict[str, Any]:
        """The function's raw result for an event a test has shaped itself."""
        return dict(self._invoke("ApiFunction", event))

    def call(self, method: str, path: str, **parts: Any) -> Reply:
        """The reply to one request; every reply must be what docs/openapi.json says the route answers."""
        event = self.event(method, path, **parts)
        result = self.send(event)
        assert result["isBase64Encoded"] is False, result
        body = json.loads(result["body"])
        problem = contract_problem(event["routeKey"], result["statusCode"], body)
        assert problem is None, (problem, str(body)[:1000])
        return Reply(result["statusCode"], body, dict(result.get("headers") or {}))

    # the routes
    def create(self, body: dict[str, Any] | None = None, *, key: str | None = None, **fields: Any) -> Reply:
        payload = {"prompt": "A paper boat drifting down a rainy street", **(body or {}), **fields}
        return self.call("POST", f"{BASE}/tasks", body=payload, headers={"idempotency-key": key} if key else None)

    def create_id(self, **fields: Any) -> str:
        reply = self.create(**fields)
        assert reply.status == 201, reply.body
        return str(reply.data["videoId"])

    def get(self, video_id: str) -> Reply:
        return self.call("GET", f"{BASE}/tasks/{video_id}")

    def list(self, **query: Any) -> Reply:
        return self.call("GET", f"{BASE}/tasks", query=query)

    def content(self, video_id: str) -> Reply:
        return self.call("GET", f"{BASE}/tasks/{video_id}/content")

    def cancel(self, video_id: str) -> Reply:
        return self.call("POST", f"{BASE}/tasks/{video_id}/cancel")

    def stats(self) -> Reply:
        return self.call("GET", f"{BASE}/stats")

    # retry, remix and delete
    def retry(self, video_id: str, body: Any = _UNSET, *, key: str | None = None) -> Reply:
        headers = {"idempotency-key": key} if key else None
        return self.call("POST", f"{BASE}/tasks/{video_id}/retry", body=body, headers=headers)

    def remix(self, video_id: str, prompt: Any = "The same boat, now at night", *, key: str | None = None) -> Reply:
        headers = {"idempotency-key": key} if key else None
        return self.call("POST", f"{BASE}/tasks/{video_id}/remix", body={"prompt": prompt}, headers=headers)

    def delete(self, video_id: str) -> Reply:
        return self.call("DELETE", f"{BASE}/tasks/{video_id}")

    def status_of(self, video_id: str) -> str:
        return str(self.get(video_id).data["status"])


class Steps:
    """The state machine's steps run by hand with the fake providers: what a test needs to move a
    task the way a real execution would, one step at a time."""

    def __init__(self, workflow: Workflow, repository: TaskRepository, videos: Any) -> None:
        self.workflow = workflow
        self.repository = repository
        self.videos = videos

    def status(self, video_id: str) -> TaskStatus:
        task = self.repository.get(video_id)
        assert task is not None, video_id
        return task.status

    def submit(self, video_id: str) -> None:
        """QUEUED -> PROCESSING at the provider (an IMAGE task goes all the way to COMPLETED)."""
        self.workflow.submit(video_id)

    def complete(self, video_id: str) -> None:
        if self.status(video_id) is TaskStatus.QUEUED:
            self.submit(video_id)
        if self.status(video_id) is TaskStatus.COMPLETED:  # an image
            return
        self.videos.report("completed", 100)
        assert self.workflow.poll(video_id).next == "ARCHIVE"
        self.workflow.archive(video_id)
        assert self.status(video_id) is TaskStatus.COMPLETED

    def fail(self, video_id: str) -> None:
        if self.status(video_id) is TaskStatus.QUEUED:
            self.submit(video_id)
        self.videos.report("failed", error_code="moderation_blocked", error_message="The prompt was refused")
        self.workflow.poll(video_id)
        assert self.status(video_id) is TaskStatus.FAILED


# -- views of what is stored ----------------------------------------------------------------------------


def item_count(aws_stack: Any, table_variable: str) -> int:
    """How many items a table holds (a test-side Scan: the API itself must never scan)."""
    return int(aws_stack.table(table_variable).scan(Select="COUNT")["Count"])


def executions(aws_stack: Any) -> list[dict[str, Any]]:
    sfn = aws_stack.client("stepfunctions")
    return list(sfn.list_executions(stateMachineArn=aws_stack.state_machine_arn)["executions"])


def stored_tasks(aws_stack: Any, user: str) -> list[dict[str, Any]]:
    """Every stored task of ``user``, read from the ByUser index."""
    table = aws_stack.table("TASKS_TABLE")
    items: list[dict[str, Any]] = []
    query: dict[str, Any] = {"IndexName": "ByUser", "KeyConditionExpression": Key("userId").eq(user)}
    while True:
        reply = table.query(**query)
        items += reply["Items"]
        if "LastEvaluatedKey" not in reply:
            return items
        query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]


def recount(aws_stack: Any, user: str) -> dict[str, Any]:
    """The numbers ``/stats`` must report, counted from the tasks themselves."""
    tasks = stored_tasks(aws_stack, user)
    by_status = Counter(str(item["status"]) for item in tasks)
    by_type = Counter(str(item["type"]) for item in tasks)
    return {
        "total": len(tasks),
        "byStatus": {status.value: by_status.get(status.value, 0) for status in TaskStatus},
        "byType": {kind.value: by_type.get(kind.value, 0) for kind in TaskType},
    }


def media_objects(aws_stack: Any, video_id: str) -> list[str]:
    return [key for key in aws_stack.media_keys() if video_id in key]


def media_bytes(aws_stack: Any, key: str) -> bytes:
    body = aws_stack.client("s3").get_object(Bucket=aws_stack.bucket, Key=key)["Body"]
    return bytes(body.read())


def run_together(calls: list[Callable[[], Any]], timeout: float = 60.0) -> list[Any]:
    """Run ``calls`` in threads released at the same moment; returns results (or raised exceptions)
    in order. Bounded: a thread still running after ``timeout`` fails the test."""
    barrier = threading.Barrier(len(calls))
    results: list[Any] = [None] * len(calls)

    def run(index: int, call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:  # handed back: the test decides what is acceptable
            results[index] = exc

    threads = [threading.Thread(target=run, args=(index, call), daemon=True) for index, call in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
        assert not thread.is_alive(), "a concurrent call did not finish"
    return results


def list_all(api: Api, **query: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Follow ``nextCursor`` to the end; returns (every item, every page's data)."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        reply = api.list(**query, cursor=cursor)
        assert reply.status == 200, reply.body
        pages.append(reply.data)
        items += reply.data["items"]
        cursor = reply.data["nextCursor"]
        if cursor is None:
            return items, pages
    pytest.fail("paging never ended")


__all__ = [
    "BASE",
    "MISSING_VIDEO_ID",
    "OTHER_USER",
    "USER",
    "Api",
    "Reply",
    "Steps",
    "executions",
    "item_count",
    "list_all",
    "media_bytes",
    "media_objects",
    "recount",
    "run_together",
    "stored_tasks",
]
