"""A fake generation provider speaking the OpenAI Videos and Images shapes, for the offline stack and tests.

Jobs move ``queued -> in_progress -> completed`` over ``video_seconds`` of the config's clock and then
serve a real, small MP4. Misbehaviour is opt-in: ``failure_rate`` fails a share of jobs partway, and a
fault mode (for every job of a run via ``config.fault``, or for one job with ``[fault:NAME]`` in its
prompt) imitates what real providers and relays do on a bad day. All fault modes are in ``FAULTS``.

Creates honour ``Idempotency-Key`` as OpenAI does: the same key with the same parameters within a day
answers with the job (or image) it first made, counted as a replay in ``/fake/jobs``; the same key with
other parameters is a 409. ``GET /_fake/stats`` lists every job made, videos and images alike: what the
provider would bill.

Webhooks: a create of a shape that takes one (fal's ``?fal_webhook=``, Replicate's ``webhook``) makes the fake
POST the shape's signed webhook to that URL when the job ends (completed at its ready time, or failed), as the
real provider would; a delivery that fails or is not answered 2xx is retried a few times with a short backoff.
``FakeProviderConfig.webhooks`` (``FAKE_WEBHOOKS=0``) turns them off for a run, the ``drop_webhook`` fault for a
job or a run: the job completes, no webhook comes, and only polling can tell.

Run it standalone: ``python -m local.fake_provider --port 3002``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import enum
import hmac
import json
import math
import os
import random
import re
import threading
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from aiohttp import ClientError, ClientSession, ClientTimeout, web

from local.config import FAKE_WEBHOOK_SECRET

ASSETS = Path(__file__).resolve().parent / "assets"
VIDEO_FILE = ASSETS / "sample.mp4"
MEDIA_FILES = {"sample.png": ASSETS / "sample.png", "sample.mp4": VIDEO_FILE}
IMAGE_NAME = "sample.png"

QUEUED_SHARE = 0.1  # the first tenth of a job's time is spent queued, as real providers queue first
FAIL_AT_SHARE = 0.5  # failing jobs fail halfway, after some in_progress polls
VANISH_AT_PROGRESS = 50
STUCK_AT_PROGRESS = 42
EXPIRES_AFTER_SECONDS = 3600
DEFAULT_PORT = 3002

_FAULT_IN_PROMPT = re.compile(r"\[fault:([A-Za-z0-9_]+)\]")


# -- fault modes --------------------------------------------------------------------------------------


class FaultAction(enum.Enum):
    UNAVAILABLE = "503"
    RATE_LIMITED = "429"
    HANG = "hang"
    RESET = "reset"
    MALFORMED = "malformed"
    NOT_FOUND = "404"
    VANISH = "vanish"  # the job disappears once it reaches VANISH_AT_PROGRESS
    STUCK = "stuck"  # the job never gets past STUCK_AT_PROGRESS
    HTML = "html"  # the "video" is an HTML page (a relay's error page, or worse, served as the media)
    DROP_REPLY = "drop_reply"  # the job is made, then the reply hangs past any client timeout
    DROP_WEBHOOK = "drop_webhook"  # the job ends normally, but the webhook it asked for never comes


@dataclass(frozen=True)
class FaultRule:
    # Which calls it disturbs: the create, GET status, GET content, or the webhook the fake would send.
    target: Literal["create", "status", "content", "webhook"]
    action: FaultAction
    first_calls: int | None  # only the first N such calls misbehave; None: every call
    hang_seconds: float | None = None  # HANG only: how long, when not the config's ``hang_seconds``


FAULTS: dict[str, FaultRule] = {
    "5xx_burst": FaultRule("status", FaultAction.UNAVAILABLE, 3),
    "429": FaultRule("status", FaultAction.RATE_LIMITED, 2),
    "hang": FaultRule("status", FaultAction.HANG, 1),
    # Outlasts the Poll function's 30 s Lambda timeout: only the invocation's deadline can stop it in time.
    "hang_status": FaultRule("status", FaultAction.HANG, 1, hang_seconds=45.0),
    "reset": FaultRule("status", FaultAction.RESET, 2),
    "malformed": FaultRule("status", FaultAction.MALFORMED, 2),
    "vanish": FaultRule("status", FaultAction.VANISH, None),
    "stuck": FaultRule("status", FaultAction.STUCK, None),
    "content_flaky": FaultRule("content", FaultAction.UNAVAILABLE, 2),
    "content_gone": FaultRule("content", FaultAction.NOT_FOUND, None),
    "content_html": FaultRule("content", FaultAction.HTML, None),
    "drop_create_reply": FaultRule("create", FaultAction.DROP_REPLY, 1),
    "drop_webhook": FaultRule("webhook", FaultAction.DROP_WEBHOOK, None),
}
# How long an Idempotency-Key is remembered (OpenAI-style keys are kept for about a day).
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
# A webhook delivery: the first try, then retries after these pauses (a real provider waits longer).
WEBHOOK_RETRY_DELAYS = (0.2, 0.5, 1.0)
WEBHOOK_TIMEOUT_SECONDS = 5.0
HTML_PAGE = b"<!doctype html><html><body><script>alert(document.domain)</script></body></html>"


# -- configuration ------------------------------------------------------------------------------------


@dataclass
class FakeProviderConfig:
    video_seconds: float = 20.0
    failure_rate: float = 0.0
    api_key: str | None = field(default=None, repr=False)  # kept out of the startup line
    fault: str | None = None
    seed: int | None = None
    hang_seconds: float = 30.0  # longer than any sane client timeout
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)  # tests pass a manual clock
    webhooks: bool = True  # call the webhook URL a create names when its job ends
    webhook_secret: str = field(default=FAKE_WEBHOOK_SECRET, repr=False)  # Standard Webhooks (Replicate shape)

    def __post_init__(self) -> None:
        if not 0.0 <= self.failure_rate <= 1.0:
            raise ValueError(f"failure_rate must be within 0..1, got {self.failure_rate}")
        if self.video_seconds < 0 or not math.isfinite(self.video_seconds):
            raise ValueError(f"video_seconds must be >= 0, got {self.video_seconds}")
        if self.fault is not None and self.fault not in FAULTS:
            raise ValueError(f"Unknown fault {self.fault!r}; known: {', '.join(FAULTS)}")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FakeProviderConfig:
        """FAKE_VIDEO_SECONDS, FAKE_FAILURE_RATE, FAKE_PROVIDER_FAULT, FAKE_WEBHOOKS; optional
        FAKE_PROVIDER_API_KEY and FAKE_PROVIDER_SEED."""
        from local.config import switch

        env = os.environ if environ is None else environ
        seed = env.get("FAKE_PROVIDER_SEED", "").strip()
        return cls(
            webhooks=switch(env.get("FAKE_WEBHOOKS", "") or "1"),
            video_seconds=float(env.get("FAKE_VIDEO_SECONDS", "") or 20.0),
            failure_rate=float(env.get("FAKE_FAILURE_RATE", "") or 0.0),
            fault=env.get("FAKE_PROVIDER_FAULT", "").strip() or None,
            api_key=env.get("FAKE_PROVIDER_API_KEY", "").strip() or None,
            seed=int(seed) if seed else None,
        )


# -- jobs ---------------------------------------------------------------------------------------------


@dataclass
class FakeJob:
    id: str
    model: str
    prompt: str
    seconds: str
    size: str
    created_at: int
    started: float
    will_fail: bool
    fault: str | None
    input_reference: dict[str, Any] | None = None
    calls: Counter[str] = field(default_factory=Counter)
    created_wall: float = field(default_factory=time.time)  # epoch seconds, for /_fake/stats
    idempotency_key: str | None = None
    replays: int = 0  # creates answered with this job because they repeated its Idempotency-Key
    status_calls: int = 0
    shape: str = "openai-videos"  # which provider API shape made the job (local/fake_shapes/)
    webhooks_sent: int = 0  # webhook POSTs that reached the receiver (any answer), retries included
    webhook_url: str | None = None
    # The job's id as its shape's clients know it, when that is not ``id`` (a fal request's path, say):
    # ``/_fake/stats`` reports it, so it matches the task's ``externalVideoId``.
    external_id: str | None = None
    remixed_from: str | None = None  # the finished job a remix was made from

    @property
    def rule(self) -> FaultRule | None:
        return FAULTS[self.fault] if self.fault else None

    def ends_at(self, video_seconds: float) -> float:
        """When, on the config's clock, the job fails or completes (a ``stuck`` job never does)."""
        return self.started + video_seconds * (FAIL_AT_SHARE if self.will_fail else 1.0)


