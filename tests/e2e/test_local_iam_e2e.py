"""IAM in the local stack, end to end: each function calls AWS with its own role's grants and nothing more.

A call the role does not grant fails locally as it fails in AWS, and lands in the stack's call log as not
granted (`local.grants` reads it). Grants are taken away here with a Deny added to the template's (or added
with an Allow) through ``LOCAL_IAM_AMEND``, so these tests hold whatever shape template.yaml's policies take.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
import websockets

from local import grants
from local.launcher import RunningStack
from local.template import ACCOUNT, REGION

pytestmark = pytest.mark.e2e

CONNECTIONS_GET_ITEM = {"Action": ["dynamodb:GetItem"], "Resource": {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}}
START_EXECUTION = {"Action": ["states:StartExecution"], "Resource": "*"}


def amendments(**statements: list[dict[str, Any]]) -> str:
    return json.dumps(statements)


def table(stack: RunningStack, suffix: str) -> str:
    dynamodb = stack.boto3_client("dynamodb")
    return next(name for name in dynamodb.list_tables()["TableNames"] if name.endswith(suffix))


def call_log(stack: RunningStack) -> grants.Report:
    stack.stop()  # the log is complete once the stack is down
    return grants.read([stack.call_log_path])


async def subscribe_after_the_connection_record_is_gone(stack: RunningStack, user_id: str) -> dict[str, Any]:
    """Connect, lose the connection's record (as its TTL would take it), subscribe: the subscribe is refused,
    and refusing it reads the connection (``ConnectionRepository.get``)."""
    async with websockets.connect(f"{stack.ws_url}/?token={stack.token(user_id)}") as socket:
        dynamodb = stack.boto3_client("dynamodb")
        connections = table(stack, "ConnectionsTable")
        (item,) = dynamodb.query(
            TableName=connections,
            IndexName="ByUser",
            KeyConditionExpression="userId = :user",
            ExpressionAttributeValues={":user": {"S": user_id}},
        )["Items"]
        dynamodb.delete_item(TableName=connections, Key={"connectionId": item["connectionId"]})
        await socket.send(json.dumps({"action": "subscribe"}))
        return dict(json.loads(await asyncio.wait_for(socket.recv(), timeout=30)))


def test_without_its_grants_a_function_fails_as_in_aws_and_the_call_log_names_the_calls(
    local_stack_factory: Any, user_id: str
) -> None:
    stack = local_stack_factory(
        private=True,
        LOCAL_IAM_AMEND=amendments(
            WebSocketFunction=[{"Effect": "Deny", **CONNECTIONS_GET_ITEM}],
            ApiFunction=[{"Effect": "Deny", **START_EXECUTION}],
        ),
    )
    with stack.http(user_id) as client:
        created = client.post("/tasks", json={"prompt": "a kite over the dunes"})
    refused = asyncio.run(subscribe_after_the_connection_record_is_gone(stack, user_id))

    assert created.status_code >= 500, created.text  # the task was written, its workflow could not start
    assert refused["message"] == "Internal server error"  # what API Gateway tells the client of a failed route
    ungranted = {(c.principal, c.action, c.resource) for calls in call_log(stack).ungranted().values() for c in calls}
    assert ungranted == {
        (
            "ApiFunction",
            "states:StartExecution",
            f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:VideoTaskStateMachine",
        ),
        (
            "WebSocketFunction",
            "dynamodb:GetItem",
            f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/videotasks-local-ConnectionsTable",
        ),
    }
    assert grants.main([str(stack.call_log_path)]) == 1


def test_a_presigned_url_reaches_only_what_its_signer_may_read(local_stack: RunningStack) -> None:
    """moto cannot verify a presigned URL's signature; the stack still refuses what the signer's role does not
    grant, as S3 does (the WebSocket function may read media/* only)."""
    s3 = local_stack.boto3_client("s3")
    bucket = next(b["Name"] for b in s3.list_buckets()["Buckets"] if "media" in b["Name"].lower())
    s3.put_object(Bucket=bucket, Key="media/iam-e2e.mp4", Body=b"media")
    s3.put_object(Bucket=bucket, Key="private/iam-e2e.bin", Body=b"not media")
    credential = "AKIALOCALWEBSOCKETFUNCTION%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"
    query = f"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential={credential}&X-Amz-Signature=00"

    with httpx.Client(base_url=local_stack.moto_url, timeout=30.0, trust_env=False) as client:
        media = client.get(f"/{bucket}/media/iam-e2e.mp4?{query}")
        private = client.get(f"/{bucket}/private/iam-e2e.bin?{query}")

    assert media.status_code == 200 and media.content == b"media"
    assert private.status_code == 403 and b"AccessDenied" in private.content


def test_every_call_of_a_whole_session_is_granted(
    local_stack_factory: Any, user_id: str, wait_for_terminal: Any
) -> None:
    """Every route and live update once, on template.yaml's own grants and nothing added (the refused subscribe
    below needs ``dynamodb:GetItem`` on the connections table, which the template once lacked: the test above
    shows the "Internal server error" it gave); the excess grants are printed for whoever narrows the policies."""
    stack = local_stack_factory(private=True)
    other = f"{user_id}-other"

    async def live_updates(video_id: str, others_video_id: str) -> list[dict[str, Any]]:
        async with websockets.connect(f"{stack.ws_url}/?token={stack.token(user_id)}") as socket:

            async def ask(frame: dict[str, Any]) -> dict[str, Any]:
                await socket.send(json.dumps(frame))
                return dict(json.loads(await asyncio.wait_for(socket.recv(), timeout=30)))

            answers = [
                await ask({"action": "ping"}),
                await ask({"action": "subscribe", "videoId": others_video_id}),
                await ask({"action": "subscribe", "videoId": video_id}),
            ]
            while answers[-1].get("type") not in {"taskCompleted", "taskFailed"}:  # pushed by the broadcaster
                answers.append(dict(json.loads(await asyncio.wait_for(socket.recv(), stack.completion_deadline()))))
            answers.append(await ask({"action": "unsubscribe", "videoId": video_id}))
            answers.append(await ask({"action": "subscribe"}))
        return answers

    with stack.http(user_id) as client, stack.http(other) as someone_else:
        others = someone_else.post("/tasks", json={"prompt": "not yours"}).json()["data"]["videoId"]
        video = client.post("/tasks", json={"prompt": "a tram at night"}).json()["data"]["videoId"]
        image = client.post("/tasks", json={"prompt": "a red door", "type": "IMAGE"}).json()["data"]["videoId"]
        doomed = client.post("/tasks", json={"prompt": "never mind"}).json()["data"]["videoId"]
        cancelled = client.post(f"/tasks/{doomed}/cancel")
        answers = asyncio.run(live_updates(video, others))
        finished = [wait_for_terminal(client, task, stack.completion_deadline()) for task in (video, image)]
        content = [client.get(f"/tasks/{task}/content") for task in (video, image)]
        media = [httpx.get(reply.json()["data"]["url"], timeout=30.0, trust_env=False) for reply in content]
        listed, stats = client.get("/tasks"), client.get("/stats")
    lost = asyncio.run(subscribe_after_the_connection_record_is_gone(stack, user_id))

    assert cancelled.status_code == 200, cancelled.text
    assert [task["status"] for task in finished] == ["COMPLETED", "COMPLETED"]
    assert [reply.status_code for reply in (*content, *media, listed, stats)] == [200] * 6
    assert [answer["type"] for answer in answers[:2]] == ["pong", "error"]
    assert answers[-2]["type"] == "unsubscribed" and answers[-1]["type"] == "subscribed"
    assert lost["type"] == "error" and lost["payload"]["code"] == "NOT_FOUND", lost
    report = call_log(stack)
    print("\n" + grants.render(report))
    assert report.ungranted() == {}
    called = {principal for principal, calls in report.calls.items() if calls}
    assert {"ApiFunction", "AuthorizerFunction", "WebSocketFunction", "BroadcasterFunction"} <= called
    assert {"SubmitTaskFunction", "PollTaskFunction", "ArchiveTaskFunction", "VideoTaskStateMachineRole"} <= called
