"""Provider webhooks: verifying that a call came from the provider, and reading which job it is about.

The one place that knows how each provider signs its webhooks. Written from the public documentation, read on
2026-11-28:

- Standard Webhooks, the scheme Replicate uses: https://www.standardwebhooks.com/ and its specification
  (https://github.com/standard-webhooks/standard-webhooks/blob/main/spec/standard-webhooks.md): headers
  ``webhook-id``, ``webhook-timestamp`` (epoch seconds), ``webhook-signature`` (space-separated
  ``v1,<base64>`` entries, one per signing secret in rotation); the content signed is
  ``<id>.<timestamp>.<raw body>`` with HMAC-SHA256 keyed by the base64 decoding of what follows ``whsec_``
  in the secret.
- Replicate: https://replicate.com/docs/topics/webhooks/verify-webhook ("Verify webhooks": the three headers
  above, ``webhook-id`` "the same when a webhook is being resent"), https://replicate.com/docs/topics/webhooks/receive-webhook
  (the body is the prediction object; ``webhook_events_filter``), and the account's signing secret from
  ``GET https://api.replicate.com/v1/webhooks/default/secret`` (``{"key": "whsec_..."}``).
- fal: https://docs.fal.ai/model-apis/model-endpoints/webhooks ("Verifying Your Webhook"): headers
  ``X-Fal-Webhook-Request-Id``, ``-User-Id``, ``-Timestamp`` (epoch seconds) and ``-Signature`` (hex), an
  ED25519 signature over ``request_id \\n user_id \\n timestamp \\n sha256-hex(raw body)`` by any key of the JWKS
  fal publishes at ``https://rest.alpha.fal.ai/.well-known/jwks.json`` (OKP/Ed25519 keys, ``x`` in base64url;
  "cache for up to 24 hours"); the body is ``{request_id, gateway_request_id, status: OK|ERROR, payload,
  error}``; a failed delivery is retried 10 times over 2 hours.

Both schemes refuse a timestamp more than five minutes from our clock, either way. Replays within those
five minutes are the caller's to refuse, by remembering ``WebhookNotice.event_id`` for longer than that:
for Standard Webhooks it is ``webhook-id`` (a provider's own retry reuses it, so a retry of a delivery we
already took is refused too, which is harmless: that delivery already woke the task); fal documents no
delivery id, so it is the request id and the signed timestamp together: one captured delivery cannot be
played again, while fal's own retries (new timestamp, new signature) still get through.

A fal job's id in our store is ``<app>/requests/<request_id>`` (see ``fal_queue``), and fal's webhook
names only the request id: so the fal adapter adds ``app=<app>`` to the webhook URL it hands fal, and
``read_webhook`` takes the query of the URL the webhook came to. The query is not signed; a caller who
changes it can only make the lookup miss, since request ids are unique.

Nothing here logs, and no reason given echoes a secret or a signature.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    from videotasks.domain.catalog import ProviderEntry

DEFAULT_TOLERANCE_SECONDS = 300
FAL_APP_PARAMETER = "app"
STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 - the scheme's prefix, not a secret

# Shapes that take a webhook, and what each needs to verify one: a shared secret or a key set's URL.
_NEEDS_SECRET = frozenset({"replicate"})
_NEEDS_JWKS = frozenset({"fal_queue"})


@dataclass(frozen=True)
class WebhookNotice:
    """A verified webhook: which job it is about, and what identifies this delivery."""

    external_id: str  # the job's id as our adapter's ``ProviderJob.id`` (the task's ``externalTaskId``)
    event_id: str  # remember it (longer than the tolerance) to refuse a replay
    timestamp: int  # epoch seconds, as the provider signed it
    raw_status: str | None  # the provider's word for the job's state, when the body says it


class WebhookRejected(Exception):  # noqa: N818 - it names the outcome the route answers 401 for
    """The call is not a webhook we accept (missing header, bad signature, stale, unreadable body). Answer
    401 and change nothing. ``reason`` names what is wrong, never a secret."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class WebhookVerificationUnavailableError(Exception):
    """We cannot verify right now (fal's key set could not be fetched) or at all (a secret that is not a
    ``whsec_`` secret): not the sender's fault, so not a 401; the provider retries, and polling goes on."""


# -- Standard Webhooks (Replicate) ------------------------------------------------------------------------


