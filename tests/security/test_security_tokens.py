"""Hostile tokens against every route of the API function, which verifies them itself, and against the
WebSocket handshake's authorizer, in process. Both verification modes of auth.py:

* HS256 with the template's JwtSecret in (moto's) Secrets Manager, with JwtIssuer and JwtAudience set;
* JWKS (RS256) against a real JWKS document served over HTTP by this module, so PyJWKClient really
  fetches and picks keys by ``kid``: HS/RS algorithm confusion, foreign keys, ``jku``/embedded ``jwk``.

The local-stack suite (test_security_gateway_e2e.py) sends the HS256 tokens through the real gateways.
"""

from __future__ import annotations

import contextlib
import http.server
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fixtures.aws import AwsStack
from tests.fixtures.events import build_api_event, build_authorizer_event
from tests.fixtures.tokens import JWT_SECRET
from tests.security.tokens import (
    HS256_CASES,
    BadToken,
    Route,
    authorised_routes,
    b64,
    by_name,
    claims,
    forge,
    hs256_bad_tokens,
    valid_hs256,
)
from videotasks.edge.auth import MAX_TOKEN_LENGTH

Invoke = Callable[[str, Any], Any]
ApiEvent = Callable[..., dict[str, Any]]

AUTHORIZER = "AuthorizerFunction"
API = "ApiFunction"
USER = "victim"
ISSUER = "https://auth.sora-ui.test/"
AUDIENCE = "videotasks-api"


# -- the API function's verdict on a token, and the WebSocket authorizer's ----------------------------


def http_refusal(invoke: Invoke, authorization: str | None, **query: str) -> str | None:
    """What the API function says of a token before any route runs: None when it lets the request on (to
    an unknown path here, which then answers 404 without touching AWS), else its 401 envelope's message."""
    event = build_api_event(
        "api_health",
        user=None,
        authorization=authorization,
        route_key="ANY /api/video/{proxy+}",
        path="/api/video/no-such-route",
        method="GET",
    )
    event["queryStringParameters"] = query or None
    result = invoke(API, event)
    body = json.loads(result["body"])
    if result["statusCode"] == 401:
        assert body["error"]["code"] == "UNAUTHORIZED", body
        return str(body["message"])
    assert result["statusCode"] == 404, body
    return None


def websocket_effect(invoke: Invoke, token: str | None) -> str:
    policy = invoke(AUTHORIZER, build_authorizer_event("websocket", token or None))
    (statement,) = policy["policyDocument"]["Statement"]
    return str(statement["Effect"])


def call_route(invoke: Invoke, api_event: ApiEvent, route: Route, authorization: str | None) -> tuple[int, Any]:
    """The API function as API Gateway calls it with this Authorization header (None: none at all)."""
    event = api_event(
        "api_create_task" if route.method == "POST" else "api_get_task",
        user=None,
        authorization=authorization,
        body=route.body,
        method=route.method,
        path=route.path,
        route_key=route.route_key,
    )
    event["pathParameters"] = route.path_parameters
    result = invoke(API, event)
    return int(result["statusCode"]), json.loads(result["body"])


def assert_refused_everywhere(invoke: Invoke, api_event: ApiEvent, token: BadToken) -> None:
    """Every authorised route answers the same 401 envelope, and the WebSocket handshake is denied."""
    refusal = http_refusal(invoke, token.authorization)
    assert refusal, token.name
    for route in authorised_routes():
        status, body = call_route(invoke, api_event, route, token.authorization)
        assert status == 401, (token.name, str(route), body)
        assert body["success"] is False
        assert body["error"]["code"] == "UNAUTHORIZED", (token.name, str(route), body)
        assert body["message"] == body["error"]["message"] == refusal
    assert websocket_effect(invoke, token.query_token) == "Deny", token.name


# -- HS256 (the default mode), issuer and audience configured --------------------------------------


@pytest.fixture
def strict_aws(start_aws: Callable[..., AwsStack]) -> AwsStack:
    return start_aws({"JwtIssuer": ISSUER, "JwtAudience": AUDIENCE})


