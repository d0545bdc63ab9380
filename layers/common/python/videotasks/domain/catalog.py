"""The model catalog: which models exist, which provider entry serves each, and what each accepts.

One source of truth, ``videotasks/catalog.json`` in the layer, validated here. A provider entry is one
endpoint speaking one API shape (``openai_videos``, ``gemini_veo``, ``fal_queue``, ...) with its own
secret; a model names its entry and the provider's own model name. A deployment narrows the catalog
with ``ALLOWED_MODELS`` and points entries elsewhere with their ``PROVIDER_*`` variables
(``configured``); whatever it cannot serve is a startup error, never a task that fails later.

Which shapes exist is the adapters' business (``videotasks.adapters.providers.SHAPES``): the composition
root checks the entries' shapes against it.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from videotasks.domain import messages
from videotasks.domain.errors import ValidationError
from videotasks.domain.models import TaskType
from videotasks.settings import Settings

CATALOG_PATH = Path(__file__).resolve().parent.parent / "catalog.json"

PORTRAIT, LANDSCAPE = "720x1280", "1280x720"
ASPECT_RATIO_SIZES: dict[TaskType, dict[str, str]] = {
    TaskType.VIDEO: {"16:9": LANDSCAPE, "9:16": PORTRAIT, "1:1": "1024x1024"},
    TaskType.IMAGE: {"16:9": "1536x1024", "9:16": "1024x1536", "1:1": "1024x1024"},
}
# Tasks stored before entries existed were all made on the one configured relay.
LEGACY_PROVIDER = "openai"

_SIZE = re.compile(r"^(\d{2,4}x\d{2,4}|auto)$")
EntryId = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{0,31}$")]
ModelId = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-]*$")]


class CatalogError(ValueError):
    """The catalog or the deployment's configuration of it cannot work: raised at startup."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class EntryVariables(_Strict):
    """The environment variables that override an entry; unset names default to ``PROVIDER_<ID>_*``."""

    base_url: str | None = Field(None, alias="baseUrl")
    path: str | None = None
    auth: str | None = None
    secret: str | None = None
    webhook_secret: str | None = Field(None, alias="webhookSecret")
    webhook_jwks_url: str | None = Field(None, alias="webhookJwksUrl")


class ProviderSpec(_Strict):
    shape: str
    base_url: str = Field(alias="baseUrl")
    path: str | None = None  # None: the adapter's own default path
    auth: str | None = None  # None: the adapter's own default auth scheme
    # Where the provider publishes the keys its webhooks are signed with (fal), when it does.
    webhook_jwks_url: str | None = Field(None, alias="webhookJwksUrl")
    variables: EntryVariables = EntryVariables()


class Capabilities(_Strict):
    """What the models route says a model can do. Each field left out comes from the entry's shape."""

    webhook: bool | None = None
    cancel: bool | None = None
    remix: bool | None = None
    progress: bool | None = None


class ModelSpec(_Strict):
    id: ModelId
    provider: EntryId
    provider_model: str = Field(alias="providerModel", min_length=1)
    type: TaskType
    seconds: tuple[int, ...] = ()
    sizes: tuple[str, ...] = ()
    default_seconds_: int | None = Field(None, alias="defaultSeconds")
    # Sizes that allow only some of the model's durations (Veo 3.1: 1080p at 8 s only).
    seconds_by_size: dict[str, tuple[int, ...]] = Field(default_factory=dict, alias="secondsBySize")
    capabilities: Capabilities = Capabilities()
    typical_seconds: int | None = Field(None, alias="typicalSeconds", ge=1)
    retired: str | None = None  # the date the provider shut the model down: known (old tasks), never offered

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        bad_sizes = [size for size in self.sizes if not _SIZE.match(size)]
        if bad_sizes:
            raise ValueError(f"model {self.id}: sizes must be WIDTHxHEIGHT, not {bad_sizes}")
        if self.type is TaskType.VIDEO and not (self.seconds and self.sizes):
            raise ValueError(f"model {self.id}: a video model lists its seconds and sizes")
        if self.type is TaskType.IMAGE and self.seconds:
            raise ValueError(f"model {self.id}: an image model takes no seconds")
        if self.default_seconds_ is not None and self.default_seconds_ not in self.seconds:
            raise ValueError(f"model {self.id}: defaultSeconds must be one of its seconds")
        for size, seconds in self.seconds_by_size.items():
            if size not in self.sizes or not set(seconds) <= set(self.seconds):
                raise ValueError(f"model {self.id}: secondsBySize[{size}] must be a size and seconds it lists")
        return self

    @property
    def default_seconds(self) -> int | None:
        return (
            self.default_seconds_ if self.default_seconds_ is not None else (self.seconds[0] if self.seconds else None)
        )

    @property
    def default_size(self) -> str | None:
        return self.sizes[0] if self.sizes else None

    def seconds_for(self, size: str | None) -> tuple[int, ...]:
        return self.seconds_by_size.get(size or "", self.seconds)


