"""Request models for the HTTP API: strict, with the old backend's aliases mapped in one place."""

from __future__ import annotations

import json
import re
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from videotasks.domain.catalog import ASPECT_RATIO_SIZES
from videotasks.domain.media_types import ALLOWED_MEDIA_TYPES
from videotasks.domain.models import TaskStatus, TaskType
from videotasks.domain.wire import status_of_word

MAX_METADATA_BYTES = 2048
# What replies put into a task's metadata themselves (the old backend's dual-id document).
SERVICE_METADATA_KEYS = ("externalTaskId", "createdAt")
MAX_INPUT_REFERENCE_CHARS = 2048

# Old clients' names -> ours (docs/API.md).
ALIASES = {"duration": "seconds", "aspectRatio": "size", "referenceImage": "inputReference", "mediaType": "type"}

_BASE64 = re.compile(r"^[A-Za-z0-9+/]*={0,2}$")


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
            raise ValueError(
                "a data: URL must be base64 of one of "
                f"{', '.join(ALLOWED_MEDIA_TYPES)} (data:image/png;base64,...) (also sent as referenceImage)"
            )
        if not payload or not _BASE64.match(payload):
            raise ValueError("the data: URL's payload is not base64 (also sent as referenceImage)")
        return value
    parts = urlsplit(value)
    if parts.scheme.lower() != "https" or not parts.hostname or any(char.isspace() for char in value):
        raise ValueError("must be an https:// URL or a data: URL of an image or video (also sent as referenceImage)")
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials in the URL (also sent as referenceImage)")
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

    @model_validator(mode="before")
    @classmethod
    def _map_aliases(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        for old, new in ALIASES.items():
            if old in data:
                if new in data:
                    raise ValueError(f"give either '{old}' or '{new}', not both")
                value = data.pop(old)
                if old == "aspectRatio":
                    task_type = str(data.get("type") or data.get("mediaType") or "VIDEO").upper()
                    sizes = ASPECT_RATIO_SIZES.get(
                        TaskType(task_type) if task_type in TaskType.__members__ else TaskType.VIDEO, {}
                    )
                    if value not in sizes:
                        raise ValueError(f"aspectRatio must be one of {', '.join(sizes)}")
                    value = sizes[value]
                data[new] = value
        if isinstance(data.get("type"), str):
            data["type"] = data["type"].upper()
        return data

    @model_validator(mode="after")
    def _check_metadata(self) -> CreateTaskRequest:
        if self.metadata is not None:
            _check_metadata_keys(self.metadata, depth=0)
        if self.metadata is not None and len(json.dumps(self.metadata, separators=(",", ":"))) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata must be at most {MAX_METADATA_BYTES} bytes of JSON")
        for key in SERVICE_METADATA_KEYS:
            if self.metadata and key in self.metadata:
                raise ValueError(f"metadata.{key} is set by the service")
        return self


MAX_METADATA_KEY_CHARS = 64
MAX_METADATA_DEPTH = 4


def _check_metadata_keys(value: Any, *, depth: int) -> None:
    """DynamoDB refuses empty attribute names inside maps; keep keys short and nesting shallow."""
    if depth > MAX_METADATA_DEPTH:
        raise ValueError(f"metadata may nest at most {MAX_METADATA_DEPTH} levels")
    if isinstance(value, dict):
        for key, item in value.items():
            if not key or len(key) > MAX_METADATA_KEY_CHARS:
                raise ValueError(f"metadata keys must be 1-{MAX_METADATA_KEY_CHARS} characters")
            _check_metadata_keys(item, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_metadata_keys(item, depth=depth + 1)


MAX_PAGE_WINDOW = 1000  # page * pageSize: deeper offsets must use the cursor


class ListTasksQuery(BaseModel):
    """Query of ``GET /api/video/tasks``: cursor paging, or the old backend's page + pageSize."""

    model_config = ConfigDict(extra="forbid")

    status: TaskStatus | None = None
    type: TaskType | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 20
    cursor: Annotated[str, StringConstraints(min_length=1, max_length=2048)] | None = None
    page: Annotated[int, Field(ge=1)] | None = None
    pageSize: Annotated[int, Field(ge=1, le=100)] | None = None

    @model_validator(mode="before")
    @classmethod
    def _normalise(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = {key: value for key, value in data.items() if value not in (None, "")}
            if "mediaType" in data:  # the old frontend's name of the filter (as in its create body)
                if "type" in data:
                    raise ValueError("give either 'mediaType' or 'type', not both")
                data["type"] = data.pop("mediaType")
            if isinstance(data.get("status"), str):
                # An unknown word goes on to the enum, whose error names the statuses.
                data["status"] = status_of_word(data["status"]) or data["status"].strip().upper()
            if isinstance(data.get("type"), str):
                data["type"] = data["type"].strip().upper()
        return data

    @model_validator(mode="after")
    def _check_paging(self) -> ListTasksQuery:
        if self.cursor and (self.page or self.pageSize):
            raise ValueError("use either cursor or page/pageSize, not both")
        if self.page_mode and self.page_number * self.page_size > MAX_PAGE_WINDOW:
            raise ValueError(f"page * pageSize must be at most {MAX_PAGE_WINDOW}; use the cursor to go further")
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
