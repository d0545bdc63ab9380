"""The WebSocket API's routes: $connect, $disconnect, subscribe, unsubscribe, ping and $default.

One function serves them all (routed by ``requestContext.routeKey``): they share the connection
bookkeeping and one warm container. The message routes are two-way (route responses in template.yaml), so
the reply is this function's return value and API Gateway sends it to the client: no ManageConnections
permission here. The user is the ``userId`` our authorizer put into the ``$connect`` context, which API
Gateway passes with every later message of the connection.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.typing import LambdaContext

from videotasks import wiring
from videotasks.adapters.tracing import tracer
from videotasks.domain import messages
from videotasks.domain.socket_outbound import error, now_ms
from videotasks.edge import language

logger = Logger()


def _body(event: dict[str, Any]) -> str | None:
    body = event.get("body")
    if body is not None and event.get("isBase64Encoded"):
        return base64.b64decode(body).decode("utf-8", errors="replace")
    return body


@logger.inject_lambda_context(log_event=False, clear_state=True)
@tracer.capture_lambda_handler(capture_response=False)  # replies carry tasks and presigned URLs
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = event["requestContext"]
    route_key, connection_id = request["routeKey"], request["connectionId"]
    logger.append_keys(connectionId=connection_id, routeKey=route_key)
    service = wiring.realtime()
    if route_key == "$disconnect":
        service.disconnect(connection_id)
        return {"statusCode": 200}
    authorizer = request.get("authorizer") or {}
    user_id = authorizer.get("userId")
    if route_key == "$connect":
        if not user_id:  # $connect is authorised, so only a misconfigured API gets here
            return {"statusCode": 401}
        service.connect(connection_id, str(user_id), language.of_request(event, query=True))
        return {"statusCode": 200}
    # Later frames carry no headers: the language chosen at the handshake comes back with the authorizer's
    # context, which API Gateway passes with every message of the connection.
    lang = messages.as_lang(authorizer.get("lang"))
    if not user_id:
        refusal = error("UNAUTHORIZED", messages.render("missing_token", lang), timestamp_ms=now_ms())
        return {"statusCode": 200, "body": json.dumps(refusal, ensure_ascii=False)}
    reply = service.handle(connection_id, str(user_id), route_key, _body(event), lang)
    return {"statusCode": 200, "body": json.dumps(reply, ensure_ascii=False)}