class CatalogDocument(_Strict):
    """``catalog.json`` as written."""

    providers: dict[EntryId, ProviderSpec]
    models: tuple[ModelSpec, ...]
    default: ModelId
    default_image: ModelId = Field(alias="defaultImage")

    @model_validator(mode="after")
    def _references(self) -> Self:
        ids = [model.id for model in self.models]
        if len(ids) != len(set(ids)):
            raise ValueError("model ids must be unique")
        for model in self.models:
            if model.provider not in self.providers:
                raise ValueError(f"model {model.id} names provider entry {model.provider!r}, which is not listed")
        return self


@dataclass(frozen=True)
class ProviderEntry:
    """A provider entry as this deployment runs it: the catalog's values with the environment's overrides."""

    id: str
    shape: str
    base_url: str
    path: str | None
    auth: str | None
    secret_name: str | None  # where its key is (Secrets Manager name or ARN); None: not configured
    # What verifies the provider's webhooks: a Standard Webhooks ``whsec_`` secret's Secrets Manager name
    # (Replicate), or the URL of the provider's published key set (fal). None: not configured.
    webhook_secret_name: str | None = None
    webhook_jwks_url: str | None = None


@dataclass(frozen=True)
class ModelOptions:
    model: str
    seconds: int | None
    size: str | None
    provider: str  # the entry that will run the task
    provider_model: str


@functools.cache
def load_document(path: Path = CATALOG_PATH) -> CatalogDocument:
    try:
        return CatalogDocument.model_validate(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError) as exc:
        raise CatalogError(f"{path.name} is not a usable catalog: {exc}") from exc


def entry_variables(entry_id: str, spec: ProviderSpec) -> EntryVariables:
    """The variables that configure ``entry_id``: the catalog's names, else ``PROVIDER_<ID>_*``."""
    prefix = "PROVIDER_" + entry_id.upper().replace("-", "_")
    own = spec.variables
    return EntryVariables(
        base_url=own.base_url or f"{prefix}_BASE_URL",
        path=own.path or f"{prefix}_PATH",
        auth=own.auth or f"{prefix}_AUTH_SCHEME",
        secret=own.secret or f"{prefix}_API_KEY_SECRET",
        webhook_secret=own.webhook_secret or f"{prefix}_WEBHOOK_SECRET",
        webhook_jwks_url=own.webhook_jwks_url or f"{prefix}_WEBHOOK_JWKS_URL",
    )


