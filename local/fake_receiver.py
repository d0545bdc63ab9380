"""A customer's webhook receiver, for tests and the reliability row (docs/WEBHOOKS.md): it listens on
127.0.0.1 (the one address the local stack lets callbacks reach), records every POST with its headers, and
answers each request by a script: an HTTP status, or ``"hang"`` (no answer within the sender's timeout).
It can go down and come back on the same port. Checking signatures is the caller's business (with the
``standardwebhooks`` package, as a customer would).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = int | str  # a status code, or "hang"
HANG_SECONDS = 15.0


@dataclass(frozen=True)
class Delivery:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() when it arrived


class FakeReceiver:
    """``FakeReceiver({"/flaky": [500, 500, 200]})``: each path answers each event's attempts (by
    ``webhook-id``) with its script in order, then repeats its last answer; a path without a script answers
    200."""

    def __init__(self, scripts: dict[str, list[Answer]] | None = None, *, port: int = 0) -> None:
        self.scripts = dict(scripts or {})
        self.deliveries: list[Delivery] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def received(self, path: str | None = None) -> list[Delivery]:
        with self._lock:
            return [delivery for delivery in self.deliveries if path is None or delivery.path == path]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                delivery = Delivery(self.path, {k.lower(): v for k, v in self.headers.items()}, body, time.time())
                answer = receiver._record(delivery)
                if answer == "hang":
                    time.sleep(HANG_SECONDS)
                    return
                self.send_response(int(answer))
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, name="fake-receiver", daemon=True).start()

    def stop(self) -> None:
        """Go down: connections are refused until ``start`` (same port)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _record(self, delivery: Delivery) -> Answer:
        with self._lock:
            self.deliveries.append(delivery)
            # Each event (webhook-id) meets its path's script from the start: "fails the first attempts" is
            # per event, whatever other events the path received meanwhile.
            event = delivery.headers.get("webhook-id")
            seen = sum(
                1
                for earlier in self.deliveries
                if earlier.path == delivery.path and earlier.headers.get("webhook-id") == event
            )
        script = self.scripts.get(delivery.path) or [200]
        return script[min(seen, len(script)) - 1]
