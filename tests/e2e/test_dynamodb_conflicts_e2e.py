"""The local stack with every DynamoDB transaction cancelled (``LOCAL_DYNAMODB_CONFLICT_RATE=1``): no create
can succeed, and the API says so as a retryable 429 in the envelope, with nothing written."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.e2e


def test_at_conflict_rate_one_a_create_is_a_429_with_retry_after_and_writes_nothing(
    local_stack_factory: Any, user_id: str
) -> None:
    stack = local_stack_factory(LOCAL_DYNAMODB_CONFLICT_RATE=1)

    with stack.http(user_id) as client:
        reply = client.post("/tasks", json={"prompt": "a lighthouse at dusk"}, headers={"Idempotency-Key": "k-1"})
        listed = client.get("/tasks").json()["data"]
        stats = client.get("/stats").json()["data"]

    assert reply.status_code == 429, reply.text
    assert reply.headers["Retry-After"] == "1"
    body = reply.json()
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["message"] == body["error"]["message"] == "Too many changes to your tasks at once; retry in a moment"
    assert (listed["items"], listed["total"]) == ([], 0)
    assert stats["total"] == 0
    dynamodb = stack.boto3_client("dynamodb")
    tasks_table = next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith("TasksTable"))
    assert dynamodb.scan(TableName=tasks_table, Select="COUNT")["Count"] == 0
