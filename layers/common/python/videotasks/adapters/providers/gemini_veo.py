"""Client for Google's Veo models in the Gemini API (``models/{model}:predictLongRunning``).

Written from Google's public documentation, read on 2026-11-28:

- https://ai.google.dev/gemini-api/docs/video (Veo in the Gemini API: the REST flow, the parameters
  and their limits, model versions, how long results are kept)
- https://ai.google.dev/gemini-api/docs/troubleshooting and
  https://ai.google.dev/gemini-api/docs/generate-content/api-errors (HTTP codes and the error body)

How the shape works, and what this client makes of it:

- **Create** is ``POST {path}/models/{model}:predictLongRunning`` with the key in ``x-goog-api-key``
  and ``{"instances": [{"prompt", "image"?}], "parameters": {"aspectRatio", "resolution",
  "durationSeconds"}}``. It answers a long-running operation, ``{"name":
  "models/{model}/operations/{id}"}``: that whole name is our job id, since polling needs all of it.
  The API has no idempotency key, so a create retried after a lost reply may make a second video.
- **Poll** is ``GET {path}/{operation name}``. ``done`` is absent (false) while the video is made; a
  finished operation carries either ``error`` (a ``google.rpc.Status``) or
  ``response.generateVideoResponse.generatedSamples[0].video.uri``. A result held back by the safety
  filters is a finished operation with ``raiMediaFilteredCount``/``raiMediaFilteredReasons`` and no
  sample: ``CONTENT_POLICY``. No progress figure, queue position or ETA is reported.
- **Content**: the sample's URI is a Files API download on the API's own host, fetched with the same
  key (``curl -L -H "x-goog-api-key: ..."`` in the docs: it redirects, and the key is not sent on to
  another host). Google keeps generated videos for two days; after that the download is gone.
- No cancel (``cancel_job`` refuses, permanently, without a request), no job listing, no webhooks.

Our ``size`` maps onto ``aspectRatio`` and ``resolution`` (``1280x720`` is 16:9 at 720p), our ``seconds``
onto ``durationSeconds``; what each model takes is in ``VEO_MODELS`` and checked by ``veo_parameters``
before anything is sent. A ``data:`` reference image becomes ``image`` (``bytesBase64Encoded`` and
``mimeType``); an https reference is refused: the API takes inline bytes only, and fetching any URL a
user names from inside our network is a request forgery waiting to happen.
"""

from __future__ import annotations

import base64
import contextlib
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from videotasks.adapters.providers._http import (
    AUTH_FAILED,
    JobRequest,
    MediaStream,
    ProviderJob,
    bad_reply,
    data_url_parts,
    first_text,
    is_data_url,
)
from videotasks.adapters.providers.base import ProviderClient
from videotasks.adapters.providers.protocol import Capabilities
from videotasks.adapters.tracing import tracer
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderError, ProviderJobLostError, ProviderPermanentError
from videotasks.domain.lifecycle import ProviderState
from videotasks.domain.submission import ListedJob

CONTENT_POLICY = "CONTENT_POLICY"
INVALID_INPUT = "INVALID_INPUT"

# Our sizes and what the API calls them: (aspectRatio, resolution).
LANDSCAPE_720, PORTRAIT_720 = "1280x720", "720x1280"
LANDSCAPE_1080, PORTRAIT_1080 = "1920x1080", "1080x1920"
LANDSCAPE_4K, PORTRAIT_4K = "3840x2160", "2160x3840"
SIZES: dict[str, tuple[str, str]] = {
    LANDSCAPE_720: ("16:9", "720p"),
    PORTRAIT_720: ("9:16", "720p"),
    LANDSCAPE_1080: ("16:9", "1080p"),
    PORTRAIT_1080: ("9:16", "1080p"),
    LANDSCAPE_4K: ("16:9", "4k"),
    PORTRAIT_4K: ("9:16", "4k"),
}


@dataclass(frozen=True)
class VeoModel:
    """What one Veo model takes, as the documentation lists it."""

    seconds: tuple[int, ...]
    sizes: tuple[str, ...]
    # 1080p and 4k are made only at 8 seconds (the docs' durationSeconds note).
    seconds_above_720p: tuple[int, ...] = (8,)
    # Veo 2 has no resolution parameter: it makes 720p only.
    sends_resolution: bool = True
    reference_image: bool = True

    def seconds_for(self, size: str | None) -> tuple[int, ...]:
        """The durations allowed at ``size`` (every duration when the size is not known yet)."""
        if size is None or SIZES.get(size, ("", "720p"))[1] == "720p":
            return self.seconds
        return tuple(second for second in self.seconds if second in self.seconds_above_720p)


