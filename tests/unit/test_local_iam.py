"""The local stack's IAM: grants from the transformed template, calls as IAM names them, and the evaluator."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from local import grants
from local.aws_calls import IamCall, Targets, iam_calls
from local.iam import CURRENT_FUNCTION, AccessControl, CallLog, _PerFunction, moto_policy
from local.iam_policy import Policy, Statement, cached_transformed_template, principals
from local.sam_transform import transformed_template
from local.template import ACCOUNT, REGION, Resolver, load_template

TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/tasks"
TARGETS = Targets(secret_arns={"jwt": f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:jwt-AbCdEf"})


def statement(effect: str, actions: list[str], resources: list[str], **extra: object) -> Statement:
    return Statement.from_json({"Effect": effect, "Action": actions, "Resource": resources, **extra}, "test")


def test_an_allow_grants_only_its_actions_on_its_resources() -> None:
    policy = Policy("fn", [statement("Allow", ["dynamodb:GetItem"], [TABLE])])
    assert policy.allows("dynamodb:GetItem", TABLE)
    assert policy.allows("DynamoDB:getitem", TABLE)  # IAM actions are case-insensitive
    assert not policy.allows("dynamodb:PutItem", TABLE)
    assert not policy.allows("dynamodb:GetItem", TABLE + "-other")
    assert not policy.allows("dynamodb:GetItem", f"{TABLE}/index/ByUser")


def test_wildcards_match_as_in_iam_and_an_explicit_deny_wins() -> None:
    policy = Policy(
        "fn",
        [
            statement("Allow", ["s3:Get*"], ["arn:aws:s3:::media/*"]),
            statement("Deny", ["s3:GetObject"], ["arn:aws:s3:::media/private/*"]),
        ],
    )
    assert policy.allows("s3:GetObject", "arn:aws:s3:::media/a/b.mp4")
    assert not policy.allows("s3:GetObject", "arn:aws:s3:::media/private/b.mp4")
    assert not policy.allows("s3:PutObject", "arn:aws:s3:::media/a.mp4")
    assert not policy.allows("s3:GetObject", "arn:aws:s3:::mediax/a.mp4")


def test_not_action_grants_everything_else() -> None:
    policy = Policy("fn", [Statement.from_json({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, "t")])
    assert policy.allows("dynamodb:GetItem", TABLE)
    assert not policy.allows("s3:GetObject", "arn:aws:s3:::media/a")


def test_a_transaction_is_authorised_by_its_items_actions_on_each_table() -> None:
    params = {
        "TransactItems": [
            {"Update": {"TableName": "tasks", "Key": {}}},
            {"Put": {"TableName": "stats", "Item": {}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": {}}},
        ]
    }
    assert iam_calls("dynamodb", "TransactWriteItems", params, TARGETS) == [
        IamCall("dynamodb:UpdateItem", TABLE),
        IamCall("dynamodb:PutItem", f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/stats"),
        IamCall("dynamodb:ConditionCheckItem", TABLE),
    ]


@pytest.mark.parametrize(
    ("signing_name", "operation", "params", "expected"),
    [
        (
            "dynamodb",
            "Query",
            {"TableName": "tasks", "IndexName": "ByUser"},
            [IamCall("dynamodb:Query", f"{TABLE}/index/ByUser")],
        ),
        (
            "s3",
            "UploadPart",
            {"Bucket": "media", "Key": "a.mp4"},
            [IamCall("s3:PutObject", "arn:aws:s3:::media/a.mp4")],
        ),
        (
            "s3",
            "HeadObject",
            {"Bucket": "media", "Key": "a.mp4"},
            [IamCall("s3:GetObject", "arn:aws:s3:::media/a.mp4")],
        ),
        ("s3", "ListObjectsV2", {"Bucket": "media"}, [IamCall("s3:ListBucket", "arn:aws:s3:::media")]),
        (
            "lambda",
            "Invoke",
            {"FunctionName": "Poll"},
            [IamCall("lambda:InvokeFunction", f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:Poll")],
        ),
        (
            "secretsmanager",
            "GetSecretValue",
            {"SecretId": "jwt"},
            [IamCall("secretsmanager:GetSecretValue", TARGETS.secret_arns["jwt"])],
        ),
        ("states", "StartExecution", {"stateMachineArn": "arn:sm"}, [IamCall("states:StartExecution", "arn:sm")]),
        ("sts", "GetCallerIdentity", {}, []),
        (
            "sqs",
            "SendMessage",
            {"QueueUrl": f"http://127.0.0.1:5000/{ACCOUNT}/dead"},
            [IamCall("sqs:SendMessage", f"arn:aws:sqs:{REGION}:{ACCOUNT}:dead")],
        ),
    ],
)
def test_calls_are_named_as_iam_authorises_them(
    signing_name: str, operation: str, params: dict[str, object], expected: list[IamCall]
) -> None:
    assert iam_calls(signing_name, operation, params, TARGETS) == expected


def test_a_connection_post_is_manage_connections_on_the_connection() -> None:
    targets = Targets(websocket_api="api1", websocket_stage="prod")
    (call,) = iam_calls("execute-api", "PostToConnection", {"ConnectionId": "c1", "Data": b""}, targets)
    assert call == IamCall(
        "execute-api:ManageConnections", f"arn:aws:execute-api:{REGION}:{ACCOUNT}:api1/prod/POST/@connections/c1"
    )


def test_the_template_grants_resolve_to_local_arns_for_every_function_and_the_state_machine() -> None:
    resolver = Resolver(
        load_template(), physical={"TasksTable": "local-tasks"}, attributes={("TasksTable", "Arn"): TABLE}
    )
    found = principals(transformed_template(), resolver)
    assert "VideoTaskStateMachineRole" in found and "ApiFunction" in found
    resources = {r for s in found["WebSocketFunction"] for r in s.resources}
    assert TABLE in resources  # its GetItem on the tasks table, resolved
    assert not any("${" in r for s in found["ApiFunction"] for r in s.resources)


def test_moto_gets_s3_grants_as_written_and_other_grants_by_action() -> None:
    document = moto_policy(
        [
            statement("Allow", ["s3:GetObject", "dynamodb:UpdateItem", "lambda:InvokeFunction"], ["arn:aws:s3:::m/*"]),
            Statement.from_json({"Effect": "Allow", "Action": "logs:*", "Resource": "*"}, "managed", managed=True),
        ]
    )
    assert document["Statement"] == [
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": ["arn:aws:s3:::m/*"]},
        {
            "Effect": "Allow",
            "Action": ["dynamodb:TransactWriteItems", "dynamodb:UpdateItem", "lambda:Invoke", "lambda:InvokeFunction"],
            "Resource": "*",
        },
    ]


def test_a_call_outside_the_grants_is_refused_as_aws_refuses_it_and_logged(tmp_path: Path) -> None:
    log_path = tmp_path / "calls.jsonl"
    control = AccessControl({"Fn": [statement("Allow", ["dynamodb:GetItem"], [TABLE])]}, TARGETS, CallLog(log_path))
    key = control.keys["Fn"][0]
    control.check(key, "dynamodb", "GetItem", {"TableName": "tasks"})
    with pytest.raises(ClientError) as refused:
        control.check(key, "dynamodb", "PutItem", {"TableName": "tasks"})
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert f"not authorized to perform: dynamodb:PutItem on resource: {TABLE}" in error["Message"]
    control.check("local", "dynamodb", "PutItem", {"TableName": "tasks"})  # the stack's admin: not checked
    control.log.close()

    report = grants.read([log_path])
    assert [(c.action, c.allowed) for c in report.ungranted()["Fn"]] == [("dynamodb:PutItem", False)]
    assert grants.main([str(log_path)]) == 1


def test_the_report_names_grants_no_call_used(tmp_path: Path) -> None:
    log_path = tmp_path / "calls.jsonl"
    control = AccessControl(
        {
            "Fn": [
                statement("Allow", ["dynamodb:GetItem", "dynamodb:Scan"], [TABLE, f"{TABLE}/index/*"]),
                statement("Allow", ["states:StopExecution"], ["arn:aws:states:*"]),
            ]
        },
        TARGETS,
        CallLog(log_path),
    )
    control.check(control.keys["Fn"][0], "dynamodb", "GetItem", {"TableName": "tasks"})
    control.log.close()

    excess = grants.read([log_path]).excess()["Fn"]
    assert excess == [
        grants.Excess("test", ("dynamodb:Scan",), (f"{TABLE}/index/*",), unused=False),
        grants.Excess("test", ("states:StopExecution",), ("arn:aws:states:*",), unused=True),
    ]
    assert grants.main([str(log_path)]) == 0
    assert all(json.loads(line) for line in log_path.read_text().splitlines())


def test_the_report_lists_the_calls_a_narrowed_policy_must_still_allow(tmp_path: Path) -> None:
    log_path = tmp_path / "calls.jsonl"
    grant = statement("Allow", ["s3:PutObject", "s3:GetObject"], ["arn:aws:s3:::media/*"])
    control = AccessControl({"Fn": [grant]}, TARGETS, CallLog(log_path))
    for key in ("media/a.mp4", "media/b.mp4"):
        control.check(control.keys["Fn"][0], "s3", "PutObject", {"Bucket": "media", "Key": key})
    control.log.close()

    report = grants.read([log_path])
    assert grants.used(report) == {"Fn": ["s3:PutObject on arn:aws:s3:::media/media/*"]}
    secret = TARGETS.secret_arns["jwt"]
    assert grants._generalised(secret) == f"arn:aws:secretsmanager:{REGION}:{ACCOUNT}:secret:jwt-*"
    execution = "arn:aws:states:r:a:execution:Machine:video_1"
    assert grants._generalised(execution) == "arn:aws:states:r:a:execution:Machine:*"
    assert "  used: s3:PutObject on arn:aws:s3:::media/media/*" in grants.render(report, show_used=True)


def test_the_stack_reads_the_transformed_template_from_a_cache_that_matches_the_transform() -> None:
    assert cached_transformed_template() == transformed_template()
    assert cached_transformed_template() == transformed_template()  # the second read comes from the file


def test_each_function_builds_its_own_collaborators_as_each_lambda_sandbox_does() -> None:
    built: list[str | None] = []

    @functools.cache
    def provider_client() -> object:
        built.append(CURRENT_FUNCTION.get())  # where it reads the provider key, with the caller's role
        return object()

    per_function = _PerFunction(provider_client)

    def as_function(name: str) -> object:
        token = CURRENT_FUNCTION.set(name)
        try:
            return per_function()
        finally:
            CURRENT_FUNCTION.reset(token)

    assert as_function("Poll") is as_function("Poll")
    assert as_function("Archive") is not as_function("Poll")
    assert built == ["Poll", "Archive"]
    per_function.cache_clear()
    as_function("Poll")
    assert built == ["Poll", "Archive", "Poll"]
