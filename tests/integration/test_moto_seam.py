"""local/moto_seam.py against the pinned moto: Step Functions runs our handlers in this process, and a
handler's exception reaches the ASL as Lambda reports it, so Retry matches its class name and Catch
routes the rest. The seam replaces a private moto method; if an upgrade moves it, these fail."""

from __future__ import annotations

import json
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local import aws_setup, moto_seam
from local.lambdas import FunctionRegistry
from local.template import functions, load_template
from videotasks.adapters.store.tasks import TaskRepository
from videotasks.domain.models import Task, TaskStatus

FLAKY_HANDLER = textwrap.dedent(
    """
    import json
    import pathlib

    from videotasks.domain.errors import ProviderPermanentError, ProviderTransientError


    def lambda_handler(event, context):
        counter = pathlib.Path(event["counter"])
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls <= event.get("transientFailures", 0):
            raise ProviderTransientError("relay hiccup")
        if event.get("refuse"):
            raise ProviderPermanentError("POST /v1/videos answered 400: refused")
        return {"videoId": event["videoId"], "calls": calls}
    """
)
SLEEPY_HANDLER = textwrap.dedent(
    """
    import pathlib
    import time


    def lambda_handler(event, context):
        counter = pathlib.Path(event["counter"])
        calls = int(counter.read_text()) + 1 if counter.exists() else 1
        counter.write_text(str(calls))
        if calls <= event.get("sleepyCalls", 0):
            time.sleep(event["sleepFor"])
        return {"videoId": event["videoId"], "calls": calls}
    """
)
SLEEPY_TIMEOUT_SECONDS = 1  # the Sleepy function's Lambda timeout
EXECUTION_DEADLINE_SECONDS = 60  # a hang guard, not a speed check
STATE_MACHINE = Path(__file__).resolve().parents[2] / "statemachine" / "video_task.asl.json"


class Seam:
    """The template's functions plus a scripted ``Flaky`` one, run in process by moto's Step Functions."""

    def __init__(self, aws: Any, tmp_path: Path) -> None:
        self.aws = aws
        self.sfn = aws.client("stepfunctions")
        self.tmp_path = tmp_path
        code = tmp_path / "flaky"
        code.mkdir()
        (code / "app.py").write_text(FLAKY_HANDLER, encoding="utf-8")
        sleepy_code = tmp_path / "sleepy"
        sleepy_code.mkdir()
        (sleepy_code / "app.py").write_text(SLEEPY_HANDLER, encoding="utf-8")
        template = load_template()
        extended = {
            "Globals": template["Globals"],
            "Resources": {
                **functions(template),
                "Flaky": {"Type": "AWS::Serverless::Function", "Properties": {"CodeUri": str(code)}},
                "Sleepy": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {"CodeUri": str(sleepy_code), "Timeout": SLEEPY_TIMEOUT_SECONDS},
                },
                # The same code with a generous timeout: for the Task state's own TimeoutSeconds to fire first.
                "PatientSleepy": {
                    "Type": "AWS::Serverless::Function",
                    "Properties": {"CodeUri": str(sleepy_code), "Timeout": 30},
                },
            },
        }
        self.registry = FunctionRegistry(extended)
        role = f"arn:aws:iam::{aws.resolver.ref('AWS::AccountId')}:role/{aws_setup.ROLE_NAME}"
        for name in ("Flaky", "Sleepy", "PatientSleepy"):
            aws.client("lambda").create_function(
                FunctionName=name,
                Runtime="python3.13",
                Role=role,
                Handler="app.lambda_handler",
                Code={"ZipFile": aws_setup._dummy_zip()},
            )

    def arn(self, logical_id: str) -> str:
        return self.registry.arn(logical_id)

    def run(self, name: str, definition: dict[str, Any], payload: dict[str, Any]) -> dict[str, Any]:
        machine = self.sfn.create_state_machine(
            name=name, definition=json.dumps(definition), roleArn=f"arn:aws:iam::123456789012:role/{name}"
        )["stateMachineArn"]
        execution = self.sfn.start_execution(stateMachineArn=machine, name=name, input=json.dumps(payload))
        deadline = time.monotonic() + EXECUTION_DEADLINE_SECONDS
        while True:
            described = self.sfn.describe_execution(executionArn=execution["executionArn"])
            if described["status"] != "RUNNING" or time.monotonic() > deadline:
                return dict(described)
            time.sleep(0.05)

    def calls(self, counter: Path) -> int:
        return int(counter.read_text()) if counter.exists() else 0


