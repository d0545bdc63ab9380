"""Google's Gemini API Veo shape, under ``/gemini``: point a ``gemini_veo`` provider entry at
``http://127.0.0.1:3002/gemini`` and it speaks to this as to ``https://generativelanguage.googleapis.com``.

- ``POST /gemini/v1beta/models/{model}:predictLongRunning`` starts a job and answers the operation
  ``{"name": "models/{model}/operations/{id}"}``. The API takes no idempotency key, so none is honoured.
- ``GET /gemini/v1beta/{operation name}`` answers the operation: no ``done`` while the job runs, then
  ``done`` with ``response.generateVideoResponse.generatedSamples[0].video.uri`` or ``error``.
- ``GET /gemini/v1beta/files/{id}:download?alt=media`` serves the video; it wants the key too.

Every call checks ``x-goog-api-key`` against the configured key as Google does: a missing key is a 403
``PERMISSION_DENIED``, a wrong one a 400 ``INVALID_ARGUMENT`` (``API_KEY_INVALID``). Errors, fault replies
included, come in Google's shape (``{"error": {"code", "message", "status"}}``). The shape's job id, and
so its id in ``/_fake/stats``, is the operation name, as the adapter stores it.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aiohttp import web

from local.fake_provider import VIDEO_FILE, FakeJob, fault_reply

if TYPE_CHECKING:
    from local.fake_provider import FakeProvider

PREFIX = "/gemini"
SHAPE = "gemini-veo"
API = f"{PREFIX}/v1beta"

ASPECT_RATIOS = ("16:9", "9:16")
RESOLUTIONS = {"720p": (1280, 720), "1080p": (1920, 1080), "4k": (3840, 2160)}
DURATIONS = (4, 5, 6, 8)  # every duration some Veo model takes

# google.rpc codes by HTTP status, as Google's error bodies name them.
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    500: "INTERNAL",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}
INTERNAL = 13  # the google.rpc.Code of a generation that failed on the provider's side


def google_error(
    status: int, message: str, *, details: list[dict[str, Any]] | None = None, headers: Mapping[str, str] | None = None
) -> web.Response:
    error: dict[str, Any] = {"code": status, "message": message, "status": STATUS_NAMES.get(status, "UNKNOWN")}
    if details:
        error["details"] = details
    return web.json_response({"error": error}, status=status, headers=headers)


def routes(core: FakeProvider) -> list[web.RouteDef]:
    shape = GeminiShape(core)
    return [
        # ``{model}:predictLongRunning`` is one path segment: matched whole and split by the handler.
        web.post(API + "/models/{call}", shape.predict_long_running),
        web.get(API + "/files/{call}", shape.download),
        web.get(API + "/{name:.+}", shape.get_operation),
    ]


class GeminiShape:
    def __init__(self, core: FakeProvider) -> None:
        self.core = core

    async def predict_long_running(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        model, _, method = request.match_info["call"].partition(":")
        if method != "predictLongRunning" or not model:
            return google_error(404, f"Method not found: {request.match_info['call']}.")
        try:
            body = await request.json()
        except ValueError:
            return google_error(400, "Invalid JSON payload received.")
        parsed = _create_fields(body)
        if isinstance(parsed, web.Response):
            return parsed
        prompt, seconds, size, reference = parsed
        started = self.core.start_job(
            shape=SHAPE,
            model=model,
            prompt=prompt,
            seconds=seconds,
            size=size,
            idempotency_key=None,
            fingerprint_fields=body,
            input_reference=reference,
        )
        if isinstance(started, web.Response):
            return _google_shaped(started)
        job = self._named_as_operation(started[0])
        await self.core.drop_reply_if_told(job)
        return web.json_response({"name": job.id})

    async def get_operation(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        name = request.match_info["name"]
        job = self.core.jobs.get(name)
        if job is None or job.shape != SHAPE:
            return google_error(404, f"Operation {name} not found.")
        state = await self.core.status_check(request, job)
        if isinstance(state, web.StreamResponse):
            return _google_shaped(state)
        if state is None:
            return google_error(404, f"Operation {name} not found.")
        if state.status == "completed":
            uri = str(request.url.origin()) + f"{API}/files/{_file_id(job)}:download?alt=media"
            return web.json_response(
                {
                    "name": job.id,
                    "done": True,
                    "response": {
                        "@type": "type.googleapis.com/google.ai.generativelanguage.v1beta.PredictLongRunningResponse",
                        "generateVideoResponse": {"generatedSamples": [{"video": {"uri": uri}}]},
                    },
                }
            )
        if state.status == "failed":
            message = "The fake provider failed this job on purpose (FAKE_FAILURE_RATE)."
            return web.json_response({"name": job.id, "done": True, "error": {"code": INTERNAL, "message": message}})
        # Unfinished: ``done`` is false, which Google's JSON leaves out.
        return web.json_response({"name": job.id})

    async def download(self, request: web.Request) -> web.StreamResponse:
        refused = self._refused(request)
        if refused is not None:
            return refused
        file_id, _, method = request.match_info["call"].partition(":")
        job = next((job for job in self.core.jobs.values() if job.shape == SHAPE and _file_id(job) == file_id), None)
        if method != "download" or job is None:
            return google_error(404, f"File {file_id} not found.")
        disturbed = await fault_reply(request, job, "content", self.core.config.hang_seconds)
        if disturbed is not None:
            return _google_shaped(disturbed)
        if self.core.snapshot_of(job).status != "completed":
            return google_error(404, f"File {file_id} not found.")
        return web.FileResponse(VIDEO_FILE, headers={"Content-Type": "video/mp4"})

    def _refused(self, request: web.Request) -> web.Response | None:
        expected = self.core.config.api_key
        if not expected:
            return None
        sent = request.headers.get("x-goog-api-key")
        if sent is None:
            return google_error(
                403,
                "Method doesn't allow unregistered callers (callers without established identity). "
                "Please use API Key or other form of API consumer identity to call this API.",
            )
        if not hmac.compare_digest(sent.encode(), expected.encode()):
            return google_error(
                400,
                "API key not valid. Please pass a valid API key.",
                details=[
                    {
                        "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                        "reason": "API_KEY_INVALID",
                        "domain": "googleapis.com",
                        "metadata": {"service": "generativelanguage.googleapis.com"},
                    }
                ],
            )
        return None

    def _named_as_operation(self, job: FakeJob) -> FakeJob:
        """Re-key a new job under its operation name: the id Google hands out, the adapter stores and
        ``/_fake/stats`` must show."""
        if job.id.startswith("models/"):
            return job  # already named
        self.core.jobs.pop(job.id, None)
        job.id = f"models/{job.model}/operations/{job.id.removeprefix('video_')}"
        self.core.jobs[job.id] = job
        return job


def _file_id(job: FakeJob) -> str:
    return job.id.rsplit("/", 1)[-1]


def _create_fields(body: Any) -> tuple[str, str, str, dict[str, Any] | None] | web.Response:
    """(prompt, seconds, size, reference) of a predictLongRunning body, or Google's 400 naming the field."""
    instances = body.get("instances") if isinstance(body, dict) else None
    if not isinstance(instances, list) or len(instances) != 1 or not isinstance(instances[0], dict):
        return google_error(400, "* instances: exactly one instance is required.")
    instance = instances[0]
    prompt = instance.get("prompt")
    if not isinstance(prompt, str) or not prompt.strip():
        return google_error(400, "* instances[0].prompt: a non-empty prompt is required.")
    parameters = body.get("parameters") or {}
    if not isinstance(parameters, dict):
        return google_error(400, "Invalid value at 'parameters': an object is required.")
    aspect_ratio = parameters.get("aspectRatio", "16:9")
    resolution = parameters.get("resolution", "720p")
    seconds = parameters.get("durationSeconds", 8)
    if aspect_ratio not in ASPECT_RATIOS:
        return google_error(400, f"Unsupported aspect ratio: {aspect_ratio}. Supported: {', '.join(ASPECT_RATIOS)}.")
    if resolution not in RESOLUTIONS:
        return google_error(400, f"Unsupported resolution: {resolution}. Supported: {', '.join(RESOLUTIONS)}.")
    if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds not in DURATIONS:
        return google_error(400, f"Unsupported durationSeconds: {seconds!r}.")
    if resolution != "720p" and seconds != 8:
        return google_error(400, f"durationSeconds must be 8 at {resolution}.")
    width, height = RESOLUTIONS[resolution]
    size = f"{width}x{height}" if aspect_ratio == "16:9" else f"{height}x{width}"
    reference = _reference(instance.get("image"))
    if isinstance(reference, web.Response):
        return reference
    return prompt.strip(), str(seconds), size, reference


