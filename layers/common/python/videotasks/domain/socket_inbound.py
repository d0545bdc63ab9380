"""What a WebSocket client may send us, parsed into one ``Command``: pure, no I/O.

API Gateway picks a route from ``$request.body.action``: ``subscribe``, ``unsubscribe`` and ``ping`` have
routes of their own; anything else (the old backend's ``{"type": "subscribe_task", "payload": {...}}``
messages, unknown actions, non-JSON frames) arrives on ``$default``. ``parse_frame`` turns any of them
into one ``Command`` or a ``ProtocolError`` that names the known actions. What we send back lives in
``videotasks.domain.socket_outbound``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, Field

from videotasks.domain import messages
from videotasks.domain.ids import VIDEO_ID_PATTERN, is_video_id

MAX_FRAME_CHARS = 4096  # our messages are tiny; API Gateway itself accepts up to 128 KB


class Action(StrEnum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    PING = "ping"
    # Only the old backend's {"type": "auth"}: the new protocol authenticates once, at the handshake.
    AUTH = "auth"


# The actions with routes of their own (template.yaml), which the new {"action": ...} form may name.
KNOWN_ACTIONS = (Action.SUBSCRIBE.value, Action.UNSUBSCRIBE.value, Action.PING.value)
# The old backend's documented socket messages: {"type": ..., "payload": {"videoId"}}, and its "auth".
LEGACY_TYPES: dict[str, Action] = {
    "subscribe_task": Action.SUBSCRIBE,
    "unsubscribe_task": Action.UNSUBSCRIBE,
    "ping": Action.PING,
    "auth": Action.AUTH,
}


@dataclass(frozen=True)
class Command:
    action: Action
    video_id: str | None = None  # None: every task of the caller (ping ignores it)
    token: str | None = field(default=None, repr=False)  # auth only; never in a log line


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
    if action is Action.AUTH:
        token = fields.get("token")
        return Command(action, token=token if isinstance(token, str) else None)
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
        if LEGACY_TYPES[legacy] in _ONE_TASK and fields.get("videoId") is None:
            # The old protocol named one task per message; "every task" is only our new action's meaning.
            raise ProtocolError("VALIDATION_ERROR", "ws_needs_video_id", {"type": legacy})
        return LEGACY_TYPES[legacy], fields
    if named is not None:
        shown = f"{named!r}"[:60]
        raise ProtocolError("VALIDATION_ERROR", "ws_unknown_action", {"action": shown}, name_actions=True)
    raise ProtocolError("VALIDATION_ERROR", "ws_no_action", name_actions=True)


_ONE_TASK = (Action.SUBSCRIBE, Action.UNSUBSCRIBE)


def _video_id(fields: dict[str, Any]) -> str | None:
    value = fields.get("videoId")
    if value is None:
        return None
    if not isinstance(value, str) or not is_video_id(value):
        shown = value if isinstance(value, str) and len(value) <= 80 else None
        raise ProtocolError("VALIDATION_ERROR", "ws_bad_video_id", video_id=shown)
    return value


# The frames as models, for docs/asyncapi.yaml (local/asyncapi_export.py). ``parse_frame`` stays the judge of
# what is accepted (it is more lenient, and its refusals are worded for people); tests/unit/test_socket_inbound.py
# runs every model's examples through it, so the two cannot drift apart.
class ClientFrame(BaseModel):
    """A client message; ``ROUTE`` is the WebSocket API route it arrives on, ``ACTION`` what it does."""

    ROUTE: ClassVar[str]
    ACTION: ClassVar[Action]
    EXAMPLES: ClassVar[tuple[dict[str, Any], ...]]


class _TaskFrame(ClientFrame):
    videoId: str | None = Field(
        default=None, pattern=VIDEO_ID_PATTERN, description="One task; absent or null: all of your tasks"
    )


class SubscribeFrame(_TaskFrame):
    """Follow one task (answered with its current state) or, without ``videoId``, all of your tasks."""

    ROUTE = ACTION = Action.SUBSCRIBE
    EXAMPLES = (
        {"action": "subscribe", "videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc"},
        {"action": "subscribe"},
    )
    action: Literal["subscribe"]


class UnsubscribeFrame(_TaskFrame):
    """Stop following one task or, without ``videoId``, everything."""

    ROUTE = ACTION = Action.UNSUBSCRIBE
    EXAMPLES = (
        {"action": "unsubscribe", "videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc"},
        {"action": "unsubscribe"},
    )
    action: Literal["unsubscribe"]


class PingFrame(ClientFrame):
    """Keep the connection alive."""

    ROUTE = ACTION = Action.PING
    EXAMPLES = ({"action": "ping"},)
    action: Literal["ping"]


class OneTask(BaseModel):
    videoId: str = Field(pattern=VIDEO_ID_PATTERN, description="The task (the old messages name one per message)")


class LegacySubscribeFrame(ClientFrame):
    """The old backend's subscribe: one task, answered with its current state."""

    ROUTE, ACTION = "$default", Action.SUBSCRIBE
    EXAMPLES = ({"type": "subscribe_task", "payload": {"videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc"}},)
    type: Literal["subscribe_task"]
    payload: OneTask


class LegacyUnsubscribeFrame(ClientFrame):
    """The old backend's unsubscribe: one task."""

    ROUTE, ACTION = "$default", Action.UNSUBSCRIBE
    EXAMPLES = ({"type": "unsubscribe_task", "payload": {"videoId": "video_e7a620c7-2829-40d8-bbfb-77891f4621cc"}},)
    type: Literal["unsubscribe_task"]
    payload: OneTask


class LegacyPingFrame(ClientFrame):
    """The old backend's ping."""

    ROUTE, ACTION = "$default", Action.PING
    EXAMPLES = ({"type": "ping"},)
    type: Literal["ping"]


class LegacyAuthFrame(ClientFrame):
    """The old backend's auth message, sent right after opening. The connection's user was fixed by the
    handshake's token and cannot change: this token must be that user's (answered ``authenticated``), else
    the answer is an ``UNAUTHORIZED`` error and nothing changes. ``payload.token`` is read too."""

    ROUTE, ACTION = "$default", Action.AUTH
    EXAMPLES = ({"type": "auth", "token": "eyJhbGciOiJIUzI1NiJ9.eyJ1c2VySWQiOiJ1c2VyLTEyMyJ9.c2lnbmF0dXJl"},)
    type: Literal["auth"]
    token: str = Field(description="The user's JWT (a `Bearer ` prefix is accepted)")


CLIENT_FRAMES: tuple[type[ClientFrame], ...] = (
    SubscribeFrame,
    UnsubscribeFrame,
    PingFrame,
    LegacySubscribeFrame,
    LegacyUnsubscribeFrame,
    LegacyPingFrame,
    LegacyAuthFrame,
)
