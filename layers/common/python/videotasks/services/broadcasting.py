"""Task changes from the tasks table's stream, pushed to the owner's subscribed WebSocket connections.

For each stream record: is the change news (``socket_outbound.is_worth_sending``)? Then find the recipients
with a Query on the connections table's ``ByUser`` index, build the contract's message once per language
among them (each connection chose its language at the handshake), post to all of them at once, and forget
the connections that answer 410 Gone.

What fails a record (so that Lambda retries it) and what does not:

* A post that fails for one connection (throttled after botocore's retries, 5xx) does not: the record
  was delivered to everyone else, and retrying it would deliver it to them a second time. Messages are
  snapshots of the task, so the next change, or re-subscribing, brings that client up to date.
* When nobody received the message and at least one post failed, retrying duplicates nothing, so the
  record fails (``UndeliveredError``) and is retried.
* Not finding the recipients (the connections Query failing) fails the record: nobody got it yet.
* Forgetting a Gone connection is best effort: if the DeleteItem fails, the record still succeeded for
  everyone else, and the next post to that connection answers 410 again.
* A removed task (``DELETE /tasks/{videoId}``): its media object is deleted (again: the API deleted it
  already unless S3 failed it there; a delete of a missing object succeeds), then ``taskDeleted`` goes to
  the owner's connections. An S3 failure fails the record, so no object outlives its task.
* A record whose image is not a task is logged and skipped: retrying cannot fix it, and it would hold up
  its shard until the retries run out.

Records are handled one at a time in stream order, and ``OrderedStreamProcessor`` (in
``videotasks.adapters.powertools_internals``) fails every record after a failed one without running it: Lambda
resumes a DynamoDB stream from the first failed record, so nothing after it may be delivered before it (a
client must never see progress go back, or news after the end).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError
from pydantic import ValidationError as ModelValidationError

from videotasks.adapters.media import MediaStore
from videotasks.adapters.socket_push import ConnectionNotifier, Deliveries
from videotasks.adapters.store.connections import ConnectionRepository
from videotasks.adapters.store.items import task_from_item
from videotasks.adapters.tracing import tracer
from videotasks.domain import socket_outbound
from videotasks.domain.models import Task
from videotasks.domain.wire import WIRE_STATUS, task_ids
from videotasks.services.media_links import playable_url, poster_url
from videotasks.settings import Settings

logger = Logger(child=True)


class UndeliveredError(Exception):
    """Nobody received the message and some posts failed: retrying the record duplicates nothing."""


@dataclass(frozen=True)
class Broadcast:
    video_id: str
    message_type: str
    recipients: int
    deliveries: Deliveries


class Broadcaster:
    def __init__(
        self,
        settings: Settings,
        connections: ConnectionRepository,
        notifier: ConnectionNotifier,
        media: MediaStore,
        *,
        clock_ms: Callable[[], int] = socket_outbound.now_ms,
    ) -> None:
        self._settings = settings
        self._connections = connections
        self._notifier = notifier
        self._media = media
        self._clock_ms = clock_ms

    @tracer.capture_method(capture_response=False)
    def publish(self, old_image: dict[str, Any] | None, new_image: dict[str, Any] | None) -> Broadcast | None:
        """Push the change from ``old_image`` to ``new_image`` (stream images, None when absent).

        Returns what was sent, or None when the change is not news.
        """
        try:
            old = task_from_item(old_image) if old_image else None
            new = task_from_item(new_image) if new_image else None
        except ModelValidationError as exc:
            keys = (new_image or old_image or {}).get("videoId")
            logger.error("stream image is not a task; skipped", extra={"videoId": keys, "errors": exc.errors()[:3]})
            return None
        if new is None and old is not None:
            return self._deleted(old)
        if new is not None and socket_outbound.poster_arrived(old, new):
            return self._poster(new)
        if new is None or not socket_outbound.is_worth_sending(old, new):
            return None
        return self._send(new)

    def _deleted(self, task: Task) -> Broadcast:
        for key in (task.mediaKey, task.posterKey):
            if key:
                self._media.delete(key)
        stamp = self._clock_ms()
        text = socket_outbound.task_deleted(task, timestamp_ms=stamp)  # no text to translate: one payload
        data = json.dumps(text, separators=(",", ":"), ensure_ascii=False).encode()
        by_lang = self._connections.subscribers_by_lang(task.userId, task.videoId)
        payloads = {connection_id: data for ids in by_lang.values() for connection_id in ids}
        return self._post(task, socket_outbound.MessageType.TASK_DELETED.value, payloads)

    def _poster(self, task: Task) -> Broadcast:
        ttl = self._settings.media_url_ttl_seconds
        text = socket_outbound.task_poster(
            task,
            video_url=playable_url(task, self._media, ttl),
            poster_url=poster_url(task, self._media, ttl),
            timestamp_ms=self._clock_ms(),
        )
        data = json.dumps(text, separators=(",", ":"), ensure_ascii=False).encode()
        by_lang = self._connections.subscribers_by_lang(task.userId, task.videoId)
        payloads = {connection_id: data for ids in by_lang.values() for connection_id in ids}
        return self._post(task, socket_outbound.MessageType.TASK_POSTER.value, payloads)

    def _send(self, task: Task) -> Broadcast:
        ttl = self._settings.media_url_ttl_seconds
        url = playable_url(task, self._media, ttl)
        poster = poster_url(task, self._media, ttl)
        stamp = self._clock_ms()
        by_lang = self._connections.subscribers_by_lang(task.userId, task.videoId)
        message_type = socket_outbound.TASK_MESSAGE_TYPES[task.status].value
        payloads: dict[str, bytes] = {}
        for lang, connection_ids in by_lang.items():  # rendered once per language, not per connection
            text = socket_outbound.task_message(task, video_url=url, poster_url=poster, timestamp_ms=stamp, lang=lang)
            data = json.dumps(text, separators=(",", ":"), ensure_ascii=False).encode()
            payloads.update(dict.fromkeys(connection_ids, data))
        return self._post(task, message_type, payloads)

    def _post(self, task: Task, message_type: str, payloads: dict[str, bytes]) -> Broadcast:
        """Send each connection its payload, forget the gone ones, and log the old backend's line."""
        recipients = sorted(payloads)
        deliveries: Deliveries = self._notifier.post_each(payloads)
        for connection_id in deliveries.gone:
            try:
                self._connections.remove(connection_id)
            except ClientError:
                logger.warning("could not forget a gone connection", extra={"connectionId": connection_id})
        # The old backend's log line, with both ids (docs/LEGACY_CONTRACT.md): support may quote either.
        logger.info(
            f"broadcast: {task.videoId} (external: {task.externalTaskId}) -> {len(deliveries.delivered)} clients",
            extra={
                **task_ids(task),
                "messageType": message_type,
                "status": WIRE_STATUS[task.status],
                "progress": task.progress,
                "recipients": len(recipients),
                "delivered": len(deliveries.delivered),
                "gone": len(deliveries.gone),
                "failed": len(deliveries.failed),
            },
        )
        if deliveries.failed and not deliveries.delivered:
            raise UndeliveredError(f"{task.videoId}: no connection received {message_type}")
        return Broadcast(task.videoId, message_type, len(recipients), deliveries)
