"""schemathesis against the OpenAPI document the local stack serves (`GET /api/video/openapi.json`).

Every operation of the document gets requests generated from its schema, valid ones and deliberately
invalid ones, sent with a valid token through the real gateway. No reply may be a 5xx, every non-2xx
reply must be the error envelope ``{success: false, message, error: {code, message}}``, and every reply
must be what the document says (schemathesis' own checks, ``CHECKS``): a status the operation documents,
its content type, a body matching that status's schema, and a 4xx for a request the document forbids.

Bounded and deterministic: a fixed number of examples per operation and mode, derandomised, no
example database, so every run sends the same requests.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import (
    FailureGroup,
    content_type_conformance,
    negative_data_rejection,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

pytest_plugins = ["tests.e2e.conftest"]
pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = 25
# The server may not drift from its document: a reply the document does not allow fails the test.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]
FUZZ = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    # Shrinking would replay requests against a stack whose state the first ones changed; the failing
    # request is reported as sent (method, URL, body), which is enough to reproduce it.
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=list(HealthCheck),
)


def envelope_problem(response: Any) -> str | None:
    """What is wrong with a reply under the contract, or None."""
    if response.status_code >= 500:
        return f"a {response.status_code}"
    try:
        body = json.loads(response.content)
    except ValueError:
        return f"a {response.status_code} that is not JSON"
    if 200 <= response.status_code < 300:
        return None if isinstance(body, dict) and body.get("success") is True else "a 2xx without success: true"
    if not isinstance(body, dict) or body.get("success") is not False:
        return "an error without success: false"
    error = body.get("error")
    if not isinstance(body.get("message"), str) or not body["message"]:
        return "an error without a message"
    if not isinstance(error, dict) or not all(isinstance(error.get(name), str) for name in ("code", "message")):
        return "an error without error.code and error.message"
    return None


def conformance_problem(case: Any, response: Any, headers: dict[str, str]) -> str | None:
    """What schemathesis' ``CHECKS`` found wrong with ``response`` to ``case``, or None."""
    try:
        case.validate_response(response, checks=CHECKS, headers=headers)
    except FailureGroup as failures:
        return "; ".join(" ".join(str(failure).split())[:300] for failure in failures.exceptions)
    except AssertionError as failure:
        return " ".join(str(failure).split())[:300]
    return None


def fuzz(operation: Any, mode: GenerationMode, base_url: str, headers: dict[str, str]) -> tuple[int, list[str]]:
    """Send ``operation``'s generated requests; return how many went out and what was wrong."""
    sent = 0
    problems: list[str] = []

    @FUZZ
    @given(case=operation.as_strategy(generation_mode=mode))
    def send(case: Any) -> None:
        nonlocal sent
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        sent += 1
        problem = envelope_problem(response) or conformance_problem(case, response, headers)
        if problem is not None:
            request = response.request
            body = request.body.decode(errors="replace") if isinstance(request.body, bytes) else request.body
            problems.append(
                f"{problem}: {request.method} {request.url} body={str(body)[:300]!r} "
                f"-> {response.status_code} {response.text[:300]!r}"
            )

    send()
    return sent, problems


@pytest.fixture
def served_schema(local_stack: Any) -> Any:
    return schemathesis.openapi.from_url(f"{local_stack.api_url}/openapi.json", timeout=30)


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=lambda mode: mode.value)
def test_generated_requests_to_every_operation_get_replies_the_document_allows(
    local_stack: Any, served_schema: Any, user_id: str, mode: GenerationMode
) -> None:
    headers = local_stack.auth(user_id)
    problems: list[str] = []
    sent: dict[str, int] = {}

    for result in served_schema.get_all_operations():
        operation = result.ok()
        # Any text is a valid Accept-Language (an unknown one reads English), so it cannot be made invalid.
        constrained = [parameter for parameter in operation.iter_parameters() if parameter.name != "Accept-Language"]
        if mode is GenerationMode.NEGATIVE and not [*constrained, *operation.body]:
            continue  # health: no constrained parameter, body or token, so no request to it can be invalid
        count, found = fuzz(operation, mode, local_stack.http_url, headers)
        sent[f"{operation.method.upper()} {operation.path}"] = count
        problems += found

    assert not problems, "\n".join(problems[:20])
    # The document was really fuzzed: every route of the contract, each with requests.
    assert {"POST /api/video/tasks", "GET /api/video/tasks/{videoId}", "GET /api/video/stats"} <= set(sent)
    assert all(count > 0 for count in sent.values()), sent


@pytest.mark.parametrize(
    ("status", "body", "verdict"),
    [
        (200, {"success": True, "data": {}}, None),
        (404, {"success": False, "message": "m", "error": {"code": "NOT_FOUND", "message": "m"}}, None),
        (500, {"success": False, "message": "m", "error": {"code": "INTERNAL", "message": "m"}}, "a 500"),
        (404, {"message": "Not Found"}, "an error without success: false"),  # a bare gateway reply
        (400, {"success": False, "message": "m"}, "an error without error.code and error.message"),
        (401, {"success": False, "error": {"code": "UNAUTHORIZED", "message": "m"}}, "an error without a message"),
        (400, "Bad Request", "a 400 that is not JSON"),
        (201, {"videoId": "v"}, "a 2xx without success: true"),
    ],
)
def test_the_envelope_check_flags_every_reply_the_contract_forbids(status: int, body: Any, verdict: str | None) -> None:
    class Reply:
        status_code = status
        content = (json.dumps(body) if not isinstance(body, str) else body).encode()

    assert envelope_problem(Reply()) == verdict
