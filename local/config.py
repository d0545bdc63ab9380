"""Settings of the local stack, from the variables the README lists.

The one home of the stack's addresses and of the variables it reads: `local.launcher` starts stacks on
other ports with these names, and reads a started stack's addresses back through `StackConfig`.
"""

from __future__ import annotations

import errno
import os
import re
import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

HOST = "127.0.0.1"
API_BASE_PATH = "/api/video"
FAKE_PROVIDER_KEY = "local-fake-provider-key"
# The Standard Webhooks secret the fake provider signs its Replicate-shaped webhooks with (a test value, as the
# key above): the local stack's Replicate entry verifies with the same one.
FAKE_WEBHOOK_SECRET = "whsec_dmlkZW90YXNrcy1sb2NhbC1mYWtlLXByb3ZpZGVyISE="
# The template parameter of each provider entry's base URL -> the path prefix under which the fake provider
# speaks that entry's API shape (local/fake_shapes/). The "openai" entries (ProviderBaseUrl) are at its root.
FAKE_ENTRY_PREFIXES = {"GeminiBaseUrl": "/gemini", "FalBaseUrl": "/fal", "ReplicateBaseUrl": "/replicate"}


def _seconds_or_none(raw: str) -> int | None:
    return int(raw) or None  # 0: no limit of our own (the template's default applies)


class StackConfigError(ValueError):
    """A variable the stack cannot run with; its text is one line naming the variable and what to do."""


_ORIGIN = re.compile(r"^https?://[^/\s?#]+$")


def _origins(raw: str) -> tuple[str, ...]:
    """Comma-separated browser origins (``scheme://host[:port]``, no path), or ``*``."""
    origins = tuple(part.strip().rstrip("/") for part in raw.split(",") if part.strip())
    for origin in origins:
        if origin != "*" and not _ORIGIN.match(origin):
            raise ValueError(f"{origin!r} is not an origin like http://localhost:5173 (scheme, host, port; no path)")
    return origins


def _plans(raw: str) -> str:
    """``PLANS`` as the functions will read it, checked now: a typo is one line before the stack starts, not a
    500 on the first create."""
    from videotasks.domain.plans import PlanConfigError, plans
    from videotasks.settings import Settings

    try:
        plans(Settings.model_construct(plans=raw, **{name: Settings.model_fields[name].default for name in _LIMITS}))
    except PlanConfigError as error:
        raise ValueError(str(error)) from None
    return raw


_LIMITS = ("max_generating_per_user", "creates_per_minute", "video_seconds_per_day", "default_plan")


def switch(raw: str) -> bool:
    """``0``, ``false``, ``no``, ``off`` (any case) turn a switch off; anything else leaves it on."""
    return raw.strip().lower() not in ("0", "false", "no", "off")


def port_busy(variable: str, port: int, error: OSError) -> str:
    if error.errno == errno.EADDRINUSE:
        return f"port {port} is already in use: stop what listens on it, or set {variable} to a free port"
    return f"cannot listen on {HOST}:{port} ({error.strerror}): set {variable} to another port"


# StackConfig's field -> (the variable that sets it, how to read it); unset or empty keeps the field's default.
_VARIABLES: dict[str, tuple[str, Callable[[str], Any]]] = {
    "http_port": ("HTTP_PORT", int),
    "ws_port": ("WS_PORT", int),
    "provider_port": ("PROVIDER_PORT", int),
    "moto_port": ("MOTO_PORT", int),
    "jwt_secret": ("JWT_SECRET", str),
    "jwt_allow_no_exp": ("JWT_ALLOW_NO_EXP", switch),
    "fake_video_seconds": ("FAKE_VIDEO_SECONDS", float),
    "fake_failure_rate": ("FAKE_FAILURE_RATE", float),
    "fake_fault": ("FAKE_PROVIDER_FAULT", str),
    "fake_webhooks": ("FAKE_WEBHOOKS", switch),
    "sora_base_url": ("SORA_BASE_URL", str),
    "sora_api_key": ("SORA_API_KEY", str),
    "poll_interval_seconds": ("POLL_INTERVAL_SECONDS", int),
    "poll_max_seconds": ("POLL_MAX_SECONDS", int),
    "poll_webhook_max_seconds": ("POLL_WEBHOOK_MAX_SECONDS", int),
    "max_poll_attempts": ("MAX_POLL_ATTEMPTS", int),
    "task_timeout_seconds": ("TASK_TIMEOUT_SECONDS", _seconds_or_none),
    "dynamodb_conflict_rate": ("LOCAL_DYNAMODB_CONFLICT_RATE", float),
    "cors_origins": ("CORS_ORIGINS", _origins),
    # The default plan's limits and the per-plan overrides (the template's MaxGeneratingPerUser,
    # CreatesPerMinute, VideoSecondsPerDay, Plans); unset: the template's defaults, as a deployment starts with.
    "max_generating_per_user": ("MAX_GENERATING_PER_USER", int),
    "creates_per_minute": ("CREATES_PER_MINUTE", int),
    "video_seconds_per_day": ("VIDEO_SECONDS_PER_DAY", int),
    "plans": ("PLANS", _plans),
}
STACK_VARIABLES = tuple(name for name, _ in _VARIABLES.values())
PORT_VARIABLES = tuple(_VARIABLES[port][0] for port in ("http_port", "ws_port", "provider_port", "moto_port"))


