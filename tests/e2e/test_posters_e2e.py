"""Poster frames on the real local stack: a finished video gets one (made by the poster state with the ffmpeg
of its layer), seen in GET and on the socket, served as a JPEG; deleting the task deletes it too."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import pytest
import websockets

from tests.fixtures.providers import RELAY_MODEL

pytestmark = pytest.mark.e2e

POSTER_AFTER_END_SECONDS = 60.0  # bound on the wait for the poster state after the task ended


async def _receive_until(socket: Any, video_id: str, wanted: str, seconds: float) -> dict[str, Any]:
    ends = time.monotonic() + seconds
    while (left := ends - time.monotonic()) > 0:
        try:
            message = json.loads(await asyncio.wait_for(socket.recv(), timeout=left))
        except TimeoutError:
            break
        if message["type"] == wanted and message["payload"].get("videoId") == video_id:
            return dict(message)
    pytest.fail(f"no {wanted} for {video_id} within {seconds:g}s")


def test_a_finished_video_gets_a_poster_in_get_and_on_the_socket_and_delete_removes_it(
    local_stack: Any, user_id: str
) -> None:
    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        url = f"{local_stack.ws_url}/?token={local_stack.token(user_id)}"
        async with websockets.connect(url) as socket:
            await socket.send(json.dumps({"action": "subscribe"}))
            async with httpx.AsyncClient(
                base_url=local_stack.api_url, headers=local_stack.auth(user_id), timeout=30.0, trust_env=False
            ) as http:
                created = await http.post("/tasks", json={"model": RELAY_MODEL, "prompt": "a lighthouse at dusk"})
                assert created.status_code == 201, created.text
                video_id = str(created.json()["data"]["videoId"])
            completed = await _receive_until(socket, video_id, "taskCompleted", local_stack.completion_deadline())
            poster = await _receive_until(socket, video_id, "taskPoster", POSTER_AFTER_END_SECONDS)
        return video_id, completed, poster

    video_id, completed, poster = asyncio.run(scenario())
    assert completed["payload"]["result"]["posterUrl"] is None  # the poster is made after the end
    assert poster["payload"]["result"]["posterUrl"]
    assert poster["payload"]["result"]["videoUrl"]

    with local_stack.http(user_id) as api, httpx.Client(timeout=30.0, trust_env=False) as browser:
        task = api.get(f"/tasks/{video_id}").json()["data"]
        assert task["status"] == "COMPLETED"
        assert task["startedAt"] is not None and task["finishedAt"] is not None
        listed = api.get("/tasks", params={"limit": 5}).json()["data"]["items"]
        assert next(item for item in listed if item["videoId"] == video_id)["posterUrl"]
        for signed in (task["posterUrl"], poster["payload"]["result"]["posterUrl"]):
            fetched = browser.get(signed)
            assert fetched.status_code == 200
            assert fetched.headers["content-type"] == "image/jpeg"
            assert fetched.content[:2] == b"\xff\xd8"

        keys = [key for _, key in local_stack.objects_naming(video_id)]
        assert sorted(key.rsplit(".", 1)[-1] for key in keys) == ["jpg", "mp4"]  # the video and its poster
        assert api.delete(f"/tasks/{video_id}").status_code == 200
        assert [key for _, key in local_stack.objects_naming(video_id)] == []
        assert browser.get(task["posterUrl"]).status_code in (403, 404)  # 403 where the bucket hides missing keys


def test_an_image_task_has_no_poster(local_stack: Any, user_id: str, wait_for_terminal: Any) -> None:
    with local_stack.http(user_id) as api:
        created = api.post("/tasks", json={"type": "IMAGE", "prompt": "a red kite"})
        assert created.status_code == 201, created.text
        task = wait_for_terminal(api, created.json()["data"]["videoId"], local_stack.completion_deadline())
    assert task["status"] == "COMPLETED" and task["videoUrl"]
    assert task["posterUrl"] is None
