"""The fake provider on a real local port, driven by the real provider clients: proof the two agree."""

from __future__ import annotations

import base64
import contextlib
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from local.fake_provider import FAULTS, STUCK_AT_PROGRESS, FakeProviderConfig, FaultAction, serve_in_background
from local.template import load_template
from tests.clocks import ManualClock
from videotasks.adapters.providers import ImagesProvider, JobRequest, VideosProvider
from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError, ProviderTransientError
from videotasks.domain.lifecycle import ProviderState

KEY = "fake-key"
VIDEO_SECONDS = 10.0
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 8


Serve = Callable[..., VideosProvider]


@pytest.fixture
def serve(provider_clock: ManualClock) -> Iterator[Serve]:
    """Start a fake provider (config fields as keywords, the manual clock, key ``KEY``) and return a
    VideosProvider pointed at it, using ``client_key`` if given, else the server's key."""
    with contextlib.ExitStack() as stack:

        def start(*, client_key: str | None = None, client_timeout: float = 5.0, **fields: Any) -> VideosProvider:
            fields.setdefault("api_key", KEY)
            fields.setdefault("video_seconds", VIDEO_SECONDS)
            base_url = stack.enter_context(serve_in_background(FakeProviderConfig(clock=provider_clock, **fields)))
            key = client_key or fields["api_key"] or "unused"
            return stack.enter_context(VideosProvider(base_url=base_url, api_key=key, timeout=client_timeout))

        yield start


def base_url_of(client: VideosProvider) -> str:
    return str(client._http.base_url).rstrip("/")


def content_of(client: VideosProvider, job_id: str) -> tuple[str, bytes]:
    with client.open_content(client.get_job(job_id)) as media:
        return media.content_type, b"".join(media.chunks)


def create(client: VideosProvider, prompt: str = "a cat on a skateboard") -> str:
    return client.create_job(JobRequest(prompt=prompt, model="sora-2", seconds=4, size="1280x720")).id


# -- the normal life of a job -------------------------------------------------------------------------


