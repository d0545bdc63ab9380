"""Feeds a DynamoDB stream in moto to a function, as Lambda's event source mapping does in the cloud.

moto keeps the stream (``describe_stream``/``get_shard_iterator``/``get_records`` work) but never invokes
Lambda without Docker (NOTES.md), so this thread polls every shard and invokes the function in-process
with the same event Lambda builds (``Records`` with wire-format images, ``eventSourceARN``, epoch-second
``ApproximateCreationDateTime``). It honours the template's event settings:

* ``StartingPosition`` for the shards present at start (new shards are read from their beginning);
* ``BatchSize``; one batch per shard at a time, in order;
* ``FunctionResponseTypes: [ReportBatchItemFailures]``: the batch is retried from the lowest reported
  sequence number (records before it are checkpointed), as Lambda does for streams;
* a function error retries the whole batch, halved first when ``BisectBatchOnFunctionError`` is on;
* ``MaximumRetryAttempts``: past it the records are dropped with a warning (where the cloud would send
  them to the on-failure destination). ``-1`` (forever, in the cloud) is capped locally.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from local.template import REGION, StreamSource

log = logging.getLogger("videotasks.local.stream")

LOCAL_RETRY_CAP = 10  # what MaximumRetryAttempts -1 means here
_Invoke = Callable[[dict[str, Any]], Any]


def lambda_record(record: dict[str, Any], stream_arn: str) -> dict[str, Any]:
    """A record from ``get_records`` in the shape Lambda passes to a function."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        change["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion", REGION),
        "dynamodb": _json_safe(change),
        "eventSourceARN": stream_arn,
    }


def _json_safe(value: Any) -> Any:
    """Binary attribute values travel base64-encoded in Lambda events."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {key: _json_safe(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_json_safe(item) for item in value]
    return value


class StreamPump:
    def __init__(
        self,
        source: StreamSource,
        stream_arn: str,
        invoke: _Invoke,
        *,
        endpoint: str | None = None,
        poll_interval: float = 0.25,
        retry_delay: float = 0.2,
    ) -> None:
        self.source = source
        self.stream_arn = stream_arn
        self._invoke = invoke
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=REGION)
        self._poll_interval = poll_interval
        self._retry_delay = retry_delay
        self._iterators: dict[str, str | None] = {}  # shard id -> next iterator (None: shard closed)
        self._started = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-pump-{source.function}", daemon=True)

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._discover_shards()  # before returning, so that writes made after start() are never missed
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                delivered = self.poll_once()
            except Exception:  # moto going away at shutdown, a transient error: poll again
                if self._stopping.is_set():
                    return
                log.exception("polling %s failed", self.stream_arn)
                delivered = 0
            if not delivered:
                self._stopping.wait(self._poll_interval)

    # polling -------------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Read one batch from every shard and deliver it; returns how many records were read."""
        if not self._started:
            self._discover_shards()
        self._discover_shards(new_only=True)
        read = 0
        for shard_id, iterator in list(self._iterators.items()):
            if iterator is None:
                continue
            reply = self._streams.get_records(ShardIterator=iterator, Limit=self.source.batch_size)
            self._iterators[shard_id] = reply.get("NextShardIterator")
            records = reply.get("Records", [])
            if records:
                read += len(records)
                self.deliver([lambda_record(record, self.stream_arn) for record in records])
        return read

    def _discover_shards(self, *, new_only: bool = False) -> None:
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self._iterators:
                continue
            position = "TRIM_HORIZON" if new_only else self.source.starting_position
            self._iterators[shard_id] = self._streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType=position
            )["ShardIterator"]
        self._started = True

    # delivery ------------------------------------------------------------------------------------
    def deliver(self, records: list[dict[str, Any]], attempts: int = 0) -> None:
        """Invoke the function with ``records`` until they are all processed or retries run out."""
        limit = self.source.maximum_retry_attempts
        limit = LOCAL_RETRY_CAP if limit < 0 else limit
        pending = records
        while pending:
            try:
                result = self._invoke({"Records": pending})
            except Exception as exc:
                attempts += 1
                if attempts > limit:
                    self._drop(pending, f"function error: {exc!r}")
                    return
                log.warning("%s failed on %d records (%r); retrying", self.source.function, len(pending), exc)
                if self.source.bisect_on_error and len(pending) > 1:
                    middle = len(pending) // 2
                    self.deliver(pending[:middle], attempts)
                    self.deliver(pending[middle:], attempts)
                    return
                self._pause(attempts)
                continue
            failed_from = self._first_failure(pending, result)
            if failed_from is None:
                return
            attempts += 1
            pending = pending[failed_from:]
            if attempts > limit:
                self._drop(pending, "reported as failed")
                return
            self._pause(attempts)

    def _first_failure(self, records: list[dict[str, Any]], result: Any) -> int | None:
        """Index of the record the batch resumes from, or None when it all succeeded."""
        if not self.source.reports_item_failures or not isinstance(result, dict):
            return None
        failures = result.get("batchItemFailures") or []
        if not failures:
            return None
        sequence_numbers = [record["dynamodb"]["SequenceNumber"] for record in records]
        reported = {failure.get("itemIdentifier") for failure in failures if isinstance(failure, dict)}
        positions = [index for index, number in enumerate(sequence_numbers) if number in reported]
        # An identifier that names no record of the batch makes Lambda retry the whole batch.
        return min(positions) if positions and len(positions) == len(reported) else 0

    def _pause(self, attempts: int) -> None:
        self._stopping.wait(min(2.0, self._retry_delay * 2 ** (attempts - 1)))

    def _drop(self, records: list[dict[str, Any]], reason: str) -> None:
        first, last = records[0]["dynamodb"]["SequenceNumber"], records[-1]["dynamodb"]["SequenceNumber"]
        log.warning(
            "%s: dropping %d stream records (%s..%s) after retries: %s",
            self.source.function,
            len(records),
            first,
            last,
            reason,
        )
