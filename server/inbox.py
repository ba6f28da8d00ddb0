"""The approvals inbox: a page and its API, served by the LangGraph server itself.

``/inbox`` is a static page (HTML, CSS and JS in ``server/static``, nothing from a
CDN). Everything it shows comes from ``/inbox/api/*``, which requires the same
token as the rest of the server. The API works through the server's in-process
client, signed in as the caller (:func:`as_caller`): the same authorization
filters and the same run rules (``server.guard``) as every other client, with no
loopback HTTP. Answers are built by the domain's own ``build_answer``.

What an item shows is what its pause says (:class:`~graphs.common.contract.Pause`):
the headline and the labelled fields, money marked; a finished workflow shows the
fields of its own ``Request`` model. No workflow's field names are known here.
"""

from __future__ import annotations

import asyncio
import html
import logging
import os
import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from graphs.common.access import why_not_answerable
from graphs.common.audit import trail
from graphs.common.contract import Model, Pause, Shown, default_headline, fields_of, label_of
from server import archive
from server.answers import give_answer
from server.auth import caller, example_users_active
from server.guard import input_model
from server.threads import pending_pauses, updated_at

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"


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
        who = ", ".join(
            f"{u.identity} ({u.role}): <code>{html.escape(u.token)}</code>" for u in users
        )
        hint = (
            f'<p class="hint" id="dev-users">This development server signs in the example '
            f"users of <code>.env.example</code>: {who}. Replace their tokens in "
            "<code>.env</code> before anyone else can reach it.</p>"
        )
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
        item
        for thread in threads
        for pause in pending_pauses(thread)
        if why_not_answerable(pause.get("value"), identity, role, approves=False) is None
        if (item := item_of(thread, pause)) is not None
    ]
    found.sort(key=lambda item: item["waiting_since"], reverse=True)
    return JSONResponse(found)


HISTORY = 50
"""Finished workflows the history shows (the newest)."""


async def history(request: Request) -> JSONResponse:
    """Finished workflows the caller may see, with their outcome and audit trail.

    The runtime's and the archive's (``server.archive``), newest first, each once.
    """
    identity, role = caller(request)
    async with as_caller(request) as client:
        live = await client.threads.search(
            status="idle", limit=HISTORY, sort_by="updated_at", sort_order="desc"
        )
    # The caller's own view of the archive (an admin's too): what may_see allows.
    archived = await asyncio.to_thread(archive.read_page, identity, role, HISTORY)
    seen = {str(t["thread_id"]) for t in live}
    merged = [*live, *(t for t in archived if t["thread_id"] not in seen)]
    merged.sort(key=updated_at, reverse=True)
    # Nothing to show (no run yet): skipped.
    threads = [t for t in merged if t.get("values")][:HISTORY]
    # A workflow's module is loaded (a file read) the first time it is asked for.
    models = {g: await asyncio.to_thread(input_model, g) for g in {workflow_of(t) for t in threads}}
    return JSONResponse([finished(t, models[workflow_of(t)]) for t in threads])


async def answer(request: Request) -> JSONResponse:
    """Answer one pause (a JSON body: thread_id, interrupt_id, decision, note, changes, args)."""
    body = await request.json()
    if not isinstance(body, dict) or not body.get("thread_id") or not body.get("interrupt_id"):
        error = {"error": "thread_id and interrupt_id are required", "kind": "invalid"}
        return JSONResponse(error, status_code=422)
    async with as_caller(request) as client:
        outcome = await give_answer(
            client,
            str(body["thread_id"]),
            str(body["interrupt_id"]),
            str(body.get("decision")),
            channel="inbox",
            note=body.get("note"),
            changes=body.get("changes") or None,
            args=body.get("args"),
        )
    return JSONResponse(outcome.body(), status_code=outcome.status)


def workflow_of(thread: Mapping[str, Any]) -> str:
    """The graph a thread runs."""
    return str((thread.get("metadata") or {}).get("graph_id") or "")


def title_of(workflow: str) -> str:
    """A workflow's name for people: ``approval_chain`` -> "Approval chain"."""
    return label_of(workflow or "workflow")


def shown(pause: Pause) -> dict[str, Any]:
    """What people read of a request, as the pause says it: its headline and its fields."""
    amount = pause.amount
    return {
        "headline": pause.headline,
        "amount": amount if isinstance(amount, int | float) else None,
        "summary": pause.summary,
        "requester": pause.requester,
        "request": pause.request,
        "fields": [{**f.model_dump(mode="json"), "text": f.text()} for f in pause.fields],
    }


def item_of(thread: Mapping[str, Any], pause: dict[str, Any]) -> dict[str, Any] | None:
    """One inbox item: what to decide, on what, since when, and what came before.

    None for an interrupt that is not a pause (:meth:`Pause.read`): nothing to show.
    """
    asked = Pause.read(pause["value"])
    if asked is None:
        logger.warning(
            "interrupt %s of %s is not a pause: not listed", pause["id"], thread["thread_id"]
        )
        return None
    since = str(thread.get("updated_at"))
    workflow = workflow_of(thread)
    said = shown(asked)
    if asked.type == "payment_failed":
        said["summary"] = f"Payment failed: {said['summary']}"
    return {
        "thread_id": str(thread["thread_id"]),
        "interrupt_id": pause["id"],
        "workflow": workflow,
        "title": title_of(workflow) + (" tool call" if asked.type == "tool_approval" else ""),
        **said,
        "kind": asked.type,
        "waiting_for": asked.waiting_for,
        "waiting_since": since,
        "age_seconds": _age(since),
        "due_at": asked.due_at,
        "options": asked.options,
        "editable": {name: asked.request.get(name) for name in asked.editable},
        "history": asked.history or (thread.get("values") or {}).get("audit") or [],
        "error": asked.error,
        "details": {"step": asked.step, "levels": asked.levels},
    }


def finished(thread: Mapping[str, Any], model: Model | None) -> dict[str, Any]:
    """One finished workflow: its request's fields (of ``model``, its ``Request``), outcome, trail.

    Without a request model nothing is shown of the request: the title stands for it.
    """
    values = thread.get("values") or {}
    workflow = workflow_of(thread)
    title = title_of(workflow)
    fields = [f for f in fields_of(model, values) if one_line(f)] if model else []
    requester = values.get("requester")
    done = Pause(
        type=workflow or "workflow",
        action=title,
        headline=default_headline(requester, fields) if fields else title,
        requester=requester,
        request={f.name: f.value for f in fields},
        fields=fields,
        options=[],
    )
    return {
        "thread_id": str(thread["thread_id"]),
        "workflow": workflow,
        "title": title,
        "finished": str(thread.get("updated_at")),
        "outcome": values.get("status") or "finished",
        **shown(done),
        "audit": trail(values),
    }


def one_line(field: Shown) -> bool:
    """Whether a field reads on one line; structured ones (a conversation's messages) do not."""
    value = field.value
    nested = isinstance(value, list) and any(isinstance(v, dict | list) for v in value)
    return not (isinstance(value, dict) or nested)


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
