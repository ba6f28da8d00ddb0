"""The approvals inbox: a page and its API, served by the LangGraph server itself.

``/inbox`` is a static page (HTML, CSS and JS in ``server/static``, nothing from a
CDN). Everything it shows comes from ``/inbox/api/*``, which requires the same
bearer token as the rest of the server and works through the project's own SDK
client (``sdk_client.HitlClient``) against this server, over HTTP with the
caller's token: the same authentication, the same authorization filters and the
same answer checks as every other client.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from sdk_client.answers import build_answer
from sdk_client.transport import ClientError, HitlClient, Outcome
from server.auth import token_of

STATIC = Path(__file__).parent / "static"
PUBLIC_PATHS = ("/inbox", "/inbox/", "/inbox/static/")
"""What loads without a token: the page itself, which holds no data."""

STATUS_FOR = {"invalid": 422, "refused": 422, "stale": 409, "conflict": 409, "not_found": 404,
              "auth": 403, "unreachable": 502}  # fmt: skip


def own_url(request: Request) -> str:
    """How this server reaches itself: ``HITL_SELF_URL``, else loopback on the port it listens on.

    Never the request's ``Host`` header: the caller's token would go wherever it names.
    """
    if url := os.environ.get("HITL_SELF_URL"):
        return url.rstrip("/")
    _host, port = request.scope["server"]
    return f"http://127.0.0.1:{port}"


def client_for(request: Request) -> HitlClient:
    """The project's SDK client, signed in as the caller."""
    token = token_of(request.headers.get("authorization"), request.headers.get("x-api-key"))
    if not token:
        raise HTTPException(401, "sign in with a token")
    return HitlClient(own_url(request), token=token)


def user_of(request: Request) -> tuple[str, str]:
    """``(identity, role)`` of the signed-in caller."""
    user = request.user
    return user.identity, getattr(user, "role", None) or user["role"]


async def page(request: Request) -> Response:
    """The inbox page."""
    return FileResponse(STATIC / "inbox.html")


async def static(request: Request) -> Response:
    """The page's script and style sheet."""
    name = request.path_params["name"]
    if name not in ("inbox.js", "inbox.css"):
        raise HTTPException(404)
    return FileResponse(STATIC / name)


async def me(request: Request) -> JSONResponse:
    """Who is signed in."""
    identity, role = user_of(request)
    return JSONResponse({"identity": identity, "role": role})


async def items(request: Request) -> JSONResponse:
    """Every pending pause the caller may answer, newest first."""
    identity, role = user_of(request)
    async with client_for(request) as client:
        outcomes = await client.pending(waiting_for=role, limit=100)
        outcomes += await client.pending(waiting_for=f"user:{identity}", limit=100)
    found = [
        item_of(outcome, interrupt)
        for outcome in outcomes
        for interrupt in outcome.interrupts
        if addressed_to(interrupt.get("value"), identity, role)
    ]
    found.sort(key=lambda item: item["waiting_since"], reverse=True)
    return JSONResponse(found)


async def history(request: Request) -> JSONResponse:
    """Finished workflows the caller may see, with their outcome and audit trail."""
    async with client_for(request) as client:
        outcomes = await client.finished(limit=50)
    return JSONResponse([
        {
            "thread_id": o.thread_id,
            "workflow": o.graph_id,
            "finished": o.updated_at,
            "outcome": o.values.get("status") or "finished",
            "request": request_of(o.values),
            "audit": o.values.get("audit") or o.values.get("reviews") or [],
        }
        for o in outcomes
    ])  # fmt: skip


async def answer(request: Request) -> JSONResponse:
    """Answer one pause (a JSON body: thread_id, interrupt_id, decision, note, changes, args)."""
    body = await request.json()
    if not isinstance(body, dict) or not body.get("thread_id") or not body.get("interrupt_id"):
        return JSONResponse({"error": "thread_id and interrupt_id are required"}, status_code=422)
    try:
        async with client_for(request) as client:
            outcome = await _answer(client, body)
    except ClientError as exc:
        return JSONResponse({"error": str(exc), "kind": exc.kind},
                            status_code=STATUS_FOR.get(exc.kind, 400))  # fmt: skip
    return JSONResponse({"thread_id": outcome.thread_id, "state": outcome.state,
                         "status": outcome.values.get("status")})  # fmt: skip


async def _answer(client: HitlClient, body: dict[str, Any]) -> Outcome:
    """Build the answer for the pause the page showed, and send it as a resume."""
    outcome = await client.status(body["thread_id"])
    pause = next((i for i in outcome.interrupts if i["id"] == body["interrupt_id"]), None)
    if pause is None:
        raise ClientError("already answered elsewhere: this item is stale", kind="stale")
    value = build_answer(
        str(body.get("decision")),
        payload=pause.get("value") if isinstance(pause.get("value"), dict) else None,
        note=body.get("note"),
        changes=body.get("changes") or None,
        args=body.get("args"),
    )
    return await client.resume(body["thread_id"], value, body["interrupt_id"], outcome)


def addressed_to(value: Any, identity: str, role: str) -> bool:
    """Whether the caller may answer a pause with this payload."""
    if not isinstance(value, dict):
        return False
    return value.get("role") == role if value.get("role") else value.get("user") == identity


def request_of(values: dict[str, Any]) -> dict[str, Any]:
    """The request a workflow is about, for display."""
    keys = ("amount", "description", "requester", "category", "customer", "order_id")
    return {k: values[k] for k in keys if values.get(k) is not None}


def item_of(outcome: Outcome, interrupt: dict[str, Any]) -> dict[str, Any]:
    """One inbox item: what to decide, on what, since when, and what came before."""
    value = interrupt["value"]
    request = value.get("request") or request_of(value)
    if value.get("type") == "tool_approval":
        request = {"tool": value.get("name"), "args": value.get("args")}
    return {
        "thread_id": outcome.thread_id,
        "interrupt_id": interrupt["id"],
        "workflow": outcome.graph_id,
        "kind": value.get("type"),
        "waiting_for": value.get("role") or f"user:{value.get('user')}",
        "waiting_since": outcome.updated_at,
        "age_seconds": _age(outcome.updated_at),
        "due_at": value.get("due_at"),
        "request": request,
        "options": value.get("options") or [],
        "editable": editable(value),
        "history": value.get("history") or outcome.values.get("audit") or [],
        "error": value.get("error"),
        "details": {k: v for k, v in value.items() if k in ("step", "levels", "payment_error")},
    }


def editable(value: dict[str, Any]) -> dict[str, Any]:
    """The fields an edit may change (the pause says which), with their current values."""
    current = (value.get("action_request") or {}).get("args") or {}
    return {field: current.get(field) for field in value.get("editable") or []}


def _age(since: str | None) -> float | None:
    try:
        return (datetime.now(UTC) - datetime.fromisoformat(str(since))).total_seconds()
    except ValueError:
        return None


routes = [
    Route("/inbox", page),
    Route("/inbox/", page),
    Route("/inbox/static/{name}", static),
    Route("/inbox/api/me", me),
    Route("/inbox/api/items", items),
    Route("/inbox/api/history", history),
    Route("/inbox/api/answer", answer, methods=["POST"]),
]
