"""The repository's writes under any interleaving hypothesis can make (in-process moto from template.yaml).

Writers act on copies of a task read at any earlier moment, as concurrent Lambda invocations do: a
submit, poll, archive, failure or cancel may land after another writer has moved the task on. After
every step the per-user counters must equal a recount of the stored tasks, a terminal task must be
exactly as it was when it ended, progress must not have gone down, and a refused write must have
changed nothing. (A write touches one user's items, so each step checks that user's.)
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, precondition, rule, run_state_machine_as_test

from tests.fixtures.aws import AwsStack
from tests.fixtures.tasks import new_task
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.lifecycle import merge_progress
from videotasks.domain.models import TERMINAL_STATUSES, Task, TaskError, TaskStatus, TaskType, utc_now

MAX_TASKS = 5
# No shrinking: every step is a moto round trip and shrinking a failure takes minutes; a failing run
# prints its steps (at most stateful_step_count) as they came, which reads well enough.
RUNS = settings(
    max_examples=15,
    stateful_step_count=20,
    derandomize=True,
    database=None,
    deadline=None,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow],
)


class Interleavings(RuleBasedStateMachine):
    """Two users' tasks, every version ever read kept as a possible stale copy in some writer's hands."""

    repository: TaskRepository
    aws: AwsStack

    def __init__(self) -> None:
        super().__init__()
        run = uuid.uuid4().hex[:8]
        self.users = (f"fuzz-{run}-a", f"fuzz-{run}-b")
        self.owners: dict[str, str] = {}  # videoId -> userId
        self.copies: list[Task] = []  # every Task a writer could hold, newest or stale
        self.ended: dict[str, dict[str, Any]] = {}  # videoId -> stored item when it became terminal
        self.highest_progress: dict[str, int] = {}
        self.writes = {"landed": 0, "refused": 0}

    # -- helpers ----------------------------------------------------------------------------------
    def attempt(self, copy: Task, write: str, **arguments: Any) -> None:
        """One writer's write from its copy; then what is stored must be consistent again."""
        before = self.stored_of(copy.userId).get(copy.videoId)  # None: deleted
        try:
            written = getattr(self.repository, write)(copy, **arguments)
        except StaleWriteError:
            self.writes["refused"] += 1
            after = self.check(copy.userId).get(copy.videoId)
            assert after == before, "a refused write changed (or brought back) the task"
            return
        self.writes["landed"] += 1
        assert before is not None, "a write landed on a deleted task"
        after = self.check(copy.userId)[copy.videoId]
        assert after["status"] == written.status.value
        self.copies.append(written)

    # -- rules ------------------------------------------------------------------------------------
    @precondition(lambda self: len(self.owners) < MAX_TASKS)
    @rule(user=st.sampled_from([0, 1]), task_type=st.sampled_from(list(TaskType)))
    def create(self, user: int, task_type: TaskType) -> None:
        task = self.repository.create(new_task(self.users[user], type=task_type))
        self.owners[task.videoId] = task.userId
        self.copies.append(task)
        self.check(task.userId)

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6))
    def read(self, pick: int) -> None:
        """A writer (re)reads a task: its copy is current now, stale later."""
        current = self.repository.get(self.copies[pick % len(self.copies)].videoId)
        if current is not None:  # else deleted
            self.copies.append(current)

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6), reported=st.one_of(st.none(), st.integers(-20, 130)))
    def submit(self, pick: int, reported: int | None) -> None:
        copy = self.copies[pick % len(self.copies)]
        self.attempt(
            copy,
            "transition",
            target=TaskStatus.PROCESSING,
            externalTaskId=f"ext-{copy.videoId[-6:]}",
            progress=merge_progress(copy.progress, reported),
        )

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6), reported=st.one_of(st.none(), st.integers(-20, 130)))
    def poll(self, pick: int, reported: int | None) -> None:
        """A poll's progress write from any copy: one read PROCESSING long ago, or one of a task that
        was queued or had already ended when it was read."""
        copy = self.copies[pick % len(self.copies)]
        self.attempt(
            copy, "update_running", progress=merge_progress(copy.progress, reported), pollAttempts=copy.pollAttempts + 1
        )

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6))
    def archive(self, pick: int) -> None:
        copy = self.copies[pick % len(self.copies)]
        self.attempt(
            copy, "transition", target=TaskStatus.COMPLETED, progress=100, mediaKey=f"media/{copy.videoId}.mp4"
        )

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6))
    def fail(self, pick: int) -> None:
        copy = self.copies[pick % len(self.copies)]
        self.attempt(copy, "transition", target=TaskStatus.FAILED, error=TaskError(code="TIMEOUT", message="late"))

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6))
    def cancel(self, pick: int) -> None:
        self.attempt(self.copies[pick % len(self.copies)], "transition", target=TaskStatus.CANCELLED)

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6), goal=st.sampled_from(list(TaskStatus)))
    def any_transition(self, pick: int, goal: TaskStatus) -> None:
        """Whatever a buggy or replayed step could ask for, the illegal moves included."""
        self.attempt(self.copies[pick % len(self.copies)], "transition", target=goal)

    @precondition(lambda self: self.copies)
    @rule(pick=st.integers(0, 10**6))
    def delete(self, pick: int) -> None:
        """DELETE /tasks/{videoId} from any copy: only an ended task goes, once, and uncounted."""
        copy = self.copies[pick % len(self.copies)]
        before = self.stored_of(copy.userId).get(copy.videoId)
        try:
            self.repository.delete(copy)
        except StaleWriteError:
            self.writes["refused"] += 1
            assert self.check(copy.userId).get(copy.videoId) == before, "a refused delete changed the task"
            return
        self.writes["landed"] += 1
        assert before is not None and before["status"] == copy.status.value and copy.is_terminal
        del self.owners[copy.videoId]
        self.check(copy.userId)

    # -- what must hold after every step ----------------------------------------------------------
    def check(self, user: str) -> dict[str, dict[str, Any]]:
        """The checks, for the one user a step touched (the other's tasks cannot have changed)."""
        items = self.stored_of(user)
        assert set(items) == {video_id for video_id, owner in self.owners.items() if owner == user}
        for video_id, item in items.items():
            self.check_ended_and_progress(video_id, item)
        self.check_counters(user, [Task.model_validate(item) for item in items.values()])
        return items

    def stored_of(self, user: str) -> dict[str, dict[str, Any]]:
        """Every stored task of ``user``, in one Query (ByUser projects every attribute)."""
        reply = self.aws.table("TASKS_TABLE").query(IndexName="ByUser", KeyConditionExpression=Key("userId").eq(user))
        return {item["videoId"]: dict(item) for item in reply["Items"]}

    def check_ended_and_progress(self, video_id: str, item: dict[str, Any]) -> None:
        if video_id in self.ended:
            assert item == self.ended[video_id], f"{video_id} changed after it ended"
        elif TaskStatus(item["status"]) in TERMINAL_STATUSES:
            self.ended[video_id] = item
        progress = int(item["progress"])
        assert progress >= self.highest_progress.get(video_id, 0), f"{video_id} progress went down"
        assert 0 <= progress <= 100
        self.highest_progress[video_id] = progress

    def check_counters(self, user: str, tasks: list[Task]) -> None:
        expected: dict[str, int] = {"total": len(tasks)}
        for task in tasks:
            kind, status = task.type.value.lower(), task.status.value.lower()
            for name in (status, f"{kind}_{status}", f"{kind}_total"):
                expected[name] = expected.get(name, 0) + 1
        seconds = sum(round(task.generation_seconds or 0) for task in tasks if task.completedAt)
        self.aws.settle_counters()  # the counter function, as the stream delivers within seconds
        totals, created_last_day = self.repository.get_counters(user, utc_now())
        counters = {name: int(value) for name, value in totals.items() if isinstance(value, int) and value}
        assert counters.pop("generationSecondsSum", 0) == seconds
        assert counters == {name: value for name, value in expected.items() if value}, user
        assert created_last_day == len(tasks)


