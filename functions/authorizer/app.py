"""Lambda authorizer of the WebSocket API's $connect (REQUEST, IAM policy): a refused token is a deny.

The HTTP API has none: its function verifies the token itself (functions/api/app.py).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks.adapters.tracing import tracer
from videotasks.domain.errors import UnauthorizedError
from videotasks.edge import language
from videotasks.edge.auth import verify_token
from videotasks.settings import get_settings

logger = Logger()


def _websocket_policy(effect: str, resource: str, user_id: str = "anonymous", lang: str = "en") -> dict[str, Any]:
    policy: dict[str, Any] = {
        "principalId": user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if effect == "Allow":
        # lang: the connection's language, chosen at the handshake; API Gateway hands the context to every
        # later message of the connection, which carries no headers of its own.
        policy["context"] = {"userId": user_id, "lang": lang}
    return policy


def _token(event: dict[str, Any]) -> str | None:
    """The Authorization header, else ``?token=``: browsers cannot set headers on the WebSocket handshake."""
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    return headers.get("authorization") or (event.get("queryStringParameters") or {}).get("token")


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        user_id = verify_token(_token(event), get_settings())
    except UnauthorizedError as exc:
        logger.info("refused", extra={"reason": exc.message})
        return _websocket_policy("Deny", event["methodArn"])
    return _websocket_policy("Allow", event["methodArn"], user_id, language.of_request(event, query=True))
