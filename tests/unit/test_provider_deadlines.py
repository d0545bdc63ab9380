"""The provider clients give up by the caller's ``Deadline``, whatever the provider does: trickle a body
byte by byte (which resets httpx's per-phase read timeout), accept a connection and never answer, or be
called once the budget is spent. A synchronous image generation that timed out after it was sent is not
to be repeated. Time is only checked against generous bounds: "gave up long before the provider would
have finished", never "took less than N ms"."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import httpx
import pytest

from videotasks.adapters.providers import ImagesProvider, JobRequest, VideosProvider
from videotasks.adapters.providers._http import ProviderHttp
from videotasks.domain.deadline import Deadline
from videotasks.domain.errors import ProviderPermanentError, ProviderTransientError

BASE = "https://provider.test"
KEY = "sk-test"
BUDGET_SECONDS = 1.0
TRICKLE_SECONDS = 30.0  # how long the trickling provider would take to send its whole body
GENEROUS_BOUND_SECONDS = 10.0  # far below TRICKLE_SECONDS and the configured timeout, far above BUDGET_SECONDS


def trickle(total_seconds: float = TRICKLE_SECONDS, pieces: int = 300) -> Iterator[bytes]:
    """A JSON body sent a byte at a time over ``total_seconds``."""
    body = b'{"id": "video_abc", "status": "in_progress", "progress": 5}'.ljust(pieces, b" ")
    for byte in body:
        time.sleep(total_seconds / pieces)
        yield bytes([byte])


def trickling(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "application/json"}, content=trickle())


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A server that accepts connections (the kernel's backlog does) and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()


def test_a_trickling_status_reply_is_given_up_at_the_deadline() -> None:
    client = VideosProvider(base_url=BASE, api_key=KEY, transport=httpx.MockTransport(trickling))
    started = time.monotonic()

    with pytest.raises(ProviderTransientError) as caught:
        client.get_job("video_abc", deadline=Deadline.after(BUDGET_SECONDS))

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert time.monotonic() - started < GENEROUS_BOUND_SECONDS


def test_a_trickling_download_is_given_up_at_the_deadline_between_chunks() -> None:
    http = ProviderHttp(base_url=BASE, api_key=KEY, transport=httpx.MockTransport(trickling))
    started = time.monotonic()

    def download() -> None:
        with http.stream(f"{BASE}/media/x.mp4", gone_code="GONE", deadline=Deadline.after(BUDGET_SECONDS)) as media:
            for _ in media.chunks:
                pass

    with pytest.raises(ProviderTransientError) as caught:
        download()

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert "while downloading" in caught.value.message
    assert time.monotonic() - started < GENEROUS_BOUND_SECONDS


def test_a_provider_that_never_answers_is_given_up_at_the_deadline_not_the_configured_timeout(
    silent_server: str,
) -> None:
    client = VideosProvider(base_url=silent_server, api_key=KEY, timeout=60.0)
    started = time.monotonic()

    with pytest.raises(ProviderTransientError) as caught:
        client.get_job("video_abc", deadline=Deadline.after(BUDGET_SECONDS))

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert time.monotonic() - started < GENEROUS_BOUND_SECONDS


def test_each_phase_timeout_is_capped_by_the_time_left() -> None:
    seen: list[dict[str, float]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request.extensions["timeout"])
        return httpx.Response(200, json={"id": "video_abc", "status": "queued"})

    client = VideosProvider(base_url=BASE, api_key=KEY, timeout=20.0, transport=httpx.MockTransport(record))
    client.get_job("video_abc", deadline=Deadline.after(5.0))
    client.get_job("video_abc")

    capped, uncapped = seen
    assert all(0 < value <= 5.0 for value in capped.values())
    assert set(uncapped.values()) == {20.0}


def test_a_spent_budget_sends_nothing() -> None:
    sent: list[httpx.Request] = []

    def count(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={"id": "video_abc", "status": "queued"})

    client = VideosProvider(base_url=BASE, api_key=KEY, transport=httpx.MockTransport(count))

    with pytest.raises(ProviderTransientError) as caught:
        client.get_job("video_abc", deadline=Deadline.after(0.0))

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert sent == []


def raising(error: Exception) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handle)


IMAGE = JobRequest(prompt="a heron", model="gpt-image-1", size="1024x1024")


def test_an_image_generation_that_timed_out_after_it_was_sent_is_permanent() -> None:
    """The provider may have generated (and billed) it: a retry would pay for a second image."""
    client = ImagesProvider(base_url=BASE, api_key=KEY, transport=raising(httpx.ReadTimeout("slow")))

    with pytest.raises(ProviderPermanentError) as caught:
        client.generate(IMAGE)

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert "not retried" in caught.value.message


def test_an_image_generation_whose_budget_ran_out_while_reading_the_reply_is_permanent() -> None:
    client = ImagesProvider(base_url=BASE, api_key=KEY, transport=httpx.MockTransport(trickling))

    with pytest.raises(ProviderPermanentError) as caught:
        client.generate(IMAGE, deadline=Deadline.after(BUDGET_SECONDS))

    assert caught.value.code == "PROVIDER_TIMEOUT"


@pytest.mark.parametrize("error", [httpx.ConnectTimeout("refused"), httpx.PoolTimeout("busy")])
def test_an_image_generation_that_never_left_stays_transient(error: Exception) -> None:
    client = ImagesProvider(base_url=BASE, api_key=KEY, transport=raising(error))

    with pytest.raises(ProviderTransientError) as caught:
        client.generate(IMAGE)

    assert caught.value.code == "PROVIDER_TIMEOUT"


def test_a_status_read_timeout_stays_transient() -> None:
    """Reading a job's status twice costs nothing: only generations are final once sent."""
    client = VideosProvider(base_url=BASE, api_key=KEY, transport=raising(httpx.ReadTimeout("slow")))

    with pytest.raises(ProviderTransientError) as caught:
        client.get_job("video_abc")

    assert caught.value.code == "PROVIDER_TIMEOUT"


def test_a_deadline_of_an_invocation_keeps_the_margin_back() -> None:
    class Context:
        def get_remaining_time_in_millis(self) -> int:
            return 30_000

    deadline = Deadline.of_invocation(Context(), margin_seconds=4.0)

    assert 25.0 < deadline.remaining() <= 26.0
