"""What one list or stats request reads as a user's history grows (issue 17, `make bench`).

For each size N, an in-process moto gets the template's tables, one user gets N tasks through the real write
path (``TaskRepository.create_many`` in batches, then ``transition`` as the workflow moves them), and the real
API handler answers each operation while every DynamoDB reply is counted: items read = ``ScannedCount`` of a
Query or Scan, the items a GetItem or BatchGetItem returned. One line per operation::

    history <operation> items_read@100=<a> items_read@10000=<b> ratio=<b/a>

then, per operation, the count at 1,000,000 tasks, extrapolated (a straight line through the two measured
counts: a flat cost stays flat; nothing of that size is built).

The history is mostly COMPLETED videos, 10 % FAILED and 10 % images (dense: their count grows with N), with a
fixed few QUEUED and PROCESSING among the newest and CANCELLED among the oldest (rare). The first page and the
cursor pages use ``limit=20``, filters ``limit=5`` and page mode ``pageSize=10``, so that every page measured
is full at the smallest size too (a page that is not full there would grow up to its size, which is the page,
not the history).
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import secrets
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
USER = "history-user"
SIZES = (100, 10_000)
EXTRAPOLATED_SIZE = 1_000_000
BATCH = 25  # tasks per create_many: with their hour buckets, within a transaction's 100 items
RARE = {"PROCESSING": 2, "QUEUED": 3, "CANCELLED": 4}
PAGE_SIZE = 10
CURSOR_LIMIT = 20
FILTER_LIMIT = 5  # so that every dense filter fills its page at the smallest size too
# Two days at every size, so /stats meets a full day of hourly creation buckets (its "last 24 hours") whatever
# N is: a history squeezed into the last hour would make the read look smaller at the small size only.
HISTORY_SPAN = timedelta(days=2)


@dataclass(frozen=True)
class Operation:
    name: str
    query: dict[str, Any] | None  # the list's query; None is GET /stats
    cursor_pages: int = 0  # pages followed by nextCursor before the measured one


def operations() -> list[Operation]:
    status_density = {"COMPLETED": "dense", "FAILED": "dense", **dict.fromkeys(RARE, "rare")}
    return [
        Operation("first_page", {}),
        Operation("cursor_page_5", {"limit": CURSOR_LIMIT}, cursor_pages=4),
        *(
            Operation(f"status_{status.lower()}_{density}", {"status": status, "limit": FILTER_LIMIT})
            for status, density in status_density.items()
        ),
        Operation("type_video", {"type": "VIDEO", "limit": FILTER_LIMIT}),
        Operation("type_image", {"type": "IMAGE", "limit": FILTER_LIMIT}),
        Operation("status_completed_type_image", {"status": "COMPLETED", "type": "IMAGE", "limit": FILTER_LIMIT}),
        Operation("status_processing_cursor_page_2", {"status": "PROCESSING", "limit": 1}, cursor_pages=1),
        Operation("page_mode_page_1", {"page": 1, "pageSize": PAGE_SIZE}),
        Operation("page_mode_page_10", {"page": 10, "pageSize": PAGE_SIZE}),
        Operation("stats", None),
    ]


# -- counting ---------------------------------------------------------------------------------------------------


def items_read(operation: str, reply: dict[str, Any]) -> int:
    """The items one DynamoDB reply read (what the request is billed and slowed by)."""
    if operation in {"Query", "Scan"}:
        return int(reply.get("ScannedCount", reply.get("Count", 0)))
    if operation == "GetItem":
        return 1 if reply.get("Item") else 0
    if operation in {"BatchGetItem"}:
        return sum(len(items) for items in reply.get("Responses", {}).values())
    if operation == "TransactGetItems":
        return len(reply.get("Responses", []))
    return 0


class ReadCounter:
    """Sums the items read by every DynamoDB call of this process while installed."""

    def __init__(self) -> None:
        self.items = 0

    def observe(self, client: Any, operation: str, params: dict[str, Any], reply: dict[str, Any]) -> None:
        if client.meta.service_model.service_name == "dynamodb":
            self.items += items_read(operation, reply)

    @contextlib.contextmanager
    def installed(self) -> Iterator[ReadCounter]:
        from local import botocore_internals

        undo = botocore_internals.after_each_call(self.observe)
        try:
            yield self
        finally:
            undo()


# -- the history ----------------------------------------------------------------------------------------------


def planned_statuses(size: int) -> list[tuple[str, str]]:
    """(status, type) of each task, newest first."""
    plan: list[tuple[str, str]] = []
    for index in range(size):
        status = "FAILED" if index % 10 == 7 else "COMPLETED"
        plan.append((status, "IMAGE" if index % 10 == 3 else "VIDEO"))
    newest = ["PROCESSING"] * RARE["PROCESSING"] + ["QUEUED"] * RARE["QUEUED"]
    for index, status in enumerate(newest):
        plan[index] = (status, "VIDEO")
    for index in range(RARE["CANCELLED"]):
        plan[size - 1 - index] = ("CANCELLED", "VIDEO")
    return plan


def build_history(repository: Any, user: str, size: int, now: datetime) -> None:
    """``size`` tasks of ``user`` spread evenly over ``HISTORY_SPAN`` (the newest at ``now``), created in batches
    and moved to their planned status through the repository's transitions."""
    from videotasks.domain.ids import new_video_id
    from videotasks.domain.models import Task, TaskStatus, TaskType, iso

    plan = planned_statuses(size)
    for start in range(0, size, BATCH):
        batch = []
        for index in range(start, min(size, start + BATCH)):
            created = iso(now - index * (HISTORY_SPAN / size))
            batch.append(
                Task(
                    videoId=new_video_id(),
                    userId=user,
                    type=TaskType(plan[index][1]),
                    prompt=f"history {index}",
                    model="sora-2" if plan[index][1] == "VIDEO" else "gpt-image-1",
                    createdAt=created,
                    updatedAt=created,
                )
            )
        for task, (status, _) in zip(repository.create_many(batch), plan[start : start + BATCH], strict=True):
            target = TaskStatus(status)
            if target is TaskStatus.QUEUED:
                continue
            if target is not TaskStatus.CANCELLED:
                task = repository.transition(task, TaskStatus.PROCESSING, externalTaskId=f"ext_{task.videoId}")
            if target is not TaskStatus.PROCESSING:
                repository.transition(task, target)


