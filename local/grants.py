"""`python -m local.grants <call log>…`: every AWS call the functions made, checked against their grants.

Reads the call logs the local stack writes (``LOCAL_AWS_CALL_LOG``; the e2e tests and `make reliability`
keep one per stack) and prints, per principal:

- **not granted**: calls its role does not allow. In AWS each is an ``AccessDenied`` error; there must be
  none (the exit status is 1 when there are).
- **excess**: grants no recorded call used, statement by statement: the actions never called on any of the
  statement's resources, and the resources never touched by any of its actions. A grant listed here is either
  wider than the code needs (narrow it) or used by a path the suites did not run (a rare error path, a
  function never invoked): read it before removing it. AWS managed policies (logs, X-Ray, stream reads) are
  left out: they cannot be narrowed.
- with ``--used``: the granted calls it made, S3 objects by bucket and first folder — what a narrowed policy
  must still allow.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from local.iam_policy import Policy, Statement


@dataclass(frozen=True)
class Call:
    principal: str
    operation: str
    action: str
    resource: str
    allowed: bool
    presigned: bool


@dataclass(frozen=True)
class Excess:
    source: str  # the policy the statement came from
    actions: tuple[str, ...]  # granted, never called on any of the statement's resources
    resources: tuple[str, ...]  # granted, never touched by any of the statement's actions
    unused: bool  # nothing at all used the statement


@dataclass
class Report:
    policies: dict[str, list[Statement]] = field(default_factory=dict)
    calls: dict[str, set[Call]] = field(default_factory=lambda: defaultdict(set))

    def ungranted(self) -> dict[str, list[Call]]:
        found = {p: sorted((c for c in calls if not c.allowed), key=_order) for p, calls in self.calls.items()}
        return {principal: calls for principal, calls in found.items() if calls}

    def excess(self) -> dict[str, list[Excess]]:
        return {
            principal: _excess(statements, self.calls.get(principal, set()))
            for principal, statements in self.policies.items()
        }


def _order(call: Call) -> tuple[str, str]:
    return call.action, call.resource


def _excess(statements: list[Statement], calls: set[Call]) -> list[Excess]:
    allowed = [call for call in calls if call.allowed]
    found = []
    for statement in statements:
        if statement.managed or statement.effect != "Allow" or statement.not_action or statement.not_resource:
            continue
        used_actions, used_resources = set(), set()
        for action in statement.actions:
            for resource in statement.resources:
                probe = Policy("probe", [Statement("Allow", (action,), (resource,), statement.source)])
                if any(probe.allows(call.action, call.resource) for call in allowed):
                    used_actions.add(action)
                    used_resources.add(resource)
        actions = tuple(a for a in statement.actions if a not in used_actions)
        resources = tuple(r for r in statement.resources if r not in used_resources)
        if actions or resources:
            found.append(Excess(statement.source, actions, resources, unused=not used_actions))
    return found


def read(paths: Iterable[Path]) -> Report:
    report = Report()
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            record: dict[str, Any] = json.loads(line)
            principal = record["principal"]
            if "statements" in record:
                report.policies.setdefault(principal, [Statement.from_record(s) for s in record["statements"]])
            else:
                report.calls[principal].add(
                    Call(
                        principal,
                        record["operation"],
                        record["action"],
                        record["resource"],
                        bool(record["allowed"]),
                        bool(record.get("presigned")),
                    )
                )
    return report


def _generalised(resource: str) -> str:
    """A resource as a grant would name it: an S3 object by its bucket and first folder, a WebSocket
    connection by its route, an execution by its state machine, a secret without its random suffix."""
    if ":execution:" in resource:
        return resource.rsplit(":", 1)[0] + ":*"
    if ":secretsmanager:" in resource and ":secret:" in resource:
        return resource.rsplit("-", 1)[0] + "-*"
    if resource.startswith("arn:aws:s3:::") and "/" in resource:
        bucket, _, key = resource.removeprefix("arn:aws:s3:::").partition("/")
        folder = key.split("/", 1)[0] + "/*" if "/" in key else "*"
        return f"arn:aws:s3:::{bucket}/{folder}"
    if "/@connections/" in resource:
        return resource.rsplit("/", 1)[0] + "/*"
    return resource


def used(report: Report) -> dict[str, list[str]]:
    """Per principal, the granted calls it made, generalised: what its policy needs to say."""
    found: dict[str, set[str]] = defaultdict(set)
    for principal, calls in report.calls.items():
        for call in calls:
            if call.allowed:
                found[principal].add(f"{call.action} on {_generalised(call.resource)}")
    return {principal: sorted(lines) for principal, lines in found.items()}


def render(report: Report, *, show_used: bool = False) -> str:
    lines = []
    needed = used(report) if show_used else {}
    ungranted = report.ungranted()
    excess = report.excess()
    for principal in sorted(set(report.policies) | set(report.calls)):
        calls = report.calls.get(principal, set())
        lines.append(f"{principal}: {len(calls)} distinct calls" + ("" if calls else " (never called AWS)"))
        denied = ungranted.get(principal, [])
        lines.append(f"  not granted: {len(denied)}")
        lines += [f"  used: {line}" for line in needed.get(principal, [])]
        for call in denied:
            via = " (presigned URL)" if call.presigned else ""
            lines.append(f"    {call.action} on {call.resource}  [{call.operation}{via}]")
        for item in excess.get(principal, []):
            if item.unused:
                lines.append(f"  excess {item.source}: never used: {', '.join(item.actions)}")
                lines.append(f"    on {', '.join(item.resources)}")
                continue
            if item.actions:
                lines.append(f"  excess {item.source}: actions never called: {', '.join(item.actions)}")
            if item.resources:
                lines.append(f"  excess {item.source}: resources never touched: {', '.join(item.resources)}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local.grants", description=__doc__.split("\n\n")[0])
    parser.add_argument("logs", nargs="+", type=Path, help="call logs (JSON lines) written by local stacks")
    parser.add_argument("--used", action="store_true", help="also list the granted calls made (generalised)")
    args = parser.parse_args(argv)
    report = read(args.logs)
    print(render(report, show_used=args.used))
    denied = sum(len(calls) for calls in report.ungranted().values())
    if denied:
        print(f"\n{denied} call(s) not granted: in AWS each is an AccessDenied error", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
