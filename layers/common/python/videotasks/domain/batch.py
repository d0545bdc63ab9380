"""``POST /tasks/batch``: up to ``MAX_BATCH_TASKS`` create bodies, every one checked before any is created.

A refusal names the item as the client indexes it: ``tasks[3].seconds``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ModelWrapValidatorHandler, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from videotasks.domain import messages
from videotasks.domain.errors import ValidationError as RequestRefused
from videotasks.domain.requests import CreateTaskRequest, field_error

MAX_BATCH_TASKS = 20


def item_field(index: int, field: str | None = None) -> str:
    return f"tasks[{index}]" + (f".{field}" if field else "")


class BatchCreateRequest(BaseModel):
    """Body of ``POST /api/video/tasks/batch``."""

    model_config = ConfigDict(extra="forbid")

    tasks: list[CreateTaskRequest] = Field(
        description=f"1 to {MAX_BATCH_TASKS} bodies of POST /tasks; all are created, or none",
        json_schema_extra={"minItems": 1, "maxItems": MAX_BATCH_TASKS},
    )

    @model_validator(mode="wrap")
    @classmethod
    def _name_items(cls, data: Any, handler: ModelWrapValidatorHandler[BatchCreateRequest]) -> Any:
        """Pydantic locates an item's error at ``("tasks", 3, "seconds")``; the client reads ``tasks[3].seconds``."""
        try:
            return handler(data)
        except ValidationError as error:
            details: list[InitErrorDetails] = []
            for item in error.errors():
                loc = item["loc"]
                if len(loc) >= 2 and loc[0] == "tasks" and isinstance(loc[1], int):
                    loc = (item_field(loc[1]), *loc[2:])
                text = item["msg"].replace("{", "{{").replace("}", "}}")
                kind = PydanticCustomError(item["type"], text, item.get("ctx"))
                details.append(InitErrorDetails(type=kind, loc=loc, input=item.get("input")))
            raise ValidationError.from_exception_data(error.title, details) from None

    @model_validator(mode="before")
    @classmethod
    def _bounded(cls, data: Any) -> Any:
        # Before the items are read: a body of 21 is refused as such, not for what its items hold.
        tasks = data.get("tasks") if isinstance(data, dict) else None
        if isinstance(tasks, list) and not 1 <= len(tasks) <= MAX_BATCH_TASKS:
            raise field_error(
                "tasks", "batch_size", "must hold 1 to {limit} task bodies", len(tasks), limit=MAX_BATCH_TASKS
            )
        return data


class BatchItemRefused(RequestRefused):
    """An item's refusal found after the body was read (the catalog's: a model, size or seconds it does not
    offer), told as the item's: field ``tasks[i].<field>``, message ``tasks[i].<field>: <the item's message>``."""

    def __init__(self, index: int, refusal: RequestRefused) -> None:
        self.index = index
        self.refusal = refusal
        details = refusal.details if isinstance(refusal.details, list) else []
        named = [
            {**detail, "field": item_field(index, str(detail.get("field") or "") or None)}
            for detail in details
            if isinstance(detail, dict)
        ] or [{"field": item_field(index), "message": refusal.message}]
        self.field = str(named[0].get("field") or item_field(index))
        super().__init__(
            key="batch_item_refused",
            params={"field": self.field, "index": index, "reason": refusal.message},
            details=named,
        )

    def user_message(self, lang: str) -> str:
        reason = self.refusal.user_message(lang)
        return messages.render("batch_item_refused", lang, {"field": self.field, "index": self.index, "reason": reason})
