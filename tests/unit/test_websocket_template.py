"""template.yaml deploys the WebSocket API the local stack serves, with least privilege.

The local gateway and pump read these same resources (local.template.websocket_api/stream_sources), so
what is asserted here is what both the cloud and `make dev` run.
"""

from __future__ import annotations

import json
from typing import Any

from local.template import functions, load_template, resources, stream_sources, websocket_api

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
API = websocket_api(TEMPLATE)


def statements(function: str) -> list[dict[str, Any]]:
    found = []
    for policy in RESOURCES[function]["Properties"].get("Policies") or []:
        if isinstance(policy, dict) and "Statement" in policy:
            found += policy["Statement"]
    return found


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)


def test_the_api_routes_on_the_action_with_the_contracts_routes() -> None:
    assert API is not None
    assert API.route_selection_expression == "$request.body.action"
    assert set(API.routes) == {"$connect", "$disconnect", "subscribe", "unsubscribe", "ping", "$default"}
    assert {route.function for route in API.routes.values()} == {"WebSocketFunction"}


def test_connect_is_authorised_by_the_shared_jwt_authorizer_on_the_token_query_parameter() -> None:
    assert API is not None
    connect = API.routes["$connect"]
    assert connect.authorizer == "AuthorizerFunction"  # the HTTP API's authorizer: one JWT verification
    assert connect.identity_sources == ("route.request.querystring.token",)
    assert all(route.authorizer is None for key, route in API.routes.items() if key != "$connect")


def test_message_routes_answer_through_route_responses() -> None:
    assert API is not None
    assert {key for key, route in API.routes.items() if route.two_way} == {
        "subscribe",
        "unsubscribe",
        "ping",
        "$default",
    }


def test_the_stage_is_deployed_with_every_route() -> None:
    [stage] = resources(TEMPLATE, "AWS::ApiGatewayV2::Stage").values()
    routes = set(resources(TEMPLATE, "AWS::ApiGatewayV2::Route")) | set(
        resources(TEMPLATE, "AWS::ApiGatewayV2::RouteResponse")
    )
    assert stage["Properties"]["AutoDeploy"] is True
    # Every route and route response, plus the API Gateway account's CloudWatch role (access logging).
    assert set(stage["DependsOn"]) == routes | {"ApiGatewayAccountReady"}


def test_the_connections_table_is_keyed_by_connection_with_a_by_user_index_and_ttl() -> None:
    table = RESOURCES["ConnectionsTable"]["Properties"]
    assert table["KeySchema"] == [{"AttributeName": "connectionId", "KeyType": "HASH"}]
    [index] = table["GlobalSecondaryIndexes"]
    assert index["IndexName"] == "ByUser"
    assert index["KeySchema"] == [{"AttributeName": "userId", "KeyType": "HASH"}]
    # Exactly the projection the first release deployed: an index's projection cannot change in place.
    assert index["Projection"] == {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["subscriptions", "allTasks"]}
    assert table["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}


def test_the_broadcaster_reads_the_tasks_stream_with_partial_batch_failures() -> None:
    [source] = [source for source in stream_sources(TEMPLATE) if source.function == "BroadcasterFunction"]
    assert source.table == "TasksTable"
    assert source.reports_item_failures and source.bisect_on_error
    assert 0 <= source.maximum_retry_attempts <= 10
    assert source.starting_position == "LATEST"


def test_only_the_broadcaster_may_post_and_only_to_this_apis_stage() -> None:
    posting = {
        name: [statement for statement in statements(name) if "execute-api:ManageConnections" in actions_of(statement)]
        for name in functions(TEMPLATE)
    }
    assert {name for name, found in posting.items() if found} == {"BroadcasterFunction"}
    [statement] = posting["BroadcasterFunction"]
    resource = json.dumps(statement["Resource"])
    assert "${WebSocketApi}/${Stage}/POST/@connections/*" in resource


def test_no_function_may_scan_the_connections_table() -> None:
    for name in functions(TEMPLATE):
        for statement in statements(name):
            if "ConnectionsTable" in json.dumps(statement["Resource"]):
                assert "dynamodb:Scan" not in actions_of(statement), name
        for policy in RESOURCES[name]["Properties"].get("Policies") or []:
            if isinstance(policy, dict) and "DynamoDBCrudPolicy" in policy:  # includes Scan
                assert "ConnectionsTable" not in json.dumps(policy), name


def test_the_broadcaster_finds_recipients_through_the_index_only() -> None:
    queries = [
        statement for statement in statements("BroadcasterFunction") if "dynamodb:Query" in actions_of(statement)
    ]
    assert [json.dumps(statement["Resource"]) for statement in queries] == [
        json.dumps({"Fn::Sub": "${ConnectionsTable.Arn}/index/ByUser"})
    ]


def test_the_posting_functions_know_the_management_endpoint_and_the_connections_table() -> None:
    variables = RESOURCES["BroadcasterFunction"]["Properties"]["Environment"]["Variables"]
    assert variables["CONNECTIONS_TABLE"] == {"Ref": "ConnectionsTable"}
    endpoint = variables["WEBSOCKET_ENDPOINT"]["Fn::Sub"]
    assert endpoint.startswith("https://${WebSocketApi}.execute-api.${AWS::Region}.") and endpoint.endswith("/${Stage}")
    ws_variables = RESOURCES["WebSocketFunction"]["Properties"]["Environment"]["Variables"]
    assert ws_variables["CONNECTIONS_TABLE"] == {"Ref": "ConnectionsTable"}


def test_the_websocket_url_is_an_output() -> None:
    url = TEMPLATE["Outputs"]["WebSocketUrl"]["Value"]["Fn::Sub"]
    assert url.startswith("wss://${WebSocketApi}.execute-api.")
