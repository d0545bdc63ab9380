"""Finished media in S3: streamed in from the provider, handed out as presigned GET URLs."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from videotasks.adapters import aws
from videotasks.domain.media_types import content_disposition, extension_for, served_media_type
from videotasks.domain.models import Task, utc_now

_PART_SIZE = 8 * 1024 * 1024


class MissingMediaError(LookupError):
    """No object under the key asked for."""


class _ChunkReader:
    """A file-like view over an iterator of byte chunks, so boto3 can stream it in parts."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._buffer = bytearray()
        self.size = 0

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer.extend(chunk)
        if size < 0:
            size = len(self._buffer)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        self.size += len(data)
        return data


def media_key(video_id: str, content_type: str) -> str:
    return f"media/{video_id}.{extension_for(content_type)}"


class MediaStore:
    def __init__(self, bucket: str, *, s3: Any | None = None) -> None:
        self._bucket = bucket
        self._s3 = s3 or aws.client("s3")

    def put_stream(
        self, key: str, chunks: Iterator[bytes], content_type: str, *, content_disposition: str | None = None
    ) -> int:
        """Upload without holding the whole file in memory; returns the stored size in bytes.

        ``content_type`` must already be checked (``media_types.checked_media_type``): S3 serves it as is."""
        from boto3.s3.transfer import TransferConfig

        reader = _ChunkReader(chunks)
        self._s3.upload_fileobj(
            reader,
            self._bucket,
            key,
            ExtraArgs={
                "ContentType": content_type,
                **({"ContentDisposition": content_disposition} if content_disposition else {}),
            },
            Config=TransferConfig(multipart_threshold=_PART_SIZE, multipart_chunksize=_PART_SIZE, use_threads=False),
        )
        return reader.size

    def download(self, key: str, target: Path) -> int:
        """Copy a stored object to a local file (ranged GETs, never whole in memory); its size in bytes.
        Raises ``MissingMediaError`` when there is no such object."""
        from botocore.exceptions import ClientError

        try:
            self._s3.download_file(self._bucket, key, str(target))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                raise MissingMediaError(key) from None
            raise
        return target.stat().st_size

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store a small object whole (a poster frame)."""
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=data, ContentType=content_type)

    def delete(self, key: str) -> None:
        self._s3.delete_object(Bucket=self._bucket, Key=key)

    def presigned_url(
        self,
        key: str,
        ttl_seconds: int,
        *,
        content_type: str | None = None,
        content_disposition: str | None = None,
    ) -> tuple[str, datetime]:
        """A GET URL; ``content_type``/``content_disposition`` override the stored headers (signed into
        the URL), so an object stored before its type was checked is still served safely."""
        params: dict[str, str] = {"Bucket": self._bucket, "Key": key}
        if content_type:
            params["ResponseContentType"] = content_type
        if content_disposition:
            params["ResponseContentDisposition"] = content_disposition
        url = self._s3.generate_presigned_url("get_object", Params=params, ExpiresIn=ttl_seconds)
        return url, utc_now() + timedelta(seconds=ttl_seconds)

    def task_media_url(self, task: Task, ttl_seconds: int) -> tuple[str, datetime]:
        """A presigned URL of a task's stored media that pins the served Content-Type and
        Content-Disposition, whatever the object itself was stored with."""
        if not task.mediaKey:
            raise ValueError(f"Task {task.videoId} has no stored media")
        media_type, kind = served_media_type(task.mediaContentType)
        return self.presigned_url(
            task.mediaKey,
            ttl_seconds,
            content_type=media_type,
            content_disposition=content_disposition(task.videoId, media_type, kind),
        )