_VEO_3_1 = VeoModel(
    seconds=(4, 6, 8),
    sizes=(LANDSCAPE_720, PORTRAIT_720, LANDSCAPE_1080, PORTRAIT_1080, LANDSCAPE_4K, PORTRAIT_4K),
)
_VEO_3 = VeoModel(seconds=(4, 6, 8), sizes=(LANDSCAPE_720, PORTRAIT_720, LANDSCAPE_1080, PORTRAIT_1080))

# The provider's model names and their limits: the catalog's "allowed seconds and sizes" for a Veo model.
VEO_MODELS: dict[str, VeoModel] = {
    "veo-3.1-generate-preview": _VEO_3_1,
    "veo-3.1-fast-generate-preview": _VEO_3_1,
    "veo-3.0-generate-001": _VEO_3,
    "veo-3.0-fast-generate-001": _VEO_3,
    "veo-2.0-generate-001": VeoModel(
        seconds=(5, 6, 8), sizes=(LANDSCAPE_720, PORTRAIT_720), seconds_above_720p=(), sends_resolution=False
    ),
}
# A model this module does not know yet (the catalog names it): every size we can name and every duration a
# Veo model has taken, so the catalog alone narrows them; the API refuses the rest with a 400 before billing.
DEFAULT_LIMITS = VeoModel(seconds=(4, 5, 6, 7, 8), sizes=tuple(SIZES))


def limits_of(model: str) -> VeoModel:
    return VEO_MODELS.get(model, DEFAULT_LIMITS)


class UnsupportedOptionError(ValueError):
    """A value the model cannot take; names the field (``seconds`` or ``size``) and what it can take."""

    def __init__(self, field: str, value: object, allowed: Sequence[object], model: str) -> None:
        self.field = field
        self.allowed = tuple(allowed)
        choices = ", ".join(map(str, self.allowed)) or "none"
        super().__init__(f"{field} {value!r} is not available for model '{model}'; choose one of: {choices}")


def veo_parameters(model: str, *, seconds: int | None, size: str | None) -> dict[str, Any]:
    """The create's ``parameters`` for our ``seconds`` and ``size``; what is not given is left to the
    API's defaults (16:9, 720p, 8 s). Raises ``UnsupportedOptionError`` for a value the model cannot take."""
    limits = limits_of(model)
    parameters: dict[str, Any] = {}
    if size is not None:
        if size not in limits.sizes:
            raise UnsupportedOptionError("size", size, limits.sizes, model)
        aspect_ratio, resolution = SIZES[size]
        parameters["aspectRatio"] = aspect_ratio
        if limits.sends_resolution:
            parameters["resolution"] = resolution
    if seconds is not None:
        allowed = limits.seconds_for(size)
        if seconds not in allowed:
            raise UnsupportedOptionError("seconds", seconds, allowed, model)
        parameters["durationSeconds"] = seconds
    return parameters


# An operation name as the API makes them (``models/veo-3.1-generate-preview/operations/abc123``); relays
# answer ``operations/abc123``. Checked before it goes into a path: a stored id must not reach other routes.
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
_OPERATION_NAME = re.compile(rf"^(?:models/{_SEGMENT}/)?operations/{_SEGMENT}$")
_MODEL_NAME = re.compile(rf"^{_SEGMENT}$")

# google.rpc.Code numbers in a finished operation's ``error``, and the stable codes we give them; any other
# (INTERNAL, UNKNOWN, ...) is the generation failing, ``PROVIDER_FAILED``.
_RPC_CANCELLED = 1
_RPC_CODES: dict[int, str] = {
    3: "PROVIDER_REJECTED",  # INVALID_ARGUMENT
    4: "PROVIDER_UNAVAILABLE",  # DEADLINE_EXCEEDED
    7: AUTH_FAILED,  # PERMISSION_DENIED
    8: "PROVIDER_RATE_LIMITED",  # RESOURCE_EXHAUSTED
    9: "PROVIDER_REJECTED",  # FAILED_PRECONDITION
    14: "PROVIDER_UNAVAILABLE",  # UNAVAILABLE
    16: AUTH_FAILED,  # UNAUTHENTICATED
}
# Words Google's refusals use when the prompt or the image broke its usage policies.
_POLICY_WORDS = re.compile(
    r"safety|usage guidelines|responsible ai|\brai\b|prohibited|policy|blocked|sensitive", re.IGNORECASE
)


