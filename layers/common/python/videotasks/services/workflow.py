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

import dataclasses
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

from aws_lambda_powertools import Logger

from videotasks.adapters import metrics
from videotasks.adapters.media import MediaStore, media_key
from videotasks.adapters.providers import ShapeUnavailableError
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain.catalog import Catalog, CatalogError, ProviderEntry
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import (
    NotFoundError,
    ProviderError,
    ProviderPermanentError,
    ProviderTransientError,
    StaleWriteError,
    TaskStoreBusyError,
)
from videotasks.domain.failures import for_users
from videotasks.domain.lifecycle import (
    PollAction,
    ProviderState,
    archive_deadline,
    decide_after_poll,
    merge_progress,
    next_wait_seconds,
)
from videotasks.domain.media_types import UnsafeMediaError, checked_media_type, content_disposition, peek
from videotasks.domain.models import Task, TaskError, TaskStatus, TaskType, iso, parse_iso, utc_now
from videotasks.domain.polling import Limits, Observation, PollState, Typical, next_delay, typical_time
from videotasks.domain.submission import Wanted, adoptable_job, idempotency_key, matching_jobs
from videotasks.domain.wire import task_ids
from videotasks.settings import Settings

if TYPE_CHECKING:  # the provider modules import httpx: fail_task, which never calls a provider, skips them
    from videotasks.adapters.providers import ImagesProvider, JobRequest, MediaStream, ProviderJob, VideoAdapter

logger = Logger(child=True)

Next = Literal["WAIT", "ARCHIVE", "DONE"]
_CODED_MESSAGE = re.compile(r"^([A-Z][A-Z0-9_]+): (.*)$", re.DOTALL)
_ERROR_CODES_BY_TYPE = {
    "ProviderTransientError": "PROVIDER_UNAVAILABLE",
    "ProviderPermanentError": "PROVIDER_REJECTED",
    "ProviderJobLostError": "PROVIDER_JOB_LOST",
    "States.Timeout": "TIMEOUT",
    # A Lambda invocation killed at its timeout (or out of memory): python3.13 reports Sandbox.Timedout,
    # runtimes that report no error type surface as Lambda.Unknown.
    "Sandbox.Timedout": "TIMEOUT",
    "Lambda.Unknown": "TIMEOUT",
    "States.Aborted": "EXECUTION_ABORTED",
    "States.Failed": "INTERNAL",
    "States.TaskFailed": "INTERNAL",
}
_DEFAULT_MESSAGES = {
    "TIMEOUT": "The task's workflow ran out of time",
    "EXECUTION_ABORTED": "The task's workflow was stopped before the task finished",
}
# Lambda's own words for these carry request ids and sandbox details, nothing a user can act on.
_MESSAGES_OF_TYPE = {
    "Sandbox.Timedout": "A step of the task's workflow ran past its Lambda timeout, also when retried",
    "Lambda.Unknown": "A step of the task's workflow ran past its Lambda timeout or out of memory, also when retried",
}
# Time kept back from a submit's budget, after an image's generation, to download and store the image.
IMAGE_STORE_RESERVE_SECONDS = 20


@dataclass(frozen=True)
class StepResult:
    """A step's answer, which the state machine passes whole to the next step. ``awaitWebhook``: the wait
    ends on the provider's webhook, ``waitSeconds`` being its fallback; ``polling``: the polling policy's
    state (``PollState.to_wire``), carried from poll to poll so that no poll reads it from a table;
    ``finishedJob``: the finished job the last poll saw, so that Archive need not ask the provider again."""

    videoId: str
    next: Next
    waitSeconds: int
    awaitWebhook: bool = False
    polling: dict[str, Any] | None = None
    finishedJob: dict[str, Any] | None = None

    def as_dict(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "videoId": self.videoId,
            "next": self.next,
            "waitSeconds": self.waitSeconds,
            "awaitWebhook": self.awaitWebhook,
        }
        if self.polling is not None:
            result["polling"] = self.polling
        if self.finishedJob is not None:
            result["finishedJob"] = self.finishedJob
        return result


def carried_polling(event: Mapping[str, Any]) -> PollState:
    """The polling state a step's input carries (empty for an execution started before it was carried)."""
    return PollState.from_wire(event.get("polling"), await_webhook=event.get("awaitWebhook") is True)


