"""The boundary stands in for langgraph-api's ``PrivateNetworkMiddleware`` (docs/performance.md)."""

from __future__ import annotations

from langgraph_api.middleware.private_network import PrivateNetworkMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from server.app import Boundary

PREFLIGHT = {"Origin": "https://smith.langchain.com", "Access-Control-Request-Method": "GET"}
HEADER = "access-control-allow-private-network"


def app(*middleware: type) -> Starlette:
    """A one-route app behind ``middleware`` (outermost first), as langgraph-api stacks them."""
    routes = [Route("/", lambda request: PlainTextResponse("ok"))]
    cors = Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"])
    return Starlette(routes=routes, middleware=[*(Middleware(m) for m in middleware), cors])


def test_the_boundary_skips_the_private_network_middleware_and_sets_its_header_itself():
    served = app(Boundary, PrivateNetworkMiddleware)
    with TestClient(served) as client:
        preflight = client.options("/", headers=PREFLIGHT)
        boundary = served.middleware_stack.app  # ServerErrorMiddleware -> Boundary
        assert isinstance(boundary, Boundary) and boundary.private_network
        assert not isinstance(boundary.app, PrivateNetworkMiddleware)
    assert preflight.status_code == 200 and preflight.headers[HEADER] == "true"


def test_the_answers_match_the_stock_middleware_s():
    stock, ours = app(PrivateNetworkMiddleware), app(Boundary, PrivateNetworkMiddleware)
    with TestClient(stock) as before, TestClient(ours) as after:
        for method, headers in (("OPTIONS", PREFLIGHT), ("OPTIONS", {}), ("GET", {})):
            a = before.request(method, "/", headers=headers)
            b = after.request(method, "/", headers=headers)
            assert (a.status_code, a.headers.get(HEADER)) == (b.status_code, b.headers.get(HEADER))
            assert (a.headers.get(HEADER) == "true") == (method == "OPTIONS")


def test_without_the_middleware_the_boundary_adds_no_header():
    with TestClient(app(Boundary)) as client:
        assert HEADER not in client.options("/", headers=PREFLIGHT).headers
