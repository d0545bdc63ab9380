"""Settings refuse what would deploy but not work: jwks mode without its URL, issuer and audience."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from videotasks.settings import Settings

JWKS = {
    "jwt_mode": "jwks",
    "jwks_url": "https://auth.sora-ui.test/.well-known/jwks.json",
    "jwt_issuer": "https://auth.sora-ui.test/",
    "jwt_audience": "videotasks",
}


def test_jwks_mode_with_url_issuer_and_audience_is_accepted(settings_for: Callable[..., Settings]) -> None:
    assert settings_for(**JWKS).jwt_mode == "jwks"


@pytest.mark.parametrize(
    ("field", "variable"), [("jwks_url", "JWKS_URL"), ("jwt_issuer", "JWT_ISSUER"), ("jwt_audience", "JWT_AUDIENCE")]
)
def test_jwks_mode_without_one_of_them_names_the_variable(
    settings_for: Callable[..., Settings], field: str, variable: str
) -> None:
    with pytest.raises(ValidationError, match=f"JWT_MODE=jwks needs {variable}"):
        settings_for(**{**JWKS, field: " "})


@pytest.mark.parametrize("url", ["http://auth.sora-ui.test/jwks", "ftp://auth.sora-ui.test/jwks", "jwks.json"])
def test_jwks_url_must_be_https(settings_for: Callable[..., Settings], url: str) -> None:
    with pytest.raises(ValidationError, match="JWKS_URL must be an https:// URL"):
        settings_for(**{**JWKS, "jwks_url": url})


def test_a_jwks_server_on_this_machine_may_speak_http(settings_for: Callable[..., Settings]) -> None:
    assert settings_for(**{**JWKS, "jwks_url": "http://127.0.0.1:8123/jwks.json"}).jwks_url.startswith("http://")


def test_hs256_mode_needs_no_jwks_settings(settings_for: Callable[..., Settings]) -> None:
    assert settings_for(jwt_mode="hs256").jwks_url == ""


@pytest.mark.parametrize(
    ("field", "value"), [("task_timeout_seconds", 43201), ("poll_interval_seconds", 3601), ("max_poll_attempts", 10001)]
)
def test_values_above_the_template_bounds_are_refused(
    settings_for: Callable[..., Settings], field: str, value: int
) -> None:
    with pytest.raises(ValidationError):
        settings_for(**{field: value})
