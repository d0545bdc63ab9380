"""Validation errors a client can act on: each names the field to change, as the client sent it (an old
client's alias included), under a stable key, with no pydantic prefix."""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest

from videotasks.domain.catalog import Catalog, resolve_model_options
from videotasks.domain.errors import ValidationError as RequestRefused
from videotasks.domain.requests import MAX_METADATA_BYTES, MAX_PAGE_WINDOW, CreateTaskRequest, ListTasksQuery
from videotasks.edge.envelope import validation_failure
from videotasks.settings import Settings


def first_error(model: type[pydantic.BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(data)
    errors = caught.value.errors()
    assert len(errors) == 1, errors
    return dict(errors[0])


def reply_of(model: type[pydantic.BaseModel], data: dict[str, Any]) -> dict[str, Any]:
    """The 400 envelope the API would answer with."""
    with pytest.raises(pydantic.ValidationError) as caught:
        model.model_validate(data)
    return dict(json.loads(validation_failure(caught.value.errors()).body))


CREATE_CASES = [
    # (body, field named, stable key)
    ({"metadata": {"blob": "x" * MAX_METADATA_BYTES}}, "metadata", "metadata_too_large"),
    ({"metadata": {"": 1}}, "metadata", "metadata_key_length"),
    ({"metadata": {"a": {"b": {"c": {"d": {"e": {"f": 1}}}}}}}, "metadata", "metadata_too_deep"),
    ({"metadata": {"createdAt": 1}}, "metadata.createdAt", "metadata_reserved_key"),
    ({"metadata": {"externalTaskId": "x"}}, "metadata.externalTaskId", "metadata_reserved_key"),
    ({"duration": 8, "seconds": 8}, "duration", "alias_conflict"),
    ({"aspectRatio": "16:9", "size": "1280x720"}, "aspectRatio", "alias_conflict"),
    ({"aspectRatio": "4:3"}, "aspectRatio", "aspect_ratio_unknown"),
    ({"aspectRatio": 169}, "aspectRatio", "aspect_ratio_unknown"),
    ({"inputReference": "http://img.test/a.png"}, "inputReference", "input_reference_scheme"),
    ({"referenceImage": "file:///etc/passwd"}, "referenceImage", "input_reference_scheme"),
    ({"inputReference": "https://u:p@img.test/a.png"}, "inputReference", "input_reference_credentials"),
    ({"inputReference": "data:text/html;base64,PGh0bWw+"}, "inputReference", "input_reference_data_type"),
    ({"referenceImage": "data:image/png;base64,!!!"}, "referenceImage", "input_reference_data_payload"),
]


@pytest.mark.parametrize(("body", "field", "key"), CREATE_CASES)
def test_a_create_error_names_the_field_to_change_under_a_stable_key(
    body: dict[str, Any], field: str, key: str
) -> None:
    error = first_error(CreateTaskRequest, {"prompt": "a cat", **body})

    assert ".".join(map(str, error["loc"])) == field
    assert error["type"] == key


LIST_CASES = [
    ({"cursor": "abc", "page": "2"}, "cursor", "paging_mode_conflict"),
    ({"cursor": "abc", "pageSize": "5"}, "cursor", "paging_mode_conflict"),
    ({"page": "11", "pageSize": "100"}, "page", "page_window_exceeded"),
    ({"page": str(MAX_PAGE_WINDOW // 20 + 1)}, "page", "page_window_exceeded"),  # pageSize defaults to limit
    ({"mediaType": "VIDEO", "type": "IMAGE"}, "mediaType", "alias_conflict"),
]


@pytest.mark.parametrize(("query", "field", "key"), LIST_CASES)
def test_a_listing_error_names_the_parameter_to_change(query: dict[str, Any], field: str, key: str) -> None:
    error = first_error(ListTasksQuery, query)

    assert error["loc"] == (field,)
    assert error["type"] == key


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"duration": "soon"}, "duration"),
        ({"duration": 0}, "duration"),
        ({"seconds": 0}, "seconds"),
        ({"mediaType": "AUDIO"}, "mediaType"),
        ({"type": "AUDIO"}, "type"),
        ({"referenceImage": "x" * 3000}, "referenceImage"),
    ],
)
def test_a_field_sent_under_its_old_name_is_named_so_in_its_errors(body: dict[str, Any], field: str) -> None:
    assert first_error(CreateTaskRequest, {"prompt": "a cat", **body})["loc"] == (field,)


def test_a_listing_filter_sent_as_media_type_is_named_media_type() -> None:
    assert first_error(ListTasksQuery, {"mediaType": "AUDIO"})["loc"] == ("mediaType",)


def test_a_renamed_error_keeps_its_key_and_text() -> None:
    plain = first_error(CreateTaskRequest, {"prompt": "a cat", "seconds": "soon"})
    renamed = first_error(CreateTaskRequest, {"prompt": "a cat", "duration": "soon"})

    assert (renamed["type"], renamed["msg"]) == (plain["type"], plain["msg"])


@pytest.mark.parametrize(
    ("model", "data"),
    [(CreateTaskRequest, {"prompt": "a cat", **body}) for body, _, _ in CREATE_CASES]
    + [(ListTasksQuery, query) for query, _, _ in LIST_CASES],
)
def test_no_reply_carries_a_pydantic_prefix_or_names_the_whole_body(
    model: type[pydantic.BaseModel], data: dict[str, Any]
) -> None:
    reply = reply_of(model, data)

    field = reply["error"]["details"][0]["field"]
    assert field != "body"
    assert reply["message"].startswith(f"{field}: ")
    for text in (reply["message"], reply["error"]["details"][0]["message"]):
        assert "Value error" not in text and "Assertion failed" not in text


def test_the_envelope_strips_a_prefix_a_library_validator_left() -> None:
    reply = json.loads(validation_failure([{"loc": ("body", "x"), "msg": "Value error, too odd"}]).body)

    assert reply["message"] == "x: too odd"
    assert reply["error"]["details"] == [{"field": "x", "message": "too odd"}]


# -- the catalog's refusals, told in the names the client sent ------------------------------------------------


def catalog_refusal(catalog: Catalog, **body: Any) -> RequestRefused:
    request = CreateTaskRequest.model_validate({"prompt": "a cat", **body})
    with pytest.raises(RequestRefused) as caught:
        resolve_model_options(
            request.type, model=request.model, seconds=request.seconds, size=request.size, catalog=catalog
        )
    return request.as_sent(caught.value)


@pytest.fixture
def catalog(settings: Settings) -> Catalog:
    return Catalog.configured(settings)


def test_a_size_refused_for_the_model_is_named_aspect_ratio_with_the_ratios_it_takes(catalog: Catalog) -> None:
    refusal = catalog_refusal(catalog, model="veo-3.1-fast", aspectRatio="1:1")

    assert refusal.message == "aspectRatio must be one of 16:9, 9:16 for model 'veo-3.1-fast'"
    assert refusal.details == [
        {"field": "aspectRatio", "message": "unsupported aspect ratio", "allowed": ["16:9", "9:16"]}
    ]


def test_a_model_that_takes_no_ratio_says_to_send_a_size(catalog: Catalog) -> None:
    refusal = catalog_refusal(catalog, model="kling-2.5-turbo-replicate", aspectRatio="16:9")

    assert refusal.message.startswith("aspectRatio: none is available for model 'kling-2.5-turbo-replicate'; send size")
    assert refusal.details[0]["field"] == "aspectRatio"
    assert refusal.details[0]["allowed"] == []


def test_seconds_refused_for_the_model_are_named_duration_when_sent_so(catalog: Catalog) -> None:
    refusal = catalog_refusal(catalog, model="veo-3.1-fast", duration=5)

    assert refusal.message.startswith("duration must be one of 4, 6, 8")
    assert refusal.details[0]["field"] == "duration"


def test_a_refusal_of_a_field_sent_under_our_name_is_left_as_it_is(catalog: Catalog) -> None:
    refusal = catalog_refusal(catalog, model="veo-3.1-fast", size="1024x1024", duration=8)

    assert refusal.message.startswith("size must be one of")
    assert refusal.details[0]["field"] == "size"
