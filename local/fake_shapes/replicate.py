"""Replicate's predictions API, as the fake provider speaks it under ``/replicate``.

Shaped after https://replicate.com/docs/reference/http (read 2026-11-28): a prediction is
``{id, model, version, input, output, error, logs, status, created_at, started_at, completed_at,
data_removed, metrics, urls: {get, cancel}}`` with ``status`` ``starting|processing|succeeded|failed|canceled``;
errors are RFC 7807 problem details (``{title, detail, status}``). Point a ``ReplicateProvider`` at
``http://127.0.0.1:<port>/replicate``.

The output file is served under ``/replicate/delivery/`` without a key, as ``replicate.delivery`` serves it,
and with the content fault modes applied. Replicate has no Idempotency-Key, so a repeated create makes a new
prediction, as it would there (and ``GET /v1/predictions`` lists them for adoption).

A create naming a ``webhook`` (and a ``webhook_events_filter`` that holds ``completed``, or none) gets the
prediction POSTed there when it ends, signed per Standard Webhooks as Replicate signs its webhooks
(https://replicate.com/docs/topics/webhooks/verify-webhook, read 2026-11-28): ``webhook-id`` (the same for
every retry of one webhook), ``webhook-timestamp`` and ``webhook-signature: v1,<base64 HMAC-SHA256 of
"id.timestamp.body">``, keyed by the config's ``whsec_`` secret. The fake models only the ``completed`` event.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from aiohttp import web
from yarl import URL

from local.fake_provider import VIDEO_FILE, FakeJob, fault_reply

if TYPE_CHECKING:
    from local.fake_provider import FakeProvider

PREFIX = "/replicate"
SHAPE = "replicate"

_STATUS = {"queued": "starting", "in_progress": "processing", "completed": "succeeded", "failed": "failed"}
_IMAGE_FIELDS = ("image", "start_image")
_ENDED = ("succeeded", "failed", "canceled")


def problem(status: int, title: str, detail: str, **extra: Any) -> web.Response:
    """Replicate's error body (RFC 7807 problem details)."""
    return web.json_response({"title": title, "detail": detail, "status": status, **extra}, status=status)


def not_found() -> web.Response:
    return problem(404, "Not found", "Not found.")


