"""HTTP plumbing shared by the provider clients: auth, error classification, media streaming.

Every provider failure leaves this module as one of the ``videotasks.domain.errors`` provider exceptions,
whose class names the state machine's ``Retry``/``Catch`` match. Messages name the method, the path
and the status code, never the API key (and never a URL's query string, where signed media URLs
keep their tokens).

Time: httpx's timeouts are per phase (connect, write, each read), so a slow trickle of bytes never times
out. Every call here also takes a ``Deadline`` (the caller's whole budget): each phase's timeout is the
configured one or the time left, whichever is shorter, and the deadline is checked before sending and
between body chunks. A call can still overrun by up to one phase timeout (a body read that stalls just
before the deadline: its timeout was fixed when the request was built); should that outlast the invocation,
the state machine retries the Lambda timeout.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, Literal
from urllib.parse import unquote_to_bytes

import httpx

from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderError, ProviderPermanentError, ProviderTransientError
from videotasks.domain.lifecycle import ProviderState

AuthScheme = Literal["bearer", "raw", "key", "x-goog-api-key"]

# The header that carries the key under each scheme, and what goes before the key in it: ``raw`` is for
# relays that take the bare key, ``key`` for fal (``Authorization: Key <key>``).
AUTH_HEADERS: dict[str, tuple[str, str]] = {
    "bearer": ("Authorization", "Bearer "),
    "raw": ("Authorization", ""),
    "key": ("Authorization", "Key "),
    "x-goog-api-key": ("x-goog-api-key", ""),  # Google's Gemini API
}

MAX_PROVIDER_MESSAGE = 500
AUTH_FAILED = "PROVIDER_AUTH_FAILED"


@dataclass(frozen=True)
class JobRequest:
    """What we ask a provider to generate. ``input_reference`` is an http(s) URL or a ``data:`` URL."""

    prompt: str
    model: str
    seconds: int | None = None
    size: str | None = None
    input_reference: str | None = None
    # Sent as ``Idempotency-Key`` on the create: the same for every retry of one task's submit.
    idempotency_key: str | None = None
    # Where the provider should call when the job ends; shapes whose ``CAPABILITIES.webhook`` is false
    # ignore it (see ``webhooks.py`` for how each provider's calls are verified).
    webhook_url: str | None = None


@dataclass(frozen=True)
class ProviderJob:
    """A provider's job as we understand it; ``raw_status`` keeps the provider's own word."""

    id: str
    state: ProviderState
    raw_status: str
    progress: int | None
    media_url: str | None
    error_code: str | None
    error_message: str | None
    queue_position: int | None = None  # requests ahead of this one, where the provider says
    eta_seconds: float | None = None  # seconds until the provider expects the job done (no shape reports it yet)


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """A ``Retry-After`` header's delay in seconds (RFC 9110: delay-seconds or an HTTP date); ``None``
    when absent or unreadable."""
    if not value or not value.strip():
        return None
    text = value.strip()
    if text.isdigit():
        return float(text)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


@dataclass(frozen=True)
class ErrorReading:
    """A provider's own account of a failed reply, for bodies the common reading (``error_text``) misses.

    ``code`` replaces the default code of the class the status picks; ``final`` makes a 5xx permanent
    (the provider says the request itself failed for good, not that it could not answer now)."""

    message: str
    code: str | None = None
    final: bool = False


ErrorReader = Callable[[int, Any], ErrorReading | None]


@dataclass
class MediaStream:
    """Finished media as a stream of byte chunks, so large videos never sit in memory whole."""

    content_type: str
    content_length: int | None
    chunks: Iterator[bytes]


def out_of_time(what: str, *, sent: bool = False, final_once_sent: bool = False) -> ProviderError:
    """The call's budget ran out. Transient, unless the request reached the provider and must not be
    repeated blindly (``final_once_sent``: a synchronous generation it may have run and billed)."""
    if sent and final_once_sent:
        return ProviderPermanentError(
            f"{what} timed out after the request was sent; the provider may have generated (and billed) it, "
            "so it is not retried automatically",
            code="PROVIDER_TIMEOUT",
        )
    return ProviderTransientError(f"{what} timed out", code="PROVIDER_TIMEOUT")


def bad_reply(what: str, why: str) -> ProviderTransientError:
    # A garbled reply is usually a relay or proxy hiccup; the workflow bounds the retries.
    return ProviderTransientError(f"{what} returned an unusable reply: {why}", code="PROVIDER_BAD_REPLY")


def data_url_parts(url: str) -> tuple[str, bytes]:
    """Media type and bytes of a ``data:`` URL (RFC 2397)."""
    header, sep, payload = url.partition(",")
    if not sep or not header.lower().startswith("data:"):
        raise ValueError("not a data: URL")
    params = header[5:].split(";")
    media_type = params[0].strip() or "text/plain"
    if any(param.strip().lower() == "base64" for param in params[1:]):
        try:
            return media_type, base64.b64decode(payload, validate=True)
        except binascii.Error as exc:
            raise ValueError("invalid base64 payload") from exc
    return media_type, unquote_to_bytes(payload)


def is_data_url(url: str) -> bool:
    return url[:5].lower() == "data:"


def media_stream_of_data_url(url: str) -> MediaStream:
    try:
        media_type, data = data_url_parts(url)
    except ValueError as exc:
        raise ProviderPermanentError(f"Media data URL is unusable: {exc}", code="PROVIDER_BAD_MEDIA") from exc
    return MediaStream(content_type=media_type, content_length=len(data), chunks=iter((data,)))


def int_progress(value: Any) -> int | None:
    """Progress as 0..100. Relays send ints, floats, numeric strings or ``"45%"``."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        value = value.strip().rstrip("%").strip()
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number):
        return None
    return max(0, min(100, int(number)))


