"""Hostile tokens and the routes they are thrown at, shared by the in-process and the local-stack tests.

Every token here is one defect away from a valid one (the right secret, a live ``exp``, the configured
issuer and audience), so a refusal can only come from that defect. ``valid`` builds the control token
each test also sends: were the API accepting nothing, every refusal test would pass for no reason.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import warnings
from dataclasses import dataclass
from typing import Any

import jwt

from local.openapi_export import api_module
from local.template import HttpRoute, http_routes, load_template
from videotasks.edge.auth import MAX_TOKEN_LENGTH
from videotasks.edge.public_url import WEBHOOK_ROUTE

# A well-formed id nobody owns: the routes that take one are reached, and answer 404 when authorised.
UNKNOWN_VIDEO_ID = "video_00000000-0000-4000-8000-000000000000"
HOUR = 3600


def b64(data: bytes | str) -> str:
    raw = data.encode() if isinstance(data, str) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def forge(header: dict[str, Any], payload: dict[str, Any], key: bytes | None = None) -> str:
    """A compact JWS put together by hand, for what PyJWT refuses to make: HS256 keyed with an RSA
    public key (``key``), or no signature at all (``key=None``)."""
    signing_input = f"{b64(json.dumps(header))}.{b64(json.dumps(payload))}"
    signature = b64(hmac.new(key, signing_input.encode(), hashlib.sha256).digest()) if key is not None else ""
    return f"{signing_input}.{signature}"


def claims(user_id: str, *, issuer: str = "", audience: str = "", **extra: Any) -> dict[str, Any]:
    """Claims of a valid token for ``user_id``; ``extra`` changes or (with None) drops any of them."""
    now = int(time.time())
    values: dict[str, Any] = {"userId": user_id, "sub": user_id, "iat": now, "exp": now + HOUR}
    if issuer:
        values["iss"] = issuer
    if audience:
        values["aud"] = audience
    values.update(extra)
    return {name: value for name, value in values.items() if value is not None}


@dataclass(frozen=True)
class BadToken:
    """What a client sends as ``Authorization`` (None: no header at all), and why it must be refused."""

    name: str
    authorization: str | None

    @property
    def query_token(self) -> str:
        """The same token as a WebSocket client passes it (``?token=``), without the Bearer prefix."""
        return (self.authorization or "").removeprefix("Bearer ").strip()


def hs256_bad_tokens(user_id: str, secret: str, *, issuer: str = "", audience: str = "") -> list[BadToken]:
    """Tokens an HS256 deployment (shared ``secret``) must refuse, each aimed at ``user_id``."""

    def good(**extra: Any) -> dict[str, Any]:
        return claims(user_id, issuer=issuer, audience=audience, **extra)

    def signed(payload: dict[str, Any], key: str = secret, algorithm: str = "HS256") -> str:
        with warnings.catch_warnings():  # HS512 wants a longer key than the deployment's; beside the point
            warnings.simplefilter("ignore", jwt.warnings.InsecureKeyLengthWarning)
            return "Bearer " + jwt.encode(payload, key, algorithm=algorithm)

    now = int(time.time())
    genuine = jwt.encode(good(), secret, algorithm="HS256")
    header, _, signature = genuine.split(".")
    tokens = [
        BadToken("missing", None),
        BadToken("empty", "Bearer "),
        BadToken("not-a-jwt", "Bearer not-a-jwt"),
        BadToken("three-garbage-segments", "Bearer a.b.c"),
        BadToken("header-only", f"Bearer {header}"),
        BadToken("payload-not-json", f"Bearer {header}.{b64('not json')}.{signature}"),
        BadToken("alg-none", "Bearer " + forge({"alg": "none", "typ": "JWT"}, good())),
        BadToken("alg-None-capitalised", "Bearer " + forge({"alg": "None", "typ": "JWT"}, good())),
        # the header says none, the signature is a real one of another payload
        BadToken("alg-none-with-a-signature", "Bearer " + forge({"alg": "none"}, good()) + signature),
        BadToken("wrong-secret", signed(good(), key="not-the-deployment-secret-0123456789abcdef")),
        BadToken("hs512-with-the-right-secret", signed(good(), algorithm="HS512")),
        BadToken("expired", signed(good(iat=now - 2 * HOUR, exp=now - HOUR))),
        BadToken("not-yet-valid-nbf", signed(good(nbf=now + HOUR))),
        BadToken("issued-in-the-future", signed(good(iat=now + HOUR))),
        BadToken("no-exp", signed(good(exp=None))),
        BadToken("exp-not-a-number", signed(good(exp="tomorrow"))),
        BadToken("no-user-claim", signed(good(userId=None, sub=None))),
        BadToken(
            "payload-swapped-for-another-user",
            f"Bearer {header}.{b64(json.dumps(good(userId='admin', sub='admin')))}.{signature}",
        ),
        BadToken("oversized", signed(good(padding="x" * MAX_TOKEN_LENGTH))),
    ]
    if issuer:
        tokens += [
            BadToken("wrong-issuer", signed(good(iss="https://evil.example"))),
            BadToken("no-issuer", signed(good(iss=None))),
        ]
    if audience:
        tokens += [
            BadToken("wrong-audience", signed(good(aud="another-api"))),
            BadToken("no-audience", signed(good(aud=None))),
        ]
    return tokens


def valid_hs256(user_id: str, secret: str, *, issuer: str = "", audience: str = "") -> str:
    return "Bearer " + jwt.encode(claims(user_id, issuer=issuer, audience=audience), secret, algorithm="HS256")


def by_name(tokens: list[BadToken], name: str) -> BadToken:
    (token,) = [token for token in tokens if token.name == name]
    return token


# The names, for parametrising (the tokens themselves are made in the test, with fresh times).
HS256_CASES = [token.name for token in hs256_bad_tokens("u", "s" * 32, issuer="i", audience="a")]


@dataclass(frozen=True)
class Route:
    """One route of the template, made concrete: what a client requests and what API Gateway passes on."""

    method: str
    path: str
    route_key: str
    path_parameters: dict[str, str] | None
    authorized: bool

    def __str__(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def body(self) -> dict[str, Any] | None:
        """A valid body where the route takes one, so only the token can be what is wrong."""
        return {"prompt": "a paper boat on a rainy street"} if self.method == "POST" else None


# The API function's public route keys, as its own route table says.
PUBLIC_ROUTES: frozenset[str] = api_module().ROUTES.public


def authorised_routes() -> list[Route]:
    """Every HTTP route of template.yaml that needs a token (all but the API function's public ones), made
    concrete; the catch-all route is reached by a path no other route takes. New routes join by being added
    to the template."""
    concrete = map(_concrete, http_routes(load_template()))
    # Provider webhooks carry a provider's signature, never a user's token (tests/e2e/test_webhooks_e2e.py).
    routes = {str(route): route for route in concrete if route.route_key not in PUBLIC_ROUTES | {WEBHOOK_ROUTE}}
    return [routes[name] for name in sorted(routes)]


def _concrete(route: HttpRoute) -> Route:
    method = "POST" if route.method == "ANY" else route.method
    values = {"videoId": UNKNOWN_VIDEO_ID, "proxy": "no-such-route", "provider": "replicate"}
    names = [name.rstrip("+") for name in re.findall(r"\{([^}]+)\}", route.path)]
    unknown = set(names) - set(values)
    assert not unknown, f"path parameters this module does not know: {route.path}"
    path = re.sub(r"\{([^}+]+)\+?\}", lambda found: values[found.group(1)], route.path)
    parameters = {name: values[name] for name in names} or None
    return Route(
        method, path, f"{route.method} {route.path}", parameters, f"{route.method} {route.path}" not in PUBLIC_ROUTES
    )
