"""The steps of the state machine: submit, poll, archive and fail.

Each step reads the task, asks the provider, and writes the outcome with a conditional write. A step
that finds the task terminal (cancelled meanwhile, or already done by a retried invocation) says
``DONE`` and changes nothing, which makes every step safe to retry.

Only ``StaleWriteError`` means "someone else moved the task on". ``TaskStoreBusyError`` (DynamoDB refused
the write for a moment and kept refusing) means nothing was written: no step catches it, so the Lambda
fails with that error type and the state machine retries the step (its own Retry entry), instead of a
step cancelling a provider job, deleting stored media or giving up on a task that did not move.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aws_lambda_powertools import Logger

from . import telemetry
from .errors import NotFoundError, ProviderError, ProviderPermanentError, ProviderTransientError, StaleWriteError
from .lifecycle import PollAction, ProviderState, decide_after_poll, merge_progress
from .models import Task, TaskError, TaskStatus, TaskType, parse_iso, utc_now
from .providers import ImagesProvider, JobRequest, ProviderJob, VideosProvider
from .repository import TaskRepository
from .settings import Settings
from .storage import MediaStore, media_key

logger = Logger(child=True)

Next = Literal["WAIT", "ARCHIVE", "DONE"]
_CODED_MESSAGE = re.compile(r"^([A-Z][A-Z0-9_]+): (.*)$", re.DOTALL)
_ERROR_CODES_BY_TYPE = {
    "ProviderTransientError": "PROVIDER_UNAVAILABLE",
    "ProviderPermanentError": "PROVIDER_REJECTED",
    "ProviderJobLostError": "PROVIDER_JOB_LOST",
    "States.Timeout": "TIMEOUT",
    "States.Aborted": "EXECUTION_ABORTED",
    "States.Failed": "INTERNAL",
    "States.TaskFailed": "INTERNAL",
}
_DEFAULT_MESSAGES = {
    "TIMEOUT": "The task's workflow ran out of time",
    "EXECUTION_ABORTED": "The task's workflow was stopped before the task finished",
}


@dataclass(frozen=True)
class StepResult:
    videoId: str
    next: Next
    waitSeconds: int

    def as_dict(self) -> dict[str, Any]:
        return {"videoId": self.videoId, "next": self.next, "waitSeconds": self.waitSeconds}


def job_request(task: Task) -> JobRequest:
    return JobRequest(
        prompt=task.prompt, model=task.model, seconds=task.seconds, size=task.size, input_reference=task.inputReference
    )


def error_from_failure(error_type: str | None, cause: str | None) -> TaskError:
    """Turn a Step Functions Catch result into the task's ``error``, without leaking stack traces."""
    message = ""
    try:
        parsed = json.loads(cause or "")
        message = str(parsed.get("errorMessage", "")) if isinstance(parsed, dict) else ""
        error_type = error_type or (parsed.get("errorType") if isinstance(parsed, dict) else None)
    except ValueError:
        message = cause or ""
    coded = _CODED_MESSAGE.match(message)
    if coded:
        return TaskError(code=coded.group(1), message=coded.group(2)[:500])
    code = _ERROR_CODES_BY_TYPE.get(error_type or "", "INTERNAL")
    if code == "INTERNAL":
        return TaskError(code=code, message="The task failed because of an internal error")
    return TaskError(code=code, message=(message or _DEFAULT_MESSAGES.get(code) or "The task failed")[:500])


