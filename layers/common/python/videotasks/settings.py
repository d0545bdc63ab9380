"""Configuration, read once from the environment into one typed object.

Nothing reads ``os.environ`` at import time: ``get_settings()`` is called by the code that needs a
value, and tests can ``get_settings.cache_clear()`` after changing the environment.
"""

from __future__ import annotations

import functools
import os
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, field_validator, model_validator

# Variables that configure provider entries (base URL, path, auth scheme, secret) are read by the catalog,
# which knows the entries' names (``videotasks.domain.catalog``); settings only collect them.
PROVIDER_VARIABLE_PREFIX = "PROVIDER_"
# template.yaml's TaskTimeoutSeconds MaxValue; the state machine's own TimeoutSeconds is set above it.
MAX_TASK_TIMEOUT_SECONDS = 43200


class Settings(BaseModel):
    """Every setting the functions read. Names mirror the environment variables in template.yaml."""

    tasks_table: str = Field(alias="TASKS_TABLE")
    stats_table: str = Field(alias="STATS_TABLE")
    connections_table: str = Field("", alias="CONNECTIONS_TABLE")
    idempotency_table: str = Field("", alias="IDEMPOTENCY_TABLE")
    media_bucket: str = Field(alias="MEDIA_BUCKET")
    state_machine_arn: str = Field("", alias="STATE_MACHINE_ARN")
    webhooks_table: str = Field("", alias="WEBHOOKS_TABLE")
    # The per-user queue (videotasks.adapters.store.queue); empty: tasks skip it (tests without AWS).
    queue_table: str = Field("", alias="QUEUE_TABLE")
    # Where providers reach this deployment (``…/api/video``); empty: the address the request came in on.
    public_api_url: str = Field("", alias="PUBLIC_API_URL")

    # PROVIDER_* variables that are not settings of their own: each provider entry's overrides and secret.
    provider_variables: dict[str, str] = Field(default_factory=dict)
    provider_timeout_seconds: float = Field(20.0, gt=0, alias="PROVIDER_TIMEOUT_SECONDS")
    # An image is generated while the request is open (often 30-120 s): its read timeout is its own. The
    # submit invocation's remaining time caps it too (see videotasks.domain.deadline).
    provider_image_timeout_seconds: float = Field(240.0, gt=0, le=900, alias="PROVIDER_IMAGE_TIMEOUT_SECONDS")
    # What a step keeps back from its invocation's remaining time for after the provider gave up: one
    # conditional DynamoDB write and the reply to Step Functions.
    step_safety_margin_seconds: float = Field(4.0, ge=0, le=60, alias="STEP_SAFETY_MARGIN_SECONDS")

    cursor_secret_name: str = Field("", alias="CURSOR_SECRET_NAME")

    jwt_mode: Literal["hs256", "jwks"] = Field("hs256", alias="JWT_MODE")
    jwt_secret_name: str = Field("", alias="JWT_SECRET_NAME")
    jwks_url: str = Field("", alias="JWKS_URL")
    jwt_issuer: str = Field("", alias="JWT_ISSUER")
    jwt_audience: str = Field("", alias="JWT_AUDIENCE")
    # Some issuers (the old auth service) sign tokens without exp; such a token is good until the key changes.
    jwt_allow_no_exp: bool = Field(False, alias="JWT_ALLOW_NO_EXP")

    # The fixed interval when the policy knows nothing about a model (videotasks.domain.polling); the
    # adaptive delays are clamped between the min and max, a webhook's fallback up to its own max.
    poll_interval_seconds: int = Field(30, ge=1, le=3600, alias="POLL_INTERVAL_SECONDS")
    poll_min_seconds: int = Field(5, ge=1, le=3600, alias="POLL_MIN_SECONDS")
    poll_max_seconds: int = Field(120, ge=1, le=3600, alias="POLL_MAX_SECONDS")
    poll_webhook_max_seconds: int = Field(900, ge=1, le=3600, alias="POLL_WEBHOOK_MAX_SECONDS")
    max_poll_attempts: int = Field(20, ge=1, le=10000, alias="MAX_POLL_ATTEMPTS")
    task_timeout_seconds: int = Field(900, ge=10, le=MAX_TASK_TIMEOUT_SECONDS, alias="TASK_TIMEOUT_SECONDS")

    # Empty: the catalog's own defaults and every model it offers (videotasks/catalog.json).
    default_model: str = Field("", alias="DEFAULT_MODEL")
    allowed_models: tuple[str, ...] = Field((), alias="ALLOWED_MODELS")
    default_image_model: str = Field("", alias="DEFAULT_IMAGE_MODEL")

    # Per-user limits (videotasks.domain.plans): deployment defaults, and per plan overrides in PLANS (JSON);
    # the plan comes from the token's ``plan`` claim, DEFAULT_PLAN when it has none or names no plan.
    max_generating_per_user: int = Field(3, ge=1, le=1000, alias="MAX_GENERATING_PER_USER")
    creates_per_minute: int = Field(20, ge=1, le=100000, alias="CREATES_PER_MINUTE")
    video_seconds_per_day: int = Field(3600, ge=1, le=100_000_000, alias="VIDEO_SECONDS_PER_DAY")
    plans: str = Field("", alias="PLANS")
    default_plan: str = Field("free", min_length=1, max_length=64, alias="DEFAULT_PLAN")

    media_url_ttl_seconds: int = Field(3600, ge=60, le=604800, alias="MEDIA_URL_TTL_SECONDS")
    websocket_endpoint: str = Field("", alias="WEBSOCKET_ENDPOINT")
    cors_origins: tuple[str, ...] = Field((), alias="CORS_ORIGINS")

    # Outbound webhooks (docs/WEBHOOKS.md): the delivery state machine, the dead letters, the retry schedule
    # (shortened by tests), and the overlap in which a rotated-out signing secret still signs.
    callback_state_machine_arn: str = Field("", alias="CALLBACK_STATE_MACHINE_ARN")
    callback_dead_letter_queue_url: str = Field("", alias="CALLBACK_DEAD_LETTER_QUEUE_URL")
    callback_retry_base_seconds: int = Field(30, ge=1, le=3600, alias="CALLBACK_RETRY_BASE_SECONDS")
    callback_retry_max_delay_seconds: int = Field(14400, ge=1, le=86400, alias="CALLBACK_RETRY_MAX_DELAY_SECONDS")
    callback_retry_window_seconds: int = Field(86400, ge=1, le=7 * 86400, alias="CALLBACK_RETRY_WINDOW_SECONDS")
    callback_timeout_seconds: float = Field(10.0, gt=0, le=30, alias="CALLBACK_TIMEOUT_SECONDS")
    # Read by request validation through callback_loopback_allowed(), below; here so the delivery reads it too.
    callback_allow_loopback_http: bool = Field(False, alias="CALLBACK_ALLOW_LOOPBACK_HTTP")
    callback_secret_overlap_seconds: int = Field(86400, ge=0, le=7 * 86400, alias="CALLBACK_SECRET_OVERLAP_SECONDS")

    model_config = {"populate_by_name": True, "frozen": True}

    @field_validator("allowed_models", "cors_origins", mode="before")
    @classmethod
    def _split_csv(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @model_validator(mode="after")
    def _jwks_needs_url_issuer_and_audience(self) -> Self:
        """In jwks mode anyone's keys could be published: tokens are accepted only from the named issuer for
        this audience, with keys fetched over https (plain http only from this machine, for tests). The
        template's Rules refuse the same configuration before a deployment starts."""
        if self.jwt_mode != "jwks":
            return self
        required = {"JWKS_URL": self.jwks_url, "JWT_ISSUER": self.jwt_issuer, "JWT_AUDIENCE": self.jwt_audience}
        missing = [name for name, value in required.items() if not value.strip()]
        if missing:
            raise ValueError(f"JWT_MODE=jwks needs {', '.join(missing)} set (empty: tokens would not be checked)")
        url = urlsplit(self.jwks_url)
        if not url.hostname or not (url.scheme == "https" or (url.scheme == "http" and url.hostname in _LOOPBACK)):
            raise ValueError(f"JWKS_URL must be an https:// URL, not {self.jwks_url!r}")
        return self


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def callback_loopback_allowed() -> bool:
    """Whether callback URLs may be ``http://127.0.0.1:<port>`` (the local stack turns it on, so tests run a
    receiver; template.yaml keeps it off). Read on its own: request bodies are validated before, and
    without, the rest of the settings."""
    return os.environ.get("CALLBACK_ALLOW_LOOPBACK_HTTP", "false").strip().lower() == "true"


@functools.cache
def get_settings() -> Settings:
    """The settings of this process; validated on first use, so a missing variable fails loudly."""
    fields = {field.alias for field in Settings.model_fields.values() if field.alias}
    values: dict[str, object] = {name: os.environ[name] for name in fields if name in os.environ}
    values["provider_variables"] = {
        name: value
        for name, value in os.environ.items()
        if name.startswith(PROVIDER_VARIABLE_PREFIX) and name not in fields
    }
    return Settings.model_validate(values)
