"""`videotasks backfill-list-keys` against moto: tasks stored before ByUserFilter existed get its keys, a
task that moved meanwhile is left to the write that moved it, and a second run changes nothing."""

from __future__ import annotations

import json
from typing import Any

from typer.testing import CliRunner

from tests.fixtures.tasks import new_task
from videotasks.adapters.store.backfill import backfill_page
from videotasks.adapters.store.items import task_item
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.adapters.store.writes import ConditionalWriter
from videotasks.domain.models import Task, TaskStatus, TaskType
from videotasks_cli.app import app


def _store_as_before(aws_stack: Any, *tasks: Task) -> None:
    """Items as the release before ByUserFilter wrote them: no filterKey, no listKey."""
    with aws_stack.table("TASKS_TABLE").batch_writer() as batch:
        for task in tasks:
            batch.put_item(Item=task.model_dump(mode="json", exclude_none=True))


def _walk(repository: TaskRepository, limit: int) -> tuple[int, int]:
    keyed = moved = 0
    start = None
    while True:
        page = repository.backfill_list_keys(start, limit=limit)
        keyed, moved, start = keyed + page.keyed, moved + page.moved, page.next_start
        if start is None:
            return keyed, moved


def test_old_tasks_get_their_keys_and_appear_in_filtered_lists(aws_stack, repository):
    old = [new_task("alice", status=TaskStatus.COMPLETED, createdAt=f"2026-01-0{n}T00:00:00.000Z") for n in range(1, 6)]
    image = new_task("alice", type=TaskType.IMAGE, status=TaskStatus.FAILED, createdAt="2026-01-09T00:00:00.000Z")
    _store_as_before(aws_stack, *old, image)
    keyed_already = repository.create(new_task("alice"))
    assert repository.list_owned("alice", limit=10, status=TaskStatus.COMPLETED).items == []

    assert _walk(repository, limit=2) == (6, 0)

    completed = repository.list_owned("alice", limit=10, status=TaskStatus.COMPLETED).items
    assert [task.videoId for task in completed] == [task.videoId for task in reversed(old)]
    assert [task.videoId for task in repository.list_owned("alice", limit=10, task_type=TaskType.IMAGE).items] == [
        image.videoId
    ]
    assert aws_stack.stored(keyed_already.videoId)["filterKey"] == "alice#VIDEO#QUEUED"
    assert _walk(repository, limit=2) == (0, 0)  # idempotent


def test_a_task_that_moved_after_it_was_read_keeps_the_keys_its_own_move_wrote(aws_stack, repository):
    task = repository.create(new_task("alice"))
    moved = repository.transition(task, TaskStatus.CANCELLED)
    table = aws_stack.table("TASKS_TABLE")

    class StaleRead:
        """The table as a scan saw it before the task moved."""

        def __getattr__(self, name: str) -> Any:
            return getattr(table, name)

        def scan(self, **_: Any) -> dict[str, Any]:
            stale = {key: value for key, value in task_item(task).items() if key not in ("filterKey", "listKey")}
            return {"Items": [stale]}

    page = backfill_page(StaleRead(), ConditionalWriter(table.meta.client), start=None, limit=10)

    assert (page.keyed, page.moved) == (0, 1)
    assert aws_stack.stored(moved.videoId)["filterKey"] == "alice#VIDEO#CANCELLED"


def test_the_command_keys_the_deployed_tables_named_by_the_environment(aws_stack, monkeypatch):
    _store_as_before(aws_stack, new_task("alice", status=TaskStatus.COMPLETED))

    first = CliRunner().invoke(app, ["--json", "backfill-list-keys", "--page-size", "1"])
    again = CliRunner().invoke(app, ["--json", "backfill-list-keys"])

    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout.splitlines()[-1]) == {"scanned": 1, "keyed": 1, "moved": 0}
    assert json.loads(again.stdout.splitlines()[-1])["keyed"] == 0


def test_a_bad_resume_token_is_a_usage_error(aws_stack):
    result = CliRunner().invoke(app, ["--json", "backfill-list-keys", "--resume", "{not json"])

    assert result.exit_code == 2
    assert "--resume" in result.stdout
