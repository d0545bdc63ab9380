"""What each known model accepts. Models allowed by settings but unknown here get lenient checks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from videotasks.domain.errors import ValidationError
from videotasks.domain.models import TaskType
from videotasks.settings import Settings

PORTRAIT, LANDSCAPE = "720x1280", "1280x720"
ASPECT_RATIO_SIZES: dict[TaskType, dict[str, str]] = {
    TaskType.VIDEO: {"16:9": LANDSCAPE, "9:16": PORTRAIT, "1:1": "1024x1024"},
    TaskType.IMAGE: {"16:9": "1536x1024", "9:16": "1024x1536", "1:1": "1024x1024"},
}


@dataclass(frozen=True)
class ModelSpec:
    type: TaskType
    seconds: tuple[int, ...] = ()
    sizes: tuple[str, ...] = ()

    @property
    def default_seconds(self) -> int | None:
        return self.seconds[0] if self.seconds else None

    @property
    def default_size(self) -> str | None:
        return self.sizes[0] if self.sizes else None


KNOWN_MODELS: dict[str, ModelSpec] = {
    "sora-2": ModelSpec(TaskType.VIDEO, (4, 8, 12), (PORTRAIT, LANDSCAPE)),
    "sora-2-pro": ModelSpec(TaskType.VIDEO, (4, 8, 12), (PORTRAIT, LANDSCAPE, "1024x1792", "1792x1024")),
    # The old backend's relay's name for its model, which takes 10 or 15 seconds (docs/LEGACY_CONTRACT.md).
    "sora_video2": ModelSpec(TaskType.VIDEO, (10, 15), (PORTRAIT, LANDSCAPE)),
    "gpt-image-1": ModelSpec(TaskType.IMAGE, (), ("1024x1024", "1536x1024", "1024x1536", "auto")),
}

LENIENT_SECONDS = range(1, 61)
LENIENT_SIZE_PATTERN = r"^\d{2,4}x\d{2,4}$"


def spec_for(model: str, task_type: TaskType) -> ModelSpec:
    return KNOWN_MODELS.get(model, ModelSpec(task_type))


@dataclass(frozen=True)
class ModelOptions:
    model: str
    seconds: int | None
    size: str | None


def resolve_model_options(
    task_type: TaskType, *, model: str | None, seconds: int | None, size: str | None, settings: Settings
) -> ModelOptions:
    """What a task of ``task_type`` asked for, with the defaults filled in and the per-model rules
    applied; raises ``ValidationError`` naming the field."""
    model = model or (settings.default_image_model if task_type is TaskType.IMAGE else settings.default_model)
    if model not in settings.allowed_models:
        raise ValidationError(
            f"model '{model}' is not available; choose one of: {', '.join(settings.allowed_models)}",
            details=[{"field": "model", "message": "unknown model"}],
        )
    spec = spec_for(model, task_type)
    if spec.type is not task_type:
        raise ValidationError(
            f"model '{model}' makes {spec.type.value} tasks, not {task_type.value}",
            details=[{"field": "model", "message": "wrong task type for this model"}],
        )
    if task_type is TaskType.IMAGE:
        seconds = None
    elif seconds is None:
        seconds = spec.default_seconds
    elif seconds not in (spec.seconds or LENIENT_SECONDS):
        raise ValidationError(
            f"seconds must be one of {', '.join(map(str, spec.seconds))} for model '{model}'",
            details=[{"field": "seconds", "message": "unsupported duration"}],
        )
    size = size or spec.default_size
    if size is not None and (size not in spec.sizes if spec.sizes else not re.match(LENIENT_SIZE_PATTERN, size)):
        allowed = ", ".join(spec.sizes) if spec.sizes else "WIDTHxHEIGHT"
        raise ValidationError(
            f"size must be one of {allowed} for model '{model}'",
            details=[{"field": "size", "message": "unsupported size"}],
        )
    return ModelOptions(model, seconds, size)
