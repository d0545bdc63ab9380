"""The webhooks table on moto: replays refused, and the hand-over of a waiting execution's token."""

from __future__ import annotations

from typing import Any

import pytest

from tests.fixtures.aws import AwsStack, shared_dynamodb
from videotasks.adapters.store.webhooks import SEEN_TTL_SECONDS, WebhookStore

NOW = 1_800_000_000.0


@pytest.fixture
def store(aws_stack: AwsStack) -> WebhookStore:
    return WebhookStore(aws_stack.settings, dynamodb=shared_dynamodb())


def items(aws_stack: AwsStack) -> dict[str, dict[str, Any]]:
    return {item["id"]: item for item in aws_stack.table("WEBHOOKS_TABLE").scan()["Items"]}


def test_a_notice_is_taken_once_and_expires_after_a_day(store: WebhookStore, aws_stack: AwsStack) -> None:
    assert store.remember("replicate", "msg_1", now=NOW)
    assert not store.remember("replicate", "msg_1", now=NOW + 1)
    assert store.remember("fal", "msg_1", now=NOW), "another provider's id of the same spelling is another notice"
    assert items(aws_stack)["SEEN#replicate#msg_1"]["expiresAt"] == int(NOW) + SEEN_TTL_SECONDS


def test_a_forgotten_notice_can_be_taken_again(store: WebhookStore) -> None:
    store.remember("replicate", "msg_1", now=NOW)
    store.forget("replicate", "msg_1")

    assert store.remember("replicate", "msg_1", now=NOW)


def test_a_parked_token_is_taken_once_and_leaves_nothing_behind(store: WebhookStore, aws_stack: AwsStack) -> None:
    assert not store.park("video_1", "token-1", now=NOW).wake_now

    assert store.take_token("video_1", now=NOW) == "token-1"
    assert "WAIT#video_1" not in items(aws_stack), "the next wait must not find a pending mark"
    assert not store.park("video_1", "token-2", now=NOW + 5).wake_now


def test_a_webhook_before_the_wait_makes_the_next_wait_end_at_once(store: WebhookStore, aws_stack: AwsStack) -> None:
    assert store.take_token("video_1", now=NOW) is None
    assert items(aws_stack)["WAIT#video_1"]["pending"] == int(NOW)

    assert store.park("video_1", "token-1", now=NOW + 1).wake_now
    assert "WAIT#video_1" not in items(aws_stack), "answered: the wait after that one waits again"
    assert not store.park("video_1", "token-2", now=NOW + 9).wake_now


def test_a_second_webhook_finds_no_token_to_take(store: WebhookStore) -> None:
    store.park("video_1", "token-1", now=NOW)

    assert store.take_token("video_1", now=NOW) == "token-1"
    assert store.take_token("video_1", now=NOW + 1) is None
