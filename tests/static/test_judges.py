"""cfn-lint and checkov over template.yaml and the transformed template: nothing beyond the reviewed baseline."""

from __future__ import annotations

import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from local.sam_transform import transformed_template
from local.template import ROOT, TEMPLATE_PATH
from tests.static import judges
from tests.static.judges import Finding

needs_judges = pytest.mark.skipif(
    not judges.installed(), reason="no .venv-judges: run `make judges-install` (`make test` runs it before pytest)"
)


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    transformed = tmp_path_factory.mktemp("judges") / "transformed.json"
    transformed.write_text(json.dumps(transformed_template(), indent=1), encoding="utf-8")
    return {"template.yaml": TEMPLATE_PATH, "transformed": transformed}


def _run_over(run: Callable[[Path, str], list[Finding]], targets: dict[str, Path]) -> list[Finding]:
    """One judge over both templates at once (each run is a subprocess, mostly waiting on its own CPU)."""
    with ThreadPoolExecutor(max_workers=len(targets)) as pool:
        runs = [pool.submit(run, path, target) for target, path in targets.items()]
        return [finding for future in runs for finding in future.result()]


def _assert_clean(name: str, findings: list[Finding]) -> None:
    verdict = judges.judge(findings, judges.load_baseline(), [name])
    report = []
    if verdict.new:
        report.append(f"{len(verdict.new)} new {name} finding(s): fix them, or list the check id with a reason in")
        report.append(f"tests/static/{judges.BASELINE_PATH.name}:")
        report.extend(f"  {finding.line()}" for finding in verdict.new)
    if verdict.stale:
        report.append(f"stale baseline entries (they fire nowhere any more; delete them): {', '.join(verdict.stale)}")
    assert not report, "\n".join(report)


@needs_judges
def test_cfn_lint_finds_nothing_beyond_the_baseline(targets: dict[str, Path]) -> None:
    _assert_clean("cfn-lint", _run_over(judges.run_cfn_lint, targets))


@needs_judges
def test_checkov_finds_nothing_beyond_the_baseline(targets: dict[str, Path]) -> None:
    _assert_clean("checkov", _run_over(judges.run_checkov, targets))


needs_asl_validator = pytest.mark.skipif(
    not judges.ASL_VALIDATOR.exists(), reason="no asl-validator: run `make judges-install` (needs npm)"
)
DEFINITIONS = sorted((ROOT / "statemachine").glob("*.asl.json"))


@needs_asl_validator
@pytest.mark.parametrize("definition", DEFINITIONS, ids=[path.name for path in DEFINITIONS])
def test_asl_validator_accepts_the_state_machine(definition: Path) -> None:
    valid, said = judges.run_asl_validator(definition)
    assert valid, said


@needs_asl_validator
def test_asl_validator_refuses_a_definition_with_a_dangling_next(tmp_path: Path) -> None:
    broken = tmp_path / "broken.asl.json"
    broken.write_text(json.dumps({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Gone"}}}), encoding="utf-8")
    valid, said = judges.run_asl_validator(broken)
    assert not valid and "Gone" in said


# The comparison itself, without the judges.
BASELINE = {"cfn-lint": {"I3042": "generated"}, "checkov": {"CKV_AWS_117": "no VPC"}}


def _finding(judge: str, check_id: str) -> Finding:
    return Finding(judge, check_id, "template.yaml", "AWS::Lambda::Function.ApiFunction", "message")


def test_a_finding_not_in_the_baseline_is_new() -> None:
    verdict = judges.judge(
        [_finding("checkov", "CKV_AWS_117"), _finding("checkov", "CKV_AWS_999")], BASELINE, ["checkov"]
    )
    assert [finding.check_id for finding in verdict.new] == ["CKV_AWS_999"]
    assert verdict.stale == []


def test_a_check_id_baselined_for_one_judge_is_new_for_the_other() -> None:
    verdict = judges.judge([_finding("cfn-lint", "CKV_AWS_117")], BASELINE, ["cfn-lint"])
    assert [finding.judge for finding in verdict.new] == ["cfn-lint"]


def test_a_baseline_entry_that_no_longer_fires_is_stale() -> None:
    verdict = judges.judge([], BASELINE, ["cfn-lint", "checkov"])
    assert verdict.stale == ["cfn-lint I3042", "checkov CKV_AWS_117"]


def test_the_baseline_gives_a_reason_for_every_entry() -> None:
    baseline = judges.load_baseline()
    assert baseline["checkov"], "the checked-in baseline parses to something"
    assert all(reason.strip() for checks in baseline.values() for reason in checks.values())


def test_a_baseline_entry_without_a_reason_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "baseline.yaml"
    path.write_text("checkov:\n  CKV_AWS_117: ''\n", encoding="utf-8")
    with pytest.raises(ValueError, match="CKV_AWS_117 has no reason"):
        judges.load_baseline(path)


def test_make_test_installs_the_judges_before_pytest() -> None:
    # Without it the judge tests above skip on a fresh machine instead of judging.
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    test_target = next(line for line in makefile.splitlines() if line.startswith("test:"))
    assert "judges-install" in test_target