# -- the in-process stack ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def _as_the_local_stack_runs_moto() -> Iterator[None]:
    """The local stack's moto (local/moto_seam.py): one request at a time, and a transaction's snapshot limited
    to the partitions it touches, without which every create and transition would copy the whole history."""
    from local import moto_seam
    from local.lambdas import FunctionRegistry
    from local.template import load_template

    moto_seam.install(FunctionRegistry(load_template()))
    try:
        yield
    finally:
        moto_seam.uninstall()


Call = Callable[[str, dict[str, Any] | None], tuple[int, dict[str, Any]]]


@dataclass(frozen=True)
class InProcessStack:
    call: Call  # ``call(path, query)`` -> (items read, reply body), through the API function's real handler
    count: Callable[[], None]  # the counter function, fed every tasks-stream record written so far


@contextlib.contextmanager
def in_process_stack() -> Iterator[InProcessStack]:
    """moto with the template's tables and secrets, the environment the functions get, a caller of the API
    function's real handler, and the counter function fed from the tasks stream as its mapping feeds it."""
    import json

    from moto import mock_aws

    from local import aws_setup
    from local.lambdas import FunctionRegistry
    from local.stream_pump import StreamPump
    from local.template import Resolver, function_environment, load_template, resources, stream_sources
    from local.token import make_token

    saved = dict(os.environ)
    os.environ.update(
        {
            "AWS_ACCESS_KEY_ID": "bench",
            "AWS_SECRET_ACCESS_KEY": "bench",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
            "AWS_ACCOUNT_ID_ENDPOINT_MODE": "disabled",
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_LOG_LEVEL": "ERROR",
        }
    )
    for name in [name for name in os.environ if name.startswith(("AWS_ENDPOINT_URL", "AWS_PROFILE"))]:
        del os.environ[name]
    jwt_secret = secrets.token_hex(32)  # this process's only: it signs the bench's own token
    try:
        with mock_aws(), _as_the_local_stack_runs_moto():
            template = load_template()
            resolver = Resolver(template, parameters={"Stage": "bench"})
            values = {
                logical_id: jwt_secret if "jwt" in logical_id.lower() else secrets.token_hex(32)
                for logical_id in resources(template, "AWS::SecretsManager::Secret")
            }
            aws_setup.physical_names(template, resolver)
            aws_setup.create_tables(template, resolver, None)  # type: ignore[arg-type]
            aws_setup.create_secrets(template, resolver, None, values)  # type: ignore[arg-type]
            os.environ.update(function_environment(template, resolver))
            api = FunctionRegistry(template).get("ApiFunction")
            authorization = f"Bearer {make_token(USER, jwt_secret)}"
            event_template = json.loads((ROOT / "events" / "api_health.json").read_text(encoding="utf-8"))

            def call(path: str, query: dict[str, Any] | None) -> tuple[int, dict[str, Any]]:
                event = json.loads(json.dumps(event_template))
                event["headers"] = {**event["headers"], "authorization": authorization}
                event["rawPath"] = event["requestContext"]["http"]["path"] = path
                event["routeKey"] = event["requestContext"]["routeKey"] = f"GET {path}"
                event["requestContext"]["http"]["method"] = "GET"
                event["rawQueryString"] = urlencode(query or {})
                event["queryStringParameters"] = {key: str(value) for key, value in (query or {}).items()} or None
                with ReadCounter().installed() as counter:
                    reply = api.invoke(event)
                body = json.loads(reply["body"])
                if reply["statusCode"] != 200:
                    raise RuntimeError(f"{path} {query}: {reply['statusCode']} {body}")
                return counter.items, body

            source = next(source for source in stream_sources(template) if source.function == "CountTasksFunction")
            counting = StreamPump(
                dataclasses.replace(source, starting_position="TRIM_HORIZON"),
                resolver.get_att(source.table, "StreamArn"),
                FunctionRegistry(template).get(source.function).invoke,
            )

            def count() -> None:
                while counting.poll_once():
                    pass

            yield InProcessStack(call, count)
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure(size: int) -> dict[str, int]:
    """Items read by each operation over a history of ``size`` tasks."""
    from videotasks import wiring
    from videotasks.adapters import aws
    from videotasks.adapters.store.tasks import TaskRepository
    from videotasks.domain.models import utc_now
    from videotasks.settings import get_settings

    with in_process_stack() as stack:
        wiring.reset()
        aws.reset()
        # No queue entries: the queue keeper, which is not running here, removes a task's entry when the task
        # starts, so a real history of ended tasks leaves its owner's queue about empty. Built with entries, the
        # user's queue partition would grow to N items, and every create's transaction (whose partitions moto
        # copies) would cost O(N): 10,000 tasks took over 50 minutes to build.
        history_writer = TaskRepository(get_settings().model_copy(update={"queue_table": ""}))
        build_history(history_writer, USER, size, utc_now())
        stack.count()  # what CountTasksFunction does within seconds in the cloud: the counters /stats reads
        return {operation.name: measure_one(stack.call, operation) for operation in operations()}


