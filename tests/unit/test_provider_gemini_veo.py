"""The Gemini API Veo adapter: against replies recorded in the shapes Google documents
(``tests/unit/recorded/gemini/``, through httpx.MockTransport), and end to end against the fake provider's
``/gemini`` shape on a local port."""

from __future__ import annotations

import base64
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
from videotasks.adapters.providers.gemini_veo import (
    SIZES,
    VEO_MODELS,
    GeminiVeoProvider,
    UnsupportedOptionError,
    limits_of,
    veo_parameters,
)
from videotasks.domain.errors import ProviderError, ProviderJobLostError, ProviderPermanentError, ProviderTransientError
from videotasks.domain.lifecycle import ProviderState

RECORDED = Path(__file__).parent / "recorded" / "gemini"
API_KEY = "test-gemini-key-not-a-real-one"
BASE = "https://generativelanguage.googleapis.com"
MODEL = "veo-3.1-generate-preview"
OPERATION = f"models/{MODEL}/operations/9x8k2mz4q1ab"
VIDEO_URI = "https://generativelanguage.googleapis.com/v1beta/files/3s2ha4pq2v5l:download?alt=media"
MP4 = b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom" + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

Handler = Callable[[httpx.Request], httpx.Response]


def recorded(name: str) -> Any:
    return json.loads((RECORDED / f"{name}.json").read_text())


def reply(name: str, status: int = 200, **kwargs: Any) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=recorded(name), **kwargs)

    return handle


def veo(handler: Handler, **options: Any) -> GeminiVeoProvider:
    settings: dict[str, Any] = {"base_url": BASE, "api_key": API_KEY, "auth_scheme": "x-goog-api-key", **options}
    return GeminiVeoProvider(transport=httpx.MockTransport(handler), **settings)


class Recorder:
    """A handler that answers with ``answer`` and keeps every request it saw."""

    def __init__(self, answer: Handler) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def request(**fields: Any) -> JobRequest:
    return JobRequest(**{"prompt": "a heron lands on a misty lake", "model": MODEL, **fields})


def finished(**fields: Any) -> ProviderJob:
    job: dict[str, Any] = {
        "id": OPERATION,
        "state": ProviderState.SUCCEEDED,
        "raw_status": "done",
        "progress": None,
        "media_url": VIDEO_URI,
        "error_code": None,
        "error_message": None,
    }
    return ProviderJob(**{**job, **fields})


# -- create -------------------------------------------------------------------------------------------


def test_create_posts_predict_long_running_with_the_key_header_and_the_mapped_parameters() -> None:
    seen = Recorder(reply("operation_started"))

    job = veo(seen).create_job(request(seconds=8, size="1280x720", idempotency_key="task-1"))

    sent = seen.requests[0]
    assert (sent.method, sent.url.path) == ("POST", f"/v1beta/models/{MODEL}:predictLongRunning")
    assert sent.headers["x-goog-api-key"] == API_KEY
    assert "authorization" not in sent.headers
    assert "idempotency-key" not in sent.headers  # the API has none; sending one would promise what it can't keep
    assert json.loads(sent.content) == {
        "instances": [{"prompt": "a heron lands on a misty lake"}],
        "parameters": {"aspectRatio": "16:9", "resolution": "720p", "durationSeconds": 8},
    }
    assert (job.id, job.state, job.progress) == (OPERATION, ProviderState.QUEUED, None)


@pytest.mark.parametrize(
    ("size", "aspect_ratio", "resolution"),
    [
        ("1280x720", "16:9", "720p"),
        ("720x1280", "9:16", "720p"),
        ("1920x1080", "16:9", "1080p"),
        ("1080x1920", "9:16", "1080p"),
        ("3840x2160", "16:9", "4k"),
        ("2160x3840", "9:16", "4k"),
    ],
)
def test_each_size_is_an_aspect_ratio_at_a_resolution(size: str, aspect_ratio: str, resolution: str) -> None:
    assert veo_parameters(MODEL, seconds=8, size=size) == {
        "aspectRatio": aspect_ratio,
        "resolution": resolution,
        "durationSeconds": 8,
    }


def test_what_is_not_asked_for_is_left_to_the_apis_defaults() -> None:
    assert veo_parameters(MODEL, seconds=None, size=None) == {}
    assert veo_parameters(MODEL, seconds=4, size=None) == {"durationSeconds": 4}


