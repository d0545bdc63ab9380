"""The local stack under concurrent requests behaves as AWS does: what one request does never undoes or
reads another's. Lambda runs one invocation per process and DynamoDB runs each request atomically; the
local stack runs everything on threads of one process, so it has to make both hold (local/lambdas.py,
local/moto_seam.py). The reliability suite (tests/e2e/test_reliability.py) found both the hard way."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import pytest

from local import moto_seam
from local.lambdas import LocalFunction

WHO_HANDLER = textwrap.dedent(
    """
    import time

    import jwt
    from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

    app = APIGatewayHttpResolver()


    def token_user(event):
        token = event["headers"]["authorization"].removeprefix("Bearer ")
        return jwt.decode(token, options={"verify_signature": False})["userId"]


    def caller():
        # As functions/api/app.py keeps it: the verified user in the resolver's context, beside the event's.
        return f"{app.context['user_id']} {token_user(app.current_event.raw_event)}"


    @app.get("/who")
    def who():
        first = caller()
        time.sleep(0.02)  # long enough for another invocation to start meanwhile
        return {"first": first, "then": caller()}


    def lambda_handler(event, context):
        app.append_context(user_id=token_user(event))
        return app.resolve(event, context)
    """
)
INVOCATIONS = 12
WRITES = 120
FAILERS = 2
# Counts a hit, then fails on its condition: moto puts back the table as it was before, and DynamoDB keeps
# nothing of it either; what other requests wrote meanwhile must stand.
FAILING_TRANSACTION = [
    {
        "Update": {
            "TableName": "Concurrency",
            "Key": {"id": {"S": "counter"}},
            "UpdateExpression": "ADD hits :one",
            "ExpressionAttributeValues": {":one": {"N": "1"}},
        }
    },
    {
        "ConditionCheck": {
            "TableName": "Concurrency",
            "Key": {"id": {"S": "absent"}},
            "ConditionExpression": "attribute_exists(id)",
        }
    },
]


@pytest.fixture
def who_function(tmp_path: Path) -> LocalFunction:
    (tmp_path / "app.py").write_text(WHO_HANDLER, encoding="utf-8")
    return LocalFunction("Who", tmp_path, "app.lambda_handler", timeout=10, memory=128, pool_size=4)


def test_api_invocations_running_at_once_each_see_their_own_event_and_user(
    who_function: LocalFunction, api_event: Callable[..., dict[str, Any]]
) -> None:
    def ask(index: int) -> tuple[str, dict[str, Any]]:
        user = f"user-{index}"
        result = who_function.invoke(api_event(user=user, path="/who", method="GET", route_key="GET /who"))
        return user, json.loads(result["body"])

    with ThreadPoolExecutor(max_workers=INVOCATIONS) as pool:
        answers = list(pool.map(ask, range(INVOCATIONS)))

    assert [(user, answer["first"], answer["then"]) for user, answer in answers] == [
        (user, f"{user} {user}", f"{user} {user}") for user, _ in answers
    ]


def test_a_failed_transaction_never_undoes_what_other_requests_wrote_meanwhile(strict_moto: Any) -> None:
    dynamodb = strict_moto
    dynamodb.create_table(
        TableName="Concurrency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    writing = threading.Event()

    def write(index: int) -> None:
        writing.set()
        dynamodb.put_item(TableName="Concurrency", Item={"id": {"S": f"item-{index}"}})

    def fail_transactions() -> int:
        writing.wait(timeout=10)
        failed = 0
        for _ in range(WRITES):
            try:
                dynamodb.transact_write_items(TransactItems=FAILING_TRANSACTION)
            except dynamodb.exceptions.TransactionCanceledException:
                failed += 1
        return failed

    with ThreadPoolExecutor(max_workers=FAILERS + 4) as pool:
        failing = [pool.submit(fail_transactions) for _ in range(FAILERS)]
        list(pool.map(write, range(WRITES)))
        assert [future.result() for future in failing] == [WRITES] * FAILERS

    stored = {
        item["id"]["S"]
        for page in dynamodb.get_paginator("scan").paginate(TableName="Concurrency")
        for item in page["Items"]
    }
    assert stored == {f"item-{index}" for index in range(WRITES)}  # every put stands; no counter was kept


def test_the_snapshots_transactions_take_do_not_outlive_them(strict_moto: Any) -> None:
    dynamodb = strict_moto
    dynamodb.create_table(
        TableName="Concurrency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    for _ in range(5):
        with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
            dynamodb.transact_write_items(TransactItems=FAILING_TRANSACTION)
        dynamodb.transact_write_items(TransactItems=FAILING_TRANSACTION[:1])

    assert moto_seam.table_objects_alive() == len(moto_seam.stored_tables())


def test_a_transaction_sees_and_keeps_the_whole_table_and_its_stream(strict_moto: Any) -> None:
    # The seam hands moto only the transaction's partitions and no old stream records while it runs.
    dynamodb = strict_moto
    dynamodb.create_table(
        TableName="Concurrency",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    streams = boto3.client("dynamodbstreams")
    stream = dynamodb.describe_table(TableName="Concurrency")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=stream)["StreamDescription"]["Shards"][0]["ShardId"]

    def records() -> list[tuple[str, str, str]]:
        iterator = streams.get_shard_iterator(StreamArn=stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
        found = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
        return [(r["eventName"], r["dynamodb"]["Keys"]["id"]["S"], r["dynamodb"]["SequenceNumber"]) for r in found]

    for index in range(3):
        dynamodb.put_item(TableName="Concurrency", Item={"id": {"S": f"item-{index}"}})
    before = records()
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(TransactItems=FAILING_TRANSACTION)
    after_failure = records()
    dynamodb.transact_write_items(
        TransactItems=[
            FAILING_TRANSACTION[0],
            {
                "ConditionCheck": {
                    "TableName": "Concurrency",
                    "Key": {"id": {"S": "item-1"}},
                    "ConditionExpression": "attribute_exists(id)",
                }
            },
        ]
    )
    after_success = records()

    stored = {item["id"]["S"] for item in dynamodb.scan(TableName="Concurrency")["Items"]}
    assert stored == {"item-0", "item-1", "item-2", "counter"}
    assert after_failure == before
    assert after_success[:3] == before
    assert {key for _, key, _ in after_success[3:]} == {"counter"}  # (moto writes an upsert's record twice)
    numbers = [int(number) for _, _, number in after_success]
    assert numbers == list(range(numbers[0], numbers[0] + len(numbers)))
