"""The poster function (MakePosterFunction) against moto, with the real ffmpeg of its layer on real videos:
the poster lands beside the video as a JPEG of the right size and the task records it; anything short of a
finished video still in the bucket leaves the task as it was, without a poster."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from local.fake_provider import VIDEO_FILE
from tests.fixtures.aws import AwsStack
from videotasks.adapters.frames import ffmpeg_path
from videotasks.adapters.media import media_key
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.models import Task, TaskStatus, TaskType
from videotasks.domain.posters import poster_key
from videotasks.services.tasks import TaskService

Invoke = Callable[[str, Any], Any]


def jpeg_size(data: bytes) -> tuple[int, int]:
    """(width, height) from a JPEG's start-of-frame marker."""
    assert data[:2] == b"\xff\xd8", "not a JPEG"
    at = 2
    while at < len(data):
        marker, length = data[at + 1], int.from_bytes(data[at + 2 : at + 4], "big")
        if marker in (0xC0, 0xC1, 0xC2):
            return int.from_bytes(data[at + 7 : at + 9], "big"), int.from_bytes(data[at + 5 : at + 7], "big")
        at += 2 + length
    raise AssertionError("no start-of-frame marker")


@pytest.fixture
def completed_video(aws_stack: AwsStack, stored_task: Callable[..., Task], repository: TaskRepository) -> Any:
    """``completed_video(video_bytes=None, type=VIDEO)``: a COMPLETED task whose media is stored (unless
    ``video_bytes`` is None), as the archive step leaves it."""

    def make(video: bytes | None, task_type: TaskType = TaskType.VIDEO) -> Task:
        task = stored_task(status=TaskStatus.PROCESSING, type=task_type)
        content_type = "video/mp4" if task_type is TaskType.VIDEO else "image/png"
        key = media_key(task.videoId, content_type)
        if video is not None:
            aws_stack.client("s3").put_object(Bucket=aws_stack.bucket, Key=key, Body=video, ContentType=content_type)
        return repository.transition(
            task, TaskStatus.COMPLETED, progress=100, mediaKey=key, mediaContentType=content_type
        )

    return make


def stored_object(aws_stack: AwsStack, key: str) -> dict[str, Any]:
    return dict(aws_stack.client("s3").get_object(Bucket=aws_stack.bucket, Key=key))


def test_a_poster_of_the_sample_video_is_stored_beside_it_and_recorded(
    aws_stack: AwsStack, invoke: Invoke, completed_video: Any, repository: TaskRepository
) -> None:
    task = completed_video(VIDEO_FILE.read_bytes())

    result = invoke("MakePosterFunction", {"videoId": task.videoId})

    assert result == {"videoId": task.videoId, "posterKey": poster_key(task.mediaKey), "skipped": None}
    poster = stored_object(aws_stack, result["posterKey"])
    assert poster["ContentType"] == "image/jpeg"
    assert jpeg_size(poster["Body"].read()) == (320, 180)  # the sample's own size: never enlarged
    stored = repository.get(task.videoId)
    assert stored is not None
    assert (stored.status, stored.posterKey) == (TaskStatus.COMPLETED, result["posterKey"])


def test_a_large_video_gets_a_poster_640_wide_keeping_its_aspect(
    aws_stack: AwsStack, invoke: Invoke, completed_video: Any, tmp_path: Path
) -> None:
    clip = tmp_path / "big.mp4"
    subprocess.run(
        [ffmpeg_path(), "-v", "error", "-f", "lavfi", "-i", "testsrc=duration=1:size=1280x720:rate=10", str(clip)],
        check=True,
        timeout=60,
    )
    task = completed_video(clip.read_bytes())

    result = invoke("MakePosterFunction", {"videoId": task.videoId})

    assert jpeg_size(stored_object(aws_stack, result["posterKey"])["Body"].read()) == (640, 360)


def test_the_task_reply_carries_a_presigned_poster_url(
    aws_stack: AwsStack, invoke: Invoke, completed_video: Any, repository: TaskRepository
) -> None:
    task = completed_video(VIDEO_FILE.read_bytes())
    from videotasks import wiring

    before = wiring.task_service().public(repository.get(task.videoId))  # type: ignore[arg-type]
    invoke("MakePosterFunction", {"videoId": task.videoId})
    service: TaskService = wiring.task_service()
    after = service.public(repository.get(task.videoId))  # type: ignore[arg-type]

    assert before["posterUrl"] is None
    assert ".poster.jpg" in after["posterUrl"] and "Signature" in after["posterUrl"]
    assert after["videoUrl"] is not None


def test_a_missing_video_leaves_the_task_completed_without_a_poster(
    aws_stack: AwsStack, invoke: Invoke, completed_video: Any, repository: TaskRepository
) -> None:
    task = completed_video(None)

    result = invoke("MakePosterFunction", {"videoId": task.videoId})

    assert result["posterKey"] is None and "not in the bucket" in result["skipped"]
    stored = repository.get(task.videoId)
    assert stored is not None
    assert (stored.status, stored.posterKey) == (TaskStatus.COMPLETED, None)
    assert aws_stack.media_keys() == []


def test_a_video_ffmpeg_cannot_read_gets_no_poster(
    aws_stack: AwsStack, invoke: Invoke, completed_video: Any, repository: TaskRepository
) -> None:
    task = completed_video(b"\x00\x00\x00\x18ftypmp42 but nothing after")

    result = invoke("MakePosterFunction", {"videoId": task.videoId})

    assert result["posterKey"] is None and result["skipped"].startswith("ffmpeg exited")
    assert aws_stack.media_keys() == [task.mediaKey]
    assert repository.get(task.videoId).posterKey is None  # type: ignore[union-attr]


def test_an_image_task_gets_no_poster(aws_stack: AwsStack, invoke: Invoke, completed_video: Any) -> None:
    task = completed_video(b"\x89PNG\r\n\x1a\n", TaskType.IMAGE)

    assert invoke("MakePosterFunction", {"videoId": task.videoId})["posterKey"] is None
    assert aws_stack.media_keys() == [task.mediaKey]


def test_a_task_deleted_while_its_poster_was_made_keeps_no_poster_object(
    aws_stack: AwsStack, completed_video: Any, repository: TaskRepository, monkeypatch: pytest.MonkeyPatch
) -> None:
    from videotasks.adapters.frames import FrameGrabber
    from videotasks.adapters.media import MediaStore
    from videotasks.services.posters import PosterMaker

    task = completed_video(VIDEO_FILE.read_bytes())
    grabber = FrameGrabber()
    real_jpeg = grabber.jpeg

    def delete_meanwhile(source: str, **kwargs: Any) -> bytes:
        frame = real_jpeg(source, **kwargs)
        repository.delete(task)
        return frame

    monkeypatch.setattr(grabber, "jpeg", delete_meanwhile)
    maker = PosterMaker(repository, MediaStore(aws_stack.bucket), grabber)

    assert maker.make(task.videoId).posterKey is None
    assert poster_key(task.mediaKey) not in aws_stack.media_keys()  # type: ignore[arg-type]
