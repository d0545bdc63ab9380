"""What a WebSocket client may send us, parsed into one ``Command``: pure, no I/O.

API Gateway picks a route from ``$request.body.action``: ``subscribe``, ``unsubscribe`` and ``ping`` have
routes of their own; anything else (the old backend's ``{"type": "subscribe_task", "payload": {...}}``
messages, unknown actions, non-JSON frames) arrives on ``$default``. ``parse_frame`` turns any of them
into one ``Command`` or a ``ProtocolError`` that names the known actions. What we send back lives in
``videotasks.domain.socket_outbound``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from videotasks.domain.ids import is_video_id

MAX_FRAME_CHARS = 4096  # our messages are tiny; API Gateway itself accepts up to 128 KB


class Action(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"


KNOWN_ACTIONS = tuple(action.value for action in Action)
# The old backend's documented socket messages: {"type": ..., "payload": {"videoId"}}.
LEGACY_TYPES: dict[str, Action] = {
    "subscribe_task": Action.SUBSCRIBE,
    "unsubscribe_task": Action.UNSUBSCRIBE,
    "ping": Action.PING,
}


@dataclass(frozen=True)
class Command:
    action: Action
    video_id: str | None = None  # None: every task of the caller (ping ignores it)


class ProtocolError(Exception):
    """A client message we refuse; the client gets an ``error`` message and nothing changes."""

    def __init__(self, code: str, message: str, *, video_id: str | None = None, name_actions: bool = False) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.video_id = video_id
        self.name_actions = name_actions


def parse_frame(route_key: str, body: str | None) -> Command:
    """The command in a frame that arrived on ``route_key``; raises ``ProtocolError``."""
    if body is None or not body.strip():
        raise ProtocolError("VALIDATION_ERROR", _expected("Empty message"), name_actions=True)
    if len(body) > MAX_FRAME_CHARS:
        raise ProtocolError("VALIDATION_ERROR", f"Message too large (over {MAX_FRAME_CHARS} characters)")
    try:
        data = json.loads(body)
    except ValueError:
        raise ProtocolError("VALIDATION_ERROR", _expected("Message is not JSON"), name_actions=True) from None
    if not isinstance(data, dict):
        raise ProtocolError("VALIDATION_ERROR", _expected("Message is not a JSON object"), name_actions=True)
    action, fields = _action_of(route_key, data)
    if action is Action.PING:
        return Command(action)
    return Command(action, _video_id(fields))


def _action_of(route_key: str, data: dict[str, Any]) -> tuple[Action, dict[str, Any]]:
    named = data.get("action")
    if route_key in KNOWN_ACTIONS:
        return Action(route_key), data
    if isinstance(named, str) and named in KNOWN_ACTIONS:  # a known action that reached $default anyway
        return Action(named), data
    legacy = data.get("type")
    if isinstance(legacy, str) and legacy in LEGACY_TYPES:
        payload = data.get("payload")
        if payload is not None and not isinstance(payload, dict):
            raise ProtocolError("VALIDATION_ERROR", f"{legacy}: payload must be an object")
        fields = {**data, **(payload or {})}
        if legacy != "ping" and fields.get("videoId") is None:
            # The old protocol named one task per message; "every task" is only our new action's meaning.
            raise ProtocolError("VALIDATION_ERROR", f"{legacy} needs payload.videoId (one task per message)")
        return LEGACY_TYPES[legacy], fields
    if named is not None:
        shown = f"{named!r}"[:60]
        raise ProtocolError("VALIDATION_ERROR", _expected(f"Unknown action {shown}"), name_actions=True)
    raise ProtocolError("VALIDATION_ERROR", _expected("Message has no action"), name_actions=True)


def _video_id(fields: dict[str, Any]) -> str | None:
    value = fields.get("videoId")
    if value is None:
        return None
    if not isinstance(value, str) or not is_video_id(value):
        shown = value if isinstance(value, str) and len(value) <= 80 else None
        raise ProtocolError("VALIDATION_ERROR", "videoId must be our task id, video_<uuid4>", video_id=shown)
    return value


def _expected(problem: str) -> str:
    return (
        f'{problem}; send {{"action": ...}} with one of {", ".join(KNOWN_ACTIONS)} '
        f'(or the old backend\'s {", ".join(LEGACY_TYPES)} as "type")'
    )
