"""`videotasks import-legacy --local` into a running local stack, then the API shows what was imported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import httpx

from local.launcher import RunningStack
from tests.e2e.counters import settled_stats
from tests.legacy_rows import MP4, PASSWORD, old_row

pytest_plugins = ["tests.legacy_postgres"]


def videotasks(stack: RunningStack, *arguments: str) -> subprocess.CompletedProcess[str]:
    """The installed command when there is one (as a user runs it), else the same entry point."""
    installed = shutil.which("videotasks", path=os.path.dirname(sys.executable))
    command = [installed] if installed else [sys.executable, "-c", "from videotasks_cli.app import main; main()"]
    environment = {**os.environ, "VIDEOTASKS_LOCAL_STATE": str(stack.state_path)}
    return subprocess.run(
        [*command, *arguments], capture_output=True, text=True, timeout=300, env=environment, check=False
    )


def test_imported_history_is_served_by_the_api(
    local_stack_factory: Callable[..., RunningStack], legacy_database: Any, old_media_server: str, user_id: str
) -> None:
    stack = local_stack_factory()
    start = datetime(2025, 6, 1, 8, 0)
    rows = [
        *(
            old_row(
                userId=user_id,
                createdAt=start + timedelta(hours=index),
                videoUrl=f"{old_media_server}/videos/{index}.mp4",
            )
            for index in range(3)
        ),
        old_row(userId=user_id, status="FAILED", error="relay said no", createdAt=start + timedelta(hours=4)),
        old_row(
            userId=user_id, status="PROCESSING", progress=60, completedAt=None, createdAt=start + timedelta(hours=5)
        ),
        old_row(userId=user_id, status="CANCELLED", prompt="取消的任务 ✂", createdAt=start + timedelta(hours=6)),
        old_row(userId=user_id, videoId="not-an-id"),
    ]
    legacy_database.load(rows)
    imported = [row["videoId"] for row in rows[:-1]]

    result = videotasks(
        stack, "--json", "import-legacy", "--local", "--copy-media", "--database-url", legacy_database.url
    )

    assert result.returncode == 8, result.stderr  # one row refused, the rest imported
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert (summary["imported"], summary["failed"], summary["mediaCopied"]) == (6, 1, 3)
    assert summary["problems"] == [{"videoId": "not-an-id", "reason": "the id is not video_<uuid4>"}]
    assert PASSWORD not in result.stdout + result.stderr

    with stack.http(user_id) as api:
        listed = api.get("/tasks", params={"limit": 50}).json()["data"]
        tasks = {task["videoId"]: task for task in listed["items"]}
        assert set(tasks) == set(imported)
        assert [task["videoId"] for task in listed["items"]] == imported[::-1]  # newest first, as created
        unfinished = tasks[rows[4]["videoId"]]
        assert unfinished["status"] == "FAILED" and unfinished["error"]["code"] == "LEGACY_UNFINISHED"
        assert tasks[rows[5]["videoId"]]["prompt"] == "取消的任务 ✂"
        completed = api.get(f"/tasks/{rows[0]['videoId']}").json()["data"]
        assert completed["status"] == "COMPLETED"
        assert completed["externalTaskId"] == rows[0]["metadata"]["externalTaskId"]
        assert httpx.get(completed["videoUrl"], timeout=30.0, trust_env=False).content == MP4  # our copy
        stats: dict[str, Any] = settled_stats(api, lambda counted: counted["total"] == 6)
    assert stats["total"] == 6
    assert stats["byStatus"] == {"QUEUED": 0, "PROCESSING": 0, "COMPLETED": 3, "FAILED": 2, "CANCELLED": 1}
    assert stats["byType"] == {"VIDEO": 6, "IMAGE": 0}

    again = videotasks(
        stack, "--json", "import-legacy", "--local", "--copy-media", "--database-url", legacy_database.url
    )
    assert (json.loads(again.stdout.strip().splitlines()[-1])["imported"], again.returncode) == (0, 8)
