"""CORS as deployed: template.yaml grants browser origins in exactly two places, the HTTP API and the
media bucket, both from the ``CorsAllowedOrigins`` parameter; and the API function never adds a CORS
header of its own, which would bypass that list. The local gateway's behaviour is tested against the
running stack in test_security_gateway_e2e.py."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from local.template import load_template, resources

PARAMETER = {"Ref": "CorsAllowedOrigins"}
ORIGIN_KEYS = {"AllowOrigins", "AllowedOrigins", "AllowOrigin", "AccessControlAllowOrigin"}


def walk(node: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """Every (path, key, value) of the template's mappings."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield path, key, value
            yield from walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from walk(value, f"{path}[{index}]")


def test_every_origin_list_in_the_template_is_the_cors_allowed_origins_parameter() -> None:
    found = {f"{path}/{key}": value for path, key, value in walk(load_template()) if key in ORIGIN_KEYS}

    assert set(found) == {
        "/Globals/HttpApi/CorsConfiguration/AllowOrigins",
        "/Resources/MediaBucket/Properties/CorsConfiguration/CorsRules[0]/AllowedOrigins",
    }
    assert all(value == PARAMETER for value in found.values()), found


def test_no_cors_configuration_grants_credentials_or_any_origin_or_method() -> None:
    checked = []
    for path, key, value in walk(load_template()):
        if "CorsConfiguration" not in path:
            continue
        assert key != "AllowCredentials" or value is False, path
        if key in ORIGIN_KEYS | {"AllowMethods", "AllowedMethods"}:
            assert "*" not in json.dumps(value), (path, key, value)
            checked.append(key)

    assert sorted(checked) == ["AllowMethods", "AllowOrigins", "AllowedMethods", "AllowedOrigins"]


def test_the_default_allowed_origins_are_the_local_consoles_only() -> None:
    parameter = load_template()["Parameters"]["CorsAllowedOrigins"]

    assert parameter["Type"] == "CommaDelimitedList"
    origins = [origin.strip() for origin in str(parameter["Default"]).split(",")]
    assert origins
    assert all(origin.startswith(("http://localhost:", "http://127.0.0.1:")) for origin in origins), origins


def test_the_media_bucket_lets_browsers_read_only() -> None:
    (rule,) = resources(load_template(), "AWS::S3::Bucket")["MediaBucket"]["Properties"]["CorsConfiguration"][
        "CorsRules"
    ]

    assert set(rule["AllowedMethods"]) <= {"GET", "HEAD"}


@pytest.mark.parametrize(
    ("event", "changes"),
    [
        ("api_health", {}),
        ("api_get_task", {"user": None}),  # refused: the 401 envelope
        ("api_create_task", {"body": "{not json"}),  # the 400 envelope
    ],
    ids=["health", "unauthorised", "bad-json"],
)
def test_the_api_function_adds_no_cors_header_of_its_own(
    aws_stack: Any,
    invoke: Callable[[str, Any], Any],
    api_event: Callable[..., dict[str, Any]],
    event: str,
    changes: dict[str, Any],
) -> None:
    # API Gateway's CorsConfiguration is the one place origins are granted; a handler echoing Origin
    # would grant every site.
    request = api_event(event, headers={"origin": "https://evil.example"}, **changes)

    reply = invoke("ApiFunction", request)

    headers = {name.lower() for name in {**(reply.get("headers") or {}), **(reply.get("multiValueHeaders") or {})}}
    assert reply["statusCode"] in (200, 400, 401), reply
    assert not {name for name in headers if name.startswith("access-control-")}, reply["headers"]
