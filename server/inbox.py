"""The approvals inbox: a page and its API, served by the LangGraph server itself.

``/inbox`` is a static page (HTML, CSS and JS in ``server/static``, nothing from a
CDN). Everything it shows comes from ``/inbox/api/*``, which requires the same
token as the rest of the server. The API works through the server's in-process
client, signed in as the caller (:func:`as_caller`): the same authorization
filters and the same run rules (``server.guard``) as every other client, with no
loopback HTTP. Answers are built by the domain's own ``build_answer``.
"""

from __future__ import annotations

import html
import logging
import os
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from graphs.common.access import refusal
from graphs.common.audit import trail
from graphs.common.decisions import build_answer, refusals
from graphs.common.pauses import headline, request_fields, request_of, title_of
from server.auth import caller, example_users_active
from server.guard import last_decision
from server.threads import pending_pauses

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
PUBLIC_PATHS = ("/inbox", "/inbox/", "/inbox/static/")
"""What loads without a token: the page itself, which holds no data."""

KIND_FOR = {403: "auth", 404: "not_found", 409: "stale", 413: "invalid", 422: "invalid"}


@asynccontextmanager
async def as_caller(request: Request) -> AsyncIterator[LangGraphClient]:
    """The server's in-process client, acting as the signed-in caller.

    Custom routes run outside langgraph-api's own routes, which set its auth
    context; ``with_user`` (langgraph-api's) sets it for the calls made here, so
    the resource handlers filter and check exactly as for an HTTP client.
    """
    from graphs.common.fence import with_user  # noqa: PLC0415 - langgraph-api's, fenced

    async with with_user(request.user, request.scope.get("auth")):
        yield get_client()


PAGE = (STATIC / "inbox.html").read_text()


async def page(request: Request) -> Response:
    """The inbox page (under ``langgraph dev`` with the example users, it names their tokens)."""
    hint = ""
    if users := example_users_active():
        who = ", ".join(f"{u.identity} ({u.role}): <code>{html.escape(u.token)}</code>"
                        for u in users)  # fmt: skip
        hint = (f'<p class="hint" id="dev-users">This development server signs in the example '
                f"users of <code>.env.example</code>: {who}. Replace their tokens in "
                "<code>.env</code> before anyone else can reach it.</p>")  # fmt: skip
    return HTMLResponse(PAGE.replace("<!--DEV-USERS-->", hint))


async def static(request: Request) -> Response:
    """The page's script and style sheet."""
    name = request.path_params["name"]
    if name not in ("inbox.js", "inbox.css"):
        raise HTTPException(404)
    return FileResponse(STATIC / name)


def currency() -> str | None:
    """The deployment's currency (``HITL_CURRENCY``, an ISO 4217 code; default USD).

    None when the setting is not a currency code: the page then shows plain amounts
    rather than a currency the deployment did not name.
    """
    code = (os.environ.get("HITL_CURRENCY") or "USD").strip().upper()
    if re.fullmatch(r"[A-Z]{3}", code):
        return code
    logger.error("HITL_CURRENCY=%r is not an ISO 4217 code (such as USD or EUR)", code)
    return None


async def me(request: Request) -> JSONResponse:
    """Who is signed in, and the deployment's currency (None: amounts are shown plain)."""
    identity, role = caller(request)
    return JSONResponse({"identity": identity, "role": role, "currency": currency()})


async def items(request: Request) -> JSONResponse:
    """Every pending pause the caller may answer, newest first."""
    identity, role = caller(request)
    threads = []
    async with as_caller(request) as client:
        for waiting_for in (role, f"user:{identity}"):
            threads += await client.threads.search(
                status="interrupted", metadata={"waiting_for": waiting_for}, limit=100
            )
    found = [
        item_of(thread, pause)
        for thread in threads
        for pause in pending_pauses(thread)
        if refusal(pause.get("value"), identity, role, approves=False) is None
    ]
    found.sort(key=lambda item: item["waiting_since"], reverse=True)
    return JSONResponse(found)


async def history(request: Request) -> JSONResponse:
    """Finished workflows the caller may see, with their outcome and audit trail."""
    async with as_caller(request) as client:
        threads = await client.threads.search(
            status="idle", limit=50, sort_by="updated_at", sort_order="desc"
        )
    done = []
    for thread in threads:  # a thread with nothing to show (no run yet) is skipped
        values = thread.get("values") or {}
        if not values:
            continue
        workflow = (thread.get("metadata") or {}).get("graph_id")
        request = request_of(values)
        done.append({
            "thread_id": str(thread["thread_id"]),
            "workflow": workflow,
            "title": title_of(workflow),
            "finished": str(thread.get("updated_at")),
            "outcome": values.get("status") or "finished",
            "request": request,
            **headline(request),
            "audit": trail(values),
        })  # fmt: skip
    return JSONResponse(done)


