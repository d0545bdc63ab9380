"""template.yaml as CloudFormation will see it: the SAM transform, run offline.

AWS runs the ``AWS::Serverless-2016-10-31`` transform before it creates anything: the implicit
resources (roles with the policy templates expanded, Lambda permissions, event source mappings, stages,
EventBridge rules) exist only in its output. Whatever we check about what AWS will deploy — who may invoke
whom, what each function's role grants — is checked against this output, not against our own reading of
the SAM template.

The transform needs no credentials: local code locations are replaced by placeholder S3 URIs (as
``sam validate`` does), the state machine's definition is inlined from its file, and the managed policy
loader (used only for policies named by bare name) knows the AWS managed policies SAM itself attaches.
"""

from __future__ import annotations

import copy
import functools
import json
import os
from typing import Any

from local.template import ROOT, TEMPLATE_PATH, load_template

TRANSFORM_REGION = "us-east-1"
PLACEHOLDER_BUCKET = "videotasks-transform-placeholder"
_CODE_PROPERTIES = {
    "AWS::Serverless::Function": "CodeUri",
    "AWS::Serverless::LayerVersion": "ContentUri",
}


# The AWS managed policies SAM attaches to our roles (their documents as AWS publishes them). They grant
# CloudWatch Logs and X-Ray (which the local stack does not emulate) and, for a stream consumer, the stream
# reads Lambda's event source mapping makes with the function's role.
MANAGED_POLICIES: dict[str, list[dict[str, Any]]] = {
    "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole": [
        {
            "Effect": "Allow",
            "Action": ["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/AWSXrayWriteOnlyAccess": [
        {
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
                "xray:GetSamplingStatisticSummaries",
            ],
            "Resource": "*",
        }
    ],
    "arn:aws:iam::aws:policy/service-role/AWSLambdaDynamoDBExecutionRole": [
        {
            "Effect": "Allow",
            "Action": [
                "dynamodb:DescribeStream",
                "dynamodb:GetRecords",
                "dynamodb:GetShardIterator",
                "dynamodb:ListStreams",
                "logs:CreateLogGroup",
                "logs:CreateLogStream",
                "logs:PutLogEvents",
            ],
            "Resource": "*",
        }
    ],
}


class _ManagedPolicies:
    """What the translator asks of its IAM client: managed policy names to ARNs (none are named bare)."""

    def load(self) -> dict[str, str]:
        return {}


def _prepared(template: dict[str, Any]) -> dict[str, Any]:
    """Local paths replaced with what the transform accepts; the state machine definition inlined."""
    prepared = copy.deepcopy(template)
    for logical_id, body in prepared["Resources"].items():
        kind, props = body["Type"], body.get("Properties") or {}
        code_property = _CODE_PROPERTIES.get(kind)
        if code_property and isinstance(props.get(code_property), str):
            props[code_property] = f"s3://{PLACEHOLDER_BUCKET}/{logical_id}.zip"
        if kind == "AWS::Serverless::StateMachine" and isinstance(props.get("DefinitionUri"), str):
            definition_path = ROOT / props.pop("DefinitionUri")
            props["Definition"] = json.loads(definition_path.read_text(encoding="utf-8"))
    return prepared


def transform(template: dict[str, Any], parameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """The CloudFormation template the SAM transform makes of ``template`` (already parsed)."""
    from samtranslator.translator.transform import transform as sam_transform

    # The translator reads the region for ARNs and endpoints; it never calls AWS with it here.
    os.environ.setdefault("AWS_DEFAULT_REGION", TRANSFORM_REGION)
    return sam_transform(_prepared(template), parameters or {}, _ManagedPolicies())  # type: ignore[arg-type]


@functools.cache
def transformed_template() -> dict[str, Any]:
    """template.yaml, transformed (cached: the template does not change while a process runs)."""
    return transform(load_template(TEMPLATE_PATH))


def function_roles(transformed: dict[str, Any]) -> dict[str, str]:
    """Each function's logical id -> the logical id of the role the transform made (or the template named)."""
    roles: dict[str, str] = {}
    for logical_id, body in transformed["Resources"].items():
        if body["Type"] != "AWS::Lambda::Function":
            continue
        role = body["Properties"].get("Role")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            roles[logical_id] = role["Fn::GetAtt"][0]
    return roles


def state_machine_roles(transformed: dict[str, Any]) -> dict[str, str]:
    """Each state machine's logical id -> its role's logical id."""
    roles = {}
    for logical_id, body in transformed["Resources"].items():
        if body["Type"] != "AWS::StepFunctions::StateMachine":
            continue
        role = body["Properties"].get("RoleArn")
        if isinstance(role, dict) and "Fn::GetAtt" in role:
            roles[logical_id] = role["Fn::GetAtt"][0]
    return roles
