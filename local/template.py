"""Reads template.yaml, the single source of truth, for the local stack.

Understands the CloudFormation short tags and resolves the few intrinsics the template uses
(Ref, GetAtt, Sub, Join, If) against local names and ARNs.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from local.event_filter import parse_filters

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE_PATH = ROOT / "template.yaml"
REGION = "us-east-1"
ACCOUNT = "123456789012"

_SHORT_TAGS = {
    "!Ref": "Ref",
    "!GetAtt": "Fn::GetAtt",
    "!Sub": "Fn::Sub",
    "!Join": "Fn::Join",
    "!If": "Fn::If",
    "!Equals": "Fn::Equals",
    "!Not": "Fn::Not",
    "!Select": "Fn::Select",
    "!Split": "Fn::Split",
    "!Condition": "Condition",
}


class _Loader(yaml.SafeLoader):
    pass


def _construct(tag: str) -> Any:
    name = _SHORT_TAGS[tag]

    def build(loader: yaml.SafeLoader, node: yaml.Node) -> dict[str, Any]:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "Fn::GetAtt":
                value = str(value).split(".", 1)
        elif isinstance(node, yaml.SequenceNode):
            value = loader.construct_sequence(node, deep=True)
        else:
            value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
        return {name: value}

    return build


for _tag in _SHORT_TAGS:
    _Loader.add_constructor(_tag, _construct(_tag))


@functools.cache
def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=_Loader)  # noqa: S506 - SafeLoader subclass with CFN tags


@dataclass
class Resolver:
    """Resolves intrinsics with local parameter values and physical names."""

    template: dict[str, Any]
    parameters: dict[str, str] = field(default_factory=dict)
    physical: dict[str, str] = field(default_factory=dict)  # logical id -> Ref value
    attributes: dict[tuple[str, str], str] = field(default_factory=dict)  # (logical id, attr) -> value

    def parameter(self, name: str) -> str:
        if name in self.parameters:
            return self.parameters[name]
        default = self.template["Parameters"][name].get("Default", "")
        return ",".join(default) if isinstance(default, list) else str(default)

    def ref(self, name: str) -> Any:
        pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": ACCOUNT,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }
        if name in pseudo:
            return pseudo[name]
        if name in self.template.get("Parameters", {}):
            value = self.parameter(name)
            if self.template["Parameters"][name].get("Type") == "CommaDelimitedList":
                return [part.strip() for part in value.split(",") if part.strip()]
            return value
        if name in self.physical:
            return self.physical[name]
        raise KeyError(f"template.yaml: no local value for Ref {name}")

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return self.attributes[(name, attribute)]
        except KeyError as exc:
            raise KeyError(f"template.yaml: no local value for GetAtt {name}.{attribute}") from exc

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if not isinstance(value, dict):
            return value
        if len(value) == 1:
            ((key, arg),) = value.items()
            if key == "Ref":
                return self.ref(arg)
            if key == "Fn::GetAtt":
                return self.get_att(*arg)
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::Join":
                return str(arg[0]).join(str(self.resolve(part)) for part in self.resolve(arg[1]))
            if key == "Fn::If":
                condition = self.condition(arg[0])
                return self.resolve(arg[1] if condition else arg[2])
        return {key: self.resolve(item) for key, item in value.items()}

    def condition(self, name: str) -> bool:
        return bool(self._evaluate(self.template.get("Conditions", {})[name]))

    def _evaluate(self, expression: Any) -> Any:
        if isinstance(expression, dict) and len(expression) == 1:
            ((key, arg),) = expression.items()
            if key == "Fn::Equals":
                return str(self.resolve(arg[0])) == str(self.resolve(arg[1]))
            if key == "Fn::Not":
                return not self._evaluate(arg[0])
            if key == "Condition":
                return self.condition(arg)
        return self.resolve(expression)

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], arg[1])

        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(self.resolve(variables[name]))
            if "." in name:
                logical, attribute = name.split(".", 1)
                return self.get_att(logical, attribute)
            return str(self.ref(name))

        return re.sub(r"\$\{([^}!]+)\}", replace, text)


@dataclass(frozen=True)
class HttpRoute:
    method: str  # GET, POST, ... or ANY
    path: str  # /api/video/tasks/{videoId}
    function: str  # logical id
    authorized: bool


@dataclass(frozen=True)
class WebSocketRoute:
    route_key: str
    function: str
    authorizer: str | None = None  # logical id of the REQUEST authorizer's function ($connect)
    identity_sources: tuple[str, ...] = ()  # e.g. route.request.querystring.token
    two_way: bool = False  # has a route response: the integration's reply goes back to the client


@dataclass(frozen=True)
class WebSocketApi:
    logical_id: str
    route_selection_expression: str  # $request.body.action
    routes: dict[str, WebSocketRoute]  # by route key
    stage: Any  # the stage's StageName, unresolved


@dataclass(frozen=True)
class StreamSource:
    """A DynamoDB stream event of a function: what Lambda's event source mapping would poll and how."""

    function: str
    table: str  # logical id of the table whose stream it reads
    starting_position: str
    batch_size: int
    maximum_retry_attempts: int
    bisect_on_error: bool
    reports_item_failures: bool
    # FilterCriteria: records matching none of these never reach the function (local.event_filter).
    filters: tuple[dict[str, Any], ...] = ()


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    """Every HttpApi event's route; ``authorized`` when an authorizer runs before it: the route's own, else
    the API's default (the template has one HTTP API)."""
    apis = resources(template, "AWS::Serverless::HttpApi")
    default = next(((api["Properties"].get("Auth") or {}).get("DefaultAuthorizer") for api in apis.values()), None)
    routes = []
    for name, body in functions(template).items():
        for event in (body["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            authorizer = (props.get("Auth") or {}).get("Authorizer", default)
            routes.append(HttpRoute(props["Method"].upper(), props["Path"], name, authorizer not in (None, "NONE")))
    return routes


def function_environment(template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """Globals' variables plus every function's own: the union every handler in this process sees."""
    merged: dict[str, Any] = dict(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    for body in functions(template).values():
        merged.update((body["Properties"].get("Environment") or {}).get("Variables", {}))
    return {key: str(resolver.resolve(value)) for key, value in merged.items()}


def _function_of(value: Any, template: dict[str, Any]) -> str:
    """The function an integration or authorizer URI points at (``${Fn.Arn}`` in a Sub, or a GetAtt)."""
    names = functions(template)
    if isinstance(value, dict) and "Fn::GetAtt" in value and value["Fn::GetAtt"][0] in names:
        return str(value["Fn::GetAtt"][0])
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    text = text[0] if isinstance(text, list) else text
    for logical_id in re.findall(r"\$\{([^}.!]+)\.Arn\}", str(text)):
        if logical_id in names:
            return str(logical_id)
    raise KeyError(f"template.yaml: no function in {value!r}")


def _referenced(value: Any) -> str:
    """The logical id in ``!Ref X`` or ``!Sub integrations/${X}``."""
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    text = value.get("Fn::Sub") if isinstance(value, dict) else value
    found = re.search(r"\$\{([^}.!]+)\}", str(text))
    if not found:
        raise KeyError(f"template.yaml: no reference in {value!r}")
    return found.group(1)


def websocket_api(template: dict[str, Any]) -> WebSocketApi | None:
    """The template's WebSocket API (routes, integrations, authorizer, route responses), or None."""
    apis = {
        name: body
        for name, body in resources(template, "AWS::ApiGatewayV2::Api").items()
        if body["Properties"].get("ProtocolType") == "WEBSOCKET"
    }
    if not apis:
        return None
    ((api_id, api),) = apis.items()

    def belongs(body: dict[str, Any]) -> bool:
        return _referenced(body["Properties"]["ApiId"]) == api_id

    integrations = {
        name: _function_of(body["Properties"]["IntegrationUri"], template)
        for name, body in resources(template, "AWS::ApiGatewayV2::Integration").items()
        if belongs(body)
    }
    authorizers = {
        name: body["Properties"] for name, body in resources(template, "AWS::ApiGatewayV2::Authorizer").items()
    }
    answered = {
        _referenced(body["Properties"]["RouteId"])
        for body in resources(template, "AWS::ApiGatewayV2::RouteResponse").values()
        if belongs(body)
    }
    routes: dict[str, WebSocketRoute] = {}
    for name, body in resources(template, "AWS::ApiGatewayV2::Route").items():
        props = body["Properties"]
        if not belongs(body):
            continue
        authorizer = None
        sources: tuple[str, ...] = ()
        if props.get("AuthorizationType") == "CUSTOM":
            spec = authorizers[_referenced(props["AuthorizerId"])]
            authorizer = _function_of(spec["AuthorizerUri"], template)
            sources = tuple(spec.get("IdentitySource") or ())
        routes[props["RouteKey"]] = WebSocketRoute(
            props["RouteKey"],
            integrations[_referenced(props["Target"])],
            authorizer=authorizer,
            identity_sources=sources,
            two_way=name in answered,
        )
    stages = [
        body["Properties"]["StageName"]
        for body in resources(template, "AWS::ApiGatewayV2::Stage").values()
        if belongs(body)
    ]
    return WebSocketApi(api_id, api["Properties"]["RouteSelectionExpression"], routes, stages[0] if stages else None)


def stream_sources(template: dict[str, Any]) -> list[StreamSource]:
    """Every DynamoDB stream event source of the template's functions."""
    found = []
    for name, body in functions(template).items():
        for event in (body["Properties"].get("Events") or {}).values():
            if event["Type"] != "DynamoDB":
                continue
            props = event["Properties"]
            stream = props["Stream"]
            table = stream["Fn::GetAtt"][0] if isinstance(stream, dict) and "Fn::GetAtt" in stream else None
            if table is None:
                raise KeyError(f"template.yaml: {name}'s stream must be a GetAtt <Table>.StreamArn")
            found.append(
                StreamSource(
                    function=name,
                    table=str(table),
                    starting_position=str(props.get("StartingPosition", "LATEST")),
                    batch_size=int(props.get("BatchSize", 100)),
                    maximum_retry_attempts=int(props.get("MaximumRetryAttempts", -1)),
                    bisect_on_error=bool(props.get("BisectBatchOnFunctionError", False)),
                    reports_item_failures="ReportBatchItemFailures" in (props.get("FunctionResponseTypes") or ()),
                    filters=parse_filters(props.get("FilterCriteria")),
                )
            )
    return found