class Catalog:
    """The models this deployment offers and the entries that serve them (``configured``)."""

    def __init__(
        self,
        document: CatalogDocument,
        entries: dict[str, ProviderEntry],
        offered: tuple[str, ...],
        default_video: str,
        default_image: str,
    ) -> None:
        self._document = document
        self._models = {model.id: model for model in document.models}
        self.entries = entries
        self.offered = offered
        self.default_video = default_video
        self.default_image = default_image

    @classmethod
    def configured(cls, settings: Settings, document: CatalogDocument | None = None) -> Catalog:
        """The catalog narrowed by ``ALLOWED_MODELS`` (empty: every model that is not retired), its
        entries overridden by their variables. Raises ``CatalogError`` for a setting that cannot work: an
        unknown or retired model allowed, a default that is not allowed, an offered model whose entry has
        no secret."""
        document = document or load_document()
        variables = settings.provider_variables
        entries: dict[str, ProviderEntry] = {}
        for entry_id, spec in document.providers.items():
            names = entry_variables(entry_id, spec)
            entries[entry_id] = ProviderEntry(
                id=entry_id,
                shape=spec.shape,
                base_url=_set(variables, names.base_url) or spec.base_url,
                path=_set(variables, names.path) or spec.path,
                auth=_set(variables, names.auth) or spec.auth,
                secret_name=_set(variables, names.secret),
                webhook_secret_name=_set(variables, names.webhook_secret),
                webhook_jwks_url=_set(variables, names.webhook_jwks_url) or spec.webhook_jwks_url,
            )
        models = {model.id: model for model in document.models}
        offered = settings.allowed_models or tuple(model.id for model in document.models if not model.retired)
        for model_id in offered:
            model = models.get(model_id)
            if model is None:
                raise CatalogError(
                    f"ALLOWED_MODELS names {model_id!r}, which the catalog does not list "
                    f"(known: {', '.join(sorted(models))})"
                )
            if model.retired:
                raise CatalogError(f"ALLOWED_MODELS names {model_id!r}, which its provider retired on {model.retired}")
            secret = names_secret(document, model.provider)
            if not entries[model.provider].secret_name:
                raise CatalogError(
                    f"model {model_id!r} runs on provider entry {model.provider!r}, which has no secret: set {secret}"
                )
        default_video = settings.default_model or document.default
        default_image = settings.default_image_model or document.default_image
        for name, model_id, kind in (
            ("DEFAULT_MODEL", default_video, TaskType.VIDEO),
            ("DEFAULT_IMAGE_MODEL", default_image, TaskType.IMAGE),
        ):
            if model_id not in offered:
                raise CatalogError(f"{name} {model_id!r} is not one of the offered models ({', '.join(offered)})")
            if models[model_id].type is not kind:
                raise CatalogError(f"{name} {model_id!r} makes {models[model_id].type.value} tasks")
        return cls(document, entries, offered, default_video, default_image)

    # reading -------------------------------------------------------------------------------------
    def model(self, model_id: str) -> ModelSpec | None:
        """Any model the catalog knows, offered or not (a stored task's model may since have been retired)."""
        return self._models.get(model_id)

    def offered_models(self) -> list[ModelSpec]:
        return [self._models[model_id] for model_id in self.offered]

    def shapes(self) -> set[str]:
        return {entry.shape for entry in self.entries.values()}

    def route(self, model_id: str, provider: str | None, provider_model: str | None) -> tuple[ProviderEntry, str]:
        """The entry and provider model name of a stored task. A task keeps the ones it was created with,
        so a job goes on being polled where it was made whatever the catalog says since; a task stored
        before tasks recorded them falls back to its model's entry, else the old single relay."""
        model = self._models.get(model_id)
        entry_id = provider or (model.provider if model else LEGACY_PROVIDER)
        entry = self.entries.get(entry_id)
        if entry is None:
            raise CatalogError(f"provider entry {entry_id!r} of model {model_id!r} is no longer in the catalog")
        return entry, provider_model or (model.provider_model if model else model_id)

    def resolve(self, task_type: TaskType, *, model: str | None, seconds: int | None, size: str | None) -> ModelOptions:
        """What a task of ``task_type`` asked for, defaults filled in and the model's rules applied; raises
        ``ValidationError`` naming the field and the values it allows."""
        model = model or (self.default_image if task_type is TaskType.IMAGE else self.default_video)
        spec = self._models.get(model)
        if spec is None or model not in self.offered:
            retired = spec.retired if spec is not None else None
            raise ValidationError(
                key="model_retired" if retired else "model_unavailable",
                params={"model": model, "retired": retired, "allowed": ", ".join(self.offered)},
                details=[{"field": "model", "message": "unknown model", "allowed": list(self.offered)}],
            )
        if spec.type is not task_type:
            raise ValidationError(
                key="model_wrong_type",
                params={"model": model, "made": spec.type.value, "asked": task_type.value},
                details=[{"field": "model", "message": "wrong task type for this model"}],
            )
        size = size or spec.default_size
        if size is not None and size not in spec.sizes:
            raise ValidationError(
                key="size_unsupported",
                params={"model": model, "allowed": ", ".join(spec.sizes)},
                details=[{"field": "size", "message": "unsupported size", "allowed": list(spec.sizes)}],
            )
        if task_type is TaskType.IMAGE:
            seconds = None
        else:
            allowed = spec.seconds_for(size)
            if seconds is None:
                seconds = spec.default_seconds if spec.default_seconds in allowed else allowed[-1]
            elif seconds not in allowed:
                raise ValidationError(
                    key="seconds_unsupported" if allowed == spec.seconds else "seconds_unsupported_at_size",
                    params={"model": model, "allowed": ", ".join(map(str, allowed)), "size": size},
                    details=[{"field": "seconds", "message": "unsupported duration", "allowed": list(allowed)}],
                )
        return ModelOptions(model, seconds, size, spec.provider, spec.provider_model)


