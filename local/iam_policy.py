"""What each function's role grants, as the SAM transform writes it, and an evaluator for it.

The roles come from the transformed template (``local.sam_transform``): SAM policy templates expanded,
``Policies`` statements as written, ``ManagedPolicyArns`` attached. Their intrinsics are resolved with the
local stack's names and ARNs (``local.template.Resolver``); a resource the local stack does not create (an
SQS queue, say) resolves to an ``unresolved:<LogicalId>`` placeholder that matches no call, so such a grant
shows up as an excess grant rather than failing the stack.

The evaluator is IAM's identity-policy logic for one principal: an explicit Deny wins, then any Allow, else
the implicit deny. ``Action``/``NotAction`` and ``Resource``/``NotResource`` with IAM's wildcards (``*``,
``?``; actions case-insensitive) are evaluated. ``Condition`` blocks are not: a statement with one counts as
matching and is flagged, so the report can name it (the template has none today). Resource-based policies,
permission boundaries and SCPs play no part: none exist in the template.
"""

from __future__ import annotations

import copy
import hashlib
import importlib.metadata
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from typing import Any

from local.sam_transform import MANAGED_POLICIES, function_roles, state_machine_roles, transform
from local.template import ROOT, TEMPLATE_PATH, Resolver, load_template


class _TolerantResolver(Resolver):
    """The stack's resolver, with a placeholder for resources the local stack does not create."""

    def ref(self, name: str) -> Any:
        try:
            return super().ref(name)
        except KeyError:
            return f"unresolved:{name}"

    def get_att(self, name: str, attribute: str) -> str:
        try:
            return super().get_att(name, attribute)
        except KeyError:
            return f"unresolved:{name}.{attribute}"


def _as_list(value: Any) -> list[str]:
    return [str(item) for item in value] if isinstance(value, list) else [str(value)]


@dataclass(frozen=True)
class Statement:
    """One resolved policy statement; ``source`` names the policy it came from."""

    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    source: str
    not_action: bool = False
    not_resource: bool = False
    has_condition: bool = False
    managed: bool = False

    @classmethod
    def from_json(cls, statement: dict[str, Any], source: str, managed: bool = False) -> Statement:
        return cls(
            effect=str(statement["Effect"]),
            actions=tuple(_as_list(statement.get("Action", statement.get("NotAction", [])))),
            resources=tuple(_as_list(statement.get("Resource", statement.get("NotResource", "*")))),
            source=source,
            not_action="NotAction" in statement,
            not_resource="NotResource" in statement,
            has_condition="Condition" in statement,
            managed=managed,
        )

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Effect": self.effect,
            "NotAction" if self.not_action else "Action": list(self.actions),
            "NotResource" if self.not_resource else "Resource": list(self.resources),
        }
        return {"statement": body, "source": self.source, "condition": self.has_condition, "managed": self.managed}

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> Statement:
        return cls.from_json(
            {**record["statement"], **({"Condition": {}} if record.get("condition") else {})},
            record["source"],
            managed=bool(record.get("managed")),
        )


def _pattern(globs: tuple[str, ...], ignore_case: bool) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(glob).replace(r"\*", ".*").replace(r"\?", ".") for glob in globs)
    return re.compile(f"(?:{alternatives})", re.IGNORECASE if ignore_case else 0)


@dataclass
class _Compiled:
    statement: Statement
    action: re.Pattern[str]
    resource: re.Pattern[str]

    def matches(self, action: str, resource: str) -> bool:
        if bool(self.action.fullmatch(action)) == self.statement.not_action:
            return False
        return bool(self.resource.fullmatch(resource)) != self.statement.not_resource


