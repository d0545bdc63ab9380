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


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {name: body for name, body in template["Resources"].items() if body["Type"] == kind}


def functions(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return resources(template, "AWS::Serverless::Function")


def http_routes(template: dict[str, Any]) -> list[HttpRoute]:
    routes = []
    for name, body in functions(template).items():
        for event in (body["Properties"].get("Events") or {}).values():
            if event["Type"] != "HttpApi":
                continue
            props = event["Properties"]
            authorizer = (props.get("Auth") or {}).get("Authorizer")
            routes.append(HttpRoute(props["Method"].upper(), props["Path"], name, authorizer != "NONE"))
    return routes


def function_environment(template: dict[str, Any], resolver: Resolver) -> dict[str, str]:
    """Globals' variables plus every function's own: the union every handler in this process sees."""
    merged: dict[str, Any] = dict(template["Globals"]["Function"].get("Environment", {}).get("Variables", {}))
    for body in functions(template).values():
        merged.update((body["Properties"].get("Environment") or {}).get("Variables", {}))
    return {key: str(resolver.resolve(value)) for key, value in merged.items()}
