"""The fake provider's webhooks, received on a real local port and verified by the production code
(videotasks/adapters/providers/webhooks.py): proof that the fake signs as fal and Replicate do, and that what
our adapters ask for is what it sends."""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from aiohttp import web

from local.config import FAKE_WEBHOOK_SECRET
from local.fake_provider import FakeProviderConfig, serve_in_background
from tests.clocks import ManualClock
from videotasks.adapters.providers import JobRequest
from videotasks.adapters.providers.fal_queue import FalQueueProvider
from videotasks.adapters.providers.replicate import ReplicateProvider
from videotasks.adapters.providers.webhooks import FalKeys, WebhookNotice, read_webhook
from videotasks.domain.lifecycle import ProviderState

KEY = "fake-key"
VIDEO_SECONDS = 10.0
FAL_MODEL = "fal-ai/kling-video/v2.1/standard/text-to-video"
REPLICATE_MODEL = "google/veo-3"
# Long enough for a delivery that was going to come (the fake looks at a job at least twice a second).
QUIET_SECONDS = 1.5


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes
    query: dict[str, str]


@dataclass
class Receiver:
    """A webhook endpoint on a local port: answers with ``statuses`` in turn (then 200) and keeps each call."""

    url: str
    statuses: list[int]
    calls: list[Received] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.Response:
        self.calls.append(Received(dict(request.headers), await request.read(), dict(request.query)))
        return web.Response(status=self.statuses.pop(0) if self.statuses else 200)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.calls) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.calls


@contextlib.contextmanager
def receiving(*statuses: int) -> Iterator[Receiver]:
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    receiver = Receiver(url="", statuses=list(statuses))
    app = web.Application()
    app.router.add_post("/api/video/webhooks/{provider}", receiver.handle)
    runner = web.AppRunner(app, access_log=None)

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        return int(runner.addresses[0][1])

    try:
        port = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        receiver.url = f"http://127.0.0.1:{port}/api/video/webhooks"
        yield receiver
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


Serve = Callable[..., str]


@pytest.fixture
def serve(provider_clock: ManualClock[float]) -> Iterator[Serve]:
    """Start a fake provider (config fields as keywords, the manual clock) and return its base URL."""
    with contextlib.ExitStack() as stack:

        def start(**fields: Any) -> str:
            fields.setdefault("api_key", KEY)
            fields.setdefault("video_seconds", VIDEO_SECONDS)
            return stack.enter_context(serve_in_background(FakeProviderConfig(clock=provider_clock, **fields)))

        yield start


def stats_of(base: str, job_id: str) -> dict[str, Any]:
    jobs = httpx.get(f"{base}/_fake/stats").json()["jobs"]
    return next(job for job in jobs if job["id"] == job_id)


def fal_job(base: str, hook: str | None, prompt: str = "a cat on a skateboard") -> tuple[FalQueueProvider, str]:
    client = FalQueueProvider(base_url=f"{base}/fal", api_key=KEY, timeout=5.0)
    return client, client.create_job(JobRequest(prompt=prompt, model=FAL_MODEL, seconds=5, webhook_url=hook)).id


def replicate_job(base: str, hook: str | None, prompt: str = "a cat on a skateboard") -> tuple[ReplicateProvider, str]:
    client = ReplicateProvider(base_url=f"{base}/replicate", api_key=KEY, timeout=5.0)
    request = JobRequest(prompt=prompt, model=REPLICATE_MODEL, seconds=8, webhook_url=hook)
    return client, client.create_job(request).id


def read_fal(base: str, call: Received) -> WebhookNotice:
    keys = FalKeys(f"{base}/fal/.well-known/jwks.json")
    return read_webhook("fal_queue", call.headers, call.body, secret=None, jwks=keys, now=time.time(), query=call.query)


def read_replicate(call: Received) -> WebhookNotice:
    return read_webhook("replicate", call.headers, call.body, secret=FAKE_WEBHOOK_SECRET, jwks=None, now=time.time())


# -- fal ----------------------------------------------------------------------------------------------------


def test_a_fal_request_that_ends_calls_its_webhook_signed_with_the_published_key(
    serve: Serve, provider_clock: ManualClock[float]
) -> None:
    base = serve()
    with receiving() as hook:
        client, job_id = fal_job(base, f"{hook.url}/fal")
        time.sleep(QUIET_SECONDS)
        assert hook.calls == []  # nothing before the job ends
        provider_clock.advance(VIDEO_SECONDS)
        (call,) = hook.wait_for(1)

        notice = read_fal(base, call)

    assert (notice.external_id, notice.raw_status) == (job_id, "OK")
    assert client.get_job(notice.external_id).state is ProviderState.SUCCEEDED
    assert stats_of(base, job_id)["webhooksSent"] == 1


