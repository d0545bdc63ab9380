"""Client for the fal queue API (``queue.fal.run``): submit, status with queue position, result, cancel.

Written from fal's public documentation, read on 2026-11-28:

- Queue API and REST endpoints: https://docs.fal.ai/documentation/model-apis/inference/queue and
  https://fal.ai/docs/api-reference/inference-api ("The status, result, and cancel URLs use only the
  owner and the app"), https://docs.fal.ai/model-endpoints/queue (the endpoint table, sub-paths).
- Cancel: https://fal.ai/docs/inference-api/queue/cancel (``CANCELLATION_REQUESTED``, ``ALREADY_COMPLETED``,
  ``NOT_FOUND``).
- Errors: https://fal.ai/docs/documentation/model-apis/errors (model errors: ``{"detail": [{loc, msg, type}]}``,
  e.g. ``content_policy_violation``) and https://fal.ai/docs/documentation/model-apis/request-errors
  (request errors: ``{"detail": "...", "error_type": "..."}``, also in ``X-Fal-Error-Type``).
- Webhooks: https://docs.fal.ai/model-apis/model-endpoints/webhooks (``?fal_webhook=<url>`` on the submit; fal
  POSTs the result there when the request ends; verification in ``webhooks.py``).
- Model inputs: https://fal.ai/models/fal-ai/kling-video/v2.1/master/text-to-video/llms.txt (Kling:
  ``duration`` "5"/"10", ``aspect_ratio`` 16:9/9:16/1:1), https://fal.ai/models/fal-ai/veo3/llms.txt and
  https://fal.ai/models/fal-ai/veo3.1/llms.txt (Veo: ``duration`` "4s"/"6s"/"8s", 16:9/9:16, ``resolution``
  720p/1080p); image-to-video endpoints take the start frame as ``image_url``.

The job id. ``JobRequest.model`` is the fal endpoint id (``fal-ai/kling-video/v2.1/standard/text-to-video``)
and the submit goes to ``{base}/{endpoint id}``; status, result and cancel live under the *app*
(``fal-ai/kling-video``), without the endpoint's sub-path. Poll runs in another Lambda invocation than
Submit and gets only the job id, so the id is the request's own path below the queue base:
``fal-ai/kling-video/requests/<request_id>``, taken from the ``response_url`` fal returns (fal asks clients
to use its URLs rather than build them) and, when that URL is not below our base URL (a proxy in front),
built by fal's own rule. Status is ``{id}/status``, the result ``{id}``, cancel ``{id}/cancel``.

Failures. A request that failed still reaches ``COMPLETED``; its result then answers with the error
(a model error, usually 422, or a request error whose body carries ``error_type``). Those are the job's
outcome, reported as a FAILED (or, for ``client_cancelled``, CANCELLED) job with a stable code, the
provider's message kept in ``error_message``. fal does not document honouring ``Idempotency-Key`` and
cannot list jobs, so a submit whose reply was lost after it was sent is not retried (``final_once_sent``):
a second submit would be a second, billed video.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx

from videotasks.adapters.providers._http import (
    AUTH_FAILED,
    ErrorReading,
    JobRequest,
    MediaStream,
    ProviderJob,
    bad_reply,
    first_text,
)
from videotasks.adapters.providers.base import ProviderClient
from videotasks.adapters.providers.protocol import Capabilities
from videotasks.adapters.providers.webhooks import FAL_APP_PARAMETER
from videotasks.adapters.tracing import tracer
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError
from videotasks.domain.lifecycle import ProviderState, normalise_provider_status
from videotasks.domain.submission import ListedJob

# Stable codes for what fal reports; the provider's own words go to ``error_message`` only.
CONTENT_POLICY = "CONTENT_POLICY"
REJECTED = "PROVIDER_REJECTED"

FAILED = "PROVIDER_FAILED"
CANCELLED = "PROVIDER_CANCELLED"
INVALID_INPUT = "INVALID_INPUT"

# fal's namespaced apps have three segments before the endpoint path (fal_client's ``APP_NAMESPACES``).
APP_NAMESPACES = ("workflows", "comfy")
REQUESTS = "requests"
CANCELLED_ERROR_TYPES = frozenset({"client_cancelled"})
POLICY_ERROR_TYPES = frozenset({"content_policy_violation"})


# -- what each fal video app takes ------------------------------------------------------------------------


@dataclass(frozen=True)
class FalVideoInput:
    """How one family of fal video endpoints takes our ``seconds``, ``size`` and reference image."""

    seconds: tuple[int, ...]
    aspect_ratios: tuple[str, ...]
    duration: Callable[[int], str | int]  # our seconds as the app's ``duration`` value
    resolutions: tuple[str, ...] = ()  # the app's ``resolution`` values; () when it has no such field

    def sizes(self) -> tuple[str, ...]:
        """Our ``WIDTHxHEIGHT`` sizes this family can make (for the model catalog)."""
        heights = [int(value.removesuffix("p")) for value in self.resolutions] or [DEFAULT_HEIGHT]
        return tuple(size_of(ratio, height) for height in heights for ratio in self.aspect_ratios)


DEFAULT_HEIGHT = 720

KLING = FalVideoInput(seconds=(5, 10), aspect_ratios=("16:9", "9:16", "1:1"), duration=str)
VEO = FalVideoInput(
    seconds=(4, 6, 8),
    aspect_ratios=("16:9", "9:16"),
    duration=lambda seconds: f"{seconds}s",
    resolutions=("720p", "1080p"),
)
# Endpoint-id prefixes; the longest that matches wins. An app not listed gets KLING's conventions (``duration`` as a
# string of seconds, ``aspect_ratio``), which most fal video apps share; list it here when it differs.
VIDEO_INPUTS: dict[str, FalVideoInput] = {
    "fal-ai/kling-video/": KLING,
    "fal-ai/veo3": VEO,  # veo3, veo3/fast, veo3.1, veo3.1/fast and their image-to-video endpoints
}
REFERENCE_ENDPOINT_MARKERS = ("image-to-video", "reference-to-video")


def video_input_for(endpoint_id: str) -> FalVideoInput:
    """The input conventions of the fal endpoint ``endpoint_id``."""
    matches = [prefix for prefix in VIDEO_INPUTS if endpoint_id == prefix.rstrip("/") or endpoint_id.startswith(prefix)]
    return VIDEO_INPUTS[max(matches, key=len)] if matches else KLING


def allowed_options(endpoint_id: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``(seconds, sizes)`` a task may ask of this fal endpoint: what the model catalog should offer."""
    conventions = video_input_for(endpoint_id)
    return conventions.seconds, conventions.sizes()