def test_above_720p_only_eight_seconds_are_allowed_and_the_error_names_the_field_and_the_choices() -> None:
    with pytest.raises(UnsupportedOptionError) as refused:
        veo_parameters(MODEL, seconds=4, size="1920x1080")

    assert (refused.value.field, refused.value.allowed) == ("seconds", (8,))
    assert "seconds 4" in str(refused.value)
    assert "choose one of: 8" in str(refused.value)


def test_a_size_the_model_cannot_make_names_the_sizes_it_can() -> None:
    with pytest.raises(UnsupportedOptionError) as refused:
        veo_parameters("veo-2.0-generate-001", seconds=8, size="1920x1080")

    assert refused.value.field == "size"
    assert refused.value.allowed == ("1280x720", "720x1280")


def test_veo_2_takes_its_own_durations_and_no_resolution_parameter() -> None:
    assert veo_parameters("veo-2.0-generate-001", seconds=5, size="720x1280") == {
        "aspectRatio": "9:16",
        "durationSeconds": 5,
    }
    with pytest.raises(UnsupportedOptionError):
        veo_parameters("veo-2.0-generate-001", seconds=4, size="1280x720")


def test_the_limits_are_there_for_the_catalog_to_read() -> None:
    limits = VEO_MODELS[MODEL]

    assert limits.seconds == (4, 6, 8)
    assert "1280x720" in limits.sizes and "1080x1920" in limits.sizes
    assert limits.seconds_for("1280x720") == (4, 6, 8)
    assert limits.seconds_for("3840x2160") == (8,)
    assert limits_of("veo-9-unknown").sizes == tuple(SIZES)  # the catalog narrows what it does not know


@pytest.mark.parametrize(
    "fields",
    [
        {"seconds": 5},
        {"size": "1024x1024"},
        {"seconds": 6, "size": "1920x1080"},
        {"model": "../files/x"},
        {"input_reference": "https://example.com/cat.png"},
        {"input_reference": "data:text/plain;base64,aGk="},
        {"input_reference": "data:image/png;base64,%%%"},
    ],
)
def test_a_request_the_model_cannot_take_is_refused_before_anything_is_sent(fields: dict[str, Any]) -> None:
    seen = Recorder(reply("operation_started"))

    with pytest.raises(ProviderPermanentError) as refused:
        veo(seen).create_job(request(**fields))

    assert refused.value.code == "INVALID_INPUT"
    assert seen.requests == []


def test_a_data_url_reference_is_sent_inline_as_the_first_frame() -> None:
    seen = Recorder(reply("operation_started"))
    reference = "data:image/png;base64," + base64.b64encode(PNG).decode()

    veo(seen).create_job(request(input_reference=reference))

    instance = json.loads(seen.requests[0].content)["instances"][0]
    assert instance["image"] == {"bytesBase64Encoded": base64.b64encode(PNG).decode(), "mimeType": "image/png"}


def test_a_create_reply_without_a_usable_operation_name_is_a_transient_bad_reply() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": "../../v1/videos"})

    with pytest.raises(ProviderTransientError) as caught:
        veo(handle).create_job(request())

    assert caught.value.code == "PROVIDER_BAD_REPLY"


# -- poll ---------------------------------------------------------------------------------------------


def test_a_running_operation_is_polled_at_its_name_and_reports_no_progress() -> None:
    seen = Recorder(reply("operation_running"))

    job = veo(seen).get_job(OPERATION)

    assert (seen.requests[0].method, seen.requests[0].url.path) == ("GET", f"/v1beta/{OPERATION}")
    assert seen.requests[0].headers["x-goog-api-key"] == API_KEY
    assert (job.id, job.state, job.progress, job.media_url) == (OPERATION, ProviderState.RUNNING, None, None)


def test_done_false_spelled_out_is_still_running() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": OPERATION, "done": False})

    assert veo(handle).get_job(OPERATION).state is ProviderState.RUNNING


def test_a_finished_operation_names_its_video() -> None:
    job = veo(reply("operation_done_video")).get_job(OPERATION)

    assert (job.state, job.raw_status, job.media_url, job.error_code) == (
        ProviderState.SUCCEEDED,
        "done",
        VIDEO_URI,
        None,
    )


