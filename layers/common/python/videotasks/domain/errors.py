"""Domain exceptions. Handlers map them to replies in one place (see ``videotasks.edge.envelope``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from videotasks.domain import messages


class VideoTasksError(Exception):
    """Base of every error the domain raises on purpose.

    Raised with ``key`` (and ``params``) of ``videotasks.domain.messages``, the error reads in the
    reader's language at the edge (``user_message``); ``message`` is its English, for logs. One raised
    with a bare message reads that message in every language."""

    code = "INTERNAL"
    http_status = 500
    retry_after_seconds: int | None = None  # sent as the reply's Retry-After header when set

    def __init__(
        self,
        message: str | None = None,
        *,
        details: Any = None,
        key: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.key = key
        self.params = dict(params or {})
        if message is None:
            message = messages.render(key or "internal_error", messages.DEFAULT_LANG, self.params)
        super().__init__(message)
        self.message = message
        self.details = details

    def user_message(self, lang: str) -> str:
        if self.key is None:
            return self.message
        return messages.render(self.key, lang, self.params, fallback=self.message)


class ValidationError(VideoTasksError):
    code = "VALIDATION_ERROR"
    http_status = 400


class UnauthorizedError(VideoTasksError):
    code = "UNAUTHORIZED"
    http_status = 401


class NotFoundError(VideoTasksError):
    code = "NOT_FOUND"
    http_status = 404


class MethodNotAllowedError(VideoTasksError):
    code = "METHOD_NOT_ALLOWED"
    http_status = 405


class ConflictError(VideoTasksError):
    code = "CONFLICT"
    http_status = 409


class RateLimitedError(VideoTasksError):
    code = "RATE_LIMITED"
    http_status = 429


class QuotaExceededError(VideoTasksError):
    """The caller's plan allows no more video seconds today (``videotasks.domain.admission``); ``details``
    say when the quota resets, and so does ``Retry-After``."""

    code = "QUOTA_EXCEEDED"
    http_status = 429


class UnavailableError(VideoTasksError):
    """We cannot do it now for a reason of ours (a provider's signing keys could not be fetched); the caller
    should retry later. Only the provider webhook route answers it: providers retry their deliveries."""

    code = "SERVICE_UNAVAILABLE"
    http_status = 503
    retry_after_seconds = 60


class TaskStoreBusyError(RateLimitedError):
    """DynamoDB refused a write for a moment (a transaction conflict or throttling) and went on refusing
    while the repository retried; nothing was written. Worth retrying soon.

    Not a lost race (``StaleWriteError``): the task did not move on, so no step may act as if it had. The
    state machine's Retry matches this class name: keep it.
    """

    retry_after_seconds = 1

    def __init__(self) -> None:
        super().__init__(key="store_busy")


class StaleWriteError(VideoTasksError):
    """A conditional write found the task in another state than expected (a race was lost)."""

    code = "CONFLICT"
    http_status = 409


# Provider errors. Their class names are matched by ``ErrorEquals`` in the state machine: keep them.
class ProviderError(Exception):
    """Base of provider failures; ``code`` ends up in the task's ``error.code``."""

    code = "PROVIDER_ERROR"

    def __init__(self, message: str, *, code: str | None = None, status_code: int | None = None) -> None:
        if code:
            self.code = code
        # "CODE: message" survives the trip through Step Functions' Catch (errorMessage) to fail_task.
        super().__init__(f"{self.code}: {message}")
        self.message = message
        self.status_code = status_code


class ProviderTransientError(ProviderError):
    """5xx, 429, timeouts, connection errors: worth retrying with backoff. ``retry_after``: the seconds the
    provider asked us to wait (its ``Retry-After``), which the polling policy honours."""

    code = "PROVIDER_UNAVAILABLE"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status_code=status_code)
        self.retry_after = retry_after


class ProviderPermanentError(ProviderError):
    """4xx other than 429, malformed replies, refused jobs: retrying cannot help."""

    code = "PROVIDER_REJECTED"


class ProviderJobLostError(ProviderPermanentError):
    """The provider no longer knows the job (404 while we were polling it)."""

    code = "PROVIDER_JOB_LOST"
