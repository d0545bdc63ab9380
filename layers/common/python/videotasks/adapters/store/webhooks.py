"""The webhooks table: which provider notices were already taken, and where a waiting execution parks its token.

Two kinds of item share the table (key ``id``, TTL ``expiresAt``):

- ``SEEN#<entry>#<event id>``: a provider notice we acted on. Written with a condition that it is new, so
  a replayed notice (the same ``webhook-id``) is refused however many copies arrive at once. Kept longer
  than any notice is accepted (signatures older than five minutes are refused anyway).
- ``WAIT#<videoId>``: the hand-over between the execution's wait state and the webhook. The wait state
  parks its task token here (``park``); the webhook takes it (``take_token``) and wakes the execution. A
  webhook that finds no token (the execution is polling at that moment, or has not parked yet) leaves
  ``pending`` instead, and the next ``park`` finds it and wakes itself at once. Both sides write with
  one conditional update, so a notice is never lost between them: at worst it costs one extra poll.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from videotasks.adapters import aws
from videotasks.adapters.tracing import tracer
from videotasks.settings import Settings

# A notice is accepted for five minutes after it was signed; remembering it for a day covers that with room
# for clock skew, and costs one small item per notice.
SEEN_TTL_SECONDS = 24 * 3600
# A parked token lives at most as long as the longest wait (the state machine's own limit is 12.5 hours).
WAIT_TTL_SECONDS = 13 * 3600


@dataclass(frozen=True)
class Parked:
    """What ``park`` found: ``wake_now`` when a webhook came while nothing was waiting."""

    wake_now: bool


class WebhookStore:
    def __init__(self, settings: Settings, *, dynamodb: Any | None = None) -> None:
        self._dynamodb = dynamodb or aws.resource("dynamodb")
        self._table = self._dynamodb.Table(settings.webhooks_table)

    @tracer.capture_method
    def remember(self, entry_id: str, event_id: str, *, now: float) -> bool:
        """Record a notice as taken; False when it was taken before (a replay)."""
        try:
            self._table.put_item(
                Item={"id": f"SEEN#{entry_id}#{event_id}", "expiresAt": int(now) + SEEN_TTL_SECONDS},
                ConditionExpression="attribute_not_exists(id)",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return False
            raise
        return True

    @tracer.capture_method
    def forget(self, entry_id: str, event_id: str) -> None:
        """Undo ``remember`` for a notice we could not act on, so the provider's retry is not a replay."""
        self._table.delete_item(Key={"id": f"SEEN#{entry_id}#{event_id}"})

    @tracer.capture_method
    def park(self, video_id: str, token: str, *, now: float) -> Parked:
        """Leave the execution's token for the webhook, unless a webhook already came (then wake now)."""
        key = {"id": f"WAIT#{video_id}"}
        try:
            self._table.update_item(
                Key=key,
                UpdateExpression="SET #token = :token, expiresAt = :expires",
                ConditionExpression="attribute_not_exists(pending)",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":token": token, ":expires": int(now) + WAIT_TTL_SECONDS},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            self._table.delete_item(Key=key)  # the pending notice is answered by the wake that follows
            return Parked(wake_now=True)
        return Parked(wake_now=False)

    @tracer.capture_method
    def take_token(self, video_id: str, *, now: float) -> str | None:
        """The parked token, taken so nobody wakes the same wait twice; None (and a pending mark for the
        next ``park``) when nothing is parked."""
        reply = self._table.update_item(
            Key={"id": f"WAIT#{video_id}"},
            UpdateExpression="SET pending = :now, expiresAt = :expires REMOVE #token",
            ExpressionAttributeNames={"#token": "token"},
            ExpressionAttributeValues={":now": int(now), ":expires": int(now) + WAIT_TTL_SECONDS},
            ReturnValues="ALL_OLD",
        )
        token = (reply.get("Attributes") or {}).get("token")
        if token is None:
            return None
        # Woken: the mark just written must not wake the next wait too. Only our own mark is removed.
        try:
            self._table.delete_item(
                Key={"id": f"WAIT#{video_id}"},
                ConditionExpression="pending = :now AND attribute_not_exists(#token)",
                ExpressionAttributeNames={"#token": "token"},
                ExpressionAttributeValues={":now": int(now)},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return str(token)
