"""POSTing one signed event to a callback URL, with the SSRF policy enforced where it counts.

The host is resolved here, every address DNS gives is checked (``domain/callback_urls.check_resolved``),
and the connection goes to the checked address itself: a resolver that answers differently a moment later
(DNS rebinding) cannot move us onto a private address between the check and the connect. TLS still
verifies the certificate against the URL's host name (SNI and the Host header carry it). No redirect is
followed (``http.client`` follows none), timeouts are short, and at most MAX_RESPONSE_BYTES of the answer
are read.
"""

from __future__ import annotations

import http.client
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from videotasks.domain.callback_urls import Address, CallbackUrlRefusedError, check_resolved, literal_address

MAX_RESPONSE_BYTES = 64 * 1024
USER_AGENT = "videotasks-webhooks/1"

Resolver = Callable[[str, int], list[Address]]


def resolve(host: str, port: int) -> list[Address]:
    """Every address the system resolver gives for ``host``."""
    found: list[Address] = []
    for *_, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
        address = literal_address(str(sockaddr[0]))
        if address is not None and address not in found:
            found.append(address)
    return found


@dataclass(frozen=True)
class PostResult:
    status_code: int | None  # None when no HTTP answer came
    error: str | None  # dns, refused_address, timeout, connection, tls; None when answered
    latency_ms: int
    retry_after: str | None = None


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to ``address``, verifying the certificate of (and sending SNI and Host for) the URL's host."""

    def __init__(self, host: str, port: int, address: Address, *, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = socket.create_connection((str(self._address), self.port), self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    def __init__(self, host: str, port: int, address: Address, *, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((str(self._address), self.port), self.timeout)


class CallbackPoster:
    def __init__(self, *, timeout_seconds: float, allow_loopback_http: bool, resolver: Resolver = resolve) -> None:
        self._timeout = timeout_seconds
        self._allow_loopback = allow_loopback_http
        self._resolve = resolver
        self._tls = ssl.create_default_context()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        started = time.monotonic()

        def result(status: int | None, error: str | None, retry_after: str | None = None) -> PostResult:
            return PostResult(status, error, round((time.monotonic() - started) * 1000), retry_after)

        parts = urlsplit(url)
        host = parts.hostname or ""
        https = parts.scheme.lower() == "https"
        port = parts.port or (443 if https else 80)
        literal = literal_address(host)
        try:
            addresses = [literal] if literal is not None else self._resolve(host, port)
        except OSError:
            return result(None, "dns")
        try:
            address = check_resolved(url, addresses, allow_loopback_http=self._allow_loopback)
        except CallbackUrlRefusedError:
            return result(None, "refused_address")
        connection: http.client.HTTPConnection = (
            _PinnedHTTPSConnection(host, port, address, timeout=self._timeout, context=self._tls)
            if https
            else _PinnedHTTPConnection(host, port, address, timeout=self._timeout)
        )
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        try:
            connection.request(
                "POST",
                target,
                body=body,
                headers={**headers, "content-type": "application/json", "user-agent": USER_AGENT},
            )
            response = connection.getresponse()
            response.read(MAX_RESPONSE_BYTES)
            return result(response.status, None, response.getheader("retry-after"))
        except TimeoutError:
            return result(None, "timeout")
        except ssl.SSLError:
            return result(None, "tls")
        except (OSError, http.client.HTTPException):
            return result(None, "connection")
        finally:
            connection.close()