def test_counters_and_terminal_states_hold_under_any_interleaving_of_stale_writes(
    aws_stack: AwsStack, repository: TaskRepository
) -> None:
    writes = {"landed": 0, "refused": 0}

    class Bound(Interleavings):
        def __init__(self) -> None:
            super().__init__()
            self.writes = writes  # summed over every run

    Bound.repository = repository
    Bound.aws = aws_stack

    run_state_machine_as_test(Bound, settings=RUNS)

    # The runs did explore races: writes landed, and stale ones were refused.
    assert writes["landed"] > 0
    assert writes["refused"] > 0


@pytest.mark.parametrize("target", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_a_stale_copy_of_an_ended_task_cannot_move_it_again(
    aws_stack: AwsStack, repository: TaskRepository, target: TaskStatus
) -> None:
    # One interleaving spelled out, so a failure of the machine above has a readable neighbour.
    queued = repository.create(new_task("fuzz-spelled-out"))
    processing = repository.transition(queued, TaskStatus.PROCESSING, externalTaskId="ext")
    repository.transition(processing, target)
    ended = aws_stack.stored(queued.videoId)

    for stale, to in ((queued, TaskStatus.CANCELLED), (processing, TaskStatus.COMPLETED)):
        with pytest.raises(StaleWriteError):
            repository.transition(stale, to)
    with pytest.raises(StaleWriteError):
        repository.update_running(processing, progress=99)

    assert aws_stack.stored(queued.videoId) == ended


@pytest.mark.parametrize("target", [TaskStatus.COMPLETED, TaskStatus.FAILED, TaskStatus.CANCELLED])
def test_a_running_update_from_a_copy_of_an_ended_task_changes_nothing(
    aws_stack: AwsStack, repository: TaskRepository, target: TaskStatus
) -> None:
    processing = repository.transition(
        repository.create(new_task("fuzz-ended-copy")), TaskStatus.PROCESSING, externalTaskId="ext"
    )
    ended = repository.transition(processing, target)
    stored = aws_stack.stored(ended.videoId)

    with pytest.raises(StaleWriteError):
        repository.update_running(ended, progress=ended.progress, pollAttempts=ended.pollAttempts + 1)

    assert aws_stack.stored(ended.videoId) == stored
