"""What each known model accepts. Models allowed by settings but unknown here get lenient checks."""

from __future__ import annotations

from dataclasses import dataclass

from videotasks.domain.models import TaskType

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
