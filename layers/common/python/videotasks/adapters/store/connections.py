"""The connections table: open WebSocket connections and what each one follows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Attr, Key
from botocore.exceptions import ClientError

from videotasks.adapters import aws
from videotasks.adapters.tracing import tracer
from videotasks.domain import messages
from videotasks.domain.errors import ConflictError, NotFoundError
from videotasks.domain.models import iso
from videotasks.settings import Settings

CONNECTION_TTL = timedelta(hours=2, minutes=10)  # API Gateway closes every connection within 2 hours
BATCH_GET_LIMIT = 100  # keys per BatchGetItem
# A throttled BatchGetItem answers with UnprocessedKeys rather than an error: read those again, briefly.
BATCH_GET_ATTEMPTS = 3
BATCH_GET_BACKOFF_SECONDS = 0.05


@dataclass(frozen=True)
class Connection:
    connection_id: str
    user_id: str
    subscriptions: frozenset[str]  # videoIds followed one by one
    all_tasks: bool  # follows every task of the user
    lang: messages.Lang = messages.DEFAULT_LANG  # of its task messages, chosen at the handshake


class ConnectionRepository:
    """Open WebSocket connections and what each one follows.

    Item: ``connectionId``, ``userId``, ``subscriptions`` (a string set of videoIds, absent when empty since
    DynamoDB has no empty sets), ``allTasks``, ``lang`` (the language of its messages; absent on items
    written before it existed, which read English), ``connectedAt``, ``expiresAt`` (TTL). TTL only collects
    items whose ``$disconnect`` never ran; a live connection is never filtered by it, and a stale item is
    deleted the first time a post to it answers 410 Gone. Every write to an existing connection is
    conditional on it still being there and belonging to the caller.
    """

    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self._table = self._dynamodb.Table(settings.connections_table)

    @tracer.capture_method
    def add(self, connection_id: str, user_id: str, now: datetime, *, lang: str = messages.DEFAULT_LANG) -> None:
        self._table.put_item(
            Item={
                "connectionId": connection_id,
                "userId": user_id,
                "allTasks": False,
                "lang": messages.as_lang(lang),
                "connectedAt": iso(now),
                "expiresAt": _connection_expiry(now),
            }
        )

    @tracer.capture_method
    def remove(self, connection_id: str) -> None:
        self._table.delete_item(Key={"connectionId": connection_id})

    @tracer.capture_method
    def get(self, connection_id: str) -> Connection | None:
        item = self._table.get_item(Key={"connectionId": connection_id}, ConsistentRead=True).get("Item")
        return _connection(item) if item else None

    @tracer.capture_method
    def follow(
        self, connection_id: str, user_id: str, now: datetime, *, video_id: str | None, max_subscriptions: int
    ) -> None:
        """Follow one task, or with ``video_id=None`` every task of the user.

        Raises ``NotFoundError`` when the connection is not registered to ``user_id`` and ``ConflictError``
        when it already follows ``max_subscriptions`` tasks one by one.
        """
        values: dict[str, Any] = {":user": user_id, ":expires": _connection_expiry(now)}
        condition = "attribute_exists(connectionId) AND userId = :user"
        if video_id is None:
            expression = "SET allTasks = :true, expiresAt = :expires"
            values[":true"] = True
        else:
            expression = "ADD subscriptions :ids SET expiresAt = :expires"
            condition += (
                " AND (attribute_not_exists(subscriptions) OR size(subscriptions) < :max"
                " OR contains(subscriptions, :id))"
            )
            values.update({":ids": {video_id}, ":id": video_id, ":max": max_subscriptions})
        if not self._update_connection(connection_id, expression, condition, values):
            current = self.get(connection_id)
            if current is None or current.user_id != user_id:
                raise NotFoundError(key="connection_not_registered")
            raise ConflictError(key="too_many_subscriptions", params={"limit": max_subscriptions})

    @tracer.capture_method
    def unfollow(self, connection_id: str, user_id: str, now: datetime, *, video_id: str | None) -> None:
        """Stop following one task, or with ``video_id=None`` everything. Raises ``NotFoundError`` when
        the connection is not registered to ``user_id``."""
        values: dict[str, Any] = {":user": user_id, ":expires": _connection_expiry(now)}
        if video_id is None:
            expression = "SET allTasks = :false, expiresAt = :expires REMOVE subscriptions"
            values[":false"] = False
        else:
            expression = "DELETE subscriptions :ids SET expiresAt = :expires"
            values[":ids"] = {video_id}
        condition = "attribute_exists(connectionId) AND userId = :user"
        if not self._update_connection(connection_id, expression, condition, values):
            raise NotFoundError(key="connection_not_registered")

    @tracer.capture_method
    def touch(self, connection_id: str, now: datetime) -> bool:
        """Push the connection's expiry back; False when it is not registered (any more)."""
        return self._update_connection(
            connection_id,
            "SET expiresAt = :expires",
            "attribute_exists(connectionId)",
            {":expires": _connection_expiry(now)},
        )

    @tracer.capture_method
    def subscribers(self, user_id: str, video_id: str) -> list[str]:
        """Ids of the user's connections that follow ``video_id``: a Query on ``ByUser``, never a Scan."""
        return sorted(
            connection_id for ids in self.subscribers_by_lang(user_id, video_id).values() for connection_id in ids
        )

    @tracer.capture_method
    def subscribers_by_lang(self, user_id: str, video_id: str) -> dict[messages.Lang, list[str]]:
        """``subscribers``, grouped by the language of their messages (each list sorted).

        The index projects only what decides whether a connection follows the task; each follower's
        language is read from the table itself (one BatchGetItem per 100 followers). Adding ``lang`` to
        the projection instead would change an existing index's projection, which DynamoDB cannot do in
        place: a deployed stack could not be updated (docs/DEPLOYMENT.md, "Tables and indexes")."""
        followers = self._followers(user_id, video_id)
        langs = self._langs(followers)
        found: dict[messages.Lang, list[str]] = {}
        for connection_id in followers:
            # A connection gone between the two reads has nobody left to read its message; still send
            # it, in English: a post to it answers 410 and the broadcaster forgets it then.
            found.setdefault(langs.get(connection_id, messages.DEFAULT_LANG), []).append(connection_id)
        return {lang: sorted(ids) for lang, ids in found.items()}

    def _followers(self, user_id: str, video_id: str) -> list[str]:
        query: dict[str, Any] = {
            "IndexName": "ByUser",
            "KeyConditionExpression": Key("userId").eq(user_id),
            "FilterExpression": Attr("allTasks").eq(True) | Attr("subscriptions").contains(video_id),
            "ProjectionExpression": "connectionId",
        }
        followers: list[str] = []
        while True:
            reply = self._table.query(**query)
            followers.extend(str(item["connectionId"]) for item in reply.get("Items", []))
            if not reply.get("LastEvaluatedKey"):
                return followers
            query["ExclusiveStartKey"] = reply["LastEvaluatedKey"]

    def _langs(self, connection_ids: list[str]) -> dict[str, messages.Lang]:
        """The language of each connection still in the table."""
        langs: dict[str, messages.Lang] = {}
        for start in range(0, len(connection_ids), BATCH_GET_LIMIT):
            keys = [
                {"connectionId": connection_id} for connection_id in connection_ids[start : start + BATCH_GET_LIMIT]
            ]
            request: dict[str, Any] = {
                self._table.name: {
                    "Keys": keys,
                    "ProjectionExpression": "connectionId, #lang",
                    "ExpressionAttributeNames": {"#lang": "lang"},
                }
            }
            for attempt in range(BATCH_GET_ATTEMPTS):
                reply = self._dynamodb.batch_get_item(RequestItems=request)
                for item in reply.get("Responses", {}).get(self._table.name, []):
                    langs[str(item["connectionId"])] = messages.as_lang(item.get("lang"))
                request = reply.get("UnprocessedKeys") or {}
                if not request:
                    break
                time.sleep(BATCH_GET_BACKOFF_SECONDS * 2**attempt)
            # Keys still unprocessed after the retries read English rather than delay everyone's message.
        return langs

    def _update_connection(self, connection_id: str, expression: str, condition: str, values: dict[str, Any]) -> bool:
        try:
            self._table.update_item(
                Key={"connectionId": connection_id},
                UpdateExpression=expression,
                ConditionExpression=condition,
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True


def _connection_expiry(now: datetime) -> int:
    return int((now + CONNECTION_TTL).timestamp())


def _connection(item: dict[str, Any]) -> Connection:
    return Connection(
        connection_id=str(item["connectionId"]),
        user_id=str(item["userId"]),
        subscriptions=frozenset(str(video_id) for video_id in item.get("subscriptions") or ()),
        all_tasks=bool(item.get("allTasks")),
        lang=messages.as_lang(item.get("lang")),
    )
