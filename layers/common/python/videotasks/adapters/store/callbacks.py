"""Outbound webhooks' items in the stats table (key ``userId`` + ``bucket``): no new table, no new index.

- ``WEBHOOK_SECRET``: the user's signing secret (``secret``), and while a rotation's overlap lasts the one it
  replaced (``previous``, until ``previousUntil``). Created by the first read, in one UpdateItem with
  ``if_not_exists``, so two first reads (the API's and a delivery's) agree on one secret.
- ``CALLBACK#<videoId>#<attemptedAt>#<webhookId>``: one item per delivery attempt (time, status code or
  error kind, latency, next retry), expiring after ATTEMPT_TTL; the deliveries route reads a task's with one
  Query on the prefix. These buckets never meet the counters' (``TOTALS``, ``H#…``, ``MODEL#…``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

from videotasks.adapters import aws
from videotasks.adapters.store.items import plain
from videotasks.domain.models import iso, parse_iso
from videotasks.domain.signing import new_secret
from videotasks.settings import Settings

SECRET_BUCKET = "WEBHOOK_SECRET"  # noqa: S105 - a key name, not a secret
ATTEMPT_PREFIX = "CALLBACK#"
ATTEMPT_TTL = timedelta(days=7)
MAX_ATTEMPTS_LISTED = 200


@dataclass(frozen=True)
class SigningSecrets:
    current: str
    previous: str | None = None
    previous_until: str | None = None

    def signing(self, now: datetime) -> list[str]:
        """The secrets that sign now: the current one, and the previous one within its overlap window."""
        if self.previous and self.previous_until and parse_iso(self.previous_until) > now:
            return [self.current, self.previous]
        return [self.current]


@dataclass(frozen=True)
class DeliveryAttempt:
    webhook_id: str
    event: str
    attempt: int
    attempted_at: str
    status_code: int | None  # None: no HTTP answer (see ``error``)
    error: str | None  # timeout, connection, refused_address, ...; None when the receiver answered
    latency_ms: int
    outcome: str  # delivered, retry, stop, dead
    next_retry_at: str | None


class CallbackStore:
    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self._table = (dynamodb or aws.resource("dynamodb")).Table(settings.stats_table)

    # signing secrets -----------------------------------------------------------------------------
    def secrets(self, user_id: str) -> SigningSecrets:
        """The user's signing secrets, the first one created now if there is none yet."""
        reply = self._table.update_item(
            Key={"userId": user_id, "bucket": SECRET_BUCKET},
            UpdateExpression="SET secret = if_not_exists(secret, :new)",
            ExpressionAttributeValues={":new": new_secret()},
            ReturnValues="ALL_NEW",
        )
        return _secrets_of(reply["Attributes"])

    def rotate(self, user_id: str, now: datetime, overlap: timedelta) -> SigningSecrets:
        """A new current secret; the one it replaces keeps signing for ``overlap``. Conditional on the
        secret it read, so two rotations at once cannot both demote the same secret and lose one."""
        for _ in range(3):
            old = self.secrets(user_id)
            try:
                reply = self._table.update_item(
                    Key={"userId": user_id, "bucket": SECRET_BUCKET},
                    UpdateExpression="SET secret = :new, previous = :old, previousUntil = :until",
                    ConditionExpression="secret = :old",
                    ExpressionAttributeValues={
                        ":new": new_secret(),
                        ":old": old.current,
                        ":until": iso(now + overlap),
                    },
                    ReturnValues="ALL_NEW",
                )
            except ClientError as exc:
                if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                    continue
                raise
            return _secrets_of(reply["Attributes"])
        return self.secrets(user_id)  # rotated by someone else meanwhile: theirs is as new

    # delivery attempts ---------------------------------------------------------------------------
    def record_attempt(self, user_id: str, video_id: str, attempt: DeliveryAttempt) -> None:
        item: dict[str, Any] = {
            "userId": user_id,
            "bucket": f"{ATTEMPT_PREFIX}{video_id}#{attempt.attempted_at}#{attempt.webhook_id}#{attempt.attempt:03d}",
            "webhookId": attempt.webhook_id,
            "event": attempt.event,
            "attempt": attempt.attempt,
            "attemptedAt": attempt.attempted_at,
            "latencyMs": attempt.latency_ms,
            "outcome": attempt.outcome,
            "expiresAt": int((parse_iso(attempt.attempted_at) + ATTEMPT_TTL).timestamp()),
        }
        if attempt.status_code is not None:
            item["statusCode"] = attempt.status_code
        if attempt.error:
            item["error"] = attempt.error
        if attempt.next_retry_at:
            item["nextRetryAt"] = attempt.next_retry_at
        self._table.put_item(Item=item)

    def attempts(self, user_id: str, video_id: str) -> list[DeliveryAttempt]:
        """A task's delivery attempts, oldest first (at most MAX_ATTEMPTS_LISTED)."""
        reply = self._table.query(
            KeyConditionExpression=Key("userId").eq(user_id)
            & Key("bucket").begins_with(f"{ATTEMPT_PREFIX}{video_id}#"),
            Limit=MAX_ATTEMPTS_LISTED,
        )
        return [_attempt_of(plain(item)) for item in reply.get("Items", [])]


def _secrets_of(item: dict[str, Any]) -> SigningSecrets:
    return SigningSecrets(str(item["secret"]), item.get("previous"), item.get("previousUntil"))


def _attempt_of(item: dict[str, Any]) -> DeliveryAttempt:
    return DeliveryAttempt(
        webhook_id=item["webhookId"],
        event=item["event"],
        attempt=int(item["attempt"]),
        attempted_at=item["attemptedAt"],
        status_code=item.get("statusCode"),
        error=item.get("error"),
        latency_ms=int(item.get("latencyMs", 0)),
        outcome=item["outcome"],
        next_retry_at=item.get("nextRetryAt"),
    )