def names_secret(document: CatalogDocument, entry_id: str) -> str:
    """The variable that names ``entry_id``'s secret (for messages and the template's tests)."""
    return str(entry_variables(entry_id, document.providers[entry_id]).secret)


def _set(variables: dict[str, str], name: str | None) -> str | None:
    value = variables.get(name or "", "").strip()
    return value or None


def resolve_model_options(
    task_type: TaskType, *, model: str | None, seconds: int | None, size: str | None, catalog: Catalog
) -> ModelOptions:
    """The one home of "which options a model takes": ``Catalog.resolve``."""
    return catalog.resolve(task_type, model=model, seconds=seconds, size=size)


EXAMPLE_PROMPTS_PER_TYPE = 3


def describe(
    model: ModelSpec, shape_capabilities: dict[str, bool], lang: str = messages.DEFAULT_LANG
) -> dict[str, Any]:
    """A model as ``GET /api/video/models`` lists it; its capabilities are its shape's, as the catalog
    overrides them; its description and example prompts in ``lang``."""
    overrides = model.capabilities.model_dump(exclude_none=True)
    capabilities = {name: bool(overrides.get(name, shape_capabilities.get(name, False))) for name in _LISTED}
    return {
        "id": model.id,
        "provider": model.provider,
        "type": model.type.value,
        "seconds": list(model.seconds),
        "sizes": list(model.sizes),
        "capabilities": capabilities,
        "typicalSeconds": model.typical_seconds,
        "description": model_description(model, lang),
        "defaultSeconds": model.default_seconds,
        "defaultSize": model.default_size,
        "secondsBySize": {size: list(seconds) for size, seconds in model.seconds_by_size.items()},
        "examplePrompts": example_prompts(model.type, lang),
    }


def model_description(model: ModelSpec, lang: str = messages.DEFAULT_LANG) -> str:
    """The model's one-line description (``model_description_<id>`` of the messages catalogue); a model
    added to catalog.json without one reads a plain fallback rather than its key."""
    key = f"model_description_{model.id}"
    if messages.has(key):
        return messages.render(key, lang)
    return messages.render("model_description_other", lang, {"type": model.type.value})


def example_prompts(task_type: TaskType, lang: str = messages.DEFAULT_LANG) -> list[str]:
    kind = task_type.value.lower()
    return [messages.render(f"example_prompt_{kind}_{n}", lang) for n in range(1, EXAMPLE_PROMPTS_PER_TYPE + 1)]


_LISTED: tuple[Literal["webhook", "cancel", "remix", "progress"], ...] = ("webhook", "cancel", "remix", "progress")
