"""Task operations behind the HTTP API: one method per route, no HTTP in here."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger

from .errors import NotFoundError
from .executions import Executions
from .ids import new_video_id
from .models import Task, TaskError, TaskStatus, iso, utc_now
from .repository import TaskRepository
from .schemas import CreateTaskRequest, resolve_model_options
from .settings import Settings
from .storage import MediaStore

logger = Logger(child=True)


class StartFailedError(Exception):
    """The task was recorded but its workflow could not start; it has been marked FAILED."""


class TaskService:
    def __init__(
        self, settings: Settings, repository: TaskRepository, executions: Executions, media: MediaStore
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._executions = executions
        self._media = media

    def create(self, user_id: str, request: CreateTaskRequest) -> Task:
        model, seconds, size = resolve_model_options(request, self._settings)
        now = iso(utc_now())
        task = Task(
            videoId=new_video_id(),
            userId=user_id,
            type=request.type,
            prompt=request.prompt,
            model=model,
            seconds=seconds,
            size=size,
            inputReference=request.inputReference,
            clientRequestId=request.clientRequestId,
            metadata={**(request.metadata or {}), "externalTaskId": None},
            createdAt=now,
            updatedAt=now,
        )
        self._repository.create(task)
        logger.append_keys(videoId=task.videoId)
        try:
            execution_arn = self._executions.start(task.videoId)
        except Exception as exc:
            logger.exception("could not start the workflow")
            self._repository.transition(
                task, TaskStatus.FAILED, error=TaskError(code="INTERNAL", message="The task could not be started")
            )
            raise StartFailedError(task.videoId) from exc
        self._repository.set_execution(task.videoId, execution_arn)
        logger.info("task created", extra={"model": model, "type": task.type.value})
        return task.model_copy(update={"executionArn": execution_arn})

    def get(self, user_id: str, video_id: str) -> Task:
        task = self._repository.get_owned(video_id, user_id)
        if task is None:
            raise NotFoundError(f"Task {video_id} not found")
        return task

    def public(self, task: Task) -> dict[str, Any]:
        """The client view of a task, with a fresh playable URL once it is COMPLETED."""
        url = None
        if task.status is TaskStatus.COMPLETED and task.mediaKey:
            url, _ = self._media.presigned_url(task.mediaKey, self._settings.media_url_ttl_seconds)
        return task.to_public(video_url=url)
