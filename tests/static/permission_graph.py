"""Who may invoke, publish to or write to whom, read off the SAM-transformed template.

A deployed stack fails where the local stack cannot see it when one edge of this graph is missing: API
Gateway without permission to invoke a function or an authorizer, a state machine role that cannot invoke a
step, an alarm that cannot publish, a failure destination nobody may write to. Every edge is derived from the
transformed template itself (every route in the HTTP API's OpenAPI body, every WebSocket route, every rule
target, every alarm action, every failure destination), so a new route or alarm is covered without editing
this module.

Intrinsics are rendered symbolically: ``{"Ref": "X"}`` becomes ``<X>``, ``{"Fn::GetAtt": ["X", "Arn"]}``
becomes ``<X.Arn>`` and ``${AWS::Region}`` becomes ``<AWS::Region>``. An edge holds when a permission or
policy statement, rendered the same way, matches (IAM-style ``*`` wildcards) the ARN the caller would present.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from local.sam_transform import MANAGED_POLICIES

STREAM_READ_ACTIONS = (
    "dynamodb:GetRecords",
    "dynamodb:GetShardIterator",
    "dynamodb:DescribeStream",
    "dynamodb:ListStreams",
)
ALARM_KEY_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
API_GATEWAY = "apigateway.amazonaws.com"
EVENTS = "events.amazonaws.com"
CLOUDWATCH = "cloudwatch.amazonaws.com"
_PATH_PARAMETER = re.compile(r"\{[^}]+\}")
_FUNCTION_IN_URI = re.compile(r"functions/<(\w+)\.Arn>/invocations")
_ARN_PREFIX = "arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:"


@dataclass(frozen=True)
class Edge:
    kind: str  # http-route, http-authorizer, ws-route, ws-authorizer, rule-target, state-machine, stream, ...
    name: str  # "HTTP GET /api/video/tasks -> ApiFunction"
    problem: str | None  # None when the edge holds; otherwise what is missing, naming the resources


# ------------------------------------------------------------------------------------------------ rendering
def render(value: Any) -> Any:
    """Intrinsics as symbolic text (see the module docstring); lists and plain values pass through."""
    if isinstance(value, list):
        return [render(item) for item in value]
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((key, arg),) = value.items()
    if key == "Ref":
        return f"<{arg}>"
    if key == "Fn::GetAtt":
        return f"<{arg[0]}.{arg[1]}>" if isinstance(arg, list) else f"<{arg}>"
    if key == "Fn::Sub":
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            return str(render(variables[name])) if name in variables else f"<{name}>"

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    return value


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _logical_id(reference: Any) -> str | None:
    """The logical id a Ref / GetAtt (or its rendered form) points at."""
    text = render(reference)
    match = re.fullmatch(r"<(\w+)(?:\.\w+)?>", str(text))
    return match.group(1) if match else None


def _matches(pattern: str, value: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern)


def _action_allowed(statement: dict[str, Any], action: str) -> bool:
    return any(_matches(str(pattern).lower(), action.lower()) for pattern in _listed(statement.get("Action", [])))


def allows(statements: list[dict[str, Any]], action: str, resource: str, principal: str | None = None) -> bool:
    """Whether an Allow statement grants ``action`` on ``resource`` (and, for resource policies, to the service
    ``principal``). Conditions are not evaluated here; edges that depend on one check it themselves."""
    for statement in statements:
        if statement.get("Effect") != "Allow" or not _action_allowed(statement, action):
            continue
        if principal is not None:
            services = _listed((statement.get("Principal") or {}).get("Service", []))
            if principal not in services:
                continue
        if any(_matches(str(pattern), resource) for pattern in _listed(render(statement.get("Resource", [])))):
            return True
    return False


# ------------------------------------------------------------------------------------------------ template
class Graph:
    def __init__(self, transformed: dict[str, Any]) -> None:
        self.resources: dict[str, dict[str, Any]] = transformed["Resources"]

    def of_type(self, kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
        for logical_id, body in self.resources.items():
            if body["Type"] == kind:
                yield logical_id, body.get("Properties") or {}

    def invoke_permissions(self, function: str, principal: str) -> list[str]:
        """SourceArn patterns of the Lambda permissions letting ``principal`` invoke ``function``."""
        patterns = []
        for _, props in self.of_type("AWS::Lambda::Permission"):
            if _logical_id(props.get("FunctionName")) == function and props.get("Principal") == principal:
                patterns.append(str(render(props.get("SourceArn", "*"))))
        return patterns

    def may_invoke(self, function: str, principal: str, source_arn: str) -> bool:
        return any(_matches(pattern, source_arn) for pattern in self.invoke_permissions(function, principal))

    def role_statements(self, role: str) -> list[dict[str, Any]]:
        props = self.resources.get(role, {}).get("Properties") or {}
        statements: list[dict[str, Any]] = []
        for policy in props.get("Policies", []):
            statements.extend(_listed(policy["PolicyDocument"].get("Statement", [])))
        for arn in props.get("ManagedPolicyArns", []):
            statements.extend(MANAGED_POLICIES.get(str(render(arn)).replace("<AWS::Partition>", "aws"), []))
        return statements

    def function_role(self, function: str) -> str | None:
        props = self.resources.get(function, {}).get("Properties") or {}
        return _logical_id(props.get("Role"))

    def resource_policy_statements(self, policy_type: str, list_key: str, target: str) -> list[dict[str, Any]]:
        """Statements of every ``policy_type`` (queue or topic policy) attached to ``target``."""
        statements: list[dict[str, Any]] = []
        for _, props in self.of_type(policy_type):
            if target in {_logical_id(item) for item in props.get(list_key, [])}:
                statements.extend(_listed(props["PolicyDocument"].get("Statement", [])))
        return statements


# ------------------------------------------------------------------------------------------------ edges
def http_api_edges(graph: Graph) -> Iterator[Edge]:
    """Every route of every HTTP API (its OpenAPI body) may invoke its integration's function, and every Lambda
    authorizer may be invoked by that API."""
    for api, props in graph.of_type("AWS::ApiGatewayV2::Api"):
        body = props.get("Body")
        if not body:
            continue
        for path, methods in body.get("paths", {}).items():
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration") if isinstance(operation, dict) else None
                if not integration:
                    continue
                match = _FUNCTION_IN_URI.search(str(render(integration.get("uri"))))
                verb = "ANY" if method == "x-amazon-apigateway-any-method" else method.upper()
                name = f"HTTP {verb} {path} -> {match.group(1) if match else '?'}"
                if match is None:
                    yield Edge("http-route", name, f"integration of {verb} {path} on {api} names no function")
                    continue
                function = match.group(1)
                # What API Gateway presents: the $default stage, the request's method, a concrete path.
                sample_path = _PATH_PARAMETER.sub("x", path).replace("x+", "x/y")
                source = f"{_ARN_PREFIX}<{api}>/$default/{'PUT' if verb == 'ANY' else verb}{sample_path}"
                problem = None
                if not graph.may_invoke(function, API_GATEWAY, source):
                    problem = f"no AWS::Lambda::Permission lets {api} ({API_GATEWAY}) invoke {function} for {source}"
                yield Edge("http-route", name, problem)
        for scheme, spec in body.get("components", {}).get("securitySchemes", {}).items():
            authorizer = spec.get("x-amazon-apigateway-authorizer") or {}
            match = _FUNCTION_IN_URI.search(str(render(authorizer.get("authorizerUri", ""))))
            if match is None:
                continue  # a JWT authorizer: API Gateway validates tokens itself, no function to invoke
            function = match.group(1)
            source = f"{_ARN_PREFIX}<{api}>/authorizers/abc123"
            problem = None
            if not graph.may_invoke(function, API_GATEWAY, source):
                problem = (
                    f"no AWS::Lambda::Permission lets {api} invoke its authorizer {scheme} ({function}): every"
                    " authorized request would answer 500 (an HttpApi Lambda authorizer needs"
                    " EnableFunctionDefaultPermissions: true)"
                )
            yield Edge("http-authorizer", f"HTTP authorizer {scheme} -> {function}", problem)


def websocket_edges(graph: Graph) -> Iterator[Edge]:
    """Every WebSocket route may invoke its integration's function, and its REQUEST authorizer its function."""
    websocket_apis = {
        api for api, props in graph.of_type("AWS::ApiGatewayV2::Api") if props.get("ProtocolType") == "WEBSOCKET"
    }
    integrations = dict(graph.of_type("AWS::ApiGatewayV2::Integration"))
    authorizers = dict(graph.of_type("AWS::ApiGatewayV2::Authorizer"))
    for route, props in graph.of_type("AWS::ApiGatewayV2::Route"):
        api = _logical_id(props.get("ApiId"))
        if api not in websocket_apis:
            continue
        key = props.get("RouteKey")
        target = re.fullmatch(r"integrations/<(\w+)>", str(render(props.get("Target", ""))))
        integration = integrations.get(target.group(1)) if target else None
        match = _FUNCTION_IN_URI.search(str(render((integration or {}).get("IntegrationUri", ""))))
        if match is None:
            yield Edge("ws-route", f"WebSocket {key} -> ?", f"route {route} has no Lambda integration")
            continue
        function = match.group(1)
        source = f"{_ARN_PREFIX}<{api}>/dev/{key}"
        problem = None
        if not graph.may_invoke(function, API_GATEWAY, source):
            problem = f"no AWS::Lambda::Permission lets {api} invoke {function} for route {key} ({source})"
        yield Edge("ws-route", f"WebSocket {key} -> {function}", problem)
        authorizer_id = _logical_id(props.get("AuthorizerId")) if props.get("AuthorizerId") else None
        if authorizer_id is None:
            continue
        authorizer_match = _FUNCTION_IN_URI.search(str(render(authorizers[authorizer_id].get("AuthorizerUri", ""))))
        if authorizer_match is None:
            continue
        authorizer_function = authorizer_match.group(1)
        source = f"{_ARN_PREFIX}<{api}>/authorizers/<{authorizer_id}>"
        problem = None
        if not graph.may_invoke(authorizer_function, API_GATEWAY, source):
            problem = (
                f"no AWS::Lambda::Permission lets {api} invoke authorizer {authorizer_id} ({authorizer_function}):"
                f" the {key} handshake would fail"
            )
        yield Edge("ws-authorizer", f"WebSocket {key} authorizer {authorizer_id} -> {authorizer_function}", problem)


