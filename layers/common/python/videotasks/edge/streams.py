"""The Lambda side of the tasks-stream consumers that turn each change into messages (WebSocket broadcasts,
outbound webhook events): Powertools batch processing with partial batch failure reporting
(``ReportBatchItemFailures`` on the event source mapping), in order (``OrderedStreamProcessor``), each
record's old and new images handed to the consumer's ``publish``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.batch import process_partial_response
from aws_lambda_powertools.utilities.data_classes.dynamo_db_stream_event import DynamoDBRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks.adapters.powertools_internals import OrderedStreamProcessor
from videotasks.adapters.tracing import tracer

StreamHandler = Callable[[dict[str, Any], LambdaContext], Any]

logger = Logger()


class Publisher(Protocol):
    def publish(self, old_image: dict[str, Any] | None, new_image: dict[str, Any] | None) -> Any: ...


def stream_handler(publisher: Callable[[], Publisher]) -> StreamHandler:
    """The handler of a stream consumer that passes every change to ``publisher()``'s ``publish`` (made on
    first use, so a cold start loads only what the consumer needs)."""
    processor = OrderedStreamProcessor()

    def record_handler(record: DynamoDBRecord) -> None:  # Powertools passes it by this name
        change = record.dynamodb
        if change is None:
            return
        publisher().publish(change.old_image or None, change.new_image or None)

    @logger.inject_lambda_context(log_event=False, clear_state=True)
    @tracer.capture_lambda_handler
    def lambda_handler(event: dict[str, Any], context: LambdaContext) -> Any:
        return process_partial_response(
            event=event, record_handler=record_handler, processor=processor, context=context
        )

    return lambda_handler
