"""Lambda authorizer for the HTTP API (simple responses) and the WebSocket API's $connect (policy).

On the HTTP API a refused token is passed on as ``authError`` instead of a deny: API Gateway would
answer a deny with a bare 403 ``{"message": "Forbidden"}``, while our contract is a 401 in the error
envelope. The API function refuses such requests before routing (see functions/api/app.py), so no
route ever runs without a verified ``userId``. The WebSocket handshake is denied outright.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks.adapters.tracing import tracer
from videotasks.domain.errors import UnauthorizedError
from videotasks.edge.auth import verify_token
from videotasks.settings import get_settings

logger = Logger()


def _websocket_policy(effect: str, resource: str, user_id: str = "anonymous") -> dict[str, Any]:
    policy: dict[str, Any] = {
        "principalId": user_id,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if effect == "Allow":
        policy["context"] = {"userId": user_id}
    return policy


def _token(event: dict[str, Any], *, is_websocket: bool) -> str | None:
    """The Authorization header; on the WebSocket handshake also ``?token=``, since browsers cannot set
    headers there. The HTTP API never reads a token from its URL, which access logs, proxies and
    browser history keep."""
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    if headers.get("authorization") or not is_websocket:
        return headers.get("authorization")
    return (event.get("queryStringParameters") or {}).get("token")


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    is_websocket = "methodArn" in event
    try:
        user_id = verify_token(_token(event, is_websocket=is_websocket), get_settings())
    except UnauthorizedError as exc:
        logger.info("refused", extra={"reason": exc.message})
        if is_websocket:
            return _websocket_policy("Deny", event["methodArn"])
        return {"isAuthorized": True, "context": {"authError": exc.message}}
    if is_websocket:
        return _websocket_policy("Allow", event["methodArn"], user_id)
    return {"isAuthorized": True, "context": {"userId": user_id}}