def rule_edges(graph: Graph) -> Iterator[Edge]:
    """Every EventBridge rule may invoke its Lambda targets; every target's dead-letter queue takes its events."""
    for rule, props in graph.of_type("AWS::Events::Rule"):
        for target in props.get("Targets", []):
            function = _logical_id(target.get("Arn"))
            if graph.resources.get(function or "", {}).get("Type") != "AWS::Lambda::Function":
                continue
            assert function is not None
            source = f"<{rule}.Arn>"
            problem = None
            if not graph.may_invoke(function, EVENTS, source):
                problem = f"no AWS::Lambda::Permission lets {EVENTS} invoke {function} for rule {rule}"
            yield Edge("rule-target", f"EventBridge {rule} -> {function}", problem)
            dead_letters = (target.get("DeadLetterConfig") or {}).get("Arn")
            if dead_letters is None:
                yield Edge("rule-dlq", f"EventBridge {rule} -> dead letters", f"rule {rule}'s target has no DLQ")
                continue
            queue = _logical_id(dead_letters)
            yield Edge("rule-dlq", f"EventBridge {rule} -> {queue}", _queue_takes_rule_events(graph, queue, rule))


def _queue_takes_rule_events(graph: Graph, queue: str | None, rule: str) -> str | None:
    statements = graph.resource_policy_statements("AWS::SQS::QueuePolicy", "Queues", queue or "")
    granting = [
        statement
        for statement in statements
        if allows([statement], "sqs:SendMessage", f"<{queue}.Arn>", principal=EVENTS)
    ]
    if not granting:
        return f"no AWS::SQS::QueuePolicy on {queue} lets {EVENTS} send rule {rule}'s dead letters"
    for statement in granting:
        conditions = statement.get("Condition") or {}
        sources = [render(values.get("aws:SourceArn")) for values in conditions.values() if isinstance(values, dict)]
        if f"<{rule}.Arn>" in sources:
            return None
    return f"the queue policy on {queue} lets {EVENTS} send, but not with aws:SourceArn = rule {rule}"


