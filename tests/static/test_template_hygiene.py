"""template.yaml refuses what would deploy but not work, logs what it runs, and grants only named calls."""

from __future__ import annotations

import re
from typing import Any

import annotated_types
import pytest

from local.sam_transform import function_roles, transformed_template
from local.template import TEMPLATE_PATH, load_template
from videotasks.settings import Settings

TEMPLATE = load_template(TEMPLATE_PATH)
RESOURCES: dict[str, Any] = TEMPLATE["Resources"]
FUNCTIONS = {name: body for name, body in RESOURCES.items() if body["Type"] == "AWS::Serverless::Function"}


# ------------------------------------------------------------------------------------------------ parameters
def _settings_bound(variable: str) -> tuple[int | None, int | None]:
    for field in Settings.model_fields.values():
        if field.alias == variable:
            ge = next((item.ge for item in field.metadata if isinstance(item, annotated_types.Ge)), None)
            le = next((item.le for item in field.metadata if isinstance(item, annotated_types.Le)), None)
            return ge, le  # type: ignore[return-value]
    raise AssertionError(f"no Settings field reads {variable}")


def _parameters_feeding_settings() -> dict[str, str]:
    """Number parameter -> the environment variable Settings reads it from (Globals and every function)."""
    environments = [TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]]
    environments += [(body["Properties"].get("Environment") or {}).get("Variables", {}) for body in FUNCTIONS.values()]
    fed = {}
    for variables in environments:
        for variable, value in variables.items():
            name = value.get("Ref") if isinstance(value, dict) else None
            if TEMPLATE["Parameters"].get(name, {}).get("Type") == "Number":
                fed[name] = variable
    return fed


def test_the_bounded_parameters_are_found() -> None:
    assert {"PollIntervalSeconds", "MaxPollAttempts", "TaskTimeoutSeconds"} <= set(_parameters_feeding_settings())


@pytest.mark.parametrize(("parameter", "variable"), sorted(_parameters_feeding_settings().items()))
def test_a_number_parameter_accepts_exactly_what_settings_accept(parameter: str, variable: str) -> None:
    spec = TEMPLATE["Parameters"][parameter]
    assert (spec.get("MinValue"), spec.get("MaxValue")) == _settings_bound(variable), (
        f"{parameter} (MinValue, MaxValue) must equal {variable}'s (ge, le) in settings.py, or a deploy the"
        " template accepts fails at every function's start"
    )


# ------------------------------------------------------------------------------------------------ rules
def _evaluate(expression: Any, parameters: dict[str, Any]) -> Any:
    """The Rules intrinsics this template uses, over parameter values (lists for CommaDelimitedList)."""
    if not isinstance(expression, dict):
        return expression
    ((key, arg),) = expression.items()
    if key == "Ref":
        return parameters[arg]
    values = [_evaluate(item, parameters) for item in arg]
    if key == "Fn::Equals":
        return values[0] == values[1]
    if key == "Fn::Not":
        return not values[0]
    if key == "Fn::Or":
        return any(values)
    if key == "Fn::And":
        return all(values)
    if key == "Fn::Contains":
        return values[1] in values[0]
    raise AssertionError(f"no evaluator for {key}")


def _refused(**overrides: Any) -> list[str]:
    """AssertDescriptions of the Rules a deployment with these parameters would fail."""
    parameters: dict[str, Any] = {}
    for name, spec in TEMPLATE["Parameters"].items():
        default = spec.get("Default", "")
        parameters[name] = default.split(",") if spec["Type"] == "CommaDelimitedList" else default
    parameters.update(overrides)
    refused = []
    for rule in TEMPLATE["Rules"].values():
        if "RuleCondition" in rule and not _evaluate(rule["RuleCondition"], parameters):
            continue
        assertions = rule["Assertions"]
        refused += [item["AssertDescription"] for item in assertions if not _evaluate(item["Assert"], parameters)]
    return refused


JWKS = {"JwtMode": "jwks", "JwksUrl": "https://id.test/jwks.json", "JwtIssuer": "https://id.test/", "JwtAudience": "vt"}
PROD_ORIGINS = ["https://app.sora-ui.test"]