def takes_reference_image(endpoint_id: str) -> bool:
    return any(marker in endpoint_id for marker in REFERENCE_ENDPOINT_MARKERS)


def size_of(aspect_ratio: str, height: int) -> str:
    """``16:9`` at 720p is ``1280x720``: the short side is the resolution."""
    width_part, height_part = (int(part) for part in aspect_ratio.split(":"))
    short = height
    long = round(short * max(width_part, height_part) / min(width_part, height_part))
    return f"{long}x{short}" if width_part >= height_part else f"{short}x{long}"


def aspect_and_resolution(size: str) -> tuple[str, str]:
    """``1280x720`` is ``("16:9", "720p")``; ``1024x1024`` is ``("1:1", "1024p")``."""
    width_text, sep, height_text = size.lower().partition("x")
    if not sep or not width_text.isdigit() or not height_text.isdigit() or "0" in (width_text, height_text):
        raise ValueError(f"size {size!r} is not WIDTHxHEIGHT")
    width, height = int(width_text), int(height_text)
    divisor = math.gcd(width, height)
    return f"{width // divisor}:{height // divisor}", f"{min(width, height)}p"


def fal_input(request: JobRequest) -> dict[str, Any]:
    """The endpoint's JSON input for ``request``; a value the endpoint cannot take is refused here, before
    anything is sent (``INVALID_INPUT``, naming the field and the values it takes)."""
    conventions = video_input_for(request.model)
    body: dict[str, Any] = {"prompt": request.prompt}
    if request.seconds is not None:
        if request.seconds not in conventions.seconds:
            raise _invalid("seconds", request.seconds, request.model, conventions.seconds)
        body["duration"] = conventions.duration(request.seconds)
    if request.size:
        try:
            aspect_ratio, resolution = aspect_and_resolution(request.size)
        except ValueError:
            aspect_ratio, resolution = "", ""
        allowed_sizes = conventions.sizes()
        if aspect_ratio not in conventions.aspect_ratios or (
            conventions.resolutions and resolution not in conventions.resolutions
        ):
            raise _invalid("size", request.size, request.model, allowed_sizes)
        body["aspect_ratio"] = aspect_ratio
        if conventions.resolutions:
            body["resolution"] = resolution
    if request.input_reference:
        if not takes_reference_image(request.model):
            raise ProviderPermanentError(
                f"input_reference: model '{request.model}' is a text-to-video endpoint and takes no image; "
                "use one of its image-to-video endpoints",
                code=INVALID_INPUT,
            )
        # fal takes an http(s) URL or a data: URI for any file input.
        body["image_url"] = request.input_reference
    return body


