"""Settings of the local stack, from the variables the README lists.

The one home of the stack's addresses and of the variables it reads: `local.launcher` starts stacks on
other ports with these names, and reads a started stack's addresses back through `StackConfig`.
"""

from __future__ import annotations

import os
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


def switch(raw: str) -> bool:
    """``0``, ``false``, ``no``, ``off`` (any case) turn a switch off; anything else leaves it on."""
    return raw.strip().lower() not in ("0", "false", "no", "off")


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

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> StackConfig:
        env = os.environ if environ is None else environ
        return cls(**{key: read(env[name]) for key, (name, read) in _VARIABLES.items() if env.get(name)})

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
