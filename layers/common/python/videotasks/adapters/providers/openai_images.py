"""Client for the OpenAI Images shape (``/v1/images/generations``): synchronous generation.

An image is finished when the call returns, so ``generate`` hands back a SUCCEEDED job whose media is
either the provider's URL or the returned bytes as a ``data:`` URL; ``open_content`` streams either
with the same contract as the videos client.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from videotasks.adapters.providers._http import (
    JobRequest,
    MediaStream,
    ProviderJob,
    bad_reply,
    first_text,
    idempotency_headers,
)
from videotasks.adapters.providers.base import ProviderClient
from videotasks.adapters.tracing import tracer
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderPermanentError
from videotasks.domain.lifecycle import ProviderState

# Magic numbers of the formats the Images API returns (gpt-image-1 has an ``output_format`` option).
_IMAGE_SIGNATURES: tuple[tuple[bytes, str], ...] = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"RIFF", "image/webp"),
    (b"GIF8", "image/gif"),
)


class ImagesProvider(ProviderClient):
    """Generate one image per call; the reply already holds the result."""

    SHAPE = "openai_images"
    DEFAULT_PATH = "/v1/images/generations"

    @tracer.capture_method(capture_response=False)
    def generate(self, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Generate one image. ``seconds`` and ``input_reference`` do not apply to this endpoint.

        Generation is synchronous and billed when it runs: a timeout once the request was sent is
        ``ProviderPermanentError`` (PROVIDER_TIMEOUT), so that no retry pays for a second image whose
        first may well exist. A request that never left (connect timeout) stays transient."""
        body: dict[str, Any] = {"model": request.model, "prompt": request.prompt, "n": 1}
        if request.size:
            body["size"] = request.size
        reply = self._http.request_json(
            "POST",
            self._path,
            deadline=deadline,
            final_once_sent=True,
            json=body,
            headers=idempotency_headers(request),
        )
        return self._job_of(reply, f"POST {self._path}")

    @tracer.capture_method(capture_response=False)
    @contextlib.contextmanager
    def open_content(self, job: ProviderJob, *, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        if not job.media_url:
            raise ProviderPermanentError(f"Image job {job.id} has no media", code="PROVIDER_BAD_MEDIA")
        with self._open_media(job.media_url, deadline) as media:
            yield media

    def _job_of(self, reply: Any, what: str) -> ProviderJob:
        item = _first_item(reply)
        if item is None:
            raise bad_reply(what, "no image in data[]")
        url = first_text(item, "url")
        b64 = first_text(item, "b64_json")
        if url:
            media_url = self._http.resolve(url)
        elif b64:
            media_url = _data_url(b64, what)
        else:
            raise bad_reply(what, "the image has neither url nor b64_json")
        return ProviderJob(
            id=_image_id(reply.get("created")),
            state=ProviderState.SUCCEEDED,
            raw_status="completed",
            progress=100,
            media_url=media_url,
            error_code=None,
            error_message=None,
        )


def _first_item(reply: Any) -> Mapping[str, Any] | None:
    if not isinstance(reply, Mapping):
        return None
    data = reply.get("data")
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    return None


def _image_id(created: Any) -> str:
    """The Images API has no job id: mint one per generation. Unique even when a provider answers two
    requests in the same second with the same (cached) image, since it keys the ByExternalTaskId index."""
    unique = uuid.uuid4().hex[:16]
    if isinstance(created, int) and not isinstance(created, bool):
        return f"img_{created}_{unique}"
    return f"img_{unique}"


def _data_url(b64: str, what: str) -> str:
    compact = "".join(b64.split())
    try:
        head = base64.b64decode(compact[:24], validate=True)
    except binascii.Error:
        raise bad_reply(what, "b64_json is not base64") from None
    media_type = next((kind for magic, kind in _IMAGE_SIGNATURES if head.startswith(magic)), "image/png")
    return f"data:{media_type};base64,{compact}"
