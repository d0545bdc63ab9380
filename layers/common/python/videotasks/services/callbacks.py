"""Outbound webhooks (docs/WEBHOOKS.md): stream records → events → signed, retried deliveries.

Three use cases:
- ``CallbackEvents``: the CallbackEventsFunction on the tasks table's stream. A change that makes an event
  (``domain/callbacks.event_of_change``) starts one execution of the delivery state machine, named after the
  event's webhook id. Nothing of this runs in the API's request path.
- ``CallbackDelivery``: that state machine's Attempt step. One signed POST; then delivered, stopped (a 4xx
  other than 408/429, or a URL that now resolves to a non-public address), a wait before the next attempt,
  or, past the retry window, the dead-letter queue. Every attempt is recorded for the deliveries route.
- ``CallbackAccount``: the API's side (the signing secret, its rotation, a task's attempts).
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from aws_lambda_powertools import Logger

from videotasks.adapters.callback_http import CallbackPoster
from videotasks.adapters.callback_runs import DeadLetters, DeliveryRuns
from videotasks.adapters.media import MediaStore
from videotasks.adapters.store.callbacks import CallbackStore, DeliveryAttempt
from videotasks.adapters.store.items import task_from_item
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain import signing
from videotasks.domain.callbacks import RetrySchedule, event_of_change, outcome_of, parse_retry_after, webhook_id
from videotasks.domain.errors import NotFoundError
from videotasks.domain.models import iso, parse_iso, utc_now
from videotasks.domain.wire import task_json
from videotasks.services.media_links import playable_url, poster_url
from videotasks.settings import Settings

logger = Logger(child=True)


class CallbackEvents:
    def __init__(self, settings: Settings, runs: DeliveryRuns, media: MediaStore) -> None:
        self._settings = settings
        self._runs = runs
        self._media = media

    def publish(self, old_image: dict[str, Any] | None, new_image: dict[str, Any] | None) -> str | None:
        """Start the delivery of the event this change makes; its webhook id, or None when it makes none."""
        old = task_from_item(old_image) if old_image else None
        new = task_from_item(new_image) if new_image else None
        event = event_of_change(old, new)
        if event is None or new is None or not new.callbackUrl:
            return None
        ttl = self._settings.media_url_ttl_seconds
        data = task_json(
            new, video_url=playable_url(new, self._media, ttl), poster_url=poster_url(new, self._media, ttl)
        )
        # The event's time is the change's, so a record handed over twice describes the same event.
        body = {"type": event.value, "timestamp": new.updatedAt, "data": data}
        message_id = webhook_id(new, event)
        started = self._runs.start(
            message_id,
            {
                "webhookId": message_id,
                "event": event.value,
                "userId": new.userId,
                "videoId": new.videoId,
                "url": new.callbackUrl,
                "body": json.dumps(body, separators=(",", ":"), ensure_ascii=False),
                "attempt": 0,
            },
        )
        logger.info("callback event", extra={"webhookId": message_id, "event": event.value, "started": started})
        return message_id


class CallbackDelivery:
    def __init__(
        self,
        settings: Settings,
        store: CallbackStore,
        poster: CallbackPoster,
        dead_letters: DeadLetters,
        *,
        clock: Callable[[], datetime] = utc_now,
        rng: random.Random | None = None,
    ) -> None:
        self._store = store
        self._poster = poster
        self._dead_letters = dead_letters
        self._clock = clock
        self._rng = rng
        self._schedule = RetrySchedule(
            base_seconds=settings.callback_retry_base_seconds,
            max_delay_seconds=settings.callback_retry_max_delay_seconds,
            window_seconds=settings.callback_retry_window_seconds,
        )

    def attempt(self, state: dict[str, Any]) -> dict[str, Any]:
        """One attempt of the delivery ``state`` describes; the state for the next step, with ``next``
        (DONE, WAIT with ``waitSeconds``, or DEAD) and the attempt counted."""
        now = self._clock()
        number = int(state.get("attempt", 0)) + 1
        first = state.get("firstAttemptAt") or iso(now)
        body = str(state["body"]).encode()
        webhook = str(state["webhookId"])
        signing_secrets = self._store.secrets(state["userId"]).signing(now)
        timestamp = int(now.timestamp())
        result = self._poster.post(state["url"], body, signing.headers(signing_secrets, webhook, timestamp, body))
        outcome: str = "stop" if result.error == "refused_address" else outcome_of(result.status_code)
        wait: int | None = None
        if outcome == "retry":
            elapsed = (now - parse_iso(first)).total_seconds()
            wait = self._schedule.next_delay(number, elapsed, parse_retry_after(result.retry_after), self._rng)
            if wait is None:
                outcome = "dead"
        next_retry_at = iso(now + timedelta(seconds=wait)) if wait is not None else None
        self._store.record_attempt(
            state["userId"],
            state["videoId"],
            DeliveryAttempt(
                webhook_id=webhook,
                event=str(state["event"]),
                attempt=number,
                attempted_at=iso(now),
                status_code=result.status_code,
                error=result.error,
                latency_ms=result.latency_ms,
                outcome=outcome,
                next_retry_at=next_retry_at,
            ),
        )
        logger.info(
            "callback attempt",
            extra={
                "webhookId": webhook,
                "attempt": number,
                "status": result.status_code,
                "error": result.error,
                "outcome": outcome,
            },
        )
        if outcome == "dead":
            self._dead_letters.send(
                {
                    "webhookId": webhook,
                    "event": state["event"],
                    "userId": state["userId"],
                    "videoId": state["videoId"],
                    "url": state["url"],
                    "attempts": number,
                    "firstAttemptAt": first,
                    "lastStatusCode": result.status_code,
                    "lastError": result.error,
                    "body": state["body"],
                }
            )
        step = {"retry": "WAIT", "dead": "DEAD"}.get(outcome, "DONE")
        return {**state, "attempt": number, "firstAttemptAt": first, "next": step, "waitSeconds": wait or 0}


class CallbackAccount:
    """The API's side: the caller's signing secret and a task's delivery attempts."""

    def __init__(self, settings: Settings, store: CallbackStore, repository: TaskRepository) -> None:
        self._settings = settings
        self._store = store
        self._repository = repository

    def secret(self, user_id: str) -> dict[str, Any]:
        return _secret_reply(self._store.secrets(user_id), utc_now())

    def rotate(self, user_id: str) -> dict[str, Any]:
        now = utc_now()
        overlap = timedelta(seconds=self._settings.callback_secret_overlap_seconds)
        return _secret_reply(self._store.rotate(user_id, now, overlap), now)

    def deliveries(self, user_id: str, video_id: str) -> dict[str, Any]:
        if self._repository.get_owned(video_id, user_id) is None:
            raise NotFoundError(key="task_not_found", params={"videoId": video_id})
        return {
            "videoId": video_id,
            "items": [
                {
                    "webhookId": attempt.webhook_id,
                    "event": attempt.event,
                    "attempt": attempt.attempt,
                    "attemptedAt": attempt.attempted_at,
                    "statusCode": attempt.status_code,
                    "error": attempt.error,
                    "latencyMs": attempt.latency_ms,
                    "outcome": attempt.outcome,
                    "nextRetryAt": attempt.next_retry_at,
                }
                for attempt in self._store.attempts(user_id, video_id)
            ],
        }


def _secret_reply(secrets: Any, now: datetime) -> dict[str, Any]:
    previous_until = secrets.previous_until if len(secrets.signing(now)) > 1 else None
    return {"secret": secrets.current, "previousSecretExpiresAt": previous_until}
