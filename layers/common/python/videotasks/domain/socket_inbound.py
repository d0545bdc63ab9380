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

from videotasks.domain import messages
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
    """A client message we refuse; the client gets an ``error`` message and nothing changes. ``key`` and
    ``params`` name its text in ``videotasks.domain.messages``; with ``name_actions`` the text goes on to
    say which actions exist. ``message`` is its English, for logs."""

    def __init__(
        self,
        code: str,
        key: str,
        params: dict[str, Any] | None = None,
        *,
        video_id: str | None = None,
        name_actions: bool = False,
    ) -> None:
        self.code = code
        self.key = key
        self.params = params or {}
        self.video_id = video_id
        self.name_actions = name_actions
        self.message = self.user_message(messages.DEFAULT_LANG)
        super().__init__(self.message)

    def user_message(self, lang: str) -> str:
        problem = messages.render(self.key, lang, self.params)
        if not self.name_actions:
            return problem
        known = {"problem": problem, "actions": ", ".join(KNOWN_ACTIONS), "legacy": ", ".join(LEGACY_TYPES)}
        return messages.render("ws_expected", lang, known)


def parse_frame(route_key: str, body: str | None) -> Command:
    """The command in a frame that arrived on ``route_key``; raises ``ProtocolError``."""
    if body is None or not body.strip():
        raise ProtocolError("VALIDATION_ERROR", "ws_empty", name_actions=True)
    if len(body) > MAX_FRAME_CHARS:
        raise ProtocolError("VALIDATION_ERROR", "ws_too_large", {"limit": MAX_FRAME_CHARS})
    try:
        data = json.loads(body)
    except ValueError:
        raise ProtocolError("VALIDATION_ERROR", "ws_not_json", name_actions=True) from None
    if not isinstance(data, dict):
        raise ProtocolError("VALIDATION_ERROR", "ws_not_object", name_actions=True)
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
            raise ProtocolError("VALIDATION_ERROR", "ws_payload_not_object", {"type": legacy})
        fields = {**data, **(payload or {})}
        if legacy != "ping" and fields.get("videoId") is None:
            # The old protocol named one task per message; "every task" is only our new action's meaning.
            raise ProtocolError("VALIDATION_ERROR", "ws_needs_video_id", {"type": legacy})
        return LEGACY_TYPES[legacy], fields
    if named is not None:
        shown = f"{named!r}"[:60]
        raise ProtocolError("VALIDATION_ERROR", "ws_unknown_action", {"action": shown}, name_actions=True)
    raise ProtocolError("VALIDATION_ERROR", "ws_no_action", name_actions=True)


def _video_id(fields: dict[str, Any]) -> str | None:
    value = fields.get("videoId")
    if value is None:
        return None
    if not isinstance(value, str) or not is_video_id(value):
        shown = value if isinstance(value, str) and len(value) <= 80 else None
        raise ProtocolError("VALIDATION_ERROR", "ws_bad_video_id", video_id=shown)
    return value
