"""Client for Replicate's predictions API (``api.replicate.com/v1``), the "replicate" shape.

Written from Replicate's public HTTP API reference, read on 2026-11-28:

- https://replicate.com/docs/reference/http (predictions.create, models.predictions.create,
  predictions.get, predictions.list, predictions.cancel)
- https://replicate.com/docs/topics/predictions/create-a-prediction (async by default; ``Prefer: wait``
  makes a create hold the connection, which we never want: we poll)
- https://replicate.com/docs/topics/predictions/rate-limits (429 with ``{"detail": "Request was throttled..."}``)
- https://replicate.com/changelog/2025-08-05-run-all-models-with-the-same-api-endpoint
- https://replicate.com/docs/topics/webhooks/receive-webhook (``webhook`` and ``webhook_events_filter`` on the
  create; the body Replicate POSTs is the prediction; verification in ``webhooks.py``)
- the models' API pages for their inputs: https://replicate.com/google/veo-3.1/api,
  https://replicate.com/google/veo-3-fast/api, https://replicate.com/kwaivgi/kling-v2.0/api,
  https://replicate.com/kwaivgi/kling-v2.5-turbo-pro/api

The model notation (``JobRequest.model``, the catalog's provider model name):

- ``owner/name``: an official model, ``POST /v1/models/{owner}/{name}/predictions`` (runs its latest version);
- ``owner/name:version``: one pinned version, ``POST /v1/predictions`` with ``{"version": "<version id>"}``,
  Replicate's own notation for a version (community models have no other way to be run).

A prediction is ``{id, model, version, status, input, output, error, logs, created_at, urls: {get, cancel}}``
with ``status`` one of ``starting|processing|succeeded|failed|canceled``. ``output`` is whatever the model
returns: for the video models here a URL string; a list of URLs is read as its first URL. Output files live
on ``replicate.delivery`` (public URLs, no token: the shared core sends the key only to the API's own
origin) and are deleted an hour after an API prediction ends (``data_removed``), so archiving must come soon:
a gone file is ``PROVIDER_CONTENT_GONE``. Replicate reports no percentage (only free-form ``logs``), no queue
position and no ETA, so ``progress`` stays None. Failures keep Replicate's own message in
``error_message`` only; the code is stable (``CONTENT_POLICY`` for a safety refusal, else
``PROVIDER_FAILED``). HTTP errors are RFC 7807 problem details (``{title, detail, status}``), read by the
shared core.
"""

from __future__ import annotations

import contextlib
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from videotasks.adapters.providers._http import (
    JobRequest,
    MediaStream,
    ProviderJob,
    bad_reply,
    first_text,
)
from videotasks.adapters.providers.base import CONTENT_GONE, ProviderClient
from videotasks.adapters.providers.protocol import Capabilities
from videotasks.adapters.tracing import tracer
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError
from videotasks.domain.lifecycle import ProviderState, normalise_provider_status
from videotasks.domain.submission import ListedJob

CONTENT_POLICY = "CONTENT_POLICY"
PREDICTION_FAILED = "PROVIDER_FAILED"
INVALID_INPUT = "INVALID_INPUT"

# Replicate's words that the shared table does not know: a prediction is "starting" while it waits for
# hardware (a cold boot included), which is our queued, not our running.
_STATUS_WORDS = {"starting": ProviderState.QUEUED}

# How the models' safety filters word a refusal: "NSFW content detected", Veo's "flagged as sensitive ...
# (E005)", "content policy violation", "safety filter".
_POLICY_PATTERN = re.compile(
    r"nsfw|\bsensitive\b|\bsafety\b|content[ _-]?policy|moderat|flagged|\bE005\b", re.IGNORECASE
)

_OWNER_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")
_VERSION_ID = re.compile(r"^[A-Za-z0-9]+$")


# -- what each model takes ------------------------------------------------------------------------


@dataclass(frozen=True)
class InputProfile:
    """How our ``seconds``/``size``/``input_reference`` become one Replicate model's ``input``.

    ``seconds`` and ``sizes`` are what the model accepts (empty: not checked here, the catalog decides);
    ``sizes`` maps each of our ``WxH`` sizes to the inputs that produce it.
    """

    seconds: tuple[int, ...] = ()
    sizes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    duration_field: str = "duration"
    image_field: str = "image"