def test_a_failed_fal_request_calls_its_webhook_with_an_error(serve: Serve, provider_clock: ManualClock[float]) -> None:
    base = serve(failure_rate=1.0)
    with receiving() as hook:
        _, job_id = fal_job(base, f"{hook.url}/fal")
        provider_clock.advance(VIDEO_SECONDS)
        (call,) = hook.wait_for(1)

        notice = read_fal(base, call)

    assert (notice.external_id, notice.raw_status) == (job_id, "ERROR")


# -- Replicate ----------------------------------------------------------------------------------------------


def test_a_replicate_prediction_that_ends_calls_its_webhook_per_standard_webhooks(
    serve: Serve, provider_clock: ManualClock[float]
) -> None:
    base = serve()
    with receiving() as hook:
        client, job_id = replicate_job(base, f"{hook.url}/replicate")
        provider_clock.advance(VIDEO_SECONDS)
        (call,) = hook.wait_for(1)

        notice = read_replicate(call)

    assert (notice.external_id, notice.raw_status) == (job_id, "succeeded")
    assert client.get_job(job_id).state is ProviderState.SUCCEEDED
    assert stats_of(base, job_id)["webhooksSent"] == 1


def test_a_delivery_that_is_not_taken_is_retried_under_the_same_id(
    serve: Serve, provider_clock: ManualClock[float]
) -> None:
    base = serve()
    with receiving(503, 500) as hook:
        _, job_id = replicate_job(base, f"{hook.url}/replicate")
        provider_clock.advance(VIDEO_SECONDS)
        calls = hook.wait_for(3)

        notices = [read_replicate(call) for call in calls]

    assert len(calls) == 3
    assert {notice.event_id for notice in notices} == {calls[0].headers["webhook-id"]}
    assert stats_of(base, job_id)["webhooksSent"] == 3


def test_a_replicate_create_that_filters_out_completed_gets_no_webhook(
    serve: Serve, provider_clock: ManualClock[float]
) -> None:
    base = serve()
    with receiving() as hook:
        body = {"input": {"prompt": "a cat", "duration": 8}, "webhook": hook.url, "webhook_events_filter": ["start"]}
        created = httpx.post(
            f"{base}/replicate/v1/models/google/veo-3/predictions",
            json=body,
            headers={"Authorization": f"Bearer {KEY}"},
        )
        provider_clock.advance(VIDEO_SECONDS)
        time.sleep(QUIET_SECONDS)

    assert created.status_code == 201
    assert hook.calls == []


# -- when no webhook comes -----------------------------------------------------------------------------------


@pytest.mark.parametrize("make", [fal_job, replicate_job], ids=["fal", "replicate"])
def test_the_drop_webhook_fault_completes_the_job_without_a_webhook(
    serve: Serve, provider_clock: ManualClock[float], make: Callable[..., tuple[Any, str]]
) -> None:
    base = serve()
    with receiving() as hook:
        client, job_id = make(base, hook.url, "a cat [fault:drop_webhook]")
        provider_clock.advance(VIDEO_SECONDS)
        time.sleep(QUIET_SECONDS)

    assert hook.calls == []
    assert client.get_job(job_id).state is ProviderState.SUCCEEDED
    assert stats_of(base, job_id)["webhooksSent"] == 0


def test_the_drop_webhook_fault_for_a_run_drops_every_webhook(serve: Serve, provider_clock: ManualClock[float]) -> None:
    base = serve(fault="drop_webhook")
    with receiving() as hook:
        fal_job(base, hook.url)
        replicate_job(base, hook.url)
        provider_clock.advance(VIDEO_SECONDS)
        time.sleep(QUIET_SECONDS)

    assert hook.calls == []


def test_webhooks_switched_off_are_never_sent(serve: Serve, provider_clock: ManualClock[float]) -> None:
    base = serve(webhooks=False)
    with receiving() as hook:
        _, job_id = fal_job(base, hook.url)
        provider_clock.advance(VIDEO_SECONDS)
        time.sleep(QUIET_SECONDS)

    assert hook.calls == []
    assert stats_of(base, job_id)["webhooksSent"] == 0


def test_fake_webhooks_0_switches_them_off() -> None:
    assert FakeProviderConfig.from_env({"FAKE_WEBHOOKS": "0"}).webhooks is False
    assert FakeProviderConfig.from_env({}).webhooks is True
