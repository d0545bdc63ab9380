"""error_from_failure: what a Step Functions Catch result becomes in the task's ``error``."""

from __future__ import annotations

import json

import pytest

from videotasks.domain.errors import ProviderJobLostError, ProviderPermanentError, ProviderTransientError
from videotasks.services.workflow import error_from_failure

INTERNAL_MESSAGE = "The task failed because of an internal error"


def cause_of(error: BaseException, *, trace: bool = True) -> str:
    """The ``Cause`` Step Functions records for a Lambda that raised ``error``."""
    body: dict[str, object] = {"errorType": type(error).__name__, "errorMessage": str(error)}
    if trace:
        body["stackTrace"] = ['  File "/var/task/app.py", line 16, in lambda_handler\n']
    return json.dumps(body)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            ProviderPermanentError("POST /v1/videos answered 400: bad size"),
            "PROVIDER_REJECTED",
            "POST /v1/videos answered 400: bad size",
        ),
        (
            ProviderTransientError("GET /v1/videos/x answered 503"),
            "PROVIDER_UNAVAILABLE",
            "GET /v1/videos/x answered 503",
        ),
        (ProviderJobLostError("GET /v1/videos/x answered 404"), "PROVIDER_JOB_LOST", "GET /v1/videos/x answered 404"),
        (ProviderPermanentError("gone", code="PROVIDER_CONTENT_GONE"), "PROVIDER_CONTENT_GONE", "gone"),
    ],
    ids=["rejected", "unavailable", "job-lost", "own-code"],
)
def test_a_provider_errors_code_travels_through_the_catch(error: Exception, code: str, message: str) -> None:
    result = error_from_failure(type(error).__name__, cause_of(error))
    assert (result.code, result.message) == (code, message)


def test_the_error_type_is_taken_from_the_cause_when_the_catch_gives_none() -> None:
    cause = json.dumps({"errorType": "ProviderJobLostError", "errorMessage": "no code prefix here"})
    assert error_from_failure(None, cause).code == "PROVIDER_JOB_LOST"


def test_an_uncoded_message_of_a_known_error_type_gets_that_types_code() -> None:
    cause = json.dumps({"errorType": "ProviderTransientError", "errorMessage": "connection reset"})
    result = error_from_failure("ProviderTransientError", cause)
    assert (result.code, result.message) == ("PROVIDER_UNAVAILABLE", "connection reset")


def test_a_step_functions_timeout_is_a_timeout() -> None:
    result = error_from_failure("States.Timeout", "State 'Archive' timed out after 300 seconds")
    assert (result.code, result.message) == ("TIMEOUT", "State 'Archive' timed out after 300 seconds")


@pytest.mark.parametrize(
    ("error_type", "cause"),
    [
        # What Step Functions reports for a Lambda killed at its timeout: python3.13 says Sandbox.Timedout,
        # runtimes that name no error type (and out-of-memory kills) surface as Lambda.Unknown.
        (
            "Sandbox.Timedout",
            json.dumps(
                {
                    "errorType": "Sandbox.Timedout",
                    "errorMessage": "RequestId: 1f2e Error: Task timed out after 30.00 seconds",
                }
            ),
        ),
        ("Lambda.Unknown", "The cause could not be determined because Lambda did not return an error type."),
    ],
    ids=["sandbox-timedout", "lambda-unknown"],
)
def test_a_lambda_killed_at_its_timeout_is_a_timeout_and_leaks_no_request_id(error_type: str, cause: str) -> None:
    result = error_from_failure(error_type, cause)
    assert result.code == "TIMEOUT"
    assert "RequestId" not in result.message
    assert "Lambda timeout" in result.message


@pytest.mark.parametrize(
    ("error_type", "cause"),
    [
        ("KeyError", cause_of(KeyError("videoId"))),
        ("Runtime.ImportModuleError", "Unable to import module 'app': No module named 'videotasks'"),
        ("States.TaskFailed", cause_of(RuntimeError("boom at /var/task/app.py"))),
        (None, None),
        (None, "not json {"),
    ],
    ids=["python-error", "import-error", "task-failed", "nothing", "garbled"],
)
def test_anything_unexpected_is_internal_and_leaks_nothing(error_type: str | None, cause: str | None) -> None:
    result = error_from_failure(error_type, cause)
    assert (result.code, result.message) == ("INTERNAL", INTERNAL_MESSAGE)


def test_a_coded_message_never_carries_the_stack_trace() -> None:
    result = error_from_failure("ProviderPermanentError", cause_of(ProviderPermanentError("refused")))
    assert "stackTrace" not in result.message
    assert "/var/task" not in result.message


def test_a_long_message_is_cut_to_500_characters() -> None:
    result = error_from_failure("ProviderPermanentError", cause_of(ProviderPermanentError("x" * 5000)))
    assert result.code == "PROVIDER_REJECTED"
    assert len(result.message) == 500


def test_a_lowercase_prefix_is_not_mistaken_for_a_code() -> None:
    cause = json.dumps({"errorType": "ProviderTransientError", "errorMessage": "note: relay said so"})
    assert error_from_failure("ProviderTransientError", cause).code == "PROVIDER_UNAVAILABLE"
