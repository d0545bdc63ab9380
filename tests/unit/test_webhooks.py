"""Provider webhooks: Standard Webhooks (Replicate) and fal's ED25519 scheme, verified and read
(videotasks/adapters/providers/webhooks.py), and the adapters asking for them on the create."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from tests.clocks import ManualClock
from videotasks.adapters.providers import JobRequest
from videotasks.adapters.providers.fal_queue import FalQueueProvider
from videotasks.adapters.providers.replicate import ReplicateProvider
from videotasks.adapters.providers.webhooks import (
    FalKeys,
    WebhookNotice,
    WebhookRejected,
    WebhookVerificationUnavailableError,
    read_webhook,
    takes_webhooks,
    verify_fal_webhook,
    verify_standard_webhook,
)
from videotasks.domain.catalog import Catalog, ProviderEntry

# The Standard Webhooks specification's own example (its reference libraries test against it).
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
SPEC_HEADERS = {"webhook-id": SPEC_ID, "webhook-timestamp": str(SPEC_TIMESTAMP), "webhook-signature": SPEC_SIGNATURE}

SECRET = "whsec_" + base64.b64encode(b"a-test-webhook-secret-32-bytes!!").decode()
NOW = 1_764_300_000
JWKS_URL = "https://keys.example/.well-known/jwks.json"
FAL_USER = "user-123"
FAL_REQUEST = "123e4567-e89b-12d3-a456-426614174000"
FAL_APP = "fal-ai/kling-video"

# Shaped as Replicate's "Receive webhooks" page shows a prediction, ended.
REPLICATE_BODY = json.dumps(
    {
        "id": "ufawqhfynnddngldkgtslldrkq",
        "version": "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa",
        "created_at": "2022-04-26T22:13:06.224088Z",
        "started_at": "2022-04-26T22:13:06.422432Z",
        "completed_at": "2022-04-26T22:13:09.921553Z",
        "status": "succeeded",
        "input": {"text": "Alice"},
        "output": "https://replicate.delivery/pbxt/output.mp4",
        "error": None,
        "logs": "",
        "metrics": {"predict_time": 3.5},
    }
).encode()
# Shaped as fal's "Webhooks" page shows a successful result.
FAL_BODY = json.dumps(
    {
        "request_id": FAL_REQUEST,
        "gateway_request_id": FAL_REQUEST,
        "status": "OK",
        "payload": {"video": {"url": "https://v3.fal.media/files/output.mp4", "content_type": "video/mp4"}},
    }
).encode()


def standard_signed(body: bytes, *, secret: str = SECRET, webhook_id: str = "msg_1", at: int = NOW) -> dict[str, str]:
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{webhook_id}.{at}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(at),
        "webhook-signature": "v1," + base64.b64encode(digest).decode(),
    }


def fal_signed(body: bytes, key: Ed25519PrivateKey, *, request_id: str = FAL_REQUEST, at: int = NOW) -> dict[str, str]:
    message = "\n".join([request_id, FAL_USER, str(at), hashlib.sha256(body).hexdigest()]).encode()
    return {
        "X-Fal-Webhook-Request-Id": request_id,
        "X-Fal-Webhook-User-Id": FAL_USER,
        "X-Fal-Webhook-Timestamp": str(at),
        "X-Fal-Webhook-Signature": key.sign(message).hex(),
    }


def jwk(key: Ed25519PrivateKey) -> dict[str, str]:
    raw = key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).rstrip(b"=").decode()}


class KeyServer:
    """fal's JWKS endpoint: serves ``published`` and counts the fetches."""

    def __init__(self, *keys: Ed25519PrivateKey) -> None:
        self.published = [jwk(key) for key in keys]
        self.fetches = 0
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.fetches += 1
        return httpx.Response(self.status, json={"keys": self.published})

    def keys(self, clock: Callable[[], float] | None = None) -> FalKeys:
        return FalKeys(JWKS_URL, transport=httpx.MockTransport(self), clock=clock or ManualClock(0.0))


# -- Standard Webhooks ------------------------------------------------------------------------------------


def test_the_specifications_own_example_verifies() -> None:
    assert verify_standard_webhook(SPEC_HEADERS, SPEC_BODY, SPEC_SECRET, now=SPEC_TIMESTAMP) == (
        SPEC_ID,
        SPEC_TIMESTAMP,
    )