def test_job_goes_from_queued_through_in_progress_to_completed(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve()

    created = client.create_job(JobRequest(prompt="a cat", model="sora-2", seconds=8, size="1280x720"))
    provider_clock.advance(VIDEO_SECONDS / 2)
    halfway = client.get_job(created.id)
    provider_clock.advance(VIDEO_SECONDS / 2)
    done = client.get_job(created.id)

    assert created.id.startswith("video_")
    assert (created.state, created.progress) == (ProviderState.QUEUED, 0)
    assert halfway.state is ProviderState.RUNNING
    assert halfway.progress is not None
    assert 0 < halfway.progress < 100
    assert (done.state, done.raw_status, done.progress) == (ProviderState.SUCCEEDED, "completed", 100)


def test_completed_job_reports_openai_fields(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve()
    job_id = create(client)
    provider_clock.advance(VIDEO_SECONDS)

    body = httpx.get(f"{base_url_of(client)}/v1/videos/{job_id}", headers={"Authorization": f"Bearer {KEY}"}).json()

    assert body["object"] == "video"
    assert (body["seconds"], body["size"], body["model"]) == ("4", "1280x720", "sora-2")
    assert body["expires_at"] > body["created_at"]


def test_content_of_a_completed_job_is_an_mp4(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve()
    job_id = create(client)
    provider_clock.advance(VIDEO_SECONDS)

    content_type, data = content_of(client, job_id)

    assert content_type == "video/mp4"
    assert data[4:8] == b"ftyp"


def test_job_completes_on_the_real_clock() -> None:
    config = FakeProviderConfig(video_seconds=0.3, api_key=KEY)
    with serve_in_background(config) as base_url, VideosProvider(base_url=base_url, api_key=KEY) as client:
        job = client.create_job(JobRequest(prompt="p", model="sora-2"))
        for _ in range(200):  # bounded wait, not a timing assertion
            job = client.get_job(job.id)
            if job.state is ProviderState.SUCCEEDED:
                break
            time.sleep(0.02)

    assert job.state is ProviderState.SUCCEEDED


def test_content_before_completion_is_refused(serve: Serve) -> None:
    client = serve()
    job_id = create(client)

    with pytest.raises(ProviderPermanentError) as caught:
        content_of(client, job_id)

    assert caught.value.status_code == 409


def test_cancel_deletes_the_job(serve: Serve) -> None:
    client = serve()
    job_id = create(client)

    client.cancel_job(job_id)

    with pytest.raises(ProviderJobLostError):
        client.get_job(job_id)


def test_unknown_job_is_lost(serve: Serve) -> None:
    with pytest.raises(ProviderJobLostError):
        serve().get_job("video_does_not_exist")


def test_failure_rate_one_fails_every_job_partway_with_an_error(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve(failure_rate=1.0)
    job_id = create(client)

    provider_clock.advance(VIDEO_SECONDS * 0.2)
    running = client.get_job(job_id)
    provider_clock.advance(VIDEO_SECONDS)
    failed = client.get_job(job_id)

    assert running.state is ProviderState.RUNNING
    assert failed.state is ProviderState.FAILED
    assert failed.error_code == "video_generation_failed"
    assert failed.error_message


def test_reference_data_url_arrives_as_a_file(serve: Serve) -> None:
    client = serve(api_key=None)
    reference = "data:image/png;base64," + base64.b64encode(PNG).decode()

    client.create_job(JobRequest(prompt="p", model="sora-2", input_reference=reference))
    jobs = httpx.get(f"{base_url_of(client)}/fake/jobs").json()["jobs"]

    assert jobs[0]["input_reference"] == {
        "kind": "file",
        "filename": "input_reference.png",
        "content_type": "image/png",
        "bytes": len(PNG),
    }


# -- auth ---------------------------------------------------------------------------------------------


def test_wrong_key_is_401_in_openais_error_shape(serve: Serve) -> None:
    client = serve(client_key="sk-wrong")

    answer = httpx.get(f"{base_url_of(client)}/v1/videos", headers={"Authorization": "Bearer sk-wrong"})
    with pytest.raises(ProviderPermanentError) as caught:
        client.create_job(JobRequest(prompt="p", model="sora-2"))

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "invalid_api_key"
    assert caught.value.status_code == 401


def test_missing_key_is_401(serve: Serve) -> None:
    client = serve()

    answer = httpx.post(f"{base_url_of(client)}/v1/videos", data={"prompt": "p"})

    assert answer.status_code == 401


def test_key_without_bearer_is_refused(serve: Serve) -> None:
    client = serve()
    raw = VideosProvider(base_url=base_url_of(client), api_key=KEY, auth_scheme="raw")

    with raw, pytest.raises(ProviderPermanentError) as caught:
        raw.get_job("video_x")

    assert caught.value.status_code == 401


def test_media_is_served_without_a_key_like_a_cdn(serve: Serve) -> None:
    client = serve()

    answer = httpx.get(f"{base_url_of(client)}/media/sample.png")

    assert answer.status_code == 200
    assert answer.content.startswith(b"\x89PNG")


# -- fault modes --------------------------------------------------------------------------------------


def test_5xx_burst_answers_503_three_times_then_recovers(serve: Serve) -> None:
    client = serve(fault="5xx_burst")
    job_id = create(client)

    codes = []
    for _ in range(3):
        with pytest.raises(ProviderTransientError) as caught:
            client.get_job(job_id)
        codes.append(caught.value.status_code)

    assert codes == [503, 503, 503]
    assert client.get_job(job_id).id == job_id


def test_429_fault_rate_limits_twice_then_recovers(serve: Serve) -> None:
    client = serve()
    job_id = create(client, "a cat [fault:429]")

    for _ in range(2):
        with pytest.raises(ProviderTransientError) as caught:
            client.get_job(job_id)
        assert (caught.value.status_code, caught.value.code) == (429, "PROVIDER_RATE_LIMITED")

    assert client.get_job(job_id).id == job_id


def test_fault_in_one_prompt_leaves_other_jobs_alone(serve: Serve) -> None:
    client = serve()
    faulty = create(client, "[fault:5xx_burst] a dog")
    healthy = create(client, "a dog")

    assert client.get_job(healthy).id == healthy
    with pytest.raises(ProviderTransientError):
        client.get_job(faulty)


def test_reset_drops_the_connection_twice_then_recovers(serve: Serve) -> None:
    client = serve(fault="reset")
    job_id = create(client)

    for _ in range(2):
        with pytest.raises(ProviderTransientError) as caught:
            client.get_job(job_id)
        assert caught.value.code == "PROVIDER_UNAVAILABLE"

    assert client.get_job(job_id).id == job_id


def test_malformed_answers_broken_json_twice_then_recovers(serve: Serve) -> None:
    client = serve(fault="malformed")
    job_id = create(client)

    for _ in range(2):
        with pytest.raises(ProviderTransientError) as caught:
            client.get_job(job_id)
        assert caught.value.code == "PROVIDER_BAD_REPLY"

    assert client.get_job(job_id).id == job_id


def test_hang_outlasts_the_client_timeout_once(serve: Serve) -> None:
    client = serve(fault="hang", hang_seconds=5.0, client_timeout=0.2)
    job_id = create(client)

    with pytest.raises(ProviderTransientError) as caught:
        client.get_job(job_id)

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert client.get_job(job_id).id == job_id


def test_hang_status_outlasts_the_poll_functions_timeout() -> None:
    rule = FAULTS["hang_status"]
    poll_timeout = load_template()["Globals"]["Function"]["Timeout"]  # PollTaskFunction sets none of its own

    assert (rule.target, rule.action, rule.first_calls) == ("status", FaultAction.HANG, 1)
    assert rule.hang_seconds is not None and rule.hang_seconds > poll_timeout


def test_vanish_loses_the_job_halfway(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve(fault="vanish")
    job_id = create(client)

    provider_clock.advance(VIDEO_SECONDS * 0.3)
    early = client.get_job(job_id)
    provider_clock.advance(VIDEO_SECONDS * 0.3)

    assert early.state is ProviderState.RUNNING
    with pytest.raises(ProviderJobLostError):
        client.get_job(job_id)


def test_stuck_never_finishes(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve(fault="stuck")
    job_id = create(client)

    provider_clock.advance(VIDEO_SECONDS * 100)
    job = client.get_job(job_id)

    assert (job.state, job.progress) == (ProviderState.RUNNING, STUCK_AT_PROGRESS)


def test_content_flaky_fails_two_downloads_then_serves(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve(fault="content_flaky")
    job_id = create(client)
    provider_clock.advance(VIDEO_SECONDS)

    for _ in range(2):
        with pytest.raises(ProviderTransientError):
            content_of(client, job_id)

    assert content_of(client, job_id)[1][4:8] == b"ftyp"


def test_content_gone_is_permanent(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve(fault="content_gone")
    job_id = create(client)
    provider_clock.advance(VIDEO_SECONDS)

    with pytest.raises(ProviderPermanentError) as caught:
        content_of(client, job_id)

    assert caught.value.code == "PROVIDER_CONTENT_GONE"


def test_content_html_serves_a_page_as_the_video(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve(fault="content_html")
    job_id = create(client)
    provider_clock.advance(VIDEO_SECONDS)

    content_type, body = content_of(client, job_id)

    assert content_type.startswith("text/html")
    assert body.startswith(b"<!doctype html>")


def stats(client: VideosProvider) -> list[dict[str, Any]]:
    jobs: list[dict[str, Any]] = httpx.get(f"{base_url_of(client)}/_fake/stats").json()["jobs"]
    return jobs


def keyed(prompt: str = "a cat on a skateboard", key: str = "videotasks-video_1") -> JobRequest:
    return JobRequest(prompt=prompt, model="sora-2", seconds=4, size="1280x720", idempotency_key=key)


def test_drop_create_reply_makes_the_job_but_the_client_times_out(serve: Serve) -> None:
    client = serve(fault="drop_create_reply", hang_seconds=5.0, client_timeout=0.3)

    with pytest.raises(ProviderTransientError) as caught:
        client.create_job(keyed())

    assert caught.value.code == "PROVIDER_TIMEOUT"
    assert len(stats(client)) == 1


def test_a_repeated_idempotency_key_replays_the_same_job_and_records_it(serve: Serve) -> None:
    client = serve()

    first = client.create_job(keyed()).id
    second = client.create_job(keyed()).id

    assert first == second
    (job,) = httpx.get(f"{base_url_of(client)}/fake/jobs").json()["jobs"]
    assert (job["id"], job["idempotency_key"], job["replays"]) == (first, "videotasks-video_1", 1)


def test_an_idempotency_key_reused_for_a_different_request_is_409(serve: Serve) -> None:
    client = serve()
    client.create_job(keyed("a cat"))

    with pytest.raises(ProviderPermanentError) as caught:
        client.create_job(keyed("a dog"))

    assert caught.value.status_code == 409
    assert len(stats(client)) == 1


def test_creates_without_a_key_or_with_distinct_keys_are_distinct_jobs(serve: Serve) -> None:
    client = serve()

    ids = {create(client), create(client), client.create_job(keyed(key="k1")).id, client.create_job(keyed(key="k2")).id}

    assert len(ids) == 4


def test_stats_lists_every_job_made_with_its_shape_and_times(serve: Serve, provider_clock: ManualClock) -> None:
    client = serve()
    before = time.time()
    job_id = create(client)
    client.get_job(job_id)
    client.get_job(job_id)
    images = ImagesProvider(base_url=base_url_of(client), api_key=KEY)
    images.generate(keyed(key="img-key"))
    images.generate(keyed(key="img-key"))  # a replay: no second image

    video, image = stats(client)

    assert set(video) == {"id", "shape", "createdAt", "readyAt", "statusCalls", "webhooksSent"}
    assert (video["id"], video["shape"], video["statusCalls"], video["webhooksSent"]) == (
        job_id,
        "openai-videos",
        2,
        0,
    )
    assert before <= video["createdAt"] <= time.time()
    assert video["readyAt"] == pytest.approx(video["createdAt"] + VIDEO_SECONDS)
    assert image["shape"] == "openai-images"


def test_the_listing_shows_each_jobs_prompt_for_a_retried_submit_to_match(serve: Serve) -> None:
    client = serve()
    job_id = create(client, "a heron")

    (listed,) = client.list_recent_jobs()

    assert (listed.id, listed.prompt, listed.model, listed.seconds, listed.size) == (
        job_id,
        "a heron",
        "sora-2",
        "4",
        "1280x720",
    )


def test_unknown_fault_in_a_prompt_is_refused(serve: Serve) -> None:
    with pytest.raises(ProviderPermanentError) as caught:
        create(serve(), "[fault:meteor]")

    assert caught.value.status_code == 400


# -- images -------------------------------------------------------------------------------------------


def test_image_generation_returns_an_absolute_url_to_a_png_it_serves(serve: Serve) -> None:
    base_url = base_url_of(serve())

    with ImagesProvider(base_url=base_url, api_key=KEY) as images:
        job = images.generate(JobRequest(prompt="a cat", model="gpt-image-1", size="1024x1024"))
        with images.open_content(job) as media:
            data = b"".join(media.chunks)

    assert job.state is ProviderState.SUCCEEDED
    assert job.media_url is not None
    assert job.media_url.startswith(f"{base_url}/media/")
    assert (media.content_type, data[:4]) == ("image/png", b"\x89PNG")


# -- configuration ------------------------------------------------------------------------------------


def test_config_reads_the_environment() -> None:
    config = FakeProviderConfig.from_env(
        {"FAKE_VIDEO_SECONDS": "3.5", "FAKE_FAILURE_RATE": "0.25", "FAKE_PROVIDER_FAULT": "stuck"}
    )

    assert (config.video_seconds, config.failure_rate, config.fault, config.api_key) == (3.5, 0.25, "stuck", None)


def test_config_defaults_match_the_design() -> None:
    config = FakeProviderConfig.from_env({})

    assert (config.video_seconds, config.failure_rate, config.fault) == (20.0, 0.0, None)


@pytest.mark.parametrize(
    "fields", [{"failure_rate": 1.5}, {"failure_rate": -0.1}, {"video_seconds": -1.0}, {"fault": "meteor"}]
)
def test_config_rejects_nonsense(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"."):
        FakeProviderConfig(**fields)


def test_every_documented_fault_mode_exists() -> None:
    documented = {
        *("5xx_burst", "429", "hang", "hang_status", "reset", "malformed", "vanish", "stuck"),
        *("content_flaky", "content_gone", "content_html", "drop_create_reply", "drop_webhook"),
    }

    assert set(FAULTS) == documented


# -- remix ----------------------------------------------------------------------------------------------


def test_a_finished_job_is_remixed_into_a_new_job_of_its_model_seconds_and_size(
    serve: Serve, provider_clock: ManualClock
) -> None:
    client = serve()
    source = create(client)
    provider_clock.advance(VIDEO_SECONDS)

    remix = client.remix_job(source, JobRequest(prompt="the same cat, at night", model="ignored"))

    assert remix.id != source and remix.state is ProviderState.QUEUED
    jobs = {job["id"]: job for job in httpx.get(f"{base_url_of(client)}/fake/jobs", timeout=5).json()["jobs"]}
    assert jobs[remix.id]["remixed_from_video_id"] == source
    assert (jobs[remix.id]["model"], jobs[remix.id]["seconds"], jobs[remix.id]["size"]) == ("sora-2", "4", "1280x720")
    assert jobs[remix.id]["prompt"] == "the same cat, at night"
    provider_clock.advance(VIDEO_SECONDS)
    assert client.get_job(remix.id).state is ProviderState.SUCCEEDED


def test_a_remix_of_a_job_that_is_gone_or_unfinished_is_a_permanent_error(serve: Serve) -> None:
    client = serve()
    running = create(client)
    request = JobRequest(prompt="again", model="sora-2")

    with pytest.raises(ProviderPermanentError) as unfinished:
        client.remix_job(running, request)
    with pytest.raises(ProviderPermanentError) as gone:
        client.remix_job("video_does_not_exist", request)

    assert (unfinished.value.status_code, gone.value.status_code) == (400, 404)