def state_machine_edges(graph: Graph) -> Iterator[Edge]:
    """Every state machine role may invoke each function its definition is given (DefinitionSubstitutions)."""
    for machine, props in graph.of_type("AWS::StepFunctions::StateMachine"):
        role = _logical_id(props.get("RoleArn"))
        statements = graph.role_statements(role or "")
        for variable, value in (props.get("DefinitionSubstitutions") or {}).items():
            function = _logical_id(value)
            if graph.resources.get(function or "", {}).get("Type") != "AWS::Lambda::Function":
                continue
            arn = f"arn:<AWS::Partition>:lambda:<AWS::Region>:<AWS::AccountId>:function:<{function}>"
            problem = None
            if not allows(statements, "lambda:InvokeFunction", arn) and not allows(
                statements, "lambda:InvokeFunction", f"<{function}.Arn>"
            ):
                problem = f"role {role} of {machine} has no lambda:InvokeFunction on {function} (${{{variable}}})"
            yield Edge("state-machine", f"{machine} -> {function}", problem)


def _destination_edge(graph: Graph, kind: str, origin: str, function: str, destination: Any) -> Edge:
    target = _logical_id(destination)
    role = graph.function_role(function)
    target_type = graph.resources.get(target or "", {}).get("Type")
    action = {"AWS::SQS::Queue": "sqs:SendMessage", "AWS::SNS::Topic": "sns:Publish"}.get(target_type or "")
    name = f"{origin} on-failure -> {target}"
    if action is None:
        return Edge(kind, name, f"{origin}'s on-failure destination {target} is neither a queue nor a topic here")
    statements = graph.role_statements(role or "")
    if allows(statements, action, f"<{target}.Arn>") or allows(statements, action, f"<{target}>"):
        return Edge(kind, name, None)
    return Edge(kind, name, f"role {role} of {function} has no {action} on {target}: failures would be dropped")


