"""Task operations behind the HTTP API: one method per route, no HTTP in here."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger

from videotasks.adapters import metrics
from videotasks.adapters.executions import Executions
from videotasks.adapters.media import MediaStore
from videotasks.adapters.providers import ShapeUnavailableError, shape_capabilities
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.tracing import tracer
from videotasks.domain import cursor
from videotasks.domain.batch import BatchCreateRequest, BatchItemRefused
from videotasks.domain.catalog import Catalog, CatalogError, ProviderEntry, describe, resolve_model_options
from videotasks.domain.errors import (
    ConflictError,
    NotFoundError,
    ProviderError,
    StaleWriteError,
    TaskStoreBusyError,
    ValidationError,
)
from videotasks.domain.ids import new_video_id
from videotasks.domain.messages import DEFAULT_LANG
from videotasks.domain.models import TERMINAL_STATUSES, Task, TaskError, TaskStatus, TaskType, iso, utc_now
from videotasks.domain.requests import MAX_PAGE_WINDOW, CreateTaskRequest, ListTasksQuery
from videotasks.domain.wire import task_ids, task_json
from videotasks.services.admission import Admission
from videotasks.services.media_links import media_link, playable_url, poster_url
from videotasks.settings import Settings

if TYPE_CHECKING:
    from videotasks.adapters.idempotency import IdempotentBatch, IdempotentCreate
    from videotasks.adapters.providers import VideoAdapter

logger = Logger(child=True)


CANCEL_ATTEMPTS = 3
# Where providers that call back reach this deployment, for the length of one create: the idempotent path
# calls ``create`` through Powertools, which passes on only the user and the body.
_webhook_base: ContextVar[str | None] = ContextVar("webhook_base", default=None)
# The caller's plan claim, for the same reason.
_plan: ContextVar[str | None] = ContextVar("plan", default=None)
# The new task's lineage (retryOf, remixOf, remixSource: videotasks.domain.lineage), for the same reason.
_lineage: ContextVar[Mapping[str, str] | None] = ContextVar("lineage", default=None)


@contextlib.contextmanager
def _create_context(webhook_base: str | None, plan: str | None, lineage: Mapping[str, str] | None) -> Iterator[None]:
    """What a create needs beyond the user and the body, for the idempotent path to pass on."""
    resets = _webhook_base.set(webhook_base), _plan.set(plan), _lineage.set(lineage)
    try:
        yield
    finally:
        _webhook_base.reset(resets[0])
        _plan.reset(resets[1])
        _lineage.reset(resets[2])


class StartFailedError(Exception):
    """The task was recorded but its workflow could not start; it has been marked FAILED."""


class TaskService:
    def __init__(
        self,
        settings: Settings,
        repository: TaskRepository,
        executions: Executions,
        media: MediaStore,
        *,
        catalog: Catalog,
        videos: Callable[[ProviderEntry], VideoAdapter],
        cursor_secret: Callable[[], str],
        admission: Admission | None = None,
    ) -> None:
        self._settings = settings
        self._catalog = catalog
        self._repository = repository
        self._executions = executions
        self._media = media
        self._videos = videos
        self._cursor_secret = cursor_secret
        self._idempotent: IdempotentCreate | None = None
        self._idempotent_batch: IdempotentBatch | None = None
        self._admission = admission or Admission(settings, repository)

    @property
    def idempotent_create(self) -> IdempotentCreate:
        if self._idempotent is None:  # built on first use: it imports and configures Powertools idempotency
            from videotasks.adapters.idempotency import IdempotentCreate

            self._idempotent = IdempotentCreate(
                self._settings.idempotency_table,
                lambda user_id, request: (
                    self.create(user_id, request, plan=_plan.get(), lineage=_lineage.get()).videoId
                ),
            )
        return self._idempotent

    @property
    def idempotent_batch(self) -> IdempotentBatch:
        if self._idempotent_batch is None:
            from videotasks.adapters.idempotency import IdempotentBatch

            self._idempotent_batch = IdempotentBatch(
                self._settings.idempotency_table,
                lambda user_id, batch: [task.videoId for task in self.create_batch(user_id, batch, plan=_plan.get())],
            )
        return self._idempotent_batch

    # create and read ---------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def create(
        self,
        user_id: str,
        request: CreateTaskRequest,
        *,
        webhook_base: str | None = None,
        plan: str | None = None,
        lineage: Mapping[str, str] | None = None,
    ) -> Task:
        """Record the task and start its workflow. ``webhook_base`` (``…/api/video/webhooks``) is where its
        provider may call back; without it the workflow only polls. ``plan``: the caller's token's plan claim,
        whose limits the create is charged to. ``lineage``: the Task fields that tie a retry or a remix to its
        source (``videotasks.domain.lineage``)."""
        [task] = self._record(user_id, [request], plan, lineage=lineage)
        return self._start(task, webhook_base or _webhook_base.get())

    @tracer.capture_method(capture_response=False)
    def create_batch(
        self, user_id: str, batch: BatchCreateRequest, *, webhook_base: str | None = None, plan: str | None = None
    ) -> list[Task]:
        """Record every task of ``batch`` in one transaction (all, or none), then start each. A task whose
        workflow cannot start is marked FAILED and listed so; the others are not undone for it."""
        tasks = self._record(user_id, batch.tasks, plan, batch=True)
        started: list[Task] = []
        for task in tasks:
            try:
                started.append(self._start(task, webhook_base or _webhook_base.get()))
            except StartFailedError:
                started.append(self._repository.get(task.videoId) or task)
        return started

    def _record(
        self,
        user_id: str,
        requests: Sequence[CreateTaskRequest],
        plan_name: str | None,
        *,
        batch: bool = False,
        lineage: Mapping[str, str] | None = None,
    ) -> list[Task]:
        """The new tasks, written with their counters and their charge to the owner's limits."""
        plan = self._admission.plan(plan_name)
        now = utc_now()
        tasks = []
        for index, request in enumerate(requests):
            try:
                tasks.append(self._new_task(user_id, request, iso(now), plan.name, lineage))
            except ValidationError as refusal:
                if not batch:
                    raise
                raise BatchItemRefused(index, request.as_sent(refusal)) from None
        self._repository.create_many(tasks, self._admission.charge(tasks, plan, now))
        return tasks

    def _new_task(
        self, user_id: str, request: CreateTaskRequest, now: str, plan: str, lineage: Mapping[str, str] | None
    ) -> Task:
        options = resolve_model_options(
            request.type, model=request.model, seconds=request.seconds, size=request.size, catalog=self._catalog
        )
        return Task(
            videoId=new_video_id(),
            userId=user_id,
            type=request.type,
            prompt=request.prompt,
            model=options.model,
            seconds=options.seconds,
            size=options.size,
            provider=options.provider,
            providerModel=options.provider_model,
            inputReference=request.inputReference,
            callbackUrl=request.callbackUrl,
            callbackEvents=list(request.callbackEvents) if request.callbackEvents else None,
            clientRequestId=request.clientRequestId,
            metadata=request.metadata or {},
            priority=request.priority,
            createdAt=now,
            updatedAt=now,
            plan=plan,
            **(lineage or {}),
        )

    def _start(self, task: Task, webhook_base: str | None) -> Task:
        """Start the recorded task's workflow; when it cannot start, mark the task FAILED and raise
        ``StartFailedError``."""
        logger.append_keys(videoId=task.videoId)
        try:
            execution_arn = self._executions.start(task.videoId, webhook_base=webhook_base)
        except Exception as exc:
            logger.exception("could not start the workflow")
            self._repository.transition(
                task, TaskStatus.FAILED, error=TaskError(code="INTERNAL", message="The task could not be started")
            )
            raise StartFailedError(task.videoId) from exc
        try:
            self._repository.set_execution(task.videoId, execution_arn)
        except TaskStoreBusyError:
            # The task runs; the ARN only lets a cancel stop its execution early, and without it the next
            # step finds the task CANCELLED and stops. Failing the reply now would invite a duplicate task.
            logger.warning("could not record the execution", extra={"executionArn": execution_arn})
        logger.info("task created", extra={"model": task.model, "type": task.type.value})
        metrics.task_created(task.type)
        return task.model_copy(update={"executionArn": execution_arn})

    @tracer.capture_method(capture_response=False)
    def create_once(
        self,
        user_id: str,
        request: CreateTaskRequest,
        idempotency_key: str | None,
        lambda_context: Any = None,
        *,
        webhook_base: str | None = None,
        plan: str | None = None,
        lineage: Mapping[str, str] | None = None,
        key_scope: str | None = None,
    ) -> tuple[Task, bool]:
        """Create, or replay the task made earlier for the same key (the header, else clientRequestId).

        Returns the task as it is now and whether it was created by this call. ``lambda_context``
        bounds how long an interrupted create keeps its key locked (its remaining time). ``key_scope``
        keeps the keys of one kind of create (a retry of one task, say) apart from every other's.
        """
        # Here, around both paths: the idempotent one re-reads the body from its canonical form, which no
        # longer knows the old names the client used.
        try:
            key = idempotency_key or request.clientRequestId
            if not key:
                return self.create(user_id, request, webhook_base=webhook_base, plan=plan, lineage=lineage), True
            if lambda_context is not None:
                self.idempotent_create.config.register_lambda_context(lambda_context)
            with _create_context(webhook_base, plan, lineage):
                scoped = f"{key_scope}#{key}" if key_scope else key
                video_id, created = self.idempotent_create(user_id, scoped, request)
        except ValidationError as refusal:
            raise request.as_sent(refusal) from None
        try:
            return self.get(user_id, video_id), created
        except NotFoundError:  # the key's task was deleted since: the key cannot make another one
            raise ConflictError(key="idempotency_task_deleted", params={"videoId": video_id}) from None

    @tracer.capture_method(capture_response=False)
    def create_batch_once(
        self,
        user_id: str,
        batch: BatchCreateRequest,
        idempotency_key: str | None,
        lambda_context: Any = None,
        *,
        webhook_base: str | None = None,
        plan: str | None = None,
    ) -> tuple[list[Task], bool]:
        """Create the batch, or replay the tasks one earlier batch with the same ``Idempotency-Key`` made
        (the whole batch is one request: the items' clientRequestIds are kept on the tasks, not used as keys).
        Returns the tasks as they are now and whether this call created them."""
        if not idempotency_key:
            return self.create_batch(user_id, batch, webhook_base=webhook_base, plan=plan), True
        if lambda_context is not None:
            self.idempotent_batch.config.register_lambda_context(lambda_context)
        with _create_context(webhook_base, plan, None):
            video_ids, created = self.idempotent_batch(user_id, idempotency_key, batch)
        return [self.get(user_id, video_id) for video_id in video_ids], created

    # usage ---------------------------------------------------------------------------------------
    def usage(self, user_id: str, plan: str | None) -> dict[str, Any]:
        """The caller's plan and limits, what of them is used, and when each window resets."""
        return self._admission.usage(user_id, plan)

    @tracer.capture_method(capture_response=False)
    def get(self, user_id: str, video_id: str) -> Task:
        task = self._repository.get_owned(video_id, user_id)
        if task is None:
            raise NotFoundError(key="task_not_found", params={"videoId": video_id})
        return task

    def public(self, task: Task, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        """The client view of a task, with a fresh playable URL once it is COMPLETED, its texts in ``lang``."""
        ttl = self._settings.media_url_ttl_seconds
        return task_json(
            task,
            video_url=playable_url(task, self._media, ttl),
            poster_url=poster_url(task, self._media, ttl),
            lang=lang,
        )

    @tracer.capture_method(capture_response=False)
    def list(self, user_id: str, query: ListTasksQuery, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        total = self._repository.total_matching(user_id, query.status, query.type)
        if query.page_mode:
            return self._list_page(user_id, query, total, lang)
        secret = self._cursor_secret()
        start = (
            cursor.decode(query.cursor, user_id=user_id, scope=query.scope, secret=secret, keys=TaskRepository.POSITION)
            if query.cursor
            else None
        )
        page = self._repository.list_owned(
            user_id, limit=query.limit, status=query.status, task_type=query.type, start=start
        )
        next_cursor = (
            cursor.encode(page.position, user_id=user_id, scope=query.scope, secret=secret) if page.position else None
        )
        return {
            "items": [self.public(task, lang) for task in page.items],
            "nextCursor": next_cursor,
            "hasMore": next_cursor is not None,
            "total": total,
            "limit": query.limit,
        }

    def _list_page(self, user_id: str, query: ListTasksQuery, total: int, lang: str) -> dict[str, Any]:
        """The old backend's offset paging, bounded by MAX_PAGE_WINDOW (read from the newest): the slow mode.

        Page ``n`` reads the filter's newest ``n * pageSize + 1`` tasks (the one beyond says whether more
        exist), only from the partitions the filter names: its cost grows with the page asked for, never
        with the user's history (docs/API.md, "Paging"). ``hasMore`` promises that ``page + 1`` has tasks:
        an old client pages on while it is true, so it is false at the window's edge (the next page would be
        refused) and never a guess. ``nextCursor`` goes on from this page's last task whenever older ones
        exist, the window's edge included."""
        size, number = query.page_size, query.page_number
        page = self._repository.list_owned(user_id, limit=size * number, status=query.status, task_type=query.type)
        more = page.position is not None
        next_cursor = (
            cursor.encode(page.position, user_id=user_id, scope=query.scope, secret=self._cursor_secret())
            if page.position is not None
            else None
        )
        return {
            "items": [self.public(task, lang) for task in page.items[size * (number - 1) :]],
            "nextCursor": next_cursor,
            "hasMore": more and (number + 1) * size <= MAX_PAGE_WINDOW,
            "total": total,
            "page": number,
            "pageSize": size,
            "totalPages": -(-total // size) if total else 0,
        }

    # models --------------------------------------------------------------------------------------
    def models(self, lang: str = DEFAULT_LANG) -> dict[str, Any]:
        """What a user may request: the offered models with their shape's capabilities, and the default;
        descriptions and example prompts in ``lang``."""
        items = [
            describe(model, shape_capabilities(self._catalog.entries[model.provider].shape), lang)
            for model in self._catalog.offered_models()
        ]
        return {"items": items, "default": self._catalog.default_video, "defaultImage": self._catalog.default_image}

    # statistics ----------------------------------------------------------------------------------
    @tracer.capture_method
    def stats(self, user_id: str) -> dict[str, Any]:
        counters = self._repository.counters(user_id, utc_now())
        by_status = {status.value: max(0, counters.by_status[status]) for status in TaskStatus}
        completed, failed = by_status["COMPLETED"], by_status["FAILED"]
        finished = completed + failed
        return {
            "total": counters.total,
            "byStatus": by_status,
            **{status.lower(): count for status, count in by_status.items()},
            "byType": {kind.value: counters.by_type[kind] for kind in TaskType},
            "active": sum(count for status, count in by_status.items() if status not in TERMINAL_STATUSES),
            "successRate": round(completed / finished, 4) if finished else None,
            "averageGenerationSeconds": round(counters.generation_seconds / completed, 1) if completed else None,
            "last24Hours": counters.created_last_day,
            "updatedAt": counters.updated_at,
        }

    # cancel and content --------------------------------------------------------------------------
    @tracer.capture_method(capture_response=False)
    def cancel(self, user_id: str, video_id: str) -> Task:
        # A task may move on (QUEUED -> PROCESSING) between our read and our write: read again and
        # retry while it is still running; a finished task is a 409.
        for _ in range(CANCEL_ATTEMPTS):
            task = self.get(user_id, video_id)
            if task.is_terminal:
                raise ConflictError(
                    key="task_not_cancellable", params={"videoId": video_id, "status": task.status.value}
                )
            try:
                cancelled = self._repository.transition(task, TaskStatus.CANCELLED)
                break
            except StaleWriteError:
                continue
        else:
            raise ConflictError(key="task_cancel_contended", params={"videoId": video_id})
        logger.append_keys(**task_ids(task))
        logger.info("task cancelled")
        metrics.task_ended(TaskStatus.CANCELLED)
        if task.executionArn:
            try:
                self._executions.stop(task.executionArn, "Cancelled by the user")
            except Exception:  # the task is already CANCELLED; a running step will find it so and stop
                logger.exception("could not stop the execution")
        if task.externalTaskId and task.type is TaskType.VIDEO:
            self._cancel_at_provider(task, task.externalTaskId)
        return cancelled

    def _cancel_at_provider(self, task: Task, external_id: str) -> None:
        """Best effort, once the cancel is committed: a provider that cannot cancel lets the job run out."""
        try:
            entry, _ = self._catalog.route(task.model, task.provider, task.providerModel)
            adapter = self._videos(entry)
            if adapter.CAPABILITIES.cancel:
                adapter.cancel_job(external_id)
        except (CatalogError, ShapeUnavailableError) as exc:
            logger.warning("cannot reach the task's provider to cancel", extra={"reason": str(exc)})
        except ProviderError as exc:
            logger.warning("provider refused to cancel", extra={"reason": exc.message})
        except Exception:  # the cancel is committed; a provider we cannot even reach must not undo the reply
            logger.exception("could not ask the provider to cancel")

    @tracer.capture_method(capture_response=False)
    def content(self, user_id: str, video_id: str) -> dict[str, Any]:
        task = self.get(user_id, video_id)
        link = media_link(task, self._media, self._settings.media_url_ttl_seconds)
        if link is None:
            raise _no_content(task)
        return {
            **task_ids(task),
            "type": task.type.value,
            "contentType": task.mediaContentType,
            "url": link.url,
            "expiresAt": iso(link.expires_at),
        }


def _no_content(task: Task) -> ConflictError:
    """The 409 for content that is not there: whether waiting helps is what the caller needs to know, in
    ``details[0].reason`` for code (the list of ``{field, message}`` every error's details are)."""
    status = task.status.value
    if task.status is TaskStatus.CANCELLED:
        reason = "content_never_cancelled"
    elif task.status is TaskStatus.FAILED:
        reason = "content_never_failed"
    elif task.is_terminal:  # COMPLETED without stored media: nothing will come later either
        reason = "content_missing"
    else:
        reason = "content_not_ready"
    refusal = ConflictError(key=reason, params={"videoId": task.videoId, "status": status})
    refusal.details = [
        {"field": "videoId", "message": refusal.message.split("; ", 1)[-1], "status": status, "reason": reason}
    ]
    return refusal
