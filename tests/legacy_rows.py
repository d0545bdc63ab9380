"""The old backend's rows for the importer's tests: a history of ordinary ones, and the odd ones."""

from __future__ import annotations

import random
import socket
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

PASSWORD = "s3cret-legacy-pw"  # the tests check that no output ever shows it
MP4 = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(range(256)) * 64


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def dead_url() -> str:
    """A URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}/videos/nobody-home.mp4"


STATUSES = ("COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "CANCELLED", "QUEUED", "PROCESSING")
PROMPTS = ("a fox running through snow", "日落时分的海边城市，电影感", "Ünïcödé prompt — with emoji 🎬", "")


def old_row(**fields: Any) -> dict[str, Any]:
    """One row as the old backend wrote it: a completed video unless ``fields`` say otherwise."""
    created = fields.pop("createdAt", datetime(2025, 3, 1, 12, 0, 0))
    # The default times follow createdAt when it is a time; a test that sets it to None or text sets them too.
    moment = created if isinstance(created, datetime) else datetime(2025, 3, 1, 12, 0, 0)
    external = fields.pop("externalTaskId", f"video_{uuid.uuid4().hex}")
    row = {
        "videoId": f"video_{uuid.uuid4()}",
        "userId": "legacy-user",
        "prompt": "a fox running through snow",
        "model": "sora-2",
        "type": "video",
        "status": "COMPLETED",
        "progress": 100,
        "videoUrl": None,
        "metadata": {"externalTaskId": external, "createdAt": int(moment.replace(tzinfo=UTC).timestamp())},
        "error": None,
        "createdAt": created,
        "updatedAt": moment + timedelta(minutes=3),
        "completedAt": moment + timedelta(minutes=3),
    }
    row.update(fields)
    return row


def history(count: int, *, seed: int = 15, users: int = 12) -> list[dict[str, Any]]:
    """``count`` ordinary rows of ``users`` users over a year, statuses in the old backend's proportions."""
    chance = random.Random(seed)
    start = datetime(2025, 1, 1)
    rows = []
    for index in range(count):
        status = chance.choice(STATUSES)
        created = start + timedelta(minutes=chance.randrange(0, 365 * 24 * 60))
        prompt = PROMPTS[index % 3] + f" #{index}"
        fields: dict[str, Any] = {
            "videoId": f"video_{uuid.UUID(int=chance.getrandbits(128), version=4)}",
            "userId": f"user-{index % users:02d}",
            "prompt": prompt,
            "status": status,
            "type": "image" if index % 10 == 0 else "video",
            "model": "gpt-image-1" if index % 10 == 0 else chance.choice(("sora-2", "sora-2-pro")),
            "progress": 100 if status == "COMPLETED" else chance.randrange(0, 100),
            "createdAt": created,
            "externalTaskId": f"video_{chance.getrandbits(64):016x}",
            "error": "Relay said: upstream 500" if status == "FAILED" else None,
            "completedAt": created + timedelta(seconds=chance.randrange(30, 600)) if status == "COMPLETED" else None,
        }
        fields["updatedAt"] = fields["completedAt"] or created + timedelta(seconds=5)
        if status == "COMPLETED":
            fields["videoUrl"] = f"https://relay.example.invalid/files/{index}.mp4?sig=abc"
        rows.append(old_row(**fields))
    return rows


def odd_rows() -> dict[str, dict[str, Any]]:
    """Rows an old table collects over the years, by what is odd about them."""
    shared = "video_shared_external_id"
    return {
        "null_metadata": old_row(metadata=None),
        "unknown_status": old_row(status="ARCHIVED"),
        "lowercase_status": old_row(status="cancelled", progress=40, completedAt=None),
        "bad_id": old_row(videoId="task-12345"),
        "uppercase_id": old_row(videoId=f"video_{str(uuid.uuid4()).upper()}"),
        "duplicate_external_a": old_row(externalTaskId=shared),
        "duplicate_external_b": old_row(externalTaskId=shared),
        "non_ascii": old_row(prompt="一只在雪地里奔跑的狐狸 🦊 — «ünïcödé»"),
        "progress_out_of_range": old_row(status="PROCESSING", progress=250, completedAt=None),
        "queued": old_row(status="QUEUED", progress=0, completedAt=None),
        "millisecond_metadata": old_row(metadata={"createdAt": 1740830400000, "seconds": "8", "size": "1280x720"}),
        "image": old_row(type="image", model="gpt-image-1"),
        "unknown_type": old_row(type="audio"),
    }
