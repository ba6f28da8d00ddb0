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

import httpx
from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from graphs.common.access import why_not_answerable
from graphs.common.audit import trail
from graphs.common.contract import Model, Pause, Shown, default_headline, fields_of, label_of
from graphs.common.decisions import answer_errors, build_answer
from server.auth import caller, example_users_active
from server.guard import input_model, last_decision
from server.threads import pending_pauses

logger = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"

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


async def history(request: Request) -> JSONResponse:
    """Finished workflows the caller may see, with their outcome and audit trail."""
    async with as_caller(request) as client:
        threads = await client.threads.search(
            status="idle", limit=50, sort_by="updated_at", sort_order="desc"
        )
    threads = [t for t in threads if t.get("values")]  # nothing to show (no run yet): skipped
    # A workflow's module is loaded (a file read) the first time it is asked for.
    models = {g: await asyncio.to_thread(input_model, g) for g in {workflow_of(t) for t in threads}}
    return JSONResponse([finished(t, models[workflow_of(t)]) for t in threads])


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
                return refused(
                    409,
                    "already answered elsewhere: this item is stale" + last_decision(thread),
                    "stale",
                    last=decisions[-1] if decisions else None,
                )
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
            result = await client.runs.wait(
                thread_id,
                workflow_of(thread),
                command={"resume": {pause_id: resume}},
                multitask_strategy="reject",
                raise_error=False,
            )
            after = await client.threads.get(thread_id)
        except (APIStatusError, httpx.HTTPStatusError) as exc:
            status, detail = status_and_detail(exc)
            kind = "conflict" if "already running" in detail else KIND_FOR.get(status, "error")
            return refused(status, detail, kind)
    raised = result.get("__interrupt__") if isinstance(result, dict) else None
    if errors := answer_errors(raised, pending_pauses(thread)):
        return refused(422, f"the workflow refused the answer: {errors[0]}", "refused")
    values = after.get("values") or {}
    state = {"interrupted": "waiting", "idle": "finished", "error": "failed", "busy": "running"}
    waiting_for = (after.get("metadata") or {}).get("waiting_for")
    return JSONResponse(
        {
            "thread_id": thread_id,
            "state": state.get(after["status"]),
            "status": values.get("status"),
            "waiting_for": waiting_for,
        }
    )


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