def _invalid(field: str, value: object, model: str, allowed: tuple[object, ...]) -> ProviderPermanentError:
    choices = ", ".join(map(str, allowed))
    return ProviderPermanentError(
        f"{field} {value!r} is not available for model '{model}'; choose one of: {choices}", code=INVALID_INPUT
    )


# -- job ids ---------------------------------------------------------------------------------------------


def app_of(endpoint_id: str) -> str:
    """The app an endpoint belongs to: ``fal-ai/kling-video/v2.1/pro/text-to-video`` is ``fal-ai/kling-video``
    (``workflows/<owner>/<app>/...`` keeps its namespace)."""
    parts = [part for part in endpoint_id.strip("/").split("/") if part]
    keep = 3 if parts and parts[0] in APP_NAMESPACES else 2
    if len(parts) < keep:
        raise ProviderPermanentError(
            f"model '{endpoint_id}' is not a fal endpoint id (owner/app[/path])", code=INVALID_INPUT
        )
    return "/".join(parts[:keep])


def job_id_of(app: str, request_id: str) -> str:
    return f"{app}/{REQUESTS}/{request_id}"


def fal_webhook_url(webhook_url: str, app: str) -> str:
    """``webhook_url`` with ``app=<app>`` added: fal's webhook names only the request id, and our job id
    (``<app>/requests/<id>``) needs the app too (``webhooks.read_webhook`` reads it back)."""
    return str(httpx.URL(webhook_url).copy_merge_params({FAL_APP_PARAMETER: app}))


def _job_path(job_id: str) -> str:
    """The request's path below the base URL, each segment quoted; an id we could not have made is a lost job."""
    parts = job_id.split("/")
    if len(parts) < 4 or parts[-2] != REQUESTS or any(part in ("", ".", "..") for part in parts):
        raise ProviderJobLostError(f"'{job_id}' is not a fal request id (<owner>/<app>/requests/<id>)")
    return "/".join(quote(part, safe="") for part in parts)


# -- the client ------------------------------------------------------------------------------------------


