"""A botocore call as IAM authorises it: which actions, on which resources.

IAM does not always name an action after the API operation: S3 authorises ``UploadPart`` as
``s3:PutObject`` and ``HeadObject`` as ``s3:GetObject``; DynamoDB authorises ``TransactWriteItems`` by the
per-item actions (``PutItem``, ``UpdateItem``, ``DeleteItem``, ``ConditionCheckItem``) on each item's table;
Lambda's ``Invoke`` is ``lambda:InvokeFunction``; a WebSocket ``PostToConnection`` is
``execute-api:ManageConnections`` on the connection's ``…/POST/@connections/{id}`` ARN. The resource comes
from the parameters (table and index names, bucket and key, state machine and execution ARNs, secret ids).
An operation not known here is checked as ``<service>:<Operation>`` on ``*``: only a ``Resource: "*"``
grant allows it, which makes a new kind of call show up in the report rather than pass unnoticed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from local.template import ACCOUNT


@dataclass(frozen=True)
class IamCall:
    action: str  # dynamodb:GetItem
    resource: str  # arn:aws:dynamodb:us-east-1:123456789012:table/…


@dataclass
class Targets:
    """What the mapping needs to know of the local stack beyond the parameters."""

    region: str = "us-east-1"
    account: str = ACCOUNT
    secret_arns: dict[str, str] = field(default_factory=dict)  # secret name -> ARN (names carry no suffix)
    websocket_api: str = "*"  # the WebSocket API's id and stage, for execute-api ARNs
    websocket_stage: str = "*"


# service signing name -> {operation: IAM action name}; an operation not listed keeps its name.
_RENAMED = {
    "s3": {
        "HeadObject": "GetObject",
        "HeadBucket": "ListBucket",
        "ListObjects": "ListBucket",
        "ListObjectsV2": "ListBucket",
        "ListObjectVersions": "ListBucketVersions",
        "CreateMultipartUpload": "PutObject",
        "UploadPart": "PutObject",
        "CompleteMultipartUpload": "PutObject",
        "ListMultipartUploads": "ListBucketMultipartUploads",
        "ListParts": "ListMultipartUploadParts",
        "GetBucketLifecycleConfiguration": "GetLifecycleConfiguration",
        "PutBucketLifecycleConfiguration": "PutLifecycleConfiguration",
        "GetObjectAttributes": "GetObject",
    },
    "lambda": {"Invoke": "InvokeFunction", "InvokeWithResponseStream": "InvokeFunction"},
}
_TRANSACT_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
}
_CONNECTION_METHODS = {"PostToConnection": "POST", "GetConnection": "GET", "DeleteConnection": "DELETE"}


def _table_arn(targets: Targets, table: str, index: str | None = None) -> str:
    arn = table if table.startswith("arn:") else f"arn:aws:dynamodb:{targets.region}:{targets.account}:table/{table}"
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(targets: Targets, operation: str, params: dict[str, Any]) -> list[IamCall]:
    if operation == "TransactWriteItems":
        return [
            IamCall(f"dynamodb:{_TRANSACT_ACTIONS[kind]}", _table_arn(targets, body["TableName"]))
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
    if operation == "TransactGetItems":
        return [
            IamCall("dynamodb:GetItem", _table_arn(targets, item["Get"]["TableName"]))
            for item in params.get("TransactItems", [])
        ]
    if operation in {"BatchGetItem", "BatchWriteItem"}:
        return [IamCall(f"dynamodb:{operation}", _table_arn(targets, t)) for t in params.get("RequestItems", {})]
    if "StreamArn" in params:
        return [IamCall(f"dynamodb:{operation}", str(params["StreamArn"]))]
    if "TableName" in params:
        return [IamCall(f"dynamodb:{operation}", _table_arn(targets, params["TableName"], params.get("IndexName")))]
    return [IamCall(f"dynamodb:{operation}", "*")]


def _s3(operation: str, params: dict[str, Any]) -> list[IamCall]:
    bucket = params.get("Bucket")
    if bucket is None:
        return [IamCall(f"s3:{operation}", "*")]
    if operation == "DeleteObjects":
        return [IamCall("s3:DeleteObject", f"arn:aws:s3:::{bucket}/{o['Key']}") for o in params["Delete"]["Objects"]]
    action = _RENAMED["s3"].get(operation, operation)
    if operation == "GetObject" and params.get("VersionId"):
        action = "GetObjectVersion"
    if "Key" not in params:
        return [IamCall(f"s3:{action}", f"arn:aws:s3:::{bucket}")]
    calls = [IamCall(f"s3:{action}", f"arn:aws:s3:::{bucket}/{params['Key']}")]
    if operation in {"CopyObject", "UploadPartCopy"}:
        source = params.get("CopySource")
        source_arn = (
            f"{source['Bucket']}/{source['Key']}" if isinstance(source, dict) else str(source).lstrip("/").split("?")[0]
        )
        calls = [IamCall("s3:PutObject", calls[0].resource), IamCall("s3:GetObject", f"arn:aws:s3:::{source_arn}")]
    return calls


def _states(operation: str, params: dict[str, Any]) -> list[IamCall]:
    resource = params.get("executionArn") or params.get("stateMachineArn") or params.get("mapRunArn") or "*"
    return [IamCall(f"states:{operation}", str(resource))]


def _secret(targets: Targets, operation: str, params: dict[str, Any]) -> list[IamCall]:
    secret = str(params.get("SecretId", "*"))
    if not secret.startswith("arn:") and secret != "*":
        secret = targets.secret_arns.get(
            secret, f"arn:aws:secretsmanager:{targets.region}:{targets.account}:secret:{secret}"
        )
    return [IamCall(f"secretsmanager:{operation}", secret)]


def _lambda(targets: Targets, operation: str, params: dict[str, Any]) -> list[IamCall]:
    action = f"lambda:{_RENAMED['lambda'].get(operation, operation)}"
    name = params.get("FunctionName")
    if name is None:
        return [IamCall(action, "*")]
    arn = name if name.startswith("arn:") else f"arn:aws:lambda:{targets.region}:{targets.account}:function:{name}"
    qualifier = params.get("Qualifier")
    return [IamCall(action, f"{arn}:{qualifier}" if qualifier else arn)]


def _sqs(targets: Targets, operation: str, params: dict[str, Any]) -> list[IamCall]:
    """SQS names a queue by its URL (``…/<account>/<name>``); IAM by its ARN."""
    url = str(params.get("QueueUrl", ""))
    *_, account, name = ["", "", *url.rstrip("/").split("/")]
    resource = f"arn:aws:sqs:{targets.region}:{account or targets.account}:{name}" if name else "*"
    return [IamCall(f"sqs:{operation}", resource)]


def _connections(targets: Targets, operation: str, params: dict[str, Any]) -> list[IamCall]:
    method = _CONNECTION_METHODS.get(operation, "*")
    resource = (
        f"arn:aws:execute-api:{targets.region}:{targets.account}:{targets.websocket_api}/{targets.websocket_stage}"
        f"/{method}/@connections/{params.get('ConnectionId', '*')}"
    )
    return [IamCall("execute-api:ManageConnections", resource)]


def iam_calls(signing_name: str, operation: str, params: dict[str, Any], targets: Targets) -> list[IamCall]:
    """The IAM actions and resources AWS authorises for ``operation`` of the service signed as
    ``signing_name`` (botocore's ``service_model.signing_name``: ``states``, ``execute-api``, …)."""
    if signing_name == "dynamodb":  # DynamoDB Streams signs as dynamodb too, and IAM names it so
        return _dynamodb(targets, operation, params)
    if signing_name == "s3":
        return _s3(operation, params)
    if signing_name == "states":
        return _states(operation, params)
    if signing_name == "secretsmanager":
        return _secret(targets, operation, params)
    if signing_name == "lambda":
        return _lambda(targets, operation, params)
    if signing_name == "execute-api":
        return _connections(targets, operation, params)
    if signing_name == "sqs":
        return _sqs(targets, operation, params)
    if signing_name == "sts" and operation == "GetCallerIdentity":
        return []  # needs no permission, and a Deny cannot refuse it
    return [IamCall(f"{signing_name}:{operation}", "*")]
