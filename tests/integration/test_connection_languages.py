"""Followers' languages are read with BatchGetItem, which answers a throttled share as UnprocessedKeys rather
than an error (DynamoDB does so under load; moto never does): those keys are read again."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from videotasks.adapters.store import connections as connections_module
from videotasks.adapters.store.connections import ConnectionRepository

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


def follow_all(connections: ConnectionRepository, connection_id: str, lang: str) -> None:
    connections.add(connection_id, "alice", NOW, lang=lang)
    connections.follow(connection_id, "alice", NOW, video_id=None, max_subscriptions=10)


def test_keys_a_throttled_batch_get_left_unprocessed_are_read_again(
    connections: ConnectionRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    follow_all(connections, "c-en=", "en")
    follow_all(connections, "c-zh=", "zh-CN")
    dynamodb = connections._dynamodb
    real = dynamodb.batch_get_item
    calls: list[int] = []

    def throttled_once(RequestItems: dict[str, Any]) -> dict[str, Any]:
        calls.append(len(next(iter(RequestItems.values()))["Keys"]))
        if len(calls) > 1:
            return real(RequestItems=RequestItems)
        [(table, request)] = RequestItems.items()
        # The first key is answered, the other left for later, as a throttled BatchGetItem does.
        answered = real(RequestItems={table: {**request, "Keys": request["Keys"][:1]}})
        return {**answered, "UnprocessedKeys": {table: {**request, "Keys": request["Keys"][1:]}}}

    monkeypatch.setattr(dynamodb, "batch_get_item", throttled_once)
    monkeypatch.setattr(connections_module, "BATCH_GET_BACKOFF_SECONDS", 0)

    assert connections.subscribers_by_lang("alice", "video_x") == {"en": ["c-en="], "zh-CN": ["c-zh="]}
    assert calls == [2, 1]
