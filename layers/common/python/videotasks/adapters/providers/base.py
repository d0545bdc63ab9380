"""What every provider client has in common: one endpoint of one provider, and its finished media."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from types import TracebackType
from typing import Any, ClassVar, Self

import httpx

from videotasks.adapters.providers._http import (
    AuthScheme,
    ErrorReading,
    JobRequest,
    MediaStream,
    ProviderHttp,
    ProviderJob,
    is_data_url,
    media_stream_of_data_url,
)
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderPermanentError

CONTENT_GONE = "PROVIDER_CONTENT_GONE"


class ProviderClient:
    """A client of the endpoint at ``path`` below ``base_url`` (``DEFAULT_PATH`` unless told otherwise).

    Synchronous: one Lambda invocation, one call. Closing the client (or leaving its ``with``) closes its
    connections.
    """

    DEFAULT_PATH: ClassVar[str]
    # What an entry that names no auth scheme sends (a shape whose provider wants its own header says so).
    DEFAULT_AUTH_SCHEME: ClassVar[AuthScheme] = "bearer"

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        path: str | None = None,
        auth_scheme: AuthScheme | None = None,
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._http = ProviderHttp(
            base_url=base_url,
            api_key=api_key,
            auth_scheme=auth_scheme or self.DEFAULT_AUTH_SCHEME,
            timeout=timeout,
            transport=transport,
            error_reader=self._read_error,
        )
        self._path = "/" + (self.DEFAULT_PATH if path is None else path).strip("/")

    def close(self) -> None:
        self._http.close()

    def remix_job(self, source_job_id: str, request: JobRequest, *, deadline: Deadline | None = None) -> ProviderJob:
        """Shapes that can remix override this; the catalog keeps remixes of the others from being made."""
        raise ProviderPermanentError(f"the {type(self).__name__} shape cannot remix a job", code="REMIX_UNSUPPORTED")

    def _read_error(self, status: int, body: Any) -> ErrorReading | None:
        """This provider's reading of an error reply whose body says more than its status (a moderation
        refusal, a final failure); None for the common reading. Shapes override it."""
        return None

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _open_media(self, url: str, deadline: Deadline | None) -> Iterator[MediaStream]:
        """The media at ``url``: decoded from a ``data:`` URL, else downloaded (gone for good on 404/410)."""
        if is_data_url(url):
            yield media_stream_of_data_url(url)
            return
        with self._http.stream(url, gone_code=CONTENT_GONE, deadline=deadline) as media:
            yield media
