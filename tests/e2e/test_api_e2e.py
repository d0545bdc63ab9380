"""The complete task API through the real local stack (`python -m local`): real HTTP, the real state
machine in moto, the fake provider over HTTP, media in moto's S3 fetched from its presigned URL.

Every test works under its own user, so the shared stack's other tasks never show in its lists or
stats. A task meant to stay in flight carries ``[fault:stuck]``: the fake provider never finishes it,
and this stack polls it far longer than any test waits, so it stays PROCESSING until cancelled.
"""

from __future__ import annotations

import struct
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.counters import settled_stats
from tests.fixtures.providers import RELAY_MODEL

# The OpenAI Videos shape on the relay entry: it reports progress and its fake speaks every fault mode these
# tests use. The default model (Gemini Veo) reports no progress.

pytestmark = pytest.mark.e2e

SAMPLE_MP4 = Path(__file__).resolve().parents[2] / "local" / "assets" / "sample.mp4"
STUCK = "[fault:stuck]"


@pytest.fixture
def patient_stack(local_stack_factory):
    """The default stack, but patient: a stuck job is polled 10000 times before it times out."""
    return local_stack_factory(MAX_POLL_ATTEMPTS=10000)


def _create(client: httpx.Client, prompt: str, **fields: Any) -> str:
    created = client.post("/tasks", json={"model": RELAY_MODEL, "prompt": prompt, **fields})
    assert created.status_code == 201, created.text
    return str(created.json()["data"]["videoId"])


