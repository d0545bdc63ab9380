"""Smoke test of a deployed stack, end to end, with real clients (httpx, websockets).

    SMOKE_TOKEN=<JWT> python -m tests.smoke --api-url https://<api>/api/video --ws-url wss://<ws>/<stage>

(``make smoke API_URL=… WS_URL=… TOKEN=…`` runs it.) The token is read from the environment
(``SMOKE_TOKEN``, else ``VIDEOTASKS_TOKEN``) so that it is never on a command line, and it is never
printed. Each step prints one line (✓/✗, what, how long); the first failure ends the run with a
non-zero exit and a hint at the usual cause. A WebSocket that fails is reported, and the task is then
followed by polling so the rest of the pipeline is still checked; the run still exits non-zero.

It makes one real task (an image when the stack offers an image model, else a short video), so a run
against a stack wired to a paying provider costs one generation.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx
import websockets

API_BASE_PATH = "/api/video"
TERMINAL = ("COMPLETED", "FAILED", "CANCELLED")
TERMINAL_MESSAGES = {"taskCompleted", "taskFailed", "taskCancelled"}
DEFAULT_PROMPT = "smoke test: a red cube on a white table"
POLL_SECONDS = 2.0


class SmokeStepError(Exception):
    def __init__(self, detail: str, hint: str = "") -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


@dataclass
class Options:
    api_url: str
    ws_url: str
    token: str = field(repr=False)
    model: str | None = None
    type: str | None = None
    prompt: str = DEFAULT_PROMPT
    seconds: int | None = None
    size: str | None = None
    timeout: float = 900.0  # a real video can take minutes
    http_timeout: float = 30.0


def api_base(url: str) -> str:
    """The API base URL ending in /api/video, whether or not the caller included that path."""
    url = url.rstrip("/")
    return url if url.endswith(API_BASE_PATH) else url + API_BASE_PATH


def with_token(ws_url: str, token: str) -> str:
    parts = urlsplit(ws_url)
    query = [*parse_qsl(parts.query), ("token", token)]
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", urlencode(query), parts.fragment))


def envelope_code(response: httpx.Response) -> str | None:
    """``error.code`` of our error envelope, or None when the body is not one (a bare gateway reply)."""
    try:
        body = response.json()
    except ValueError:
        return None
    if isinstance(body, dict) and body.get("success") is False and isinstance(body.get("error"), dict):
        code = body["error"].get("code")
        return str(code) if code else None
    return None


def data_of(response: httpx.Response) -> Any:
    body = response.json()
    return body.get("data", body) if isinstance(body, dict) else body


class Smoke:
    """The steps, in order; ``run`` returns the exit code."""

    def __init__(self, options: Options, out: Callable[[str], None] = print) -> None:
        self.options = options
        self.api = api_base(options.api_url)
        self._out = out
        self._soft_failures: list[str] = []
        self._auth = {"Authorization": f"Bearer {options.token}"}
        self._http = httpx.Client(timeout=options.http_timeout, trust_env=False, follow_redirects=False)

    # -- output ------------------------------------------------------------------------------------
    def scrub(self, text: str) -> str:
        return text.replace(self.options.token, "***") if self.options.token else text

    def say(self, mark: str, what: str, seconds: float, detail: str = "") -> None:
        line = f"{mark} {what:<34} {seconds:7.2f}s" + (f"  {detail}" if detail else "")
        self._out(self.scrub(line))

    @contextlib.contextmanager
    def step(self, what: str) -> Iterator[list[str]]:
        """Time a step and print its line; the body appends a short detail to the yielded list."""
        detail: list[str] = []
        started = time.monotonic()
        try:
            yield detail
        except SmokeStepError as failure:
            self.say("✗", what, time.monotonic() - started, failure.detail)
            if failure.hint:
                self._out(self.scrub(f"  hint: {failure.hint}"))
            raise
        except (httpx.HTTPError, OSError) as exc:
            self.say("✗", what, time.monotonic() - started, f"{type(exc).__name__}: {exc}")
            self._out("  hint: the endpoint is unreachable: check the URL (and that the stack is deployed)")
            raise SmokeStepError(str(exc)) from exc
        self.say("✓", what, time.monotonic() - started, " ".join(detail))

    # -- HTTP ----------------------------------------------------------------------------------------
    def call(self, method: str, path: str, *, auth: bool = True, **kwargs: Any) -> httpx.Response:
        headers = {**(self._auth if auth else {}), **kwargs.pop("headers", {})}
        return self._http.request(method, f"{self.api}{path}", headers=headers, **kwargs)

    @staticmethod
    def expect(response: httpx.Response, status: int, hint: str = "") -> None:
        if response.status_code != status:
            raise SmokeStepError(f"HTTP {response.status_code} (expected {status}): {response.text[:200]}", hint)

    # -- the run -------------------------------------------------------------------------------------
    def run(self) -> int:
        try:
            self.health()
            self.authenticated()
            task_type, model = self.choose_task()
            video_id = self.create(task_type, model)
            task = self.follow(video_id)
            self.get(video_id, task)
            self.content(video_id)
            self.cancel_after_terminal(video_id)
            self.unauthenticated()
        except SmokeStepError:
            return 1
        finally:
            self._http.close()
        if self._soft_failures:
            self._out(f"✗ finished with failures: {', '.join(self._soft_failures)}")
            return 1
        self._out("✓ smoke test passed")
        return 0

    def health(self) -> None:
        with self.step("health (no auth)") as detail:
            response = self.call("GET", "/health", auth=False)
            self.expect(response, 200, "the HTTP API or its ApiFunction is not answering: check the API URL")
            detail.append("200")

    def authenticated(self) -> None:
        with self.step("authenticated request") as detail:
            response = self.call("GET", "/tasks", params={"limit": 1})
            if response.status_code == 500:
                raise SmokeStepError(
                    f"HTTP 500 {response.text[:120]}",
                    "the API function failed: its log says why (reading JwtSecret, say); see docs/DEPLOYMENT.md",
                )
            if response.status_code in (401, 403):
                raise SmokeStepError(
                    f"HTTP {response.status_code} {response.text[:120]}",
                    "the token was refused: sign it with the stack's JWT secret (or its issuer), check expiry, "
                    "iss and aud",
                )
            self.expect(response, 200)
            detail.append("200: the API function verified the token")

    def choose_task(self) -> tuple[str, str | None]:
        """(type, model): as asked, else an image if the stack lists an image model, else a video."""
        options = self.options
        with self.step("choose what to make") as detail:
            task_type, model = (options.type or "").upper() or None, options.model
            if task_type is None:
                response = self.call("GET", "/models")
                items = data_of(response).get("items", []) if response.status_code == 200 else []
                images = [item for item in items if isinstance(item, dict) and item.get("type") == "IMAGE"]
                if images:
                    task_type, model = "IMAGE", model or str(images[0]["id"])
                elif items:
                    task_type = "VIDEO"
                else:  # no model list on this stack: try an image with the stack's default image model
                    task_type = "IMAGE"
            detail.append(f"{task_type} {model or '(stack default model)'}")
            return task_type, model

    def create(self, task_type: str, model: str | None) -> str:
        options = self.options
        body: dict[str, Any] = {"prompt": options.prompt, "type": task_type}
        body.update({name: value for name, value in (("model", model), ("size", options.size)) if value})
        if task_type == "VIDEO" and options.seconds:
            body["seconds"] = options.seconds
        with self.step("create a task") as detail:
            response = self.call("POST", "/tasks", json=body)
            if response.status_code == 400 and options.type is None and task_type == "IMAGE":
                # No image model on this stack and no list to say so: a short video instead.
                body = {key: value for key, value in body.items() if key not in ("type", "model")}
                if options.seconds:
                    body["seconds"] = options.seconds
                response = self.call("POST", "/tasks", json=body)
                detail.append("(no image model: a video)")
            self.expect(response, 201, "a 5xx here is the API function failing: see its CloudWatch log group")
            video_id = str(data_of(response)["videoId"])
            detail.append(video_id)
            return video_id

    def follow(self, video_id: str) -> dict[str, Any]:
        """Until the task is terminal: over the WebSocket, else (reported) by polling GET."""
        started = time.monotonic()
        try:
            message = asyncio.run(self._watch(video_id))
        except Exception as exc:  # any socket failure: report it, then make sure of the rest by polling
            reason = self.scrub(f"{type(exc).__name__}: {exc}")[:200]
            self.say("✗", "websocket until terminal", time.monotonic() - started, reason)
            self._out(
                "  hint: check the WS URL (wss://…/<stage>), that $connect accepts ?token=, and the "
                "WebSocket functions' permissions; following the task by polling instead"
            )
            self._soft_failures.append("websocket")
            with self.step("poll until terminal") as detail:
                task = self._poll(video_id)
                detail.append(task["status"])
        else:
            payload = message.get("payload", {})
            self.say("✓", "websocket until terminal", time.monotonic() - started, f"{message['type']}")
            task = {"status": str(payload.get("status", "")).upper()}
        if task["status"] != "COMPLETED":
            current = data_of(self.call("GET", f"/tasks/{video_id}"))
            error = current.get("error") or {}
            self.say("✗", "task completed", 0.0, f"{current.get('status')} {error.get('code')}: {error.get('message')}")
            self._out("  hint: the provider refused or failed the job: check the provider key secret and the model")
            raise SmokeStepError("task did not complete")
        return task

    async def _watch(self, video_id: str) -> dict[str, Any]:
        url = with_token(self.options.ws_url, self.options.token)
        async with asyncio.timeout(self.options.timeout):
            async with websockets.connect(url, open_timeout=self.options.http_timeout) as socket:
                await socket.send(json.dumps({"action": "subscribe", "videoId": video_id}))
                while True:
                    message = json.loads(await socket.recv())
                    if message.get("type") == "error":
                        raise RuntimeError(f"subscribe refused: {message.get('payload')}")
                    payload = message.get("payload") or {}
                    if message.get("type") in TERMINAL_MESSAGES and payload.get("videoId") == video_id:
                        return dict(message)

    def _poll(self, video_id: str) -> dict[str, Any]:
        deadline = time.monotonic() + self.options.timeout
        while time.monotonic() < deadline:
            response = self.call("GET", f"/tasks/{video_id}")
            self.expect(response, 200)
            task: dict[str, Any] = data_of(response)
            if task["status"] in TERMINAL:
                return task
            time.sleep(POLL_SECONDS)
        raise SmokeStepError(f"not terminal after {self.options.timeout:g}s", "the state machine may be stuck")

    def get(self, video_id: str, seen: dict[str, Any]) -> None:
        with self.step("GET the task") as detail:
            response = self.call("GET", f"/tasks/{video_id}")
            self.expect(response, 200)
            task = data_of(response)
            if task.get("status") != "COMPLETED" or not task.get("videoUrl"):
                raise SmokeStepError(f"status {task.get('status')}, videoUrl {task.get('videoUrl')!r}")
            detail.append(f"COMPLETED, external id {task.get('externalVideoId')}")

    def content(self, video_id: str) -> None:
        with self.step("GET the content URL") as detail:
            response = self.call("GET", f"/tasks/{video_id}/content")
            self.expect(response, 200)
            url = str(data_of(response)["url"])
            detail.append(f"expires {data_of(response).get('expiresAt')}")
        with self.step("download the media") as detail:
            size = 0
            with self._http.stream("GET", url) as media:  # no API credentials: the URL is presigned
                if media.status_code != 200:
                    media.read()
                    raise SmokeStepError(
                        f"HTTP {media.status_code} {media.text[:120]}",
                        "a 403 is usually the URL's signature or the bucket policy; check the presigning role",
                    )
                content_type = media.headers.get("content-type", "")
                if not content_type.startswith(("video/", "image/")):
                    raise SmokeStepError(f"Content-Type {content_type!r} is not video/* or image/*")
                for chunk in media.iter_bytes():
                    size += len(chunk)
            if size == 0:
                raise SmokeStepError("the media is empty")
            detail.append(f"200 {content_type} {size} bytes")

    def cancel_after_terminal(self, video_id: str) -> None:
        with self.step("cancel after the end is 409") as detail:
            response = self.call("POST", f"/tasks/{video_id}/cancel")
            self.expect(response, 409)
            if envelope_code(response) != "CONFLICT":
                raise SmokeStepError(f"409 without the CONFLICT envelope: {response.text[:120]}")
            detail.append("409 CONFLICT")

    def unauthenticated(self) -> None:
        with self.step("no token is 401") as detail:
            response = self.call("GET", "/tasks", auth=False)
            self.expect(response, 401, "a 200: the API function took it for a public route; 403: a gateway refusal")
            if envelope_code(response) != "UNAUTHORIZED":
                raise SmokeStepError(
                    f"401 without our envelope: {response.text[:120]}",
                    "a bare 401/403 comes from API Gateway: an authorizer was put back on the HTTP API",
                )
            detail.append("401 UNAUTHORIZED")


def parse_args(argv: list[str] | None, environ: Mapping[str, str]) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.smoke", description=__doc__.split("\n\n")[0])
    parser.add_argument("--api-url", required=True, help="the HTTP API (…/api/video is added when missing)")
    parser.add_argument("--ws-url", required=True, help="the WebSocket API, e.g. wss://…/prod")
    parser.add_argument("--model", help="model id (default: an image model if listed, else the stack's default)")
    parser.add_argument("--type", choices=["IMAGE", "VIDEO", "image", "video"], help="task type")
    parser.add_argument("--prompt", default=DEFAULT_PROMPT)
    parser.add_argument("--seconds", type=int, help="video length (default: the model's)")
    parser.add_argument("--size", help="WIDTHxHEIGHT (default: the model's)")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds to wait for the task to end")
    args = parser.parse_args(argv)
    token = (environ.get("SMOKE_TOKEN") or environ.get("VIDEOTASKS_TOKEN") or "").strip()
    if not token:
        parser.error("set SMOKE_TOKEN (or VIDEOTASKS_TOKEN) to a JWT the stack accepts")
    return Options(
        api_url=args.api_url,
        ws_url=args.ws_url,
        token=token.removeprefix("Bearer ").strip(),
        model=args.model,
        type=args.type.upper() if args.type else None,
        prompt=args.prompt,
        seconds=args.seconds,
        size=args.size,
        timeout=args.timeout,
    )


def main(argv: list[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    options = parse_args(argv, os.environ if environ is None else environ)
    return Smoke(options, out=lambda line: print(line, flush=True)).run()


if __name__ == "__main__":
    sys.exit(main())
