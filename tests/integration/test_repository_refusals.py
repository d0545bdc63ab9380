"""How the repository reads each refusal DynamoDB can answer a write with, on botocore's Stubber: the exact
error shapes DynamoDB sends, including the ones moto never produces (throttling reasons)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from botocore.stub import ANY, Stubber

from tests.fixtures.tasks import new_task
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.store.writes import (
    FIRST_BACKOFF_SECONDS,
    MAX_BACKOFF_SECONDS,
    WRITE_ATTEMPTS,
    Refusal,
    refusal,
)
from videotasks.domain.errors import ConflictError, StaleWriteError, TaskStoreBusyError
from videotasks.domain.models import TaskStatus

BUSY_REASONS = ["TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"]
BUSY_CODES = [
    "TransactionConflictException",
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TransactionInProgressException",
]


class Stubbed:
    def __init__(self, aws_stack: Any) -> None:
        self.resource = boto3.resource("dynamodb")
        self.stubber = Stubber(self.resource.meta.client)
        self.pauses: list[float] = []
        self.tokens: list[str] = []
        self.repository = TaskRepository(aws_stack.settings, dynamodb=self.resource, pause=self.pauses.append)
        self.resource.meta.client.meta.events.register(
            "provide-client-params.dynamodb.TransactWriteItems", self._record_token
        )

    def _record_token(self, params: dict[str, Any], **kwargs: Any) -> None:
        self.tokens.append(params["ClientRequestToken"])

    def cancel(self, *codes: str) -> None:
        """A TransactionCanceledException with one reason per item, as DynamoDB lists them."""
        listed = ", ".join(codes)
        self.stubber.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            service_message=f"Transaction cancelled, please refer cancellation reasons for specific reasons [{listed}]",
            modeled_fields={"CancellationReasons": [{"Code": code} for code in codes]},
        )

    def commit(self) -> None:
        self.stubber.add_response("transact_write_items", {}, {"TransactItems": ANY, "ClientRequestToken": ANY})

    def refuse_update(self, code: str) -> None:
        self.stubber.add_client_error("update_item", service_error_code=code, service_message="refused")

    def accept_update(self) -> None:
        self.stubber.add_response("update_item", {})


@pytest.fixture
def stubbed(aws_stack: Any) -> Iterator[Stubbed]:
    stubbed = Stubbed(aws_stack)
    with stubbed.stubber:
        yield stubbed
    stubbed.stubber.assert_no_pending_responses()


def create(stubbed: Stubbed) -> None:
    stubbed.repository.create(new_task())


def test_a_failed_condition_is_a_lost_race_and_is_not_tried_again(stubbed: Stubbed) -> None:
    stubbed.cancel("ConditionalCheckFailed", "None", "None")

    with pytest.raises(StaleWriteError):
        create(stubbed)
    assert stubbed.pauses == []


def test_a_failed_condition_next_to_a_conflict_is_still_a_lost_race(stubbed: Stubbed) -> None:
    stubbed.cancel("ConditionalCheckFailed", "TransactionConflict", "None")

    with pytest.raises(StaleWriteError):
        create(stubbed)


@pytest.mark.parametrize("reason", BUSY_REASONS)
def test_a_passing_refusal_is_tried_again_and_goes_through(stubbed: Stubbed, reason: str) -> None:
    stubbed.cancel("None", reason, "None")
    stubbed.commit()

    create(stubbed)

    assert len(stubbed.pauses) == 1


@pytest.mark.parametrize("reason", BUSY_REASONS)
def test_a_refusal_that_lasts_is_a_busy_store_after_a_bounded_wait(stubbed: Stubbed, reason: str) -> None:
    for _ in range(WRITE_ATTEMPTS):
        stubbed.cancel("None", reason, "None")

    with pytest.raises(TaskStoreBusyError) as busy:
        create(stubbed)

    assert not isinstance(busy.value, StaleWriteError | ConflictError)
    assert (busy.value.http_status, busy.value.code, busy.value.retry_after_seconds) == (429, "RATE_LIMITED", 1)
    assert len(stubbed.pauses) == WRITE_ATTEMPTS - 1
    for attempt, pause in enumerate(stubbed.pauses):
        assert 0 <= pause <= min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**attempt)
    assert sum(stubbed.pauses) <= 0.75


def test_each_attempt_after_a_cancellation_carries_a_new_request_token(stubbed: Stubbed) -> None:
    stubbed.cancel("None", "TransactionConflict", "None")
    stubbed.cancel("None", "TransactionConflict", "None")
    stubbed.commit()

    create(stubbed)

    assert len(stubbed.tokens) == 3 and len(set(stubbed.tokens)) == 3


def test_an_error_that_is_not_a_refusal_of_the_moment_is_raised_as_it_is(stubbed: Stubbed) -> None:
    stubbed.cancel("None", "ValidationError", "None")

    with pytest.raises(ClientError) as raised:
        create(stubbed)
    assert raised.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert stubbed.pauses == []


@pytest.mark.parametrize("code", BUSY_CODES)
def test_a_progress_write_refused_for_a_moment_is_tried_again(stubbed: Stubbed, code: str) -> None:
    task = new_task(status=TaskStatus.PROCESSING)
    stubbed.refuse_update(code)
    stubbed.accept_update()

    assert stubbed.repository.update_running(task, progress=30).progress == 30
    assert len(stubbed.pauses) == 1


def test_a_progress_write_refused_at_every_attempt_is_a_busy_store(stubbed: Stubbed) -> None:
    task = new_task(status=TaskStatus.PROCESSING)
    for _ in range(WRITE_ATTEMPTS):
        stubbed.refuse_update("TransactionConflictException")

    with pytest.raises(TaskStoreBusyError):
        stubbed.repository.update_running(task, progress=30)


def test_a_progress_write_whose_condition_failed_is_a_lost_race(stubbed: Stubbed) -> None:
    stubbed.refuse_update("ConditionalCheckFailedException")

    with pytest.raises(StaleWriteError):
        stubbed.repository.update_running(new_task(status=TaskStatus.PROCESSING), progress=30)


def test_recording_the_execution_meets_a_transaction_on_the_task_and_is_tried_again(stubbed: Stubbed) -> None:
    stubbed.refuse_update("TransactionConflictException")
    stubbed.accept_update()

    stubbed.repository.set_execution("video_x", "arn:aws:states:us-east-1:123456789012:execution:m:video_x")

    assert len(stubbed.pauses) == 1


def error(code: str, **response: Any) -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": response.pop("message", "")}, **response}, "Write")


@pytest.mark.parametrize(
    ("raised", "expected"),
    [
        (error("ConditionalCheckFailedException"), Refusal.STALE),
        (error("TransactionConflictException"), Refusal.BUSY),
        (error("ValidationException"), Refusal.UNKNOWN),
        (error("ResourceNotFoundException"), Refusal.UNKNOWN),
        (
            error("TransactionCanceledException", CancellationReasons=[{"Code": "None"}, {"Code": "None"}]),
            Refusal.UNKNOWN,
        ),
        # A client that did not parse the reasons: DynamoDB lists them in the message too.
        (
            error("TransactionCanceledException", message="… specific reasons [None, TransactionConflict]"),
            Refusal.BUSY,
        ),
        (
            error("TransactionCanceledException", message="… specific reasons [ConditionalCheckFailed, None]"),
            Refusal.STALE,
        ),
    ],
)
def test_refusals_are_read_from_the_code_and_the_cancellation_reasons(raised: ClientError, expected: Refusal) -> None:
    assert refusal(raised) is expected
