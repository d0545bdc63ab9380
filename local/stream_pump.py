"""Feeds a DynamoDB stream in moto to a function, as Lambda's event source mapping does in the cloud.

moto keeps the stream (``describe_stream``/``get_shard_iterator``/``get_records`` work) but never invokes
Lambda without Docker, so this thread polls every shard and invokes the function in-process
with the same event Lambda builds (``Records`` with wire-format images, ``eventSourceARN``, epoch-second
``ApproximateCreationDateTime``). It honours the template's event settings:

* ``StartingPosition`` for the shards present at start (new shards are read from their beginning);
* ``BatchSize``; one batch per shard at a time, in order;
* ``FilterCriteria``: records no pattern matches are skipped, as the event source mapping drops them
  (``local.event_filter``); a batch left empty invokes nothing;
* ``FunctionResponseTypes: [ReportBatchItemFailures]``: the batch is retried from the lowest reported
  sequence number (records before it are checkpointed), as Lambda does for streams;
* a function error retries the whole batch, halved first when ``BisectBatchOnFunctionError`` is on;
* ``MaximumRetryAttempts``: past it the records are dropped with a warning (where the cloud would send
  them to the on-failure destination). ``-1`` (forever, in the cloud) is capped locally.

The pump keeps its place as the last sequence number it read and asks for a fresh iterator after it on
every poll, rather than following ``NextShardIterator``: a failed ``TransactWriteItems`` makes moto put back
a deep copy of the whole table, stream shard included, and an iterator chain on the old shard object would
never see another record. ``forget`` (``local.moto_seam.forget_shard_iterators``) drops the iterators it has
used, since moto keeps every one it hands out.

Polling four times a second per mapping kept an idle stack busy (about an eighth of a core, most of it moto
answering the pumps), and the test suite keeps several stacks up at once; so the stack hands each pump a
``wake`` event that moto sets after every write request (``local.moto_seam.on_dynamodb_write``), and an idle
pump sleeps until a write arrives. Records appear only through writes, so nothing waits longer than before;
a slow safety poll remains.
"""

from __future__ import annotations

import base64
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Any

import boto3

from local.event_filter import passes
from local.template import REGION, StreamSource

log = logging.getLogger("videotasks.local.stream")

LOCAL_RETRY_CAP = 10  # what MaximumRetryAttempts -1 means here
_Invoke = Callable[[dict[str, Any]], Any]
_Forget = Callable[..., None]
_READ_LIMIT = 1000


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
        forget: _Forget | None = None,
        poll_interval: float = 0.25,
        retry_delay: float = 0.2,
        wake: threading.Event | None = None,
        idle_poll_interval: float = 2.0,
    ) -> None:
        self.source = source
        self.stream_arn = stream_arn
        self._invoke = invoke
        self._streams = boto3.client("dynamodbstreams", endpoint_url=endpoint, region_name=REGION)
        self._forget = forget or (lambda *_: None)
        # Told of every write (``wake``), an idle pump waits for one, polling only every ``idle_poll_interval``
        # to be safe; untold, it polls every ``poll_interval`` as Lambda does (four times a second).
        self._wake = wake or threading.Event()
        self._poll_interval = poll_interval if wake is None else idle_poll_interval
        self._retry_delay = retry_delay
        self._positions: dict[str, str | None] = {}  # shard id -> last sequence number read (None: none yet)
        self._started = False
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"stream-pump-{source.function}", daemon=True)

    # lifecycle -----------------------------------------------------------------------------------
    def start(self) -> None:
        self._discover_shards()  # before returning, so that writes made after start() are never missed
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()  # before reading: a write from here on wakes the wait below at once
            try:
                delivered = self.poll_once()
            except Exception:  # moto going away at shutdown, a transient error: poll again
                if self._stopping.is_set():
                    return
                log.exception("polling %s failed", self.stream_arn)
                delivered = 0
            if not delivered:
                self._wake.wait(self._poll_interval)

    # polling -------------------------------------------------------------------------------------
    def poll_once(self) -> int:
        """Read one batch from every shard and deliver it; returns how many records were read."""
        self._discover_shards()
        read = 0
        for shard_id, position in list(self._positions.items()):
            records = self._read(shard_id, position, self.source.batch_size)
            if records:
                read += len(records)
                wanted = [lambda_record(record, self.stream_arn) for record in records]
                wanted = [record for record in wanted if passes(self.source.filters, record)]
                if wanted:
                    self.deliver(wanted)
                self._positions[shard_id] = records[-1]["dynamodb"]["SequenceNumber"]
        return read

    def _discover_shards(self) -> None:
        """Shards present at the first look start at ``StartingPosition``; later ones at their beginning."""
        shards = self._streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"].get("Shards", [])
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id not in self._positions:
                latest = not self._started and self.source.starting_position == "LATEST"
                self._positions[shard_id] = self._last_sequence_number(shard_id) if latest else None
        self._started = True

    def _read(self, shard_id: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        where: dict[str, Any] = {"ShardIteratorType": "TRIM_HORIZON"}
        if after is not None:
            where = {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": after}
        iterator = self._streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id, **where)[
            "ShardIterator"
        ]
        reply = self._streams.get_records(ShardIterator=iterator, Limit=limit)
        self._forget(self.stream_arn, iterator, reply.get("NextShardIterator"))
        return list(reply.get("Records", []))

    def _last_sequence_number(self, shard_id: str) -> str | None:
        """Where LATEST is now, as a sequence number (None: the shard is still empty)."""
        last = None
        while records := self._read(shard_id, last, _READ_LIMIT):
            last = records[-1]["dynamodb"]["SequenceNumber"]
        return last

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
