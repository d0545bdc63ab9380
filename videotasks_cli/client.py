"""The HTTP API over httpx: the envelope unwrapped, every failure turned into one line and its exit code."""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import Any, Self

import httpx

from videotasks_cli.exit_codes import ApiError, CliError, ExitCode

TIMEOUT = httpx.Timeout(30.0, connect=10.0)
USER_AGENT = "videotasks-cli"


def scrub(text: str, secret: str | None) -> str:
    """Anything that may echo a request (an exception, a URL with ?token=) loses the token first."""
    return text.replace(secret, "***") if secret else text


def unreachable(url: str, error: Exception, token: str | None) -> CliError:
    reason = str(error) or type(error).__name__
    return CliError(f"cannot reach {scrub(url, token)}: {scrub(reason, token)}", ExitCode.UNREACHABLE)


def accept_language(environ: Mapping[str, str] | None = None) -> str:
    """The API's messages (errors, a failed task's message) in the terminal's language: Chinese when the
    locale says so, else English (the API's two languages)."""
    env = os.environ if environ is None else environ
    locale = env.get("LC_ALL") or env.get("LC_MESSAGES") or env.get("LANG") or ""
    return "zh-CN, en;q=0.5" if locale.lower().startswith("zh") else "en"


def api_error(response: httpx.Response, token: str | None) -> ApiError:
    code, message = f"HTTP_{response.status_code}", response.reason_phrase or "error"
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict):
        error = body["error"] if isinstance(body.get("error"), dict) else {}
        code = str(error.get("code") or code)
        message = str(error.get("message") or body.get("message") or message)
    return ApiError(response.status_code, code, scrub(message, token))


class ApiClient:
    """One caller's view of the API; ``ApiClient(api_url, token)`` as a context manager."""

    def __init__(self, api_url: str, token: str, *, transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.token = token
        self._http = httpx.Client(
            base_url=self.api_url,
            headers={
                "Authorization": f"Bearer {token}",
                "Accept-Language": accept_language(),
                "User-Agent": USER_AGENT,
            },
            timeout=TIMEOUT,
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object | TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The reply's `data`; `ApiError` for an error envelope, `CliError` (unreachable) for no answer."""
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.TransportError as error:
            raise unreachable(f"{self.api_url}{path}", error, self.token) from None
        if response.status_code >= 400:
            raise api_error(response, self.token)
        try:
            body = response.json()
        except ValueError:
            raise CliError(
                f"{self.api_url}{path} did not answer JSON (is {self.api_url} the API's …/api/video URL?)",
                ExitCode.API_ERROR,
            ) from None
        if not isinstance(body, dict) or "data" not in body:
            raise CliError(f"{self.api_url}{path} did not answer the API's envelope", ExitCode.API_ERROR)
        return body["data"]

    # routes ------------------------------------------------------------------------------------
    def create_task(self, body: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("POST", "/tasks", json=body))

    def get_task(self, video_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/tasks/{video_id}"))

    def list_tasks(self, params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.request("GET", "/tasks", params={k: v for k, v in params.items() if v is not None}))

    def cancel_task(self, video_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/tasks/{video_id}/cancel"))

    def retry_task(self, video_id: str) -> dict[str, Any]:
        return dict(self.request("POST", f"/tasks/{video_id}/retry"))

    def content(self, video_id: str) -> dict[str, Any]:
        return dict(self.request("GET", f"/tasks/{video_id}/content"))

    def stats(self) -> dict[str, Any]:
        return dict(self.request("GET", "/stats"))

    def models(self) -> dict[str, Any]:
        return dict(self.request("GET", "/models"))

    def usage(self) -> dict[str, Any]:
        return dict(self.request("GET", "/usage"))
