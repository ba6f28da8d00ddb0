"""The custom HTTP app mounted into the LangGraph server (``http.app`` in langgraph.json).

Its lifespan runs after the server's own (graphs loaded, checkpointer open) and
before ``/ok`` answers, which makes it the place for start-up recovery and for the
background tasks (deadline sweeper, archive sweeper, notifier, Slack clicks). It
also serves ``/me``, the approvals inbox (``server/inbox.py``), the archive
(``server/archive.py``), Slack's Request URL (``server/slack.py``) and the pages of
the mailed links (``server/mail.py``).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import NoReturn
from urllib.parse import parse_qsl

from langgraph_sdk import get_client
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from graphs.common import events, fence
from server import (
    allocator,
    allowlist,
    archive,
    debug_events,
    leftovers,
    lock,
    logs,
    mail,
    openapi,
    records,
    repair,
    runtime_index,
    slack,
    wake,
)
from server.auth import caller, user_for
from server.checkpointer import checkpoint_path
from server.deadlines import sweep_forever, sweep_interval
from server.guard import MAX_BODY
from server.inbox import routes as inbox_routes
from server.notify import Notifier
from server.notify import routes as notification_routes
from server.pauses import PauseListener
from server.recovery import recover

logger = logging.getLogger("server.app")  # langgraph-api loads this file by path, not as server.app


def refuse_to_start(reason: str) -> NoReturn:
    """Stop the server, plainly: no traceback, nothing recovered, nothing served."""
    print(f"\nerror: {reason}\n", file=sys.stderr, flush=True)  # noqa: T201
    sys.stdout.flush()
    os._exit(1)


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    """Check the fence, watch workflow pauses, repair what a crash left behind, then serve."""
    logs.keep_project_logs()
    if logs.skip_dropped_async_logs():
        logger.info("langgraph-api's async log calls below LOG_LEVEL skipped (no thread each)")
    # First: the private APIs below (and on every request) are the versions they were
    # written for, or the server says what is degraded, or refuses to start.
    findings = await asyncio.to_thread(fence.check, embedded=fence.embedded())
    for found in findings:
        if found.status == "degraded":
            logger.warning(found.line())
    if reason := fence.unsupported_message(findings):
        refuse_to_start(reason)
    ok = {found.entry.name for found in findings if found.status == "ok"}
    Boundary.skip_private_network = "private-network-header" in ok
    if Boundary.skip_private_network and Boundary.stands_in:
        logger.info("private-network header set by the boundary (PrivateNetworkMiddleware skipped)")
    openapi.publish()
    try:  # email on: its settings whole, its link secret not the example (outside dev);
        mail.settings()  # the archive's window and sweep interval: numbers, not negative
        archiving = archive.settings()
        allocator.install()  # 0 or bytes; large blocks freed from here on go back to the system
        collecting = allocator.collector_threshold()  # 0 or allocations; applied once started
    except ValueError as exc:
        refuse_to_start(str(exc))
    debug_events.install()
    embedded = fence.embedded()
    if embedded:  # before the pause listener writes through the runtime: the index
        wake.install()  # swaps the runtime's lists, which a write holds across an await
        runtime_index.install()
        leftovers.install()
    notifier = Notifier.from_env(get_client())
    listener = PauseListener(asyncio.get_running_loop(), notifier)
    events.subscribe(listener)
    if embedded:
        try:  # before recovery touches the data: one server per data directory
            await asyncio.to_thread(lock.hold, os.environ.get("LANGGRAPH_API_URL"))
        except lock.DataDirectoryInUse as exc:
            refuse_to_start(str(exc))
        await recover(get_client(), await asyncio.to_thread(checkpoint_path))
    try:  # Slack clicks accepted before a stop or a crash: applied once, outcome posted
        await slack.INTERACTIONS.resume()
    except ValueError as exc:
        refuse_to_start(str(exc))
    background = [asyncio.create_task(sweep_forever(get_client(), sweep_interval(), repair.sweep))]
    # After recovery: threads a crash left archived but not yet removed go first.
    background.append(await archive.start(archiving))
    if notifier is not None:
        background.append(asyncio.create_task(notifier.run()))
    allocator.tune_collector(collecting)  # last: what start-up made stays out of collections
    try:
        yield
    finally:
        for task in background:
            task.cancel()
        await asyncio.gather(*background, return_exceptions=True)
        await slack.INTERACTIONS.drain()
        await listener.drain()
        lock.release()


async def root(request: Request) -> JSONResponse:
    """The health check for load balancers, which also points people to the inbox and docs."""
    return JSONResponse({"ok": True, "inbox": "/inbox", "docs": "/docs"})


async def me(request: Request) -> JSONResponse:
    """Who the bearer token belongs to (custom routes sit behind the same auth)."""
    identity, role = caller(request)
    return JSONResponse({"identity": identity, "role": role})


async def deletions(request: Request) -> JSONResponse:
    """The log of threads admins deleted (admins only: the allowlist refuses others)."""
    return JSONResponse(await asyncio.to_thread(records.read_deletions))


BLOCKED = ("/internal/", "/deploy")
"""Routes ``langgraph dev`` mounts outside auth (``langgraph_runtime_inmem/routes.py``):
read any thread, truncate every table, start ``langgraph deploy``. None is for clients."""

UNREAD = ("GET", "HEAD", "OPTIONS")
"""Methods whose body is not read (an ``OPTIONS`` preflight goes to the CORS middleware)."""


def error_response(status: int, detail: str) -> JSONResponse:
    """A refusal as langgraph-api words its own (``{"detail": ...}``)."""
    return JSONResponse({"detail": detail}, status)


class Boundary:
    """The first gate of every HTTP request: its shape, its size, the unauthenticated internals.

    Refuses bodies over :data:`MAX_BODY` (413), the embedded server's
    unauthenticated internals (:data:`BLOCKED`, 404), and any route, body field or
    query parameter that ``server.allowlist`` does not name for the caller's role
    (403, naming it). Requests without a valid token go on to the server's own
    authentication (401) unless their route is public.

    Added to the custom app, so ``langgraph dev`` and LangGraph Server apply it to every
    route, the core API included, before anything reads the body. The server's own
    in-process calls (``/noauth``) skip it: they are checked by the auth handlers.
    Under ``langgraph dev`` it also stands in for the middleware just inside it,
    langgraph-api's ``PrivateNetworkMiddleware`` (:meth:`preflight`).
    """

    skip_private_network = False
    """Set at start-up when the fence finds its ``private-network-header`` entry ok."""
    stands_in = False
    """Whether a boundary found ``PrivateNetworkMiddleware`` inside it (``langgraph dev``)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.past = fence.past_private_network(app)
        Boundary.stands_in = Boundary.stands_in or self.past is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check the request, then hand it on with its body replayed."""
        app = self.past if self.past is not None and Boundary.skip_private_network else self.app
        if scope["type"] != "http" or str(scope.get("root_path", "")).startswith("/noauth"):
            await app(scope, receive, send)  # the server's own in-process calls
            return
        method, path = scope["method"], scope["path"]
        if path.startswith(BLOCKED):
            await error_response(404, "Not Found")(scope, receive, send)
            return
        if method == "OPTIONS":
            await app(scope, receive, self.preflight(send) if app is self.past else send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        user = user_for(headers.get("authorization"), headers.get("x-api-key"))
        role = user.role if user else "anonymous"
        query = parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
        chunks: list[Message] = []
        body = None
        if method not in UNREAD:
            if int(headers.get("content-length") or 0) > MAX_BODY:
                await too_large()(scope, receive, send)
                return
            size, more = 0, True
            while more:
                message = await receive()
                chunks.append(message)
                size += len(message.get("body", b""))
                more = message.get("type") == "http.request" and message.get("more_body", False)
                if size > MAX_BODY:
                    await too_large()(scope, receive, send)
                    return
            raw = b"".join(m.get("body", b"") for m in chunks)
            form = "application/x-www-form-urlencoded" in headers.get("content-type", "")
            try:
                if form and allowlist.takes_form(method, path):
                    body = dict(parse_qsl(raw.decode(errors="replace"), keep_blank_values=True))
                else:
                    body = json.loads(raw) if raw.strip() else None
            except ValueError:
                not_json = f"{method} {path}: the body is not JSON"
                await error_response(422, not_json)(scope, receive, send)
                return
        if refused := allowlist.check(method, path, role, body, query):
            detail = refused.detail
            if refused.status == 401:
                given = headers.get("authorization") or headers.get("x-api-key")
                detail = "invalid token" if given else "missing token"
            await error_response(refused.status, detail)(scope, receive, send)
            return

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await app(scope, replay, send)

    @staticmethod
    def preflight(send: Send) -> Send:
        """``send`` that allows private network access on an ``OPTIONS`` answer.

        ``langgraph dev`` adds langgraph-api's ``PrivateNetworkMiddleware`` right after
        this one so that a browser lets a public page (Studio) reach the local server.
        It is a ``BaseHTTPMiddleware``, which wraps every request in a task group and
        memory streams, to set this one header on ``OPTIONS`` answers; once the fence
        finds it as it was written for, the boundary skips it and sets the header here.
        """

        async def allowing(message: Message) -> None:
            if message["type"] == "http.response.start":
                kept = [h for h in message.get("headers", []) if h[0].lower() != PRIVATE_NETWORK[0]]
                message = {**message, "headers": [*kept, PRIVATE_NETWORK]}
            await send(message)

        return allowing


PRIVATE_NETWORK = (b"access-control-allow-private-network", b"true")


def too_large() -> JSONResponse:
    """The refusal of a body over :data:`MAX_BODY`."""
    return error_response(413, f"request body over {MAX_BODY // 1024} KiB: nothing was stored")


app = Starlette(
    lifespan=lifespan,
    routes=[
        Route("/", root),
        Route("/me", me),
        Route("/deletions", deletions),
        *inbox_routes,
        *notification_routes,
        *archive.routes,
        *slack.routes,
        *mail.routes,
    ],
    middleware=[Middleware(Boundary)],
)
