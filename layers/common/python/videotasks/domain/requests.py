"""Request models for the HTTP API: strict, with the old backend's aliases mapped in one place."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    PrivateAttr,
    StringConstraints,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError, ValidationError

from videotasks.domain import messages
from videotasks.domain.callback_urls import MAX_CALLBACK_URL_CHARS, CallbackUrlRefusedError, check_callback_url
from videotasks.domain.catalog import ASPECT_RATIO_SIZES
from videotasks.domain.errors import ValidationError as RequestRefused
from videotasks.domain.media_types import ALLOWED_MEDIA_TYPES
from videotasks.domain.models import Priority, TaskStatus, TaskType
from videotasks.domain.wire import status_of_word
from videotasks.settings import callback_loopback_allowed

MAX_METADATA_BYTES = 2048
# What replies put into a task's metadata themselves (the old backend's dual-id document).
SERVICE_METADATA_KEYS = ("externalTaskId", "createdAt")
MAX_INPUT_REFERENCE_CHARS = 2048

# Old clients' names -> ours (docs/API.md).
ALIASES = {"duration": "seconds", "aspectRatio": "size", "referenceImage": "inputReference", "mediaType": "type"}

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


# Every error a client can cause here is a PydanticCustomError: its type is a stable key (the catalogue of
# user-facing texts translates it), and pydantic adds no "Value error, " prefix to its text.
def field_error(field: str | tuple[str | int, ...], key: str, text: str, value: Any, **ctx: Any) -> ValidationError:
    """A validation error located at ``field``: a model validator's own errors would be located at the
    whole body, while the client has to change one field."""
    loc = (field,) if isinstance(field, str) else field
    error = PydanticCustomError(key, text, ctx or None)
    return ValidationError.from_exception_data("request", [InitErrorDetails(type=error, loc=loc, input=value)])


def _as_sent(error: ValidationError, sent: dict[str, Any], aliases: dict[str, str]) -> ValidationError:
    """``error`` with each canonical field name the client sent under an old name renamed to that name:
    an old client that sent ``duration`` is told about ``duration``, not about ``seconds``."""
    renamed = {new: old for old, new in aliases.items() if old in sent}
    if not renamed:
        return error
    details: list[InitErrorDetails] = []
    for item in error.errors():
        loc = item["loc"]
        if loc and loc[0] in renamed:
            loc = (renamed[str(loc[0])], *loc[1:])
        # The rendered text is kept as it is (no placeholders left to fill); the type stays the same key.
        text = item["msg"].replace("{", "{{").replace("}", "}}")
        kind = PydanticCustomError(item["type"], text, item.get("ctx"))
        details.append(InitErrorDetails(type=kind, loc=loc, input=item.get("input")))
    return ValidationError.from_exception_data(error.title, details)


def _check_input_reference(value: str) -> str:
    """An ``https://`` URL, or a base64 ``data:`` URL of an allowed image/video type (bounded by
    MAX_INPUT_REFERENCE_CHARS, as the task item carries it). Plain ``http://`` is refused: the provider
    would fetch it over a channel anyone on the path can rewrite; other schemes (``file:``, ``ftp:``…)
    are never the provider's to fetch."""
    lowered = value[:5].lower()
    if lowered == "data:":
        header, sep, payload = value.partition(",")
        params = [part.strip().lower() for part in header[5:].split(";")]
        if not sep or params[0] not in ALLOWED_MEDIA_TYPES or "base64" not in params[1:]:
            raise PydanticCustomError(
                "input_reference_data_type",
                "a data: URL must be base64 of one of {allowed} (data:image/png;base64,...)",
                {"allowed": ", ".join(ALLOWED_MEDIA_TYPES)},
            )
        if not payload or not _BASE64.match(payload):
            raise PydanticCustomError("input_reference_data_payload", "the data: URL's payload is not base64")
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname or any(char.isspace() for char in value):
        raise PydanticCustomError(
            "input_reference_scheme",
            "must be an https:// URL or a base64 data: URL of an image or video; other schemes "
            "(http:, file:, ftp:, s3:…) and relative references are not accepted",
        )
    if parts.username is not None or parts.password is not None:
        raise PydanticCustomError(
            "input_reference_credentials", "must be an https:// URL without credentials (user:password@) in it"
        )
    return value


InputReference = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_INPUT_REFERENCE_CHARS),
    AfterValidator(_check_input_reference),
    Field(
        description="An https:// URL, or a base64 data: URL of a PNG, JPEG, WebP or GIF image or an MP4, WebM or "
        f"QuickTime video; at most {MAX_INPUT_REFERENCE_CHARS} characters. Old clients send it as referenceImage."
    ),
]


