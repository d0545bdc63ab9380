"""Bad input through the API function: a 400 envelope naming the field the client must change, as the
client named it (old aliases included), with no pydantic prefix, and nothing written."""

from __future__ import annotations

import base64
import json

import pytest

from tests.integration.api_harness import BASE, MISSING_VIDEO_ID, Api, Reply, item_count
from videotasks.domain.requests import MAX_METADATA_BYTES

pytest_plugins = ["tests.integration.api_fixtures"]


def assert_names(reply: Reply, field: str) -> None:
    error = reply.validation_error(field)
    assert reply.body["message"].startswith(f"{field}: "), reply.body
    assert error["details"][0]["field"] == field, reply.body
    for text in (reply.body["message"], error["message"], error["details"][0]["message"]):
        assert "Value error" not in text and "Assertion failed" not in text, reply.body


def assert_nothing_written(aws_stack) -> None:
    assert item_count(aws_stack, "TASKS_TABLE") == 0
    assert item_count(aws_stack, "IDEMPOTENCY_TABLE") == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"metadata": {"blob": "x" * MAX_METADATA_BYTES}}, "metadata"),
        ({"metadata": {"": 1}}, "metadata"),
        ({"metadata": {"createdAt": 1}}, "metadata.createdAt"),
        ({"duration": 8, "seconds": 8}, "duration"),
        ({"duration": "soon"}, "duration"),
        ({"duration": 0}, "duration"),
        ({"aspectRatio": "4:3"}, "aspectRatio"),
        ({"aspectRatio": "16:9", "size": "1280x720"}, "aspectRatio"),
        ({"mediaType": "AUDIO"}, "mediaType"),
        ({"referenceImage": "http://img.test/a.png"}, "referenceImage"),
        ({"inputReference": "http://img.test/a.png"}, "inputReference"),
        ({"inputReference": "file:///etc/passwd"}, "inputReference"),
        ({"inputReference": "javascript:alert(1)"}, "inputReference"),
        ({"inputReference": "s3://bucket/a.png"}, "inputReference"),
        ({"inputReference": "ftp://img.test/a.png"}, "inputReference"),
        ({"inputReference": "/images/a.png"}, "inputReference"),
        ({"inputReference": "data:text/html;base64,PGh0bWw+"}, "inputReference"),
    ],
)
def test_a_bad_create_body_names_the_field_as_sent_and_writes_nothing(api: Api, aws_stack, body, field):
    reply = api.create(body)

    assert_names(reply, field)
    assert_nothing_written(aws_stack)


def test_a_bad_reference_says_what_is_allowed(api: Api):
    message = api.create({"inputReference": "http://img.test/a.png"}).body["message"]

    assert "https://" in message and "data:" in message


def test_an_aspect_ratio_error_lists_the_ratios(api: Api):
    reply = api.create({"aspectRatio": "4:3"})

    assert reply.body["message"] == "aspectRatio: must be one of 16:9, 9:16, 1:1"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"cursor": "abc.def", "page": 2}, "cursor"),
        ({"cursor": "abc.def", "pageSize": 5}, "cursor"),
        ({"page": 11, "pageSize": 100}, "page"),
        ({"page": 51}, "page"),
        ({"mediaType": "AUDIO"}, "mediaType"),
        ({"mediaType": "VIDEO", "type": "IMAGE"}, "mediaType"),
    ],
)
def test_a_bad_listing_query_names_the_parameter(api: Api, query, field):
    assert_names(api.list(**query), field)


# -- bodies that are not a create body at all: still the envelope, still nothing written ----------------------


@pytest.mark.parametrize(
    ("raw", "content_type"),
    [
        ('{"prompt": "a cat"', "application/json"),
        ("prompt=a+cat", "application/x-www-form-urlencoded"),
        ("prompt: a cat", "text/plain"),
        ('{"prompt": "a cat"}'.encode("utf-16").decode("latin-1"), "application/json"),
        ("[]", "application/json"),
        ('"a cat"', "application/json"),
        ("null", "application/json"),
        ("", "application/json"),
        ('{"prompt": "' + "x" * 1_000_000 + '"}', "application/json"),
        ('{"prompt": "a cat", "metadata": ' + "[" * 5000 + "]" * 5000 + "}", "application/json"),
    ],
    ids=["truncated", "form", "text", "utf16", "array", "string", "null", "empty", "1mb-prompt", "deep-nesting"],
)
def test_a_body_that_is_no_create_body_is_a_400_envelope_and_writes_nothing(api: Api, aws_stack, raw, content_type):
    reply = api.call("POST", f"{BASE}/tasks", body=raw, headers={"content-type": content_type})

    reply.error(400, "VALIDATION_ERROR")
    assert "Value error" not in json.dumps(reply.body)
    assert_nothing_written(aws_stack)


def test_a_binary_body_is_a_400_envelope_saying_it_is_no_json_and_writes_nothing(api: Api, aws_stack):
    event = api.event("POST", f"{BASE}/tasks", headers={"content-type": "image/png"})
    event["body"] = base64.b64encode(b"\x89PNG\r\n\x1a\n\x00\x00").decode()
    event["isBase64Encoded"] = True

    result = api.send(event)

    body = json.loads(result["body"])
    assert result["statusCode"] == 400, body
    assert body["error"]["details"] == [{"field": "body", "message": "body is not valid JSON: it is not UTF-8 text"}]
    assert_nothing_written(aws_stack)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", f"{BASE}/tasks/", 200),
        ("GET", f"{BASE}/tasks/{MISSING_VIDEO_ID}/", 404),
        ("POST", f"{BASE}/tasks/{MISSING_VIDEO_ID}/cancel/", 404),
        ("GET", f"{BASE}/stats/", 200),
        ("DELETE", f"{BASE}/stats/", 405),
    ],
)
def test_a_trailing_slash_reaches_the_route_api_gateway_sent_it_to(api: Api, aws_stack, method, path, status):
    with_slash = api.call(method, path)
    without = api.call(method, path.rstrip("/"))

    assert with_slash.status == without.status == status, (with_slash.body, without.body)
    assert with_slash.body.get("error") == without.body.get("error")
    assert_nothing_written(aws_stack)


# -- the model's own rules, told in the names the client sent, on both create paths ---------------------------


@pytest.mark.parametrize("key", [None, "retry-1"], ids=["plain", "idempotent"])
@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"aspectRatio": "1:1"}, "aspectRatio", "aspectRatio must be one of 16:9, 9:16 for model 'veo-3.1-fast'"),
        ({"duration": 5}, "duration", "duration must be one of 4, 6, 8 for model 'veo-3.1-fast'"),
        ({"seconds": 5}, "seconds", "seconds must be one of 4, 6, 8 for model 'veo-3.1-fast'"),
    ],
)
def test_a_value_the_model_does_not_take_is_named_as_sent_and_writes_nothing(
    api: Api, aws_stack, body, field, message, key
):
    reply = api.create({"model": "veo-3.1-fast", **body}, key=key)

    error = reply.error(400, "VALIDATION_ERROR")
    assert reply.body["message"] == message
    assert error["details"][0]["field"] == field
    assert item_count(aws_stack, "TASKS_TABLE") == 0