def test_a_failed_operation_keeps_the_providers_message_and_gets_a_stable_code() -> None:
    job = veo(reply("operation_done_error")).get_job(OPERATION)

    assert (job.state, job.error_code) == (ProviderState.FAILED, "PROVIDER_FAILED")
    assert job.error_message == recorded("operation_done_error")["error"]["message"]


def test_a_video_held_back_by_the_safety_filters_is_a_content_policy_failure() -> None:
    job = veo(reply("operation_safety_filtered")).get_job(OPERATION)

    reasons = recorded("operation_safety_filtered")["response"]["generateVideoResponse"]["raiMediaFilteredReasons"]
    assert (job.state, job.raw_status, job.error_code) == (ProviderState.FAILED, "filtered", "CONTENT_POLICY")
    assert job.error_message == reasons[0]


def test_a_filtered_count_without_reasons_is_still_content_policy() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            json={"name": OPERATION, "done": True, "response": {"generateVideoResponse": {"raiMediaFilteredCount": 1}}},
        )

    assert veo(handle).get_job(OPERATION).error_code == "CONTENT_POLICY"


@pytest.mark.parametrize(
    ("error", "state", "code"),
    [
        ({"code": 3, "message": "Image format is not supported."}, ProviderState.FAILED, "PROVIDER_REJECTED"),
        ({"code": 8, "message": "Quota exceeded."}, ProviderState.FAILED, "PROVIDER_RATE_LIMITED"),
        ({"code": 14, "message": "Service unavailable."}, ProviderState.FAILED, "PROVIDER_UNAVAILABLE"),
        ({"code": 3, "message": "The prompt violates the usage guidelines."}, ProviderState.FAILED, "CONTENT_POLICY"),
        ({"code": 1, "message": "The operation was cancelled."}, ProviderState.CANCELLED, None),
    ],
)
def test_operation_errors_map_onto_stable_codes(error: dict[str, Any], state: ProviderState, code: str | None) -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": OPERATION, "done": True, "error": error})

    job = veo(handle).get_job(OPERATION)

    assert (job.state, job.error_code, job.error_message) == (state, code, error["message"])


def test_a_finished_operation_without_a_video_or_a_reason_fails() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"name": OPERATION, "done": True, "response": {}})

    job = veo(handle).get_job(OPERATION)

    assert (job.state, job.error_code) == (ProviderState.FAILED, "PROVIDER_FAILED")


def test_a_relay_under_a_base_path_answering_short_operation_names_is_polled_there() -> None:
    seen = Recorder(lambda request: httpx.Response(200, json={"name": "operations/abc123"}))
    client = veo(seen, base_url="https://relay.test/google")

    created = client.create_job(request())
    client.get_job(created.id)

    assert [sent.url.path for sent in seen.requests] == [
        f"/google/v1beta/models/{MODEL}:predictLongRunning",
        "/google/v1beta/operations/abc123",
    ]


@pytest.mark.parametrize(
    "job_id", ["../../v1/videos", "models/x/operations/a?key=1", "models/x/operations/..", "files/abc:download", ""]
)
def test_a_job_id_that_is_not_an_operation_name_is_lost_without_a_request(job_id: str) -> None:
    seen = Recorder(reply("operation_running"))

    with pytest.raises(ProviderJobLostError):
        veo(seen).get_job(job_id)

    assert seen.requests == []


# -- errors -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("recording", "status", "error", "code"),
    [
        ("error_400_invalid_argument", 400, ProviderPermanentError, "PROVIDER_REJECTED"),
        ("error_400_api_key_invalid", 400, ProviderPermanentError, "PROVIDER_AUTH_FAILED"),
        ("error_403_permission_denied", 403, ProviderPermanentError, "PROVIDER_AUTH_FAILED"),
        ("error_429_resource_exhausted", 429, ProviderTransientError, "PROVIDER_RATE_LIMITED"),
        ("error_503_unavailable", 503, ProviderTransientError, "PROVIDER_UNAVAILABLE"),
    ],
)
def test_http_errors_are_classified_and_keep_googles_message(
    recording: str, status: int, error: type[ProviderError], code: str
) -> None:
    with pytest.raises(error) as caught:
        veo(reply(recording, status)).create_job(request())

    assert caught.value.code == code
    assert caught.value.status_code == status
    assert recorded(recording)["error"]["message"] in caught.value.message