class ReplicateShape:
    """The routes, and what only this shape remembers: which predictions were canceled, and when."""

    def __init__(self, core: FakeProvider) -> None:
        self.core = core
        self.canceled: dict[str, datetime] = {}

    def routes(self) -> list[web.RouteDef]:
        api = f"{PREFIX}/v1"
        return [
            web.post(f"{api}/models/{{owner}}/{{name}}/predictions", self.create_for_model),
            web.post(f"{api}/predictions", self.create_for_version),
            web.get(f"{api}/predictions", self.list_predictions),
            web.get(f"{api}/predictions/{{id}}", self.get_prediction),
            web.post(f"{api}/predictions/{{id}}/cancel", self.cancel_prediction),
            web.get(f"{PREFIX}/delivery/{{id}}/output.mp4", self.get_output),
        ]

    # -- handlers ---------------------------------------------------------------------------------

    async def create_for_model(self, request: web.Request) -> web.Response:
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        return await self._create(request, model=model, version=None)

    async def create_for_version(self, request: web.Request) -> web.Response:
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        body = await _json_body(request)
        version = body.get("version") if body is not None else None
        if not isinstance(version, str) or not version.strip():
            return problem(422, "Input validation failed", "- version: version is required")
        owner_name, _, version_id = version.strip().rpartition(":")
        return await self._create(request, model=owner_name or None, version=version_id, body=body)

    async def list_predictions(self, request: web.Request) -> web.Response:
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        mine = [job for job in reversed(self.core.jobs.values()) if job.shape == SHAPE]
        results = [self._prediction(request.url.origin(), job) for job in mine]
        return web.json_response({"previous": None, "next": None, "results": results})

    async def get_prediction(self, request: web.Request) -> web.StreamResponse:
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        job = self._job(request)
        if job is None:
            return not_found()
        seen = await self.core.status_check(request, job)
        if isinstance(seen, web.StreamResponse):
            return seen
        if seen is None:
            return not_found()
        return web.json_response(self._prediction(request.url.origin(), job))

    async def cancel_prediction(self, request: web.Request) -> web.Response:
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        job = self._job(request)
        if job is None:
            return not_found()
        # A finished prediction stays as it ended; only a running one becomes "canceled".
        if self.core.snapshot_of(job).status not in ("completed", "failed"):
            self.canceled.setdefault(job.id, datetime.now(UTC))
        return web.json_response(self._prediction(request.url.origin(), job))

    async def get_output(self, request: web.Request) -> web.StreamResponse:
        """The output file, as ``replicate.delivery`` serves it: no key needed."""
        job = self._job(request)
        if job is None or job.id in self.canceled:
            return not_found()
        disturbed = await fault_reply(request, job, "content", self.core.config.hang_seconds)
        if disturbed is not None:
            return disturbed
        if self.core.snapshot_of(job).status != "completed":
            return not_found()
        return web.FileResponse(VIDEO_FILE, headers={"Content-Type": "video/mp4"})

    # -- internals --------------------------------------------------------------------------------

    async def _create(
        self, request: web.Request, *, model: str | None, version: str | None, body: dict[str, Any] | None = None
    ) -> web.Response:
        refused = self._refuse_key(request)
        if refused is not None:
            return refused
        if body is None:
            body = await _json_body(request)
        given = body.get("input") if body is not None else None
        if not isinstance(given, dict):
            return problem(422, "Input validation failed", "- input: input is required")
        prompt = given.get("prompt")
        if not isinstance(prompt, str) or not prompt.strip():
            return problem(422, "Input validation failed", "- input: prompt is required")
        duration = given.get("duration", 5)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration <= 0:
            return problem(422, "Input validation failed", "- input.duration: Invalid type. Expected: integer")
        started = self.core.start_job(
            shape=SHAPE,
            model=model or f"version:{version}",
            prompt=prompt,
            seconds=str(duration),
            size=" ".join(str(given[name]) for name in ("aspect_ratio", "resolution") if name in given),
            idempotency_key=None,  # Replicate documents none
            fingerprint_fields=body,
            input_reference=_reference(given),
        )
        if isinstance(started, web.Response):
            return started
        job, _ = started
        webhook = body.get("webhook") if body is not None else None
        events = body.get("webhook_events_filter") if body is not None else None
        if isinstance(webhook, str) and webhook.strip() and (not isinstance(events, list) or "completed" in events):
            origin, webhook_id = request.url.origin(), f"msg_{uuid.uuid4().hex}"
            self.core.send_webhook_when_done(
                job,
                webhook.strip(),
                lambda done: self._webhook_body(done, origin),
                lambda done, payload: self._sign(webhook_id, payload),
            )
        await self.core.drop_reply_if_told(job)
        reply = self._prediction(request.url.origin(), job)
        reply["version"] = version
        return web.json_response(reply, status=201)

    def _refuse_key(self, request: web.Request) -> web.Response | None:
        expected = self.core.config.api_key
        if not expected:
            return None
        sent = request.headers.get("Authorization", "")
        if hmac.compare_digest(sent.encode(), f"Bearer {expected}".encode()):
            return None
        return problem(401, "Unauthenticated", "You did not pass a valid authentication token")

    def _job(self, request: web.Request) -> FakeJob | None:
        job = self.core.jobs.get(request.match_info["id"])
        return job if job is not None and job.shape == SHAPE else None

    def _webhook_body(self, job: FakeJob, origin: URL) -> bytes | None:
        """The prediction once it has ended (Replicate's ``completed`` event); None while it runs."""
        prediction = self._prediction(origin, job)
        return json.dumps(prediction).encode() if prediction["status"] in _ENDED else None

    def _sign(self, webhook_id: str, body: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        key = base64.b64decode(self.core.config.webhook_secret.removeprefix("whsec_"))
        digest = hmac.new(key, f"{webhook_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
        return {
            "webhook-id": webhook_id,
            "webhook-timestamp": timestamp,
            "webhook-signature": "v1," + base64.b64encode(digest).decode(),
        }

    def _prediction(self, origin: URL, job: FakeJob) -> dict[str, Any]:
        snapshot = self.core.snapshot_of(job)
        created = datetime.fromtimestamp(job.created_wall, UTC)
        canceled_at = self.canceled.get(job.id)
        status = "canceled" if canceled_at is not None else _STATUS[snapshot.status]
        own = str(origin.with_path(f"{PREFIX}/v1/predictions/{job.id}"))
        prediction: dict[str, Any] = {
            "id": job.id,
            "model": job.model,
            "version": None,
            "input": {"prompt": job.prompt, "duration": int(job.seconds)},
            "logs": "",
            "output": None,
            "error": None,
            "status": status,
            "source": "api",
            "data_removed": False,
            "created_at": _iso(created),
            "started_at": None if status == "starting" else _iso(created),
            "completed_at": None,
            "metrics": {},
            "urls": {"get": own, "cancel": f"{own}/cancel"},
        }
        if status == "canceled" and canceled_at is not None:
            prediction["completed_at"] = _iso(canceled_at)
        elif status == "succeeded":
            prediction.update(
                output=str(origin.with_path(f"{PREFIX}/delivery/{job.id}/output.mp4")),
                completed_at=_iso(datetime.now(UTC)),
                metrics={"predict_time": self.core.config.video_seconds},
            )
        elif status == "failed":
            prediction.update(
                error="The fake provider failed this prediction on purpose (FAKE_FAILURE_RATE).",
                completed_at=_iso(datetime.now(UTC)),
            )
        return prediction


async def _json_body(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _reference(given: dict[str, Any]) -> dict[str, Any] | None:
    """The start frame, described, not kept."""
    for name in _IMAGE_FIELDS:
        value = given.get(name)
        if isinstance(value, str) and value:
            kind = "data" if value[:5].lower() == "data:" else "url"
            return {"kind": kind, "field": name, "length": len(value)}
    return None


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def routes(core: FakeProvider) -> list[web.RouteDef]:
    return ReplicateShape(core).routes()
