"""Outbound webhooks, the pure parts: the SSRF policy, Standard Webhooks signatures (judged by the
``standardwebhooks`` package), which changes make events, and the retry schedule."""

from __future__ import annotations

import base64
import ipaddress
import json
import random
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.fixtures.tasks import new_task
from videotasks.domain import signing
from videotasks.domain.callback_urls import (
    CallbackUrlRefusedError,
    check_callback_url,
    check_resolved,
    is_public,
    literal_address,
)
from videotasks.domain.callbacks import (
    CallbackEvent,
    RetrySchedule,
    event_of_change,
    outcome_of,
    parse_retry_after,
    webhook_id,
)
from videotasks.domain.models import TaskStatus

# -------------------------------------------------------------------------------------------- SSRF policy
REFUSED = {
    # scheme
    "http://example.com/hook": "scheme",
    "ftp://example.com/hook": "scheme",
    "file:///etc/passwd": "scheme",
    "gopher://example.com/": "scheme",
    "//example.com/hook": "scheme",
    # credentials
    "https://user:pw@example.com/hook": "credentials",
    # loopback in every spelling
    "https://127.0.0.1/hook": "address",
    "https://127.1/hook": "address",
    "https://2130706433/hook": "address",
    "https://0x7f000001/hook": "address",
    "https://0x7f.0.0.1/hook": "address",
    "https://0177.0.0.1/hook": "address",
    "https://017700000001/hook": "address",
    "https://[::1]/hook": "address",
    "https://[::ffff:127.0.0.1]/hook": "address",
    "https://[::ffff:7f00:1]/hook": "address",
    "https://localhost/hook": "address",
    "https://LOCALHOST./hook": "address",
    "https://api.localhost/hook": "address",
    # private
    "https://10.0.0.1/hook": "address",
    "https://172.16.5.4/hook": "address",
    "https://172.31.255.255/hook": "address",
    "https://192.168.1.1/hook": "address",
    "https://[::ffff:10.0.0.1]/hook": "address",
    # link-local, the metadata endpoint
    "https://169.254.169.254/latest/meta-data/": "address",
    "https://0xa9fea9fe/": "address",
    "https://[fe80::1]/hook": "address",
    "https://[fe80::1%25eth0]/hook": "address",
    # carrier-grade NAT, multicast, unspecified, reserved, documentation
    "https://100.64.0.1/hook": "address",
    "https://100.127.255.254/hook": "address",
    "https://224.0.0.1/hook": "address",
    "https://239.255.255.250/hook": "address",
    "https://0.0.0.0/hook": "address",
    "https://0/hook": "address",
    "https://240.0.0.1/hook": "address",
    "https://255.255.255.255/hook": "address",
    "https://192.0.2.10/hook": "address",
    "https://198.51.100.7/hook": "address",
    "https://203.0.113.9/hook": "address",
    "https://198.18.0.1/hook": "address",
    # IPv6 ranges and forms carrying a private IPv4
    "https://[fc00::1]/hook": "address",
    "https://[fd12:3456::1]/hook": "address",
    "https://[ff02::1]/hook": "address",
    "https://[::]/hook": "address",
    "https://[2001:db8::1]/hook": "address",
    "https://[64:ff9b::a9fe:a9fe]/hook": "address",
    "https://[2002:7f00:1::]/hook": "address",
    "https://[::127.0.0.1]/hook": "address",
    # names that can only be internal, and broken URLs
    "https://intranet/hook": "host",
    "https:///hook": "host",
    "https://exa mple.com/hook": "host",
    "https://example.com:99999/hook": "port",
    "https://example.com:abc/hook": "port",
}
ACCEPTED = [
    "https://example.com/hook",
    "https://hooks.example.com:8443/a/b?c=d",
    "https://93.184.215.14/hook",
    "https://[2606:4700:4700::1111]/hook",
    "https://8.8.8.8/",
]