def test_headers_are_read_whatever_their_case() -> None:
    headers = {name.title(): value for name, value in SPEC_HEADERS.items()}

    assert verify_standard_webhook(headers, SPEC_BODY, SPEC_SECRET, now=SPEC_TIMESTAMP)[0] == SPEC_ID


def test_a_secret_without_its_prefix_is_the_same_key() -> None:
    bare = SPEC_SECRET.removeprefix("whsec_")

    assert verify_standard_webhook(SPEC_HEADERS, SPEC_BODY, bare, now=SPEC_TIMESTAMP)[0] == SPEC_ID


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: ({**h, "webhook-signature": "v1,Zm9yZ2Vk"}, b), "signature does not match"),
        (lambda h, b: (h, b + b" "), "signature does not match"),
        (lambda h, b: ({**h, "webhook-id": "msg_other"}, b), "signature does not match"),
        (lambda h, b: ({**h, "webhook-signature": "v2,abc v1a,def"}, b), "no v1 signature"),
        (lambda h, b: ({**h, "webhook-signature": "v1,***"}, b), "signature does not match"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-signature"}, b), "missing webhook-signature"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-id"}, b), "missing webhook-id"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "webhook-timestamp"}, b), "missing webhook-timestamp"),
        (lambda h, b: ({**h, "webhook-timestamp": "soon"}, b), "not whole epoch seconds"),
    ],
    ids=["forged", "tampered-body", "other-id", "no-v1", "not-base64", "no-sig", "no-id", "no-timestamp", "bad-ts"],
)
def test_what_was_not_signed_with_the_secret_is_rejected(change: Callable[..., Any], reason: str) -> None:
    headers, body = change(standard_signed(REPLICATE_BODY), REPLICATE_BODY)

    with pytest.raises(WebhookRejected, match=reason):
        verify_standard_webhook(headers, body, SECRET, now=NOW)


def test_a_webhook_signed_with_another_secret_is_rejected() -> None:
    other = "whsec_" + base64.b64encode(b"another-secret-altogether-32byte").decode()

    with pytest.raises(WebhookRejected, match="signature does not match"):
        verify_standard_webhook(standard_signed(REPLICATE_BODY, secret=other), REPLICATE_BODY, SECRET, now=NOW)


def test_one_good_signature_among_several_is_enough() -> None:
    # While a provider rotates its secret, it signs with both.
    good = standard_signed(REPLICATE_BODY)
    headers = {**good, "webhook-signature": f"v1,Zm9yZ2Vk v1a,abcd {good['webhook-signature']}"}

    assert verify_standard_webhook(headers, REPLICATE_BODY, SECRET, now=NOW) == ("msg_1", NOW)


@pytest.mark.parametrize(("at", "reason"), [(NOW - 301, "301 s old"), (NOW + 301, "301 s in the future")])
def test_a_timestamp_more_than_five_minutes_away_is_rejected_even_when_signed(at: int, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason):
        verify_standard_webhook(standard_signed(REPLICATE_BODY, at=at), REPLICATE_BODY, SECRET, now=NOW)


@pytest.mark.parametrize("at", [NOW - 300, NOW + 300])
def test_five_minutes_either_way_is_still_fresh(at: int) -> None:
    assert verify_standard_webhook(standard_signed(REPLICATE_BODY, at=at), REPLICATE_BODY, SECRET, now=NOW)[1] == at


def test_reasons_never_hold_the_secret_or_the_signature() -> None:
    headers = {**standard_signed(REPLICATE_BODY), "webhook-signature": "v1,Zm9yZ2Vk"}

    with pytest.raises(WebhookRejected) as caught:
        verify_standard_webhook(headers, REPLICATE_BODY, SECRET, now=NOW)

    assert SECRET.removeprefix("whsec_") not in str(caught.value)
    assert "Zm9yZ2Vk" not in caught.value.reason


def test_a_secret_that_is_not_base64_is_our_misconfiguration_not_a_rejection() -> None:
    with pytest.raises(WebhookVerificationUnavailableError, match="whsec_"):
        verify_standard_webhook(standard_signed(REPLICATE_BODY), REPLICATE_BODY, "whsec_***", now=NOW)


# -- fal ------------------------------------------------------------------------------------------------------


def test_a_webhook_fal_signed_verifies_with_its_published_key() -> None:
    key = Ed25519PrivateKey.generate()

    event_id, timestamp = verify_fal_webhook(fal_signed(FAL_BODY, key), FAL_BODY, KeyServer(key).keys(), now=NOW)

    assert (event_id, timestamp) == (f"{FAL_REQUEST}:{NOW}", NOW)


