"""Every WebSocket message an e2e test receives is one docs/asyncapi.yaml documents.

``check(frame)`` validates one received frame against the server messages of the committed document (the
payloads of its ``receive`` operations, JSON Schema); ``validating_receives(monkeypatch)`` routes every
``recv()`` of every ``websockets`` client connection through it, for one test. `local_stack_factory` turns
it on, so every test that talks to a local stack's socket is checked, whichever helper it receives with. A
frame that matches no server message fails the test that received it.
"""

from __future__ import annotations

import functools
import json
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from jsonschema.exceptions import best_match
from websockets.asyncio.client import ClientConnection

from local.asyncapi_export import DOCUMENT_PATH


class ContractViolationError(AssertionError):
    """A received WebSocket message the AsyncAPI document does not describe."""


def _resolve(document: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


@functools.cache
def _validators() -> dict[str, Draft202012Validator]:
    """The received messages' payload schemas, by the wire ``type`` each one fixes."""
    document = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    validators: dict[str, Draft202012Validator] = {}
    for operation in document["operations"].values():
        if operation["action"] != "receive":
            continue
        for reference in operation["messages"]:
            payload = _resolve(document, reference)["payload"]
            # The document is the schema's root, so its "#/components/schemas/..." references resolve.
            schema = {**payload, "components": document["components"]}
            Draft202012Validator.check_schema(schema)
            key = _resolve(document, payload)["properties"].get("type", {}).get("const", "")
            validators[key] = Draft202012Validator(schema)
    return validators


def check(frame: str | bytes) -> dict[str, Any]:
    """The message in ``frame``, or ``ContractViolationError`` saying why no server message schema matches it."""
    try:
        message = json.loads(frame)
    except ValueError:
        raise ContractViolationError(f"a WebSocket message that is not JSON: {frame[:300]!r}") from None
    if not isinstance(message, dict):
        raise ContractViolationError(f"a WebSocket message that is not a JSON object: {message!r}")
    kind = message.get("type", "")  # untyped: only API Gateway's own fault message is
    validator = _validators().get(kind) if isinstance(kind, str) else None
    if validator is None:
        raise ContractViolationError(f"a WebSocket message of no type docs/asyncapi.yaml documents: {message}")
    problem = best_match(validator.iter_errors(message))
    if problem is not None:
        path = "/".join(map(str, problem.absolute_path)) or "(the message)"
        raise ContractViolationError(
            f"a {kind or 'untyped'} message breaks docs/asyncapi.yaml at {path}: {problem.message}; got {message}"
        )
    return message


def validating_receives(monkeypatch: pytest.MonkeyPatch) -> None:
    """For one test: every client connection's ``recv()`` checks what it returns."""
    receive = ClientConnection.recv

    async def checked_recv(self: ClientConnection, decode: bool | None = None) -> Any:
        frame = await receive(self, decode)
        check(frame)
        return frame

    monkeypatch.setattr(ClientConnection, "recv", checked_recv)