def _reference(image: Any) -> dict[str, Any] | web.Response | None:
    """The first-frame image, described as ``/fake/jobs`` shows references; its bytes are not kept."""
    if image is None:
        return None
    encoded = image.get("bytesBase64Encoded") if isinstance(image, dict) else None
    mime_type = image.get("mimeType") if isinstance(image, dict) else None
    if not isinstance(encoded, str) or not isinstance(mime_type, str):
        return google_error(400, "* instances[0].image: bytesBase64Encoded and mimeType are required.")
    try:
        data = base64.b64decode(encoded, validate=True)
    except binascii.Error:
        return google_error(400, "Invalid value at 'instances[0].image.bytes_base64_encoded': not base64.")
    return {"kind": "inline", "content_type": mime_type, "bytes": len(data)}


def _google_shaped(reply: web.StreamResponse) -> web.StreamResponse:
    """The core's error replies are in OpenAI's shape; this shape answers in Google's. Replies that are not
    JSON errors (a garbled body, an HTML page, a dropped connection) are passed on as they are."""
    if not isinstance(reply, web.Response) or reply.status < 400 or reply.content_type != "application/json":
        return reply
    try:
        message = json.loads(reply.text or "")["error"]["message"]
    except (ValueError, KeyError, TypeError):
        return reply
    headers = {name: reply.headers[name] for name in ("Retry-After",) if name in reply.headers}
    return google_error(reply.status, str(message), headers=headers)