# A shape's webhook: the body once the job has ended (None while it runs), and the headers that sign one
# delivery of that body (signed afresh for each retry, as its timestamp is the attempt's).
WebhookBody = Callable[[FakeJob], bytes | None]
WebhookSigner = Callable[[FakeJob, bytes], dict[str, str]]


@dataclass
class ImageJob:
    """One image generation, kept for /_fake/stats and Idempotency-Key replays."""

    id: str
    created_wall: float
    reply: dict[str, Any]
    fingerprint: str
    idempotency_key: str | None
    replays: int = 0


@dataclass(frozen=True)
class Remembered:
    """What an Idempotency-Key was first used for: the request's fingerprint and the job it made."""

    fingerprint: str
    job_id: str
    at: float


@dataclass(frozen=True)
class Snapshot:
    status: str
    progress: int


def snapshot(job: FakeJob, *, now: float, video_seconds: float) -> Snapshot:
    """Where ``job`` is on its timeline at ``now``."""
    share = 1.0 if video_seconds <= 0 else (now - job.started) / video_seconds
    rule = job.rule
    if job.will_fail and share >= FAIL_AT_SHARE:
        return Snapshot("failed", int(FAIL_AT_SHARE * 100))
    if rule is not None and rule.action is FaultAction.STUCK and share >= QUEUED_SHARE:
        return Snapshot("in_progress", min(STUCK_AT_PROGRESS, max(1, int(share * 100))))
    if share >= 1.0:
        return Snapshot("completed", 100)
    if share < QUEUED_SHARE:
        return Snapshot("queued", 0)
    return Snapshot("in_progress", min(99, max(1, int(share * 100))))