def first_text(payload: Mapping[str, Any], *names: str) -> str | None:
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


class ProviderHttp:
    """One provider endpoint: base URL, credentials, timeouts and the classification of failures."""

    def __init__(
        self,
        *,
        base_url: str,
        api_key: str,
        auth_scheme: AuthScheme = "bearer",
        timeout: float = 20.0,
        transport: httpx.BaseTransport | None = None,
        error_reader: ErrorReader | None = None,
    ) -> None:
        if auth_scheme not in AUTH_HEADERS:
            raise ValueError(f"Unknown auth scheme {auth_scheme!r}")
        self.base_url = httpx.URL(base_url.rstrip("/") + "/")
        self._api_key = api_key
        header, prefix = AUTH_HEADERS[auth_scheme]
        self._auth_header = (header, prefix + api_key)
        self._error_reader = error_reader
        # No default auth header: media URLs on other hosts (CDNs, presigned storage) must not receive
        # the key. httpx drops only Authorization on a redirect to another origin, so a hook takes off
        # a key sent in any other header too.
        self._timeout = timeout
        self._client = httpx.Client(
            timeout=timeout,
            transport=transport,
            follow_redirects=False,
            event_hooks={"request": [self._keep_key_home]},
        )

    def close(self) -> None:
        self._client.close()

    # -- URLs -------------------------------------------------------------------------------------

    def url(self, path: str) -> httpx.URL:
        """``path`` below the base URL; a base with a prefix (``https://relay/api``) keeps it."""
        return self.base_url.join(path.lstrip("/"))

    def resolve(self, url: str) -> str:
        """Absolute form of a URL a provider reported; relative ones are resolved against the base URL."""
        if is_data_url(url):
            return url
        try:
            return str(self.base_url.join(url))
        except httpx.InvalidURL:
            raise _unusable_media_url() from None

    def is_own_origin(self, url: httpx.URL) -> bool:
        own = self.base_url
        return (url.scheme, url.host, url.port) == (own.scheme, own.host, own.port)

    # -- requests ---------------------------------------------------------------------------------

    def request_json(
        self,
        method: str,
        path: str,
        *,
        deadline: Deadline | None = None,
        final_once_sent: bool = False,
        not_found: type[ProviderPermanentError] | None = None,
        headers: Mapping[str, str] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send a request to ``path`` and return its decoded JSON body (``None`` for an empty body).

        ``final_once_sent``: a timeout after the request went out is permanent, not transient (see
        ``out_of_time``); a request that never left (connect or pool timeout) stays transient."""
        deadline = deadline or Deadline.none()
        url = self.url(path)
        what = f"{method} {url.path}"
        request = self._build(
            method, url, deadline, what, headers={**(headers or {}), **self._auth_headers()}, **kwargs
        )
        response = self._guard(what, lambda: self._client.send(request, stream=True), final_once_sent=final_once_sent)
        try:
            body = b"".join(self._body_chunks(response, what, deadline, final_once_sent=final_once_sent))
        finally:
            response.close()
        response = httpx.Response(response.status_code, headers=_decoded_headers(response), content=body)
        self.raise_for_status(response, what, not_found=not_found)
        if not body.strip():
            return None
        try:
            return response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise bad_reply(what, f"HTTP {response.status_code} body is not JSON") from None

    @contextlib.contextmanager
    def stream(self, url: str, *, gone_code: str, deadline: Deadline | None = None) -> Iterator[MediaStream]:
        """Stream ``url``; the key goes only to the provider's own origin. 404/410 mean the media is
        gone for good (``gone_code``). Giving up at ``deadline`` between chunks is transient."""
        deadline = deadline or Deadline.none()
        try:
            target = httpx.URL(url)
        except httpx.InvalidURL:
            raise _unusable_media_url() from None
        what = f"GET {target.path}"
        headers = self._auth_headers() if self.is_own_origin(target) else {}
        request = self._build("GET", target, deadline, what, headers=headers)
        response = self._guard(what, lambda: self._client.send(request, stream=True, follow_redirects=True))
        try:
            if response.status_code in (404, 410):
                raise ProviderPermanentError(
                    f"{what} answered {response.status_code}: the media is no longer available",
                    code=gone_code,
                    status_code=response.status_code,
                )
            if response.is_error:
                self._guard(what, response.read)
            self.raise_for_status(response, what)
            yield MediaStream(
                content_type=response.headers.get("content-type", "application/octet-stream"),
                content_length=_content_length(response),
                chunks=self._body_chunks(response, what, deadline, downloading=True),
            )
        finally:
            response.close()

    def _build(self, method: str, url: httpx.URL, deadline: Deadline, what: str, **kwargs: Any) -> httpx.Request:
        """The request, each phase's timeout capped by the time left; none is sent once it is up."""
        if deadline.expired:
            raise ProviderTransientError(
                f"{what} was not sent: the step's time budget is spent", code="PROVIDER_TIMEOUT"
            )
        timeout = deadline.cap(self._timeout)
        return self._client.build_request(method, url, timeout=timeout, **kwargs)

    def _body_chunks(
        self,
        response: httpx.Response,
        what: str,
        deadline: Deadline,
        *,
        final_once_sent: bool = False,
        downloading: bool = False,
    ) -> Iterator[bytes]:
        """The body, giving up between chunks once ``deadline`` has passed: a provider trickling bytes
        resets httpx's read timeout with every one of them, and would hold the invocation past its end."""
        doing = " while downloading" if downloading else ""
        try:
            # As each read arrives (no chunk_size: httpx would hold bytes back until it had that many).
            for chunk in response.iter_bytes():
                if deadline.expired:
                    raise out_of_time(f"{what}{doing}", sent=True, final_once_sent=final_once_sent)
                yield chunk
        except httpx.TimeoutException as exc:
            raise out_of_time(f"{what}{doing}", sent=True, final_once_sent=final_once_sent) from exc
        except httpx.TransportError as exc:
            raise ProviderTransientError(
                f"{what} broke off{doing or ' while reading the reply'} ({type(exc).__name__})"
            ) from exc

    def _auth_headers(self) -> dict[str, str]:
        header, value = self._auth_header
        return {header: value}

    def _keep_key_home(self, request: httpx.Request) -> None:
        """Runs before every request httpx sends, redirects included."""
        if not self.is_own_origin(request.url):
            request.headers.pop(self._auth_header[0], None)

    def _guard[T](self, what: str, call: Callable[[], T], *, final_once_sent: bool = False) -> T:
        """Run one httpx call, turning transport failures into provider exceptions."""
        try:
            return call()
        except (httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # The request never left: repeating it is safe whatever it asks for.
            raise out_of_time(what) from exc
        except httpx.TimeoutException as exc:
            raise out_of_time(what, sent=True, final_once_sent=final_once_sent) from exc
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError) as exc:
            # Our configuration or request is wrong: retrying the same thing cannot help.
            raise ProviderPermanentError(f"{what} could not be sent ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            # Connect errors, resets, protocol errors from the far side, proxy failures.
            raise ProviderTransientError(f"{what} failed: {type(exc).__name__}") from exc

    # -- classification ---------------------------------------------------------------------------

    def raise_for_status(
        self, response: httpx.Response, what: str, *, not_found: type[ProviderPermanentError] | None = None
    ) -> None:
        status = response.status_code
        if status < 400:
            return
        reading = self._reading(response)
        message = f"{what} answered {status}" + (f": {reading.message}" if reading.message else "")
        retry_after = retry_after_seconds(response.headers.get("retry-after"))
        if status == 429:
            raise ProviderTransientError(
                message, code="PROVIDER_RATE_LIMITED", status_code=status, retry_after=retry_after
            )
        if (status >= 500 or status == 408) and not reading.final:
            raise ProviderTransientError(message, code=reading.code, status_code=status, retry_after=retry_after)
        if status in (401, 403):
            # A wrong or revoked key, on every call until someone changes the secret: not the request's fault.
            raise ProviderPermanentError(message, code=AUTH_FAILED, status_code=status)
        if status == 404 and not_found is not None:
            raise not_found(message, status_code=status)
        raise ProviderPermanentError(message, code=reading.code, status_code=status)

    def _reading(self, response: httpx.Response) -> ErrorReading:
        """The provider's own explanation, short and with the key scrubbed (some relays echo it)."""
        try:
            body: Any = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = response.text
        reading = self._error_reader(response.status_code, body) if self._error_reader else None
        if reading is None:
            reading = ErrorReading(error_text(body) if not isinstance(body, str) else body.strip())
        text = self.scrub(" ".join(reading.message.split()))[:MAX_PROVIDER_MESSAGE]
        return ErrorReading(text, reading.code, reading.final)

    def scrub(self, text: str) -> str:
        return text.replace(self._api_key, "***") if self._api_key else text


def error_text(body: Any) -> str:
    """Message of an OpenAI (``{error: {message}}``) or relay (``{error: "..."}``, ``{message}``) error body."""
    if isinstance(body, Mapping):
        code, message = error_fields(body)
        if message or code:
            return message or code or ""
        return first_text(body, "message", "detail", "msg") or ""
    return ""


def error_fields(payload: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """``(code, message)`` from ``error`` as an object or a string, plus the relay's ``error_code``."""
    error = payload.get("error")
    code: str | None = None
    message: str | None = None
    if isinstance(error, Mapping):
        code = _text(error.get("code")) or _text(error.get("type"))
        message = _text(error.get("message"))
    elif isinstance(error, str):
        message = error.strip() or None
    code = _text(payload.get("error_code")) or code
    return code, message


def _text(value: Any) -> str | None:
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _unusable_media_url() -> ProviderPermanentError:
    # No URL in the message: a malformed one may still carry a signature or a token.
    return ProviderPermanentError(
        "The provider reported a media URL that is not a valid URL", code="PROVIDER_BAD_MEDIA"
    )


def idempotency_headers(request: JobRequest) -> dict[str, str]:
    return {"Idempotency-Key": request.idempotency_key} if request.idempotency_key else {}


def _decoded_headers(response: httpx.Response) -> list[tuple[str, str]]:
    """Headers that describe the decoded body we hold, not the bytes on the wire."""
    wire_only = {"content-encoding", "content-length", "transfer-encoding"}
    return [(name, value) for name, value in response.headers.items() if name.lower() not in wire_only]


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length")
    if value is None or "content-encoding" in response.headers:
        # A compressed body's length is not the length of the bytes we yield.
        return None
    try:
        return int(value)
    except ValueError:
        return None
