"""JWT verification: what the HTTP and WebSocket authorizers accept and refuse, and why."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from videotasks.domain.errors import UnauthorizedError
from videotasks.edge import auth
from videotasks.edge.auth import MAX_TOKEN_LENGTH, strip_bearer, verify_token
from videotasks.settings import Settings

JWT_SECRET = "unit-tests-jwt-secret-0123456789abcdef0123"


@pytest.fixture(autouse=True)
def secret_requests(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Stands in for Secrets Manager (the integration tests read the real one from moto)."""
    asked: list[str] = []

    def get_secret(name: str) -> str:
        asked.append(name)
        return JWT_SECRET

    monkeypatch.setattr(auth, "get_secret", get_secret)
    return asked


def claims(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "exp": now + 600, **extra}


def signed(payload: dict[str, Any], key: Any = JWT_SECRET, algorithm: str = "HS256", **kwargs: Any) -> str:
    return jwt.encode(payload, key, algorithm=algorithm, **kwargs)


def refusal(raw: str | None, settings: Settings) -> str:
    with pytest.raises(UnauthorizedError) as caught:
        verify_token(raw, settings)
    return caught.value.message


# -- accepted ---------------------------------------------------------------------------------------


def test_an_hs256_token_yields_its_user_id_claim(
    token: Callable[..., str], settings: Settings, secret_requests: list[str]
) -> None:
    assert verify_token(f"Bearer {token('alice', secret=JWT_SECRET)}", settings) == "alice"
    assert secret_requests == [settings.jwt_secret_name]


def test_the_user_id_claim_wins_over_sub(settings: Settings) -> None:
    assert verify_token(signed(claims(userId="alice", sub="auth0|123")), settings) == "alice"


def test_without_a_user_id_claim_sub_is_the_user(settings: Settings) -> None:
    assert verify_token(signed(claims(sub="bob")), settings) == "bob"


def test_a_numeric_user_id_is_read_as_text(settings: Settings) -> None:
    assert verify_token(signed(claims(userId=42)), settings) == "42"


@pytest.mark.parametrize("prefix", ["", "Bearer ", "bearer ", "BEARER   ", "  Bearer "])
def test_the_bearer_prefix_is_optional(token: Callable[..., str], settings: Settings, prefix: str) -> None:
    assert verify_token(prefix + token("alice", secret=JWT_SECRET), settings) == "alice"


def test_a_token_expired_within_the_clock_skew_leeway_is_accepted(settings: Settings) -> None:
    now = int(time.time())
    assert verify_token(signed({"userId": "alice", "exp": now - 5}), settings) == "alice"


# -- refused ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        None,
        "",
        "   ",
        "Bearer ",
        "Bearer    ",
    ],
)
def test_no_token_is_refused_as_missing(settings: Settings, raw: str | None) -> None:
    assert refusal(raw, settings) == "Missing token"


def test_an_expired_token_is_refused_as_expired(token: Callable[..., str], settings: Settings) -> None:
    assert refusal(token("alice", secret=JWT_SECRET, ttl_seconds=-3600), settings) == "Token expired"


def test_a_token_signed_with_another_secret_is_refused(token: Callable[..., str], settings: Settings) -> None:
    assert refusal(token("alice", secret="another-secret-0123456789abcdef0123456789"), settings) == "Invalid token"


def test_an_unsigned_alg_none_token_is_refused(settings: Settings) -> None:
    assert refusal(signed(claims(userId="alice"), key=None, algorithm="none"), settings) == "Invalid token"


@pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning")
def test_a_token_with_another_hmac_algorithm_is_refused_even_with_the_right_secret(settings: Settings) -> None:
    assert refusal(signed(claims(userId="alice"), algorithm="HS512"), settings) == "Invalid token"


def test_a_token_without_exp_is_refused_saying_it_has_no_expiry(settings: Settings) -> None:
    assert not settings.jwt_allow_no_exp  # the default
    message = refusal(signed({"userId": "alice", "iat": int(time.time())}), settings)
    assert message == "Token has no expiry (exp claim); this deployment requires one"


def test_a_token_without_exp_is_accepted_when_the_setting_allows_it(settings_for: Callable[..., Settings]) -> None:
    lenient = settings_for(jwt_allow_no_exp=True)
    assert verify_token(signed({"userId": "alice", "iat": int(time.time())}), lenient) == "alice"


@pytest.mark.parametrize(
    ("exp", "why"),
    [(-3600, "Token expired"), ("tomorrow", "Invalid token"), (None, "Invalid token")],
    ids=["expired", "not-a-number", "null"],
)
def test_a_token_whose_exp_is_past_or_malformed_is_refused_even_when_no_exp_is_allowed(
    settings_for: Callable[..., Settings], exp: Any, why: str
) -> None:
    lenient = settings_for(jwt_allow_no_exp=True)
    value = int(time.time()) + exp if isinstance(exp, int) else exp
    assert refusal(signed({"userId": "alice", "exp": value}), lenient) == why


@pytest.mark.parametrize(("raw", "allowed"), [("true", True), ("false", False), ("1", True), ("0", False)])
def test_the_no_exp_setting_is_read_from_its_variable(raw: str, allowed: bool) -> None:
    required = {"TASKS_TABLE": "tasks", "STATS_TABLE": "stats", "MEDIA_BUCKET": "media"}
    assert Settings.model_validate({**required, "JWT_ALLOW_NO_EXP": raw}).jwt_allow_no_exp is allowed


def test_a_token_with_a_tampered_payload_is_refused(token: Callable[..., str], settings: Settings) -> None:
    header, _, signature = token("alice", secret=JWT_SECRET).split(".")
    forged_payload = jwt.utils.base64url_encode(b'{"userId":"admin","exp":9999999999}').decode()
    assert refusal(f"{header}.{forged_payload}.{signature}", settings) == "Invalid token"


