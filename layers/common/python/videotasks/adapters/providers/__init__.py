"""Provider clients: the only modules that talk HTTP to generation providers.

``SHAPES`` is the registry of API shapes: a catalog entry (``videotasks/catalog.json``) names one, and
its module is imported only when an entry of that shape is used, so a function pays no cold start for
adapters it never calls. A new shape is one module here, one line in ``SHAPES``, entries and models in
the catalog, and a module in ``local/fake_shapes/`` for the offline stack.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from videotasks.adapters.providers._http import JobRequest, MediaStream, ProviderJob
    from videotasks.adapters.providers.openai_images import ImagesProvider
    from videotasks.adapters.providers.openai_videos import VideosProvider
    from videotasks.adapters.providers.protocol import VideoAdapter

__all__ = [
    "SHAPES",
    "ImagesProvider",
    "JobRequest",
    "MediaStream",
    "ProviderJob",
    "ShapeUnavailableError",
    "VideoAdapter",
    "VideosProvider",
    "adapter_class",
    "shape_capabilities",
    "unknown_shapes",
]

_PACKAGE = __name__
# shape name -> "module:Class" below this package.
SHAPES: dict[str, str] = {
    "openai_videos": "openai_videos:VideosProvider",
    "openai_images": "openai_images:ImagesProvider",
    "gemini_veo": "gemini_veo:GeminiVeoProvider",
    "fal_queue": "fal_queue:FalQueueProvider",
    "replicate": "replicate:ReplicateProvider",
}
IMAGE_SHAPES = frozenset({"openai_images"})


# The package's names that live in its modules, imported when first asked for: every one of them imports
# httpx, which the functions that never speak to a provider (and the API, until a cancel) need not load.
_LAZY_NAMES = {
    "JobRequest": "_http",
    "MediaStream": "_http",
    "ProviderJob": "_http",
    "ImagesProvider": "openai_images",
    "VideosProvider": "openai_videos",
    "VideoAdapter": "protocol",
}


def __getattr__(name: str) -> Any:
    module = _LAZY_NAMES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{_PACKAGE}.{module}"), name)


class ShapeUnavailableError(LookupError):
    """A shape the registry does not know, or whose module is not in this build."""


def unknown_shapes(shapes: set[str]) -> set[str]:
    """The shapes among ``shapes`` that no adapter is registered for (a startup error in the catalog)."""
    return shapes - set(SHAPES)


@functools.cache
def adapter_class(shape: str) -> type[Any]:
    """The adapter class of ``shape``, imported on first use."""
    target = SHAPES.get(shape)
    if target is None:
        raise ShapeUnavailableError(f"no adapter is registered for provider shape {shape!r}")
    module_name, class_name = target.split(":")
    try:
        module = importlib.import_module(f"{_PACKAGE}.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"{_PACKAGE}.{module_name}":
            raise
        raise ShapeUnavailableError(f"the adapter of provider shape {shape!r} is not in this build") from exc
    return getattr(module, class_name)  # type: ignore[no-any-return]


def shape_capabilities(shape: str) -> dict[str, bool]:
    """What an adapter of ``shape`` declares it can do (image shapes declare nothing: all false)."""
    from videotasks.adapters.providers.protocol import Capabilities

    declared = getattr(adapter_class(shape), "CAPABILITIES", None)
    return dataclasses.asdict(declared) if isinstance(declared, Capabilities) else {}
