"""The webhook address handed to providers: the request's own address, or the configured public one."""

from __future__ import annotations

import pytest

from videotasks.edge.public_url import webhook_base

DOMAIN = "abcdef1234.execute-api.us-east-1.amazonaws.com"


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        ("$default", f"https://{DOMAIN}/api/video/webhooks"),
        (None, f"https://{DOMAIN}/api/video/webhooks"),
        ("prod", f"https://{DOMAIN}/prod/api/video/webhooks"),
    ],
)
def test_the_address_the_request_came_in_on(stage: str | None, expected: str) -> None:
    assert webhook_base({"requestContext": {"domainName": DOMAIN, "stage": stage}}) == expected


def test_a_configured_public_url_wins() -> None:
    event = {"requestContext": {"domainName": DOMAIN, "stage": "$default"}}

    assert webhook_base(event, "https://api.example.com/api/video/") == "https://api.example.com/api/video/webhooks"


def test_no_address_known_means_no_webhooks() -> None:
    assert webhook_base({}) is None
