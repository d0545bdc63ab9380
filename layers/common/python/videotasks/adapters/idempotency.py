"""``Idempotency-Key`` for task creation, on Powertools idempotency (DynamoDB-backed).

The key is scoped to the caller, so two users can never collide. The same key with the same body
within 24 hours replays the first task; with another body it is a 409; while the first request is
still running, a concurrent duplicate is a 409 too, so concurrent duplicates create one task.
"""

from __future__ import annotations

from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from pydantic import BaseModel

from videotasks.domain.batch import BatchCreateRequest
from videotasks.domain.errors import ConflictError
from videotasks.domain.requests import CreateTaskRequest

IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600
_created_here: ContextVar[bool] = ContextVar("created_here", default=False)


def _config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[userId, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        raise_on_no_idempotency_key=True,
    )


def _replayed[Result](call: Callable[[], Result]) -> tuple[Result, bool]:
    """``call``'s result, and whether it ran here (False: the stored result of an earlier run was replayed);
    the idempotency layer's refusals told as the 409s clients read."""
    _created_here.set(False)
    try:
        return call(), _created_here.get()
    except IdempotencyValidationError as exc:
        raise ConflictError(
            "Idempotency-Key was already used with a different request body",
            details=[{"field": "Idempotency-Key", "message": "reused with another body"}],
        ) from exc
    except IdempotencyAlreadyInProgressError as exc:
        raise ConflictError(
            "A request with this Idempotency-Key is still being processed; retry shortly",
            details=[{"field": "Idempotency-Key", "message": "in progress"}],
        ) from exc


def _data(user_id: str, key: str, body: BaseModel) -> dict[str, Any]:
    return {"userId": user_id, "key": key, "body": body.model_dump(mode="json", exclude_none=True)}


class IdempotentCreate:
    def __init__(self, table_name: str, create: Callable[[str, CreateTaskRequest], str]) -> None:
        """``create(user_id, request)`` makes the task and returns its videoId."""
        self.config = _config()
        store = DynamoDBPersistenceLayer(table_name=table_name)

        @idempotent_function(data_keyword_argument="data", persistence_store=store, config=self.config)  # type: ignore[untyped-decorator]
        def create_once(data: dict[str, Any]) -> dict[str, str]:
            _created_here.set(True)
            return {"videoId": create(data["userId"], CreateTaskRequest.model_validate(data["body"]))}

        self._create_once = create_once

    def __call__(self, user_id: str, key: str, request: CreateTaskRequest) -> tuple[str, bool]:
        """The task's videoId, and whether this call created it (False: a replay)."""
        result, created = _replayed(lambda: self._create_once(data=_data(user_id, key, request)))
        return str(result["videoId"]), created


class IdempotentBatch:
    """The same for ``POST /tasks/batch``: one key covers the whole batch. Its records are apart from single
    creates' (Powertools keys them by the function's name too), so a key reused across the two never replays
    the other's tasks."""

    def __init__(self, table_name: str, create: Callable[[str, BatchCreateRequest], list[str]]) -> None:
        """``create(user_id, batch)`` makes the tasks and returns their videoIds in order."""
        self.config = _config()
        store = DynamoDBPersistenceLayer(table_name=table_name)

        @idempotent_function(data_keyword_argument="data", persistence_store=store, config=self.config)  # type: ignore[untyped-decorator]
        def create_batch_once(data: dict[str, Any]) -> dict[str, list[str]]:
            _created_here.set(True)
            return {"videoIds": create(data["userId"], BatchCreateRequest.model_validate(data["body"]))}

        self._create_once = create_batch_once

    def __call__(self, user_id: str, key: str, batch: BatchCreateRequest) -> tuple[list[str], bool]:
        """The batch's videoIds, and whether this call created them (False: a replay)."""
        result, created = _replayed(lambda: self._create_once(data=_data(user_id, key, batch)))
        return [str(video_id) for video_id in result["videoIds"]], created