def _check_callback_url(value: str) -> str:
    """An https:// URL on a public address (domain/callback_urls.py); the local stack also takes
    http://127.0.0.1:<port>."""
    try:
        return check_callback_url(value, allow_loopback_http=callback_loopback_allowed())
    except CallbackUrlRefusedError as refused:
        key = f"callback_url_{refused.reason}"
        raise PydanticCustomError(key, messages.TEXTS[key][0]) from None


CallbackUrl = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_CALLBACK_URL_CHARS),
    AfterValidator(_check_callback_url),
    Field(
        description="Where we POST this task's events, signed (docs/WEBHOOKS.md): an https:// URL on a public "
        f"address, at most {MAX_CALLBACK_URL_CHARS} characters"
    ),
]
CallbackEvents = Annotated[
    list[Literal["task.progress"]],
    Field(
        max_length=1,
        description='Optional events besides the terminal ones (always sent): ["task.progress"]',
    ),
]

ClientRequestId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:\-]+$")]


def _document_aliases(schema: dict[str, Any]) -> None:
    """The body's JSON schema names the old clients' fields too, each documented as the field it stands for
    (giving both is a 400); ``aspectRatio`` takes the ratios of ASPECT_RATIO_SIZES."""
    properties = schema["properties"]
    for old, new in ALIASES.items():
        if old == "aspectRatio":
            ratios = sorted({ratio for sizes in ASPECT_RATIO_SIZES.values() for ratio in sizes})
            properties[old] = {"type": "string", "enum": ratios, "description": f"Old clients: instead of {new}"}
        else:
            documented = {key: value for key, value in properties[new].items() if key != "default"}
            properties[old] = {**documented, "title": old, "description": f"Old clients: the name of {new}"}