@pytest.fixture
def repository(executing_aws: Any) -> TaskRepository:
    """The tasks of the executing moto (overrides tests/fixtures/aws.py's, which starts a plain one)."""
    return TaskRepository(executing_aws.settings)


@pytest.fixture
def seam(executing_aws: Any, tmp_path: Path) -> Iterator[Seam]:
    seam = Seam(executing_aws, tmp_path)
    moto_seam.install(seam.registry)
    try:
        yield seam
    finally:
        moto_seam.uninstall()


def call_flaky(seam: Seam, *, retry: bool, catch_to: str | None = None) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": seam.arn("Flaky"), "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": True,
    }
    if retry:
        # One retry, one second apart: moto's engine really waits (and refuses intervals below 1 s).
        state["Retry"] = [{"ErrorEquals": ["ProviderTransientError"], "IntervalSeconds": 1, "MaxAttempts": 1}]
    if catch_to:
        state["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": catch_to}]
        del state["End"]
        state["Next"] = catch_to
    return state


def mark_failed(seam: Seam) -> dict[str, Any]:
    """The template's own Catch target, as the real state machine calls it."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": seam.arn("FailTaskFunction"), "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": True,
    }


def test_a_lambda_task_runs_our_handler_in_process(seam: Seam, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    definition = {"StartAt": "Call", "States": {"Call": call_flaky(seam, retry=False)}}

    execution = seam.run("plain", definition, {"videoId": "v1", "counter": str(counter)})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"]) == {"videoId": "v1", "calls": 1}
    assert seam.calls(counter) == 1


def test_an_exception_is_retried_by_a_retry_that_names_its_class(seam: Seam, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    definition = {"StartAt": "Call", "States": {"Call": call_flaky(seam, retry=True)}}

    execution = seam.run("retried", definition, {"videoId": "v1", "counter": str(counter), "transientFailures": 1})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["calls"] == 2


def test_an_unhandled_exception_fails_the_execution_with_its_class_as_the_error(seam: Seam, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    definition = {"StartAt": "Call", "States": {"Call": call_flaky(seam, retry=True)}}

    execution = seam.run("failed", definition, {"videoId": "v1", "counter": str(counter), "refuse": True})

    assert execution["status"] == "FAILED"
    assert execution["error"] == "ProviderPermanentError"
    assert json.loads(execution["cause"])["errorMessage"] == "PROVIDER_REJECTED: POST /v1/videos answered 400: refused"
    assert seam.calls(counter) == 1  # the Retry names another class


def test_catch_routes_the_error_to_fail_task_which_ends_the_task_failed(
    seam: Seam, tmp_path: Path, stored_task: Callable[..., Task], repository: Any
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    counter = tmp_path / "calls"
    definition = {
        "StartAt": "Call",
        "States": {"Call": call_flaky(seam, retry=True, catch_to="MarkFailed"), "MarkFailed": mark_failed(seam)},
    }

    execution = seam.run("caught", definition, {"videoId": task.videoId, "counter": str(counter), "refuse": True})

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["next"] == "DONE"
    failed = repository.get(task.videoId)
    assert failed.status is TaskStatus.FAILED
    assert failed.error.code == "PROVIDER_REJECTED"
    assert failed.error.details == {"providerMessage": "POST /v1/videos answered 400: refused"}


def test_retries_exhausted_are_caught_too(
    seam: Seam, tmp_path: Path, stored_task: Callable[..., Task], repository: Any
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    counter = tmp_path / "calls"
    definition = {
        "StartAt": "Call",
        "States": {"Call": call_flaky(seam, retry=True, catch_to="MarkFailed"), "MarkFailed": mark_failed(seam)},
    }

    payload = {"videoId": task.videoId, "counter": str(counter), "transientFailures": 5}
    execution = seam.run("exhausted", definition, payload)

    assert execution["status"] == "SUCCEEDED"
    assert seam.calls(counter) == 2
    assert repository.get(task.videoId).error.code == "PROVIDER_UNAVAILABLE"


def test_uninstall_gives_moto_its_own_invoke_back(executing_aws: Any, tmp_path: Path) -> None:
    lambda_backend = moto_seam.LambdaSimpleBackend
    original = lambda_backend.invoke
    moto_seam.install(Seam(executing_aws, tmp_path).registry)
    assert lambda_backend.invoke is not original

    moto_seam.uninstall()

    assert lambda_backend.invoke is original


# -- Lambda timeouts ---------------------------------------------------------------------------------------


def real_retry_of(state: str) -> list[dict[str, Any]]:
    """The Retry list of one of the real state machine's states, as deployed."""
    return json.loads(STATE_MACHINE.read_text(encoding="utf-8"))["States"][state]["Retry"]


