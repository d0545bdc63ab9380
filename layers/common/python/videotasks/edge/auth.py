"""JWT verification shared by the HTTP authorizer and the WebSocket ``$connect`` authorizer.

HS256 with a shared secret (what the existing Sora UI auth service signs) or RS256 against a JWKS
URL. The user id is the ``userId`` claim, else ``sub``; the plan (its limits) the ``plan`` claim. A
``Bearer `` prefix is optional. A token must carry ``exp`` unless ``JWT_ALLOW_NO_EXP`` is on; an ``exp`` in
the past is refused either way.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import jwt

from videotasks.adapters.secrets import get_secret
from videotasks.domain.errors import UnauthorizedError
from videotasks.settings import Settings

MAX_TOKEN_LENGTH = 8192
MAX_PLAN_CHARS = 64
_LEEWAY_SECONDS = 30


def strip_bearer(raw: str | None) -> str:
    token = (raw or "").strip()
    if token.lower() == "bearer" or token[:7].lower() == "bearer ":
        token = token[6:].strip()
    return token


@functools.cache
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, lifespan=600, timeout=5)


@dataclass(frozen=True)
class Caller:
    user_id: str
    # The token's ``plan`` claim (videotasks.domain.plans); None when it has none, or not a short string.
    plan: str | None = None


def verify_token(raw: str | None, settings: Settings) -> str:
    """Return the caller's user id, or raise ``UnauthorizedError`` saying what is wrong."""
    return verify_caller(raw, settings).user_id


def verify_caller(raw: str | None, settings: Settings) -> Caller:
    """The caller: user id and plan claim; or raise ``UnauthorizedError`` saying what is wrong."""
    token = strip_bearer(raw)
    if not token:
        raise UnauthorizedError(key="missing_token")
    if len(token) > MAX_TOKEN_LENGTH:
        raise UnauthorizedError(key="token_too_large")
    # A token without exp never expires: refused unless the deployment says its issuer signs such tokens.
    options: Any = {"require": [] if settings.jwt_allow_no_exp else ["exp"], "verify_aud": bool(settings.jwt_audience)}
    try:
        if settings.jwt_mode == "jwks":
            signing_key = _jwks_client(settings.jwks_url).get_signing_key_from_jwt(token).key
            claims = jwt.decode(
                token,
                signing_key,
                algorithms=["RS256"],
                audience=settings.jwt_audience or None,
                issuer=settings.jwt_issuer or None,
                leeway=_LEEWAY_SECONDS,
                options=options,
            )
        else:
            claims = jwt.decode(
                token,
                get_secret(settings.jwt_secret_name),
                algorithms=["HS256"],
                audience=settings.jwt_audience or None,
                issuer=settings.jwt_issuer or None,
                leeway=_LEEWAY_SECONDS,
                options=options,
            )
    except jwt.ExpiredSignatureError as exc:
        raise UnauthorizedError(key="token_expired") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise UnauthorizedError(key="token_no_expiry" if exc.claim == "exp" else "invalid_token") from exc
    except jwt.PyJWTError as exc:
        raise UnauthorizedError(key="invalid_token") from exc
    user_id = claims.get("userId") or claims.get("sub")
    if not isinstance(user_id, str | int) or not str(user_id).strip():
        raise UnauthorizedError(key="token_no_subject")
    plan = claims.get("plan")
    return Caller(str(user_id), plan if isinstance(plan, str) and 0 < len(plan) <= MAX_PLAN_CHARS else None)