def test_any_key_of_the_set_may_have_signed() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()

    assert verify_fal_webhook(fal_signed(FAL_BODY, new), FAL_BODY, KeyServer(old, new).keys(), now=NOW)


def test_fals_retry_of_a_delivery_is_a_new_event_but_a_replayed_delivery_is_not() -> None:
    key = Ed25519PrivateKey.generate()
    keys = KeyServer(key).keys()

    first = verify_fal_webhook(fal_signed(FAL_BODY, key), FAL_BODY, keys, now=NOW)
    replayed = verify_fal_webhook(fal_signed(FAL_BODY, key), FAL_BODY, keys, now=NOW + 10)
    retried = verify_fal_webhook(fal_signed(FAL_BODY, key, at=NOW + 60), FAL_BODY, keys, now=NOW + 60)

    assert first[0] == replayed[0] != retried[0]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda h, b: (h, b.replace(b'"OK"', b'"ERROR"')), "signature does not match"),
        (lambda h, b: ({**h, "X-Fal-Webhook-User-Id": "someone-else"}, b), "signature does not match"),
        (lambda h, b: ({**h, "X-Fal-Webhook-Request-Id": "another-request"}, b), "signature does not match"),
        (lambda h, b: ({**h, "X-Fal-Webhook-Signature": "00" * 64}, b), "signature does not match"),
        (lambda h, b: ({**h, "X-Fal-Webhook-Signature": "not hex"}, b), "not hex"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "X-Fal-Webhook-Signature"}, b), "missing x-fal-webhook-sig"),
        (lambda h, b: ({k: v for k, v in h.items() if k != "X-Fal-Webhook-User-Id"}, b), "missing x-fal-webhook-user"),
        (lambda h, b: ({**h, "X-Fal-Webhook-Timestamp": str(NOW - 400)}, b), "400 s old"),
    ],
    ids=["tampered-body", "other-user", "other-request", "forged", "not-hex", "no-sig", "no-user", "stale"],
)
def test_what_fal_did_not_sign_is_rejected(change: Callable[..., Any], reason: str) -> None:
    key = Ed25519PrivateKey.generate()
    headers, body = change(fal_signed(FAL_BODY, key), FAL_BODY)

    with pytest.raises(WebhookRejected, match=reason):
        verify_fal_webhook(headers, body, KeyServer(key).keys(), now=NOW)


def test_a_webhook_signed_by_a_key_fal_does_not_publish_is_rejected() -> None:
    published, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()

    with pytest.raises(WebhookRejected, match="signature does not match"):
        verify_fal_webhook(fal_signed(FAL_BODY, stranger), FAL_BODY, KeyServer(published).keys(), now=NOW)


def test_the_key_set_is_fetched_once_and_kept() -> None:
    key = Ed25519PrivateKey.generate()
    server = KeyServer(key)
    keys = server.keys()

    for _ in range(3):
        verify_fal_webhook(fal_signed(FAL_BODY, key), FAL_BODY, keys, now=NOW)

    assert server.fetches == 1


def test_rotated_keys_are_fetched_again_when_no_cached_key_verifies() -> None:
    old, new = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    server, clock = KeyServer(old), ManualClock(0.0)
    keys = server.keys(clock)
    verify_fal_webhook(fal_signed(FAL_BODY, old), FAL_BODY, keys, now=NOW)
    server.published = [jwk(new)]  # fal rotates
    clock.advance(120)

    assert verify_fal_webhook(fal_signed(FAL_BODY, new), FAL_BODY, keys, now=NOW)
    assert server.fetches == 2


def test_forged_webhooks_cannot_make_us_fetch_the_key_set_again_and_again() -> None:
    published, stranger = Ed25519PrivateKey.generate(), Ed25519PrivateKey.generate()
    server, clock = KeyServer(published), ManualClock(0.0)
    keys = server.keys(clock)

    for _ in range(5):
        with pytest.raises(WebhookRejected):
            verify_fal_webhook(fal_signed(FAL_BODY, stranger), FAL_BODY, keys, now=NOW)
        clock.advance(1)

    assert server.fetches == 1


def test_a_key_set_older_than_a_day_is_fetched_again() -> None:
    key = Ed25519PrivateKey.generate()
    server, clock = KeyServer(key), ManualClock(0.0)
    keys = server.keys(clock)
    keys.keys()
    clock.advance(24 * 3600)

    keys.keys()

    assert server.fetches == 2


