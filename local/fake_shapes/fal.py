"""The fal queue API shape, under ``/fal`` (point a ``fal_queue`` provider entry at ``http://host:port/fal``).

Submit ``POST /fal/{endpoint id}`` (e.g. ``/fal/fal-ai/kling-video/v2.1/standard/text-to-video``); status
``GET``, result ``GET`` and cancel ``PUT`` under the *app* (``/fal/fal-ai/kling-video/requests/{id}``), as
fal serves them. Replies and errors are shaped as fal documents them: the submit reply carries
``request_id`` and the three URLs, the status ``IN_QUEUE`` (202, with ``queue_position``) / ``IN_PROGRESS``
(202) / ``COMPLETED`` (200); a failed request completes and its result answers with a request error
(``{"detail", "error_type"}``); a cancelled one answers ``client_cancelled``. The key is checked as
``Authorization: Key <key>``. The finished video is served per job under ``/fal/files/{id}/output.mp4``, so
the core's content faults apply to it.

A submit with ``?fal_webhook=<url>`` gets fal's webhook when the request ends (``{request_id,
gateway_request_id, status: OK|ERROR, payload, error}``), signed as fal signs it
(https://docs.fal.ai/model-apis/model-endpoints/webhooks, "Verifying Your Webhook", read 2026-11-28): the
``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp`` headers and ``-Signature``, the hex ED25519
signature of ``request_id \n user_id \n timestamp \n sha256-hex(body)``, by a key the fake makes at start and
publishes, as fal does its own, at ``GET /fal/.well-known/jwks.json``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from yarl import URL

from local.fake_provider import VIDEO_FILE, FakeJob, fault_reply

if TYPE_CHECKING:
    from local.fake_provider import FakeProvider

PREFIX = "/fal"
SHAPE = "fal-queue"
APP_NAMESPACES = ("workflows", "comfy")
# Where a queued job stands: the fake has no real queue, so a queued job reports a fixed line ahead of it.
QUEUE_POSITION = 2
WEBHOOK_USER_ID = "fake-fal-user"
JWKS_PATH = PREFIX + "/.well-known/jwks.json"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def detail_reply(status: int, detail: str, *, error_type: str | None = None, **headers: str) -> web.Response:
    """fal's request-error body (``detail`` as text, ``error_type`` and ``X-Fal-Error-Type`` when typed)."""
    body: dict[str, Any] = {"detail": detail}
    if error_type:
        body["error_type"] = error_type
        headers["X-Fal-Error-Type"] = error_type
    return web.json_response(body, status=status, headers=headers)


def validation_reply(field: str, message: str, error_type: str, value: Any) -> web.Response:
    """fal's model-error body: ``detail`` as a list of ``{loc, msg, type}``."""
    item = {"loc": ["body", field], "msg": message, "type": error_type, "input": value}
    return web.json_response({"detail": [item]}, status=422, headers={"X-Fal-Retryable": "false"})


def app_of(endpoint_id: str) -> str:
    parts = [part for part in endpoint_id.split("/") if part]
    return "/".join(parts[: 3 if parts and parts[0] in APP_NAMESPACES else 2])


