"""The custom HTTP app mounted into the LangGraph server (``http.app`` in langgraph.json).

Its lifespan runs after the server's own (graphs loaded, checkpointer open) and
before ``/ok`` answers, which makes it the place for start-up recovery and for the
background tasks (deadline sweeper, webhook notifier). It also serves ``/me`` and
the approvals inbox (``server/inbox.py``).
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from langgraph_sdk import get_client
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graphs.common import add_listener
from server import wake
from server.checkpointer import checkpoint_path
from server.deadlines import sweep_forever, sweep_interval
from server.inbox import routes as inbox_routes
from server.notify import Notifier
from server.pauses import PauseListener
from server.recovery import recover

logger = logging.getLogger(__name__)


def embedded_sqlite_mode() -> bool:
    """Whether this is ``langgraph dev`` on the project's SQLite checkpointer."""
    return os.environ.get("LANGGRAPH_RUNTIME_EDITION", "inmem") == "inmem" and (
        "server/checkpointer.py" in os.environ.get("LANGGRAPH_CHECKPOINTER", "")
    )


@asynccontextmanager
async def lifespan(_app: Starlette) -> AsyncIterator[None]:
    """Watch workflow pauses, repair what a crash left behind, then serve."""
    notifier = Notifier.from_env(get_client())
    add_listener(PauseListener(get_client(), asyncio.get_running_loop(), notifier))
    if embedded_sqlite_mode():
        wake.install()
        await recover(get_client(), checkpoint_path())
    background = [asyncio.create_task(sweep_forever(get_client(), sweep_interval()))]
    if notifier is not None:
        background.append(asyncio.create_task(notifier.run()))
    try:
        yield
    finally:
        for task in background:
            task.cancel()


async def me(request: Request) -> JSONResponse:
    """Who the bearer token belongs to (custom routes sit behind the same auth)."""
    user = request.user
    return JSONResponse({"identity": user.identity, "role": getattr(user, "role", None)})


app = Starlette(lifespan=lifespan, routes=[Route("/me", me), *inbox_routes])
