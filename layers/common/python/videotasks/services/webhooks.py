"""Provider webhooks: a verified notice that a job moved on wakes its task's execution now.

The notice itself is not trusted to say how the job ended: the woken execution polls the provider as it
would have after its wait, so a webhook only ever changes *when* we look, never *what* we record. That
keeps one path for every outcome, and a leaked signing secret could at worst make us poll early.

Nothing changes for a notice that is forged, stale, replayed, or names no task of that provider: the
checks run before any write, in that order, and the replay record is the first write.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools import Logger

from videotasks.adapters.executions import Waker
from videotasks.adapters.providers.webhooks import (
    WebhookRejected,
    WebhookVerificationUnavailableError,
    read_webhook,
    takes_webhooks,
)
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.store.webhooks import WebhookStore
from videotasks.adapters.tracing import tracer
from videotasks.domain.catalog import Catalog, ProviderEntry
from videotasks.domain.errors import NotFoundError, UnauthorizedError, UnavailableError
from videotasks.domain.wire import task_ids

logger = Logger(child=True)


@dataclass(frozen=True)
class Received:
    """A notice taken: ``woke`` is False when the execution was not waiting (it polls on its own)."""

    video_id: str
    woke: bool


class WebhookService:
    def __init__(
        self,
        catalog: Catalog,
        repository: TaskRepository,
        store: WebhookStore,
        waker: Waker,
        *,
        verification: Callable[[ProviderEntry], Mapping[str, Any]],
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``verification(entry)`` gives what ``read_webhook`` needs for the entry (its secret, its keys),
        read on first use and cached by the composition root."""
        self._catalog = catalog
        self._repository = repository
        self._store = store
        self._waker = waker
        self._verification = verification
        self._clock = clock

    @tracer.capture_method(capture_response=False)
    def receive(
        self, entry_id: str, headers: Mapping[str, str], body: bytes, query: Mapping[str, str] | None = None
    ) -> Received:
        """Take the webhook that came to ``/webhooks/<entry_id>?<query>`` with these headers and exact body."""
        entry = self._catalog.entries.get(entry_id)
        if entry is None or not takes_webhooks(entry):
            raise NotFoundError(f"No provider entry {entry_id!r} sends webhooks here")
        now = self._clock()
        try:
            notice = read_webhook(entry.shape, headers, body, now=now, query=query, **self._verification(entry))
        except WebhookRejected as exc:
            logger.warning("webhook refused", extra={"provider": entry_id, "reason": exc.reason})
            raise UnauthorizedError(f"Webhook refused: {exc.reason}") from exc
        except WebhookVerificationUnavailableError as exc:
            logger.error("cannot verify webhooks", extra={"provider": entry_id, "reason": str(exc)})
            raise UnavailableError("Webhooks of this provider cannot be verified right now") from exc
        task = self._repository.find_by_external_id(notice.external_id, provider=entry_id)
        if task is None:
            logger.info("webhook for no task of ours", extra={"provider": entry_id})
            raise NotFoundError(f"No task has {entry_id} job {notice.external_id!r}")
        logger.append_keys(**task_ids(task))
        if not self._store.remember(entry_id, notice.event_id, now=now):
            logger.warning("webhook replayed", extra={"provider": entry_id})
            raise UnauthorizedError(f"Webhook refused: {notice.event_id!r} was already received")
        if task.is_terminal:
            return Received(task.videoId, woke=False)
        try:
            token = self._store.take_token(task.videoId, now=now)
            woke = self._waker.wake(token) if token else False
        except Exception:
            # Not acted on: the provider's retry of this very notice must not count as a replay.
            self._store.forget(entry_id, notice.event_id)
            raise
        logger.info("webhook received", extra={"provider": entry_id, "providerStatus": notice.raw_status, "woke": woke})
        return Received(task.videoId, woke=woke)