@dataclass
class StackConfig:
    http_port: int = 3000
    ws_port: int = 3001
    provider_port: int = 3002
    moto_port: int = 5000
    jwt_secret: str = "local-dev-secret"
    jwt_allow_no_exp: bool = False  # the template's JwtAllowNoExp, to try an auth service whose tokens have none
    fake_video_seconds: float = 20.0
    fake_failure_rate: float = 0.0
    fake_fault: str | None = None
    fake_webhooks: bool = True  # the fake provider calls the webhook URL a create names when the job ends
    sora_base_url: str | None = None
    sora_api_key: str | None = field(default=None, repr=False)
    poll_interval_seconds: int = 2
    # Local jobs take seconds, not minutes, while the catalog's typical times are the real providers':
    # no adaptive wait may be longer than the fixed interval (unless set), and a webhook's fallback is short.
    poll_max_seconds: int | None = None
    poll_webhook_max_seconds: int = 30
    max_poll_attempts: int = 20
    task_timeout_seconds: int | None = None
    dynamodb_conflict_rate: float = 0.0
    # Browser origins allowed to call the APIs besides the console's own (e.g. a Vite dev server's).
    cors_origins: tuple[str, ...] = ()
    max_generating_per_user: int | None = None
    creates_per_minute: int | None = None
    video_seconds_per_day: int | None = None
    plans: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackConfig:
        """The stack's settings; a value it cannot read is a ``StackConfigError`` naming the variable."""
        env = os.environ if environ is None else environ
        values: dict[str, Any] = {}
        for key, (name, read) in _VARIABLES.items():
            if not env.get(name):
                continue
            try:
                values[key] = read(env[name])
            except ValueError as error:
                reason = (
                    str(error) if read in (_origins, _plans) else f"expected {getattr(read, '__name__', 'a value')}"
                )
                raise StackConfigError(f"{name}={env[name]!r}: {reason}") from None
        return cls(**values)

    def ports(self) -> dict[str, int]:
        """Each port the stack listens on, by the variable that moves it."""
        fields = ("http_port", "ws_port", "provider_port", "moto_port")
        return {_VARIABLES[key][0]: getattr(self, key) for key in fields}

    def check_ports_free(self) -> None:
        """Fail before anything starts when a port is taken: moto's server would otherwise wait forever for
        a socket it cannot bind, and aiohttp's error is a traceback."""
        for variable, port in self.ports().items():
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
                # As the servers bind: a port in TIME_WAIT is free, one something listens on is not.
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    probe.bind((HOST, port))
                except OSError as error:
                    raise StackConfigError(port_busy(variable, port, error)) from None

    @property
    def browser_origins(self) -> list[str]:
        """The origins CORS allows: the console's own two spellings, then ``CORS_ORIGINS``."""
        own = [self.http_url, f"http://localhost:{self.http_port}"]
        return own + [origin for origin in self.cors_origins if origin not in own]

    @property
    def uses_real_provider(self) -> bool:
        return bool(self.sora_base_url and self.sora_api_key)

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def api_url(self) -> str:
        return f"{self.http_url}{API_BASE_PATH}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.ws_port}"

    @property
    def connections_url(self) -> str:
        """The WebSocket API's management endpoint (``@connections``), as the broadcaster's client calls it."""
        return f"http://{HOST}:{self.ws_port}"

    @property
    def fake_provider_url(self) -> str:
        return f"http://{HOST}:{self.provider_port}"

    @property
    def provider_url(self) -> str:
        return self.sora_base_url if self.uses_real_provider else self.fake_provider_url  # type: ignore[return-value]

    @property
    def moto_url(self) -> str:
        return f"http://{HOST}:{self.moto_port}"