def video_object(job: FakeJob, state: Snapshot, video_seconds: float) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": job.id,
        "object": "video",
        "model": job.model,
        "prompt": job.prompt,  # relays list it; a retried submit matches a lost job on it
        "status": state.status,
        "progress": state.progress,
        "created_at": job.created_at,
        "completed_at": None,
        "expires_at": None,
        "seconds": job.seconds,
        "size": job.size,
        "remixed_from_video_id": job.remixed_from,
        "error": None,
    }
    if state.status == "completed":
        completed_at = job.created_at + math.ceil(video_seconds)
        body.update(completed_at=completed_at, expires_at=completed_at + EXPIRES_AFTER_SECONDS)
    elif state.status == "failed":
        body["error"] = {
            "code": "video_generation_failed",
            "message": "The fake provider failed this job on purpose (FAKE_FAILURE_RATE).",
        }
    return body


# -- replies ------------------------------------------------------------------------------------------


def error_reply(
    status: int,
    message: str,
    *,
    type_: str = "invalid_request_error",
    code: str | None = None,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> web.Response:
    """OpenAI's error shape."""
    body = {"error": {"message": message, "type": type_, "param": param, "code": code}}
    return web.json_response(body, status=status, headers=headers)


def not_found(job_id: str) -> web.Response:
    return error_reply(404, f"Video with id '{job_id}' not found.", code="video_not_found", param="video_id")


async def fault_reply(
    request: web.Request, job: FakeJob, target: Literal["status", "content"], hang_seconds: float
) -> web.StreamResponse | None:
    """The misbehaving reply this call gets under the job's fault rule, or None to answer normally."""
    rule = job.rule
    if rule is None or rule.target != target:
        return None
    job.calls[target] += 1
    if rule.first_calls is not None and job.calls[target] > rule.first_calls:
        return None
    match rule.action:
        case FaultAction.UNAVAILABLE:
            return error_reply(503, "The server is overloaded, try again later.", type_="server_error")
        case FaultAction.RATE_LIMITED:
            return error_reply(429, "Rate limit reached.", type_="rate_limit_error", headers={"Retry-After": "1"})
        case FaultAction.HANG:
            await asyncio.sleep(rule.hang_seconds or hang_seconds)
            return None
        case FaultAction.RESET:
            if request.transport is not None:
                request.transport.close()  # the client sees the connection drop with no reply
            return web.Response(status=204)
        case FaultAction.MALFORMED:
            return web.Response(
                status=200, text='{"id": "' + job.id + '", "status": "in_pro', content_type="application/json"
            )
        case FaultAction.NOT_FOUND:
            return error_reply(404, "The video content is no longer available.", code="video_content_gone")
        case FaultAction.HTML:
            return web.Response(status=200, body=HTML_PAGE, content_type="text/html")
        case FaultAction.VANISH | FaultAction.STUCK | FaultAction.DROP_REPLY:
            return None  # these change the job's timeline or its create, see snapshot() and FakeProvider


# -- the application ----------------------------------------------------------------------------------


class FakeProvider:
    """Jobs in memory and the route handlers that serve them."""

    def __init__(self, config: FakeProviderConfig) -> None:
        self.config = config
        self.jobs: dict[str, FakeJob] = {}
        self.images: list[ImageJob] = []
        self._rng = random.Random(config.seed)
        self._keys: dict[str, Remembered] = {}  # Idempotency-Key -> what it made
        self._webhooks: set[asyncio.Task[None]] = set()

    def routes(self) -> list[web.RouteDef]:
        from local.fake_shapes import shape_routes  # the shapes' modules use this one's types

        return [
            *shape_routes(self),
            web.post("/v1/videos", self.create_video),
            web.get("/v1/videos", self.list_videos),
            web.get("/v1/videos/{video_id}", self.get_video),
            web.delete("/v1/videos/{video_id}", self.delete_video),
            web.post("/v1/videos/{video_id}/remix", self.remix_video),
            web.get("/v1/videos/{video_id}/content", self.get_content),
            web.post("/v1/images/generations", self.generate_image),
            web.get("/media/{name}", self.get_media),
            web.get("/fake/jobs", self.list_jobs),
            web.get("/_fake/stats", self.stats),
            web.get("/fake/health", self.health),
        ]

    @web.middleware
    async def require_key(
        self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> web.StreamResponse:
        """Only the API routes need the key; media URLs are handed to browsers, like a CDN's."""
        expected = self.config.api_key
        if expected and request.path.startswith("/v1/"):
            sent = request.headers.get("Authorization", "")
            if not hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
                return error_reply(401, "Incorrect API key provided.", code="invalid_api_key")
        return await handler(request)

    # -- videos ---------------------------------------------------------------------------------------

    async def create_video(self, request: web.Request) -> web.Response:
        fields, reference = await _read_create_body(request)
        prompt = str(fields.get("prompt") or "").strip()
        if not prompt:
            return error_reply(
                400, "Missing required parameter: 'prompt'.", code="missing_required_parameter", param="prompt"
            )
        seconds = str(fields.get("seconds") or "4").strip()
        if not seconds.isdigit():
            return error_reply(400, f"Invalid value for 'seconds': {seconds!r}.", code="invalid_value", param="seconds")
        started = self.start_job(
            shape="openai-videos",
            model=str(fields.get("model") or "sora-2"),
            prompt=prompt,
            seconds=seconds,
            size=str(fields.get("size") or "720x1280"),
            idempotency_key=request.headers.get("Idempotency-Key"),
            fingerprint_fields=fields,
            input_reference=reference,
        )
        if isinstance(started, web.Response):
            return started
        job, replayed = started
        if not replayed:
            await self.drop_reply_if_told(job)
        return web.json_response(self._view(job))

    async def remix_video(self, request: web.Request) -> web.Response:
        """OpenAI's ``POST /v1/videos/{id}/remix`` ``{prompt}``: a new job of the finished source's model,
        seconds and size. A source that is gone is a 404, one not completed a 400, as OpenAI answers."""
        source = self.jobs.get(request.match_info["video_id"])
        if source is None:
            return not_found(request.match_info["video_id"])
        try:
            body = await request.json()
        except ValueError:
            body = None
        prompt = str(body.get("prompt") or "").strip() if isinstance(body, dict) else ""
        if not prompt:
            return error_reply(
                400, "Missing required parameter: 'prompt'.", code="missing_required_parameter", param="prompt"
            )
        status = self._snapshot(source).status
        if status != "completed":
            return error_reply(400, f"Video {source.id} is {status}; only a completed video can be remixed.")
        started = self.start_job(
            shape="openai-videos",
            model=source.model,
            prompt=prompt,
            seconds=source.seconds,
            size=source.size,
            idempotency_key=request.headers.get("Idempotency-Key"),
            fingerprint_fields={"prompt": prompt, "remix_of": source.id},
            remixed_from=source.id,
        )
        if isinstance(started, web.Response):
            return started
        job, _ = started
        return web.json_response(self._view(job))

    def start_job(
        self,
        *,
        shape: str,
        model: str,
        prompt: str,
        seconds: str,
        size: str,
        idempotency_key: str | None,
        fingerprint_fields: Mapping[str, Any],
        input_reference: dict[str, Any] | None = None,
        remixed_from: str | None = None,
    ) -> tuple[FakeJob, bool] | web.Response:
        """A new job of any shape (or, for a repeated ``idempotency_key``, the job it made: ``(job, True)``);
        a 400/409 error reply for an unknown fault or a reused key. Every shape's create goes through here,
        so faults, failure rate, idempotency and ``/_fake/stats`` work the same for all of them."""
        fault = self._fault_for(prompt)
        if fault is not None and fault not in FAULTS:
            return error_reply(400, f"Unknown fault {fault!r}.", code="unknown_fault", param="prompt")
        fingerprint = _fingerprint({**fingerprint_fields, "input_reference": input_reference, "shape": shape})
        replayed = self._replay(idempotency_key, fingerprint)
        if isinstance(replayed, web.Response):
            return replayed
        if replayed is not None and replayed in self.jobs:
            self.jobs[replayed].replays += 1
            return self.jobs[replayed], True
        job = FakeJob(
            id=f"video_{uuid.uuid4().hex}",
            model=model,
            prompt=prompt,
            seconds=seconds,
            size=size,
            created_at=int(time.time()),
            started=self.config.clock(),
            will_fail=self._rng.random() < self.config.failure_rate,
            fault=fault,
            input_reference=input_reference,
            idempotency_key=idempotency_key,
            shape=shape,
            remixed_from=remixed_from,
        )
        self.jobs[job.id] = job
        self._remember(idempotency_key, fingerprint, job.id)
        return job, False

    async def drop_reply_if_told(self, job: FakeJob) -> None:
        """The ``drop_create_reply`` fault: the job exists (and would be billed), but the client gives up
        before the create's reply comes."""
        rule = job.rule
        if rule is not None and rule.action is FaultAction.DROP_REPLY:
            job.calls["create"] += 1
            if rule.first_calls is None or job.calls["create"] <= rule.first_calls:
                await asyncio.sleep(self.config.hang_seconds)

    async def status_check(self, request: web.Request, job: FakeJob) -> Snapshot | web.StreamResponse | None:
        """One status poll of ``job``, whatever shape asks: a fault's reply (in OpenAI's error shape; a
        shape rewrites it into its own), None once a ``vanish`` job has vanished (the shape answers its
        own 404), else where the job stands. Counts the poll for ``/_fake/stats``."""
        disturbed = await fault_reply(request, job, "status", self.config.hang_seconds)
        if disturbed is not None:
            return disturbed
        job.status_calls += 1
        state = self._snapshot(job)
        rule = job.rule
        if rule is not None and rule.action is FaultAction.VANISH and state.progress >= VANISH_AT_PROGRESS:
            del self.jobs[job.id]
            return None
        return state

    def send_webhook_when_done(self, job: FakeJob, url: str, body: WebhookBody, sign: WebhookSigner) -> None:
        """Call ``url`` with the shape's signed webhook once ``job`` ends, unless webhooks are off for the run
        or dropped for the job (``drop_webhook``). Runs on the server's loop; the job's create need not wait."""
        job.webhook_url = url
        rule = job.rule
        if not self.config.webhooks or (rule is not None and rule.action is FaultAction.DROP_WEBHOOK):
            return
        task = asyncio.get_running_loop().create_task(self._deliver_when_done(job, url, body, sign))
        self._webhooks.add(task)
        task.add_done_callback(self._webhooks.discard)

    async def _deliver_when_done(self, job: FakeJob, url: str, body: WebhookBody, sign: WebhookSigner) -> None:
        while (payload := body(job)) is None:
            if job.id not in self.jobs:
                return  # vanished: a real provider would have nothing to tell
            # Naps of at most half a second rather than one long sleep: tests move the config's clock by hand.
            # Long past its end (a ``stuck`` job) the job is only looked at twice a second.
            remaining = job.ends_at(self.config.video_seconds) - self.config.clock()
            await asyncio.sleep(min(0.5, max(0.01, remaining)) if remaining > -1.0 else 0.5)
        async with ClientSession(timeout=ClientTimeout(total=WEBHOOK_TIMEOUT_SECONDS)) as session:
            for delay in (*WEBHOOK_RETRY_DELAYS, None):
                headers = {"Content-Type": "application/json", **sign(job, payload)}
                try:
                    async with session.post(url, data=payload, headers=headers) as reply:
                        job.webhooks_sent += 1
                        if 200 <= reply.status < 300:
                            return
                except (ClientError, TimeoutError):
                    pass
                if delay is None:
                    return
                await asyncio.sleep(delay)

    async def close(self, app: web.Application) -> None:
        """Deliveries still waiting for their job end with the server."""
        for task in list(self._webhooks):
            task.cancel()
        await asyncio.gather(*self._webhooks, return_exceptions=True)

    def snapshot_of(self, job: FakeJob) -> Snapshot:
        """Where ``job`` stands now (status, progress), whatever shape reports it."""
        return self._snapshot(job)

    async def list_videos(self, request: web.Request) -> web.Response:
        data = [self._view(job) for job in reversed(self.jobs.values())]
        return web.json_response({"object": "list", "data": data, "has_more": False})

    async def get_video(self, request: web.Request) -> web.StreamResponse:
        job = self.jobs.get(request.match_info["video_id"])
        if job is None:
            return not_found(request.match_info["video_id"])
        seen = await self.status_check(request, job)
        if isinstance(seen, web.StreamResponse):
            return seen
        if seen is None:
            return not_found(job.id)
        return web.json_response(self._view(job))

    async def delete_video(self, request: web.Request) -> web.Response:
        job = self.jobs.pop(request.match_info["video_id"], None)
        if job is None:
            return not_found(request.match_info["video_id"])
        return web.json_response({"id": job.id, "object": "video.deleted", "deleted": True})

    async def get_content(self, request: web.Request) -> web.StreamResponse:
        job = self.jobs.get(request.match_info["video_id"])
        if job is None:
            return not_found(request.match_info["video_id"])
        disturbed = await fault_reply(request, job, "content", self.config.hang_seconds)
        if disturbed is not None:
            return disturbed
        status = self._snapshot(job).status
        if status != "completed":
            return error_reply(409, f"Video is not ready yet (status {status}).", code="video_not_ready")
        return web.FileResponse(VIDEO_FILE, headers={"Content-Type": "video/mp4"})

    # -- images and media -----------------------------------------------------------------------------

    async def generate_image(self, request: web.Request) -> web.Response:
        try:
            body = await request.json()
        except ValueError:
            return error_reply(400, "The body must be JSON.", code="invalid_json")
        if not isinstance(body, dict) or not str(body.get("prompt") or "").strip():
            return error_reply(
                400, "Missing required parameter: 'prompt'.", code="missing_required_parameter", param="prompt"
            )
        count = body.get("n", 1)
        if not isinstance(count, int) or not 1 <= count <= 4:
            return error_reply(400, "'n' must be an integer from 1 to 4.", code="invalid_value", param="n")
        key = request.headers.get("Idempotency-Key")
        fingerprint = _fingerprint(body)
        replayed = self._replay(key, fingerprint)
        if isinstance(replayed, web.Response):
            return replayed
        earlier = next((image for image in self.images if image.id == replayed), None)
        if earlier is not None:
            earlier.replays += 1
            return web.json_response(earlier.reply)
        if body.get("response_format") == "b64_json":
            encoded = base64.b64encode(MEDIA_FILES[IMAGE_NAME].read_bytes()).decode()
            item: dict[str, str] = {"b64_json": encoded}
        else:
            # An absolute URL on whatever host the caller used to reach us, as OpenAI's CDN URLs are absolute.
            item = {"url": str(request.url.origin().with_path(f"/media/{IMAGE_NAME}"))}
        reply = {"created": int(time.time()), "data": [dict(item) for _ in range(count)]}
        image = ImageJob(f"img_{uuid.uuid4().hex}", time.time(), reply, fingerprint, key)
        self.images.append(image)
        self._remember(key, fingerprint, image.id)
        return web.json_response(reply)

    async def get_media(self, request: web.Request) -> web.StreamResponse:
        path = MEDIA_FILES.get(request.match_info["name"])
        if path is None:
            return error_reply(404, "No such media.", code="media_not_found")
        return web.FileResponse(path)

    # -- test helpers ---------------------------------------------------------------------------------

    async def list_jobs(self, request: web.Request) -> web.Response:
        jobs = [
            {
                **self._view(job),
                "prompt": job.prompt,
                "fault": job.fault,
                "will_fail": job.will_fail,
                "input_reference": job.input_reference,
                "calls": dict(job.calls),
                "idempotency_key": job.idempotency_key,
                "replays": job.replays,
            }
            for job in self.jobs.values()
        ]
        return web.json_response({"jobs": jobs})

    async def stats(self, request: web.Request) -> web.Response:
        """Every job made, videos and images: the count the provider would bill. Times in epoch seconds."""
        videos = [
            {
                "id": job.external_id or job.id,
                "shape": job.shape,
                "createdAt": job.created_wall,
                "readyAt": job.created_wall + self.config.video_seconds,
                "statusCalls": job.status_calls,
                "webhooksSent": job.webhooks_sent,
            }
            for job in self.jobs.values()
        ]
        images = [
            {
                "id": image.id,
                "shape": "openai-images",
                "createdAt": image.created_wall,
                "readyAt": image.created_wall,
                "statusCalls": 0,
                "webhooksSent": 0,
            }
            for image in self.images
        ]
        return web.json_response({"jobs": sorted(videos + images, key=lambda job: job["createdAt"])})

    async def health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    # -- internals ------------------------------------------------------------------------------------

    def _replay(self, key: str | None, fingerprint: str) -> str | web.Response | None:
        """For a create carrying ``key``: the id of the job an earlier create with it made (a replay),
        a 409 when the key was used for a different request, or None (a new job)."""
        remembered = self._keys.get(key) if key else None
        if remembered is None or time.time() - remembered.at > IDEMPOTENCY_WINDOW_SECONDS:
            return None
        if remembered.fingerprint != fingerprint:
            return error_reply(
                409,
                "This Idempotency-Key was already used with different request parameters.",
                code="idempotency_key_reused",
            )
        return remembered.job_id

    def _remember(self, key: str | None, fingerprint: str, job_id: str) -> None:
        if key:
            self._keys[key] = Remembered(fingerprint, job_id, time.time())

    def _fault_for(self, prompt: str) -> str | None:
        match = _FAULT_IN_PROMPT.search(prompt)
        return match.group(1) if match else self.config.fault

    def _snapshot(self, job: FakeJob) -> Snapshot:
        return snapshot(job, now=self.config.clock(), video_seconds=self.config.video_seconds)

    def _view(self, job: FakeJob) -> dict[str, Any]:
        return video_object(job, self._snapshot(job), self.config.video_seconds)


async def _read_create_body(request: web.Request) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Fields of a multipart, form or JSON create; a file ``input_reference`` is described, not kept."""
    if request.content_type == "application/json":
        try:
            body = await request.json()
        except ValueError:
            body = {}
        fields = body if isinstance(body, dict) else {}
        reference = fields.get("input_reference")
        return fields, ({"kind": "url", "value": reference} if isinstance(reference, str) else None)
    form = await request.post()
    fields = {name: value for name, value in form.items() if isinstance(value, str)}
    upload = form.get("input_reference")
    if isinstance(upload, web.FileField):
        data = upload.file.read()
        return fields, {
            "kind": "file",
            "filename": upload.filename,
            "content_type": upload.content_type,
            "bytes": len(data),
        }
    if isinstance(upload, str):
        return fields, {"kind": "url", "value": upload}
    return fields, None


def _fingerprint(fields: Mapping[str, Any]) -> str:
    """The request's parameters, not its bytes: a retried multipart create has a new boundary."""
    return json.dumps(fields, sort_keys=True, default=str)


APP_KEY = web.AppKey("fake_provider", FakeProvider)


def create_app(config: FakeProviderConfig) -> web.Application:
    provider = FakeProvider(config)
    app = web.Application(middlewares=[provider.require_key], client_max_size=20 * 1024 * 1024)
    app[APP_KEY] = provider
    app.add_routes(provider.routes())
    app.on_cleanup.append(provider.close)
    return app


# -- running it ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def serve_in_background(config: FakeProviderConfig, *, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run the fake provider on its own event loop thread; yields its base URL (a free port by default)."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fake-provider", daemon=True)
    thread.start()
    # A short shutdown grace period: a request parked by the ``hang`` fault must not hold up teardown.
    runner = web.AppRunner(create_app(config), access_log=None, shutdown_timeout=0.5)

    async def start() -> int:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        return int(runner.addresses[0][1])

    try:
        bound = asyncio.run_coroutine_threadsafe(start(), loop).result(timeout=10)
        yield f"http://{host}:{bound}"
    finally:
        asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Fake OpenAI Videos/Images provider for the offline stack.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PROVIDER_PORT", DEFAULT_PORT)))
    args = parser.parse_args(argv)
    config = FakeProviderConfig.from_env()
    print(f"fake provider on http://{args.host}:{args.port} ({config})", flush=True)
    web.run_app(create_app(config), host=args.host, port=args.port, print=None)


if __name__ == "__main__":
    main()
