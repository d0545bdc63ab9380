"""Local dev JWTs, signed the way the Sora UI auth service signs them (HS256, ``userId`` claim)."""

from __future__ import annotations

import argparse
import os
import time
import warnings

import jwt
from jwt.warnings import InsecureKeyLengthWarning

DEFAULT_TTL_SECONDS = 7 * 24 * 3600


def make_token(
    user_id: str, secret: str | None = None, ttl_seconds: int = DEFAULT_TTL_SECONDS, **claims: object
) -> str:
    now = int(time.time())
    payload = {"userId": user_id, "sub": user_id, "iat": now, "exp": now + ttl_seconds, **claims}
    return jwt.encode(payload, secret or os.environ.get("JWT_SECRET") or "local-dev-secret", algorithm="HS256")


def main() -> None:
    # The default local secret is shorter than RFC 7518 recommends; it never leaves this machine.
    warnings.filterwarnings("ignore", category=InsecureKeyLengthWarning)
    parser = argparse.ArgumentParser(description="Print a local dev JWT")
    parser.add_argument("--user", default="dev-user")
    parser.add_argument("--ttl", type=int, default=DEFAULT_TTL_SECONDS, help="seconds until it expires")
    parser.add_argument("--plan", help="the plan claim (a plan of PLANS; none: the default plan)")
    args = parser.parse_args()
    claims = {"plan": args.plan} if args.plan else {}
    print(make_token(args.user, ttl_seconds=args.ttl, **claims))


if __name__ == "__main__":
    main()