def test_a_key_set_that_cannot_be_fetched_is_unavailable_not_a_rejection() -> None:
    key = Ed25519PrivateKey.generate()
    server = KeyServer(key)
    server.status = 503

    with pytest.raises(WebhookVerificationUnavailableError, match="could not be fetched"):
        verify_fal_webhook(fal_signed(FAL_BODY, key), FAL_BODY, server.keys(), now=NOW)


def test_keys_of_other_kinds_in_the_set_are_passed_over() -> None:
    key = Ed25519PrivateKey.generate()
    server = KeyServer(key)
    server.published = [{"kty": "RSA", "n": "abc", "e": "AQAB"}, {"kty": "OKP", "crv": "X25519", "x": "AA"}, jwk(key)]

    assert verify_fal_webhook(fal_signed(FAL_BODY, key), FAL_BODY, server.keys(), now=NOW)


# -- reading ----------------------------------------------------------------------------------------------------


def test_a_replicate_webhook_names_the_prediction() -> None:
    notice = read_webhook(
        "replicate", standard_signed(REPLICATE_BODY), REPLICATE_BODY, secret=SECRET, jwks=None, now=NOW
    )

    assert notice == WebhookNotice("ufawqhfynnddngldkgtslldrkq", "msg_1", NOW, "succeeded")


def test_a_fal_webhook_names_the_job_as_the_fal_adapter_does() -> None:
    key = Ed25519PrivateKey.generate()

    notice = read_webhook(
        "fal_queue",
        fal_signed(FAL_BODY, key),
        FAL_BODY,
        secret=None,
        jwks=KeyServer(key).keys(),
        now=NOW,
        query={"app": FAL_APP},
    )

    assert notice == WebhookNotice(f"{FAL_APP}/requests/{FAL_REQUEST}", f"{FAL_REQUEST}:{NOW}", NOW, "OK")


@pytest.mark.parametrize("query", [{}, {"app": ""}, {"app": "fal-ai/../x"}])
def test_a_fal_webhook_whose_url_names_no_app_is_rejected(query: dict[str, str]) -> None:
    key = Ed25519PrivateKey.generate()

    with pytest.raises(WebhookRejected, match="app="):
        read_webhook(
            "fal_queue",
            fal_signed(FAL_BODY, key),
            FAL_BODY,
            secret=None,
            jwks=KeyServer(key).keys(),
            now=NOW,
            query=query,
        )


def test_a_fal_body_about_another_request_than_the_signed_one_is_rejected() -> None:
    key = Ed25519PrivateKey.generate()
    body = FAL_BODY.replace(FAL_REQUEST.encode(), b"other-request")

    with pytest.raises(WebhookRejected, match="request_id"):
        read_webhook(
            "fal_queue",
            fal_signed(body, key),
            body,
            secret=None,
            jwks=KeyServer(key).keys(),
            now=NOW,
            query={"app": FAL_APP},
        )


@pytest.mark.parametrize(
    ("body", "reason"),
    [(b"not json", "not JSON"), (b"[1, 2]", "not a JSON object"), (b'{"status": "ok"}', "no prediction id")],
)
def test_a_signed_body_we_cannot_read_is_rejected_with_its_reason(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected, match=reason):
        read_webhook("replicate", standard_signed(body), body, secret=SECRET, jwks=None, now=NOW)


def test_the_signature_is_checked_before_the_body_is_read() -> None:
    with pytest.raises(WebhookRejected, match="signature does not match"):
        read_webhook("replicate", standard_signed(b"{}"), b"not json", secret=SECRET, jwks=None, now=NOW)


@pytest.mark.parametrize("shape", ["openai_videos", "gemini_veo", "openai_images", "nonsense"])
def test_a_shape_without_webhooks_rejects_every_call(shape: str) -> None:
    with pytest.raises(WebhookRejected, match="sends no webhooks"):
        read_webhook(shape, standard_signed(REPLICATE_BODY), REPLICATE_BODY, secret=SECRET, jwks=None, now=NOW)


def test_an_entry_without_its_verification_material_cannot_verify() -> None:
    with pytest.raises(WebhookVerificationUnavailableError):
        read_webhook("replicate", standard_signed(REPLICATE_BODY), REPLICATE_BODY, secret=None, jwks=None, now=NOW)
    with pytest.raises(WebhookVerificationUnavailableError):
        read_webhook("fal_queue", {}, FAL_BODY, secret=None, jwks=None, now=NOW, query={"app": FAL_APP})


