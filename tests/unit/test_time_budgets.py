"""The time budgets line up: template.yaml's function timeouts, the state machine's TimeoutSeconds and
retriers, the execution's backstop and the task's own limits (docs/ARCHITECTURE.md, "Time budgets")."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from local.template import functions, load_template
from videotasks.domain.lifecycle import ARCHIVE_GRACE_SECONDS
from videotasks.services.workflow import IMAGE_STORE_RESERVE_SECONDS
from videotasks.settings import MAX_TASK_TIMEOUT_SECONDS, Settings

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = load_template()
ASL = json.loads((ROOT / "statemachine" / "video_task.asl.json").read_text(encoding="utf-8"))
LAMBDA_TIMEOUT_ERRORS = {"Lambda.Unknown", "Sandbox.Timedout", "States.Timeout"}
STEPS = ("Submit", "Poll", "Archive")
LAMBDA_STATES = ("Submit", "Poll", "Archive", "MarkFailed")
SHORTEST_IMAGE_BUDGET_SECONDS = 120  # real image generations often take 30-120 s


def function_timeout(state: str) -> int:
    """The Lambda timeout of the function a Task state invokes (``${XFunctionArn}`` → ``XFunction``)."""
    placeholder = ASL["States"][state]["Parameters"]["FunctionName"]
    logical_id = placeholder.removeprefix("${").removesuffix("Arn}")
    properties = functions(TEMPLATE)[logical_id]["Properties"]
    return int(properties.get("Timeout", TEMPLATE["Globals"]["Function"].get("Timeout", 3)))


def timeout_retrier(state: str) -> dict[str, Any]:
    (retrier,) = [r for r in ASL["States"][state]["Retry"] if LAMBDA_TIMEOUT_ERRORS & set(r["ErrorEquals"])]
    return retrier


@pytest.mark.parametrize("state", LAMBDA_STATES)
def test_a_task_state_gives_its_function_the_whole_lambda_timeout(state: str) -> None:
    """A hung invocation surfaces as States.Timeout, but never before Lambda's own timeout would."""
    assert function_timeout(state) < ASL["States"][state]["TimeoutSeconds"]


@pytest.mark.parametrize("state", ["Poll", "Archive", "MarkFailed"])
def test_a_hung_invocation_is_noticed_soon_after_its_lambda_timeout(state: str) -> None:
    assert ASL["States"][state]["TimeoutSeconds"] <= function_timeout(state) + 30


@pytest.mark.parametrize("state", STEPS)
def test_every_step_retries_a_lambda_timeout_a_bounded_number_of_times(state: str) -> None:
    retrier = timeout_retrier(state)

    assert set(retrier["ErrorEquals"]) == LAMBDA_TIMEOUT_ERRORS
    assert 1 <= retrier["MaxAttempts"] <= 3
    assert retrier["BackoffRate"] >= 1


def test_a_timed_out_submit_is_retried_once_only_since_it_may_have_been_billed() -> None:
    assert timeout_retrier("Submit")["MaxAttempts"] == 1


def test_the_execution_backstop_outlasts_the_longest_task_allowed() -> None:
    """Past the task timeout come at most the last poll, the archive's grace and MarkFailed; the backstop
    (an execution TIMED_OUT, which the safety net turns into FAILED TIMEOUT) must not cut them short."""
    tail = ARCHIVE_GRACE_SECONDS + ASL["States"]["Archive"]["TimeoutSeconds"] + 10 * 60
    assert ASL["TimeoutSeconds"] >= MAX_TASK_TIMEOUT_SECONDS + tail


def test_the_template_accepts_no_task_timeout_the_settings_refuse() -> None:
    parameter = TEMPLATE["Parameters"]["TaskTimeoutSeconds"]
    assert int(parameter.get("MaxValue", MAX_TASK_TIMEOUT_SECONDS)) <= MAX_TASK_TIMEOUT_SECONDS


def test_the_safety_margin_and_the_image_reserve_fit_in_every_steps_timeout() -> None:
    margin = Settings.model_fields["step_safety_margin_seconds"].default
    assert min(function_timeout(state) for state in STEPS) > 2 * margin
    assert function_timeout("Submit") > margin + IMAGE_STORE_RESERVE_SECONDS


def test_submit_has_time_for_an_image_generation() -> None:
    margin = Settings.model_fields["step_safety_margin_seconds"].default
    generation_budget = function_timeout("Submit") - margin - IMAGE_STORE_RESERVE_SECONDS
    assert generation_budget >= SHORTEST_IMAGE_BUDGET_SECONDS
    assert ASL["States"]["Submit"]["TimeoutSeconds"] <= function_timeout("Submit") + 30