def stream_edges(graph: Graph) -> Iterator[Edge]:
    """Every stream event source mapping's function role reads the stream and reaches its failure destination."""
    for mapping, props in graph.of_type("AWS::Lambda::EventSourceMapping"):
        function = _logical_id(props.get("FunctionName")) or "?"
        role = graph.function_role(function)
        stream = str(render(props.get("EventSourceArn")))
        statements = graph.role_statements(role or "")
        missing = [action for action in STREAM_READ_ACTIONS if not allows(statements, action, stream)]
        problem = f"role {role} of {function} lacks {', '.join(missing)} on {stream}" if missing else None
        yield Edge("stream", f"{mapping}: {stream} -> {function}", problem)
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination is not None:
            yield _destination_edge(graph, "stream-on-failure", mapping, function, destination)


def async_invoke_edges(graph: Graph) -> Iterator[Edge]:
    """Every asynchronous invoke configuration's on-failure destination is writable by the function's role."""
    for config, props in graph.of_type("AWS::Lambda::EventInvokeConfig"):
        function = _logical_id(props.get("FunctionName")) or "?"
        destination = ((props.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
        if destination is not None:
            yield _destination_edge(graph, "async-on-failure", config, function, destination)


def alarm_edges(graph: Graph) -> Iterator[Edge]:
    """Every alarm has actions, and CloudWatch may publish to each topic they name (topic policy and key)."""
    for alarm, props in graph.of_type("AWS::CloudWatch::Alarm"):
        actions = [
            *props.get("AlarmActions", []),
            *props.get("OKActions", []),
            *props.get("InsufficientDataActions", []),
        ]
        if not actions:
            yield Edge("alarm", f"{alarm} -> (nothing)", f"alarm {alarm} has no action: nobody would hear it")
        for action in actions:
            topic = _logical_id(action)
            yield Edge("alarm", f"{alarm} -> {topic}", _cloudwatch_may_publish(graph, topic))


def _cloudwatch_may_publish(graph: Graph, topic: str | None) -> str | None:
    body = graph.resources.get(topic or "")
    if body is None or body["Type"] != "AWS::SNS::Topic":
        return f"alarm action {topic} is not an SNS topic of this stack"
    topic_statements = graph.resource_policy_statements("AWS::SNS::TopicPolicy", "Topics", topic or "")
    if topic_statements and not allows(topic_statements, "sns:Publish", f"<{topic}>", principal=CLOUDWATCH):
        return f"the topic policy of {topic} does not let {CLOUDWATCH} publish"
    key_reference = (body.get("Properties") or {}).get("KmsMasterKeyId")
    if key_reference is None:
        return None
    key = _logical_id(key_reference)
    key_body = graph.resources.get(key or "")
    if key_body is None or key_body["Type"] != "AWS::KMS::Key":
        return (
            f"{topic} is encrypted with {render(key_reference)}, not a key of this stack: CloudWatch cannot use"
            " the AWS-managed alias/aws/sns key, so alarms would never arrive"
        )
    key_statements = _listed((key_body["Properties"].get("KeyPolicy") or {}).get("Statement", []))
    missing = [action for action in ALARM_KEY_ACTIONS if not allows(key_statements, action, "*", principal=CLOUDWATCH)]
    if missing:
        return f"the key policy of {key} (encrypting {topic}) does not let {CLOUDWATCH} {', '.join(missing)}"
    return None


EDGE_FINDERS = (
    http_api_edges,
    websocket_edges,
    rule_edges,
    state_machine_edges,
    stream_edges,
    async_invoke_edges,
    alarm_edges,
)


def edges(transformed: dict[str, Any]) -> list[Edge]:
    graph = Graph(transformed)
    return [edge for finder in EDGE_FINDERS for edge in finder(graph)]


def problems(transformed: dict[str, Any]) -> list[str]:
    """Every missing edge, one readable line each."""
    return [f"{edge.name}: {edge.problem}" for edge in edges(transformed) if edge.problem]