def test_the_default_dev_parameters_pass_every_rule() -> None:
    assert _refused() == []


def test_jwks_with_url_issuer_and_audience_passes() -> None:
    assert _refused(**JWKS) == []


@pytest.mark.parametrize("missing", ["JwksUrl", "JwtIssuer", "JwtAudience"])
def test_jwks_without_one_of_url_issuer_audience_is_refused(missing: str) -> None:
    refused = _refused(**{**JWKS, missing: ""})
    assert len(refused) == 1 and missing in refused[0]


def test_the_jwks_url_parameter_allows_https_only() -> None:
    pattern = TEMPLATE["Parameters"]["JwksUrl"]["AllowedPattern"]
    assert re.fullmatch(pattern, "https://id.test/jwks.json") and re.fullmatch(pattern, "")
    assert not re.fullmatch(pattern, "http://id.test/jwks.json")


@pytest.mark.parametrize(
    "origins",
    [
        ["http://localhost:3000", "http://127.0.0.1:3000"],  # the default
        ["https://app.sora-ui.test", "http://localhost:3000"],
        ["*"],
        ["https://set-your-origin.invalid"],  # samconfig.toml's prod placeholder
    ],
)
def test_prod_refuses_local_wildcard_or_placeholder_origins(origins: list[str]) -> None:
    assert any("CorsAllowedOrigins" in line for line in _refused(Stage="prod", CorsAllowedOrigins=origins))


def test_prod_with_real_origins_passes() -> None:
    assert _refused(Stage="prod", CorsAllowedOrigins=PROD_ORIGINS) == []


def test_samconfig_prod_names_the_placeholder_origin_the_rule_refuses() -> None:
    samconfig = (TEMPLATE_PATH.parent / "samconfig.toml").read_text(encoding="utf-8")
    prod = samconfig.split("[prod.deploy.parameters]", 1)[1]
    assert "CorsAllowedOrigins=https://set-your-origin.invalid" in prod


# ------------------------------------------------------------------------------------------------ retention
@pytest.mark.parametrize("secret", ["ProviderApiKeySecret", "JwtSecret"])
def test_hand_filled_secrets_outlive_the_stack(secret: str) -> None:
    assert RESOURCES[secret].get("DeletionPolicy") == "Retain"
    assert RESOURCES[secret].get("UpdateReplacePolicy") == "Retain"