def call_sleepy(
    seam: Seam,
    *,
    retry: list[dict[str, Any]] | None = None,
    timeout_seconds: int | None = None,
    function: str = "Sleepy",
) -> dict[str, Any]:
    state: dict[str, Any] = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": seam.arn(function), "Payload.$": "$"},
        "OutputPath": "$.Payload",
        "End": True,
    }
    if retry is not None:
        state["Retry"] = retry
    if timeout_seconds is not None:
        state["TimeoutSeconds"] = timeout_seconds
    return state


def test_a_function_past_its_timeout_fails_the_state_as_lambda_reports_it(seam: Seam, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    definition = {"StartAt": "Call", "States": {"Call": call_sleepy(seam)}}
    payload = {"videoId": "v1", "counter": str(counter), "sleepyCalls": 1, "sleepFor": 4}

    execution = seam.run("lambda-timeout", definition, payload)

    assert execution["status"] == "FAILED"
    assert execution["error"] == "Sandbox.Timedout"  # what python3.13 Lambdas report; the ASL retries it
    assert "Task timed out after 1.00 seconds" in json.loads(execution["cause"])["errorMessage"]


@pytest.mark.parametrize("state", ["Poll", "Archive"])
def test_the_real_retry_list_retries_a_lambda_timeout(seam: Seam, tmp_path: Path, state: str) -> None:
    counter = tmp_path / "calls"
    definition = {"StartAt": "Call", "States": {"Call": call_sleepy(seam, retry=real_retry_of(state))}}
    payload = {"videoId": "v1", "counter": str(counter), "sleepyCalls": 1, "sleepFor": 4}

    execution = seam.run(f"retried-timeout-{state.lower()}", definition, payload)

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["calls"] == 2


def test_a_task_states_timeout_seconds_fires_before_a_longer_lambda_timeout_as_states_timeout(
    seam: Seam, tmp_path: Path
) -> None:
    counter = tmp_path / "calls"
    state = call_sleepy(seam, timeout_seconds=1, function="PatientSleepy")
    definition = {"StartAt": "Call", "States": {"Call": state}}
    payload = {"videoId": "v1", "counter": str(counter), "sleepyCalls": 1, "sleepFor": 4}

    execution = seam.run("state-timeout", definition, payload)

    assert (execution["status"], execution["error"]) == ("FAILED", "States.Timeout")


def test_the_real_retry_list_retries_a_states_timeout(seam: Seam, tmp_path: Path) -> None:
    counter = tmp_path / "calls"
    state = call_sleepy(seam, retry=real_retry_of("Poll"), timeout_seconds=1, function="PatientSleepy")
    definition = {"StartAt": "Call", "States": {"Call": state}}
    payload = {"videoId": "v1", "counter": str(counter), "sleepyCalls": 1, "sleepFor": 4}

    execution = seam.run("state-timeout-retried", definition, payload)

    assert execution["status"] == "SUCCEEDED"
    assert json.loads(execution["output"])["calls"] == 2


def test_a_step_that_keeps_timing_out_ends_the_task_failed_with_timeout_not_internal(
    seam: Seam, tmp_path: Path, stored_task: Callable[..., Task], repository: Any
) -> None:
    task = stored_task(status=TaskStatus.PROCESSING)
    counter = tmp_path / "calls"
    call = call_sleepy(seam, retry=real_retry_of("Poll"))
    del call["End"]
    call["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "MarkFailed"}]
    call["Next"] = "MarkFailed"
    definition = {"StartAt": "Call", "States": {"Call": call, "MarkFailed": mark_failed(seam)}}
    payload = {"videoId": task.videoId, "counter": str(counter), "sleepyCalls": 99, "sleepFor": 3}

    execution = seam.run("timeouts-exhausted", definition, payload)

    assert execution["status"] == "SUCCEEDED"
    timeout_retrier = next(r for r in real_retry_of("Poll") if "Sandbox.Timedout" in r["ErrorEquals"])
    assert seam.calls(counter) == 1 + timeout_retrier["MaxAttempts"]
    failed = repository.get(task.videoId)
    assert failed.status is TaskStatus.FAILED
    assert failed.error.code == "TIMEOUT"
