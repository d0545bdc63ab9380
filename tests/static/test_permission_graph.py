"""The invoke-permission graph of the stack AWS will deploy: every edge holds, and a missing one is caught.

Each edge is its own test (its id names it), derived from the transformed template: a new route, alarm,
rule or failure destination is checked without touching this file.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from local.sam_transform import transform, transformed_template
from local.template import TEMPLATE_PATH, load_template
from tests.static.permission_graph import Edge, edges, problems

EDGES = edges(transformed_template())

# The kinds of edge this stack must have; a kind that yields nothing would let its check pass vacuously.
EXPECTED_KINDS = {
    "http-route",  # no http-authorizer: the API function verifies tokens itself
    "ws-route",
    "ws-authorizer",
    "rule-target",
    "rule-dlq",
    "state-machine",
    "stream",
    "stream-on-failure",
    "async-on-failure",
    "alarm",
}


@pytest.mark.parametrize("edge", EDGES, ids=[edge.name for edge in EDGES])
def test_edge_holds(edge: Edge) -> None:
    assert edge.problem is None, edge.problem


def test_every_kind_of_edge_is_present() -> None:
    assert {edge.kind for edge in EDGES} == EXPECTED_KINDS


def test_every_http_route_of_the_template_is_an_edge() -> None:
    routes = {
        f"HTTP {event['Properties']['Method'].upper()} {event['Properties']['Path']} -> {name}"
        for name, body in load_template(TEMPLATE_PATH)["Resources"].items()
        if body["Type"] == "AWS::Serverless::Function"
        for event in (body["Properties"].get("Events") or {}).values()
        if event["Type"] == "HttpApi"
    }
    assert routes <= {edge.name for edge in EDGES if edge.kind == "http-route"}


def test_every_alarm_is_an_edge() -> None:
    resources = load_template(TEMPLATE_PATH)["Resources"]
    alarms = {name for name, body in resources.items() if body["Type"] == "AWS::CloudWatch::Alarm"}
    assert alarms == {edge.name.split(" -> ")[0] for edge in EDGES if edge.kind == "alarm"}


# ------------------------------------------------------------------------------------------------ mutations
# Each takes the SAM template apart the way a careless edit would, transforms it, and expects the graph to
# name the edge that broke.


def _problems_after(mutate: Callable[[dict[str, Any]], None]) -> list[str]:
    template = copy.deepcopy(load_template(TEMPLATE_PATH))
    mutate(template)
    return problems(transform(template))


def _resources(template: dict[str, Any]) -> dict[str, Any]:
    resources: dict[str, Any] = template["Resources"]
    return resources


def test_without_the_websocket_permission_every_websocket_route_fails() -> None:
    found = _problems_after(lambda template: _resources(template).pop("WebSocketPermission"))
    failing = {line.split(":")[0] for line in found}
    assert {f"WebSocket {key} -> WebSocketFunction" for key in ("$connect", "subscribe", "ping")} <= failing, found


def test_without_the_websocket_authorizer_permission_the_handshake_edge_fails() -> None:
    found = _problems_after(lambda template: _resources(template).pop("WebSocketAuthorizerPermission"))
    assert any("authorizer WebSocketAuthorizer -> AuthorizerFunction" in line for line in found), found


def test_an_alarm_topic_under_the_aws_managed_key_fails_every_alarm() -> None:
    def managed_key(template: dict[str, Any]) -> None:
        _resources(template)["AlarmTopic"]["Properties"]["KmsMasterKeyId"] = "alias/aws/sns"

    found = _problems_after(managed_key)
    assert any("Api5xxAlarm -> AlarmTopic" in line and "alias/aws/sns" in line for line in found), found


def test_a_key_policy_without_cloudwatch_fails_the_alarm_edges() -> None:
    def no_cloudwatch(template: dict[str, Any]) -> None:
        statements = _resources(template)["AlarmTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
        statements[:] = [s for s in statements if s["Principal"].get("Service") != "cloudwatch.amazonaws.com"]

    found = _problems_after(no_cloudwatch)
    assert any("AlarmTopicKey" in line and "kms:Decrypt" in line for line in found), found


def test_a_rule_without_its_dead_letter_queue_policy_fails() -> None:
    found = _problems_after(lambda template: _resources(template).pop("SafetyNetFailuresQueuePolicy"))
    assert any("-> SafetyNetFailuresQueue" in line and "QueuePolicy" in line for line in found), found


def test_a_state_machine_role_missing_one_step_fails() -> None:
    def drop_poll(template: dict[str, Any]) -> None:
        policies = _resources(template)["VideoTaskStateMachine"]["Properties"]["Policies"]
        poll = {"LambdaInvokePolicy": {"FunctionName": {"Ref": "PollTaskFunction"}}}
        policies[:] = [policy for policy in policies if policy != poll]

    found = _problems_after(drop_poll)
    assert any("VideoTaskStateMachine -> PollTaskFunction" in line for line in found), found


def test_a_route_added_to_the_template_is_checked_too() -> None:
    def add_route(template: dict[str, Any]) -> None:
        events = _resources(template)["ApiFunction"]["Properties"]["Events"]
        events["Extra"] = {
            "Type": "HttpApi",
            "Properties": {"ApiId": {"Ref": "HttpApi"}, "Path": "/api/video/extra", "Method": "DELETE"},
        }

    template = copy.deepcopy(load_template(TEMPLATE_PATH))
    add_route(template)
    names = {edge.name for edge in edges(transform(template))}
    assert "HTTP DELETE /api/video/extra -> ApiFunction" in names
