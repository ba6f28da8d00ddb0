"""The boundary stands in for langgraph-api's ``PrivateNetworkMiddleware`` (docs/performance.md)."""

from __future__ import annotations

import pytest
from langgraph_api.middleware.private_network import PrivateNetworkMiddleware
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from graphs.common import fence
from server.app import Boundary

PREFLIGHT = {"Origin": "https://smith.langchain.com", "Access-Control-Request-Method": "GET"}
HEADER = "access-control-allow-private-network"
REQUESTS = (("OPTIONS", PREFLIGHT), ("OPTIONS", {}), ("GET", {}))


def app(*middleware: type, **cors_options: bool) -> Starlette:
    """A one-route app behind ``middleware`` (outermost first), as langgraph-api stacks them."""
    routes = [Route("/", lambda request: PlainTextResponse("ok"))]
    cors = Middleware(CORSMiddleware, allow_origins=["*"], allow_methods=["*"], **cors_options)
    return Starlette(routes=routes, middleware=[*(Middleware(m) for m in middleware), cors])


def answers(served: Starlette) -> list[tuple[int, str | None]]:
    with TestClient(served) as client:
        found = [client.request(m, "/", headers=h) for m, h in REQUESTS]
    return [(a.status_code, a.headers.get(HEADER)) for a in found]


@pytest.fixture
def skipping(monkeypatch):
    """The boundary as the server sets it when the fence finds the entry ok."""
    monkeypatch.setattr(Boundary, "skip_private_network", True)


def test_the_fence_finds_the_middleware_it_was_written_for():
    assert fence.finding("private-network-header").status == "ok"
    inner = app()
    assert fence.past_private_network(PrivateNetworkMiddleware(inner)) is inner
    assert fence.past_private_network(inner) is None


def test_the_boundary_skips_the_middleware_and_answers_as_it_would(skipping, monkeypatch):
    """The stock middleware's statuses and private-network headers; it never runs."""
    stock = answers(app(PrivateNetworkMiddleware))

    async def never(self, request, call_next):
        raise AssertionError("the boundary went through PrivateNetworkMiddleware")

    monkeypatch.setattr(PrivateNetworkMiddleware, "dispatch", never)
    assert answers(app(Boundary, PrivateNetworkMiddleware)) == stock
    assert [header for _, header in stock] == ["true", "true", None]


def test_unless_the_fence_says_so_the_stock_middleware_runs(monkeypatch):
    assert Boundary.skip_private_network is False  # what a server has before its start-up check
    seen = []
    original = PrivateNetworkMiddleware.dispatch

    async def counted(self, request, call_next):
        seen.append(request.method)
        return await original(self, request, call_next)

    monkeypatch.setattr(PrivateNetworkMiddleware, "dispatch", counted)
    assert [h for _, h in answers(app(Boundary, PrivateNetworkMiddleware))] == [
        "true",
        "true",
        None,
    ]
    assert seen == ["OPTIONS", "OPTIONS", "GET"]


def test_without_the_middleware_the_boundary_adds_no_header(skipping):
    assert [h for _, h in answers(app(Boundary))] == [None, None, None]


def test_a_header_the_cors_settings_set_already_is_not_doubled(skipping):
    """``http.cors.allow_private_network`` makes the CORS middleware set it first."""
    asked = {**PREFLIGHT, "Access-Control-Request-Private-Network": "true"}
    with TestClient(app(Boundary, PrivateNetworkMiddleware, allow_private_network=True)) as client:
        answer = client.options("/", headers=asked)
    assert answer.status_code == 200
    assert answer.headers.get_list(HEADER) == ["true"]
