"""No user-facing path scans a table (docs/ARCHITECTURE.md): every DynamoDB call any client in the process
makes is recorded while each route is called, its refusals included, and none may be a Scan."""

from __future__ import annotations

import pytest

from tests.integration.api_harness import BASE, MISSING_VIDEO_ID, OTHER_USER, Api

pytest_plugins = ["tests.integration.api_fixtures"]

# A PartiQL SELECT without a key condition is a scan under another name.
SCANS = {"Scan", "ExecuteStatement", "BatchExecuteStatement", "ExecuteTransaction"}


@pytest.fixture
def tour(api: Api, steps, aws_calls):
    """Calls every route the way clients do (successes and each kind of refusal) on a user with tasks in
    several states; returns {route description: the DynamoDB calls it made}."""
    earlier, completed, queued, processing = (api.create_id() for _ in range(4))
    steps.complete(earlier)
    steps.complete(completed)
    steps.submit(processing)
    image = api.create_id(type="IMAGE")
    steps.submit(image)
    api.as_user(OTHER_USER).create_id()
    cursor = api.list(limit=1).data["nextCursor"]
    filtered = {"status": "COMPLETED", "type": "VIDEO"}
    filtered_cursor = api.list(limit=1, **filtered).data["nextCursor"]
    assert cursor and filtered_cursor
    intruder = api.as_user(OTHER_USER)
    visits = {
        "POST /tasks": lambda: api.create(),
        "POST /tasks with Idempotency-Key": lambda: api.create(key="k-1"),
        "POST /tasks replayed": lambda: api.create(key="k-1"),
        "POST /tasks key reused with another body": lambda: api.create(prompt="other", key="k-1"),
        "POST /tasks with clientRequestId": lambda: api.create(clientRequestId="c-1"),
        "POST /tasks invalid": lambda: api.create(model="sora-9"),
        "GET /tasks": lambda: api.list(),
        "GET /tasks?status": lambda: api.list(status="COMPLETED"),
        "GET /tasks?type": lambda: api.list(type="IMAGE"),
        "GET /tasks?status&type": lambda: api.list(status="QUEUED", type="VIDEO"),
        "GET /tasks?cursor": lambda: api.list(limit=1, cursor=cursor),
        "GET /tasks?status&type&cursor": lambda: api.list(limit=1, cursor=filtered_cursor, **filtered),
        "GET /tasks?page&pageSize": lambda: api.list(page=2, pageSize=2),
        "GET /tasks bad cursor": lambda: api.list(cursor="forged.cursor"),
        "GET /tasks/{id}": lambda: api.get(completed),
        "GET /tasks/{id} missing": lambda: api.get(MISSING_VIDEO_ID),
        "GET /tasks/{id} of another user": lambda: intruder.get(completed),
        "GET /tasks/{id}/content": lambda: api.content(completed),
        "GET /tasks/{id}/content before completion": lambda: api.content(queued),
        "GET /tasks/{id}/content of another user": lambda: intruder.content(completed),
        "POST /tasks/{id}/cancel queued": lambda: api.cancel(queued),
        "POST /tasks/{id}/cancel processing": lambda: api.cancel(processing),
        "POST /tasks/{id}/cancel completed": lambda: api.cancel(completed),
        "POST /tasks/{id}/cancel of another user": lambda: intruder.cancel(image),
        "GET /stats": lambda: api.stats(),
        "GET /health": lambda: api.call("GET", f"{BASE}/health"),
        "GET /openapi.json": lambda: api.call("GET", f"{BASE}/openapi.json"),
        "unknown route": lambda: api.call("GET", f"{BASE}/nothing"),
        "wrong method": lambda: api.call("DELETE", f"{BASE}/tasks/{completed}"),
        "no token": lambda: api.as_user(None).list(),
    }
    seen = {}
    for name, visit in visits.items():
        aws_calls.clear()
        reply = visit()
        assert reply.status < 500, (name, reply.body)
        seen[name] = list(aws_calls.of("dynamodb"))
    return seen


def test_no_route_scans_a_table(tour):
    scanning = {route: sorted({call.operation for call in calls} & SCANS) for route, calls in tour.items()}

    assert {route: operations for route, operations in scanning.items() if operations} == {}


def test_listings_query_the_callers_index_partition_and_task_routes_read_by_key(tour, aws_stack):
    tasks_table = aws_stack.environment["TASKS_TABLE"]
    for route, calls in tour.items():
        if route.startswith("GET /tasks?") or route == "GET /tasks":
            queries = [call for call in calls if call.operation == "Query" and call.table == tasks_table]
            assert queries, f"{route} read no tasks"  # the tour really lists, so the check above means something
            # A filter reads its own ByUserFilter partitions (the caller's id leads their key); none reads ByUser.
            index = "ByUserFilter" if any(word in route for word in ("status", "type")) else "ByUser"
            assert all(call.params["IndexName"] == index for call in queries), route
    for route in ("GET /tasks/{id}", "GET /tasks/{id}/content", "POST /tasks/{id}/cancel queued"):
        reads = [call for call in tour[route] if call.table == tasks_table and call.operation in ("GetItem", "Query")]
        assert [call.operation for call in reads][:1] == ["GetItem"], route
        assert set(reads[0].params["Key"]) == {"videoId"}, route


def test_the_recorder_sees_a_scan_when_there_is_one(api: Api, aws_stack, aws_calls):
    api.create_id()
    aws_calls.clear()

    aws_stack.table("TASKS_TABLE").scan()  # what a careless listing would do

    assert [call.operation for call in aws_calls.of("dynamodb")] == ["Scan"]
