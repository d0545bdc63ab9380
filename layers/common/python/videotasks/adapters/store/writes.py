"""Conditional writes to DynamoDB: what a refusal means, and trying again while it only means "not now"."""

from __future__ import annotations

import enum
import random
import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from videotasks.domain.errors import StaleWriteError, TaskStoreBusyError

logger = Logger(child=True)

# A write DynamoDB refuses for a moment is tried again this many times in all, after a pause drawn at
# random below 50, 100, 200, 400 ms ("full jitter"): at most 0.75 s of waiting, well inside any caller's
# time budget, and writers that collided do not collide again in step.
WRITE_ATTEMPTS = 5
FIRST_BACKOFF_SECONDS = 0.05
MAX_BACKOFF_SECONDS = 0.4

_Result = TypeVar("_Result")


class Refusal(enum.Enum):
    """Why DynamoDB refused a write, as far as what to do next is concerned."""

    STALE = "stale"  # a condition failed: the item moved on; retrying cannot succeed
    BUSY = "busy"  # a transaction conflict or throttling: nothing was written; the same write may succeed soon
    UNKNOWN = "unknown"  # anything else (a malformed request, a missing table): not ours to hide


# Cancellation reasons (per item of a transaction) that say "not now" rather than "not so". ``None`` is
# DynamoDB's reason for the items that did not cause the cancellation.
_PASSING_REASONS = {"None", "TransactionConflict", "ThrottlingError", "ProvisionedThroughputExceeded"}
_PASSING_REASONS |= {"RequestLimitExceeded", "InternalServerError"}
# Error codes of a whole request, after botocore's own retries gave up on the throttling ones.
_BUSY_CODES = {"TransactionConflictException", "TransactionInProgressException", "ThrottlingException"}
_BUSY_CODES |= {"ProvisionedThroughputExceededException", "RequestLimitExceeded", "InternalServerError"}


def refusal(error: ClientError) -> Refusal:
    """The one place that reads DynamoDB's refusals.

    DynamoDB cancels a transaction for many reasons, one per item (``CancellationReasons``); only
    ``ConditionalCheckFailed`` means the item moved on. ``TransactionConflict`` (another transaction holds
    one of the items, e.g. the owner's counters that every task of theirs updates) and throttling mean the
    write may go through on another try. A single-item write meets the same as
    ``TransactionConflictException`` while a transaction holds its item.
    """
    code = error.response.get("Error", {}).get("Code", "")
    if code == "ConditionalCheckFailedException":
        return Refusal.STALE
    if code in _BUSY_CODES:
        return Refusal.BUSY
    if code != "TransactionCanceledException":
        return Refusal.UNKNOWN
    reasons = set(cancellation_codes(error))
    if "ConditionalCheckFailed" in reasons:
        return Refusal.STALE
    if reasons and reasons <= _PASSING_REASONS and reasons != {"None"}:
        return Refusal.BUSY
    return Refusal.UNKNOWN


def cancellation_codes(error: ClientError) -> list[str]:
    """A cancelled transaction's reason codes, one per item in the order of its items (empty for any other
    error)."""
    if error.response.get("Error", {}).get("Code") != "TransactionCanceledException":
        return []
    codes = [str(reason.get("Code")) for reason in error.response.get("CancellationReasons") or []]
    if not codes:  # a client that did not parse them: DynamoDB lists the codes in the message too
        listed = str(error.response.get("Error", {}).get("Message", "")).rpartition("[")[2].rstrip("]")
        codes = [part.strip() for part in listed.split(",") if part.strip()]
    return codes


class ConditionalWriter:
    """Runs conditional writes, again after a short random pause while DynamoDB is busy.

    ``pause`` is how the writer waits (tests record the pauses instead of sleeping them).
    """

    def __init__(self, client: Any, *, pause: Callable[[float], None] = time.sleep) -> None:
        self._client = client
        self._pause = pause

    def transact(
        self,
        items: list[dict[str, Any]],
        *,
        stale: str,
        refused: Callable[[list[str]], Exception | None] | None = None,
    ) -> None:
        """One transaction, tried again while DynamoDB refuses it for a moment.

        Each attempt carries a ClientRequestToken, which botocore's own retries of that attempt (after a
        timeout or a 500) send again, so DynamoDB applies it at most once. After a cancellation nothing was
        applied, and the next attempt takes a new token: a cancelled one is not worth repeating.

        ``refused(codes)`` reads a cancellation's reason codes (one per item): the exception it returns is
        raised as is, for a failed condition that means more than "the item moved on" (a limit reached).
        """
        token = str(uuid.uuid4())

        def attempt() -> None:
            nonlocal token
            try:
                self._client.transact_write_items(TransactItems=items, ClientRequestToken=token)
            except ClientError as exc:
                if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException":
                    token = str(uuid.uuid4())
                    meant = refused(cancellation_codes(exc)) if refused is not None else None
                    if meant is not None:
                        raise meant from exc
                raise

        self.write(attempt, stale=stale)

    def write(self, write: Callable[[], _Result], *, stale: str) -> _Result:
        """Run ``write``, again after a short random pause while DynamoDB is busy (``WRITE_ATTEMPTS`` in all).

        Raises ``StaleWriteError`` (with ``stale``) when a condition failed, and ``TaskStoreBusyError`` when
        DynamoDB was still busy at the last attempt.
        """
        for attempt in range(WRITE_ATTEMPTS):
            try:
                return write()
            except ClientError as exc:
                why = refusal(exc)
                if why is Refusal.STALE:
                    raise StaleWriteError(stale) from exc
                if why is Refusal.UNKNOWN:
                    raise
                # Logged, since a hot item (one user's counters) shows here first, long before it fails anything.
                refused = {"attempt": attempt + 1, "dynamodbError": exc.response.get("Error", {}).get("Code")}
                if attempt == WRITE_ATTEMPTS - 1:
                    logger.warning("DynamoDB stayed busy; the write is given up for now", extra=refused)
                    raise TaskStoreBusyError() from exc
                logger.info("DynamoDB refused a write for a moment; trying again", extra=refused)
                self._pause(random.uniform(0, min(MAX_BACKOFF_SECONDS, FIRST_BACKOFF_SECONDS * 2**attempt)))
        raise AssertionError("unreachable: the last attempt returns or raises")