def test_a_create_refused_on_policy_grounds_is_content_policy() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        body = {
            "error": {"code": 400, "message": "The prompt was blocked by safety filters.", "status": "INVALID_ARGUMENT"}
        }
        return httpx.Response(400, json=body)

    with pytest.raises(ProviderPermanentError) as caught:
        veo(handle).create_job(request())

    assert caught.value.code == "CONTENT_POLICY"


def test_an_operation_google_no_longer_knows_is_lost() -> None:
    with pytest.raises(ProviderJobLostError):
        veo(reply("error_404_not_found", 404)).get_job(OPERATION)


def test_the_key_never_appears_in_an_error() -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        body = {"error": {"code": 400, "message": f"bad key {API_KEY}", "status": "INVALID_ARGUMENT"}}
        return httpx.Response(400, json=body)

    with pytest.raises(ProviderPermanentError) as caught:
        veo(echo).create_job(request())

    assert API_KEY not in str(caught.value)


# -- content ------------------------------------------------------------------------------------------


def test_the_video_is_downloaded_from_its_uri_with_the_key() -> None:
    seen = Recorder(lambda request: httpx.Response(200, content=MP4, headers={"Content-Type": "video/mp4"}))

    with veo(seen).open_content(finished()) as media:
        body = b"".join(media.chunks)

    assert body == MP4 and media.content_type == "video/mp4"
    assert str(seen.requests[0].url) == VIDEO_URI
    assert seen.requests[0].headers["x-goog-api-key"] == API_KEY


def test_a_download_redirected_to_another_host_does_not_carry_the_key_there() -> None:
    storage = "https://video-downloads.storage.test/v/3s2ha4pq2v5l.mp4?sig=abc"

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "generativelanguage.googleapis.com":
            return httpx.Response(302, headers={"Location": storage})
        return httpx.Response(200, content=MP4, headers={"Content-Type": "video/mp4"})

    seen = Recorder(handle)
    with veo(seen).open_content(finished()) as media:
        assert b"".join(media.chunks) == MP4

    assert [request.url.host for request in seen.requests] == [
        "generativelanguage.googleapis.com",
        "video-downloads.storage.test",
    ]
    assert "x-goog-api-key" in seen.requests[0].headers
    assert "x-goog-api-key" not in seen.requests[1].headers


def test_an_expired_video_is_gone_for_good() -> None:
    with (
        pytest.raises(ProviderPermanentError) as caught,
        veo(reply("error_404_not_found", 404)).open_content(finished()),
    ):
        pass

    assert caught.value.code == "PROVIDER_CONTENT_GONE"


def test_there_is_no_cancel_and_no_listing() -> None:
    seen = Recorder(reply("operation_running"))
    client = veo(seen)

    with pytest.raises(ProviderPermanentError):
        client.cancel_job(OPERATION)

    assert client.list_recent_jobs() == []
    assert seen.requests == []
    assert (GeminiVeoProvider.CAPABILITIES.cancel, GeminiVeoProvider.CAPABILITIES.progress) == (False, False)


# -- against the fake provider's /gemini shape ---------------------------------------------------------

FAKE_KEY = "fake-gemini-key"
VIDEO_SECONDS = 10.0
Serve = Callable[..., tuple[GeminiVeoProvider, str]]


@pytest.fixture
def serve(provider_clock: ManualClock) -> Iterator[Serve]:
    """Start a fake provider (config fields as keywords) and return a Veo client pointed at its /gemini shape,
    with the server's key unless ``client_key`` is given, and the server's base URL."""
    with contextlib.ExitStack() as stack:

        def start(*, client_key: str | None = None, **fields: Any) -> tuple[GeminiVeoProvider, str]:
            fields.setdefault("api_key", FAKE_KEY)
            fields.setdefault("video_seconds", VIDEO_SECONDS)
            base = stack.enter_context(serve_in_background(FakeProviderConfig(clock=provider_clock, **fields)))
            client = GeminiVeoProvider(
                base_url=f"{base}/gemini", api_key=client_key or FAKE_KEY, auth_scheme="x-goog-api-key", timeout=5.0
            )
            return stack.enter_context(client), base

        yield start


