"""The per-user queue's rules (videotasks.domain.queue) and its service's decisions, on in-memory fakes of
the queue store: what admission grants, when it waits, what the keeper wakes and renumbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from videotasks.adapters.store.queue import Waiting
from videotasks.domain.errors import StaleWriteError
from videotasks.domain.models import Priority, Task, TaskStatus, iso, parse_iso
from videotasks.domain.queue import RECHECK_SECONDS, entry_key, moves_queue, wait_seconds
from videotasks.domain.socket_outbound import is_worth_sending, task_message
from videotasks.domain.wire import task_json
from videotasks.services.queue import QueueService, QueueTimeoutError, SlotGrantedError, TaskNotQueuedError

T0 = "2026-01-01T00:00:00.000Z"


def _task(video_id: str, *, priority: str = "normal", at: float = 0.0, user: str = "u", **changes: Any) -> Task:
    created = iso(parse_iso(T0) + timedelta(seconds=at))
    return Task(
        videoId=video_id,
        userId=user,
        prompt="p",
        model="m",
        priority=Priority(priority),
        createdAt=created,
        updatedAt=created,
        **changes,
    )


# -- the rules ------------------------------------------------------------------------------------
def test_entry_keys_sort_high_normal_low_then_oldest_then_id() -> None:
    tasks = [
        _task("video_b", priority="low", at=0),
        _task("video_c", priority="normal", at=5),
        _task("video_a", priority="normal", at=5),
        _task("video_d", priority="high", at=9),
        _task("video_e", priority="normal", at=1),
    ]
    served = [key.rsplit("#", 1)[1] for key in sorted(entry_key(task) for task in tasks)]
    assert served == ["video_d", "video_e", "video_a", "video_c", "video_b"]


def test_a_wait_for_a_slot_never_outlasts_the_recheck_nor_the_deadline() -> None:
    task = _task("video_a")
    start = parse_iso(T0)
    assert wait_seconds(task, now=start, timeout_seconds=900) == RECHECK_SECONDS
    assert wait_seconds(task, now=start + timedelta(seconds=895.2), timeout_seconds=900) == 5
    assert wait_seconds(task, now=start + timedelta(seconds=950), timeout_seconds=900) == 1


@pytest.mark.parametrize(
    ("old", "new", "moves"),
    [
        (None, TaskStatus.QUEUED, True),  # a new task joins the queue
        (TaskStatus.QUEUED, TaskStatus.QUEUED, False),  # a position update: the keeper's own write
        (TaskStatus.QUEUED, TaskStatus.PROCESSING, True),  # admitted
        (TaskStatus.QUEUED, TaskStatus.CANCELLED, True),  # cancelled while waiting
        (TaskStatus.PROCESSING, TaskStatus.PROCESSING, False),  # progress
        (TaskStatus.PROCESSING, TaskStatus.COMPLETED, True),
        (TaskStatus.PROCESSING, TaskStatus.FAILED, True),
        (TaskStatus.COMPLETED, TaskStatus.COMPLETED, False),  # bookkeeping after the end
    ],
)
def test_which_writes_move_the_queue(old: TaskStatus | None, new: TaskStatus, moves: bool) -> None:
    before = _task("video_a", status=old) if old else None
    assert moves_queue(before, _task("video_a", status=new)) is moves


def test_queue_position_is_shown_only_while_waiting_and_its_change_is_news() -> None:
    waiting = _task("video_00000000-0000-4000-8000-000000000000", queuePosition=2)
    moved = waiting.model_copy(update={"queuePosition": 1})
    assert task_json(waiting, video_url=None)["queuePosition"] == 2
    assert task_message(moved, video_url=None, timestamp_ms=1)["payload"]["queuePosition"] == 1
    assert is_worth_sending(waiting, moved)
    running = moved.model_copy(update={"status": TaskStatus.PROCESSING})
    assert task_json(running, video_url=None)["queuePosition"] is None
    assert task_message(running, video_url=None, timestamp_ms=1)["payload"]["queuePosition"] is None


# -- the service on fakes -------------------------------------------------------------------------
@dataclass
class FakeStore:
    tasks: dict[str, Task]
    running_ids: set[str] = field(default_factory=set)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)  # entry key -> {videoId, token, position}
    shown: dict[str, int] = field(default_factory=dict)

    def enqueue(self, task: Task) -> None:
        self.tasks[task.videoId] = task
        self.entries[entry_key(task)] = {"videoId": task.videoId, "token": None, "position": None}

    def running(self, user_id: str) -> set[str]:
        return set(self.running_ids)

    def waiting(self, user_id: str, limit: int) -> list[Waiting]:
        return [
            Waiting(item["videoId"], key, item["token"], item["position"])
            for key, item in sorted(self.entries.items())[:limit]
        ]

    def park(self, task: Task, token: str) -> bool:
        entry = self.entries.get(entry_key(task))
        if entry is None:
            return False
        entry["token"] = token
        return True

    def restore(self, task: Task) -> None:
        self.entries.setdefault(entry_key(task), {"videoId": task.videoId, "token": None, "position": None})

    def take_slot(self, task: Task, limit: int) -> None:
        if self.tasks[task.videoId].status is not TaskStatus.QUEUED or len(self.running_ids) >= limit:
            raise StaleWriteError("no slot")
        self.running_ids.add(task.videoId)
        self.entries.pop(entry_key(task))

    def release(self, task: Task) -> None:
        self.running_ids.discard(task.videoId)
        self.entries.pop(entry_key(task), None)

    def set_position(self, user_id: str, waiting: Waiting, position: int) -> bool:
        self.entries[waiting.entry]["position"] = position
        self.shown[waiting.video_id] = position
        return True


class FakeRepository:
    def __init__(self, store: FakeStore) -> None:
        self._store = store

    def get(self, video_id: str) -> Task | None:
        return self._store.tasks.get(video_id)


class FakeWaker:
    def __init__(self) -> None:
        self.woken: list[str] = []

    def wake(self, token: str) -> bool:
        self.woken.append(token)
        return True


def _service(settings_for: Any, store: FakeStore, waker: FakeWaker, *, limit: int = 1, now: float = 0.0) -> Any:
    settings = settings_for(max_generating_per_user=limit, task_timeout_seconds=600)
    clock = parse_iso(T0).timestamp() + now
    return QueueService(settings, FakeRepository(store), store, waker, clock=lambda: clock)  # type: ignore[arg-type]


def test_the_head_of_the_queue_takes_a_free_slot_and_the_next_waits(settings_for: Any) -> None:
    store = FakeStore({})
    first, second = _task("video_1", at=0), _task("video_2", at=1)
    store.enqueue(first)
    store.enqueue(second)
    queue = _service(settings_for, store, FakeWaker(), limit=1)

    queue.admit("video_2", "token-2")  # not its turn: it returns and waits, its token parked
    assert store.running_ids == set()
    with pytest.raises(SlotGrantedError):
        queue.admit("video_1", "token-1")
    queue.admit("video_2", "token-2")  # the slot is taken now
    assert store.running_ids == {"video_1"}
    with pytest.raises(SlotGrantedError):  # a retried admission of an admitted task takes nothing twice
        queue.admit("video_1", "token-1b")
    assert store.running_ids == {"video_1"}


def test_a_higher_priority_task_overtakes_older_waiting_ones(settings_for: Any) -> None:
    store = FakeStore({})
    store.enqueue(_task("video_old", priority="low", at=0))
    store.enqueue(_task("video_new", priority="high", at=5))
    queue = _service(settings_for, store, FakeWaker(), limit=1)

    queue.admit("video_old", "t-old")
    assert store.running_ids == set()
    with pytest.raises(SlotGrantedError):
        queue.admit("video_new", "t-new")


def test_a_task_that_stopped_waiting_ends_its_execution(settings_for: Any) -> None:
    store = FakeStore({})
    store.enqueue(_task("video_1", status=TaskStatus.CANCELLED))
    queue = _service(settings_for, store, FakeWaker())
    with pytest.raises(TaskNotQueuedError):
        queue.admit("video_1", "t")
    with pytest.raises(TaskNotQueuedError):
        queue.plan("video_gone")


def test_planning_fails_a_task_whose_deadline_came_while_it_waited(settings_for: Any) -> None:
    store = FakeStore({})
    store.enqueue(_task("video_1"))
    assert _service(settings_for, store, FakeWaker(), now=590.5).plan("video_1") == 10
    with pytest.raises(QueueTimeoutError, match=r"^QUEUE_TIMEOUT: "):
        _service(settings_for, store, FakeWaker(), now=600).plan("video_1")


def test_an_ending_frees_its_slot_wakes_as_many_as_are_free_and_renumbers(settings_for: Any) -> None:
    store = FakeStore({})
    running = [_task(f"video_r{i}", status=TaskStatus.PROCESSING) for i in range(2)]
    store.running_ids = {task.videoId for task in running}
    waiting = [_task(f"video_w{i}", at=i) for i in range(4)]
    for index, task in enumerate(waiting):
        store.enqueue(task)
        store.park(task, f"token-{index}")
    waker = FakeWaker()
    queue = _service(settings_for, store, waker, limit=2)

    done = running[0].model_copy(update={"status": TaskStatus.COMPLETED})
    queue.on_changes([(running[0], done), (running[1], running[1].model_copy(update={"progress": 50}))])

    assert store.running_ids == {"video_r1"}
    assert waker.woken == ["token-0"]  # one slot free: only the head is woken, and it looks again itself
    assert store.shown == {"video_w0": 1, "video_w1": 2, "video_w2": 3, "video_w3": 4}

    store.shown.clear()
    queue.on_changes([(waiting[2], waiting[2].model_copy(update={"status": TaskStatus.CANCELLED}))])
    assert "video_w2" not in {item["videoId"] for item in store.entries.values()}
    assert store.shown == {"video_w3": 3}  # only the positions that changed are written