@dataclass
class Policy:
    """Every statement one principal holds, compiled once; decisions cached (the stack repeats its calls)."""

    principal: str
    statements: list[Statement]
    _compiled: list[_Compiled] = field(init=False, repr=False)
    _decisions: dict[tuple[str, str], bool] = field(init=False, repr=False, default_factory=dict)

    def __post_init__(self) -> None:
        self._compiled = [
            _Compiled(statement, _pattern(statement.actions, True), _pattern(statement.resources, False))
            for statement in self.statements
        ]

    def allows(self, action: str, resource: str) -> bool:
        key = (action, resource)
        decision = self._decisions.get(key)
        if decision is None:
            decision = self._decide(action, resource)
            self._decisions[key] = decision
        return decision

    def _decide(self, action: str, resource: str) -> bool:
        allowed = False
        for compiled in self._compiled:
            if compiled.matches(action, resource):
                if compiled.statement.effect == "Deny":
                    return False
                allowed = True
        return allowed

    def matching(self, action: str, resource: str) -> list[Statement]:
        """The Allow statements that grant ``action`` on ``resource`` (for the excess report)."""
        return [c.statement for c in self._compiled if c.statement.effect == "Allow" and c.matches(action, resource)]


CACHE_DIR = ROOT / ".aws-sam" / "local"  # git-ignored; `make clean` empties it


def cached_transformed_template() -> dict[str, Any]:
    """``local.sam_transform.transformed_template()``, kept on disk between runs: importing and running the
    translator takes seconds, and every local stack needs it at start. Keyed by what the transform reads (the
    template, the state machine definitions, our transform code, the translator's version)."""
    digest = hashlib.sha256(importlib.metadata.version("aws-sam-translator").encode())
    inputs = [TEMPLATE_PATH, ROOT / "local" / "sam_transform.py", *sorted((ROOT / "statemachine").glob("*.json"))]
    for path in inputs:
        digest.update(path.name.encode() + path.read_bytes())
    cached = CACHE_DIR / f"transformed-{digest.hexdigest()[:16]}.json"
    if cached.exists():
        loaded: dict[str, Any] = json.loads(cached.read_text(encoding="utf-8"))
        return loaded
    transformed = transform(load_template(TEMPLATE_PATH))
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=CACHE_DIR, delete=False, suffix=".tmp", encoding="utf-8") as handle:
        json.dump(transformed, handle)
    os.replace(handle.name, cached)  # atomic: stacks starting together may all write it
    return transformed


def _role_statements(role: dict[str, Any], resolver: Resolver, role_id: str) -> list[Statement]:
    props = role["Properties"]
    statements: list[Statement] = []
    for policy in props.get("Policies") or []:
        document = resolver.resolve(copy.deepcopy(policy["PolicyDocument"]))
        body = document["Statement"]
        for statement in body if isinstance(body, list) else [body]:
            statements.append(Statement.from_json(statement, f"{role_id}/{policy['PolicyName']}"))
    for arn in resolver.resolve(props.get("ManagedPolicyArns") or []):
        for statement in MANAGED_POLICIES.get(str(arn), []):
            statements.append(Statement.from_json(statement, str(arn).rsplit("/", 1)[-1], managed=True))
    return statements


def principals(transformed: dict[str, Any], resolver: Resolver) -> dict[str, list[Statement]]:
    """Every principal that calls AWS — each function (by logical id) and each state machine's role (by the
    role's logical id) — with the statements its role grants, resolved to local ARNs."""
    tolerant = _TolerantResolver(resolver.template, resolver.parameters, resolver.physical, resolver.attributes)
    found = {}
    for function, role_id in function_roles(transformed).items():
        found[function] = _role_statements(transformed["Resources"][role_id], tolerant, role_id)
    for role_id in state_machine_roles(transformed).values():
        found[role_id] = _role_statements(transformed["Resources"][role_id], tolerant, role_id)
    return found


def amend(
    policies: dict[str, list[Statement]], amendments: dict[str, list[dict[str, Any]]], resolver: Resolver
) -> dict[str, list[Statement]]:
    """``policies`` with more statements per principal, written as in the template (intrinsics resolved).
    What the tests use to take a grant away (a Deny) or to add a missing one (an Allow) without editing
    template.yaml."""
    tolerant = _TolerantResolver(resolver.template, resolver.parameters, resolver.physical, resolver.attributes)
    amended = {principal: list(statements) for principal, statements in policies.items()}
    for principal, statements in amendments.items():
        if principal not in amended:
            raise KeyError(f"no principal {principal} to amend; known: {sorted(amended)}")
        amended[principal] += [Statement.from_json(tolerant.resolve(s), "amended") for s in statements]
    return amended
