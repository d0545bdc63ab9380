"""The fal queue adapter against replies recorded in the shapes fal documents (tests/unit/recorded/fal/), and
against the fake provider's fal shape on a real local port."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.fake_provider import FakeProviderConfig, serve_in_background
from tests.clocks import ManualClock
from videotasks.adapters.providers import JobRequest, ProviderJob
from videotasks.adapters.providers.fal_queue import (
    KLING,
    VEO,
    FalQueueProvider,
    allowed_options,
    app_of,
    aspect_and_resolution,
    fal_input,
    video_input_for,
)
from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError, ProviderTransientError
from videotasks.domain.lifecycle import ProviderState

RECORDED = Path(__file__).parent / "recorded" / "fal"
API_KEY = "test-fal-key-not-a-real-one"
BASE = "https://queue.fal.run"
KLING_T2V = "fal-ai/kling-video/v2.1/standard/text-to-video"
KLING_I2V = "fal-ai/kling-video/v2.1/standard/image-to-video"
REQUEST_ID = "764cabcf-b745-4b3e-ae38-1200304cf45b"
JOB_ID = f"fal-ai/kling-video/requests/{REQUEST_ID}"
APP_PATH = f"/fal-ai/kling-video/requests/{REQUEST_ID}"
MEDIA_URL = "https://v3.fal.media/files/kangaroo/yqV2Xk0uN1bJ_output.mp4"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 32


def recorded(name: str) -> httpx.Response:
    reply = json.loads((RECORDED / f"{name}.json").read_text())
    body = reply["body"]
    if isinstance(body, str):
        return httpx.Response(reply["status"], headers=reply["headers"], content=body.encode())
    return httpx.Response(reply["status"], headers=reply["headers"], json=body)


class Script:
    """Answers ``(method, path)`` with a recorded reply (or a callable), and keeps every request."""

    def __init__(self, routes: dict[tuple[str, str], str | Callable[[httpx.Request], httpx.Response]]) -> None:
        self.routes = routes
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        answer = self.routes.get((request.method, request.url.path))
        if answer is None:
            return httpx.Response(599, text=f"unscripted {request.method} {request.url}")
        return recorded(answer) if isinstance(answer, str) else answer(request)


def fal(script: Script) -> FalQueueProvider:
    return FalQueueProvider(base_url=BASE, api_key=API_KEY, transport=httpx.MockTransport(script))


def polled(*, status: str, result: str | None = None) -> tuple[Script, ProviderJob]:
    routes: dict[tuple[str, str], Any] = {("GET", f"{APP_PATH}/status"): status}
    if result:
        routes[("GET", APP_PATH)] = result
    script = Script(routes)
    return script, fal(script).get_job(JOB_ID)


def text_request(**fields: Any) -> JobRequest:
    values: dict[str, Any] = {"prompt": "a cat on a skateboard", "model": KLING_T2V, "seconds": 5, "size": "1280x720"}
    return JobRequest(**{**values, **fields})


# -- submit -------------------------------------------------------------------------------------------


def test_submit_posts_the_models_input_to_its_endpoint_with_the_key_scheme() -> None:
    script = Script({("POST", f"/{KLING_T2V}"): "submitted"})

    job = fal(script).create_job(text_request(seconds=10, size="720x1280", idempotency_key="videotasks-v1"))

    request = script.seen[0]
    assert request.headers["authorization"] == f"Key {API_KEY}"
    assert json.loads(request.content) == {"prompt": "a cat on a skateboard", "duration": "10", "aspect_ratio": "9:16"}
    assert job == ProviderJob(JOB_ID, ProviderState.QUEUED, "IN_QUEUE", None, None, None, None, queue_position=0)


def test_the_job_id_comes_from_the_response_url_so_status_goes_to_the_app_without_the_sub_path() -> None:
    script = Script({("POST", f"/{KLING_T2V}"): "submitted", ("GET", f"{APP_PATH}/status"): "status_in_queue"})
    client = fal(script)

    job = client.get_job(client.create_job(text_request()).id)

    assert script.seen[1].url == httpx.URL(f"{BASE}{APP_PATH}/status")
    assert (job.state, job.raw_status, job.queue_position) == (ProviderState.QUEUED, "IN_QUEUE", 3)


def test_a_response_url_outside_the_base_url_falls_back_to_fals_own_rule() -> None:
    def elsewhere(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"request_id": "r-1", "response_url": "https://other.test/x/requests/r-1"})

    script = Script({("POST", "/workflows/acme/pipeline/v2/text-to-video"): elsewhere})

    job = fal(script).create_job(text_request(model="workflows/acme/pipeline/v2/text-to-video", size=None))

    assert job.id == "workflows/acme/pipeline/requests/r-1"


def test_veo_takes_seconds_with_an_s_and_a_resolution() -> None:
    script = Script({("POST", "/fal-ai/veo3.1"): "submitted"})

    fal(script).create_job(text_request(model="fal-ai/veo3.1", seconds=8, size="1920x1080"))

    assert json.loads(script.seen[0].content) == {
        "prompt": "a cat on a skateboard",
        "duration": "8s",
        "aspect_ratio": "16:9",
        "resolution": "1080p",
    }


def test_a_reference_image_goes_to_an_image_to_video_endpoint_as_image_url() -> None:
    script = Script({("POST", f"/{KLING_I2V}"): "submitted"})

    fal(script).create_job(text_request(model=KLING_I2V, input_reference="data:image/png;base64,iVBORw0KGgo="))

    assert json.loads(script.seen[0].content)["image_url"] == "data:image/png;base64,iVBORw0KGgo="


@pytest.mark.parametrize(
    ("request_fields", "field", "allowed"),
    [
        ({"seconds": 7}, "seconds", "5, 10"),
        ({"size": "1792x1024"}, "size", "1280x720, 720x1280, 720x720"),
        ({"size": "big"}, "size", "1280x720"),
        ({"model": "fal-ai/veo3", "seconds": 8, "size": "1024x1024"}, "size", "1280x720, 720x1280, 1920x1080"),
        ({"model": "fal-ai/veo3", "seconds": 5}, "seconds", "4, 6, 8"),
        ({"input_reference": "https://example.test/a.png"}, "input_reference", "image-to-video"),
        ({"model": "kling-video"}, "fal endpoint id", "owner/app"),
    ],
)
def test_a_value_the_model_cannot_take_is_refused_before_anything_is_sent(
    request_fields: dict[str, Any], field: str, allowed: str
) -> None:
    script = Script({})

    with pytest.raises(ProviderPermanentError) as raised:
        fal(script).create_job(text_request(**request_fields))

    assert raised.value.code == "INVALID_INPUT"
    assert field in raised.value.message
    assert allowed in raised.value.message
    assert script.seen == []


@pytest.mark.parametrize(
    ("reply", "error", "code"),
    [
        ("submit_validation_error", ProviderPermanentError, "PROVIDER_REJECTED"),
        ("submit_content_policy", ProviderPermanentError, "CONTENT_POLICY"),
        ("unauthorized", ProviderPermanentError, "PROVIDER_AUTH_FAILED"),
        ("forbidden", ProviderPermanentError, "PROVIDER_AUTH_FAILED"),
        ("rate_limited", ProviderTransientError, "PROVIDER_RATE_LIMITED"),
        ("unavailable", ProviderTransientError, "PROVIDER_UNAVAILABLE"),
    ],
)
def test_submit_errors_become_stable_codes_with_fals_message_kept(
    reply: str, error: type[Exception], code: str
) -> None:
    script = Script({("POST", f"/{KLING_T2V}"): reply})

    with pytest.raises(error) as raised:
        fal(script).create_job(text_request())

    assert raised.value.code == code  # type: ignore[attr-defined]
    assert API_KEY not in str(raised.value)
    detail = recorded(reply).json()["detail"]
    expected = detail if isinstance(detail, str) else detail[0]["msg"]
    assert expected in raised.value.message  # type: ignore[attr-defined]


def test_a_validation_error_names_the_field_fal_refused() -> None:
    script = Script({("POST", f"/{KLING_T2V}"): "submit_validation_error"})

    with pytest.raises(ProviderPermanentError) as raised:
        fal(script).create_job(text_request())

    assert "duration: Input should be '5' or '10'" in raised.value.message


def test_a_submit_timeout_after_sending_is_not_retried_fal_would_bill_a_second_video() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("no reply", request=request)

    with pytest.raises(ProviderPermanentError) as raised:
        fal(Script({("POST", f"/{KLING_T2V}"): slow})).create_job(text_request())

    assert raised.value.code == "PROVIDER_TIMEOUT"


# -- status and result --------------------------------------------------------------------------------


def test_in_progress_is_running_without_progress_or_position() -> None:
    _, job = polled(status="status_in_progress")

    assert (job.state, job.raw_status, job.progress, job.queue_position) == (
        ProviderState.RUNNING,
        "IN_PROGRESS",
        None,
        None,
    )


def test_completed_fetches_the_result_and_reports_its_video_url() -> None:
    script, job = polled(status="status_completed", result="result_video")

    assert [request.url.path for request in script.seen] == [f"{APP_PATH}/status", APP_PATH]
    assert (job.state, job.raw_status, job.media_url, job.error_code) == (
        ProviderState.SUCCEEDED,
        "COMPLETED",
        MEDIA_URL,
        None,
    )


@pytest.mark.parametrize(
    ("result", "state", "code", "message"),
    [
        ("result_content_policy", ProviderState.FAILED, "CONTENT_POLICY", "flagged by a content checker"),
        ("result_request_timeout", ProviderState.FAILED, "PROVIDER_FAILED", "Request timed out (request_timeout)"),
        ("result_runner_error", ProviderState.FAILED, "PROVIDER_FAILED", "internal server error"),
        ("result_cancelled", ProviderState.CANCELLED, None, "cancelled by the client"),
    ],
)
def test_a_request_that_completed_with_an_error_is_the_jobs_failure(
    result: str, state: ProviderState, code: str | None, message: str
) -> None:
    _, job = polled(status="status_completed", result=result)

    assert (job.state, job.error_code) == (state, code)
    assert job.error_message is not None
    assert message in job.error_message
    assert job.media_url is None


def test_an_error_in_the_completed_status_itself_fails_the_job_without_fetching_the_result() -> None:
    def failed(request: httpx.Request) -> httpx.Response:
        body = {**recorded("status_completed").json(), "error": "Internal error", "error_type": "internal_error"}
        return httpx.Response(200, json=body)

    script = Script({("GET", f"{APP_PATH}/status"): failed})

    job = fal(script).get_job(JOB_ID)

    assert (job.state, job.error_code, job.error_message) == (ProviderState.FAILED, "PROVIDER_FAILED", "Internal error")
    assert len(script.seen) == 1


@pytest.mark.parametrize(
    ("reply", "code"), [("rate_limited", "PROVIDER_RATE_LIMITED"), ("unavailable", "PROVIDER_UNAVAILABLE")]
)
def test_a_result_fal_cannot_give_now_is_transient_so_polling_goes_on(reply: str, code: str) -> None:
    with pytest.raises(ProviderTransientError) as raised:
        polled(status="status_completed", result=reply)

    assert raised.value.code == code


@pytest.mark.parametrize(
    "replies", [{"status": "request_not_found"}, {"status": "status_completed", "result": "request_not_found"}]
)
def test_a_request_fal_no_longer_knows_is_a_lost_job(replies: dict[str, str]) -> None:
    with pytest.raises(ProviderJobLostError):
        polled(**replies)


@pytest.mark.parametrize("job_id", ["video_abc", "fal-ai/kling-video/requests/", "a/../requests/x", "a/b/c/d"])
def test_an_id_we_could_not_have_made_is_a_lost_job_and_nothing_is_sent(job_id: str) -> None:
    script = Script({})

    with pytest.raises(ProviderJobLostError):
        fal(script).get_job(job_id)

    assert script.seen == []


# -- content and cancel -------------------------------------------------------------------------------


def test_open_content_streams_the_video_without_sending_the_key_to_the_cdn() -> None:
    def video(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "video/mp4"}, content=MP4)

    script = Script({("GET", "/files/kangaroo/yqV2Xk0uN1bJ_output.mp4"): video})
    job = ProviderJob(JOB_ID, ProviderState.SUCCEEDED, "COMPLETED", 100, MEDIA_URL, None, None)

    with fal(script).open_content(job) as media:
        assert (media.content_type, b"".join(media.chunks)) == ("video/mp4", MP4)
    assert "authorization" not in script.seen[0].headers


def test_expired_media_is_gone_for_good() -> None:
    script = Script({("GET", "/files/kangaroo/yqV2Xk0uN1bJ_output.mp4"): "media_expired"})
    job = ProviderJob(JOB_ID, ProviderState.SUCCEEDED, "COMPLETED", 100, MEDIA_URL, None, None)

    with pytest.raises(ProviderPermanentError) as raised, fal(script).open_content(job):
        pass

    assert raised.value.code == "PROVIDER_CONTENT_GONE"


@pytest.mark.parametrize("reply", ["cancel_requested", "cancel_already_completed"])
def test_cancel_puts_to_the_requests_cancel_url_and_a_finished_request_is_no_error(reply: str) -> None:
    script = Script({("PUT", f"{APP_PATH}/cancel"): reply})

    fal(script).cancel_job(JOB_ID)

    assert script.seen[0].headers["authorization"] == f"Key {API_KEY}"


def test_cancel_of_an_unknown_request_is_a_lost_job() -> None:
    with pytest.raises(ProviderJobLostError):
        fal(Script({("PUT", f"{APP_PATH}/cancel"): "request_not_found"})).cancel_job(JOB_ID)


# -- the model's options, for the catalog -------------------------------------------------------------


def test_allowed_options_follow_each_apps_documented_inputs() -> None:
    assert allowed_options(KLING_T2V) == ((5, 10), ("1280x720", "720x1280", "720x720"))
    assert allowed_options("fal-ai/veo3.1/fast") == ((4, 6, 8), ("1280x720", "720x1280", "1920x1080", "1080x1920"))
    assert video_input_for("fal-ai/veo3/image-to-video") is VEO
    assert video_input_for("someone/new-video-app") is KLING


@pytest.mark.parametrize(
    ("size", "expected"),
    [("1280x720", ("16:9", "720p")), ("720x1280", ("9:16", "720p")), ("1080x1080", ("1:1", "1080p"))],
)
def test_size_maps_to_aspect_ratio_and_resolution(size: str, expected: tuple[str, str]) -> None:
    assert aspect_and_resolution(size) == expected


def test_app_of_drops_the_endpoint_path_but_keeps_a_namespace() -> None:
    assert app_of(KLING_T2V) == "fal-ai/kling-video"
    assert app_of("fal-ai/veo3.1") == "fal-ai/veo3.1"
    assert app_of("comfy/acme/flow/run") == "comfy/acme/flow"


def test_fal_input_without_options_sends_only_the_prompt() -> None:
    assert fal_input(JobRequest(prompt="p", model=KLING_T2V)) == {"prompt": "p"}


# -- against the fake provider's fal shape ------------------------------------------------------------

KEY = "fake-fal-key"
VIDEO_SECONDS = 10.0
Fake = Callable[..., tuple[FalQueueProvider, str]]


@pytest.fixture
def fake(provider_clock: ManualClock[float]) -> Iterator[Fake]:
    with contextlib.ExitStack() as stack:

        def start(**fields: Any) -> tuple[FalQueueProvider, str]:
            fields.setdefault("api_key", KEY)
            fields.setdefault("video_seconds", VIDEO_SECONDS)
            base = stack.enter_context(serve_in_background(FakeProviderConfig(clock=provider_clock, **fields)))
            client = stack.enter_context(FalQueueProvider(base_url=f"{base}/fal", api_key=KEY, timeout=5.0))
            return client, base

        yield start


def test_a_job_on_the_fake_goes_queued_running_completed_and_serves_an_mp4(
    fake: Fake, provider_clock: ManualClock[float]
) -> None:
    client, base = fake()

    created = client.create_job(text_request())
    queued = client.get_job(created.id)
    provider_clock.advance(VIDEO_SECONDS / 2)
    running = client.get_job(created.id)
    provider_clock.advance(VIDEO_SECONDS / 2)
    done = client.get_job(created.id)
    with client.open_content(done) as media:
        content_type, body = media.content_type, b"".join(media.chunks)

    assert created.id.startswith("fal-ai/kling-video/requests/")
    assert (queued.state, queued.queue_position) == (ProviderState.QUEUED, 2)
    assert running.state is ProviderState.RUNNING
    assert done.state is ProviderState.SUCCEEDED
    assert content_type == "video/mp4"
    assert body[4:8] == b"ftyp"
    stats = httpx.get(f"{base}/_fake/stats").json()["jobs"]
    assert [(job["id"], job["shape"], job["statusCalls"]) for job in stats] == [(created.id, "fal-queue", 3)]


def test_cancel_of_a_queued_job_on_the_fake_ends_it_cancelled(
    fake: Fake,
) -> None:
    client, _ = fake()
    job = client.create_job(text_request(model="fal-ai/veo3.1", seconds=8, size="1280x720"))

    client.cancel_job(job.id)
    after = client.get_job(job.id)
    client.cancel_job(job.id)  # already over: nothing left to stop, and no error

    assert after.state is ProviderState.CANCELLED


def test_the_fake_refuses_a_wrong_key_as_fal_does(fake: Fake) -> None:
    _, base = fake()

    with (
        FalQueueProvider(base_url=f"{base}/fal", api_key="wrong") as client,
        pytest.raises(ProviderPermanentError) as raised,
    ):
        client.create_job(text_request())

    assert raised.value.code == "PROVIDER_AUTH_FAILED"


def test_a_failing_job_on_the_fake_completes_with_a_request_error(
    fake: Fake, provider_clock: ManualClock[float]
) -> None:
    client, _ = fake(failure_rate=1.0)
    job = client.create_job(text_request())

    provider_clock.advance(VIDEO_SECONDS)
    failed = client.get_job(job.id)

    assert (failed.state, failed.error_code) == (ProviderState.FAILED, "PROVIDER_FAILED")
    assert failed.error_message is not None
    assert "runner_server_error" in failed.error_message


@pytest.mark.parametrize(
    ("fault", "code"),
    [
        ("5xx_burst", "PROVIDER_UNAVAILABLE"),
        ("429", "PROVIDER_RATE_LIMITED"),
    ],
)
def test_the_cores_status_faults_reach_fal_polls_in_fals_error_shape(fake: Fake, fault: str, code: str) -> None:
    client, _ = fake()
    job = client.create_job(text_request(prompt=f"a cat [fault:{fault}]"))

    with pytest.raises(ProviderTransientError) as raised:
        client.get_job(job.id)

    assert raised.value.code == code


def test_the_content_gone_fault_makes_the_fal_video_gone(fake: Fake, provider_clock: ManualClock[float]) -> None:
    client, _ = fake()
    job = client.create_job(text_request(prompt="a cat [fault:content_gone]"))
    provider_clock.advance(VIDEO_SECONDS)
    done = client.get_job(job.id)

    with pytest.raises(ProviderPermanentError) as raised, client.open_content(done):
        pass

    assert raised.value.code == "PROVIDER_CONTENT_GONE"


def test_the_vanish_fault_loses_the_fal_request(fake: Fake, provider_clock: ManualClock[float]) -> None:
    client, _ = fake()
    job = client.create_job(text_request(prompt="a cat [fault:vanish]"))
    provider_clock.advance(VIDEO_SECONDS * 0.6)

    with pytest.raises(ProviderJobLostError):
        client.get_job(job.id)