@pytest.mark.parametrize(("url", "reason"), REFUSED.items())
def test_every_non_public_or_non_https_url_is_refused_with_its_reason(url: str, reason: str) -> None:
    with pytest.raises(CallbackUrlRefusedError) as refused:
        check_callback_url(url)
    assert refused.value.reason == reason


@pytest.mark.parametrize("url", ACCEPTED)
def test_https_urls_on_public_hosts_are_accepted(url: str) -> None:
    assert check_callback_url(url) == url


def test_the_local_allowance_is_exactly_http_127_0_0_1_with_a_port() -> None:
    assert check_callback_url("http://127.0.0.1:8099/hook", allow_loopback_http=True)
    for url in [
        "http://127.0.0.1:8099/hook",  # without the allowance
    ]:
        with pytest.raises(CallbackUrlRefusedError):
            check_callback_url(url)
    for url in [
        "http://127.0.0.1/hook",  # no port
        "http://localhost:8099/hook",
        "http://127.1:8099/hook",
        "http://[::1]:8099/hook",
        "http://10.0.0.1:8099/hook",
        "http://169.254.169.254:80/latest",
        "https://127.0.0.1:8099/hook",  # https to loopback is no exception
        "http://127.0.0.1:8099@169.254.169.254/",
    ]:
        with pytest.raises(CallbackUrlRefusedError):
            check_callback_url(url, allow_loopback_http=True)


def test_at_delivery_any_non_public_resolved_address_refuses_the_url() -> None:
    public = ipaddress.ip_address("93.184.215.14")
    private = ipaddress.ip_address("10.1.2.3")
    assert check_resolved("https://example.com/", [public]) == public
    for addresses in ([private], [public, private], [ipaddress.ip_address("169.254.169.254")], []):
        with pytest.raises(CallbackUrlRefusedError):
            check_resolved("https://example.com/", addresses)
    # The local allowance never lets a name resolve onto loopback over https, nor http onto another address.
    with pytest.raises(CallbackUrlRefusedError):
        check_resolved("https://example.com/", [ipaddress.ip_address("127.0.0.1")], allow_loopback_http=True)
    with pytest.raises(CallbackUrlRefusedError):
        check_resolved("http://127.0.0.1:1/", [private], allow_loopback_http=True)


def test_literal_addresses_are_read_as_inet_aton_reads_them() -> None:
    assert literal_address("127.1") == ipaddress.ip_address("127.0.0.1")
    assert literal_address("10.1.2") == ipaddress.ip_address("10.1.0.2")
    assert literal_address("0251.0376.0251.0376") == ipaddress.ip_address("169.254.169.254")
    assert literal_address("example.com") is None
    assert literal_address("256.1.1.1") is None
    assert not is_public(ipaddress.ip_address("::ffff:169.254.169.254"))
    assert is_public(ipaddress.ip_address("1.1.1.1"))


# ------------------------------------------------------------------------------------------------ signing
def test_our_signature_verifies_with_the_standardwebhooks_package() -> None:
    secret = signing.new_secret()
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 24
    body = json.dumps({"type": "task.completed", "data": {"videoId": "video_x", "prompt": "雨の街"}}).encode()
    now = int(time.time())
    headers = signing.headers([secret], "msg_abc", now, body)
    assert headers["webhook-signature"].startswith("v1,")

    assert Webhook(secret).verify(body, headers)["type"] == "task.completed"
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.new_secret()).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(body + b" ", headers)


def test_during_a_rotation_both_secrets_verify() -> None:
    new, old = signing.new_secret(), signing.new_secret()
    body = b'{"type":"task.failed"}'
    headers = signing.headers([new, old], "msg_rot", int(time.time()), body)
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new).verify(body, headers)
    Webhook(old).verify(body, headers)


# --------------------------------------------------------------------------------------------- the events
def _task(status: TaskStatus, progress: int = 0, **fields: object):
    # One video id for all: ids and events must differ by what changed, not by which task it is.
    return new_task(videoId=VIDEO_ID, status=status, progress=progress, callbackUrl="https://example.com/h", **fields)