def _log_group(reference: Any) -> dict[str, Any]:
    name = reference.get("Ref") or reference.get("Fn::GetAtt", [None])[0]
    body: dict[str, Any] = RESOURCES[name]
    assert body["Type"] == "AWS::Logs::LogGroup", name
    return body


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_every_function_logs_to_a_group_with_retention(function: str) -> None:
    logging = FUNCTIONS[function]["Properties"].get("LoggingConfig") or {}
    assert "LogGroup" in logging, f"{function} logs to Lambda's default group, kept forever"
    assert _log_group(logging["LogGroup"])["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_the_state_machine_logs_errors_without_execution_data() -> None:
    logging = RESOURCES["VideoTaskStateMachine"]["Properties"]["Logging"]
    assert logging["IncludeExecutionData"] is False
    [destination] = logging["Destinations"]
    group = _log_group(destination["CloudWatchLogsLogGroup"]["LogGroupArn"])
    assert group["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}


# ------------------------------------------------------------------------------------------------ access logs
# $context variables that carry no query string, header or body (the WebSocket JWT travels as ?token=).
SAFE_CONTEXT = {
    "requestId",
    "identity.sourceIp",
    "requestTime",
    "routeKey",
    "status",
    "responseLength",
    "responseLatency",
    "integrationLatency",
    "error.message",
    "authorizer.error",
    "integrationErrorMessage",
    "integration.error",
    "eventType",
    "connectionId",
}
ACCESS_LOGS = {
    "HttpApi": RESOURCES["HttpApi"]["Properties"].get("AccessLogSettings"),
    "WebSocketStage": RESOURCES["WebSocketStage"]["Properties"].get("AccessLogSettings"),
}


@pytest.mark.parametrize("api", sorted(ACCESS_LOGS))
def test_access_logs_are_on_with_only_variables_free_of_query_strings(api: str) -> None:
    settings = ACCESS_LOGS[api]
    assert settings, f"{api} has no access log"
    assert _log_group(settings["DestinationArn"])["Properties"]["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    variables = re.findall(r"\$([\w.]+)", settings["Format"])
    assert variables, settings["Format"]
    unsafe = [variable for variable in variables if variable.removeprefix("context.") not in SAFE_CONTEXT]
    assert not unsafe, f"{api} logs {unsafe}: may carry the query string (the WebSocket token) or headers"


def test_the_http_access_log_survives_the_transform() -> None:
    stage = transformed_template()["Resources"]["HttpApiApiGatewayDefaultStage"]["Properties"]
    assert stage["AccessLogSettings"]["Format"] == ACCESS_LOGS["HttpApi"]["Format"]


# ------------------------------------------------------------------------------------------------ grants
WIDE_POLICY_TEMPLATES = {"DynamoDBCrudPolicy", "S3CrudPolicy", "S3FullAccessPolicy", "DynamoDBWritePolicy"}
NEVER_CALLED = {"s3:putobjectacl", "s3:putlifecycleconfiguration", "dynamodb:scan", "dynamodb:*", "s3:*"}


@pytest.mark.parametrize("function", sorted(FUNCTIONS))
def test_function_policies_are_statements_with_a_sid_not_wide_templates(function: str) -> None:
    for policy in FUNCTIONS[function]["Properties"].get("Policies", []):
        assert not set(policy) & WIDE_POLICY_TEMPLATES, f"{function}: {set(policy)} grants more than the code calls"
        for statement in policy.get("Statement", []):
            assert statement.get("Sid"), f"{function}: a statement without a Sid saying which calls it is for"


def test_no_role_grants_a_call_the_code_never_makes() -> None:
    transformed = transformed_template()
    for function, role in function_roles(transformed).items():
        for policy in transformed["Resources"][role]["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not {action.lower() for action in actions} & NEVER_CALLED, (function, actions)


def test_the_websocket_function_may_read_a_connection_back() -> None:
    statements = FUNCTIONS["WebSocketFunction"]["Properties"]["Policies"][0]["Statement"]
    connections = {"Fn::GetAtt": ["ConnectionsTable", "Arn"]}
    assert any("dynamodb:GetItem" in s["Action"] and s["Resource"] == connections for s in statements)


def test_media_writers_may_abort_multipart_uploads() -> None:
    for function in ("SubmitTaskFunction", "ArchiveTaskFunction"):
        statements = FUNCTIONS[function]["Properties"]["Policies"][0]["Statement"]
        actions = {action for statement in statements for action in statement["Action"]}
        assert {"s3:PutObject", "s3:AbortMultipartUpload", "s3:DeleteObject"} <= actions, function


# ------------------------------------------------------------------------------------------------ ffmpeg layer
def _layers(function: dict[str, Any]) -> list[Any]:
    return [*TEMPLATE["Globals"]["Function"].get("Layers", []), *function["Properties"].get("Layers", [])]


def test_only_the_poster_function_carries_the_ffmpeg_layer() -> None:
    ffmpeg = {"Ref": "FfmpegLayer"}
    with_ffmpeg = sorted(name for name, body in FUNCTIONS.items() if ffmpeg in _layers(body))
    assert with_ffmpeg == ["MakePosterFunction"]
    assert ffmpeg not in TEMPLATE["Globals"]["Function"].get("Layers", [])


def test_the_ffmpeg_layer_ships_nothing_but_ffmpeg_and_the_common_layer_no_ffmpeg() -> None:
    from local.template import ROOT

    ffmpeg = (ROOT / "layers" / "ffmpeg" / "requirements.txt").read_text(encoding="utf-8")
    common = (ROOT / "layers" / "common" / "requirements.txt").read_text(encoding="utf-8")
    pins = [line for line in ffmpeg.splitlines() if line and not line.startswith("#")]
    assert len(pins) == 1 and pins[0].startswith("imageio-ffmpeg==")
    assert "ffmpeg" not in common.lower()