class CreateTaskRequest(BaseModel):
    """Body of ``POST /api/video/tasks``."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, json_schema_extra=_document_aliases)

    prompt: Annotated[str, StringConstraints(min_length=1, max_length=4000)]
    model: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = None
    type: TaskType = TaskType.VIDEO
    seconds: Annotated[int, Field(ge=1, le=60, strict=False)] | None = None
    size: Annotated[str, StringConstraints(min_length=1, max_length=16)] | None = None
    inputReference: InputReference | None = None
    metadata: dict[str, Any] | None = None
    clientRequestId: ClientRequestId | None = None
    priority: Priority = Field(
        Priority.NORMAL,
        description="Where the task waits among the caller's queued tasks: high, normal (default) or low",
    )
    callbackUrl: CallbackUrl | None = None
    callbackEvents: CallbackEvents | None = None
    # Our name -> the old name the client sent it under, so later refusals (the catalog's) use the client's.
    _sent_as: dict[str, str] = PrivateAttr(default_factory=dict)

    @model_validator(mode="wrap")
    @classmethod
    def _name_fields_as_sent(cls, data: Any, handler: ModelWrapValidatorHandler[CreateTaskRequest]) -> Any:
        sent = data if isinstance(data, dict) else {}
        try:
            request = handler(data)
        except ValidationError as error:
            raise _as_sent(error, sent, ALIASES) from None
        request._sent_as = {new: old for old, new in ALIASES.items() if old in sent}
        return request

    def as_sent(self, refusal: RequestRefused) -> RequestRefused:
        """``refusal`` of one of our fields (``details[0].field``) told in the name the client sent it under:
        ``duration`` for ``seconds``; ``aspectRatio`` for ``size``, with the ratios the model takes."""
        details = refusal.details if isinstance(refusal.details, list) else []
        field = details[0].get("field") if details and isinstance(details[0], dict) else None
        alias = self._sent_as.get(str(field))
        if field is None or alias is None:
            return refusal
        detail = {**details[0], "field": alias}
        if alias != "aspectRatio":
            message = alias + refusal.message.removeprefix(str(field))
        else:
            sizes = detail.get("allowed") or []
            ratios = [ratio for ratio, size in ASPECT_RATIO_SIZES[self.type].items() if size in sizes]
            _, _, model = refusal.message.partition(" for ")
            which = f" for {model}" if model else ""
            detail.update(allowed=ratios, message="unsupported aspect ratio")
            message = (
                f"aspectRatio must be one of {', '.join(ratios)}{which}"
                if ratios
                else f"aspectRatio: none is available{which}; send size, one of {', '.join(sizes)}"
            )
        return RequestRefused(message, details=[detail, *details[1:]])

    @model_validator(mode="before")
    @classmethod
    def _map_aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in ALIASES.items():
            if old in data:
                if new in data:
                    raise field_error(
                        old, "alias_conflict", "give either '{old}' or '{new}', not both", data[old], old=old, new=new
                    )
                value = data.pop(old)
                if old == "aspectRatio":
                    value = _size_of_aspect_ratio(value, data.get("type") or data.get("mediaType"))
                data[new] = value
        if isinstance(data.get("type"), str):
            data["type"] = data["type"].upper()
        return data

    @model_validator(mode="after")
    def _events_need_url(self) -> CreateTaskRequest:
        if self.callbackEvents and not self.callbackUrl:
            raise field_error(
                "callbackEvents", "callback_events_without_url", "needs a callbackUrl", self.callbackEvents
            )
        return self

    @model_validator(mode="after")
    def _check_metadata(self) -> CreateTaskRequest:
        if self.metadata is None:
            return self
        _check_metadata_keys(self.metadata, depth=0)
        if len(json.dumps(self.metadata, separators=(",", ":"))) > MAX_METADATA_BYTES:
            raise field_error(
                "metadata",
                "metadata_too_large",
                "must be at most {limit} bytes of JSON",
                self.metadata,
                limit=MAX_METADATA_BYTES,
            )
        for key in SERVICE_METADATA_KEYS:
            if key in self.metadata:
                raise field_error(
                    ("metadata", key), "metadata_reserved_key", "is set by the service", self.metadata[key]
                )
        return self


def _size_of_aspect_ratio(value: Any, task_type: Any) -> Any:
    kind = str(task_type or "VIDEO").upper()
    sizes = ASPECT_RATIO_SIZES.get(TaskType(kind) if kind in TaskType.__members__ else TaskType.VIDEO, {})
    if not isinstance(value, str) or value not in sizes:
        raise field_error(
            "aspectRatio", "aspect_ratio_unknown", "must be one of {allowed}", value, allowed=", ".join(sizes)
        )
    return sizes[value]


MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_DEPTH = 4


def _check_metadata_keys(value: Any, *, depth: int) -> None:
    """DynamoDB refuses empty attribute names inside maps; keep keys short and nesting shallow."""
    if depth > MAX_METADATA_DEPTH:
        raise field_error(
            "metadata", "metadata_too_deep", "may nest at most {limit} levels", value, limit=MAX_METADATA_DEPTH
        )
    if isinstance(value, dict):
        for key, item in value.items():
            if not key or len(key) > MAX_METADATA_KEY_CHARS:
                raise field_error(
                    "metadata",
                    "metadata_key_length",
                    "keys must be 1-{limit} characters",
                    key,
                    limit=MAX_METADATA_KEY_CHARS,
                )
            _check_metadata_keys(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_metadata_keys(item, depth=depth + 1)


MAX_PAGE_WINDOW = 1000  # page * pageSize: deeper offsets must use the cursor
# The old frontend's name of the list's type filter (as in its create body).
QUERY_ALIASES = {"mediaType": "type"}


class ListTasksQuery(BaseModel):
    """Query of ``GET /api/video/tasks``: cursor paging, or the old backend's page + pageSize."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    type: TaskType | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    page: Annotated[int, Field(ge=1)] | None = None
    pageSize: Annotated[int, Field(ge=1, le=100)] | None = None

    @model_validator(mode="wrap")
    @classmethod
    def _name_fields_as_sent(cls, data: Any, handler: ModelWrapValidatorHandler[ListTasksQuery]) -> Any:
        try:
            return handler(data)
        except ValidationError as error:
            sent = (
                {key: value for key, value in data.items() if value not in (None, "")} if isinstance(data, dict) else {}
            )
            raise _as_sent(error, sent, QUERY_ALIASES) from None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value not in (None, "")}
            for old, new in QUERY_ALIASES.items():
                if old in data:
                    if new in data:
                        raise field_error(
                            old,
                            "alias_conflict",
                            "give either '{old}' or '{new}', not both",
                            data[old],
                            old=old,
                            new=new,
                        )
                    data[new] = data.pop(old)
            if isinstance(data.get("status"), str):
                # An unknown word goes on to the enum, whose error names the statuses.
                data["status"] = status_of_word(data["status"]) or data["status"].strip().upper()
            if isinstance(data.get("type"), str):
                data["type"] = data["type"].strip().upper()
        return data

    @model_validator(mode="after")
    def _check_paging(self) -> ListTasksQuery:
        if self.cursor and (self.page or self.pageSize):
            raise field_error(
                "cursor",
                "paging_mode_conflict",
                "use either cursor or page/pageSize, not both (a cursor goes on from nextCursor)",
                self.cursor,
            )
        if self.page_mode and self.page_number * self.page_size > MAX_PAGE_WINDOW:
            raise field_error(
                "page",
                "page_window_exceeded",
                "page * pageSize must be at most {limit} (the newest {limit} tasks); use the cursor to go further",
                self.page,
                limit=MAX_PAGE_WINDOW,
            )
        return self

    @property
    def page_mode(self) -> bool:
        return self.page is not None or self.pageSize is not None

    @property
    def page_number(self) -> int:
        return self.page or 1

    @property
    def page_size(self) -> int:
        return self.pageSize or self.limit

    @property
    def scope(self) -> str:
        """What a cursor is bound to: the filters (a cursor from another filter is refused)."""
        return f"{self.status.value if self.status else '*'}|{self.type.value if self.type else '*'}"
