"""Threads inside the server: every page of a search, one record, their pauses, metadata writes."""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from langgraph_sdk import Auth
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import Thread, ThreadSelectField, ThreadStatus
from starlette.exceptions import HTTPException

from graphs.common import fence
from server import runtime_index
from server.internal import INTERNAL_WRITE

PAGE = 500
T = TypeVar("T")


async def all_threads(
    client: LangGraphClient,
    status: ThreadStatus | None = None,
    select: list[ThreadSelectField] | None = None,
) -> AsyncIterator[Thread]:
    """Yield every thread of a search (optionally of one status), page by page."""
    offset = 0
    while True:
        page = await client.threads.search(
            status=status, limit=PAGE, offset=offset, select=select or ["thread_id"]
        )
        for thread in page:
            yield thread
        if len(page) < PAGE:
            return
        offset += PAGE


def as_server(coro: Coroutine[Any, Any, T]) -> asyncio.Task[T]:
    """Run ``coro`` as the server itself, in a fresh context.

    The fresh context carries no caller's auth context: the runtime and the in-process
    client would otherwise act as the user whose request is being served.
    """
    return asyncio.get_running_loop().create_task(coro, context=contextvars.Context())


def updated_at(thread: Mapping[str, Any]) -> datetime:
    """When a thread's record was last written (the API gives a string, the runtime a datetime)."""
    value = thread["updated_at"]
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def pending_pauses(thread: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pending interrupts of a thread record (grouped by task on the server)."""
    return [i for group in (thread.get("interrupts") or {}).values() for i in group]


def checkpoint_pauses(state: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The pending interrupts a thread's latest checkpoint holds (``threads.get_state``)."""
    return [i for task in state.get("tasks") or [] for i in task.get("interrupts") or []]


async def read_thread(
    ctx: Auth.types.BaseAuthContext | None, thread_id: Any
) -> dict[str, Any] | None:
    """A thread's record as ``ctx``'s user may see it (``ctx`` None: the server's own read).

    Read through the runtime's own ``Threads.get`` (the interface langgraph-api serves
    every API call with, in memory or on Postgres; private, so reached through
    ``graphs.common.fence``); a loopback HTTP call through the
    in-process client does the same at twice the cost. None: missing or hidden.
    """
    if ctx is None:
        # The runtime falls back to the auth context of the request being served.
        return await as_server(_read(None, thread_id))
    return await _read(ctx, thread_id)


async def write_metadata(thread_id: str, metadata: Mapping[str, Any]) -> None:
    """Merge server-owned ``metadata`` into a thread's record, as the server itself.

    Through the runtime's own ``Threads.patch`` (what ``PATCH /threads/{id}`` calls,
    reached through ``graphs.common.fence``), in a fresh context: no caller's auth
    context, so no auth handler runs, as for the server's own writes through
    :data:`~server.internal.INTERNAL_WRITE`. A loopback through the in-process client
    does the same through the server's whole HTTP stack (middlewares, routing, JSON
    both ways), on the event loop every request shares (docs/performance.md).

    Raises:
        LookupError: The thread does not exist (deleted since, say).
    """
    await as_server(_patch(str(thread_id), dict(metadata)))


async def _patch(thread_id: str, metadata: dict[str, Any]) -> None:
    merged = runtime_index.merge_metadata(thread_id, metadata)  # no deep copy of the record
    if merged is not None:
        if not merged:
            raise LookupError(f"thread {thread_id} not found")
        return
    connect, Threads = fence.runtime_threads()  # noqa: N806 - the runtime's class
    token = INTERNAL_WRITE.set(True)  # should a handler run after all, it lets this through
    try:
        async with connect() as conn:
            found = [t async for t in await Threads.patch(conn, thread_id, metadata=metadata)]
    finally:
        INTERNAL_WRITE.reset(token)
    if not found:
        raise LookupError(f"thread {thread_id} not found")


async def _read(ctx: Auth.types.BaseAuthContext | None, thread_id: Any) -> dict[str, Any] | None:
    connect, Threads = fence.runtime_threads()  # noqa: N806 - the runtime's class
    try:
        async with connect() as conn:
            found = [t async for t in await Threads.get(conn, thread_id, ctx=ctx)]
    except HTTPException as exc:
        if exc.status_code != 404:
            raise
        return None
    return found[0] if found else None