def measure_one(call: Call, operation: Operation) -> int:
    if operation.query is None:
        return call("/api/video/stats", None)[0]
    query = dict(operation.query)
    for _ in range(operation.cursor_pages):
        _, body = call("/api/video/tasks", query)
        if not body["data"]["nextCursor"]:
            raise RuntimeError(f"{operation.name}: the history ended before the measured page")
        query["cursor"] = body["data"]["nextCursor"]
    return call("/api/video/tasks", query)[0]


def extrapolate(small: int, large: int, *, at: int = EXTRAPOLATED_SIZE) -> int:
    """A straight line through (SIZES[0], small) and (SIZES[1], large), read at ``at``."""
    slope = (large - small) / (SIZES[1] - SIZES[0])
    return max(0, round(large + slope * (at - SIZES[1])))


def report(sizes: tuple[int, int] = SIZES) -> list[str]:
    small, large = (measure(size) for size in sizes)
    lines = [
        f"history {name} items_read@{sizes[0]}={small[name]} items_read@{sizes[1]}={large[name]} "
        f"ratio={large[name] / max(1, small[name]):.2f}"
        for name in small
    ]
    if sizes == SIZES:
        lines += [
            f"history-extrapolated {name} items_read@{EXTRAPOLATED_SIZE}={extrapolate(small[name], large[name])} "
            "(extrapolated, linear through the two measured sizes)"
            for name in small
        ]
    return lines


def main() -> None:
    # Each GET publishes no metric, and Powertools says so at every invocation.
    warnings.filterwarnings("ignore", "No application metrics to publish")
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs=2, default=SIZES, metavar=("SMALL", "LARGE"))
    args = parser.parse_args()
    print("\n".join(report(tuple(args.sizes))))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