# -- configuration ------------------------------------------------------------------------------------------------


def entry(shape: str, **fields: Any) -> ProviderEntry:
    return ProviderEntry(
        id="x", shape=shape, base_url="https://p.example", path=None, auth=None, secret_name="k", **fields
    )


@pytest.mark.parametrize(
    ("provider_entry", "takes"),
    [
        (entry("replicate", webhook_secret_name="videotasks/replicate-webhook"), True),
        (entry("replicate"), False),
        (entry("fal_queue", webhook_jwks_url=JWKS_URL), True),
        (entry("fal_queue", webhook_secret_name="unused"), False),
        (entry("openai_videos", webhook_secret_name="s", webhook_jwks_url=JWKS_URL), False),
        (entry("gemini_veo", webhook_secret_name="s"), False),
        (entry("no_such_shape", webhook_secret_name="s"), False),
    ],
)
def test_an_entry_takes_webhooks_when_its_shape_sends_them_and_we_can_verify_them(
    provider_entry: ProviderEntry, takes: bool
) -> None:
    assert takes_webhooks(provider_entry) is takes


def test_entries_read_their_webhook_variables_and_fal_knows_its_published_keys(
    settings_for: Callable[..., Any],
) -> None:
    variables = {
        "PROVIDER_REPLICATE_API_KEY_SECRET": "r",
        "PROVIDER_FAL_API_KEY_SECRET": "f",
        "PROVIDER_GEMINI_API_KEY_SECRET": "g",
        "PROVIDER_API_KEY_SECRET": "o",
        "PROVIDER_REPLICATE_WEBHOOK_SECRET": "videotasks/replicate-webhook",
    }
    entries = Catalog.configured(settings_for(provider_variables=variables)).entries
    moved = Catalog.configured(
        settings_for(provider_variables={**variables, "PROVIDER_FAL_WEBHOOK_JWKS_URL": JWKS_URL})
    ).entries

    assert entries["replicate"].webhook_secret_name == "videotasks/replicate-webhook"
    assert entries["fal"].webhook_jwks_url == "https://rest.alpha.fal.ai/.well-known/jwks.json"
    assert moved["fal"].webhook_jwks_url == JWKS_URL
    assert entries["fal"].webhook_secret_name is None
    assert [entry_id for entry_id, found in entries.items() if takes_webhooks(found)] == ["fal", "replicate"]


# -- asking for webhooks ------------------------------------------------------------------------------------------


def test_fal_is_asked_for_its_webhook_on_the_submit_with_the_app_in_our_url() -> None:
    seen: list[httpx.Request] = []

    def queue(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"request_id": FAL_REQUEST, "status": "IN_QUEUE"})

    with FalQueueProvider(base_url="https://queue.fal.run", api_key="k", transport=httpx.MockTransport(queue)) as fal:
        job = fal.create_job(
            JobRequest(
                prompt="a cat",
                model="fal-ai/kling-video/v2.1/standard/text-to-video",
                webhook_url="https://api.example/api/video/webhooks/fal",
            )
        )
        fal.create_job(JobRequest(prompt="a cat", model="fal-ai/kling-video/v2.1/standard/text-to-video"))

    asked = httpx.URL(seen[0].url.params["fal_webhook"])
    assert (asked.path, asked.params["app"]) == ("/api/video/webhooks/fal", FAL_APP)
    assert job.id == f"{asked.params['app']}/requests/{FAL_REQUEST}"
    assert "fal_webhook" not in seen[1].url.params


def test_replicate_is_asked_for_the_completed_event_only() -> None:
    bodies: list[dict[str, Any]] = []

    def api(request: httpx.Request) -> httpx.Response:
        bodies.append(json.loads(request.content))
        return httpx.Response(201, json={"id": "p1", "status": "starting"})

    with ReplicateProvider(
        base_url="https://api.replicate.com", api_key="k", transport=httpx.MockTransport(api)
    ) as rep:
        rep.create_job(JobRequest(prompt="a cat", model="google/veo-3", webhook_url="https://api.example/hook"))
        rep.create_job(JobRequest(prompt="a cat", model="google/veo-3"))

    assert (bodies[0]["webhook"], bodies[0]["webhook_events_filter"]) == ("https://api.example/hook", ["completed"])
    assert "webhook" not in bodies[1] and "webhook_events_filter" not in bodies[1]
