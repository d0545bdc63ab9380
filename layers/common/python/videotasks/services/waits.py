"""The workflow's callback wait: park the execution's task token where a provider webhook will find it.

Runs as the Lambda behind the state machine's ``AwaitProvider`` state (``lambda:invoke.waitForTaskToken``).
The state waits until the webhook sends the token back or its timeout (the next poll delay) passes;
either way the execution polls next. A webhook that came before the wait began is answered by failing
this invocation with ``WebhookArrivedError``, which the state catches and polls at once. Parking never
fails a task: on any other error the state machine falls back to a plain Wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from aws_lambda_powertools import Logger

from videotasks.adapters.store.webhooks import WebhookStore
from videotasks.adapters.tracing import tracer

logger = Logger(child=True)


class WebhookArrivedError(Exception):
    """The provider's webhook came while nothing was waiting: poll now (the state machine matches the name)."""


class WaitService:
    def __init__(self, store: WebhookStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock

    @tracer.capture_method(capture_response=False)
    def park(self, video_id: str, task_token: str) -> None:
        """Leave the token for the webhook; raises ``WebhookArrivedError`` when the webhook already came."""
        if self._store.park(video_id, task_token, now=self._clock()).wake_now:
            logger.info("a webhook came before the wait began; polling now")
            raise WebhookArrivedError(f"The provider's webhook for {video_id} came before the wait began")
