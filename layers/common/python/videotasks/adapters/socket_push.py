"""Sending data to WebSocket connections: PostToConnection on the API Gateway Management API.

The endpoint is the stage's ``https://{api}.execute-api.{region}.amazonaws.com/{stage}`` in the cloud and
the local gateway's ``http://127.0.0.1:{WS_PORT}`` offline (``WEBSOCKET_ENDPOINT``); the calls are the same.

One connection's trouble never reaches another: each post has its own outcome, and posts run concurrently
on a small thread pool (boto3 clients are thread-safe; the pool matches botocore's connection pool so no
thread waits for a socket). Throttling and 5xx are retried by botocore's standard retry mode first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import BotoCoreError, ClientError

from videotasks.adapters import aws

logger = Logger(child=True)

MAX_CONCURRENT_POSTS = 10  # botocore's default max_pool_connections


class Delivery(StrEnum):
    DELIVERED = "delivered"
    GONE = "gone"  # 410: the client went away; the connection's record should go too
    FAILED = "failed"  # anything else (throttled after retries, 5xx, network): this message is lost to it


@dataclass(frozen=True)
class Deliveries:
    outcomes: dict[str, Delivery] = field(default_factory=dict)

    def with_outcome(self, outcome: Delivery) -> list[str]:
        return [connection_id for connection_id, value in self.outcomes.items() if value is outcome]

    @property
    def delivered(self) -> list[str]:
        return self.with_outcome(Delivery.DELIVERED)

    @property
    def gone(self) -> list[str]:
        return self.with_outcome(Delivery.GONE)

    @property
    def failed(self) -> list[str]:
        return self.with_outcome(Delivery.FAILED)


class ConnectionNotifier:
    def __init__(self, endpoint: str, *, client: Any | None = None, max_workers: int = MAX_CONCURRENT_POSTS) -> None:
        if client is None:
            if not endpoint:
                raise ValueError("WEBSOCKET_ENDPOINT is not set: there is nowhere to post to")
            client = aws.client("apigatewaymanagementapi", endpoint_url=endpoint)
        self._client = client
        self._max_workers = max_workers
        self._pool: ThreadPoolExecutor | None = None

    def post(self, connection_id: str, data: bytes) -> Delivery:
        try:
            self._client.post_to_connection(ConnectionId=connection_id, Data=data)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code")
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code == "GoneException" or status == 410:
                return Delivery.GONE
            logger.warning("post to connection failed", extra={"connectionId": connection_id, "errorCode": code})
            return Delivery.FAILED
        except BotoCoreError as exc:
            logger.warning("post to connection failed", extra={"connectionId": connection_id, "error": repr(exc)})
            return Delivery.FAILED
        return Delivery.DELIVERED

    def post_all(self, connection_ids: Sequence[str], data: bytes) -> Deliveries:
        """Post ``data`` to every connection at once; each gets its own outcome."""
        return self.post_each(dict.fromkeys(connection_ids, data))

    def post_each(self, payloads: Mapping[str, bytes]) -> Deliveries:
        """Post each connection its own ``payloads[connection_id]``, all at once; each gets its own outcome."""
        connection_ids = list(payloads)
        if len(connection_ids) <= 1 or self._max_workers <= 1:
            return Deliveries(
                {connection_id: self.post(connection_id, payloads[connection_id]) for connection_id in connection_ids}
            )
        if self._pool is None:  # threads start on first use and are reused by later invocations
            self._pool = ThreadPoolExecutor(max_workers=self._max_workers, thread_name_prefix="post")
        results = self._pool.map(
            lambda connection_id: self.post(connection_id, payloads[connection_id]), connection_ids
        )
        return Deliveries(dict(zip(connection_ids, results, strict=True)))
