"""The HTTP reply envelope, shared by the API function and its exception handlers, and by the functions
that answer HTTP without the resolver (``proxy_success``/``proxy_error``: Powertools' event handler is not
imported for them)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from videotasks.domain import messages
from videotasks.domain.errors import VideoTasksError

if TYPE_CHECKING:
    from aws_lambda_powertools.event_handler import Response

JSON = "application/json"


def _success_body(data: Any) -> str:
    """``{success, data}`` as the old frontend reads it; an object's fields are also repeated at the top
    level, where docs/API.md's route table (and clients written from it) expect them."""
    body: dict[str, Any] = {"success": True, "data": data}
    if isinstance(data, dict):
        body = {**data, **body}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


def _failure_body(code: str, message: str, details: Any = None) -> str:
    error: dict[str, Any] = {"code": code, "message": message}
    if details is not None:
        error["details"] = details
    return json.dumps({"success": False, "message": message, "error": error}, separators=(",", ":"), ensure_ascii=False)


def _retry_after(seconds: int | None) -> dict[str, str] | None:
    return {"Retry-After": str(seconds)} if seconds is not None else None


def success(data: Any, status_code: int = 200) -> Response[Any]:
    from aws_lambda_powertools.event_handler import Response

    return Response(status_code=status_code, content_type=JSON, body=_success_body(data))


def failure(
    status_code: int, code: str, message: str, details: Any = None, *, retry_after_seconds: int | None = None
) -> Response[Any]:
    from aws_lambda_powertools.event_handler import Response

    return Response(
        status_code=status_code,
        content_type=JSON,
        body=_failure_body(code, message, details),
        headers=_retry_after(retry_after_seconds),
    )


def from_error(error: VideoTasksError, lang: str = messages.DEFAULT_LANG) -> Response[Any]:
    return failure(
        error.http_status,
        error.code,
        error.user_message(lang),
        error.details,
        retry_after_seconds=error.retry_after_seconds,
    )


def proxy_success(data: Any, status_code: int = 200) -> dict[str, Any]:
    """``success`` in the payload 2.0 result shape, for a function without the resolver."""
    return {
        "statusCode": status_code,
        "headers": {"Content-Type": JSON},
        "body": _success_body(data),
        "isBase64Encoded": False,
    }


def proxy_error(error: VideoTasksError, lang: str = messages.DEFAULT_LANG) -> dict[str, Any]:
    """``from_error`` in the payload 2.0 result shape, for a function without the resolver."""
    return {
        "statusCode": error.http_status,
        "headers": {"Content-Type": JSON, **(_retry_after(error.retry_after_seconds) or {})},
        "body": _failure_body(error.code, error.user_message(lang), error.details),
        "isBase64Encoded": False,
    }


def as_proxy_result(response: Response[Any]) -> dict[str, Any]:
    """A reply built outside the resolver (before routing), in the payload 2.0 result shape."""
    return {
        "statusCode": response.status_code,
        "headers": {"Content-Type": response.headers.get("Content-Type", JSON)},
        "body": response.body,
        "isBase64Encoded": False,
    }


# What pydantic puts before the text of a ValueError/AssertionError raised in a validator: ours raise
# PydanticCustomError, which has none; a library's validator might still.
_PYDANTIC_PREFIXES = ("Value error, ", "Assertion failed, ")


def _without_prefix(message: str) -> str:
    for prefix in _PYDANTIC_PREFIXES:
        message = message.removeprefix(prefix)
    return message or "invalid value"


def validation_failure(errors: Any, lang: str = messages.DEFAULT_LANG) -> Response[Any]:
    """A 400 naming the first offending field (pydantic's error list, from Powertools or a model), each
    message in ``lang``; the field's name is never translated."""
    details = []
    for item in errors:
        if item.get("type") == "json_invalid":
            reason = str((item.get("ctx") or {}).get("error", ""))
            details.append({"field": "body", "message": messages.render("body_not_json", lang, {"reason": reason})})
            continue
        location = [str(part) for part in item.get("loc", ()) if part not in ("body", "query", "path", "header")]
        details.append({"field": ".".join(location) or "body", "message": _validation_text(item, lang)})
    first = details[0] if details else {"field": "body", "message": messages.render("invalid_request", lang)}
    return failure(400, "VALIDATION_ERROR", f"{first['field']}: {first['message']}", details)


def _validation_text(item: dict[str, Any], lang: str) -> str:
    """Pydantic's error type (its own, or a validator's ``PydanticCustomError`` key) read from the
    catalogue with its ``ctx``; a type the catalogue lacks reads pydantic's English message."""
    english = _without_prefix(str(item.get("msg") or ""))
    key = str(item.get("type") or "")
    context = {name: _shown(value) for name, value in (item.get("ctx") or {}).items()}
    return messages.render(key, lang, context, fallback=english)


def _shown(value: Any) -> Any:
    # ctx values are numbers, strings or exceptions (a validator's ValueError): a text shows their words
    return value if isinstance(value, (int, float, str)) else str(value)


def assume_json_body(event: dict[str, Any]) -> dict[str, Any]:
    """The API only takes JSON: a body sent without a JSON content type (``curl -d`` sends a form type)
    is read as JSON rather than as a form, so the reply names what is wrong with the JSON."""
    headers = event.get("headers") or {}
    content_type = next((value for key, value in headers.items() if key.lower() == "content-type"), "")
    if event.get("body") and "json" not in content_type.lower():
        headers = {key: value for key, value in headers.items() if key.lower() != "content-type"}
        event = {**event, "headers": {**headers, "content-type": "application/json"}}
    return event
