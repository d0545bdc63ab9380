"""Tasks made from other tasks, and tasks removed: the rules of retry, remix and delete.

A retry makes a new task of a FAILED or CANCELLED one with the same create parameters (``retryOf``); a remix
makes a new video of a COMPLETED one with a new prompt, on the same model, seconds and size, by asking the
provider to remix the source's job (``remixOf``; the source's job id rides along internally as
``remixSource``). Both go through the same create as any new task, so every rule of a create (the model
still offered, limits, queue) applies to them too. Only a terminal task can be deleted.

Pure: the service (``videotasks.services.lineage``) reads the source and makes the new task.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, model_validator

from videotasks.domain.errors import ConflictError, ValidationError
from videotasks.domain.models import Task, TaskStatus, TaskType
from videotasks.domain.requests import (
    SERVICE_METADATA_KEYS,
    CallbackEvents,
    CallbackUrl,
    CreateTaskRequest,
    field_error,
)

RETRYABLE_STATUSES = frozenset({TaskStatus.FAILED, TaskStatus.CANCELLED})
# A retry is a new request, not a replay of the old one: the source's clientRequestId would make the
# create replay the source itself.
_NOT_COPIED = frozenset({"clientRequestId"})


class _Callback(BaseModel):
    """A retry or remix sends its events where the source's went, unless the body names another callbackUrl
    (and callbackEvents; docs/WEBHOOKS.md): the integration that made the source usually wants its offspring."""

    callbackUrl: CallbackUrl | None = None
    callbackEvents: CallbackEvents | None = None

    @model_validator(mode="after")
    def _events_need_url(self) -> _Callback:
        # Events alone would leave unclear whether the source's URL is kept: name the URL with them.
        if self.callbackEvents and not self.callbackUrl:
            raise field_error(
                "callbackEvents", "callback_events_without_url", "needs a callbackUrl", self.callbackEvents
            )
        return self

    def callback_fields(self, source: Task) -> dict[str, Any]:
        if self.callbackUrl is not None:
            return {"callbackUrl": self.callbackUrl, "callbackEvents": self.callbackEvents}
        return {"callbackUrl": source.callbackUrl, "callbackEvents": source.callbackEvents}


class RetryTaskRequest(_Callback):
    """Body of ``POST /tasks/{videoId}/retry``: nothing (or ``{}``) but an optional callbackUrl; the other
    parameters are the source's."""

    model_config = ConfigDict(extra="forbid")


class RemixTaskRequest(_Callback):
    """Body of ``POST /tasks/{videoId}/remix``: the new prompt, held to the same rules as a create's."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    prompt: Annotated[str, CreateTaskRequest.model_fields["prompt"]]


def retry_request(task: Task, callback: _Callback | None = None) -> CreateTaskRequest:
    """The create that would have made ``task``: every create field the task stores, so a field the create
    request gains comes along without a change here; ``callback``: the body's callbackUrl, if any."""
    stored = task.model_dump(mode="json")
    # Items written before the provider's id stopped being copied into metadata still carry that copy.
    stored["metadata"] = {key: value for key, value in task.metadata.items() if key not in SERVICE_METADATA_KEYS}
    fields: dict[str, Any] = {
        name: stored[name]
        for name in CreateTaskRequest.model_fields
        if name not in _NOT_COPIED and stored.get(name) not in (None, {})
    }
    if callback is not None and callback.callbackUrl is not None:
        fields.update(callback.callback_fields(task))
    return CreateTaskRequest.model_validate({key: value for key, value in fields.items() if value is not None})


def remix_request(task: Task, prompt: str, callback: _Callback | None = None) -> CreateTaskRequest:
    """A new video of ``task``'s model, seconds and size, with ``prompt``; its events go where ``callback``
    says, else where the source's went."""
    callback_fields = (callback or _Callback()).callback_fields(task)
    return CreateTaskRequest.model_validate(
        {
            "prompt": prompt,
            "type": TaskType.VIDEO,
            "model": task.model,
            "seconds": task.seconds,
            "size": task.size,
            **{key: value for key, value in callback_fields.items() if value is not None},
        }
    )


def check_retryable(task: Task) -> None:
    if task.status not in RETRYABLE_STATUSES:
        raise ConflictError(key="task_not_retryable", params={"videoId": task.videoId, "status": task.status.value})


def check_remixable(task: Task, *, model_can_remix: bool) -> None:
    """``model_can_remix``: the catalog's capabilities of the task's model (its shape's, as overridden)."""
    if task.status is not TaskStatus.COMPLETED:
        raise ConflictError(key="task_not_remixable", params={"videoId": task.videoId, "status": task.status.value})
    if task.type is not TaskType.VIDEO or not model_can_remix or not task.externalTaskId:
        raise ValidationError(
            key="model_cannot_remix",
            params={"model": task.model},
            details=[{"field": "model", "message": "this model cannot remix"}],
        )


def check_deletable(task: Task) -> None:
    if not task.is_terminal:
        raise ConflictError(key="task_not_deletable", params={"videoId": task.videoId, "status": task.status.value})
