"""Retry and remix: a new task made from one of the caller's own (``videotasks.domain.lineage``).

Both read the source as ``GET`` does (another user's task is not there), check its state, and hand the
new task's request to ``TaskService.create_once``: the same create as ``POST /tasks``, with every rule a
create has, and an ``Idempotency-Key`` scoped to the action and its source.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from videotasks.adapters.providers import ShapeUnavailableError, shape_capabilities
from videotasks.adapters.tracing import tracer
from videotasks.domain.catalog import Catalog, describe
from videotasks.domain.lineage import (
    RemixTaskRequest,
    RetryTaskRequest,
    check_remixable,
    check_retryable,
    remix_request,
    retry_request,
)
from videotasks.domain.models import Task
from videotasks.services.tasks import TaskService

logger = Logger(child=True)


class TaskLineage:
    def __init__(self, tasks: TaskService, catalog: Catalog) -> None:
        self._tasks = tasks
        self._catalog = catalog

    @tracer.capture_method(capture_response=False)
    def retry(
        self,
        user_id: str,
        video_id: str,
        idempotency_key: str | None,
        lambda_context: Any = None,
        body: RetryTaskRequest | None = None,
        **create: Any,
    ) -> tuple[Task, bool]:
        """A new task with the parameters of the caller's FAILED or CANCELLED ``video_id`` (a callbackUrl in
        ``body`` replaces the source's); ``create``: the create's other keywords (``webhook_base``)."""
        source = self._tasks.get(user_id, video_id)
        check_retryable(source)
        return self._tasks.create_once(
            user_id,
            retry_request(source, body),
            idempotency_key,
            lambda_context,
            lineage={"retryOf": source.videoId},
            key_scope=f"retry:{source.videoId}",
            **create,
        )

    @tracer.capture_method(capture_response=False)
    def remix(
        self,
        user_id: str,
        video_id: str,
        prompt: str,
        idempotency_key: str | None,
        lambda_context: Any = None,
        body: RemixTaskRequest | None = None,
        **create: Any,
    ) -> tuple[Task, bool]:
        """A new video of the caller's COMPLETED ``video_id`` with ``prompt``, made by its provider's remix."""
        source = self._tasks.get(user_id, video_id)
        check_remixable(source, model_can_remix=self.can_remix(source))
        return self._tasks.create_once(
            user_id,
            remix_request(source, prompt, body),
            idempotency_key,
            lambda_context,
            lineage={"remixOf": source.videoId, "remixSource": str(source.externalTaskId)},
            key_scope=f"remix:{source.videoId}",
            **create,
        )

    def can_remix(self, task: Task) -> bool:
        """Whether the task's model can remix, as ``GET /models`` lists it (its shape's capability, as the
        catalog overrides it). A model the catalog no longer knows cannot."""
        model = self._catalog.model(task.model)
        entry = self._catalog.entries.get(model.provider) if model else None
        if model is None or entry is None:
            return False
        try:
            return bool(describe(model, shape_capabilities(entry.shape))["capabilities"]["remix"])
        except ShapeUnavailableError:
            logger.warning("the model's provider shape is not in this build", extra={"model": task.model})
            return False