def test_a_job_on_the_fake_goes_from_create_to_a_downloaded_mp4(serve: Serve, provider_clock: ManualClock) -> None:
    client, base = serve()

    created = client.create_job(request(seconds=8, size="720x1280"))
    provider_clock.advance(VIDEO_SECONDS / 2)
    running = client.get_job(created.id)
    provider_clock.advance(VIDEO_SECONDS / 2)
    done = client.get_job(created.id)
    with client.open_content(done) as media:
        body = b"".join(media.chunks)

    assert created.id.startswith(f"models/{MODEL}/operations/")
    assert (created.state, running.state, done.state) == (
        ProviderState.QUEUED,
        ProviderState.RUNNING,
        ProviderState.SUCCEEDED,
    )
    assert media.content_type == "video/mp4"
    assert body[4:8] == b"ftyp"
    stats = httpx.get(f"{base}/_fake/stats").json()["jobs"]
    assert [(job["id"], job["shape"], job["statusCalls"]) for job in stats] == [(created.id, "gemini-veo", 2)]
    listed = httpx.get(f"{base}/fake/jobs").json()["jobs"][0]
    assert (listed["seconds"], listed["size"]) == ("8", "720x1280")


def test_the_fake_takes_the_reference_image_inline(serve: Serve) -> None:
    client, base = serve()

    client.create_job(request(input_reference="data:image/png;base64," + base64.b64encode(PNG).decode()))

    listed = httpx.get(f"{base}/fake/jobs").json()["jobs"][0]
    assert listed["input_reference"] == {"kind": "inline", "content_type": "image/png", "bytes": len(PNG)}


def test_the_fake_refuses_a_wrong_key_as_google_does(serve: Serve) -> None:
    client, base = serve(client_key="test-gemini-key-wrong")

    with pytest.raises(ProviderPermanentError) as caught:
        client.create_job(request())
    missing = httpx.post(
        f"{base}/gemini/v1beta/models/{MODEL}:predictLongRunning", json={"instances": [{"prompt": "p"}]}
    )

    assert caught.value.code == "PROVIDER_AUTH_FAILED"
    assert (missing.status_code, missing.json()["error"]["status"]) == (403, "PERMISSION_DENIED")


def test_a_failing_job_on_the_fake_ends_failed_with_the_providers_message(
    serve: Serve, provider_clock: ManualClock
) -> None:
    client, _ = serve(failure_rate=1.0)

    job_id = client.create_job(request()).id
    provider_clock.advance(VIDEO_SECONDS)
    failed = client.get_job(job_id)

    assert (failed.state, failed.error_code) == (ProviderState.FAILED, "PROVIDER_FAILED")
    assert failed.error_message


def test_fault_modes_reach_the_adapter_in_googles_shape(serve: Serve, provider_clock: ManualClock) -> None:
    client, _ = serve()

    bursting = client.create_job(request(prompt="[fault:5xx_burst] a heron")).id
    limited = client.create_job(request(prompt="[fault:429] a heron")).id
    gone = client.create_job(request(prompt="[fault:content_gone] a heron")).id
    provider_clock.advance(VIDEO_SECONDS)

    with pytest.raises(ProviderTransientError) as unavailable:
        client.get_job(bursting)
    with pytest.raises(ProviderTransientError) as rate_limited:
        client.get_job(limited)
    with pytest.raises(ProviderPermanentError) as content_gone, client.open_content(client.get_job(gone)):
        pass

    assert (unavailable.value.code, unavailable.value.status_code) == ("PROVIDER_UNAVAILABLE", 503)
    assert rate_limited.value.code == "PROVIDER_RATE_LIMITED"
    assert content_gone.value.code == "PROVIDER_CONTENT_GONE"


def test_a_vanished_job_on_the_fake_is_lost(serve: Serve, provider_clock: ManualClock) -> None:
    client, _ = serve()

    job_id = client.create_job(request(prompt="[fault:vanish] a heron")).id
    provider_clock.advance(VIDEO_SECONDS * 0.6)

    with pytest.raises(ProviderJobLostError):
        client.get_job(job_id)


def test_the_fake_refuses_a_duration_its_resolution_cannot_take() -> None:
    with serve_in_background(FakeProviderConfig(api_key=None)) as base:
        answer = httpx.post(
            f"{base}/gemini/v1beta/models/{MODEL}:predictLongRunning",
            json={"instances": [{"prompt": "p"}], "parameters": {"resolution": "1080p", "durationSeconds": 4}},
        )

    assert (answer.status_code, answer.json()["error"]["status"]) == (400, "INVALID_ARGUMENT")
