"""The outside judges (cfn-lint, checkov) run over template.yaml and over the SAM-transformed template.

Every finding is either fixed or listed, check id by check id with a one-line reason, in
``judges_baseline.yaml``. A finding whose check id is not listed is new and fails the build; a listed check id
that no longer fires on either template is stale and fails it too, so the list never outlives its reasons.

The judges live in their own venv (``.venv-judges``, made by ``make judges-install`` from
requirements-judges.txt) because checkov pins an older boto3 than the project's.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from local.template import ROOT

JUDGES_BIN = ROOT / ".venv-judges" / "bin"
ASL_VALIDATOR = ROOT / ".judges-npm" / "node_modules" / ".bin" / "asl-validator"
BASELINE_PATH = Path(__file__).with_name("judges_baseline.yaml")
JUDGES = ("cfn-lint", "checkov")
# checkov asks prismacloud.io for check guidelines unless told not to; the judges run offline.
_CHECKOV_ENV = {"BC_SKIP_MAPPING": "TRUE", "CHECKOV_RUN_SCA_PACKAGE_SCAN_V2": "false", "LOG_LEVEL": "ERROR"}


@dataclass(frozen=True, order=True)
class Finding:
    judge: str
    check_id: str
    target: str  # which template: template.yaml or the transformed one
    resource: str
    message: str

    def line(self) -> str:
        return f"{self.judge} {self.check_id} on {self.resource} ({self.target}): {self.message}"


@dataclass(frozen=True)
class Verdict:
    new: list[Finding]  # findings whose check id the baseline does not list
    stale: list[str]  # "judge check_id" listed in the baseline that fired nowhere


def installed() -> bool:
    return all((JUDGES_BIN / judge).exists() for judge in JUDGES)


def run_cfn_lint(path: Path, target: str) -> list[Finding]:
    """cfn-lint with its informational rules on; it runs the SAM transform itself on a SAM template."""
    reply = subprocess.run(
        [str(JUDGES_BIN / "cfn-lint"), "--format", "json", "--include-checks", "I", "--", str(path)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    try:
        raw = json.loads(reply.stdout or "[]")
    except json.JSONDecodeError as exc:
        raise RuntimeError(_unreadable("cfn-lint", path, reply)) from exc
    findings = []
    for item in raw:
        where = item.get("Location", {}).get("Path") or []
        resource = str(where[1]) if len(where) > 1 and where[0] == "Resources" else "/".join(map(str, where[:2]))
        findings.append(Finding("cfn-lint", item["Rule"]["Id"], target, resource, item["Message"]))
    return findings


def run_checkov(path: Path, target: str) -> list[Finding]:
    """checkov's CloudFormation checks (its cloudformation framework reads SAM templates too: its serverless
    framework is for the Serverless Framework's serverless.yml and finds nothing to run on template.yaml)."""
    reply = subprocess.run(
        [
            str(JUDGES_BIN / "checkov"),
            "--file",
            str(path),
            "--framework",
            "cloudformation",
            "--output",
            "json",
            "--quiet",
            "--compact",
            "--skip-download",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
        env={**os.environ, **_CHECKOV_ENV},
    )
    try:
        raw: Any = json.loads(reply.stdout)
    except json.JSONDecodeError as exc:
        raise RuntimeError(_unreadable("checkov", path, reply)) from exc
    reports = raw if isinstance(raw, list) else [raw]
    if not any("results" in report or "summary" in report for report in reports):
        raise RuntimeError(_unreadable("checkov (no checks ran)", path, reply))
    return [
        Finding("checkov", check["check_id"], target, check["resource"], check["check_name"])
        for report in reports
        for check in report.get("results", {}).get("failed_checks", [])
    ]


def _unreadable(name: str, path: Path, reply: subprocess.CompletedProcess[str]) -> str:
    answer = f"{reply.stdout[:500]} {reply.stderr[-2000:]}"
    return f"{name} gave no readable answer for {path} (exit {reply.returncode}): {answer}"


def run_asl_validator(path: Path) -> tuple[bool, str]:
    """npm asl-validator over one state machine definition: (valid, what it said)."""
    reply = subprocess.run(
        [str(ASL_VALIDATOR), "--json-path", str(path)], capture_output=True, text=True, check=False, cwd=ROOT
    )
    return reply.returncode == 0, (reply.stdout + reply.stderr).strip()


def load_baseline(path: Path = BASELINE_PATH) -> dict[str, dict[str, str]]:
    """judge -> check id -> the reviewed reason it is accepted."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    unknown = set(raw) - set(JUDGES)
    if unknown:
        raise ValueError(f"{path.name}: unknown judges {sorted(unknown)}")
    baseline = {name: {str(check): str(reason) for check, reason in (raw.get(name) or {}).items()} for name in JUDGES}
    for judge, checks in baseline.items():
        for check, reason in checks.items():
            if not reason.strip():
                raise ValueError(f"{path.name}: {judge} {check} has no reason")
    return baseline


def judge(findings: Iterable[Finding], baseline: dict[str, dict[str, str]], judges: Iterable[str]) -> Verdict:
    """What the build must fail on: findings not in the baseline, and baseline entries that fired nowhere."""
    findings = list(findings)
    judges = list(judges)
    new = sorted(finding for finding in findings if finding.check_id not in baseline.get(finding.judge, {}))
    fired = {(finding.judge, finding.check_id) for finding in findings}
    stale = sorted(
        f"{name} {check}" for name in judges for check in baseline.get(name, {}) if (name, check) not in fired
    )
    return Verdict(new, stale)
