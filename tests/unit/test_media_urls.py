"""Presigned media URLs pin the served Content-Type and Content-Disposition (S3 honours the overrides)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import boto3

from videotasks.adapters.media import MediaStore
from videotasks.domain.models import Task, TaskStatus


def store() -> MediaStore:
    s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="testing", aws_secret_access_key="testing")
    return MediaStore("videotasks-media-test", s3=s3)


def completed(media_type: str | None) -> Task:
    return Task(
        videoId="video_abc",
        userId="alice",
        status=TaskStatus.COMPLETED,
        prompt="p",
        model="m",
        createdAt="2026-11-28T00:00:00.000Z",
        updatedAt="2026-11-28T00:00:00.000Z",
        mediaKey="media/video_abc.mp4",
        mediaContentType=media_type,
    )


def overrides(url: str) -> tuple[str, str]:
    query = parse_qs(urlsplit(url).query)
    return query["response-content-type"][0], query["response-content-disposition"][0]


def test_a_checked_media_url_is_served_inline_under_its_type() -> None:
    url, _ = store().task_media_url(completed("video/mp4"), 900)

    assert overrides(url) == ("video/mp4", 'inline; filename="video_abc.mp4"')


def test_an_object_stored_before_the_allow_list_is_served_as_a_download() -> None:
    url, _ = store().task_media_url(completed("text/html; charset=utf-8"), 900)

    assert overrides(url) == ("application/octet-stream", 'attachment; filename="video_abc.bin"')