class Workflow:
    def __init__(
        self,
        settings: Settings,
        repository: TaskRepository,
        videos: VideosProvider,
        images: ImagesProvider,
        media: MediaStore,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._videos = videos
        self._images = images
        self._media = media
        self._clock = clock

    # steps ---------------------------------------------------------------------------------------
    def submit(self, video_id: str) -> StepResult:
        task = self._load(video_id)
        if task.is_terminal:
            return self._done(task)
        if task.type is TaskType.IMAGE:
            return self._generate_image(task)
        if task.status is TaskStatus.PROCESSING:  # a retried submit whose first write landed
            return self._wait(task)
        job = self._videos.create_job(job_request(task))
        logger.info("submitted to provider", extra={"externalVideoId": job.id, "providerStatus": job.raw_status})
        try:
            task = self._repository.transition(
                task,
                TaskStatus.PROCESSING,
                externalTaskId=job.id,
                metadata={**task.metadata, "externalTaskId": job.id},
                providerStatus=job.raw_status,
                progress=merge_progress(task.progress, job.progress),
            )
        except StaleWriteError:
            self._cancel_at_provider(job.id)
            return self._done(task)
        return self._wait(task)

    def poll(self, video_id: str) -> StepResult:
        task = self._load(video_id)
        if task.status is not TaskStatus.PROCESSING or not task.externalTaskId:
            return self._done(task)
        attempts = task.pollAttempts + 1
        job: ProviderJob | None
        try:
            job = self._videos.get_job(task.externalTaskId)
        except ProviderTransientError as exc:
            # A relay outage is not the job's failure: keep polling, bounded by attempts and time.
            logger.warning("provider unavailable while polling", extra={"reason": exc.message})
            job = None
        except ProviderPermanentError as exc:
            return self._fail(task, TaskError(code=exc.code, message=exc.message))
        decision = decide_after_poll(
            job.state if job else ProviderState.RUNNING,
            attempts=attempts,
            max_attempts=self._settings.max_poll_attempts,
            created_at=parse_iso(task.createdAt),
            now=self._clock(),
            timeout_seconds=self._settings.task_timeout_seconds,
            provider_error=job.error_message if job else None,
        )
        if decision.action is PollAction.ARCHIVE:
            return StepResult(task.videoId, "ARCHIVE", 0)
        if decision.action is PollAction.FAIL:
            code = job.error_code if job and job.state is ProviderState.FAILED and job.error_code else None
            error = TaskError(
                code=code or decision.error_code or "PROVIDER_FAILED", message=decision.error_message or ""
            )
            return self._fail(task, error, providerStatus=job.raw_status if job else task.providerStatus)
        try:
            task = self._repository.update_running(
                task,
                progress=merge_progress(task.progress, job.progress if job else None),
                pollAttempts=attempts,
                providerStatus=job.raw_status if job else task.providerStatus,
            )
        except StaleWriteError:
            return self._done(task)
        return self._wait(task)

    def archive(self, video_id: str) -> StepResult:
        task = self._load(video_id)
        if task.status is not TaskStatus.PROCESSING or not task.externalTaskId:
            return self._done(task)
        job = self._videos.get_job(task.externalTaskId)
        with self._videos.open_content(job) as media:
            key = media_key(task.videoId, media.content_type)
            size = self._media.put_stream(key, media.chunks, media.content_type)
            content_type = media.content_type
        return self._complete(task, key, content_type, size, job.raw_status)

    def fail(self, video_id: str, error_type: str | None, cause: str | None) -> StepResult:
        task = self._load(video_id)
        if task.is_terminal:
            return self._done(task)
        error = error_from_failure(error_type, cause)
        logger.info("the execution caught an error", extra={"errorType": error_type})
        return self._fail(task, error)

    # helpers -------------------------------------------------------------------------------------
    def _generate_image(self, task: Task) -> StepResult:
        """Images are generated synchronously: generate, store and complete in this one step. A retried
        submit (the first generation's download failed) generates again; the job had no other handle."""
        job = self._images.generate(job_request(task))
        changes = {
            "externalTaskId": job.id,
            "metadata": {**task.metadata, "externalTaskId": job.id},
            "providerStatus": job.raw_status,
        }
        try:
            if task.status is TaskStatus.QUEUED:
                task = self._repository.transition(task, TaskStatus.PROCESSING, **changes)
            else:
                task = self._repository.update_running(task, **changes)
        except StaleWriteError:
            return self._done(task)  # cancelled while the image was being generated
        with self._images.open_content(job) as media:
            key = media_key(task.videoId, media.content_type)
            size = self._media.put_stream(key, media.chunks, media.content_type)
            content_type = media.content_type
        self._complete(task, key, content_type, size, job.raw_status)
        return self._done(task)

    def _complete(self, task: Task, key: str, content_type: str, size: int, raw_status: str) -> StepResult:
        try:
            completed = self._repository.transition(
                task,
                TaskStatus.COMPLETED,
                progress=100,
                mediaKey=key,
                mediaContentType=content_type,
                providerStatus=raw_status,
                metadata={**task.metadata, "mediaBytes": size},
            )
            telemetry.task_ended(TaskStatus.COMPLETED, generation_seconds=completed.generation_seconds)
        except StaleWriteError:
            current = self._repository.get(task.videoId)
            if current is not None and current.status is TaskStatus.COMPLETED and current.mediaKey == key:
                return self._done(task)  # a duplicate archive already completed it with this very object
            # Cancelled or failed while we were copying: the copy must not outlive the task's state.
            self._media.delete(key)
            logger.info("archive lost the race to another ending; stored copy removed")
        return self._done(task)

    def _fail(self, task: Task, error: TaskError, **changes: Any) -> StepResult:
        try:
            self._repository.transition(task, TaskStatus.FAILED, error=error, **changes)
        except StaleWriteError:
            return self._done(task)  # someone else ended it first; their terminal state stands
        logger.warning("task failed", extra={"errorCode": error.code})
        telemetry.task_ended(TaskStatus.FAILED, error_code=error.code)
        return self._done(task)

    def _cancel_at_provider(self, external_id: str) -> None:
        try:
            self._videos.cancel_job(external_id)
        except ProviderError as exc:
            logger.warning("provider refused to cancel", extra={"externalVideoId": external_id, "reason": exc.message})

    def _load(self, video_id: str) -> Task:
        task = self._repository.get(video_id)
        if task is None:
            raise NotFoundError(f"Task {video_id} does not exist")
        logger.append_keys(videoId=task.videoId, externalVideoId=task.externalTaskId)
        return task

    def _wait(self, task: Task) -> StepResult:
        return StepResult(task.videoId, "WAIT", self._settings.poll_interval_seconds)

    @staticmethod
    def _done(task: Task) -> StepResult:
        return StepResult(task.videoId, "DONE", 0)