@pytest.mark.parametrize("garbage", ["not-a-jwt", "a.b.c", "Bearer x.y"])
def test_garbage_is_refused_as_invalid(settings: Settings, garbage: str) -> None:
    assert refusal(garbage, settings) == "Invalid token"


def test_an_oversized_token_is_refused_before_any_decoding(settings: Settings, secret_requests: list[str]) -> None:
    huge = signed(claims(userId="alice", padding="x" * MAX_TOKEN_LENGTH))
    assert refusal(huge, settings) == "Token too large"
    assert secret_requests == []  # refused before the secret was even fetched


@pytest.mark.parametrize("subject", [{}, {"userId": ""}, {"sub": "   "}, {"userId": ["alice"]}])
def test_a_token_naming_no_user_is_refused(settings: Settings, subject: dict[str, Any]) -> None:
    assert "no userId or sub" in refusal(signed(claims(**subject)), settings)


# -- audience and issuer, when configured ----------------------------------------------------------


@pytest.fixture
def strict(settings_for: Callable[..., Settings]) -> Settings:
    return settings_for(jwt_audience="videotasks", jwt_issuer="https://auth.sora-ui.test")


def test_a_token_for_the_configured_audience_and_issuer_is_accepted(strict: Settings) -> None:
    token = signed(claims(userId="alice", aud="videotasks", iss="https://auth.sora-ui.test"))
    assert verify_token(token, strict) == "alice"


@pytest.mark.parametrize(
    "extra",
    [
        {"iss": "https://auth.sora-ui.test"},  # no aud
        {"aud": "another-api", "iss": "https://auth.sora-ui.test"},
        {"aud": "videotasks"},  # no iss
        {"aud": "videotasks", "iss": "https://evil.test"},
    ],
    ids=["no-aud", "wrong-aud", "no-iss", "wrong-iss"],
)
def test_a_token_for_another_audience_or_issuer_is_refused(strict: Settings, extra: dict[str, str]) -> None:
    assert refusal(signed(claims(userId="alice", **extra)), strict) == "Invalid token"


def test_audience_is_not_checked_when_none_is_configured(settings: Settings) -> None:
    assert verify_token(signed(claims(userId="alice", aud="whatever")), settings) == "alice"


# -- JWKS mode (RS256) ------------------------------------------------------------------------------


class StaticJwks:
    """Stands in for PyJWKClient: one key, whatever the token's kid."""

    def __init__(self, public_key: Any) -> None:
        self.key = public_key

    def get_signing_key_from_jwt(self, token: str) -> StaticJwks:
        return self


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks(
    settings_for: Callable[..., Settings], rsa_key: rsa.RSAPrivateKey, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setattr(auth, "_jwks_client", lambda url: StaticJwks(rsa_key.public_key()))
    return settings_for(
        jwt_mode="jwks",
        jwks_url="https://auth.sora-ui.test/.well-known/jwks.json",
        jwt_issuer=JWKS_ISSUER,
        jwt_audience=JWKS_AUDIENCE,
    )


JWKS_ISSUER = "https://auth.sora-ui.test/"
JWKS_AUDIENCE = "videotasks"


def jwks_claims(**extra: Any) -> dict[str, Any]:
    return claims(iss=JWKS_ISSUER, aud=JWKS_AUDIENCE, **extra)


def test_jwks_mode_accepts_an_rs256_token_signed_by_the_published_key(
    jwks: Settings, rsa_key: rsa.RSAPrivateKey
) -> None:
    assert verify_token(signed(jwks_claims(sub="carol"), key=rsa_key, algorithm="RS256"), jwks) == "carol"


# Settings refuse jwks mode without an issuer and an audience, so both are always checked there.
@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ({"iss": JWKS_ISSUER}, "no aud"),
        ({"aud": JWKS_AUDIENCE}, "no iss"),
        ({"iss": "https://evil.test/", "aud": JWKS_AUDIENCE}, "another issuer"),
        ({"iss": JWKS_ISSUER, "aud": "another-app"}, "another audience"),
    ],
)
def test_jwks_mode_refuses_a_token_of_another_issuer_or_audience(
    jwks: Settings, rsa_key: rsa.RSAPrivateKey, payload: dict[str, Any], why: str
) -> None:
    token = signed(claims(sub="carol", **payload), key=rsa_key, algorithm="RS256")
    assert refusal(token, jwks) == "Invalid token", why


def test_jwks_mode_refuses_an_hs256_token(jwks: Settings) -> None:
    assert refusal(signed(claims(userId="alice")), jwks) == "Invalid token"


def test_jwks_mode_refuses_a_token_signed_by_another_key(jwks: Settings) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert refusal(signed(claims(userId="alice"), key=other, algorithm="RS256"), jwks) == "Invalid token"


# -- the prefix helper ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "token"),
    [(None, ""), ("abc", "abc"), ("Bearer abc", "abc"), (" bearer  abc ", "abc"), ("Bearerabc", "Bearerabc")],
)
def test_strip_bearer_removes_only_a_bearer_prefix(raw: str | None, token: str) -> None:
    assert strip_bearer(raw) == token


def test_the_plan_claim_comes_with_the_user_and_anything_but_a_short_string_is_no_plan(settings: Settings):
    assert auth.verify_caller(signed(claims(userId="alice", plan="pro")), settings) == auth.Caller("alice", "pro")
    assert auth.verify_caller(signed(claims(userId="alice")), settings).plan is None
    assert auth.verify_caller(signed(claims(userId="alice", plan=["pro"])), settings).plan is None
    assert auth.verify_caller(signed(claims(userId="alice", plan="p" * 65)), settings).plan is None