class GeminiVeoProvider(ProviderClient):
    """Create and poll Veo operations, and download their videos."""

    SHAPE = "gemini_veo"
    CAPABILITIES = Capabilities(
        progress=False,
        queue_position=False,
        eta=False,
        webhook=False,
        cancel=False,
        remix=False,
        reference_image=True,
        list_jobs=False,
    )
    DEFAULT_PATH = "/v1beta"
    DEFAULT_AUTH_SCHEME = "x-goog-api-key"

    @tracer.capture_method(capture_response=False)
    def create_job(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Start an operation. ``request.idempotency_key`` is not sent: the API has none."""
        if not _MODEL_NAME.match(request.model):
            raise ProviderPermanentError(f"'{request.model}' is not a Veo model name", code=INVALID_INPUT)
        try:
            parameters = veo_parameters(request.model, seconds=request.seconds, size=request.size)
        except UnsupportedOptionError as exc:
            raise ProviderPermanentError(str(exc), code=INVALID_INPUT) from exc
        instance: dict[str, Any] = {"prompt": request.prompt}
        if request.input_reference:
            instance["image"] = _image_of(request.input_reference)
        path = f"{self._path}/models/{request.model}:predictLongRunning"
        with _google_errors():
            reply = self._http.request_json(
                "POST", path, deadline=deadline, json={"instances": [instance], "parameters": parameters}
            )
        what = f"POST {path}"
        if not isinstance(reply, Mapping):
            raise bad_reply(what, "expected an operation object")
        name = first_text(reply, "name")
        if name is None or not _OPERATION_NAME.match(name):
            raise bad_reply(what, "the operation has no usable name")
        job = self._job_of(reply, what)
        # A fresh operation that is not done yet has not started as far as we can tell.
        return job if job.state is not ProviderState.RUNNING else _with_state(job, ProviderState.QUEUED, "queued")

    @tracer.capture_method(capture_response=False)
    def get_job(self, job_id: str, *, deadline: Deadline | None = None) -> ProviderJob:
        if not _OPERATION_NAME.match(job_id):
            raise ProviderJobLostError("The job id is not a Gemini operation name")
        path = f"{self._path}/{job_id}"
        with _google_errors():
            reply = self._http.request_json("GET", path, deadline=deadline, not_found=ProviderJobLostError)
        return self._job_of(reply, f"GET {path}")

    @tracer.capture_method(capture_response=False)
    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        """The video of a finished operation, from the URI its sample named (the key goes along only to
        the API's own host)."""
        if not job.media_url:
            raise ProviderPermanentError("The finished operation named no video to download", code="PROVIDER_BAD_MEDIA")
        with self._open_media(job.media_url, deadline) as media:
            yield media

    def cancel_job(self, job_id: str, *, deadline: Deadline | None = None) -> None:
        """Veo operations cannot be cancelled through the Gemini API; nothing is sent."""
        raise ProviderPermanentError("The Gemini API cannot cancel a Veo operation", code="PROVIDER_CANNOT_CANCEL")

    def list_recent_jobs(self, limit: int = 100, *, deadline: Deadline | None = None) -> list[ListedJob]:
        return []

    def _job_of(self, reply: Any, what: str) -> ProviderJob:
        if not isinstance(reply, Mapping):
            raise bad_reply(what, "expected an operation object")
        name = first_text(reply, "name")
        if name is None:
            raise bad_reply(what, "the operation has no name")
        if reply.get("done") is not True:
            return _job(name, ProviderState.RUNNING, "running")
        error = reply.get("error")
        if isinstance(error, Mapping):
            return self._failed_job(name, error)
        result = _video_response(reply.get("response"))
        uri = _first_video_uri(result)
        if uri is not None:
            return _job(name, ProviderState.SUCCEEDED, "done", media_url=self._http.resolve(uri))
        filtered = _filtered_reasons(result)
        if filtered is not None:
            return _job(name, ProviderState.FAILED, "filtered", code=CONTENT_POLICY, message=self._http.scrub(filtered))
        return _job(
            name, ProviderState.FAILED, "done", code="PROVIDER_FAILED", message="The operation finished without a video"
        )

    def _failed_job(self, name: str, error: Mapping[str, Any]) -> ProviderJob:
        number = error.get("code")
        message = first_text(error, "message") or "The operation failed"
        if number == _RPC_CANCELLED:
            return _job(name, ProviderState.CANCELLED, "cancelled", message=self._http.scrub(message))
        if _POLICY_WORDS.search(message):
            code = CONTENT_POLICY
        else:
            code = _RPC_CODES.get(number, "PROVIDER_FAILED") if isinstance(number, int) else "PROVIDER_FAILED"
        return _job(name, ProviderState.FAILED, "error", code=code, message=self._http.scrub(message))


def _job(
    name: str,
    state: ProviderState,
    raw_status: str,
    *,
    media_url: str | None = None,
    code: str | None = None,
    message: str | None = None,
) -> ProviderJob:
    return ProviderJob(
        id=name,
        state=state,
        raw_status=raw_status,
        progress=None,
        media_url=media_url,
        error_code=code,
        error_message=message,
    )


def _with_state(job: ProviderJob, state: ProviderState, raw_status: str) -> ProviderJob:
    return _job(job.id, state, raw_status, media_url=job.media_url, code=job.error_code, message=job.error_message)


def _video_response(response: Any) -> Mapping[str, Any]:
    """The documented ``generateVideoResponse``; relays that pass on the SDKs' flattened form
    (``generatedVideos``, the filter fields at the top) are read alike."""
    if not isinstance(response, Mapping):
        return {}
    inner = response.get("generateVideoResponse")
    return inner if isinstance(inner, Mapping) else response


def _first_video_uri(result: Mapping[str, Any]) -> str | None:
    for field in ("generatedSamples", "generatedVideos"):
        samples = result.get(field)
        if not isinstance(samples, list):
            continue
        for sample in samples:
            video = sample.get("video") if isinstance(sample, Mapping) else None
            uri = first_text(video, "uri") if isinstance(video, Mapping) else None
            if uri:
                return uri
    return None


def _filtered_reasons(result: Mapping[str, Any]) -> str | None:
    """Why the safety filters held the video back, or None when they did not."""
    reasons = result.get("raiMediaFilteredReasons")
    texts = [str(reason).strip() for reason in reasons if str(reason).strip()] if isinstance(reasons, list) else []
    count = result.get("raiMediaFilteredCount")
    if texts:
        return "; ".join(texts)
    if isinstance(count, int) and not isinstance(count, bool) and count > 0:
        return "The video was held back by the provider's safety filters"
    return None


def _image_of(reference: str) -> dict[str, str]:
    if not is_data_url(reference):
        raise ProviderPermanentError(
            "input_reference must be a data: URL for Veo models: the Gemini API takes the image's bytes inline",
            code=INVALID_INPUT,
        )
    try:
        media_type, data = data_url_parts(reference)
    except ValueError as exc:
        raise ProviderPermanentError(f"input_reference is not a usable data URL: {exc}", code=INVALID_INPUT) from exc
    if not media_type.lower().startswith("image/"):
        raise ProviderPermanentError("input_reference must be an image", code=INVALID_INPUT)
    return {"bytesBase64Encoded": base64.b64encode(data).decode("ascii"), "mimeType": media_type.lower()}


@contextlib.contextmanager
def _google_errors() -> Iterator[None]:
    """Google's refusals that the HTTP status alone misnames: an invalid key is a 400 (``API key not
    valid``), and a prompt or image refused on policy grounds is a 400 too."""
    try:
        yield
    except ProviderPermanentError as exc:
        if exc.status_code == 400 and "api key not valid" in exc.message.lower():
            raise _recoded(exc, AUTH_FAILED) from exc
        if exc.status_code == 400 and _POLICY_WORDS.search(exc.message):
            raise _recoded(exc, CONTENT_POLICY) from exc
        raise


def _recoded(exc: ProviderError, code: str) -> ProviderPermanentError:
    return ProviderPermanentError(exc.message, code=code, status_code=exc.status_code)