VIDEO_ID = "video_11111111-2222-4333-8444-555555555555"


def test_an_ending_makes_one_event_and_progress_only_when_asked() -> None:
    running = _task(TaskStatus.PROCESSING, 40)
    assert event_of_change(running, _task(TaskStatus.COMPLETED, 100)) is CallbackEvent.COMPLETED
    assert event_of_change(running, _task(TaskStatus.FAILED, 40)) is CallbackEvent.FAILED
    assert event_of_change(_task(TaskStatus.QUEUED), _task(TaskStatus.CANCELLED)) is CallbackEvent.CANCELLED
    # a later write to an ended task (its poster) is no second ending
    assert event_of_change(_task(TaskStatus.COMPLETED, 100), _task(TaskStatus.COMPLETED, 100)) is None
    assert event_of_change(running, _task(TaskStatus.PROCESSING, 60)) is None
    asked = {"callbackEvents": ["task.progress"]}
    assert (
        event_of_change(_task(TaskStatus.PROCESSING, 40, **asked), _task(TaskStatus.PROCESSING, 60, **asked))
        is CallbackEvent.PROGRESS
    )
    no_url = new_task(videoId=VIDEO_ID, status=TaskStatus.COMPLETED)
    assert event_of_change(running, no_url) is None


def test_the_webhook_id_is_stable_per_event_and_distinct_between_events() -> None:
    done = _task(TaskStatus.COMPLETED, 100)
    assert webhook_id(done, CallbackEvent.COMPLETED) == webhook_id(done.model_copy(), CallbackEvent.COMPLETED)
    assert webhook_id(done, CallbackEvent.COMPLETED) != webhook_id(
        _task(TaskStatus.PROCESSING, 50), CallbackEvent.PROGRESS
    )
    assert webhook_id(_task(TaskStatus.PROCESSING, 50), CallbackEvent.PROGRESS) != webhook_id(
        _task(TaskStatus.PROCESSING, 60), CallbackEvent.PROGRESS
    )


# ----------------------------------------------------------------------------------------- retry schedule
@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, "delivered"),
        (204, "delivered"),
        (None, "retry"),
        (500, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (400, "stop"),
        (401, "stop"),
        (404, "stop"),
        (410, "stop"),
        (302, "retry"),
    ],
)
def test_which_answers_are_retried(status: int | None, outcome: str) -> None:
    assert outcome_of(status) == outcome


def test_backoff_grows_exponentially_with_jitter_caps_and_ends_at_the_window() -> None:
    schedule = RetrySchedule(base_seconds=30, max_delay_seconds=4 * 3600, window_seconds=24 * 3600)
    rng = random.Random(7)
    delays = [schedule.delay(n, rng=rng) for n in range(1, 12)]
    for n, delay in enumerate(delays, start=1):
        ceiling = min(4 * 3600, 30 * 2 ** (n - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert delays[-1] <= 4 * 3600
    # jitter: receivers that failed for everyone at once are not all retried at the same second
    assert len({schedule.delay(5, rng=random.Random(seed)) for seed in range(20)}) > 10
    # attempts continue for up to 24 h, then stop
    elapsed, retries = 0.0, 0
    while (wait := schedule.next_delay(retries + 1, elapsed, rng=rng)) is not None:
        elapsed += wait
        retries += 1
    assert 20 * 3600 <= elapsed <= 24 * 3600 and 8 <= retries <= 30


def test_retry_after_is_honoured_up_to_the_cap() -> None:
    schedule = RetrySchedule(base_seconds=2, max_delay_seconds=600, window_seconds=3600)
    assert schedule.delay(1, retry_after=120, rng=random.Random(0)) == 120
    assert schedule.delay(1, retry_after=99999, rng=random.Random(0)) == 600
    assert parse_retry_after("30") == 30
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") is None
    assert parse_retry_after(None) is None
