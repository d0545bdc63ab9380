"""The Replicate predictions adapter: against replies recorded in the shape Replicate's docs show
(``tests/unit/recorded/replicate/``, through httpx.MockTransport), and end to end against the fake
provider's Replicate shape on a local port."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from local.fake_provider import FakeProviderConfig, serve_in_background
from tests.clocks import ManualClock
from videotasks.adapters.providers import JobRequest
from videotasks.adapters.providers.replicate import (
    MODEL_PROFILES,
    ReplicateProvider,
    allowed_options,
    model_input,
)
from videotasks.domain.errors import (
    ProviderError,
    ProviderJobLostError,
    ProviderPermanentError,
    ProviderTransientError,
)
from videotasks.domain.lifecycle import ProviderState

RECORDED = Path(__file__).parent / "recorded" / "replicate"
TOKEN = "test-replicate-token-not-a-real-one"
BASE = "https://api.replicate.com"
PREDICTION_ID = "ufawqhfynnddngldkgtslldrkq"
VEO = "google/veo-3.1-fast"
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 16

Handler = Callable[[httpx.Request], httpx.Response]


def recorded(name: str) -> tuple[int, Any]:
    data = json.loads((RECORDED / f"{name}.json").read_text())
    return data["status"], data["body"]


def replaying(name: str, seen: list[httpx.Request] | None = None) -> Handler:
    status, body = recorded(name)

    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        return httpx.Response(status, json=body)

    return handle


def client(handler: Handler, base_url: str = BASE) -> ReplicateProvider:
    return ReplicateProvider(base_url=base_url, api_key=TOKEN, transport=httpx.MockTransport(handler))


def veo_request(**fields: Any) -> JobRequest:
    return JobRequest(**{"prompt": "a red fox running through fresh snow at dawn", "model": VEO, **fields})


# -- create ---------------------------------------------------------------------------------------


def test_an_official_model_is_created_at_its_model_endpoint_with_our_fields_mapped() -> None:
    seen: list[httpx.Request] = []
    job = client(replaying("create_starting", seen)).create_job(
        veo_request(seconds=8, size="1280x720", input_reference="https://example.com/first.png", idempotency_key="k")
    )

    (request,) = seen
    assert (request.method, request.url.path) == ("POST", "/v1/models/google/veo-3.1-fast/predictions")
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert "Prefer" not in request.headers  # we poll; a create must not hold the connection
    assert json.loads(request.content) == {
        "input": {
            "prompt": "a red fox running through fresh snow at dawn",
            "duration": 8,
            "aspect_ratio": "16:9",
            "resolution": "720p",
            "image": "https://example.com/first.png",
        }
    }
    assert (job.id, job.state, job.raw_status) == (PREDICTION_ID, ProviderState.QUEUED, "starting")
    assert (job.progress, job.media_url, job.error_code) == (None, None, None)


def test_a_pinned_version_is_created_at_the_predictions_endpoint() -> None:
    seen: list[httpx.Request] = []
    version = "5c7d5dc6dd8bf75c1acaa8565735e7986bc5b66206b55cca93cb72c9bf15ccaa"
    client(replaying("create_starting", seen)).create_job(
        JobRequest(prompt="a cat", model=f"someone/their-video-model:{version}", seconds=5, size="1280x720")
    )

    (request,) = seen
    assert request.url.path == "/v1/predictions"
    assert json.loads(request.content) == {
        "version": version,
        "input": {"prompt": "a cat", "duration": 5, "aspect_ratio": "16:9"},
    }


def test_a_base_url_with_a_prefix_keeps_it() -> None:
    seen: list[httpx.Request] = []
    client(replaying("create_starting", seen), base_url="http://127.0.0.1:3002/replicate").create_job(veo_request())

    assert seen[0].url.path == "/replicate/v1/models/google/veo-3.1-fast/predictions"


@pytest.mark.parametrize(
    ("model", "seconds", "size", "expected"),
    [
        (VEO, 4, "720x1280", {"duration": 4, "aspect_ratio": "9:16", "resolution": "720p"}),
        ("google/veo-3", 6, "1920x1080", {"duration": 6, "aspect_ratio": "16:9", "resolution": "1080p"}),
        ("kwaivgi/kling-v2.5-turbo-pro", 10, "1080x1080", {"duration": 10, "aspect_ratio": "1:1"}),
        ("kwaivgi/kling-v2.0", 5, "720x1280", {"duration": 5, "aspect_ratio": "9:16"}),
        ("someone/unknown-model", 7, "1024x768", {"duration": 7, "aspect_ratio": "4:3"}),
        (VEO, None, None, {}),
    ],
)
def test_seconds_and_size_map_onto_each_models_inputs(
    model: str, seconds: int | None, size: str | None, expected: dict[str, Any]
) -> None:
    assert model_input(JobRequest(prompt="p", model=model, seconds=seconds, size=size)) == {"prompt": "p", **expected}


def test_kling_takes_its_start_frame_as_start_image() -> None:
    request = JobRequest(prompt="p", model="kwaivgi/kling-v2.0", input_reference="data:image/png;base64,iVBORw0=")

    assert model_input(request)["start_image"] == "data:image/png;base64,iVBORw0="


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"seconds": 5}, "seconds 5 is not available for google/veo-3.1-fast; allowed: 4, 6, 8"),
        ({"size": "1024x1024"}, "size 1024x1024 is not available for google/veo-3.1-fast; allowed: 1280x720"),
        ({"model": "veo"}, "is not 'owner/name' or 'owner/name:version'"),
        ({"model": "someone/model", "size": "big"}, "size 'big' is not WIDTHxHEIGHT"),
    ],
)
def test_a_value_the_model_cannot_take_is_refused_before_anything_is_sent(fields: dict[str, Any], named: str) -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ProviderPermanentError) as caught:
        client(replaying("create_starting", seen)).create_job(veo_request(**fields))

    assert caught.value.code == "INVALID_INPUT"
    assert named in caught.value.message
    assert seen == []


def test_allowed_options_are_there_for_the_catalog() -> None:
    assert allowed_options(VEO) == (
        (4, 6, 8),
        ("1280x720", "720x1280", "1920x1080", "1080x1920"),
    )
    assert allowed_options(f"{VEO}:abc123") == allowed_options(VEO)
    assert allowed_options("someone/unknown-model") == ((), ())
    assert all(model == model.lower() for model in MODEL_PROFILES)


# -- status ---------------------------------------------------------------------------------------


def test_a_processing_prediction_is_running_without_progress() -> None:
    seen: list[httpx.Request] = []
    job = client(replaying("get_processing", seen)).get_job(PREDICTION_ID)

    assert (seen[0].method, seen[0].url.path) == ("GET", f"/v1/predictions/{PREDICTION_ID}")
    assert (job.state, job.raw_status, job.progress) == (ProviderState.RUNNING, "processing", None)


def test_a_succeeded_prediction_with_a_single_output_url() -> None:
    job = client(replaying("get_succeeded_string")).get_job(PREDICTION_ID)

    assert (job.state, job.raw_status) == (ProviderState.SUCCEEDED, "succeeded")
    assert job.media_url == (
        "https://replicate.delivery/xezq/Kf3eQHMvGoEFNu8fIJHuHYTfE7tpj1sHbnjW0zP1u41CexhUA/tmpq3k0p5ea.mp4"
    )


def test_a_succeeded_prediction_with_a_list_of_outputs_gives_the_first() -> None:
    job = client(replaying("get_succeeded_list")).get_job(PREDICTION_ID)

    assert job.media_url == "https://replicate.delivery/xezq/a1b2c3/output_0.mp4"


def test_a_failed_prediction_keeps_its_message_under_a_stable_code() -> None:
    job = client(replaying("get_failed")).get_job(PREDICTION_ID)

    assert (job.state, job.error_code) == (ProviderState.FAILED, "PROVIDER_FAILED")
    assert job.error_message == "Prediction failed: CUDA error: an illegal memory access was encountered"


def test_a_safety_refusal_is_content_policy() -> None:
    job = client(replaying("get_failed_nsfw")).get_job(PREDICTION_ID)

    assert (job.state, job.error_code) == (ProviderState.FAILED, "CONTENT_POLICY")
    assert job.error_message is not None
    assert "(E005)" in job.error_message


@pytest.mark.parametrize("error", ["NSFW content detected. Try a different prompt.", "Content policy violation"])
def test_other_safety_wordings_are_content_policy(error: str) -> None:
    _, body = recorded("get_failed")
    job = client(lambda request: httpx.Response(200, json={**body, "error": error})).get_job(PREDICTION_ID)

    assert job.error_code == "CONTENT_POLICY"


def test_a_canceled_prediction_is_cancelled() -> None:
    job = client(replaying("get_canceled")).get_job(PREDICTION_ID)

    assert (job.state, job.raw_status, job.error_code) == (ProviderState.CANCELLED, "canceled", None)


def test_the_token_is_scrubbed_from_a_failed_predictions_message() -> None:
    _, body = recorded("get_failed")
    reply = {**body, "error": f"upstream refused token {TOKEN}"}
    job = client(lambda request: httpx.Response(200, json=reply)).get_job(PREDICTION_ID)

    assert job.error_message == "upstream refused token ***"


@pytest.mark.parametrize("body", [{"status": "processing"}, {"id": ""}, ["not", "an", "object"]])
def test_a_reply_without_an_id_is_a_transient_bad_reply(body: object) -> None:
    with pytest.raises(ProviderTransientError) as caught:
        client(lambda request: httpx.Response(200, json=body)).get_job(PREDICTION_ID)

    assert caught.value.code == "PROVIDER_BAD_REPLY"


# -- HTTP errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "kind", "code"),
    [
        ("error_422", ProviderPermanentError, "PROVIDER_REJECTED"),
        ("error_401", ProviderPermanentError, "PROVIDER_AUTH_FAILED"),
        ("error_429", ProviderTransientError, "PROVIDER_RATE_LIMITED"),
        ("error_500", ProviderTransientError, "PROVIDER_UNAVAILABLE"),
    ],
)
def test_http_errors_become_stable_codes_with_the_providers_message(
    name: str, kind: type[ProviderError], code: str
) -> None:
    _, body = recorded(name)
    with pytest.raises(kind) as caught:
        client(replaying(name)).create_job(veo_request())

    assert caught.value.code == code
    assert body["detail"] in caught.value.message


def test_an_unknown_prediction_is_lost() -> None:
    with pytest.raises(ProviderJobLostError):
        client(replaying("error_404")).get_job("nope")


@pytest.mark.parametrize("name", ["error_401", "error_422", "error_429", "error_500"])
def test_the_token_never_appears_in_an_error(name: str) -> None:
    status, body = recorded(name)
    echoing = {**body, "detail": f"{body['detail']} ({TOKEN})"}
    with pytest.raises(ProviderError) as caught:
        client(lambda request: httpx.Response(status, json=echoing)).create_job(veo_request())

    assert TOKEN not in str(caught.value)


# -- content --------------------------------------------------------------------------------------


def test_the_output_is_downloaded_without_the_token() -> None:
    _, body = recorded("get_succeeded_string")
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "replicate.delivery":
            return httpx.Response(200, content=MP4, headers={"Content-Type": "video/mp4"})
        return httpx.Response(200, json=body)

    with client(handle) as replicate:
        job = replicate.get_job(PREDICTION_ID)
        with replicate.open_content(job) as media:
            assert (media.content_type, b"".join(media.chunks)) == ("video/mp4", MP4)

    assert "Authorization" not in seen[-1].headers


@pytest.mark.parametrize("status", [404, 410])
def test_an_expired_output_file_is_content_gone(status: int) -> None:
    _, body = recorded("get_succeeded_string")

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.host == "replicate.delivery":
            return httpx.Response(status, text="Not Found")
        return httpx.Response(200, json=body)

    with client(handle) as replicate:
        job = replicate.get_job(PREDICTION_ID)
        with pytest.raises(ProviderPermanentError) as caught, replicate.open_content(job):
            pass

    assert caught.value.code == "PROVIDER_CONTENT_GONE"


def test_a_prediction_whose_files_were_removed_is_content_gone() -> None:
    with client(replaying("get_succeeded_data_removed")) as replicate:
        job = replicate.get_job(PREDICTION_ID)
        with pytest.raises(ProviderPermanentError) as caught, replicate.open_content(job):
            pass

    assert (job.state, job.media_url) == (ProviderState.SUCCEEDED, None)
    assert caught.value.code == "PROVIDER_CONTENT_GONE"


# -- cancel and list ------------------------------------------------------------------------------


def test_cancel_posts_to_the_cancel_url() -> None:
    seen: list[httpx.Request] = []
    client(replaying("get_canceled", seen)).cancel_job(PREDICTION_ID)

    assert (seen[0].method, seen[0].url.path) == ("POST", f"/v1/predictions/{PREDICTION_ID}/cancel")


def test_cancelling_an_unknown_prediction_is_lost() -> None:
    with pytest.raises(ProviderJobLostError):
        client(replaying("error_404")).cancel_job("nope")


def test_recent_predictions_are_listed_for_adoption() -> None:
    seen: list[httpx.Request] = []
    listed = client(replaying("list", seen)).list_recent_jobs()

    assert (seen[0].method, seen[0].url.path) == ("GET", "/v1/predictions")
    first = listed[0]
    assert (first.id, first.prompt, first.seconds) == (
        PREDICTION_ID,
        "a red fox running through fresh snow at dawn",
        "8",
    )
    assert first.created_at == datetime(2026, 11, 28, 10, 15, 2, 451223, tzinfo=UTC)
    assert (first.model, first.size) == (None, None)
    assert [job.id for job in listed] == [PREDICTION_ID, "q4b7ncx6thrgj0cm1m5a3e9f2r"]
    assert client(replaying("list")).list_recent_jobs(limit=1) == listed[:1]


def test_a_list_without_results_is_a_bad_reply() -> None:
    with pytest.raises(ProviderTransientError) as caught:
        client(lambda request: httpx.Response(200, json={"data": []})).list_recent_jobs()

    assert caught.value.code == "PROVIDER_BAD_REPLY"


# -- against the fake provider's Replicate shape --------------------------------------------------

FAKE_KEY = "fake-replicate-key"
VIDEO_SECONDS = 10.0


@pytest.fixture
def fake(provider_clock: ManualClock[float]) -> Iterator[Callable[..., ReplicateProvider]]:
    with contextlib.ExitStack() as stack:

        def start(*, key: str = FAKE_KEY, **fields: Any) -> ReplicateProvider:
            config = FakeProviderConfig(clock=provider_clock, api_key=FAKE_KEY, video_seconds=VIDEO_SECONDS, **fields)
            base_url = stack.enter_context(serve_in_background(config))
            return stack.enter_context(ReplicateProvider(base_url=f"{base_url}/replicate", api_key=key, timeout=5.0))

        yield start


def stats_of(replicate: ReplicateProvider) -> list[dict[str, Any]]:
    origin = replicate._http.base_url.copy_with(path="/_fake/stats")
    jobs: list[dict[str, Any]] = httpx.get(str(origin)).json()["jobs"]
    return jobs


def test_a_prediction_runs_to_completion_on_the_fake(
    fake: Callable[..., ReplicateProvider], provider_clock: ManualClock[float]
) -> None:
    replicate = fake()

    created = replicate.create_job(veo_request(seconds=8, size="1280x720"))
    provider_clock.advance(VIDEO_SECONDS / 2)
    running = replicate.get_job(created.id)
    provider_clock.advance(VIDEO_SECONDS)
    done = replicate.get_job(created.id)
    with replicate.open_content(done) as media:
        content_type, data = media.content_type, b"".join(media.chunks)

    assert (created.state, created.raw_status) == (ProviderState.QUEUED, "starting")
    assert (running.state, running.raw_status, running.progress) == (ProviderState.RUNNING, "processing", None)
    assert (done.state, done.raw_status) == (ProviderState.SUCCEEDED, "succeeded")
    assert content_type == "video/mp4"
    assert data[4:8] == b"ftyp"
    (stat,) = stats_of(replicate)
    assert (stat["id"], stat["shape"], stat["statusCalls"]) == (created.id, "replicate", 2)


def test_a_prediction_is_cancelled_on_the_fake(fake: Callable[..., ReplicateProvider]) -> None:
    replicate = fake()
    created = replicate.create_job(veo_request())

    replicate.cancel_job(created.id)

    assert replicate.get_job(created.id).state is ProviderState.CANCELLED


def test_a_pinned_version_runs_on_the_fake(fake: Callable[..., ReplicateProvider]) -> None:
    replicate = fake()

    created = replicate.create_job(JobRequest(prompt="a cat", model="someone/model:abc123", seconds=5))

    assert replicate.get_job(created.id).raw_status == "starting"


def test_the_fake_lists_its_predictions_for_adoption(fake: Callable[..., ReplicateProvider]) -> None:
    replicate = fake()
    first = replicate.create_job(veo_request(prompt="first"))
    second = replicate.create_job(veo_request(prompt="second", seconds=4))

    listed = replicate.list_recent_jobs()

    assert [(job.id, job.prompt) for job in listed] == [(second.id, "second"), (first.id, "first")]
    assert listed[0].seconds == "4"


def test_the_fake_refuses_a_wrong_token(fake: Callable[..., ReplicateProvider]) -> None:
    with pytest.raises(ProviderPermanentError) as caught:
        fake(key="wrong").create_job(veo_request())

    assert (caught.value.status_code, caught.value.code) == (401, "PROVIDER_AUTH_FAILED")


def test_the_fake_answers_an_unknown_prediction_with_404(fake: Callable[..., ReplicateProvider]) -> None:
    with pytest.raises(ProviderJobLostError):
        fake().get_job("nope")


def test_the_fake_applies_fault_modes(
    fake: Callable[..., ReplicateProvider], provider_clock: ManualClock[float]
) -> None:
    replicate = fake()
    limited = replicate.create_job(veo_request(prompt="slow down [fault:429]"))
    gone = replicate.create_job(veo_request(prompt="lost file [fault:content_gone]"))

    with pytest.raises(ProviderTransientError) as throttled:
        replicate.get_job(limited.id)
    provider_clock.advance(VIDEO_SECONDS * 2)
    finished = replicate.get_job(gone.id)
    with pytest.raises(ProviderPermanentError) as missing, replicate.open_content(finished):
        pass

    assert throttled.value.code == "PROVIDER_RATE_LIMITED"
    assert missing.value.code == "PROVIDER_CONTENT_GONE"


def test_the_fake_fails_a_prediction_with_a_stable_code(
    fake: Callable[..., ReplicateProvider], provider_clock: ManualClock[float]
) -> None:
    replicate = fake(failure_rate=1.0)
    created = replicate.create_job(veo_request())
    provider_clock.advance(VIDEO_SECONDS)

    failed = replicate.get_job(created.id)

    assert (failed.state, failed.error_code) == (ProviderState.FAILED, "PROVIDER_FAILED")
    assert failed.error_message is not None