def test_hs256_control_a_valid_token_reaches_every_route_as_its_user(
    strict_aws: AwsStack, invoke: Invoke, api_event: ApiEvent
) -> None:
    authorization = valid_hs256(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE)

    assert http_refusal(invoke, authorization) is None
    replies = {str(route): call_route(invoke, api_event, route, authorization) for route in authorised_routes()}
    statuses = {route: status for route, (status, _) in replies.items()}
    assert 401 not in statuses.values(), statuses
    assert statuses["POST /api/video/tasks"] == 201
    created = replies["POST /api/video/tasks"][1]["data"]["videoId"]
    assert strict_aws.table("TASKS_TABLE").get_item(Key={"videoId": created})["Item"]["userId"] == USER
    token = valid_hs256(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE).removeprefix("Bearer ")
    assert websocket_effect(invoke, token) == "Allow"


@pytest.mark.parametrize("name", HS256_CASES)
def test_hs256_a_bad_token_is_refused_on_every_route_and_at_the_websocket_handshake(
    strict_aws: AwsStack, invoke: Invoke, api_event: ApiEvent, name: str
) -> None:
    token = by_name(hs256_bad_tokens(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE), name)

    assert_refused_everywhere(invoke, api_event, token)

    assert strict_aws.table("TASKS_TABLE").scan()["Items"] == []  # POST /tasks wrote nothing
    executions = strict_aws.client("stepfunctions").list_executions(stateMachineArn=strict_aws.state_machine_arn)
    assert executions["executions"] == []


def test_hs256_a_not_before_within_the_clock_skew_leeway_is_accepted_beyond_it_refused(
    strict_aws: AwsStack, invoke: Invoke
) -> None:
    # The leeway (30 s) tolerates clocks that disagree a little; an hour ahead is a token of the future.
    def signed(nbf: int) -> str:
        payload = claims(USER, issuer=ISSUER, audience=AUDIENCE, nbf=nbf)
        return "Bearer " + jwt.encode(payload, JWT_SECRET, algorithm="HS256")

    now = int(time.time())
    assert http_refusal(invoke, signed(now + 5)) is None
    assert http_refusal(invoke, signed(now + 600)) == "Invalid token"


def test_http_api_takes_the_token_from_the_authorization_header_only_never_from_the_query_string(
    strict_aws: AwsStack, invoke: Invoke
) -> None:
    # A token in a URL ends up in access logs, proxies and browser history; only the WebSocket
    # handshake needs ?token= (browsers cannot set headers on it).
    token = valid_hs256(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE).removeprefix("Bearer ")

    assert http_refusal(invoke, None, token=token) == "Missing token"
    assert websocket_effect(invoke, token) == "Allow"


# -- tokens without exp: refused by default, accepted only where JwtAllowNoExp says so -------------------


def test_hs256_by_default_a_token_without_exp_is_refused_saying_it_has_no_expiry(
    strict_aws: AwsStack, invoke: Invoke
) -> None:
    token = by_name(hs256_bad_tokens(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE), "no-exp")

    assert http_refusal(invoke, token.authorization) == "Token has no expiry (exp claim); this deployment requires one"
    assert websocket_effect(invoke, token.query_token) == "Deny"


@pytest.fixture
def no_exp_aws(start_aws: Callable[..., AwsStack]) -> AwsStack:
    return start_aws({"JwtIssuer": ISSUER, "JwtAudience": AUDIENCE, "JwtAllowNoExp": "true"})


def test_hs256_with_no_exp_allowed_a_token_without_exp_reaches_every_route_and_the_websocket(
    no_exp_aws: AwsStack, invoke: Invoke, api_event: ApiEvent
) -> None:
    token = by_name(hs256_bad_tokens(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE), "no-exp")

    assert http_refusal(invoke, token.authorization) is None
    statuses = {
        str(route): call_route(invoke, api_event, route, token.authorization)[0] for route in authorised_routes()
    }
    assert 401 not in statuses.values(), statuses
    assert websocket_effect(invoke, token.query_token) == "Allow"


# What allowing a missing exp must not loosen: an exp that is there is still checked, and the rest as ever.
STILL_REFUSED_WITHOUT_EXP_CHECK = ["expired", "exp-not-a-number", "wrong-secret", "alg-none", "not-yet-valid-nbf"]


@pytest.mark.parametrize("name", STILL_REFUSED_WITHOUT_EXP_CHECK)
def test_hs256_with_no_exp_allowed_an_expired_or_forged_token_is_still_refused_everywhere(
    no_exp_aws: AwsStack, invoke: Invoke, api_event: ApiEvent, name: str
) -> None:
    token = by_name(hs256_bad_tokens(USER, JWT_SECRET, issuer=ISSUER, audience=AUDIENCE), name)

    assert_refused_everywhere(invoke, api_event, token)
    assert no_exp_aws.table("TASKS_TABLE").scan()["Items"] == []


