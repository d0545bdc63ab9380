"""The ByUserFilter keys a task item carries (adapters/store/items.py), which never reach a Task or a reply,
and the cursor's position check (domain/cursor.py)."""

from __future__ import annotations

import pytest

from tests.fixtures.tasks import new_task
from videotasks.adapters.store.items import list_keys, task_from_item, task_item
from videotasks.domain import cursor
from videotasks.domain.errors import ValidationError
from videotasks.domain.models import TaskStatus, TaskType
from videotasks.domain.wire import task_json


def test_a_task_item_carries_its_filter_partition_and_a_unique_list_key():
    task = new_task("alice", type=TaskType.IMAGE, createdAt="2026-11-29T01:02:03.004Z")

    item = task_item(task)

    assert item["filterKey"] == "alice#IMAGE#QUEUED"
    assert item["listKey"] == f"2026-11-29T01:02:03.004Z#{task.videoId}"


def test_the_keys_follow_the_status_a_transition_moves_to():
    task = new_task("alice")

    assert list_keys(task, TaskStatus.COMPLETED)["filterKey"] == "alice#VIDEO#COMPLETED"


def test_the_keys_never_reach_the_task_or_its_reply():
    task = new_task("alice")

    read = task_from_item(task_item(task))

    assert read == task
    reply = task_json(read, video_url=None)
    assert "filterKey" not in reply and "listKey" not in reply


def test_a_signed_cursor_without_a_position_key_is_refused_not_a_crash():
    signed = cursor.encode({"videoId": "v"}, user_id="alice", scope="s", secret="k")

    assert cursor.decode(signed, user_id="alice", scope="s", secret="k") == {"videoId": "v"}
    with pytest.raises(ValidationError):
        cursor.decode(signed, user_id="alice", scope="s", secret="k", keys=("videoId", "createdAt"))