class FalQueueProvider(ProviderClient):
    """Submit, poll, fetch and cancel requests on the fal queue. ``base_url`` is ``https://queue.fal.run``."""

    SHAPE = "fal_queue"
    CAPABILITIES = Capabilities(
        progress=False,  # fal reports a queue position and runner logs, not a percentage
        queue_position=True,
        eta=False,
        webhook=True,  # ``?fal_webhook=<url>`` on the submit
        cancel=True,
        remix=False,
        reference_image=True,  # through the app's image-to-video endpoint
        list_jobs=False,
    )
    DEFAULT_PATH = ""
    DEFAULT_AUTH_SCHEME = "key"

    @tracer.capture_method(capture_response=False)
    def create_job(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        body = fal_input(request)
        app = app_of(request.model)
        path = self._below_base(request.model.strip("/"))
        params = {"fal_webhook": fal_webhook_url(request.webhook_url, app)} if request.webhook_url else None
        reply = self._http.request_json("POST", path, deadline=deadline, json=body, params=params, final_once_sent=True)
        what = f"POST {path}"
        if not isinstance(reply, Mapping):
            raise bad_reply(what, "expected a JSON object")
        request_id = first_text(reply, "request_id")
        if request_id is None:
            raise bad_reply(what, "the reply has no request_id")
        raw_status = first_text(reply, "status") or "IN_QUEUE"
        return ProviderJob(
            id=self._job_id(reply, app, request_id),
            state=_state_of(raw_status),
            raw_status=raw_status,
            progress=None,
            media_url=None,
            error_code=None,
            error_message=None,
            queue_position=_int_or_none(reply.get("queue_position")),
        )

    @tracer.capture_method(capture_response=False)
    def get_job(self, job_id: str, *, deadline: Deadline | None = None) -> ProviderJob:
        path = self._below_base(_job_path(job_id))
        status = self._http.request_json("GET", f"{path}/status", deadline=deadline, not_found=ProviderJobLostError)
        if not isinstance(status, Mapping):
            raise bad_reply(f"GET {path}/status", "expected a JSON object")
        raw_status = first_text(status, "status") or ""
        if raw_status != "COMPLETED":
            return _job(
                job_id, _state_of(raw_status), raw_status, queue_position=_int_or_none(status.get("queue_position"))
            )
        if (error_type := first_text(status, "error_type")) or first_text(status, "error"):
            # Some apps report the failure in the status itself; the result would only repeat it.
            message = first_text(status, "error") or error_type or "the request failed"
            return self._failed(job_id, raw_status, _code_for(None, error_type), message)
        return self._result(job_id, path, raw_status, deadline)

    @tracer.capture_method(capture_response=False)
    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        if not job.media_url:
            raise ProviderPermanentError(f"fal request {job.id} has no video to download", code="PROVIDER_BAD_MEDIA")
        with self._open_media(job.media_url, deadline) as media:
            yield media

    @tracer.capture_method(capture_response=False)
    def cancel_job(self, job_id: str, *, deadline: Deadline | None = None) -> None:
        """Best effort: a queued request is dropped, a running one is signalled; one already finished (400
        ``ALREADY_COMPLETED``) has nothing left to stop."""
        path = self._below_base(_job_path(job_id)) + "/cancel"
        try:
            self._http.request_json("PUT", path, deadline=deadline, not_found=ProviderJobLostError)
        except ProviderPermanentError as exc:
            if exc.status_code != 400 or isinstance(exc, ProviderJobLostError):
                raise

    def list_recent_jobs(self, limit: int = 100, *, deadline: Deadline | None = None) -> list[ListedJob]:
        return []  # the queue API has no listing of requests

    # -- internals --------------------------------------------------------------------------------------

    def _below_base(self, path: str) -> str:
        return f"{self._path.rstrip('/')}/{path}"

    def _job_id(self, reply: Mapping[str, Any], app: str, request_id: str) -> str:
        """The request's path from fal's ``response_url`` when it lies below our base, else fal's rule."""
        built = job_id_of(app, request_id)
        response_url = first_text(reply, "response_url")
        base = str(self._http.url(self._path.lstrip("/"))).rstrip("/") + "/"
        if response_url and response_url.startswith(base):
            reported = response_url[len(base) :].split("?", 1)[0].strip("/")
            if reported.endswith(f"/{REQUESTS}/{request_id}") and reported.count("/") >= 3:
                return reported
        return built

    def _result(self, job_id: str, path: str, raw_status: str, deadline: Deadline | None) -> ProviderJob:
        """The finished request's output, or the error it finished with (that is the job's outcome)."""
        try:
            result = self._http.request_json("GET", path, deadline=deadline, not_found=ProviderJobLostError)
        except ProviderJobLostError:
            raise
        except ProviderPermanentError as exc:
            return self._failed(job_id, raw_status, exc.code, exc.message)
        media_url = _video_url(result)
        if media_url is None:
            return self._failed(job_id, raw_status, FAILED, "the finished request has no video in its result")
        return _job(job_id, ProviderState.SUCCEEDED, raw_status, media_url=self._http.resolve(media_url))

    def _failed(self, job_id: str, raw_status: str, code: str, message: str) -> ProviderJob:
        cancelled = code == CANCELLED
        return _job(
            job_id,
            ProviderState.CANCELLED if cancelled else ProviderState.FAILED,
            raw_status,
            error_code=None if cancelled else code,
            error_message=self._http.scrub(message),
        )

    def _read_error(self, status: int, body: Any) -> ErrorReading | None:
        """fal's two error bodies: a model error (``detail`` as a list of ``{loc, msg, type}``) and a
        request error (``detail`` as a string, ``error_type``)."""
        if not isinstance(body, Mapping):
            return None
        detail = body.get("detail")
        error_type = first_text(body, "error_type")
        types: list[str] = []
        messages: list[str] = []
        if isinstance(detail, list):
            for item in detail:
                if isinstance(item, Mapping):
                    types.extend(filter(None, [first_text(item, "type")]))
                    messages.extend(filter(None, [_located(item)]))
        elif isinstance(detail, str) and detail.strip():
            messages.append(detail.strip())
        if not messages and not error_type:
            # ``{"status": "ALREADY_COMPLETED"}`` from cancel, or an unfamiliar shape: the common reading.
            text = first_text(body, "status", "message")
            return ErrorReading(text) if text else None
        message = "; ".join(messages) or error_type or ""
        if error_type:
            message = f"{message} ({error_type})" if messages else message
        # A request error names a failure fal already retried; a 5xx without one is fal not answering now,
        # which keeps its transient class and code.
        final = bool(error_type) and status >= 500
        code = _code_for(status, error_type, types) if status < 500 or final else None
        return ErrorReading(message, code, final=final)


def _code_for(status: int | None, error_type: str | None, types: list[str] | None = None) -> str:
    kinds = {*(types or ()), *([error_type] if error_type else [])}
    if kinds & POLICY_ERROR_TYPES:
        return CONTENT_POLICY
    if kinds & CANCELLED_ERROR_TYPES:
        return CANCELLED
    if status in (401, 403):
        return AUTH_FAILED
    if status is not None and 400 <= status < 500:
        return REJECTED
    return FAILED


def _located(item: Mapping[str, Any]) -> str | None:
    message = first_text(item, "msg")
    loc = item.get("loc")
    where = [str(part) for part in loc if part != "body"] if isinstance(loc, list) else []
    if message and where:
        return f"{'.'.join(where)}: {message}"
    return message


def _video_url(result: Any) -> str | None:
    """``video.url`` of a video app's output (``videos[0].url`` for apps that return several)."""
    if not isinstance(result, Mapping):
        return None
    video = result.get("video")
    if isinstance(video, str) and video.strip():
        return video.strip()
    if isinstance(video, Mapping):
        return first_text(video, "url")
    videos = result.get("videos")
    if isinstance(videos, list) and videos and isinstance(videos[0], Mapping):
        return first_text(videos[0], "url")
    return None


def _state_of(raw_status: str) -> ProviderState:
    match raw_status:
        case "IN_QUEUE":
            return ProviderState.QUEUED
        case "IN_PROGRESS":
            return ProviderState.RUNNING
        case _:
            return normalise_provider_status(raw_status)


def _int_or_none(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _job(
    job_id: str,
    state: ProviderState,
    raw_status: str,
    *,
    media_url: str | None = None,
    error_code: str | None = None,
    error_message: str | None = None,
    queue_position: int | None = None,
) -> ProviderJob:
    return ProviderJob(
        id=job_id,
        state=state,
        raw_status=raw_status,
        progress=100 if state is ProviderState.SUCCEEDED else None,
        media_url=media_url,
        error_code=error_code,
        error_message=error_message,
        queue_position=queue_position,
    )