# -- JWKS mode (RS256): a real JWKS document over HTTP --------------------------------------------


@dataclass
class JwksServer:
    """Serves JSON documents by path on 127.0.0.1 and records every path asked for."""

    documents: dict[str, Any]
    requests: list[str] = field(default_factory=list)
    url: str = ""

    @contextlib.contextmanager
    def running(self) -> Iterator[JwksServer]:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                owner.requests.append(self.path)
                document = owner.documents.get(self.path)
                body = json.dumps(document if document is not None else {"error": "not found"}).encode()
                self.send_response(200 if document is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        thread = threading.Thread(target=server.serve_forever, name="jwks-server", daemon=True)
        thread.start()
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        try:
            yield self
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)


JWKS_PATH = "/.well-known/jwks.json"
KID = "published-key-1"
ATTACKER_KID = "attacker-key"


def public_jwk(key: rsa.RSAPrivateKey, kid: str) -> dict[str, Any]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    return {**jwk, "kid": kid, "use": "sig", "alg": "RS256"}


@dataclass(frozen=True)
class Keys:
    published: rsa.RSAPrivateKey
    attacker: rsa.RSAPrivateKey


@pytest.fixture(scope="module")
def keys() -> Keys:
    return Keys(
        published=rsa.generate_private_key(public_exponent=65537, key_size=2048),
        attacker=rsa.generate_private_key(public_exponent=65537, key_size=2048),
    )


@pytest.fixture(scope="module")
def identity_provider(keys: Keys) -> Iterator[JwksServer]:
    """The identity provider's JWKS endpoint: the published key only."""
    with JwksServer({JWKS_PATH: {"keys": [public_jwk(keys.published, KID)]}}).running() as server:
        yield server


@pytest.fixture(scope="module")
def attacker_site(keys: Keys) -> Iterator[JwksServer]:
    """Where a forged token's ``jku`` header points: a JWKS with the attacker's key."""
    with JwksServer({JWKS_PATH: {"keys": [public_jwk(keys.attacker, ATTACKER_KID)]}}).running() as server:
        yield server


@pytest.fixture
def jwks_mode(monkeypatch: pytest.MonkeyPatch, identity_provider: JwksServer) -> JwksServer:
    """The functions' settings in JWKS mode. No AWS: verifying needs none in this mode, and every test
    reaches a route with a refused token only, or an accepted one on an unknown path (a 404)."""
    environment = {
        "TASKS_TABLE": "tasks",
        "STATS_TABLE": "stats",
        "MEDIA_BUCKET": "media",
        "PROVIDER_BASE_URL": "http://127.0.0.1:9",
        "PROVIDER_API_KEY_SECRET": "provider-key",
        "JWT_MODE": "jwks",
        "JWKS_URL": identity_provider.url + JWKS_PATH,
        "JWT_ISSUER": ISSUER,
        "JWT_AUDIENCE": AUDIENCE,
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    identity_provider.requests.clear()
    return identity_provider


def rs256(key: rsa.RSAPrivateKey, payload: dict[str, Any], algorithm: str = "RS256", **headers: Any) -> str:
    return "Bearer " + jwt.encode(payload, key, algorithm=algorithm, headers={"kid": KID, **headers})


def jwks_bad_tokens(keys: Keys, attacker_url: str) -> list[BadToken]:
    now = int(time.time())

    def good(**extra: Any) -> dict[str, Any]:
        return claims(USER, issuer=ISSUER, audience=AUDIENCE, **extra)

    public = keys.published.public_key()
    spki_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    pkcs1_pem = public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.PKCS1)
    confusion = {"alg": "HS256", "typ": "JWT", "kid": KID}
    attacker_jwk = public_jwk(keys.attacker, KID)
    return [
        BadToken("missing", None),
        BadToken("not-a-jwt", "Bearer not-a-jwt"),
        # HS/RS confusion: HMAC keyed with the published public key, which anyone can fetch
        BadToken("hs256-keyed-with-the-public-key-pem", "Bearer " + forge(confusion, good(), spki_pem)),
        BadToken("hs256-keyed-with-the-public-key-pkcs1-pem", "Bearer " + forge(confusion, good(), pkcs1_pem)),
        BadToken(
            "hs256-keyed-with-the-pem-without-its-newline",
            "Bearer " + forge(confusion, good(), spki_pem.strip()),
        ),
        BadToken("alg-none", "Bearer " + forge({"alg": "none", "typ": "JWT", "kid": KID}, good())),
        BadToken("rs256-by-another-key-under-the-published-kid", rs256(keys.attacker, good())),
        BadToken("rs256-by-another-key-under-its-own-kid", rs256(keys.attacker, good(), kid=ATTACKER_KID)),
        BadToken("rs256-embedding-its-own-jwk", rs256(keys.attacker, good(), jwk=attacker_jwk)),
        BadToken(
            "rs256-pointing-jku-at-the-attackers-jwks",
            rs256(keys.attacker, good(), kid=ATTACKER_KID, jku=attacker_url + JWKS_PATH),
        ),
        BadToken("rs512-by-the-published-key", rs256(keys.published, good(), algorithm="RS512")),
        BadToken("expired", rs256(keys.published, good(iat=now - 7200, exp=now - 3600))),
        BadToken("not-yet-valid-nbf", rs256(keys.published, good(nbf=now + 3600))),
        BadToken("no-exp", rs256(keys.published, good(exp=None))),
        BadToken("wrong-issuer", rs256(keys.published, good(iss="https://evil.example/"))),
        BadToken("wrong-audience", rs256(keys.published, good(aud="another-api"))),
        BadToken("oversized", rs256(keys.published, good(padding="x" * MAX_TOKEN_LENGTH))),
        BadToken("payload-swapped-for-another-user", _swap_payload(rs256(keys.published, good()), good(userId="x"))),
    ]


