"""What the schemathesis run (test_fuzz_api_schemathesis.py) turned up, pinned case by case in process,
where it is quick to rerun and to read."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.integration.api_harness import BASE, Api

pytest_plugins = ["tests.integration.api_fixtures", "tests.e2e.conftest"]


@pytest.mark.parametrize("suffix", ["", "/content", "/cancel"])
@pytest.mark.parametrize(
    "video_id",
    [
        "0",
        "video_x",
        "video_00000000-0000-1000-8000-000000000000",  # a UUID, but not version 4
        "\x06x",
        "a\x7fb",
        "caf\u00e9\u2028",
        "\U00046c52",
    ],
)
def test_a_path_id_that_is_not_a_video_id_is_a_400_naming_video_id(api: Api, video_id: str, suffix: str) -> None:
    method = "POST" if suffix == "/cancel" else "GET"

    reply = api.call(method, f"{BASE}/tasks/{video_id}{suffix}")

    reply.validation_error("videoId")


@pytest.mark.e2e
def test_a_path_id_with_a_newline_gets_an_envelope_through_the_local_gateway(local_stack: Any, user_id: str) -> None:
    answer = httpx.get(f"{local_stack.api_url}/tasks/a%0Ab", headers=local_stack.auth(user_id), trust_env=False)

    assert answer.status_code < 500
    assert answer.json()["success"] is False
