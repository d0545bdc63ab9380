"""The model catalog (videotasks/catalog.json): one source of truth, and a deployment's configuration of it
that either works or refuses to start."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from videotasks.adapters.providers import SHAPES, ShapeUnavailableError, shape_capabilities, unknown_shapes
from videotasks.domain.catalog import Catalog, CatalogDocument, CatalogError, describe, load_document
from videotasks.domain.models import TaskType
from videotasks.settings import Settings

DOCUMENT = load_document()


def test_the_catalog_has_four_video_shapes_and_a_default_that_exists_today() -> None:
    video_shapes = {
        DOCUMENT.providers[model.provider].shape
        for model in DOCUMENT.models
        if model.type is TaskType.VIDEO and not model.retired
    }
    assert {"openai_videos", "gemini_veo", "fal_queue", "replicate"} <= video_shapes
    default = next(model for model in DOCUMENT.models if model.id == DOCUMENT.default)
    assert default.type is TaskType.VIDEO and not default.retired
    assert DOCUMENT.default not in {"sora-2", "sora-2-pro"}


def test_every_shape_in_the_catalog_is_registered() -> None:
    assert unknown_shapes({spec.shape for spec in DOCUMENT.providers.values()}) == set()


def test_the_sora_2_models_are_known_but_never_offered(settings: Settings) -> None:
    catalog = Catalog.configured(settings)
    for model_id in ("sora-2", "sora-2-pro"):
        model = catalog.model(model_id)
        assert model is not None and model.retired == "2026-09-24"
        assert model_id not in catalog.offered


def test_allowed_models_narrow_the_catalog(settings_for: Callable[..., Settings]) -> None:
    catalog = Catalog.configured(settings_for(allowed_models="veo-3.1-fast,gpt-image-1"))
    assert catalog.offered == ("veo-3.1-fast", "gpt-image-1")


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"allowed_models": "veo-3.1-fast,no-such-model,gpt-image-1"}, "does not list 'no-such-model'|'no-such-model'"),
        ({"allowed_models": "sora-2,veo-3.1-fast,gpt-image-1"}, "retired on 2026-09-24"),
        ({"default_model": "veo-3.1", "allowed_models": "veo-3.1-fast,gpt-image-1"}, "DEFAULT_MODEL 'veo-3.1'"),
        ({"default_model": "gpt-image-1"}, "makes IMAGE tasks"),
        ({"default_image_model": "veo-3.1"}, "makes VIDEO tasks"),
    ],
)
def test_a_configuration_that_cannot_work_is_a_startup_error(
    settings_for: Callable[..., Settings], overrides: dict[str, str], complaint: str
) -> None:
    with pytest.raises(CatalogError, match=complaint):
        Catalog.configured(settings_for(**overrides))


def test_an_offered_model_whose_entry_has_no_secret_is_a_startup_error_naming_the_variable(
    settings_for: Callable[..., Settings],
) -> None:
    variables = {"PROVIDER_BASE_URL": "https://relay.test", "PROVIDER_API_KEY_SECRET": "k"}
    with pytest.raises(CatalogError, match="PROVIDER_GEMINI_API_KEY_SECRET"):
        Catalog.configured(settings_for(provider_variables=variables))
    narrowed = settings_for(
        provider_variables=variables, allowed_models="sora_video2,gpt-image-1", default_model="sora_video2"
    )
    assert Catalog.configured(narrowed).offered == ("sora_video2", "gpt-image-1")


def test_entries_take_their_base_url_path_auth_and_secret_from_their_variables(
    settings_for: Callable[..., Settings],
) -> None:
    variables = {
        "PROVIDER_BASE_URL": "https://relay.test",
        "PROVIDER_VIDEOS_PATH": "/sora/v1/videos",
        "PROVIDER_AUTH_SCHEME": "raw",
        "PROVIDER_API_KEY_SECRET": "relay-key",
        "PROVIDER_GEMINI_BASE_URL": "http://127.0.0.1:3002/gemini",
        "PROVIDER_GEMINI_API_KEY_SECRET": "gemini-key",
        "PROVIDER_FAL_API_KEY_SECRET": "fal-key",
        "PROVIDER_REPLICATE_API_KEY_SECRET": "replicate-key",
    }
    entries = Catalog.configured(settings_for(provider_variables=variables)).entries

    relay, images, gemini, fal = entries["openai"], entries["openai-images"], entries["gemini"], entries["fal"]
    assert (relay.base_url, relay.path, relay.auth, relay.secret_name) == (
        "https://relay.test",
        "/sora/v1/videos",
        "raw",
        "relay-key",
    )
    assert (images.base_url, images.path, images.secret_name) == (
        "https://relay.test",
        "/v1/images/generations",
        "relay-key",
    )
    assert (gemini.shape, gemini.base_url, gemini.secret_name) == (
        "gemini_veo",
        "http://127.0.0.1:3002/gemini",
        "gemini-key",
    )
    assert (fal.base_url, fal.path, fal.auth) == ("https://queue.fal.run", None, None)  # the adapter's own defaults


def test_a_task_is_routed_to_the_entry_it_was_created_with(settings: Settings) -> None:
    catalog = Catalog.configured(settings)
    options = catalog.resolve(TaskType.VIDEO, model="kling-2.1-fal", seconds=None, size=None)
    assert (options.provider, options.provider_model) == ("fal", "fal-ai/kling-video/v2.1/standard/text-to-video")

    entry, name = catalog.route("kling-2.1-fal", "replicate", "an/older-name")  # the catalog moved it since
    assert (entry.id, name) == ("replicate", "an/older-name")


def test_tasks_stored_before_entries_existed_go_to_the_relay(settings: Settings) -> None:
    catalog = Catalog.configured(settings)
    assert catalog.route("sora-2", None, None)[0].id == "openai"
    assert catalog.route("a-model-nobody-remembers", None, None) == (
        catalog.entries["openai"],
        "a-model-nobody-remembers",
    )


def test_an_entry_that_left_the_catalog_is_an_error(settings: Settings) -> None:
    with pytest.raises(CatalogError, match="no longer in the catalog"):
        Catalog.configured(settings).route("veo-3.1", "vertex", None)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        (lambda doc: doc["models"][0].update(provider="nowhere"), "not listed"),
        (lambda doc: doc["models"].append(dict(doc["models"][0])), "unique"),
        (lambda doc: doc["models"][0].update(sizes=["big"]), "WIDTHxHEIGHT"),
        (lambda doc: doc["models"][0].update(defaultSeconds=7), "defaultSeconds"),
        (lambda doc: doc["models"][0].update(secondsBySize={"1920x1080": [5]}), "secondsBySize"),
    ],
)
def test_a_broken_catalog_is_refused(change: Callable[[dict], None], complaint: str) -> None:
    document = DOCUMENT.model_dump(by_alias=True, mode="json")
    change(document)
    with pytest.raises(ValueError, match=complaint):
        CatalogDocument.model_validate(document)


def test_a_listed_model_has_its_shapes_capabilities(settings: Settings) -> None:
    model = Catalog.configured(settings).model("sora_video2")
    assert model is not None
    listed = describe(model, shape_capabilities("openai_videos"))
    assert listed["capabilities"] == {"webhook": False, "cancel": True, "remix": True, "progress": True}
    assert (listed["provider"], listed["type"], listed["seconds"]) == ("openai", "VIDEO", [10, 15])


def test_an_unregistered_shape_is_unavailable() -> None:
    with pytest.raises(ShapeUnavailableError, match="no adapter is registered"):
        shape_capabilities("carrier_pigeon")


def test_every_registered_shape_names_a_module_and_a_class() -> None:
    for target in SHAPES.values():
        module, _, name = target.partition(":")
        assert module and name[:1].isupper()
