"""The WebSocket protocol: what a client may send, and what each message does.

API Gateway picks a route from ``$request.body.action``: ``subscribe``, ``unsubscribe`` and ``ping`` have
routes of their own; anything else (the old backend's ``{"type": "subscribe_task", "payload": {...}}``
messages, unknown actions, non-JSON frames) arrives on ``$default``. ``parse_frame`` turns any of them
into one ``Command`` or a ``ProtocolError`` that names the known actions; it is pure.

``RealtimeService`` runs the commands against the connections and tasks tables and returns the one reply
the client gets (the message routes are two-way, so the reply is the handler's return value).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger

from . import messages
from .errors import ConflictError, NotFoundError
from .ids import is_video_id
from .models import Task, TaskStatus, utc_now
from .repository import ConnectionRepository, TaskRepository
from .settings import Settings
from .storage import MediaStore

logger = Logger(child=True)

MAX_FRAME_CHARS = 4096  # our messages are tiny; API Gateway itself accepts up to 128 KB
MAX_SUBSCRIPTIONS = 100  # per connection, one by one; beyond that, subscribe to all tasks


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
        return LEGACY_TYPES[legacy], {**data, **(payload or {})}
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


def playable_url(task: Task, media: MediaStore, ttl_seconds: int) -> str | None:
    """A presigned URL of a COMPLETED task's stored media, as the HTTP API hands out; else None."""
    if task.status is not TaskStatus.COMPLETED or not task.mediaKey:
        return None
    url, _ = media.task_media_url(task, ttl_seconds)
    return url


class RealtimeService:
    """Connection bookkeeping and the subscribe / unsubscribe / ping protocol."""

    def __init__(
        self,
        settings: Settings,
        connections: ConnectionRepository,
        tasks: TaskRepository,
        media: MediaStore,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._connections = connections
        self._tasks = tasks
        self._media = media
        self._clock = clock

    def connect(self, connection_id: str, user_id: str) -> None:
        self._connections.add(connection_id, user_id, self._clock())
        logger.info("connected", extra={"connectionId": connection_id, "userId": user_id})

    def disconnect(self, connection_id: str) -> None:
        self._connections.remove(connection_id)
        logger.info("disconnected", extra={"connectionId": connection_id})

    def handle(self, connection_id: str, user_id: str, route_key: str, body: str | None) -> dict[str, Any]:
        """Run the client's message; return the one message that answers it."""
        stamp = messages.now_ms()
        try:
            command = parse_frame(route_key, body)
        except ProtocolError as exc:
            logger.info("refused a client message", extra={"code": exc.code, "reason": exc.message})
            return messages.error(
                exc.code,
                exc.message,
                timestamp_ms=stamp,
                video_id=exc.video_id,
                known_actions=KNOWN_ACTIONS if exc.name_actions else None,
            )
        try:
            return self._run(connection_id, user_id, command, stamp)
        except (NotFoundError, ConflictError) as exc:
            return messages.error(exc.code, exc.message, timestamp_ms=stamp, video_id=command.video_id)

    def _run(self, connection_id: str, user_id: str, command: Command, stamp: int) -> dict[str, Any]:
        if command.action is Action.PING:
            self._connections.touch(connection_id, self._clock())
            return messages.pong(timestamp_ms=stamp)
        if command.action is Action.SUBSCRIBE:
            return self._subscribe(connection_id, user_id, command.video_id, stamp)
        self._connections.unfollow(connection_id, user_id, self._clock(), video_id=command.video_id)
        return messages.unsubscribed(command.video_id, timestamp_ms=stamp)

    def _subscribe(self, connection_id: str, user_id: str, video_id: str | None, stamp: int) -> dict[str, Any]:
        now = self._clock()
        if video_id is None:
            self._connections.follow(connection_id, user_id, now, video_id=None, max_subscriptions=MAX_SUBSCRIPTIONS)
            return messages.subscribed(None, timestamp_ms=stamp)
        task = self._tasks.get_owned(video_id, user_id)
        if task is None:  # someone else's task is indistinguishable from none, as in the HTTP API
            raise NotFoundError(f"Task {video_id} not found")
        if not task.is_terminal:
            self._connections.follow(
                connection_id, user_id, now, video_id=video_id, max_subscriptions=MAX_SUBSCRIPTIONS
            )
            # Read again now that the subscription is stored: a change written between the first read and
            # the subscription reaches the client through this answer, every later one through the stream.
            task = self._tasks.get(video_id) or task
        logger.info(
            "subscribed",
            extra={"connectionId": connection_id, "videoId": task.videoId, "externalVideoId": task.externalTaskId},
        )
        url = playable_url(task, self._media, self._settings.media_url_ttl_seconds)
        return messages.task_message(task, video_url=url, timestamp_ms=stamp)
