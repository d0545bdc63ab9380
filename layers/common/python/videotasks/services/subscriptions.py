"""The client side of the socket: connections, and what each inbound command does.

``RealtimeService`` runs the commands ``videotasks.domain.socket_inbound`` parses against the connections
and tasks tables and returns the one reply the client gets (the message routes are two-way, so the reply
is the handler's return value).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from aws_lambda_powertools import Logger

from videotasks.adapters.media import MediaStore
from videotasks.adapters.store.connections import ConnectionRepository
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain import messages, socket_outbound
from videotasks.domain.errors import ConflictError, NotFoundError, UnauthorizedError
from videotasks.domain.models import utc_now
from videotasks.domain.socket_inbound import KNOWN_ACTIONS, Action, Command, ProtocolError, parse_frame
from videotasks.domain.wire import task_ids
from videotasks.services.media_links import playable_url, poster_url
from videotasks.settings import Settings

logger = Logger(child=True)

MAX_SUBSCRIPTIONS = 100  # per connection, one by one; beyond that, subscribe to all tasks

# A raw token → its user id, or UnauthorizedError (videotasks.edge.auth.verify_token, given by wiring).
TokenVerifier = Callable[[str | None], str]


def _no_verifier(raw: str | None) -> str:
    raise UnauthorizedError("Tokens cannot be checked on this connection")


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
        verify_token: TokenVerifier = _no_verifier,
    ) -> None:
        self._settings = settings
        self._connections = connections
        self._tasks = tasks
        self._media = media
        self._clock = clock
        self._verify_token = verify_token

    @tracer.capture_method
    def connect(self, connection_id: str, user_id: str, lang: str = messages.DEFAULT_LANG) -> None:
        """Register the connection, with the language its task messages are written in."""
        self._connections.add(connection_id, user_id, self._clock(), lang=lang)
        logger.info("connected", extra={"connectionId": connection_id, "userId": user_id, "lang": lang})

    @tracer.capture_method
    def disconnect(self, connection_id: str) -> None:
        self._connections.remove(connection_id)
        logger.info("disconnected", extra={"connectionId": connection_id})

    @tracer.capture_method(capture_response=False)
    def handle(
        self, connection_id: str, user_id: str, route_key: str, body: str | None, lang: str = messages.DEFAULT_LANG
    ) -> dict[str, Any]:
        """Run the client's message; return the one message that answers it, its texts in ``lang``."""
        stamp = socket_outbound.now_ms()
        try:
            command = parse_frame(route_key, body)
        except ProtocolError as exc:
            logger.info("refused a client message", extra={"code": exc.code, "reason": exc.message})
            return socket_outbound.error(
                exc.code,
                exc.user_message(lang),
                timestamp_ms=stamp,
                video_id=exc.video_id,
                known_actions=KNOWN_ACTIONS if exc.name_actions else None,
            )
        try:
            return self._run(connection_id, user_id, command, stamp, lang)
        except (NotFoundError, ConflictError, UnauthorizedError) as exc:
            return socket_outbound.error(
                exc.code, exc.user_message(lang), timestamp_ms=stamp, video_id=command.video_id
            )

    def _run(self, connection_id: str, user_id: str, command: Command, stamp: int, lang: str) -> dict[str, Any]:
        if command.action is Action.PING:
            self._connections.touch(connection_id, self._clock())
            return socket_outbound.pong(timestamp_ms=stamp)
        if command.action is Action.AUTH:
            return self._authenticate(user_id, command.token, stamp)
        if command.action is Action.SUBSCRIBE:
            return self._subscribe(connection_id, user_id, command.video_id, stamp, lang)
        self._connections.unfollow(connection_id, user_id, self._clock(), video_id=command.video_id)
        return socket_outbound.unsubscribed(command.video_id, timestamp_ms=stamp)

    def _authenticate(self, user_id: str, token: str | None, stamp: int) -> dict[str, Any]:
        """The old client's ``auth`` message. The handshake fixed the connection's user and nothing here
        changes it: a token of that user is acknowledged; any other (missing, invalid, expired, another
        user's) is refused with UNAUTHORIZED, and the connection goes on as its handshake's user."""
        if self._verify_token(token) != user_id:
            logger.info("refused an auth message naming another user")
            raise UnauthorizedError(key="ws_auth_other_user")
        return socket_outbound.authenticated(user_id, timestamp_ms=stamp)

    def _subscribe(
        self, connection_id: str, user_id: str, video_id: str | None, stamp: int, lang: str
    ) -> dict[str, Any]:
        now = self._clock()
        if video_id is None:
            self._connections.follow(connection_id, user_id, now, video_id=None, max_subscriptions=MAX_SUBSCRIPTIONS)
            return socket_outbound.subscribed(None, timestamp_ms=stamp)
        task = self._tasks.get_owned(video_id, user_id)
        if task is None:  # someone else's task is indistinguishable from none, as in the HTTP API
            raise NotFoundError(key="task_not_found", params={"videoId": video_id})
        if not task.is_terminal:
            self._connections.follow(
                connection_id, user_id, now, video_id=video_id, max_subscriptions=MAX_SUBSCRIPTIONS
            )
            # Read again now that the subscription is stored: a change written between the first read and
            # the subscription reaches the client through this answer, every later one through the stream.
            task = self._tasks.get(video_id) or task
        logger.info(
            "subscribed",
            extra={"connectionId": connection_id, **task_ids(task)},
        )
        ttl = self._settings.media_url_ttl_seconds
        return socket_outbound.task_message(
            task,
            video_url=playable_url(task, self._media, ttl),
            poster_url=poster_url(task, self._media, ttl),
            timestamp_ms=stamp,
            lang=lang,
        )