def verify_standard_webhook(
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> tuple[str, int]:
    """``(webhook-id, timestamp)`` of a delivery signed with ``secret`` (``whsec_<base64>``); else
    ``WebhookRejected``."""
    found = _lowered(headers)
    event_id = _required(found, "webhook-id")
    stamp = _required(found, "webhook-timestamp")
    signatures = _required(found, "webhook-signature")
    timestamp = _fresh(stamp, "webhook-timestamp", now, tolerance)
    key = _standard_key(secret)
    expected = hmac.new(key, f"{event_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    offered = [entry.partition(",") for entry in signatures.split()]
    v1 = [value for version, sep, value in offered if sep and version == "v1"]
    if not v1:
        raise WebhookRejected("webhook-signature holds no v1 signature")
    # Every entry is compared (no early exit), each in constant time.
    matched = False
    for value in v1:
        matched |= hmac.compare_digest(_b64_or_empty(value), expected)
    if not matched:
        raise WebhookRejected("signature does not match")
    return event_id, timestamp


def _standard_key(secret: str) -> bytes:
    encoded = secret.strip().removeprefix(STANDARD_SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if not key:
        raise WebhookVerificationUnavailableError("the webhook secret is not a whsec_<base64> secret")
    return key


def _b64_or_empty(value: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return b""


# -- fal ----------------------------------------------------------------------------------------------------


class FalKeys:
    """fal's webhook key set (the entry's ``webhook_jwks_url``): fetched from ``url`` on first use, kept
    ``max_age`` seconds (fal: up to 24 h), fetched again when no key verifies a webhook (fal rotated its
    keys), at most once per ``refetch_interval`` so forged webhooks cannot make us hammer fal. One per
    container."""

    def __init__(
        self,
        url: str,
        *,
        max_age: float = 24 * 3600,
        refetch_interval: float = 60.0,
        timeout: float = 5.0,
        transport: httpx.BaseTransport | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.url = url
        self._max_age = max_age
        self._refetch_interval = refetch_interval
        self._timeout = timeout
        self._transport = transport
        self._clock = clock
        self._keys: tuple[bytes, ...] = ()
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def keys(self) -> tuple[bytes, ...]:
        """The raw 32-byte ED25519 public keys, from the cache while it is young enough."""
        with self._lock:
            if self._fetched_at is None or self._clock() - self._fetched_at >= self._max_age:
                self._fetch()
            return self._keys

    def refreshed(self) -> tuple[bytes, ...] | None:
        """The key set fetched again, or None when it was fetched too recently to ask again."""
        with self._lock:
            if self._fetched_at is not None and self._clock() - self._fetched_at < self._refetch_interval:
                return None
            self._fetch()
            return self._keys

    def _fetch(self) -> None:
        try:
            with httpx.Client(timeout=self._timeout, transport=self._transport) as client:
                reply = client.get(self.url)
            reply.raise_for_status()
            document = reply.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise WebhookVerificationUnavailableError(
                f"fal's webhook keys could not be fetched ({type(exc).__name__})"
            ) from None
        self._keys = _ed25519_keys(document)
        self._fetched_at = self._clock()
        if not self._keys:
            raise WebhookVerificationUnavailableError("fal's webhook key set holds no Ed25519 key")


def _ed25519_keys(document: Any) -> tuple[bytes, ...]:
    listed = document.get("keys") if isinstance(document, Mapping) else None
    keys: list[bytes] = []
    for item in listed if isinstance(listed, list) else ():
        if not isinstance(item, Mapping) or item.get("kty") != "OKP" or item.get("crv") != "Ed25519":
            continue
        x = item.get("x")
        if not isinstance(x, str):
            continue
        try:
            raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        except (binascii.Error, ValueError):
            continue
        if len(raw) == 32:
            keys.append(raw)
    return tuple(keys)


def verify_fal_webhook(
    headers: Mapping[str, str],
    body: bytes,
    jwks: FalKeys,
    *,
    now: float,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> tuple[str, int]:
    """``(event id, timestamp)`` of a webhook fal signed (the event id is ``<request id>:<timestamp>``, see
    the module's note on replays); else ``WebhookRejected``."""
    found = _lowered(headers)
    request_id = _required(found, "x-fal-webhook-request-id")
    user_id = _required(found, "x-fal-webhook-user-id")
    stamp = _required(found, "x-fal-webhook-timestamp")
    signature_hex = _required(found, "x-fal-webhook-signature")
    timestamp = _fresh(stamp, "x-fal-webhook-timestamp", now, tolerance)
    try:
        signature = bytes.fromhex(signature_hex)
    except ValueError:
        raise WebhookRejected("x-fal-webhook-signature is not hex") from None
    message = "\n".join([request_id, user_id, stamp, hashlib.sha256(body).hexdigest()]).encode()
    if not _any_key_verifies(jwks.keys(), signature, message):
        rotated = jwks.refreshed()
        if rotated is None or not _any_key_verifies(rotated, signature, message):
            raise WebhookRejected("signature does not match")
    return f"{request_id}:{timestamp}", timestamp


def _any_key_verifies(keys: tuple[bytes, ...], signature: bytes, message: bytes) -> bool:
    # Only the fal path pays for importing cryptography.
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    for raw in keys:
        try:
            Ed25519PublicKey.from_public_bytes(raw).verify(signature, message)
        except (InvalidSignature, ValueError):
            continue
        return True
    return False


# -- reading ------------------------------------------------------------------------------------------------


def read_webhook(
    shape: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: str | None,
    jwks: FalKeys | None,
    now: float,
    query: Mapping[str, str] | None = None,
) -> WebhookNotice:
    """The verified notice of a webhook that came for a provider entry of ``shape``. ``secret`` is the
    entry's ``whsec_`` secret (Standard Webhooks shapes), ``jwks`` its key set (fal), ``query`` the query
    of the URL the webhook came to. Raises ``WebhookRejected`` for anything we do not accept, the signature
    checked before the body is read."""
    if shape == "replicate":
        if not secret:
            raise WebhookVerificationUnavailableError("this provider entry has no webhook secret")
        event_id, timestamp = verify_standard_webhook(headers, body, secret, now=now)
        prediction = _json_object(body)
        external_id = _text(prediction, "id")
        if external_id is None:
            raise WebhookRejected("the body names no prediction id")
        return WebhookNotice(external_id, event_id, timestamp, _text(prediction, "status"))
    if shape == "fal_queue":
        if jwks is None:
            raise WebhookVerificationUnavailableError("this provider entry has no webhook key set")
        event_id, timestamp = verify_fal_webhook(headers, body, jwks, now=now)
        result = _json_object(body)
        request_id = _text(result, "request_id")
        if request_id is None:
            raise WebhookRejected("the body names no request_id")
        if request_id != _lowered(headers)["x-fal-webhook-request-id"].strip():
            raise WebhookRejected("the body's request_id is not the one signed in x-fal-webhook-request-id")
        app = (query or {}).get(FAL_APP_PARAMETER, "").strip().strip("/")
        if not app or any(part in ("", ".", "..") for part in app.split("/")):
            raise WebhookRejected(f"the webhook URL names no {FAL_APP_PARAMETER}= (the fal app of the request)")
        return WebhookNotice(f"{app}/requests/{request_id}", event_id, timestamp, _text(result, "status"))
    raise WebhookRejected(f"provider shape {shape!r} sends no webhooks we take")


def takes_webhooks(entry: ProviderEntry) -> bool:
    """Whether tasks of ``entry`` can ask for webhooks: its shape sends them and we could verify one."""
    from videotasks.adapters.providers import ShapeUnavailableError, adapter_class

    try:
        capabilities = adapter_class(entry.shape).CAPABILITIES
    except (ShapeUnavailableError, AttributeError):
        return False
    if not capabilities.webhook:
        return False
    if entry.shape in _NEEDS_SECRET:
        return bool(entry.webhook_secret_name)
    if entry.shape in _NEEDS_JWKS:
        return bool(entry.webhook_jwks_url)
    return False


# -- internals ----------------------------------------------------------------------------------------------


def _lowered(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.lower(): value for name, value in headers.items()}


def _required(found: Mapping[str, str], name: str) -> str:
    value = found.get(name, "").strip()
    if not value:
        raise WebhookRejected(f"missing {name} header")
    return value


def _fresh(stamp: str, name: str, now: float, tolerance: int) -> int:
    try:
        timestamp = int(stamp)
    except ValueError:
        raise WebhookRejected(f"{name} is not whole epoch seconds") from None
    age = now - timestamp
    if age > tolerance:
        raise WebhookRejected(f"timestamp is {int(age)} s old (at most {tolerance} s)")
    if -age > tolerance:
        raise WebhookRejected(f"timestamp is {int(-age)} s in the future (at most {tolerance} s)")
    return timestamp


def _json_object(body: bytes) -> Mapping[str, Any]:
    try:
        parsed = json.loads(body)
    except (UnicodeDecodeError, ValueError):
        raise WebhookRejected("the body is not JSON") from None
    if not isinstance(parsed, Mapping):
        raise WebhookRejected("the body is not a JSON object")
    return parsed


def _text(payload: Mapping[str, Any], name: str) -> str | None:
    value = payload.get(name)
    return value.strip() if isinstance(value, str) and value.strip() else None
