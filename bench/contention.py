"""Counters contention: one user moves many tasks at once, and how often their writes meet.

Every status change of a task used to update its owner's ``TOTALS`` counters item inside the change's
transaction, so a user's tasks moving together queued on that one item: DynamoDB cancels a transaction that
overlaps another on an item (``TransactionConflict``). The counters now follow from the tasks stream
(``functions/count_tasks``), and a transition names only its own task.

What runs: moto in this process behind the local stack's seam (``local.moto_seam``: a transaction's items are
held from its arrival to its end, and an overlapping one is cancelled as DynamoDB cancels it; no conflicts
injected on top), the template's tables, and the real ``TaskRepository``. ``tasks`` QUEUED tasks of one user
are created one by one (not measured); then one thread per task, released together, moves its task QUEUED ->
PROCESSING -> COMPLETED, trying a transition again on ``TaskStoreBusyError`` as the state machine's Retry does.

What it counts: ``conflicts``, every refusal that meant "busy" (each pause of the writer between attempts,
and each attempt that gave up), and ``shared_items``, the items written by the transitions of two different
tasks (from every write request, attributed to the task whose thread sent it). It prints::

    history contention transitions=400 conflicts=<c> per_1000=<x> shared_items=<n>

Run it against another version of the layer by putting that layer first on ``PYTHONPATH``.
"""

from __future__ import annotations

import json
import os
import sys
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
REGION = "us-east-1"
USER = "bench-contention"
RETRIES = 20  # a transition given up this many times in a row is counted as lost (none ever is)
_WRITES = {"TransactWriteItems", "UpdateItem", "PutItem", "DeleteItem"}


@dataclass(frozen=True)
class Contention:
    transitions: int
    conflicts: int
    shared_items: int
    lost: int  # transitions still refused after RETRIES attempts

    @property
    def per_thousand(self) -> float:
        return 1000 * self.conflicts / self.transitions if self.transitions else 0.0

    def line(self) -> str:
        return (
            f"history contention transitions={self.transitions} conflicts={self.conflicts} "
            f"per_1000={self.per_thousand:.1f} shared_items={self.shared_items}"
        )


def measure(tasks: int = 200) -> Contention:
    """Move ``tasks`` tasks of one user QUEUED -> PROCESSING -> COMPLETED at once; count what met."""
    from moto import mock_aws

    from videotasks.adapters import aws
    from videotasks.settings import get_settings

    before = dict(os.environ)
    try:
        for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
            os.environ.setdefault(name, value)
        os.environ["AWS_DEFAULT_REGION"] = REGION
        with mock_aws():
            return _measure_in_moto(tasks)
    finally:  # the tables' variables were this run's only: a test process goes on without them
        os.environ.clear()
        os.environ.update(before)
        get_settings.cache_clear()
        aws.reset()


def _measure_in_moto(tasks: int) -> Contention:
    from local import aws_setup, botocore_internals, moto_seam
    from local.lambdas import FunctionRegistry
    from local.template import Resolver, function_environment, load_template
    from videotasks.adapters import aws
    from videotasks.adapters.store.tasks import TaskRepository
    from videotasks.domain.errors import TaskStoreBusyError
    from videotasks.domain.ids import new_video_id
    from videotasks.domain.models import Task, TaskStatus, TaskType, iso, utc_now
    from videotasks.settings import get_settings

    template = load_template()
    resolver = Resolver(template, parameters={"Stage": "bench"})
    aws_setup.physical_names(template, resolver)
    aws_setup.create_tables(template, resolver, None)  # type: ignore[arg-type]  # None: the in-process moto
    os.environ.update(function_environment(template, resolver))
    os.environ["QUEUE_TABLE"] = ""  # the queue's own items are not what is measured here
    get_settings.cache_clear()
    aws.reset()

    pauses: list[float] = []
    repository = TaskRepository(get_settings(), pause=pauses.append)
    now = iso(utc_now())
    created = [
        repository.create(
            Task(
                videoId=new_video_id(),
                userId=USER,
                type=TaskType.VIDEO,
                prompt=f"contention {number}",
                model="sora-2",
                seconds=4,
                size="720x1280",
                metadata={},
                createdAt=now,
                updatedAt=now,
            )
        )
        for number in range(tasks)
    ]

    moto_seam.install(FunctionRegistry(template))
    acting = threading.local()
    written: dict[tuple[str, str], set[str]] = defaultdict(set)  # item -> the tasks whose transitions wrote it
    lock = threading.Lock()

    def record(client: Any, operation: str, params: dict[str, Any]) -> None:
        video_id = getattr(acting, "video_id", None)
        if video_id is None or operation not in _WRITES:
            return
        parts = [part for entry in params.get("TransactItems", []) for part in entry.values()] or [params]
        with lock:
            for part in parts:
                key = part.get("Key") or part.get("Item") or {}
                written[(str(part.get("TableName")), json.dumps(key, sort_keys=True, default=str))].add(video_id)

    gave_up = [0]
    lost = [0]
    barrier = threading.Barrier(tasks)

    def move(task: Task) -> None:
        acting.video_id = task.videoId
        barrier.wait()
        for target in (TaskStatus.PROCESSING, TaskStatus.COMPLETED):
            for _ in range(RETRIES):
                try:
                    task = repository.transition(task, target)
                    break
                except TaskStoreBusyError:
                    with lock:
                        gave_up[0] += 1
            else:
                with lock:
                    lost[0] += 1
                return

    stop_recording = botocore_internals.before_each_call(record)
    try:
        with ThreadPoolExecutor(max_workers=tasks) as pool:
            list(pool.map(move, created))
    finally:
        stop_recording()
        moto_seam.uninstall()
    shared = sum(1 for writers in written.values() if len(writers) > 1)
    return Contention(transitions=2 * tasks, conflicts=len(pauses) + gave_up[0], shared_items=shared, lost=lost[0])


def main() -> None:
    tasks = int(sys.argv[1]) if len(sys.argv) > 1 else 200
    result = measure(tasks)
    print(result.line())
    if result.lost:
        print(f"   {result.lost} transitions were still refused after {RETRIES} attempts")


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
