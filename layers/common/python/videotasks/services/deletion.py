"""Delete: an ended task of the caller's is removed with its media, and its counters follow.

The record goes first, in one transaction with the counters (conditional on the task being there and
ended), then the media object and its poster. Should S3 fail here, the record's removal still reaches the tasks table's
stream, whose handler (``services/broadcasting``) deletes the media again (a delete of a missing object
succeeds) and tells the owner's sockets: no object outlives its task.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger

from videotasks.adapters import metrics
from videotasks.adapters.media import MediaStore
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain.errors import NotFoundError, StaleWriteError
from videotasks.domain.lineage import check_deletable
from videotasks.domain.models import Task
from videotasks.domain.wire import task_ids
from videotasks.services.tasks import TaskService

logger = Logger(child=True)


class TaskDeletion:
    def __init__(self, tasks: TaskService, repository: TaskRepository, media: MediaStore) -> None:
        self._tasks = tasks
        self._repository = repository
        self._media = media

    @tracer.capture_method(capture_response=False)
    def delete(self, user_id: str, video_id: str) -> Task:
        """Remove the caller's ended task; returns it as it was. A running task is a 409 (cancel it first);
        a missing one, another user's or one deleted already, a 404."""
        task = self._tasks.get(user_id, video_id)
        check_deletable(task)
        try:
            self._repository.delete(task)
        except StaleWriteError:
            # An ended task never changes: it can only have been deleted meanwhile (a concurrent delete).
            raise NotFoundError(key="task_not_found", params={"videoId": video_id}) from None
        logger.append_keys(**task_ids(task))
        logger.info("task deleted", extra={"status": task.status.value})
        metrics.task_deleted()
        for key in (task.mediaKey, task.posterKey):
            if not key:
                continue
            try:
                self._media.delete(key)
            except Exception:  # the record is gone; the stream's handler deletes the object again
                logger.exception("could not delete the media; the stream's handler will")
        return task
