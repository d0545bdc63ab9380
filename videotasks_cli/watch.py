"""Following a task to its end: over the WebSocket (each change as it happens), else by polling.

The socket is the fast path, never a requirement: when it cannot connect, is refused or drops, the task is
followed by polling `GET /tasks/{id}` from where it stands, and the caller is told once (stderr). Either way
the result is the task as `GET` answers it once it has ended (with its fresh `videoUrl`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.exceptions import WebSocketException
from websockets.sync.client import connect

from videotasks_cli.client import ApiClient, scrub
from videotasks_cli.exit_codes import CliError, ExitCode

# The WebSocket's lowercase status words → the HTTP API's (docs/FRONTEND_INTEGRATION.md).
WIRE_STATUS = {
    "queued": "QUEUED",
    "in_progress": "PROCESSING",
    "completed": "COMPLETED",
    "failed": "FAILED",
    "cancelled": "CANCELLED",
}
TERMINAL = frozenset({"COMPLETED", "FAILED", "CANCELLED"})
RANK = {"QUEUED": 0, "PROCESSING": 1, "COMPLETED": 2, "FAILED": 2, "CANCELLED": 2}
OPEN_TIMEOUT_SECONDS = 10.0
# A quiet socket is checked over HTTP this often: a change pushed while it was not yet subscribed is
# never missed for long.
QUIET_SECONDS = 15.0
POLL_SECONDS = 1.0

Update = dict[str, Any]  # {"videoId", "status" (HTTP word), "progress", "queuePosition", "message"}


def with_token(ws_url: str, token: str) -> str:
    """Browsers cannot set headers on the handshake, so the API takes the token in the query string."""
    parts = urlsplit(ws_url)
    query = [(k, v) for k, v in parse_qsl(parts.query) if k != "token"] + [("token", token)]
    return urlunsplit(parts._replace(query=urlencode(query)))


def update_of_task(task: dict[str, Any]) -> Update:
    return {
        "videoId": task.get("videoId"),
        "status": str(task.get("status") or "QUEUED").upper(),
        "progress": int(task.get("progress") or 0),
        "queuePosition": task.get("queuePosition"),
        "message": (task.get("error") or {}).get("message"),
    }


def update_of_message(payload: dict[str, Any]) -> Update:
    status = str(payload.get("status") or "")
    error = payload.get("error") or {}
    return {
        "videoId": payload.get("videoId"),
        "status": WIRE_STATUS.get(status, status.upper()),
        "progress": int(payload.get("progress") or 0),
        "queuePosition": payload.get("queuePosition"),
        "message": error.get("message") or payload.get("message"),
    }


class SocketGaveUp(Exception):  # noqa: N818 - a reason to poll, not an error of the command
    pass


class Follower:
    """``Follower(api, ws_url, on_update, on_note).follow(video_id)`` → the ended task."""

    def __init__(
        self,
        api: ApiClient,
        ws_url: str | None,
        on_update: Callable[[Update], None],
        on_note: Callable[[str], None],
        *,
        poll_seconds: float = POLL_SECONDS,
        quiet_seconds: float = QUIET_SECONDS,
    ) -> None:
        self.api = api
        self.ws_url = ws_url
        self.on_update = on_update
        self.on_note = on_note
        self.poll_seconds = poll_seconds
        self.quiet_seconds = quiet_seconds
        self.current: Update | None = None
        self.transport = "websocket"  # or "polling": how the task was followed in the end

    def apply(self, update: Update) -> None:
        """Messages are snapshots: only one that moves the task forward (or its queue place) is shown."""
        known = self.current
        forward = (
            known is None
            or RANK.get(update["status"], 0) > RANK.get(known["status"], 0)
            or (update["status"] == known["status"] and update["progress"] > known["progress"])
            or (update["status"] == known["status"] == "QUEUED" and update["queuePosition"] != known["queuePosition"])
        )
        if forward and (known is None or known["status"] not in TERMINAL):
            self.current = update
            self.on_update(update)

    @property
    def ended(self) -> bool:
        return self.current is not None and self.current["status"] in TERMINAL

    def follow(self, video_id: str) -> dict[str, Any]:
        self.apply(update_of_task(self.api.get_task(video_id)))
        if not self.ended:
            if self.ws_url:
                try:
                    self._socket(video_id)
                except SocketGaveUp as reason:
                    self._fall_back(str(reason))
            else:
                self._fall_back("no WebSocket URL configured")
            if not self.ended:
                self._poll(video_id)
        return self.api.get_task(video_id)

    def _fall_back(self, reason: str) -> None:
        self.transport = "polling"
        self.on_note(f"WebSocket unavailable ({scrub(reason, self.api.token)}); following the task by polling")

    def _socket(self, video_id: str) -> None:
        url = with_token(str(self.ws_url), self.api.token)
        try:
            with connect(url, open_timeout=OPEN_TIMEOUT_SECONDS, close_timeout=2) as socket:
                socket.send(json.dumps({"action": "subscribe", "videoId": video_id}))
                while not self.ended:
                    try:
                        raw = socket.recv(timeout=self.quiet_seconds)
                    except TimeoutError:
                        self.apply(update_of_task(self.api.get_task(video_id)))
                        continue
                    self._receive(video_id, raw)
        except (OSError, TimeoutError, WebSocketException, ValueError) as error:
            raise SocketGaveUp(str(error) or type(error).__name__) from None

    def _receive(self, video_id: str, raw: str | bytes) -> None:
        message = json.loads(raw)
        payload = message.get("payload") or {}
        kind = message.get("type")
        if kind == "error":
            raise SocketGaveUp(f"subscribe refused: {payload.get('code')} {payload.get('message')}")
        if payload.get("videoId") != video_id:
            return
        if kind == "taskDeleted":
            raise CliError(f"task {video_id} was deleted while it was followed", ExitCode.API_ERROR)
        if kind in {"taskProgress", "taskCompleted", "taskFailed", "taskCancelled"}:
            self.apply(update_of_message(payload))

    def _poll(self, video_id: str) -> None:
        while not self.ended:
            time.sleep(self.poll_seconds)
            self.apply(update_of_task(self.api.get_task(video_id)))
