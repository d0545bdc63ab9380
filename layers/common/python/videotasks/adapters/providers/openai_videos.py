"""Client for the OpenAI Videos API shape (``/v1/videos``), as OpenAI and Sora relays speak it.

Relays differ in small ways that this client absorbs: a base path such as ``/sora/v1/videos``, the
key sent without ``Bearer``, statuses such as ``pending``, progress as a float or a string, the media
URL in ``url``/``video_url``/``image_url`` (possibly relative), and ``error`` as an object or a string.
"""

from __future__ import annotations

import contextlib
import mimetypes
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from videotasks.adapters.providers._http import (
    JobRequest,
    MediaStream,
    ProviderJob,
    bad_reply,
    data_url_parts,
    error_fields,
    first_text,
    idempotency_headers,
    int_progress,
    is_data_url,
)
from videotasks.adapters.providers.base import ProviderClient
from videotasks.adapters.providers.protocol import Capabilities
from videotasks.adapters.tracing import tracer
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError
from videotasks.domain.lifecycle import ProviderState, normalise_provider_status
from videotasks.domain.submission import ListedJob

MEDIA_URL_FIELDS = ("url", "video_url", "image_url")


class VideosProvider(ProviderClient):
    """Create, poll, download and cancel video jobs."""

    SHAPE = "openai_videos"
    CAPABILITIES = Capabilities(
        progress=True,
        queue_position=False,
        eta=False,
        webhook=False,
        cancel=True,
        remix=True,
        reference_image=True,
        list_jobs=True,
    )
    DEFAULT_PATH = "/v1/videos"

    @tracer.capture_method(capture_response=False)
    def create_job(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Submit a job. Multipart, because relays accept only that and OpenAI accepts it too."""
        reply = self._http.request_json(
            "POST",
            self._path,
            deadline=deadline,
            files=_create_form(request),
            headers=idempotency_headers(request),
        )
        what = f"POST {self._path}"
        if isinstance(reply, str) and reply.strip():
            # Some relays answer a create with the bare job id (the old backend's relay; docs/LEGACY_CONTRACT.md).
            return _queued_job(reply.strip())
        return self._job_of(reply, what)

    @tracer.capture_method(capture_response=False)
    def remix_job(self, source_job_id: str, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """``POST {path}/{id}/remix`` with JSON ``{prompt}``: a new job like a create's, the source's model,
        seconds and size kept by the provider."""
        path = self._job_path(source_job_id) + "/remix"
        reply = self._http.request_json(
            "POST",
            path,
            deadline=deadline,
            json={"prompt": request.prompt},
            headers=idempotency_headers(request),
        )
        return self._job_of(reply, f"POST {path}")

    @tracer.capture_method(capture_response=False)
    def list_recent_jobs(self, limit: int = 100, *, deadline: Deadline | None = None) -> list[ListedJob]:
        """The newest jobs of this account (``GET {path}?limit=&order=desc``), one page: enough to
        find a job made seconds ago. A provider without the list answers 404/405: a permanent error."""
        reply = self._http.request_json("GET", self._path, deadline=deadline, params={"limit": limit, "order": "desc"})
        items = reply.get("data") if isinstance(reply, Mapping) else reply
        if not isinstance(items, list):
            raise bad_reply(f"GET {self._path}", "expected a list of jobs in data[]")
        return [_listed_job(item) for item in items if isinstance(item, Mapping) and item.get("id")]

    @tracer.capture_method(capture_response=False)
    def get_job(self, job_id: str, *, deadline: Deadline | None = None) -> ProviderJob:
        path = self._job_path(job_id)
        reply = self._http.request_json("GET", path, deadline=deadline, not_found=ProviderJobLostError)
        return self._job_of(reply, f"GET {path}")

    @tracer.capture_method(capture_response=False)
    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        """The finished media: from the URL the job reported, else from ``{path}/{id}/content``."""
        url = job.media_url or str(self._http.url(self._job_path(job.id) + "/content"))
        with self._open_media(url, deadline) as media:
            yield media

    @tracer.capture_method(capture_response=False)
    def cancel_job(self, job_id: str, *, deadline: Deadline | None = None) -> None:
        self._http.request_json("DELETE", self._job_path(job_id), deadline=deadline, not_found=ProviderJobLostError)

    def _job_path(self, job_id: str) -> str:
        return f"{self._path}/{quote(job_id, safe='')}"

    def _job_of(self, reply: Any, what: str) -> ProviderJob:
        if not isinstance(reply, Mapping):
            raise bad_reply(what, "expected a JSON object")
        job_id = reply.get("id")
        if not isinstance(job_id, str | int) or isinstance(job_id, bool) or not str(job_id).strip():
            raise bad_reply(what, "the job has no id")
        raw_status = first_text(reply, "status") or ""
        media_url = first_text(reply, *MEDIA_URL_FIELDS)
        error_code, error_message = error_fields(reply)
        return ProviderJob(
            id=str(job_id).strip(),
            state=normalise_provider_status(raw_status),
            raw_status=raw_status,
            progress=int_progress(reply.get("progress")),
            media_url=self._http.resolve(media_url) if media_url else None,
            error_code=error_code,
            error_message=self._http.scrub(error_message) if error_message else None,
        )


def _listed_job(item: Mapping[str, Any]) -> ListedJob:
    created = item.get("created_at")
    created_at = (
        datetime.fromtimestamp(created, UTC)
        if isinstance(created, int | float) and not isinstance(created, bool)
        else None
    )
    seconds = item.get("seconds")
    return ListedJob(
        id=str(item["id"]).strip(),
        created_at=created_at,
        prompt=first_text(item, "prompt"),
        model=first_text(item, "model"),
        seconds=str(seconds).strip() if isinstance(seconds, str | int) and not isinstance(seconds, bool) else None,
        size=first_text(item, "size"),
    )


def _queued_job(job_id: str) -> ProviderJob:
    return ProviderJob(
        id=job_id,
        state=ProviderState.QUEUED,
        raw_status="queued",
        progress=None,
        media_url=None,
        error_code=None,
        error_message=None,
    )


def _create_form(request: JobRequest) -> dict[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]]:
    """Multipart parts. Plain fields are ``(None, value)`` so httpx sends multipart even without a file."""
    form: dict[str, tuple[str | None, bytes | str] | tuple[str, bytes, str]] = {
        "prompt": (None, request.prompt),
        "model": (None, request.model),
    }
    if request.seconds is not None:
        form["seconds"] = (None, str(request.seconds))
    if request.size:
        form["size"] = (None, request.size)
    if request.input_reference:
        form["input_reference"] = _reference_part(request.input_reference)
    return form


def _reference_part(reference: str) -> tuple[str | None, bytes | str] | tuple[str, bytes, str]:
    if not is_data_url(reference):
        return (None, reference)
    try:
        media_type, data = data_url_parts(reference)
    except ValueError as exc:
        raise ProviderPermanentError(f"input_reference is not a usable data URL: {exc}", code="INVALID_INPUT") from exc
    extension = mimetypes.guess_extension(media_type) or ".bin"
    return (f"input_reference{extension}", data, media_type)
