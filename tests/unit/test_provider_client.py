"""The provider clients against scripted HTTP replies (httpx.MockTransport): shapes, auth and error classes."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import cast

import httpx
import pytest

from videotasks.adapters.providers import ImagesProvider, JobRequest, ProviderJob, VideosProvider
from videotasks.adapters.providers._http import retry_after_seconds
from videotasks.domain.errors import ProviderError, ProviderJobLostError, ProviderPermanentError, ProviderTransientError
from videotasks.domain.lifecycle import ProviderState

API_KEY = "sk-test-DO-NOT-LEAK-0123456789"
BASE = "https://provider.test"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 16

Handler = Callable[[httpx.Request], httpx.Response]


def videos(handler: Handler, **options: object) -> VideosProvider:
    settings: dict[str, object] = {"base_url": BASE, "api_key": API_KEY, **options}
    return VideosProvider(transport=httpx.MockTransport(handler), **settings)  # type: ignore[arg-type]


def images(handler: Handler) -> ImagesProvider:
    return ImagesProvider(base_url=BASE, api_key=API_KEY, transport=httpx.MockTransport(handler))


def job_json(**fields: object) -> dict[str, object]:
    return {"id": "video_abc", "object": "video", "status": "queued", "progress": 0, **fields}


def reply(payload: object, status: int = 200, **kwargs: object) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, json=payload, **kwargs)  # type: ignore[arg-type]

    return handle


def raising(error: Exception) -> Handler:
    def handle(request: httpx.Request) -> httpx.Response:
        raise error

    return handle


def form_parts(request: httpx.Request) -> dict[str, EmailMessage]:
    """The multipart body as {field name: part}, parsed by the standard library, not by us."""
    head = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(head + request.content)
    parts = [cast(EmailMessage, part) for part in message.iter_parts()]
    return {str(part.get_param("name", header="content-disposition")): part for part in parts}


def reply_html_echoing_the_key(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, content=b"<html>" + API_KEY.encode())


def done_job(**fields: object) -> ProviderJob:
    values: dict[str, object] = {
        "id": "video_abc",
        "state": ProviderState.SUCCEEDED,
        "raw_status": "completed",
        "progress": 100,
        "media_url": None,
        "error_code": None,
        "error_message": None,
        **fields,
    }
    return ProviderJob(**values)  # type: ignore[arg-type]


def read_all(chunks: Iterator[bytes]) -> bytes:
    return b"".join(chunks)


# -- videos: success paths ----------------------------------------------------------------------------


def test_create_job_posts_multipart_fields_with_bearer_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json(created_at=1, seconds="8", size="1280x720"))

    job = videos(handle).create_job(JobRequest(prompt="a cat", model="sora-2", seconds=8, size="1280x720"))

    request = seen[0]
    assert (request.method, request.url.path) == ("POST", "/v1/videos")
    assert request.headers["authorization"] == f"Bearer {API_KEY}"
    assert request.headers["content-type"].startswith("multipart/form-data")
    parts = form_parts(request)
    assert {name: part.get_content() for name, part in parts.items()} == {
        "prompt": "a cat",
        "model": "sora-2",
        "seconds": "8",
        "size": "1280x720",
    }
    assert job == ProviderJob("video_abc", ProviderState.QUEUED, "queued", 0, None, None, None)


def test_creates_send_the_requests_idempotency_key_and_none_without_one() -> None:
    seen: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("idempotency-key"))
        if request.url.path.startswith("/v1/images"):
            return httpx.Response(200, json={"created": 1, "data": [{"url": "https://cdn.test/a.png"}]})
        return httpx.Response(200, json=job_json())

    keyed = JobRequest(prompt="p", model="sora-2", idempotency_key="videotasks-video_1")
    videos(handle).create_job(keyed)
    images(handle).generate(keyed)
    videos(handle).create_job(JobRequest(prompt="p", model="sora-2"))

    assert seen == ["videotasks-video_1", "videotasks-video_1", None]


def test_list_recent_jobs_asks_for_the_newest_and_reads_what_each_job_shows() -> None:
    asked: list[httpx.URL] = []

    def handle(request: httpx.Request) -> httpx.Response:
        asked.append(request.url)
        body = {
            "object": "list",
            "data": [
                job_json(id="video_2", created_at=1795849200, prompt="a fox", model="sora-2", seconds="4", size="1x1"),
                job_json(id="video_1", created_at="yesterday", seconds=8),
            ],
        }
        return httpx.Response(200, json=body)

    first, second = videos(handle).list_recent_jobs()

    assert (asked[0].path, dict(asked[0].params)) == ("/v1/videos", {"limit": "100", "order": "desc"})
    assert (first.id, first.created_at, first.prompt, first.model, first.seconds, first.size) == (
        "video_2",
        datetime.fromtimestamp(1795849200, UTC),
        "a fox",
        "sora-2",
        "4",
        "1x1",
    )
    assert (second.created_at, second.prompt, second.seconds) == (None, None, "8")


def test_a_provider_without_a_job_list_is_a_permanent_error() -> None:
    with pytest.raises(ProviderPermanentError):
        videos(reply({"error": {"message": "Not found"}}, status=404)).list_recent_jobs()


def test_create_job_attaches_data_url_reference_as_a_file() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json())

    reference = "data:image/png;base64," + base64.b64encode(PNG).decode()
    videos(handle).create_job(JobRequest(prompt="p", model="sora-2", input_reference=reference))

    part = form_parts(seen[0])["input_reference"]
    assert part.get_filename() == "input_reference.png"
    assert part.get_content_type() == "image/png"
    assert part.get_payload(decode=True) == PNG


def test_create_job_sends_http_reference_as_a_plain_field() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json())

    videos(handle).create_job(JobRequest(prompt="p", model="m", input_reference="https://cdn.test/ref.png"))

    part = form_parts(seen[0])["input_reference"]
    assert part.get_filename() is None
    assert part.get_content() == "https://cdn.test/ref.png"


def test_create_job_with_broken_data_url_reference_is_permanent_and_sends_nothing() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        raise AssertionError("no request expected")

    with pytest.raises(ProviderPermanentError):
        videos(handle).create_job(JobRequest(prompt="p", model="m", input_reference="data:image/png;base64,@@@"))


def test_create_job_accepts_a_relay_answering_with_the_bare_job_id() -> None:
    job = videos(reply("task_123")).create_job(JobRequest(prompt="p", model="m"))

    assert (job.id, job.state) == ("task_123", ProviderState.QUEUED)


def test_get_job_reads_a_completed_openai_job() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json(status="completed", progress=100, expires_at=2))

    job = videos(handle).get_job("video_abc")

    assert (seen[0].method, seen[0].url.path) == ("GET", "/v1/videos/video_abc")
    assert (job.state, job.raw_status, job.progress, job.media_url) == (ProviderState.SUCCEEDED, "completed", 100, None)


def test_get_job_reads_the_relay_shape_under_its_base_path() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200, json={"id": "t1", "status": "pending", "progress": "45.5", "video_url": "/videos/t1.mp4"}
        )

    job = videos(handle, path="/sora/v1/videos").get_job("t1")

    assert seen[0].url.path == "/sora/v1/videos/t1"
    assert (job.state, job.raw_status, job.progress) == (ProviderState.QUEUED, "pending", 45)
    assert job.media_url == f"{BASE}/videos/t1.mp4"


@pytest.mark.parametrize(
    ("fields", "expected_url"),
    [
        ({"url": "https://cdn.test/a.mp4"}, "https://cdn.test/a.mp4"),
        ({"image_url": "img/a.png"}, f"{BASE}/img/a.png"),
        ({"progress": 73.9}, None),
    ],
)
def test_get_job_takes_the_media_url_from_any_field_relays_use(
    fields: dict[str, object], expected_url: str | None
) -> None:
    job = videos(reply(job_json(status="completed", **fields))).get_job("video_abc")

    assert job.media_url == expected_url


def test_get_job_reads_a_string_error_and_the_relays_error_code() -> None:
    handler = reply(job_json(status="failed", error="content policy violation", error_code="MODERATION"))

    job = videos(handler).get_job("video_abc")

    assert (job.state, job.error_code, job.error_message) == (
        ProviderState.FAILED,
        "MODERATION",
        "content policy violation",
    )


def test_get_job_reads_an_openai_error_object() -> None:
    handler = reply(job_json(status="failed", error={"code": "moderation_blocked", "message": "Blocked"}))

    job = videos(handler).get_job("video_abc")

    assert (job.error_code, job.error_message) == ("moderation_blocked", "Blocked")


def test_unknown_status_counts_as_running_and_keeps_the_raw_word() -> None:
    job = videos(reply(job_json(status="NOT_START"))).get_job("video_abc")
    odd = videos(reply(job_json(status="rendering"))).get_job("video_abc")

    assert (job.state, job.raw_status) == (ProviderState.QUEUED, "NOT_START")
    assert (odd.state, odd.raw_status) == (ProviderState.RUNNING, "rendering")


def test_raw_auth_scheme_sends_the_key_without_bearer() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json())

    videos(handle, auth_scheme="raw").get_job("video_abc")

    assert seen[0].headers["authorization"] == API_KEY


def test_base_url_with_a_path_prefix_keeps_it() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json())

    videos(handle, base_url=f"{BASE}/openai/").get_job("video_abc")

    assert seen[0].url.path == "/openai/v1/videos/video_abc"


def test_job_ids_are_escaped_in_paths() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=job_json())

    videos(handle).get_job("../admin")

    assert seen[0].url.raw_path == b"/v1/videos/..%2Fadmin"


def test_open_content_streams_the_content_endpoint_with_the_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"MP4BYTES", headers={"content-type": "video/mp4"})

    with videos(handle).open_content(done_job()) as media:
        body = read_all(media.chunks)

    assert seen[0].url.path == "/v1/videos/video_abc/content"
    assert seen[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert (media.content_type, media.content_length, body) == ("video/mp4", 8, b"MP4BYTES")


@pytest.mark.parametrize(
    ("media_url", "sends_key"),
    [
        (f"{BASE}/videos/a.mp4", True),
        ("https://cdn.elsewhere.test/a.mp4?sig=1", False),
        ("http://provider.test/a.mp4", False),
    ],
)
def test_open_content_sends_the_key_only_to_the_providers_own_origin(media_url: str, sends_key: bool) -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, content=b"x")

    with videos(handle).open_content(done_job(media_url=media_url)) as media:
        read_all(media.chunks)

    assert str(seen[0].url) == media_url
    assert ("authorization" in seen[0].headers) is sends_key


def test_open_content_decodes_a_data_url_without_http() -> None:
    with videos(raising(AssertionError("no request expected"))).open_content(
        done_job(media_url="data:video/mp4;base64," + base64.b64encode(b"tiny").decode())
    ) as media:
        assert (media.content_type, read_all(media.chunks)) == ("video/mp4", b"tiny")


@pytest.mark.parametrize("status", [404, 410])
def test_open_content_of_missing_media_is_permanent_content_gone(status: int) -> None:
    with (
        pytest.raises(ProviderPermanentError) as caught,
        videos(reply({"error": "gone"}, status)).open_content(done_job()),
    ):
        pass

    assert caught.value.code == "PROVIDER_CONTENT_GONE"


def test_open_content_5xx_is_transient() -> None:
    with pytest.raises(ProviderTransientError), videos(reply({}, 502)).open_content(done_job()):
        pass


def test_download_breaking_off_midway_is_transient() -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self) -> Iterator[bytes]:
            yield b"first"
            raise httpx.ReadError("connection reset by peer")

    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, stream=Broken())

    with videos(handle).open_content(done_job()) as media, pytest.raises(ProviderTransientError):
        read_all(media.chunks)


def test_cancel_job_sends_delete() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "video_abc", "object": "video.deleted", "deleted": True})

    videos(handle).cancel_job("video_abc")

    assert (seen[0].method, seen[0].url.path) == ("DELETE", "/v1/videos/video_abc")


def test_cancel_job_failure_raises_the_classified_error() -> None:
    with pytest.raises(ProviderTransientError):
        videos(reply({}, 500)).cancel_job("video_abc")
    with pytest.raises(ProviderJobLostError):
        videos(reply({}, 404)).cancel_job("video_abc")


# -- videos: error classes ----------------------------------------------------------------------------


def test_503_is_transient_and_names_the_call() -> None:
    with pytest.raises(ProviderTransientError) as caught:
        videos(reply({"error": {"message": "overloaded"}}, 503)).get_job("video_abc")

    assert caught.value.status_code == 503
    assert caught.value.code == "PROVIDER_UNAVAILABLE"
    assert "GET /v1/videos/video_abc answered 503" in str(caught.value)


def test_429_is_transient_rate_limiting() -> None:
    with pytest.raises(ProviderTransientError) as caught:
        videos(reply({}, 429, headers={"Retry-After": "7"})).get_job("video_abc")

    assert caught.value.status_code == 429
    assert caught.value.code == "PROVIDER_RATE_LIMITED"
    assert caught.value.retry_after == 7


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        ("120", 120.0),
        ("Wed, 02 Dec 2026 10:00:30 GMT", 30.0),
        ("Wed, 02 Dec 2026 09:59:00 GMT", 0.0),  # already past: no wait
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(header: str | None, seconds: float | None) -> None:
    now = datetime(2026, 12, 2, 10, 0, 0, tzinfo=UTC)
    assert retry_after_seconds(header, now) == seconds


def test_a_503_passes_its_retry_after_on_and_a_429_without_one_has_none() -> None:
    with pytest.raises(ProviderTransientError) as unavailable:
        videos(reply({}, 503, headers={"Retry-After": "12"})).get_job("video_abc")
    with pytest.raises(ProviderTransientError) as limited:
        videos(reply({}, 429)).get_job("video_abc")
    assert (unavailable.value.retry_after, limited.value.retry_after) == (12, None)


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (httpx.ReadTimeout("timed out"), "PROVIDER_TIMEOUT"),
        (httpx.ConnectTimeout("timed out"), "PROVIDER_TIMEOUT"),
        (httpx.ConnectError("connection refused"), "PROVIDER_UNAVAILABLE"),
        (httpx.ReadError("connection reset by peer"), "PROVIDER_UNAVAILABLE"),
        (httpx.RemoteProtocolError("Server disconnected without sending a response."), "PROVIDER_UNAVAILABLE"),
    ],
)
def test_network_failures_are_transient(error: Exception, code: str) -> None:
    with pytest.raises(ProviderTransientError) as caught:
        videos(raising(error)).get_job("video_abc")

    assert caught.value.code == code


def test_400_is_permanent_and_carries_the_providers_message() -> None:
    handler = reply({"error": {"message": "Invalid size 999x1", "type": "invalid_request_error"}}, 400)

    with pytest.raises(ProviderPermanentError) as caught:
        videos(handler).create_job(JobRequest(prompt="p", model="m", size="999x1"))

    assert type(caught.value) is ProviderPermanentError
    assert caught.value.status_code == 400
    assert "Invalid size 999x1" in str(caught.value)


def test_a_long_provider_message_is_truncated() -> None:
    with pytest.raises(ProviderPermanentError) as caught:
        videos(reply({"error": "x" * 5000}, 422)).get_job("video_abc")

    assert str(caught.value).count("x") == 500


def test_404_while_polling_means_the_job_is_lost() -> None:
    with pytest.raises(ProviderJobLostError) as caught:
        videos(reply({"error": {"message": "not found"}}, 404)).get_job("video_abc")

    assert caught.value.code == "PROVIDER_JOB_LOST"


def test_malformed_json_is_a_transient_bad_reply() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, content=b'{"id": "video_abc", "status": "in_pro', headers={"content-type": "application/json"}
        )

    with pytest.raises(ProviderTransientError) as caught:
        videos(handle).get_job("video_abc")

    assert caught.value.code == "PROVIDER_BAD_REPLY"


@pytest.mark.parametrize("payload", [{"status": "queued"}, {"id": ""}, [1, 2], {"id": None}])
def test_a_reply_without_a_job_id_is_a_transient_bad_reply(payload: object) -> None:
    with pytest.raises(ProviderTransientError) as caught:
        videos(reply(payload)).get_job("video_abc")

    assert caught.value.code == "PROVIDER_BAD_REPLY"


@pytest.mark.parametrize(
    "handler",
    [
        reply({"error": {"message": f"Incorrect API key provided: {API_KEY}"}}, 401),
        reply({"error": f"bad key {API_KEY}"}, 403),
        reply({}, 500),
        reply({}, 429),
        raising(httpx.ConnectError("refused")),
        raising(httpx.ReadTimeout("slow")),
        reply_html_echoing_the_key,
    ],
)
def test_the_api_key_never_appears_in_an_error_message(handler: Handler) -> None:
    client = videos(handler)
    with pytest.raises(ProviderError) as on_get:
        client.get_job("video_abc")
    with pytest.raises(ProviderError) as on_create:
        client.create_job(JobRequest(prompt="p", model="m"))
    failures = [on_get.value, on_create.value]

    for failure in failures:
        assert API_KEY not in str(failure)
        assert API_KEY not in repr(failure)
        assert API_KEY not in failure.message


def test_the_api_key_is_scrubbed_from_a_failed_jobs_error_message() -> None:
    job = videos(reply(job_json(status="failed", error=f"quota of {API_KEY} exceeded"))).get_job("video_abc")

    assert job.error_message is not None
    assert API_KEY not in job.error_message


# -- images -------------------------------------------------------------------------------------------


def test_image_generation_posts_json_and_returns_a_finished_job_with_the_url() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"created": 1700000000, "data": [{"url": "https://cdn.test/i.png"}]})

    job = images(handle).generate(JobRequest(prompt="a cat", model="gpt-image-1", size="1024x1024"))

    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/images/generations")
    assert seen[0].headers["authorization"] == f"Bearer {API_KEY}"
    assert json.loads(seen[0].content) == {"model": "gpt-image-1", "prompt": "a cat", "size": "1024x1024", "n": 1}
    assert (job.state, job.progress, job.media_url) == (ProviderState.SUCCEEDED, 100, "https://cdn.test/i.png")
    assert job.id.startswith("img_1700000000_")


def test_identical_image_replies_still_get_distinct_ids() -> None:
    handler = reply({"created": 5, "data": [{"url": "https://cdn.test/i.png"}]})

    first = images(handler).generate(JobRequest(prompt="p", model="m"))
    second = images(handler).generate(JobRequest(prompt="p", model="m"))

    assert first.id != second.id
    assert first.id.startswith("img_5_")


def test_image_b64_reply_becomes_a_data_url_opened_without_http() -> None:
    encoded = base64.b64encode(PNG).decode()
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"created": 5, "data": [{"b64_json": encoded}]})

    client = images(handle)
    job = client.generate(JobRequest(prompt="p", model="m"))
    with client.open_content(job) as media:
        body = read_all(media.chunks)

    assert len(seen) == 1  # the generation call only
    assert job.media_url == f"data:image/png;base64,{encoded}"
    assert (media.content_type, media.content_length, body) == ("image/png", len(PNG), PNG)


def test_image_url_is_streamed_with_the_same_contract() -> None:
    def handle(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(200, json={"created": 5, "data": [{"url": "/media/i.png"}]})
        return httpx.Response(200, content=PNG, headers={"content-type": "image/png"})

    client = images(handle)
    with client.open_content(client.generate(JobRequest(prompt="p", model="m"))) as media:
        assert read_all(media.chunks) == PNG


@pytest.mark.parametrize("payload", [{"created": 1, "data": []}, {"created": 1}, {"data": [{"revised_prompt": "x"}]}])
def test_image_reply_without_an_image_is_a_transient_bad_reply(payload: object) -> None:
    with pytest.raises(ProviderTransientError) as caught:
        images(reply(payload)).generate(JobRequest(prompt="p", model="m"))

    assert caught.value.code == "PROVIDER_BAD_REPLY"


def test_image_refusal_is_permanent_with_the_providers_message() -> None:
    handler = reply(
        {"error": {"message": "Your request was rejected by the safety system.", "code": "content_policy_violation"}},
        400,
    )

    with pytest.raises(ProviderPermanentError) as caught:
        images(handler).generate(JobRequest(prompt="p", model="m"))

    assert "safety system" in str(caught.value)


def test_an_invalid_media_url_is_permanent() -> None:
    with pytest.raises(ProviderPermanentError) as caught:
        videos(reply(job_json(status="completed", url="https://cdn.test/a\x00.mp4"))).get_job("video_abc")

    assert caught.value.code == "PROVIDER_BAD_MEDIA"


# -- videos: remix --------------------------------------------------------------------------------------


def test_remix_posts_the_prompt_as_json_to_the_source_jobs_remix_path_with_the_idempotency_key() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": "video_new", "status": "queued", "progress": 0})

    request = JobRequest(prompt="at night", model="sora-2", seconds=8, idempotency_key="task-key")
    job = videos(handle).remix_job("video_abc", request)

    assert (seen[0].method, seen[0].url.path) == ("POST", "/v1/videos/video_abc/remix")
    assert json.loads(seen[0].content) == {"prompt": "at night"}
    assert seen[0].headers["idempotency-key"] == "task-key"
    assert (job.id, job.state) == ("video_new", ProviderState.QUEUED)


def test_a_shape_that_cannot_remix_refuses_before_any_call() -> None:
    from videotasks.adapters.providers.replicate import ReplicateProvider

    client = ReplicateProvider(base_url=BASE, api_key=API_KEY, transport=httpx.MockTransport(lambda request: 1 / 0))

    with pytest.raises(ProviderPermanentError) as caught:
        client.remix_job("p_1", JobRequest(prompt="again", model="m"))

    assert caught.value.code == "REMIX_UNSUPPORTED"
