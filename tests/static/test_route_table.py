"""One route table: template.yaml's HttpApi events, the API resolver's routes and the OpenAPI document's
operations name the same routes. The routes are written once, as the resolver's decorators in
functions/api/app.py; the template must route each of them to the API function, the public set and
404-vs-405 are read from the resolver (``edge.openapi.RouteTable``), and the document is generated from it.
"""

from __future__ import annotations

import json

from local.openapi_export import DOCUMENT_PATH, api_module
from local.template import http_routes, load_template
from videotasks.edge.openapi import BASE_PATH
from videotasks.edge.public_url import WEBHOOK_ROUTE

# Template routes of the API function that are no route of the resolver: they hand what no route takes
# (an unknown path, or the API's root, which {proxy+} cannot match: it needs one segment) to the function,
# which answers a 404 or 405 in the envelope.
CATCH_ALLS = {f"ANY {BASE_PATH}/{{proxy+}}", f"ANY {BASE_PATH}"}
# Routes the resolver serves outside the document: the document itself and its Swagger UI page.
UNDOCUMENTED = {f"GET {BASE_PATH}/openapi.json", f"GET {BASE_PATH}/docs"}


def _template_routes() -> dict[str, str]:
    """HttpApi route key -> the function it reaches."""
    return {f"{route.method} {route.path}": route.function for route in http_routes(load_template())}


def _documented() -> set[str]:
    paths = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))["paths"]
    return {f"{method.upper()} {path}" for path, operations in paths.items() for method in operations}


def test_the_template_routes_every_resolver_route_to_the_api_function_and_nothing_else():
    resolver = api_module().ROUTES.route_keys()
    template = _template_routes()
    to_api = {key for key, function in template.items() if function == "ApiFunction"}
    assert to_api - CATCH_ALLS == resolver, "template.yaml's ApiFunction events and the routes of functions/api/app.py"
    assert to_api >= CATCH_ALLS
    # Other functions' routes: only the provider webhook, which has its own function (it authenticates
    # the provider's signature, never a user's token).
    assert {key for key, function in template.items() if function != "ApiFunction"} == {WEBHOOK_ROUTE}


def test_the_document_has_an_operation_for_every_resolver_route_but_its_own_pages():
    resolver = api_module().ROUTES.route_keys()
    assert resolver >= UNDOCUMENTED
    assert _documented() == resolver - UNDOCUMENTED


def test_public_routes_are_read_from_the_resolver_and_documented_as_needing_no_token():
    routes = api_module().ROUTES
    assert routes.public == {f"GET {BASE_PATH}/health", *UNDOCUMENTED}
    paths = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))["paths"]
    public_operations = {
        f"{method.upper()} {path}"
        for path, operations in paths.items()
        for method, operation in operations.items()
        if operation.get("security") == []
    }
    assert public_operations == routes.public - UNDOCUMENTED


def test_404_and_405_follow_the_resolver_routes():
    routes = api_module().ROUTES
    assert routes.allowed_methods(f"{BASE_PATH}/tasks") == {"GET", "POST"}
    assert routes.allowed_methods(f"{BASE_PATH}/tasks/anything/cancel/") == {"POST"}
    assert routes.allowed_methods(f"{BASE_PATH}/tasks/a/b/c") is None
    assert routes.allowed_methods(BASE_PATH) is None
