"""What the catalog offers for a model, its adapter can send: no size or duration the create accepts is
refused by the adapter later (that would be a provider error after the task was billed or queued)."""

from __future__ import annotations

import pytest

from videotasks.adapters.providers import fal_queue, gemini_veo, replicate
from videotasks.domain.catalog import ModelSpec, load_document

DOCUMENT = load_document()
SHAPE_OF = {entry_id: spec.shape for entry_id, spec in DOCUMENT.providers.items()}


def _offered(shape: str) -> list[ModelSpec]:
    return [model for model in DOCUMENT.models if SHAPE_OF[model.provider] == shape and not model.retired]


def _combinations(model: ModelSpec) -> list[tuple[int, str]]:
    return [(seconds, size) for size in model.sizes for seconds in model.seconds_for(size)]


@pytest.mark.parametrize("model", _offered("gemini_veo"), ids=lambda model: model.id)
def test_every_offered_gemini_combination_maps_onto_veo_parameters(model: ModelSpec) -> None:
    assert model.provider_model in gemini_veo.VEO_MODELS, "an unknown Veo model would be checked leniently"
    for seconds, size in _combinations(model):
        parameters = gemini_veo.veo_parameters(model.provider_model, seconds=seconds, size=size)
        assert parameters["durationSeconds"] == seconds


@pytest.mark.parametrize("model", _offered("fal_queue"), ids=lambda model: model.id)
def test_every_offered_fal_combination_is_one_the_endpoint_takes(model: ModelSpec) -> None:
    seconds, sizes = fal_queue.allowed_options(model.provider_model)
    assert set(model.seconds) <= set(seconds), model.id
    assert set(model.sizes) <= set(sizes), model.id


@pytest.mark.parametrize("model", _offered("replicate"), ids=lambda model: model.id)
def test_every_offered_replicate_combination_is_one_the_model_takes(model: ModelSpec) -> None:
    seconds, sizes = replicate.allowed_options(model.provider_model)
    assert seconds and sizes, f"{model.provider_model} has no profile in replicate.MODEL_PROFILES"
    assert set(model.seconds) <= set(seconds), model.id
    assert set(model.sizes) <= set(sizes), model.id


def test_at_least_four_api_shapes_are_offered() -> None:
    offered = {
        SHAPE_OF[model.provider] for model in DOCUMENT.models if not model.retired and model.type.value == "VIDEO"
    }
    assert {"openai_videos", "gemini_veo", "fal_queue", "replicate"} <= offered


def test_a_combination_the_adapter_refuses_is_caught_by_this_check() -> None:
    with pytest.raises(gemini_veo.UnsupportedOptionError):
        gemini_veo.veo_parameters("veo-3.1-fast-generate-preview", seconds=4, size="1920x1080")