def _swap_payload(bearer: str, payload: dict[str, Any]) -> str:
    header, _, signature = bearer.removeprefix("Bearer ").split(".")
    return f"Bearer {header}.{b64(json.dumps(payload))}.{signature}"


JWKS_CASES = [
    "missing",
    "not-a-jwt",
    "hs256-keyed-with-the-public-key-pem",
    "hs256-keyed-with-the-public-key-pkcs1-pem",
    "hs256-keyed-with-the-pem-without-its-newline",
    "alg-none",
    "rs256-by-another-key-under-the-published-kid",
    "rs256-by-another-key-under-its-own-kid",
    "rs256-embedding-its-own-jwk",
    "rs256-pointing-jku-at-the-attackers-jwks",
    "rs512-by-the-published-key",
    "expired",
    "not-yet-valid-nbf",
    "no-exp",
    "wrong-issuer",
    "wrong-audience",
    "oversized",
    "payload-swapped-for-another-user",
]


def test_jwks_the_case_list_names_every_forged_token(keys: Keys) -> None:
    assert [token.name for token in jwks_bad_tokens(keys, "http://127.0.0.1:9")] == JWKS_CASES


def test_jwks_control_a_token_signed_by_the_published_key_is_accepted_after_fetching_the_jwks(
    jwks_mode: JwksServer, keys: Keys, invoke: Invoke
) -> None:
    token = rs256(keys.published, claims(USER, issuer=ISSUER, audience=AUDIENCE))

    assert http_refusal(invoke, token) is None
    assert websocket_effect(invoke, token.removeprefix("Bearer ")) == "Allow"
    assert JWKS_PATH in jwks_mode.requests


@pytest.mark.parametrize("name", JWKS_CASES)
def test_jwks_a_forged_or_bad_token_is_refused_on_every_route_and_at_the_websocket_handshake(
    jwks_mode: JwksServer, attacker_site: JwksServer, keys: Keys, invoke: Invoke, api_event: ApiEvent, name: str
) -> None:
    token = by_name(jwks_bad_tokens(keys, attacker_site.url), name)
    attacker_site.requests.clear()

    assert_refused_everywhere(invoke, api_event, token)

    assert attacker_site.requests == []  # the key comes from the configured JWKS_URL, never the token


def test_jwks_a_burst_of_unknown_key_ids_does_not_make_the_api_hammer_the_identity_provider(
    jwks_mode: JwksServer, keys: Keys, invoke: Invoke
) -> None:
    # An unknown kid makes PyJWKClient refetch the JWKS, but at most once per cooldown (30 s): forged
    # tokens cannot turn every request into a request to the identity provider.
    for number in range(20):
        token = rs256(keys.attacker, claims(USER, issuer=ISSUER, audience=AUDIENCE), kid=f"made-up-{number}")
        assert http_refusal(invoke, token) == "Invalid token"

    assert 1 <= jwks_mode.requests.count(JWKS_PATH) <= 2
