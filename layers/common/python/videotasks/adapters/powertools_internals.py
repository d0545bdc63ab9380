"""The one place that leans on Powertools internals (private methods and attributes of its batch processor and
parameter providers).

Pinned with ``==`` in layers/common/requirements.txt (`PIN`); ``tests/static/test_library_internals.py``
fails, naming that pin, when an upgrade moves anything listed in `relied_on`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType
from aws_lambda_powertools.utilities.parameters.base import BaseProvider

PIN = ("layers/common/requirements.txt", "aws-lambda-powertools")  # (requirements file, distribution)


class EarlierRecordFailedError(Exception):
    """Not run: an earlier record of the batch failed, and the stream resumes from that one."""


class OrderedStreamProcessor(BatchProcessor):
    """Powertools' DynamoDB-stream batch processor that keeps the stream's order under partial failure.

    After the first failed record every later record of the batch is reported failed without being run,
    as Powertools' SQS FIFO processor does for message groups: Lambda retries from the first reported
    sequence number, so those records come back, in order, behind the one that failed.
    """

    _skipped = (EarlierRecordFailedError, EarlierRecordFailedError("an earlier record of this batch failed"), None)

    def __init__(self) -> None:
        # A batch whose every record failed is reported like any other rather than raised: the stream resumes
        # from its first record either way, and a report does not make Lambda bisect an in-order batch.
        super().__init__(EventType.DynamoDBStreams, raise_on_entire_batch_failure=False)

    def _process_record(self, record: dict[str, Any]) -> Any:
        if self.fail_messages:
            return self.failure_handler(
                record=self._to_batch_type(record, event_type=self.event_type), exception=self._skipped
            )
        return super()._process_record(record)


def key_parameter_cache_by(scope: Callable[[], Any]) -> Callable[[], None]:
    """Powertools' parameter cache (secrets included) keeps one entry per ``scope()`` value, not one per
    process: for a process that plays several Lambda functions at once (the local stack), where each must
    read its own secrets with its own role. Returns what puts the shared cache back."""
    original = BaseProvider._build_cache_key

    def scoped_key(self: Any, *args: Any, **kwargs: Any) -> Any:
        return (scope(), *original(self, *args, **kwargs))

    BaseProvider._build_cache_key = scoped_key  # type: ignore[method-assign]
    return lambda: setattr(BaseProvider, "_build_cache_key", original)


def relied_on() -> list[tuple[object, str, tuple[str, ...] | None]]:
    """Each (owner, attribute, leading parameter names or None) this module uses, for the pin's test."""
    processor = OrderedStreamProcessor()
    return [
        (BatchProcessor, "_process_record", ("self", "record")),
        (BatchProcessor, "_to_batch_type", ("self", "record", "event_type")),
        (BatchProcessor, "failure_handler", ("self", "record", "exception")),
        (processor, "fail_messages", None),
        (processor, "event_type", None),
        (BaseProvider, "_build_cache_key", ("self", "name", "transform", "is_nested")),
    ]