def _landscape_portrait(resolutions: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """``{"1280x720": {"aspect_ratio": "16:9", "resolution": "720p"}, "720x1280": {... "9:16" ...}}``."""
    sizes: dict[str, dict[str, str]] = {}
    for size, resolution in resolutions.items():
        width, height = size.split("x")
        sizes[size] = {"aspect_ratio": "16:9", "resolution": resolution}
        sizes[f"{height}x{width}"] = {"aspect_ratio": "9:16", "resolution": resolution}
    return sizes


# Veo 3 / 3.1 (and their Fast variants) on Replicate: duration 4/6/8, 16:9 or 9:16, 720p or 1080p,
# a start frame in ``image``.
VEO_3 = InputProfile(seconds=(4, 6, 8), sizes=_landscape_portrait({"1280x720": "720p", "1920x1080": "1080p"}))
# Kling 2.x: duration 5/10, aspect ratio only (the model fixes the resolution: 720p for v2.0, 1080p for
# v2.5 Turbo Pro), a start frame in ``start_image``.
KLING_720P = InputProfile(
    seconds=(5, 10),
    sizes={
        "1280x720": {"aspect_ratio": "16:9"},
        "720x1280": {"aspect_ratio": "9:16"},
        "720x720": {"aspect_ratio": "1:1"},
    },
    image_field="start_image",
)
KLING_1080P = InputProfile(
    seconds=(5, 10),
    sizes={
        "1920x1080": {"aspect_ratio": "16:9"},
        "1080x1920": {"aspect_ratio": "9:16"},
        "1080x1080": {"aspect_ratio": "1:1"},
    },
    image_field="start_image",
)
# Any other model: the names most Replicate video models share; values go through unchecked (the catalog
# holds what the model allows) and a size becomes its aspect ratio.
GENERIC = InputProfile()

MODEL_PROFILES: dict[str, InputProfile] = {
    "google/veo-3": VEO_3,
    "google/veo-3-fast": VEO_3,
    "google/veo-3.1": VEO_3,
    "google/veo-3.1-fast": VEO_3,
    "kwaivgi/kling-v2.0": KLING_720P,
    "kwaivgi/kling-v2.5-turbo-pro": KLING_1080P,
}


def profile_for(model: str) -> InputProfile:
    """The input profile of a model given as ``owner/name`` or ``owner/name:version``."""
    return MODEL_PROFILES.get(model.partition(":")[0].strip().lower(), GENERIC)


def allowed_options(model: str) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """``(seconds, sizes)`` the model takes, for the catalog; empty tuples where this module cannot tell."""
    profile = profile_for(model)
    return profile.seconds, tuple(profile.sizes)


def model_input(request: JobRequest) -> dict[str, Any]:
    """The prediction's ``input`` for ``request``. A value the model cannot take is refused here, before
    anything is sent or billed (the catalog refuses it earlier, at the HTTP create, with a 400)."""
    profile = profile_for(request.model)
    body: dict[str, Any] = {"prompt": request.prompt}
    if request.seconds is not None:
        if profile.seconds and request.seconds not in profile.seconds:
            raise _invalid("seconds", request.seconds, profile.seconds, request.model)
        body[profile.duration_field] = request.seconds
    if request.size:
        if profile.sizes:
            if request.size not in profile.sizes:
                raise _invalid("size", request.size, tuple(profile.sizes), request.model)
            body.update(profile.sizes[request.size])
        else:
            body["aspect_ratio"] = aspect_ratio(request.size)
    if request.input_reference:
        # Replicate takes files as http(s) URLs or data: URLs alike.
        body[profile.image_field] = request.input_reference
    return body


def aspect_ratio(size: str) -> str:
    """``1280x720`` -> ``16:9``; a size that is not ``WxH`` is refused."""
    width, sep, height = size.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise ProviderPermanentError(f"size {size!r} is not WIDTHxHEIGHT", code=INVALID_INPUT)
    divisor = math.gcd(int(width), int(height))
    return f"{int(width) // divisor}:{int(height) // divisor}"


def _invalid(name: str, value: object, allowed: tuple[object, ...], model: str) -> ProviderPermanentError:
    return ProviderPermanentError(
        f"{name} {value} is not available for {model}; allowed: {', '.join(map(str, allowed))}",
        code=INVALID_INPUT,
    )


# -- the client -----------------------------------------------------------------------------------


class ReplicateProvider(ProviderClient):
    """Create, poll, download and cancel predictions of Replicate-hosted video models."""

    SHAPE = "replicate"
    CAPABILITIES = Capabilities(
        progress=False,
        queue_position=False,
        eta=False,
        webhook=True,  # ``webhook`` (+ ``webhook_events_filter``) on the create
        cancel=True,
        remix=False,
        reference_image=True,
        list_jobs=True,
    )
    DEFAULT_PATH = "/v1"

    @tracer.capture_method(capture_response=False)
    def create_job(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Start a prediction. No ``Prefer: wait``: an async create answers at once with ``starting``.
        Replicate documents no idempotency key, so a lost reply is found again by ``list_recent_jobs``."""
        path, body = self._create_call(request)
        reply = self._http.request_json("POST", path, deadline=deadline, json=body)
        return self._job_of(reply, f"POST {path}")

    @tracer.capture_method(capture_response=False)
    def get_job(self, job_id: str, *, deadline: Deadline | None = None) -> ProviderJob:
        path = self._prediction_path(job_id)
        reply = self._http.request_json("GET", path, deadline=deadline, not_found=ProviderJobLostError)
        return self._job_of(reply, f"GET {path}")

    @tracer.capture_method(capture_response=False)
    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        """The output file. A succeeded prediction without output has had its files removed (an hour
        after it ended): gone for good, like a 404/410 on the file itself."""
        if not job.media_url:
            raise ProviderPermanentError(
                f"Prediction {job.id} has no output file (removed after an hour, or never made)", code=CONTENT_GONE
            )
        with self._open_media(job.media_url, deadline) as media:
            yield media

    @tracer.capture_method(capture_response=False)
    def cancel_job(self, job_id: str, *, deadline: Deadline | None = None) -> None:
        self._http.request_json(
            "POST", self._prediction_path(job_id) + "/cancel", deadline=deadline, not_found=ProviderJobLostError
        )

    @tracer.capture_method(capture_response=False)
    def list_recent_jobs(self, limit: int = 100, *, deadline: Deadline | None = None) -> list[ListedJob]:
        """The first page of ``GET /v1/predictions`` (newest first, the whole account's): enough to find
        a prediction made seconds ago by a create whose reply was lost."""
        path = f"{self._path}/predictions"
        reply = self._http.request_json("GET", path, deadline=deadline)
        items = reply.get("results") if isinstance(reply, Mapping) else None
        if not isinstance(items, list):
            raise bad_reply(f"GET {path}", "expected a list of predictions in results[]")
        listed = [_listed_job(item) for item in items if isinstance(item, Mapping) and _id_of(item)]
        return listed[:limit]

    # -- internals --------------------------------------------------------------------------------

    def _create_call(self, request: JobRequest) -> tuple[str, dict[str, Any]]:
        model, _, version = request.model.strip().partition(":")
        if not _OWNER_NAME.match(model) or (version and not _VERSION_ID.match(version)):
            raise ProviderPermanentError(
                f"Replicate model {request.model!r} is not 'owner/name' or 'owner/name:version'", code=INVALID_INPUT
            )
        body: dict[str, Any] = {"input": model_input(request)}
        if request.webhook_url:
            # Only the end: that is what wakes the task; "start", "output" and "logs" would be calls for nothing.
            body.update(webhook=request.webhook_url, webhook_events_filter=["completed"])
        if version:
            return f"{self._path}/predictions", {"version": version, **body}
        owner, name = model.split("/")
        return f"{self._path}/models/{quote(owner, safe='')}/{quote(name, safe='')}/predictions", body

    def _prediction_path(self, job_id: str) -> str:
        return f"{self._path}/predictions/{quote(job_id, safe='')}"

    def _job_of(self, reply: Any, what: str) -> ProviderJob:
        if not isinstance(reply, Mapping):
            raise bad_reply(what, "expected a prediction object")
        job_id = _id_of(reply)
        if not job_id:
            raise bad_reply(what, "the prediction has no id")
        raw_status = first_text(reply, "status") or ""
        state = _STATUS_WORDS.get(raw_status.lower()) or normalise_provider_status(raw_status)
        error_message = _error_text(reply.get("error"))
        error_code = _failure_code(error_message) if state is ProviderState.FAILED else None
        output_url = _output_url(reply.get("output")) if state is ProviderState.SUCCEEDED else None
        return ProviderJob(
            id=job_id,
            state=state,
            raw_status=raw_status,
            progress=None,
            media_url=self._http.resolve(output_url) if output_url else None,
            error_code=error_code,
            error_message=self._http.scrub(error_message) if error_message else None,
        )


def _id_of(payload: Mapping[str, Any]) -> str | None:
    value = payload.get("id")
    return value.strip() if isinstance(value, str) and value.strip() else None


def _failure_code(message: str | None) -> str:
    return CONTENT_POLICY if message and _POLICY_PATTERN.search(message) else PREDICTION_FAILED


def _error_text(error: Any) -> str | None:
    """Replicate's ``error`` is a string; a relay may send ``{message}``."""
    if isinstance(error, str):
        return " ".join(error.split()) or None
    if isinstance(error, Mapping):
        return first_text(error, "message", "detail")
    return None


def _output_url(output: Any) -> str | None:
    """The video: ``output`` itself, the first URL of a list, or a ``{video|url}`` field of an object."""
    if isinstance(output, str):
        return output.strip() or None
    if isinstance(output, list):
        return next((url for item in output if (url := _output_url(item))), None)
    if isinstance(output, Mapping):
        return first_text(output, "video", "url")
    return None


def _listed_job(item: Mapping[str, Any]) -> ListedJob:
    given = item.get("input")
    model_input_ = given if isinstance(given, Mapping) else {}
    duration = model_input_.get("duration")
    return ListedJob(
        id=str(_id_of(item)),
        created_at=_timestamp(item.get("created_at")),
        prompt=first_text(model_input_, "prompt"),
        # Replicate lists its own model name (``google/veo-3``), never our catalog id: comparing the two
        # would never match, so the prompt, the duration and the time window decide.
        model=None,
        seconds=str(duration) if isinstance(duration, int) and not isinstance(duration, bool) else None,
        size=None,
    )


def _timestamp(value: Any) -> datetime | None:
    """Replicate's ISO 8601 times carry up to nine fractional digits; Python reads six."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", value.strip())
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else None
