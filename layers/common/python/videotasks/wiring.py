"""The composition root: builds each collaborator once per process, from the settings.

Handlers ask for what they need here; tests replace pieces by building the classes themselves.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Literal

from videotasks.settings import get_settings

# Every collaborator's module is imported by the factory that builds it, on first use: a function's cold
# start pays only for what that function calls (fail_task and the API never load httpx or an adapter, the
# WebSocket function never loads the workflow).
if TYPE_CHECKING:
    from videotasks.adapters.executions import Waker
    from videotasks.adapters.media import MediaStore
    from videotasks.adapters.providers import ImagesProvider, VideoAdapter
    from videotasks.adapters.socket_push import ConnectionNotifier
    from videotasks.adapters.store.connections import ConnectionRepository
    from videotasks.adapters.store.queue import QueueStore
    from videotasks.adapters.store.tasks import TaskRepository
    from videotasks.adapters.store.webhooks import WebhookStore
    from videotasks.domain.catalog import Catalog, ProviderEntry
    from videotasks.domain.deadline import Deadline, InvocationContext
    from videotasks.edge.steps import StateEvent, StateHandler
    from videotasks.services.broadcasting import Broadcaster
    from videotasks.services.callbacks import CallbackAccount, CallbackDelivery, CallbackEvents
    from videotasks.services.counting import TaskCounting
    from videotasks.services.deletion import TaskDeletion
    from videotasks.services.lineage import TaskLineage
    from videotasks.services.posters import PosterResult
    from videotasks.services.queue import QueueService
    from videotasks.services.subscriptions import RealtimeService
    from videotasks.services.tasks import TaskService
    from videotasks.services.waits import WaitService
    from videotasks.services.webhooks import WebhookService
    from videotasks.services.workflow import StepResult, Workflow


@functools.cache
def repository() -> TaskRepository:
    from videotasks.adapters.store.tasks import TaskRepository

    return TaskRepository(get_settings())


@functools.cache
def media_store() -> MediaStore:
    from videotasks.adapters.media import MediaStore

    return MediaStore(get_settings().media_bucket)


@functools.cache
def catalog() -> Catalog:
    """The models this deployment offers and its provider entries. A configuration that cannot work (an
    unknown model or shape, a default not offered, an entry without a secret) fails the cold start."""
    from videotasks.adapters.providers import unknown_shapes
    from videotasks.domain.catalog import Catalog, CatalogError

    configured = Catalog.configured(get_settings())
    unknown = unknown_shapes(configured.shapes())
    if unknown:
        raise CatalogError(f"the catalog names provider shapes no adapter speaks: {', '.join(sorted(unknown))}")
    return configured


def provider_client(entry: ProviderEntry) -> Any:
    """The client of ``entry``: one per entry and process (see ``_client``), its key read on first use."""
    return _client(entry)


@functools.cache
def _client(entry: ProviderEntry) -> Any:
    from videotasks.adapters.providers import IMAGE_SHAPES, adapter_class
    from videotasks.adapters.secrets import get_secret
    from videotasks.domain.catalog import CatalogError

    settings = get_settings()
    if not entry.secret_name:
        raise CatalogError(f"provider entry {entry.id!r} has no secret configured")
    image = entry.shape in IMAGE_SHAPES
    return adapter_class(entry.shape)(
        base_url=entry.base_url,
        api_key=get_secret(entry.secret_name),
        path=entry.path,
        auth_scheme=entry.auth,
        timeout=settings.provider_image_timeout_seconds if image else settings.provider_timeout_seconds,
    )


def video_adapter(entry: ProviderEntry) -> VideoAdapter:
    return provider_client(entry)  # type: ignore[no-any-return]


def images_provider(entry: ProviderEntry) -> ImagesProvider:
    return provider_client(entry)  # type: ignore[no-any-return]


@functools.cache
def task_service() -> TaskService:
    from videotasks.adapters.executions import Executions
    from videotasks.adapters.secrets import get_secret
    from videotasks.services.tasks import TaskService

    settings = get_settings()
    return TaskService(
        settings,
        repository(),
        Executions(settings.state_machine_arn),
        media_store(),
        catalog=catalog(),
        videos=video_adapter,
        cursor_secret=lambda: get_secret(settings.cursor_secret_name),
    )


@functools.cache
def task_lineage() -> TaskLineage:
    from videotasks.services.lineage import TaskLineage

    return TaskLineage(task_service(), catalog())


@functools.cache
def task_deletion() -> TaskDeletion:
    from videotasks.services.deletion import TaskDeletion

    return TaskDeletion(task_service(), repository(), media_store())


@functools.cache
def workflow() -> Workflow:
    from videotasks.services.workflow import Workflow

    return Workflow(
        get_settings(),
        repository(),
        catalog(),
        video_adapter,
        images_provider,
        media_store(),
        webhooks_ready=webhooks_ready,
    )


def webhooks_ready(entry: ProviderEntry) -> bool:
    """Whether tasks of ``entry`` may ask to be called back: its shape sends webhooks, and what verifies them
    is configured; a Standard Webhooks secret only once it holds one (a fresh deployment's generated
    placeholder does not: those tasks poll until the deployer puts the provider's ``whsec_`` secret in)."""
    from videotasks.adapters.providers.webhooks import takes_webhooks
    from videotasks.adapters.secrets import get_secret

    if not takes_webhooks(entry):
        return False
    return not entry.webhook_secret_name or get_secret(entry.webhook_secret_name).startswith("whsec_")


def step_deadline(context: InvocationContext) -> Deadline:
    """The deadline of a workflow step: its invocation's end, less the margin to record the outcome."""
    from videotasks.domain.deadline import Deadline

    return Deadline.of_invocation(context, margin_seconds=get_settings().step_safety_margin_seconds)


def step_handler(step: Literal["submit", "poll", "archive"]) -> StateHandler:
    """The handler of the ``step`` state: that step of the event's task, within the invocation's deadline."""
    from videotasks.edge.steps import state_handler

    def run(event: StateEvent, context: Any) -> StepResult:
        from videotasks.services.workflow import carried_job, carried_polling

        # Looked up at each invocation: the local stack gives every function its own cached collaborators.
        flow = workflow()
        if step == "archive":
            return flow.archive(event["videoId"], step_deadline(context), carried_job(event))
        if step == "submit":
            return flow.submit(event["videoId"], step_deadline(context), event.get("webhookBase"))
        return flow.poll(event["videoId"], step_deadline(context), carried_polling(event))

    return state_handler(run, log_event=True)


def poster_handler() -> StateHandler:
    """The handler of the ``MakePoster`` state (the one function with the ffmpeg layer)."""
    from videotasks.edge.steps import state_handler

    def run(event: StateEvent, context: Any) -> PosterResult:
        from videotasks.adapters.frames import FrameGrabber
        from videotasks.services.posters import PosterMaker

        maker = PosterMaker(repository(), media_store(), FrameGrabber())
        return maker.make(event["videoId"], step_deadline(context))

    return state_handler(run, log_event=True)


# Provider webhooks and the workflow's callback wait: imported on first use, like live updates below.
@functools.cache
def webhook_store() -> WebhookStore:
    from videotasks.adapters.store.webhooks import WebhookStore

    return WebhookStore(get_settings())


@functools.cache
def waker() -> Waker:
    from videotasks.adapters.executions import Waker

    return Waker()


@functools.cache
def wait_service() -> WaitService:
    from videotasks.services.waits import WaitService

    return WaitService(webhook_store())


@functools.cache
def webhook_service() -> WebhookService:
    from videotasks.services.webhooks import WebhookService

    return WebhookService(catalog(), repository(), webhook_store(), waker(), verification=webhook_verification)


@functools.cache
def webhook_verification(entry: ProviderEntry) -> dict[str, Any]:
    """What checks ``entry``'s webhooks: its signing secret, or the keys it publishes (fetched on first use)."""
    from videotasks.adapters.providers.webhooks import FalKeys
    from videotasks.adapters.secrets import get_secret

    return {
        "secret": get_secret(entry.webhook_secret_name) if entry.webhook_secret_name else None,
        "jwks": FalKeys(entry.webhook_jwks_url) if entry.webhook_jwks_url else None,
    }


# The per-user queue: the admission states and the queue keeper.
@functools.cache
def queue_store() -> QueueStore:
    from videotasks.adapters.store.queue import QueueStore

    return QueueStore(get_settings())


@functools.cache
def queue_service() -> QueueService:
    from videotasks.services.queue import QueueService

    return QueueService(get_settings(), repository(), queue_store(), waker())


# The owners' counters, from the tasks table's stream.
@functools.cache
def task_counting() -> TaskCounting:
    from videotasks.adapters import aws
    from videotasks.adapters.store.counters import CountersTable
    from videotasks.services.counting import TaskCounting

    return TaskCounting(CountersTable(aws.resource("dynamodb").Table(get_settings().stats_table)))


def reset() -> None:
    """Forget every cached collaborator (tests that change settings)."""
    for cached in (repository, media_store, catalog, _client, task_service, task_lineage, task_deletion, workflow):
        cached.cache_clear()
    for live in (connections, realtime, notifier, broadcaster):
        live.cache_clear()
    for hooks in (webhook_store, waker, wait_service, webhook_service, webhook_verification):
        hooks.cache_clear()
    for queued in (queue_store, queue_service):
        queued.cache_clear()
    task_counting.cache_clear()
    for callbacks in (callback_store, callback_events, callback_delivery, callback_account):
        callbacks.cache_clear()
    get_settings.cache_clear()


# Live updates: the functions that never push (and the WebSocket function, which never posts) do not pay
# for Powertools batch processing and the posting thread pool.
@functools.cache
def connections() -> ConnectionRepository:
    from videotasks.adapters.store.connections import ConnectionRepository

    return ConnectionRepository(get_settings())


@functools.cache
def realtime() -> RealtimeService:
    from videotasks.services.subscriptions import RealtimeService

    return RealtimeService(get_settings(), connections(), repository(), media_store(), verify_token=_verify_token)


def _verify_token(raw: str | None) -> str:
    # Imported on the first old-client auth message only: jwt stays out of the WebSocket function's cold start.
    from videotasks.edge.auth import verify_token

    return verify_token(raw, get_settings())


@functools.cache
def notifier() -> ConnectionNotifier:
    from videotasks.adapters.socket_push import ConnectionNotifier

    return ConnectionNotifier(get_settings().websocket_endpoint)


@functools.cache
def broadcaster() -> Broadcaster:
    from videotasks.services.broadcasting import Broadcaster

    return Broadcaster(get_settings(), connections(), notifier(), media_store())


# Outbound webhooks (videotasks.services.callbacks): only the functions that deliver them load the HTTP client.
@functools.cache
def callback_store() -> Any:
    from videotasks.adapters.store.callbacks import CallbackStore

    return CallbackStore(get_settings())


@functools.cache
def callback_events() -> CallbackEvents:
    from videotasks.adapters.callback_runs import DeliveryRuns
    from videotasks.services.callbacks import CallbackEvents

    settings = get_settings()
    return CallbackEvents(settings, DeliveryRuns(settings.callback_state_machine_arn), media_store())


@functools.cache
def callback_delivery() -> CallbackDelivery:
    from videotasks.adapters.callback_http import CallbackPoster
    from videotasks.adapters.callback_runs import DeadLetters
    from videotasks.services.callbacks import CallbackDelivery

    settings = get_settings()
    poster = CallbackPoster(
        timeout_seconds=settings.callback_timeout_seconds, allow_loopback_http=settings.callback_allow_loopback_http
    )
    return CallbackDelivery(settings, callback_store(), poster, DeadLetters(settings.callback_dead_letter_queue_url))


@functools.cache
def callback_account() -> CallbackAccount:
    from videotasks.services.callbacks import CallbackAccount

    return CallbackAccount(get_settings(), callback_store(), repository())
