"""Creates the template's AWS resources in moto and works out their local names and ARNs."""

from __future__ import annotations

import io
import json
import zipfile
from typing import Any

import boto3

from local.template import ACCOUNT, REGION, ROOT, Resolver, functions, resources

LOCAL_PREFIX = "videotasks-local"
ROLE_NAME = "videotasks-local-role"


def _client(service: str, endpoint: str) -> Any:
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION)


def _dummy_zip() -> bytes:
    # moto's Lambda needs a package for the ARN to exist; the code itself runs in-process.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def lambda_handler(event, context):\n    return event\n")
    return buffer.getvalue()


def physical_names(template: dict[str, Any], resolver: Resolver) -> None:
    """Fill ``resolver`` with the Ref and GetAtt values every resource will have locally."""
    for logical_id, body in template["Resources"].items():
        kind = body["Type"]
        if kind == "AWS::DynamoDB::Table":
            name = f"{LOCAL_PREFIX}-{logical_id}"
            resolver.physical[logical_id] = name
            resolver.attributes[(logical_id, "Arn")] = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{name}"
        elif kind == "AWS::S3::Bucket":
            name = f"{LOCAL_PREFIX}-{logical_id}".lower()
            resolver.physical[logical_id] = name
            resolver.attributes[(logical_id, "Arn")] = f"arn:aws:s3:::{name}"
        elif kind == "AWS::Serverless::Function":
            resolver.physical[logical_id] = logical_id
            resolver.attributes[(logical_id, "Arn")] = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{logical_id}"
        elif kind == "AWS::Serverless::StateMachine":
            resolver.physical[logical_id] = f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:{logical_id}"
            resolver.attributes[(logical_id, "Name")] = logical_id
            resolver.attributes[(logical_id, "Arn")] = resolver.physical[logical_id]
        elif kind in {"AWS::Serverless::HttpApi", "AWS::ApiGatewayV2::Api", "AWS::Serverless::LayerVersion"}:
            resolver.physical[logical_id] = f"local-{logical_id}"
        elif kind == "AWS::SQS::Queue":
            name = f"{LOCAL_PREFIX}-{logical_id}"
            resolver.physical[logical_id] = name  # replaced by the queue URL once created
            resolver.attributes[(logical_id, "QueueName")] = name
            resolver.attributes[(logical_id, "Arn")] = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"
        elif kind == "AWS::SecretsManager::Secret":
            name = resolver.resolve(body["Properties"]["Name"])
            resolver.physical[logical_id] = name  # replaced by the ARN once created


def create_tables(template: dict[str, Any], resolver: Resolver, endpoint: str) -> None:
    dynamodb = _client("dynamodb", endpoint)
    for logical_id, body in resources(template, "AWS::DynamoDB::Table").items():
        props = resolver.resolve(body["Properties"])
        args: dict[str, Any] = {
            "TableName": resolver.physical[logical_id],
            "AttributeDefinitions": props["AttributeDefinitions"],
            "KeySchema": props["KeySchema"],
            "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if props.get("GlobalSecondaryIndexes"):
            args["GlobalSecondaryIndexes"] = props["GlobalSecondaryIndexes"]
        if props.get("StreamSpecification"):
            args["StreamSpecification"] = {"StreamEnabled": True, **props["StreamSpecification"]}
        reply = dynamodb.create_table(**args)
        stream_arn = reply["TableDescription"].get("LatestStreamArn")
        if stream_arn:
            resolver.attributes[(logical_id, "StreamArn")] = stream_arn
        ttl = props.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            dynamodb.update_time_to_live(TableName=args["TableName"], TimeToLiveSpecification=ttl)


def create_buckets(template: dict[str, Any], resolver: Resolver, endpoint: str) -> None:
    s3 = _client("s3", endpoint)
    for logical_id in resources(template, "AWS::S3::Bucket"):
        s3.create_bucket(Bucket=resolver.physical[logical_id])


def create_queues(template: dict[str, Any], resolver: Resolver, endpoint: str) -> None:
    """The template's SQS queues (the outbound webhooks' dead letters are read by tests); the Ref becomes
    the queue URL, as in AWS."""
    sqs = _client("sqs", endpoint)
    for logical_id in resources(template, "AWS::SQS::Queue"):
        resolver.physical[logical_id] = sqs.create_queue(QueueName=resolver.physical[logical_id])["QueueUrl"]


def create_secrets(template: dict[str, Any], resolver: Resolver, endpoint: str, values: dict[str, str]) -> None:
    """``values`` maps a secret's logical id to its local value; the Ref becomes the ARN, as in AWS."""
    secrets = _client("secretsmanager", endpoint)
    for logical_id in resources(template, "AWS::SecretsManager::Secret"):
        reply = secrets.create_secret(Name=resolver.physical[logical_id], SecretString=values[logical_id])
        resolver.physical[logical_id] = reply["ARN"]


def create_functions(template: dict[str, Any], endpoint: str) -> None:
    iam = _client("iam", endpoint)
    role = iam.create_role(
        RoleName=ROLE_NAME,
        AssumeRolePolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": []}),
    )["Role"]["Arn"]
    lambda_ = _client("lambda", endpoint)
    package = _dummy_zip()
    for logical_id in functions(template):
        lambda_.create_function(
            FunctionName=logical_id,
            Runtime="python3.13",
            Role=role,
            Handler="app.lambda_handler",
            Code={"ZipFile": package},
        )


def create_state_machines(template: dict[str, Any], resolver: Resolver, endpoint: str) -> None:
    sfn = _client("stepfunctions", endpoint)
    role = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
    for logical_id, body in resources(template, "AWS::Serverless::StateMachine").items():
        props = body["Properties"]
        definition = (ROOT / props["DefinitionUri"]).read_text(encoding="utf-8")
        for key, value in resolver.resolve(props.get("DefinitionSubstitutions") or {}).items():
            definition = definition.replace("${" + key + "}", str(value))
        sfn.create_state_machine(
            name=logical_id, definition=definition, roleArn=role, type=props.get("Type", "STANDARD")
        )