def carried_job(event: Mapping[str, Any]) -> ProviderJob | None:
    """The finished job a step's input carries (None when there is none, or it is not readable)."""
    wire = event.get("finishedJob")
    if not isinstance(wire, dict):
        return None
    from videotasks.adapters.providers import ProviderJob

    try:
        return ProviderJob(**{**wire, "state": ProviderState(wire["state"])})
    except (KeyError, TypeError, ValueError):
        return None


def job_request(task: Task, provider_model: str, webhook_url: str | None = None) -> JobRequest:
    """The provider's view of the task: its own model name, never our model id."""
    from videotasks.adapters.providers import JobRequest

    return JobRequest(
        prompt=task.prompt,
        model=provider_model,
        seconds=task.seconds,
        size=task.size,
        input_reference=task.inputReference,
        idempotency_key=idempotency_key(task.videoId),
        webhook_url=webhook_url,
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
    if error_type in _MESSAGES_OF_TYPE:
        return TaskError(code=code, message=_MESSAGES_OF_TYPE[error_type])
    if code == "INTERNAL":
        return TaskError(code=code, message="The task failed because of an internal error")
    return TaskError(code=code, message=(message or _DEFAULT_MESSAGES.get(code) or "The task failed")[:500])


class Workflow:
    """The steps, each speaking to the adapter of its task's provider entry through ``VideoAdapter`` only.

    ``videos``/``images`` hand out the client of an entry (built once per entry and process by the
    composition root)."""

    def __init__(
        self,
        settings: Settings,
        repository: TaskRepository,
        catalog: Catalog,
        videos: Callable[[ProviderEntry], VideoAdapter],
        images: Callable[[ProviderEntry], ImagesProvider],
        media: MediaStore,
        clock: Callable[[], datetime] = utc_now,
        *,
        webhooks_ready: Callable[[ProviderEntry], bool] = lambda entry: False,
    ) -> None:
        self._settings = settings
        self._repository = repository
        self._catalog = catalog
        self._videos = videos
        self._images = images
        self._media = media
        self._clock = clock
        self._webhooks_ready = webhooks_ready

    # steps ---------------------------------------------------------------------------------------
    # Each step takes the ``Deadline`` of its invocation (see videotasks.domain.deadline): every provider call
    # gives up by then, leaving the step time to record the outcome before Lambda would kill it.
    @tracer.capture_method
    def submit(self, video_id: str, deadline: Deadline | None = None, webhook_base: str | None = None) -> StepResult:
        """``webhook_base``: where providers reach our webhook route (``…/api/video/webhooks``), from the
        execution's input; a task whose provider entry takes webhooks asks to be called back there, and
        its waits then end on the webhook (``awaitWebhook``), the poll delay being their fallback."""
        deadline = deadline or Deadline.none()
        task = self._load(video_id)
        if task.is_terminal:
            return self._done(task)
        if task.type is TaskType.IMAGE:
            return self._generate_image(task, deadline)
        # The same on a retry (same task, same input): a job adopted from an earlier attempt asked for it too.
        webhook_url = self._webhook_url(task, webhook_base)
        if task.status is TaskStatus.PROCESSING:  # a retried submit whose first write landed
            return self._wait(task, self._first_polling(task, await_webhook=webhook_url is not None))
        adapter, provider_model = self._video_adapter(task)
        try:
            job = self._submit_video_once(task, adapter, provider_model, deadline, webhook_url)
        except StaleWriteError:
            return self._done(task)  # cancelled before we asked the provider
        logger.info("submitted to provider", extra={"externalVideoId": job.id, "providerStatus": job.raw_status})
        try:
            task = self._repository.transition(
                task,
                TaskStatus.PROCESSING,
                externalTaskId=job.id,
                providerStatus=job.raw_status,
                progress=merge_progress(task.progress, job.progress),
            )
        except StaleWriteError:
            self._cancel_at_provider(adapter, job.id, deadline)
            return self._done(task)
        return self._wait(task, self._first_polling(task, await_webhook=webhook_url is not None))

    @tracer.capture_method
    def poll(self, video_id: str, deadline: Deadline | None = None, polling: PollState | None = None) -> StepResult:
        """``polling``: the state the previous step handed on; without one (an execution started before it
        was carried) the catalog's typical time stands in for the learned one."""
        task = self._load(video_id)
        if task.status is not TaskStatus.PROCESSING or not task.externalTaskId:
            return self._done(task)
        attempts = task.pollAttempts + 1
        adapter, _ = self._video_adapter(task)
        job: ProviderJob | None
        retry_after = None
        try:
            job = adapter.get_job(task.externalTaskId, deadline=deadline)
        except ProviderTransientError as exc:
            # A relay outage is not the job's failure: keep polling, bounded by attempts and time.
            logger.warning("provider unavailable while polling", extra={"reason": exc.message})
            job = None
            retry_after = exc.retry_after
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
            finished = dataclasses.asdict(job) if job else None
            return StepResult(task.videoId, "ARCHIVE", 0, polling.await_webhook if polling else False, None, finished)
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
        observation = Observation(
            elapsed=self._since_submit(task),
            progress=job.progress if job else None,
            queue_position=job.queue_position if job else None,
            eta_seconds=job.eta_seconds if job else None,
            retry_after=retry_after,
        )
        state = polling or PollState()
        if state.typical is None:
            state = replace(state, typical=self._prior_typical(task))
        return self._wait(task, state.observe(observation), observation)

    @tracer.capture_method
    def archive(
        self, video_id: str, deadline: Deadline | None = None, finished: ProviderJob | None = None
    ) -> StepResult:
        """Copy the finished media into S3, within the invocation's deadline and the task's own: past
        ``archive_deadline`` the task ends FAILED with TIMEOUT instead of downloading (and retrying) on.

        ``finished`` is the job as the poll that saw it finished reported it: no second status call. Should
        its media address have gone stale meanwhile, the provider is asked for the job once more."""
        task = self._load(video_id)
        if task.status is not TaskStatus.PROCESSING or not task.externalTaskId:
            return self._done(task)
        ends = archive_deadline(parse_iso(task.createdAt), self._settings.task_timeout_seconds)
        left = (ends - self._clock()).total_seconds()
        if left <= 0:
            return self._fail(task, self._archive_timeout())
        deadline = (deadline or Deadline.none()).earliest(left)
        adapter, _ = self._video_adapter(task)
        from videotasks.adapters.providers.base import CONTENT_GONE

        carried = finished if finished is not None and finished.id == task.externalTaskId else None
        try:
            job = carried or adapter.get_job(task.externalTaskId, deadline=deadline)
            try:
                key, content_type, size = self._copy_media(task, adapter, job, deadline)
            except ProviderPermanentError as exc:
                if carried is None or exc.code != CONTENT_GONE:
                    raise
                job = adapter.get_job(task.externalTaskId, deadline=deadline)
                key, content_type, size = self._copy_media(task, adapter, job, deadline)
        except ProviderTransientError:
            if self._clock() >= ends:  # the task's time is up: no retry can help
                return self._fail(task, self._archive_timeout())
            raise
        return self._complete(task, key, content_type, size, job.raw_status)

    @tracer.capture_method
    def fail(self, video_id: str, error_type: str | None, cause: str | None) -> StepResult:
        task = self._load(video_id)
        if task.is_terminal:
            return self._done(task)
        error = error_from_failure(error_type, cause)
        logger.info("the execution caught an error", extra={"errorType": error_type})
        return self._fail(task, error)

    # helpers -------------------------------------------------------------------------------------
    def _generate_image(self, task: Task, deadline: Deadline) -> StepResult:
        """Images are generated synchronously: generate, store and complete in this one step. A retried
        submit (the first generation's download failed) generates again; the job had no other handle.
        The generation leaves ``IMAGE_STORE_RESERVE_SECONDS`` of the budget for the download; its timeout,
        once sent, is permanent (see ``ImagesProvider.generate``): at most one paid generation per timeout."""
        entry, provider_model = self._route(task)
        images = self._images(entry)
        job = images.generate(job_request(task, provider_model), deadline=deadline.minus(IMAGE_STORE_RESERVE_SECONDS))
        changes = {"externalTaskId": job.id, "providerStatus": job.raw_status}
        try:
            if task.status is TaskStatus.QUEUED:
                task = self._repository.transition(task, TaskStatus.PROCESSING, **changes)
            else:
                task = self._repository.update_running(task, **changes)
        except StaleWriteError:
            return self._done(task)  # cancelled while the image was being generated
        with images.open_content(job, deadline=deadline) as media:
            key, content_type, size = self._store_media(task, media)
        self._complete(task, key, content_type, size, job.raw_status)
        return self._done(task)

    def _submit_video_once(
        self,
        task: Task,
        adapter: VideoAdapter,
        provider_model: str,
        deadline: Deadline | None,
        webhook_url: str | None = None,
    ) -> ProviderJob:
        """Create the task's job, unless an earlier attempt whose reply was lost already made it.

        The mark written before each create tells a retried Submit that a job may exist; it then looks
        for that job (``submission``) before creating again. The create's idempotency key covers
        providers whose list cannot show it."""
        now = self._clock()
        if task.submitStartedAt:
            adopted = self._find_submitted_job(
                task, adapter, provider_model, deadline, since=parse_iso(task.submitStartedAt), until=now
            )
            if adopted is not None:
                return adopted
        task = self._repository.update_running(
            task, submitStartedAt=task.submitStartedAt or iso(now), submitAttempts=task.submitAttempts + 1
        )
        request = job_request(task, provider_model, webhook_url)
        if task.remixSource:  # a remix (videotasks.domain.lineage): the provider makes it from the source's job
            return adapter.remix_job(task.remixSource, request, deadline=deadline)
        return adapter.create_job(request, deadline=deadline)

    def _find_submitted_job(
        self,
        task: Task,
        adapter: VideoAdapter,
        provider_model: str,
        deadline: Deadline | None,
        *,
        since: datetime,
        until: datetime,
    ) -> ProviderJob | None:
        if not adapter.CAPABILITIES.list_jobs:  # nothing to look in: the idempotency key is all we have
            logger.info("the provider cannot list jobs; creating again under the same idempotency key")
            return None
        try:
            listed = adapter.list_recent_jobs(deadline=deadline)
        except ProviderPermanentError as exc:  # no list at this provider: the idempotency key is all we have
            logger.warning("cannot list provider jobs before resubmitting", extra={"reason": exc.message})
            return None
        wanted = Wanted(task.prompt, provider_model, task.seconds, task.size, since=since, until=until)
        matching = matching_jobs(listed, wanted)
        claimed = {job_id for job_id in matching if self._repository.external_id_claimed(job_id)}
        job_id = adoptable_job(matching, claimed)
        logger.info(
            "looked for a job made by an earlier submit",
            extra={"matching": len(matching), "claimed": len(claimed), "adopted": job_id},
        )
        return adapter.get_job(job_id, deadline=deadline) if job_id else None

    def _copy_media(
        self, task: Task, adapter: VideoAdapter, job: ProviderJob, deadline: Deadline
    ) -> tuple[str, str, int]:
        with adapter.open_content(job, deadline=deadline) as media:
            return self._store_media(task, media)

    def _store_media(self, task: Task, media: MediaStream) -> tuple[str, str, int]:
        """Store the provider's media under its checked type: (key, content type, bytes). Media that is
        not an allowed video/image type is refused before anything is written, and cannot get better."""
        head, chunks = peek(media.chunks)
        try:
            content_type = checked_media_type(media.content_type, head)
        except UnsafeMediaError as exc:
            raise ProviderPermanentError(
                f"The provider's result was refused: {exc}", code="PROVIDER_BAD_MEDIA"
            ) from exc
        key = media_key(task.videoId, content_type)
        disposition = content_disposition(task.videoId, content_type)
        size = self._media.put_stream(key, chunks, content_type, content_disposition=disposition)
        return key, content_type, size

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
            metrics.task_ended(TaskStatus.COMPLETED, generation_seconds=completed.generation_seconds)
            if task.type is TaskType.VIDEO and completed.completedAt:
                generated = parse_iso(completed.completedAt) - self._submitted_at(task)
                self._repository.record_generation_time(task.model, max(0.0, generated.total_seconds()))
        except TaskStoreBusyError:
            # Nothing was written and the step will be retried; a cancel landing before that retry would
            # leave this copy behind (the retry sees a CANCELLED task and stops), so it goes now: the retry
            # copies again.
            self._media.delete(key)
            raise
        except StaleWriteError:
            current = self._repository.get(task.videoId)
            if current is not None and current.status is TaskStatus.COMPLETED and current.mediaKey == key:
                return self._done(task)  # a duplicate archive already completed it with this very object
            # Cancelled or failed while we were copying: the copy must not outlive the task's state.
            self._media.delete(key)
            logger.info("archive lost the race to another ending; stored copy removed")
        return self._done(task)

    def _fail(self, task: Task, error: TaskError, **changes: Any) -> StepResult:
        error = for_users(error)
        try:
            self._repository.transition(task, TaskStatus.FAILED, error=error, **changes)
        except StaleWriteError:
            return self._done(task)  # someone else ended it first; their terminal state stands
        logger.warning("task failed", extra={"errorCode": error.code, "errorDetails": error.details})
        metrics.task_ended(TaskStatus.FAILED, error_code=error.code)
        return self._done(task)

    def _route(self, task: Task) -> tuple[ProviderEntry, str]:
        """The task's provider entry and model name; one this deployment cannot serve fails the task."""
        try:
            return self._catalog.route(task.model, task.provider, task.providerModel)
        except CatalogError as exc:
            raise ProviderPermanentError(str(exc), code="PROVIDER_NOT_CONFIGURED") from exc

    def _video_adapter(self, task: Task) -> tuple[VideoAdapter, str]:
        entry, provider_model = self._route(task)
        try:
            return self._videos(entry), provider_model
        except ShapeUnavailableError as exc:
            raise ProviderPermanentError(str(exc), code="PROVIDER_NOT_CONFIGURED") from exc

    def _cancel_at_provider(self, adapter: VideoAdapter, external_id: str, deadline: Deadline) -> None:
        if not adapter.CAPABILITIES.cancel:
            return  # the job runs to its end at the provider; nothing will fetch it
        try:
            adapter.cancel_job(external_id, deadline=deadline)
        except ProviderError as exc:
            logger.warning("provider refused to cancel", extra={"externalVideoId": external_id, "reason": exc.message})

    def _load(self, video_id: str) -> Task:
        task = self._repository.get(video_id)
        if task is None:
            raise NotFoundError(f"Task {video_id} does not exist")
        logger.append_keys(**task_ids(task))
        return task

    def _wait(self, task: Task, state: PollState, observation: Observation | None = None) -> StepResult:
        """Wait as long as the polling policy says, never past the task's deadline."""
        settings = self._settings
        limits = Limits(
            min_seconds=settings.poll_min_seconds,
            max_seconds=max(settings.poll_min_seconds, settings.poll_max_seconds),
            webhook_max_seconds=settings.poll_webhook_max_seconds,
            unknown_seconds=settings.poll_interval_seconds,
        )
        delay = next_delay(state, self._since_submit(task), limits, observation)
        seconds = next_wait_seconds(
            delay,
            created_at=parse_iso(task.createdAt),
            now=self._clock(),
            timeout_seconds=settings.task_timeout_seconds,
        )
        return StepResult(task.videoId, "WAIT", seconds, state.await_webhook, state.to_wire())

    def _first_polling(self, task: Task, *, await_webhook: bool) -> PollState:
        """The policy's state at submit: the model's learned times, read once here and carried after."""
        learned = self._repository.generation_times(task.model)
        typical = typical_time(learned, self._catalog_typical_seconds(task))
        return PollState(typical=typical, await_webhook=await_webhook)

    def _webhook_url(self, task: Task, webhook_base: str | None) -> str | None:
        """Where the task's provider should call back, when its entry takes webhooks and we know our address."""
        if not webhook_base:
            return None
        entry, _ = self._route(task)
        return f"{webhook_base.rstrip('/')}/{entry.id}" if self._webhooks_ready(entry) else None

    def _prior_typical(self, task: Task) -> Typical | None:
        return Typical.prior(self._catalog_typical_seconds(task))

    def _catalog_typical_seconds(self, task: Task) -> int | None:
        model = self._catalog.model(task.model)
        return model.typical_seconds if model else None

    def _submitted_at(self, task: Task) -> datetime:
        return parse_iso(task.submitStartedAt or task.createdAt)

    def _since_submit(self, task: Task) -> float:
        return max(0.0, (self._clock() - self._submitted_at(task)).total_seconds())

    def _archive_timeout(self) -> TaskError:
        return TaskError(
            code="TIMEOUT",
            message=f"The media could not be stored within the task's {self._settings.task_timeout_seconds} seconds",
        )

    @staticmethod
    def _done(task: Task) -> StepResult:
        return StepResult(task.videoId, "DONE", 0)
