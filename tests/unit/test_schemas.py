"""The create body: the old backend's aliases, strictness, bounds, and each model's rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pydantic
import pytest

from videotasks.domain.catalog import Catalog, load_document, resolve_model_options
from videotasks.domain.errors import ValidationError
from videotasks.domain.models import TaskType
from videotasks.domain.requests import MAX_METADATA_BYTES, CreateTaskRequest, ListTasksQuery
from videotasks.settings import Settings


def parse(**body: Any) -> CreateTaskRequest:
    return CreateTaskRequest.model_validate({"prompt": "a cat surfing", **body})


def refusal(**body: Any) -> str:
    """The validation message for ``body``, all errors joined."""
    with pytest.raises(pydantic.ValidationError) as caught:
        CreateTaskRequest.model_validate(body)
    return " | ".join(f"{'.'.join(map(str, error['loc']))}: {error['msg']}" for error in caught.value.errors())


# -- aliases ----------------------------------------------------------------------------------------


def test_duration_is_read_as_seconds() -> None:
    assert parse(duration=8).seconds == 8


@pytest.mark.parametrize(
    ("ratio", "size"),
    [("16:9", "1280x720"), ("9:16", "720x1280"), ("1:1", "1024x1024")],
    ids=["landscape", "portrait", "square"],
)
def test_aspect_ratio_is_read_as_the_video_size(ratio: str, size: str) -> None:
    assert parse(aspectRatio=ratio).size == size


def test_aspect_ratio_of_an_image_task_maps_to_image_sizes() -> None:
    assert parse(type="IMAGE", aspectRatio="16:9").size == "1536x1024"


def test_aspect_ratio_follows_media_type_given_as_an_alias_too() -> None:
    request = parse(mediaType="image", aspectRatio="9:16")
    assert (request.type, request.size) == (TaskType.IMAGE, "1024x1536")


def test_an_unknown_aspect_ratio_is_refused_naming_the_choices() -> None:
    message = refusal(prompt="x", aspectRatio="4:3")
    assert "aspectRatio" in message
    assert "16:9" in message


@pytest.mark.parametrize(
    "reference",
    [
        "https://img.test/a.png",
        "HTTPS://IMG.TEST/a.png?sig=abc",
        "data:image/png;base64,iVBORw0KGgo=",
        "data:video/mp4;base64,AAAAGGZ0eXBtcDQy",
    ],
)
def test_an_https_or_media_data_url_is_a_valid_reference(reference: str) -> None:
    assert parse(inputReference=reference).inputReference == reference


@pytest.mark.parametrize(
    "reference",
    [
        "http://img.test/a.png",
        "ftp://img.test/a.png",
        "file:///etc/passwd",
        "//img.test/a.png",
        "https:///a.png",
        "https://user:secret@img.test/a.png",
        "https://img.test/a b.png",
        "data:text/html;base64,PGh0bWw+",
        "data:image/svg+xml;base64,PHN2Zz4=",
        "data:image/png,not-base64-marked",
        "data:image/png;base64,!!!",
        "javascript:alert(1)",
        "s3://bucket/a.png",
        "a.png",
        "/images/a.png",
        "blob:https://app.test/1234",
    ],
)
@pytest.mark.parametrize("name", ["inputReference", "referenceImage"])
def test_any_other_reference_is_refused_naming_the_field_as_sent(reference: str, name: str) -> None:
    message = refusal(prompt="a cat", **{name: reference})

    assert message.startswith(f"{name}:"), message
    assert "https" in message or "data:" in message, message


def test_reference_image_is_read_as_input_reference() -> None:
    assert parse(referenceImage="https://img.test/a.png").inputReference == "https://img.test/a.png"


def test_media_type_is_read_as_type_in_any_case() -> None:
    assert parse(mediaType="image").type is TaskType.IMAGE
    assert parse(type="video").type is TaskType.VIDEO


@pytest.mark.parametrize(
    ("alias", "name", "alias_value", "name_value"),
    [
        ("duration", "seconds", 8, 8),
        ("aspectRatio", "size", "16:9", "1280x720"),
        ("referenceImage", "inputReference", "https://a.test/x.png", "https://a.test/x.png"),
        ("mediaType", "type", "VIDEO", "VIDEO"),
    ],
)
def test_giving_both_an_alias_and_its_name_is_refused(alias: str, name: str, alias_value: Any, name_value: Any) -> None:
    message = refusal(prompt="x", **{alias: alias_value, name: name_value})
    assert alias in message
    assert name in message


# -- strictness and bounds --------------------------------------------------------------------------


def test_an_unknown_field_is_refused_by_name() -> None:
    assert "colour" in refusal(prompt="x", colour="red")


def test_a_missing_prompt_is_refused() -> None:
    assert "prompt" in refusal(model="sora-2")


@pytest.mark.parametrize("prompt", ["", "   \n\t "])
def test_an_empty_or_blank_prompt_is_refused(prompt: str) -> None:
    assert "prompt" in refusal(prompt=prompt)


def test_a_prompt_of_4000_characters_is_accepted_and_4001_is_not() -> None:
    assert len(parse(prompt="p" * 4000).prompt) == 4000
    assert "prompt" in refusal(prompt="p" * 4001)


def test_surrounding_whitespace_of_a_prompt_is_trimmed() -> None:
    assert parse(prompt="  a cat  ").prompt == "a cat"


def test_small_metadata_is_kept() -> None:
    assert parse(metadata={"source": "desktop", "n": 1}).metadata == {"source": "desktop", "n": 1}


def test_metadata_larger_than_the_limit_is_refused() -> None:
    big = {"blob": "x" * MAX_METADATA_BYTES}
    assert len(json.dumps(big)) > MAX_METADATA_BYTES
    assert "metadata" in refusal(prompt="x", metadata=big)


def test_metadata_just_under_the_limit_is_accepted() -> None:
    filler = "x" * (MAX_METADATA_BYTES - len('{"blob":""}'))
    assert parse(metadata={"blob": filler}).metadata is not None


def test_metadata_may_not_set_the_external_task_id() -> None:
    assert "externalTaskId" in refusal(prompt="x", metadata={"externalTaskId": "forged"})


@pytest.mark.parametrize("seconds", [0, 61, "soon"])
def test_seconds_outside_1_to_60_or_not_a_number_are_refused(seconds: Any) -> None:
    assert "seconds" in refusal(prompt="x", seconds=seconds)


@pytest.mark.parametrize("client_request_id", ["", "has space", "x" * 129, "semi;colon"])
def test_a_malformed_client_request_id_is_refused(client_request_id: str) -> None:
    assert "clientRequestId" in refusal(prompt="x", clientRequestId=client_request_id)


def test_an_unknown_type_is_refused() -> None:
    assert "type" in refusal(prompt="x", type="AUDIO")


# -- model rules ------------------------------------------------------------------------------------


def resolve(settings: Settings, **body: Any) -> tuple[str, int | None, str | None]:
    """(model, seconds, size) of the create ``body`` asks for, as the service resolves them."""
    request = parse(**body)
    options = resolve_model_options(
        request.type,
        model=request.model,
        seconds=request.seconds,
        size=request.size,
        catalog=Catalog.configured(settings),
    )
    return options.model, options.seconds, options.size


def field_of(error: ValidationError) -> str:
    return str(error.details[0]["field"])


def test_a_video_task_without_model_seconds_or_size_gets_the_catalogs_defaults(settings: Settings) -> None:
    default = load_document().default
    model = Catalog.configured(settings).model(default)
    assert model is not None and not model.retired
    assert resolve(settings) == (default, model.default_seconds, model.default_size)


def test_an_image_task_defaults_to_the_image_model_without_seconds(settings: Settings) -> None:
    assert resolve(settings, type="IMAGE") == ("gpt-image-1", None, "1024x1024")


def test_seconds_sent_for_an_image_task_are_dropped(settings: Settings) -> None:
    assert resolve(settings, type="IMAGE", seconds=8)[1] is None


def test_a_model_outside_the_catalog_is_refused_naming_the_field_and_the_choices(settings: Settings) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve(settings, model="sora-9")
    assert field_of(caught.value) == "model"
    assert "sora-9" in caught.value.message
    assert "veo-3.1-fast" in caught.value.details[0]["allowed"]


@pytest.mark.parametrize("model", ["sora-2", "sora-2-pro"])
def test_a_retired_model_is_refused_saying_so(settings: Settings, model: str) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve(settings, model=model)
    assert field_of(caught.value) == "model"
    assert "retired on 2026-09-24" in caught.value.message


def test_a_known_model_missing_from_the_configured_allow_list_is_refused(settings_for: Callable[..., Settings]) -> None:
    settings = settings_for(allowed_models=("sora_video2", "gpt-image-1"), default_model="sora_video2")
    with pytest.raises(ValidationError):
        resolve(settings, model="veo-3.1")


def test_the_allow_list_is_read_from_a_comma_separated_variable(settings_for: Callable[..., Settings]) -> None:
    assert settings_for(allowed_models=" veo-3.1 , my-relay ,").allowed_models == ("veo-3.1", "my-relay")


def test_a_video_model_for_an_image_task_is_refused(settings: Settings) -> None:
    with pytest.raises(ValidationError) as caught:
        resolve(settings, type="IMAGE", model="veo-3.1")
    assert field_of(caught.value) == "model"


def test_an_image_model_for_a_video_task_is_refused(settings: Settings) -> None:
    with pytest.raises(ValidationError):
        resolve(settings, model="gpt-image-1")


@pytest.mark.parametrize(
    ("model", "seconds", "accepted"),
    [
        ("veo-3.1-fast", 4, True),
        ("veo-3.1-fast", 8, True),
        ("veo-3.1-fast", 5, False),
        ("kling-2.1-fal", 10, True),
        ("kling-2.1-fal", 8, False),
        ("kling-2.5-turbo-replicate", 5, True),
        ("sora_video2", 10, True),
        ("sora_video2", 8, False),
    ],
)
def test_each_model_takes_only_its_durations(settings: Settings, model: str, seconds: int, accepted: bool) -> None:
    if accepted:
        assert resolve(settings, model=model, seconds=seconds)[1] == seconds
    else:
        with pytest.raises(ValidationError) as caught:
            resolve(settings, model=model, seconds=seconds)
        assert field_of(caught.value) == "seconds"
        assert seconds not in caught.value.details[0]["allowed"]


@pytest.mark.parametrize(
    ("model", "size", "accepted"),
    [
        ("veo-3.1-fast", "1280x720", True),
        ("veo-3.1-fast", "1080x1920", False),
        ("kling-2.5-turbo-replicate", "1080x1920", True),
        ("kling-2.1-fal", "1920x1080", False),
    ],
)
def test_each_model_takes_only_its_sizes(settings: Settings, model: str, size: str, accepted: bool) -> None:
    if accepted:
        assert resolve(settings, model=model, size=size)[2] == size
    else:
        with pytest.raises(ValidationError) as caught:
            resolve(settings, model=model, size=size)
        assert field_of(caught.value) == "size"
        assert caught.value.details[0]["allowed"]


def test_a_size_that_allows_fewer_durations_says_which(settings: Settings) -> None:
    assert resolve(settings, model="veo-3.1", size="1920x1080") == ("veo-3.1", 8, "1920x1080")
    with pytest.raises(ValidationError) as caught:
        resolve(settings, model="veo-3.1", size="1920x1080", seconds=4)
    assert field_of(caught.value) == "seconds"
    assert caught.value.details[0]["allowed"] == [8]
    assert "1920x1080" in caught.value.message


# -- the listing query ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "status"), [("in_progress", "PROCESSING"), ("pending", "QUEUED"), ("canceled", "CANCELLED")]
)
def test_listing_accepts_the_old_status_words(given: str, status: str) -> None:
    assert ListTasksQuery.model_validate({"status": given}).status == status


def test_listing_refuses_a_status_word_no_client_was_promised() -> None:
    with pytest.raises(pydantic.ValidationError) as caught:
        ListTasksQuery.model_validate({"status": "succeeded"})
    assert caught.value.errors()[0]["loc"] == ("status",)


def test_listing_refuses_a_cursor_together_with_page_numbers() -> None:
    with pytest.raises(pydantic.ValidationError):
        ListTasksQuery.model_validate({"cursor": "abc", "page": 2})


def test_listing_bounds_how_deep_page_numbers_may_go() -> None:
    with pytest.raises(pydantic.ValidationError):
        ListTasksQuery.model_validate({"page": 11, "pageSize": 100})


def test_listing_ignores_empty_query_values() -> None:
    query = ListTasksQuery.model_validate({"status": "", "limit": None})
    assert (query.status, query.limit, query.page_mode) == (None, 20, False)
