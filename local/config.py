"""Settings of the local stack, from the variables the README lists."""

from __future__ import annotations

import os
from dataclasses import dataclass, field

HOST = "127.0.0.1"
FAKE_PROVIDER_KEY = "local-fake-provider-key"


def _int(name: str, default: int) -> int:
    return int(os.environ.get(name) or default)


def _float(name: str, default: float) -> float:
    return float(os.environ.get(name) or default)


@dataclass
class StackConfig:
    http_port: int = 3000
    ws_port: int = 3001
    provider_port: int = 3002
    moto_port: int = 5000
    jwt_secret: str = "local-dev-secret"
    fake_video_seconds: float = 20.0
    fake_failure_rate: float = 0.0
    fake_fault: str | None = None
    sora_base_url: str | None = None
    sora_api_key: str | None = field(default=None, repr=False)
    poll_interval_seconds: int = 2
    max_poll_attempts: int = 20
    task_timeout_seconds: int | None = None
    dynamodb_conflict_rate: float = 0.0

    @classmethod
    def from_env(cls) -> StackConfig:
        return cls(
            http_port=_int("HTTP_PORT", 3000),
            ws_port=_int("WS_PORT", 3001),
            provider_port=_int("PROVIDER_PORT", 3002),
            moto_port=_int("MOTO_PORT", 5000),
            jwt_secret=os.environ.get("JWT_SECRET") or "local-dev-secret",
            fake_video_seconds=_float("FAKE_VIDEO_SECONDS", 20.0),
            fake_failure_rate=_float("FAKE_FAILURE_RATE", 0.0),
            fake_fault=os.environ.get("FAKE_PROVIDER_FAULT") or None,
            sora_base_url=os.environ.get("SORA_BASE_URL") or None,
            sora_api_key=os.environ.get("SORA_API_KEY") or None,
            poll_interval_seconds=_int("POLL_INTERVAL_SECONDS", 2),
            max_poll_attempts=_int("MAX_POLL_ATTEMPTS", 20),
            task_timeout_seconds=_int("TASK_TIMEOUT_SECONDS", 0) or None,
            dynamodb_conflict_rate=_float("LOCAL_DYNAMODB_CONFLICT_RATE", 0.0),
        )

    @property
    def uses_real_provider(self) -> bool:
        return bool(self.sora_base_url and self.sora_api_key)

    @property
    def http_url(self) -> str:
        return f"http://{HOST}:{self.http_port}"

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.ws_port}"

    @property
    def provider_url(self) -> str:
        return self.sora_base_url if self.uses_real_provider else f"http://{HOST}:{self.provider_port}"  # type: ignore[return-value]

    @property
    def moto_url(self) -> str:
        return f"http://{HOST}:{self.moto_port}"