async def answer(request: Request) -> JSONResponse:
    """Answer one pause (a JSON body: thread_id, interrupt_id, decision, note, changes, args)."""
    body = await request.json()
    if not isinstance(body, dict) or not body.get("thread_id") or not body.get("interrupt_id"):
        return refused(422, "thread_id and interrupt_id are required", "invalid")
    thread_id, pause_id = str(body["thread_id"]), str(body["interrupt_id"])
    async with as_caller(request) as client:
        try:
            thread = await client.threads.get(thread_id)
            pause = next((p for p in pending_pauses(thread) if p["id"] == pause_id), None)
            if pause is None:
                decisions = trail(thread.get("values"))
                return refused(409, "already answered elsewhere: this item is stale"
                               + last_decision(thread), "stale",
                               last=decisions[-1] if decisions else None)  # fmt: skip
            value = pause.get("value") if isinstance(pause.get("value"), dict) else {}
            try:
                resume = build_answer(
                    str(body.get("decision")),
                    payload=value,
                    note=body.get("note"),
                    changes=body.get("changes") or None,
                    args=body.get("args"),
                )
            except ValueError as exc:
                return refused(422, str(exc), "invalid")
            graph_id = (thread.get("metadata") or {}).get("graph_id")
            result = await client.runs.wait(
                thread_id, graph_id, command={"resume": {pause_id: resume}},
                multitask_strategy="reject", raise_error=False,
            )  # fmt: skip
            after = await client.threads.get(thread_id)
        except (APIStatusError, httpx.HTTPStatusError) as exc:
            status, detail = status_and_detail(exc)
            kind = "conflict" if "already running" in detail else KIND_FOR.get(status, "error")
            return refused(status, detail, kind)
    raised = result.get("__interrupt__") if isinstance(result, dict) else None
    if errors := refusals(raised, pending_pauses(thread)):
        return refused(422, f"the workflow refused the answer: {errors[0]}", "refused")
    values = after.get("values") or {}
    state = {"interrupted": "waiting", "idle": "finished", "error": "failed", "busy": "running"}
    waiting_for = (after.get("metadata") or {}).get("waiting_for")
    return JSONResponse({"thread_id": thread_id, "state": state.get(after["status"]),
                         "status": values.get("status"), "waiting_for": waiting_for})  # fmt: skip


def status_and_detail(exc: APIStatusError | httpx.HTTPStatusError) -> tuple[int, str]:
    """The status and the server's reason of a refused call."""
    if isinstance(exc, APIStatusError):
        status, body = exc.status_code, exc.body
    else:
        status = exc.response.status_code
        try:
            body = exc.response.json()
        except ValueError:
            body = exc.response.text
    detail = body.get("detail") if isinstance(body, dict) else body
    return status, str(detail or exc)


def refused(status: int, error: str, kind: str, **extra: Any) -> JSONResponse:
    """An answer that was not applied, and why (a stale one: ``last``, the decision that won)."""
    return JSONResponse({"error": error, "kind": kind, **extra}, status_code=status)


def item_of(thread: dict[str, Any], pause: dict[str, Any]) -> dict[str, Any]:
    """One inbox item: what to decide, on what, since when, and what came before."""
    value = pause["value"]
    request = request_fields(value)
    since = str(thread.get("updated_at"))
    workflow = (thread.get("metadata") or {}).get("graph_id")
    kind = value.get("type")
    said = headline(request)
    if kind == "payment_failed":
        said["summary"] = f"Payment failed: {said['summary']}"
    return {
        "thread_id": str(thread["thread_id"]),
        "interrupt_id": pause["id"],
        "workflow": workflow,
        "title": title_of(workflow) + (" tool call" if kind == "tool_approval" else ""),
        **said,
        "kind": kind,
        "waiting_for": value.get("role") or f"user:{value.get('user')}",
        "waiting_since": since,
        "age_seconds": _age(since),
        "due_at": value.get("due_at"),
        "request": request,
        "options": value.get("options") or [],
        "editable": editable(value),
        "history": value.get("history") or (thread.get("values") or {}).get("audit") or [],
        "error": value.get("error"),
        "details": {k: v for k, v in value.items() if k in ("step", "levels", "payment_error")},
    }


def editable(value: dict[str, Any]) -> dict[str, Any]:
    """The fields an edit may change (the pause says which), with their current values."""
    current = value.get("args") if value.get("type") == "tool_approval" else value.get("request")
    current = current or value
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