def _list_all(client: httpx.Client, **query: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    cursor = None
    for _ in range(100):
        answer = client.get("/tasks", params={**query, **({"cursor": cursor} if cursor else {})})
        assert answer.status_code == 200, answer.text
        page = answer.json()["data"]
        pages.append(page)
        items += page["items"]
        cursor = page["nextCursor"]
        if cursor is None:
            return items, pages
    pytest.fail("paging never ended")


def _wait_for_status(client: httpx.Client, video_id: str, wanted: str, deadline_seconds: float) -> dict[str, Any]:
    deadline = time.monotonic() + deadline_seconds
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = client.get(f"/tasks/{video_id}").json()["data"]
        if last["status"] == wanted:
            return last
        time.sleep(0.25)
    pytest.fail(f"{video_id} never became {wanted}; last answer: {last}")


def _mp4_boxes(data: bytes) -> list[bytes]:
    """The top-level box types of an ISO BMFF file; fails unless the boxes tile the file exactly."""
    boxes, offset = [], 0
    while offset < len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        assert size >= 8, (offset, size)
        boxes.append(kind)
        offset += size
    assert offset == len(data), "boxes overrun the file"
    return boxes


def test_listing_pages_newest_first_with_filters_over_http(patient_stack, user_id, wait_for_terminal):
    with patient_stack.http(user_id) as client, patient_stack.http(f"{user_id}-other") as other:
        _create(other, "someone else's")
        finishing = [_create(client, f"listed task {number}") for number in range(4)]
        in_flight = _create(client, f"still rendering {STUCK}")
        newest_first = [in_flight, *reversed(finishing)]
        settled_stats(client, lambda stats: stats["total"] == 5)  # the list's total is the counters'

        items, pages = _list_all(client, limit=2)
        assert [item["videoId"] for item in items] == newest_first
        assert [len(page["items"]) for page in pages] == [2, 2, 1]
        assert {page["total"] for page in pages} == {5}

        for video_id in finishing:
            assert wait_for_terminal(client, video_id, patient_stack.completion_deadline())["status"] == "COMPLETED"
        _wait_for_status(client, in_flight, "PROCESSING", patient_stack.completion_deadline())
        settled_stats(client, lambda stats: stats["byStatus"]["COMPLETED"] == 4)

        completed, completed_pages = _list_all(client, status="COMPLETED", limit=3)
        assert [item["videoId"] for item in completed] == list(reversed(finishing))
        assert all(item["videoUrl"] for item in completed)
        assert completed_pages[0]["total"] == 4
        processing, _ = _list_all(client, status="in_progress")
        assert [item["videoId"] for item in processing] == [in_flight]
        old_style = client.get("/tasks", params={"page": 2, "pageSize": 2}).json()["data"]
        assert [item["videoId"] for item in old_style["items"]] == newest_first[2:4]
        assert (old_style["total"], old_style["totalPages"]) == (5, 3)
        bad = client.get("/tasks", params={"cursor": pages[0]["nextCursor"], "status": "COMPLETED"})
        assert bad.status_code == 400, bad.text
        assert "cursor" in bad.json()["message"]

        client.post(f"/tasks/{in_flight}/cancel")


def test_stats_after_three_tasks_complete_and_one_is_cancelled(patient_stack, user_id, wait_for_terminal):
    with patient_stack.http(user_id) as client:
        finishing = [_create(client, f"a short clip {number}") for number in range(3)]
        doomed = _create(client, f"never mind {STUCK}")
        _wait_for_status(client, doomed, "PROCESSING", patient_stack.completion_deadline())

        cancelled = client.post(f"/tasks/{doomed}/cancel")
        assert cancelled.status_code == 200, cancelled.text
        for video_id in finishing:
            assert wait_for_terminal(client, video_id, patient_stack.completion_deadline())["status"] == "COMPLETED"
        stats = settled_stats(client, lambda counted: counted["active"] == 0 and counted["total"] == 4)

    assert stats["total"] == 4
    assert stats["byStatus"] == {"QUEUED": 0, "PROCESSING": 0, "COMPLETED": 3, "FAILED": 0, "CANCELLED": 1}
    assert (stats["completed"], stats["cancelled"], stats["active"]) == (3, 1, 0)
    assert stats["byType"] == {"VIDEO": 4, "IMAGE": 0}
    assert stats["successRate"] == 1.0
    assert stats["averageGenerationSeconds"] >= 0
    assert stats["last24Hours"] == 4


def test_content_url_fetched_over_http_returns_the_real_mp4(patient_stack, user_id, wait_for_terminal):
    with patient_stack.http(user_id) as client:
        video_id = _create(client, "a lighthouse at dawn, slow pan")
        wait_for_terminal(client, video_id, patient_stack.completion_deadline())

        link = client.get(f"/tasks/{video_id}/content")
        assert link.status_code == 200, link.text
        content = link.json()["data"]
        with httpx.Client(timeout=30.0, trust_env=False) as anonymous:  # a browser's <video src>: no token
            played = anonymous.get(content["url"])

    assert content["videoId"] == video_id
    assert content["externalVideoId"]
    assert content["contentType"] == "video/mp4"
    assert played.status_code == 200
    assert played.headers["content-type"] == "video/mp4"
    assert played.content == SAMPLE_MP4.read_bytes()  # the provider's file, byte for byte
    boxes = _mp4_boxes(played.content)
    assert boxes[0] == b"ftyp"
    assert {b"moov", b"mdat"} <= set(boxes)


def test_models_lists_the_catalog_and_a_task_on_each_listed_video_model_completes(
    patient_stack, user_id, wait_for_terminal
):
    with patient_stack.http(user_id) as client:
        answer = client.get("/models")
        assert answer.status_code == 200, answer.text
        listing = answer.json()["data"]
        models = {item["id"]: item for item in listing["items"]}
        assert listing["default"] not in {"sora-2", "sora-2-pro"}
        assert not {"sora-2", "sora-2-pro"} & set(models)
        assert {"sora_video2", "gpt-image-1"} <= set(models)
        videos = [item for item in models.values() if item["type"] == "VIDEO"]
        created = {
            item["id"]: _create(client, f"a lantern on {item['id']}", model=item["id"], seconds=item["seconds"][0])
            for item in videos
        }
        finished = {
            model_id: wait_for_terminal(client, video_id, patient_stack.completion_deadline())
            for model_id, video_id in created.items()
        }
    billed = httpx.get(f"{patient_stack.provider_url}/_fake/stats", timeout=10.0).json()["jobs"]

    for model_id, task in finished.items():
        assert (task["status"], task["model"]) == ("COMPLETED", model_id), task
    # Each task's job was made at the fake provider in its model's own API shape, under the id we report.
    shape_of_job = {job["id"]: job["shape"] for job in billed}
    shapes = {shape_of_job[task["externalVideoId"]] for task in finished.values()}
    assert {"openai-videos", "gemini-veo", "fal-queue", "replicate"} <= shapes, shapes


def test_image_task_completes_with_a_png_at_its_url(patient_stack, user_id, wait_for_terminal):
    with patient_stack.http(user_id) as client:
        video_id = _create(client, "a red fox, studio light", type="IMAGE", model="gpt-image-1")
        task = wait_for_terminal(client, video_id, patient_stack.completion_deadline())
        content = client.get(f"/tasks/{video_id}/content").json()["data"]
        with httpx.Client(timeout=30.0, trust_env=False) as anonymous:
            image = anonymous.get(content["url"])

    assert task["status"] == "COMPLETED", task
    assert content["contentType"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")


def test_idempotency_key_replays_the_same_task_over_http(patient_stack, user_id):
    with patient_stack.http(user_id) as client:
        body = {"model": RELAY_MODEL, "prompt": f"pressed twice {STUCK}"}
        first = client.post("/tasks", json=body, headers={"Idempotency-Key": "e2e-double-click"})
        second = client.post("/tasks", json=body, headers={"Idempotency-Key": "e2e-double-click"})
        other_body = client.post(
            "/tasks",
            json={"model": RELAY_MODEL, "prompt": "something else"},
            headers={"Idempotency-Key": "e2e-double-click"},
        )
        listed, _ = _list_all(client)
        client.post(f"/tasks/{first.json()['data']['videoId']}/cancel")

    assert first.status_code == 201, first.text
    assert second.status_code == 200, second.text  # a replay
    assert second.json()["data"]["videoId"] == first.json()["data"]["videoId"]
    assert other_body.status_code == 409, other_body.text
    assert [item["videoId"] for item in listed] == [first.json()["data"]["videoId"]]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/nothing-here", 404, "NOT_FOUND"),
        ("PATCH", "/tasks/video_00000000-0000-4000-8000-000000000000", 405, "METHOD_NOT_ALLOWED"),
        ("GET", "/tasks/not-a-video-id", 400, "VALIDATION_ERROR"),
    ],
)
def test_unknown_routes_wrong_methods_and_bad_ids_get_the_envelope_through_the_gateway(
    patient_stack, user_id, method, path, status, code
):
    with patient_stack.http(user_id) as client:
        answer = client.request(method, path)

    assert answer.status_code == status, answer.text
    body = answer.json()
    assert (body["success"], body["error"]["code"]) == (False, code)
    assert body["message"]


@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("trailing_slash", ["", "/"])
def test_the_api_root_gets_the_envelope_through_the_gateway(patient_stack, user_id, method, trailing_slash):
    # {proxy+} needs a segment: only the template's own `ANY /api/video` route keeps this out of the
    # gateway's bare {"message": "Not Found"}.
    with patient_stack.http(user_id) as client:
        answer = client.request(method, f"{patient_stack.api_url}{trailing_slash}")

    assert answer.status_code == 404, answer.text
    body = answer.json()
    assert (body["success"], body["error"]["code"]) == (False, "NOT_FOUND"), body
    assert "/api/video" in body["message"]