class FalShape:
    def __init__(self, core: FakeProvider) -> None:
        self.core = core
        self.cancelled: set[str] = set()
        self._signing_key = Ed25519PrivateKey.generate()

    def routes(self) -> list[web.RouteDef]:
        request_path = PREFIX + "/{app:.+}/requests/{request_id}"
        return [
            web.get(JWKS_PATH, self.jwks),
            web.get(PREFIX + "/files/{request_id}/output.mp4", self.media),
            web.get(request_path + "/status", self.authed(self.status)),
            web.put(request_path + "/cancel", self.authed(self.cancel)),
            web.get(request_path, self.authed(self.result)),
            web.post(PREFIX + "/{endpoint:.+}", self.authed(self.submit)),
        ]

    def authed(self, handler: Handler) -> Handler:
        async def checked(request: web.Request) -> web.StreamResponse:
            expected = self.core.config.api_key
            sent = request.headers.get("Authorization", "")
            if expected and not hmac.compare_digest(sent.encode(), f"Key {expected}".encode()):
                return detail_reply(401, "Authentication is required to access this application.")
            return await handler(request)

        return checked

    # -- the queue ------------------------------------------------------------------------------------

    async def submit(self, request: web.Request) -> web.StreamResponse:
        endpoint = request.match_info["endpoint"].strip("/")
        if app_of(endpoint).count("/") < 1:
            return detail_reply(404, f"Application '{endpoint}' not found")
        try:
            body = await request.json()
        except ValueError:
            return detail_reply(400, "The request body must be JSON.", error_type="bad_request")
        if not isinstance(body, dict):
            return detail_reply(400, "The request body must be a JSON object.", error_type="bad_request")
        prompt = body.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return validation_reply("prompt", "Field required", "missing", prompt)
        duration = body.get("duration", "5")
        seconds = str(duration).removesuffix("s")
        if not seconds.isdigit():
            return validation_reply("duration", "Input should be a duration in seconds", "enum", duration)
        started = self.core.start_job(
            shape=SHAPE,
            model=endpoint,
            prompt=prompt,
            seconds=seconds,
            size=str(body.get("aspect_ratio") or "16:9"),
            idempotency_key=None,  # fal documents no Idempotency-Key
            fingerprint_fields=body,
            input_reference=({"kind": "url", "value": body["image_url"]} if "image_url" in body else None),
        )
        if isinstance(started, web.Response):
            return started
        job, _ = started
        job.external_id = f"{app_of(endpoint)}/requests/{job.id}"
        webhook = request.query.get("fal_webhook", "").strip()
        if webhook:
            origin = request.url.origin()
            self.core.send_webhook_when_done(job, webhook, lambda done: self._webhook_body(done, origin), self._sign)
        await self.core.drop_reply_if_told(job)
        urls = self._urls(request, job)
        return web.json_response({"status": "IN_QUEUE", "request_id": job.id, **urls, "queue_position": 0})

    async def status(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job is None:
            return detail_reply(404, "Request not found")
        state = await self.core.status_check(request, job)
        if isinstance(state, web.StreamResponse):
            return _fal_shaped(state)
        if state is None:
            return detail_reply(404, "Request not found")
        urls = self._urls(request, job)
        if job.id in self.cancelled or state.status in ("completed", "failed"):
            return web.json_response({"status": "COMPLETED", "logs": None, "metrics": {}, **urls})
        if state.status == "queued":
            return web.json_response({"status": "IN_QUEUE", "queue_position": QUEUE_POSITION, **urls}, status=202)
        return web.json_response({"status": "IN_PROGRESS", "logs": None, **urls}, status=202)

    async def result(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job is None:
            return detail_reply(404, "Request not found")
        if job.id in self.cancelled:
            return detail_reply(499, "The request was cancelled by the client.", error_type="client_cancelled")
        status = self.core.snapshot_of(job).status
        if status == "failed":
            return detail_reply(
                500,
                "The fake provider failed this request on purpose (FAKE_FAILURE_RATE).",
                error_type="runner_server_error",
            )
        if status != "completed":
            return detail_reply(400, "Request is still in progress")
        media = str(request.url.origin().with_path(f"{PREFIX}/files/{job.id}/output.mp4"))
        return web.json_response(
            {"video": {"url": media, "content_type": "video/mp4", "file_name": "output.mp4"}, "seed": 42}
        )

    async def cancel(self, request: web.Request) -> web.StreamResponse:
        job = self._job(request)
        if job is None:
            return web.json_response({"status": "NOT_FOUND"}, status=404)
        if job.id in self.cancelled or self.core.snapshot_of(job).status in ("completed", "failed"):
            return web.json_response({"status": "ALREADY_COMPLETED"}, status=400)
        self.cancelled.add(job.id)
        return web.json_response({"status": "CANCELLATION_REQUESTED"}, status=202)

    async def media(self, request: web.Request) -> web.StreamResponse:
        job = self.core.jobs.get(request.match_info["request_id"])
        if job is None:
            return web.Response(status=404, text="Not Found")
        disturbed = await fault_reply(request, job, "content", self.core.config.hang_seconds)
        if disturbed is not None:
            return _fal_shaped(disturbed) if disturbed.status >= 400 else disturbed
        return web.FileResponse(VIDEO_FILE, headers={"Content-Type": "video/mp4"})

    # -- webhooks -------------------------------------------------------------------------------------

    async def jwks(self, request: web.Request) -> web.Response:
        raw = self._signing_key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
        x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        return web.json_response({"keys": [{"kty": "OKP", "crv": "Ed25519", "x": x, "kid": "fake-fal", "use": "sig"}]})

    def _webhook_body(self, job: FakeJob, origin: URL) -> bytes | None:
        """fal's webhook body once the request has ended; None while it is queued or running."""
        status = self.core.snapshot_of(job).status
        ids = {"request_id": job.id, "gateway_request_id": job.id}
        if job.id in self.cancelled:
            body: dict[str, Any] = {
                **ids,
                "status": "ERROR",
                "error": "Request was cancelled by the client.",
                "payload": {"detail": "The request was cancelled by the client.", "error_type": "client_cancelled"},
            }
        elif status == "failed":
            body = {
                **ids,
                "status": "ERROR",
                "error": "Invalid status code: 500",
                "payload": {
                    "detail": "The fake provider failed this request on purpose (FAKE_FAILURE_RATE).",
                    "error_type": "runner_server_error",
                },
            }
        elif status == "completed":
            media = str(origin.with_path(f"{PREFIX}/files/{job.id}/output.mp4"))
            video = {"url": media, "content_type": "video/mp4", "file_name": "output.mp4"}
            body = {**ids, "status": "OK", "payload": {"video": video, "seed": 42}}
        else:
            return None
        return json.dumps(body).encode()

    def _sign(self, job: FakeJob, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        message = "\n".join([job.id, WEBHOOK_USER_ID, timestamp, hashlib.sha256(body).hexdigest()]).encode()
        return {
            "X-Fal-Webhook-Request-Id": job.id,
            "X-Fal-Webhook-User-Id": WEBHOOK_USER_ID,
            "X-Fal-Webhook-Timestamp": timestamp,
            "X-Fal-Webhook-Signature": self._signing_key.sign(message).hex(),
        }

    # -- internals ------------------------------------------------------------------------------------

    def _job(self, request: web.Request) -> FakeJob | None:
        job = self.core.jobs.get(request.match_info["request_id"])
        return job if job is not None and job.shape == SHAPE else None

    def _urls(self, request: web.Request, job: FakeJob) -> dict[str, str]:
        """Absolute, on whatever host the caller used, under the app (no endpoint sub-path), as fal's are."""
        base = str(request.url.origin().with_path(f"{PREFIX}/{job.external_id}"))
        return {"response_url": base, "status_url": f"{base}/status", "cancel_url": f"{base}/cancel"}


def _fal_shaped(reply: web.StreamResponse) -> web.StreamResponse:
    """The core's fault replies carry OpenAI's error body; fal's errors say ``detail``."""
    if not isinstance(reply, web.Response) or reply.status < 400 or reply.content_type != "application/json":
        return reply
    texts = {429: "Rate limit exceeded.", 404: "Not Found"}
    return detail_reply(reply.status, texts.get(reply.status, "Service temporarily unavailable."), **_kept(reply))


def _kept(reply: web.Response) -> dict[str, str]:
    return {"Retry-After": reply.headers["Retry-After"]} if "Retry-After" in reply.headers else {}


def routes(core: FakeProvider) -> list[web.RouteDef]:
    return FalShape(core).routes()
