"""The HTTP reply envelope, shared by the API function and its exception handlers."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types

from videotasks.domain.errors import VideoTasksError


def success(data: Any, status_code: int = 200) -> Response[Any]:
    """``{success, data}`` as the old frontend reads it; an object's fields are also repeated at the top
    level, where docs/API.md's route table (and clients written from it) expect them."""
    body: dict[str, Any] = {"success": True, "data": data}
    if isinstance(data, dict):
        body = {**data, **body}
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
    )


def failure(
    status_code: int, code: str, message: str, details: Any = None, *, retry_after_seconds: int | None = None
) -> Response[Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return Response(
        status_code=status_code,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(
            {"success": False, "message": message, "error": error}, separators=(",", ":"), ensure_ascii=False
        ),
        headers={"Retry-After": str(retry_after_seconds)} if retry_after_seconds is not None else None,
    )


def from_error(error: VideoTasksError) -> Response[Any]:
    return failure(
        error.http_status, error.code, error.message, error.details, retry_after_seconds=error.retry_after_seconds
    )


def as_proxy_result(response: Response[Any]) -> dict[str, Any]:
    """A reply built outside the resolver (before routing), in the payload 2.0 result shape."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": response.headers.get("Content-Type", content_types.APPLICATION_JSON)},
        "body": response.body,
        "isBase64Encoded": False,
    }


def validation_failure(errors: Any) -> Response[Any]:
    """A 400 naming the first offending field (pydantic's error list, from Powertools or a model)."""
    details = []
    for item in errors:
        if item.get("type") == "json_invalid":
            reason = (item.get("ctx") or {}).get("error", "")
            details.append({"field": "body", "message": f"body is not valid JSON{': ' + reason if reason else ''}"})
            continue
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "header")]
        details.append({"field": ".".join(location) or "body", "message": item.get("msg", "invalid value")})
    first = details[0] if details else {"field": "body", "message": "invalid request"}
    return failure(400, "VALIDATION_ERROR", f"{first['field']}: {first['message']}", details)


def assume_json_body(event: dict[str, Any]) -> dict[str, Any]:
    """The API only takes JSON: a body sent without a JSON content type (``curl -d`` sends a form type)
    is read as JSON rather than as a form, so the reply names what is wrong with the JSON."""
    headers = event.get("headers") or {}
    content_type = next((value for key, value in headers.items() if key.lower() == "content-type"), "")
    if event.get("body") and "json" not in content_type.lower():
        headers = {key: value for key, value in headers.items() if key.lower() != "content-type"}
        event = {**event, "headers": {**headers, "content-type": "application/json"}}
    return event
