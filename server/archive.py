"""Decided requests leave the hot runtime: their record moves to the archive table.

The embedded runtime keeps every thread and run in memory and scans them all on
searches and run creation, so each decided request it holds costs every later
cycle. A background task of the custom app (started and cancelled by its
lifespan, like the deadline sweeper) looks every ``HITL_ARCHIVE_SWEEP_SECONDS``
(default 60) for *decided* threads: ``idle``, no pending interrupt, values
present, a finished checkpoint (nothing left to run, no pause in it), untouched
for ``HITL_ARCHIVE_AFTER_HOURS`` (default 24; 0: at the next sweep). Pending
approvals (``interrupted``, ``busy``, any interrupt) are never archived however
old, and neither are threads in ``error`` (they need a person). For each thread,
in this order:

1. its row is inserted into the store's ``archive`` table (insert-if-absent: a
   row already there is left as it is), and committed;
2. the runtime's own thread delete removes it, with its runs and checkpoints
   (``Threads.delete``, called as the server, without a user's auth context,
   through ``graphs.common.fence``).

A crash between 1 and 2 loses nothing and archives nothing twice: the thread
still qualifies at the next sweep, whose insert finds the row; and at start-up
(:func:`remove_archived`, after recovery, before ``/ok``) every runtime thread
that already has a row and is not pending is removed, whatever the window.

The row keeps the thread's metadata (its server-owned keys completed from the
audit trail, as recovery completes them) and its values, the request, the audit
trail, the outcome and ledger references, as the API shows them. Reading it:
``GET /archive/{thread_id}`` and ``GET /archive`` (the audit export), shaped as
the runtime returns a thread plus ``archived_at``, and the inbox's history.
Whoever may see the thread may see its row (``server.auth.may_see``, the rule of
a thread read); admins list and read every row.

Archiving is not deletion (``server.records``): the record stays, and an archived
thread cannot be deleted through the API (the runtime no longer has it).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from langgraph_sdk import get_client
from sqlalchemy import delete, insert, or_, select
from sqlalchemy.exc import IntegrityError
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from graphs.common import fence, store
from graphs.common.access import ADMIN
from server.auth import caller, may_see
from server.recovery import ThreadRecord, owned_metadata
from server.threads import as_server, checkpoint_pauses, pending_pauses

logger = logging.getLogger(__name__)

AFTER_HOURS = "HITL_ARCHIVE_AFTER_HOURS"
SWEEP_SECONDS = "HITL_ARCHIVE_SWEEP_SECONDS"
PAGE = 500
"""Threads read from the runtime per search while sweeping."""
SCAN_PAGE = 10_000
"""Threads read per search at start-up (ids and status only)."""
MAX_LIMIT = 500
DEFAULT_LIMIT = 50


# -- settings --------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    """When a decided thread is archived, and how often the sweeper looks."""

    after_hours: float = 24.0
    sweep_seconds: float = 60.0


def _number(env: Mapping[str, str], name: str, default: float, unit: str, zero: bool) -> float:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    rule = f"a number of {unit}, {'0 or more' if zero else 'above 0'}"
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {rule}") from None
    if not math.isfinite(value) or value < 0 or (value == 0 and not zero):
        raise ValueError(f"{name}={raw!r} is refused: it must be {rule}")
    return value


def settings(env: Mapping[str, str] | None = None) -> Settings:
    """Read ``HITL_ARCHIVE_AFTER_HOURS`` and ``HITL_ARCHIVE_SWEEP_SECONDS``.

    Raises:
        ValueError: A value is not a number, or is negative (or 0 seconds between
            sweeps); the message names the setting. The server refuses to start.
    """
    env = os.environ if env is None else env
    return Settings(
        after_hours=_number(env, AFTER_HOURS, 24.0, "hours", zero=True),
        sweep_seconds=_number(env, SWEEP_SECONDS, 60.0, "seconds", zero=False),
    )


# -- the selection rule ------------------------------------------------------------------


def _aware(value: Any) -> datetime:
    """A timestamp as an aware UTC datetime (the API gives strings, SQLite naive datetimes)."""
    when = (
        value
        if isinstance(value, datetime)
        else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    )
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


def old_enough(thread: Mapping[str, Any], now: datetime, after_hours: float) -> bool:
    """Whether a thread was last written at least ``after_hours`` before ``now``."""
    return (now - _aware(thread["updated_at"])).total_seconds() >= after_hours * 3600


def settled(thread: Mapping[str, Any]) -> bool:
    """Whether a thread's record waits for no one: ``idle`` with no pending interrupt."""
    return thread.get("status") == "idle" and not pending_pauses(thread)


def qualifies(thread: Mapping[str, Any], now: datetime, after_hours: float) -> bool:
    """Whether a runtime thread's record makes it a decided thread past the window.

    ``idle`` with no pending interrupt, with values (it ran), and untouched for
    ``after_hours``. Pending approvals (``interrupted``, ``busy``, interrupts) and
    failed threads (``error``) never qualify. The sweeper also reads the thread's
    checkpoint before archiving it (:meth:`RuntimeThreads.final_values`).
    """
    return settled(thread) and bool(thread.get("values")) and old_enough(thread, now, after_hours)


def finished_state(state: Mapping[str, Any]) -> bool:
    """Whether a checkpoint (``threads.get_state``) has nothing left to run and no pause."""
    return not state.get("next") and not checkpoint_pauses(state)


# -- rows ------------------------------------------------------------------------------------


def row_of(thread: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The archive row of a decided thread: its runtime record and its checkpoint's values.

    The metadata's server-owned keys are completed from the audit trail
    (``answered_by``, as recovery completes them; nothing waits), so whoever
    decided can read the row even if the last metadata write had not landed.
    """
    metadata = dict(thread.get("metadata") or {})
    owned = owned_metadata({**thread, "values": values, "interrupts": {}}, ThreadRecord())
    metadata.update({k: v for k, v in owned.items() if v is not None or k == "waiting_for"})
    return {
        "thread_id": str(thread["thread_id"]),
        "workflow": metadata.get("graph_id"),
        "owner": metadata.get("owner"),
        "outcome": str(values.get("status") or "finished")[:40],
        "metadata": json.dumps(metadata, default=str),
        "record": json.dumps(dict(values), default=str),
        "created_at": _aware(thread["created_at"]),
        "decided_at": _aware(thread["updated_at"]),
    }


def as_thread(row: Any) -> dict[str, Any]:
    """An archive row in the shape the runtime returns a thread, plus ``archived_at``."""
    return {
        "thread_id": row.thread_id,
        "status": "idle",
        "metadata": json.loads(row.metadata),
        "values": json.loads(row.record),
        "created_at": _aware(row.created_at).isoformat(),
        "updated_at": _aware(row.decided_at).isoformat(),
        "interrupts": {},
        "archived_at": _aware(row.archived_at).isoformat(),
    }


# -- the store (blocking: call these in a thread) ------------------------------------------


def insert_if_absent(row: Mapping[str, Any], url: str | None = None) -> bool:
    """Insert an archive row unless one exists for its thread; True if this inserted it."""
    try:
        with store.engine(url).begin() as conn:
            conn.execute(insert(store.archive).values(**row))
    except IntegrityError:
        return False  # archived by an earlier sweep (or another replica): left as it is
    return True


def withdraw(thread_id: str, decided_at: datetime, url: str | None = None) -> None:
    """Remove the row this sweep inserted for a thread that moved on before its removal."""
    table = store.archive
    with store.engine(url).begin() as conn:
        conn.execute(
            delete(table).where(table.c.thread_id == thread_id, table.c.decided_at == decided_at)
        )


def archived_ids(thread_ids: Iterable[str], url: str | None = None) -> set[str]:
    """Which of ``thread_ids`` have an archive row."""
    ids, found = list(thread_ids), set[str]()
    table = store.archive
    with store.engine(url).connect() as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            query = select(table.c.thread_id).where(table.c.thread_id.in_(chunk))
            found.update(conn.execute(query).scalars())
    return found


def read_one(thread_id: str, identity: str, role: str, url: str | None = None) -> dict[str, Any]:
    """One archived thread as the caller may read it (admins: any).

    Raises:
        LookupError: not archived, or not visible to the caller (the same answer).
    """
    table = store.archive
    with store.engine(url).connect() as conn:
        row = conn.execute(select(table).where(table.c.thread_id == thread_id)).first()
    if row is None or not (role == ADMIN or may_see(identity, role, json.loads(row.metadata))):
        raise LookupError(f"thread {thread_id} is not in the archive")
    return as_thread(row)


def _like(needle: str) -> str:
    escaped = needle.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def read_page(
    identity: str,
    role: str,
    limit: int = DEFAULT_LIMIT,
    offset: int = 0,
    everything: bool = False,
    url: str | None = None,
) -> list[dict[str, Any]]:
    """Archived threads, newest decided first, ``offset`` of them skipped, at most ``limit``.

    Every row (``everything``: an admin's audit export), or those ``may_see`` lets
    the caller see. The query only narrows to rows whose metadata names the caller
    or their role (a row ``may_see`` allows always does); ``may_see`` decides.
    """
    table = store.archive
    meta = table.c["metadata"]
    query = select(table.c.thread_id, meta).order_by(table.c.decided_at.desc(), table.c.thread_id)
    if not everything:
        needles = [json.dumps(identity), json.dumps(f"user:{identity}"), json.dumps(role)]
        query = query.where(
            or_(table.c.owner == identity, *(meta.like(_like(n), escape="\\") for n in needles))
        )
    chosen: list[str] = []
    skip = offset
    with store.engine(url).connect() as conn:
        result = conn.execute(query.execution_options(yield_per=PAGE))
        try:
            for thread_id, metadata in result:
                if not everything and not may_see(identity, role, json.loads(metadata)):
                    continue
                if skip:
                    skip -= 1
                    continue
                chosen.append(thread_id)
                if len(chosen) >= limit:
                    break
        finally:
            result.close()
        if not chosen:
            return []
        full = select(table).where(table.c.thread_id.in_(chosen))
        rows = {row.thread_id: row for row in conn.execute(full)}
    return [as_thread(rows[thread_id]) for thread_id in chosen if thread_id in rows]


# -- the runtime ----------------------------------------------------------------------------


class Runtime(Protocol):
    """What the sweeper needs of the runtime (:class:`RuntimeThreads`; a fake in unit tests)."""

    async def oldest_idle(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Idle threads, least recently written first."""

    async def every_thread(self) -> list[dict[str, Any]]:
        """Every thread (id, status, interrupts, updated_at)."""

    async def final_values(self, thread_id: str) -> dict[str, Any] | None:
        """A finished thread's values from its checkpoint (None: work or a pause is left)."""

    async def remove(self, thread_id: str, seen: datetime | None) -> bool:
        """Remove a settled thread (unchanged since ``seen``); False if it moved on."""


class RuntimeThreads:
    """The serving runtime's threads, read and removed as the server itself.

    Searches and the delete go through the runtime's ``Threads`` interface (the one
    langgraph-api serves the API with; private: the fence's ``runtime-thread-read``
    entry), called without an auth context. Call these from a task of the server's
    own (:func:`server.threads.as_server`), never with a caller's context.
    """

    async def _search(self, **kwargs: Any) -> list[dict[str, Any]]:
        connect, threads = fence.runtime_threads()
        async with connect() as conn:
            found, _cursor = await threads.search(conn, metadata=None, values=None, **kwargs)
            return [dict(thread) async for thread in found]

    async def oldest_idle(self, offset: int, limit: int) -> list[dict[str, Any]]:
        """Idle threads, least recently written first."""
        fields = ["thread_id", "status", "interrupts", "metadata", "values"]
        return await self._search(
            status="idle",
            limit=limit,
            offset=offset,
            sort_by="updated_at",
            sort_order="asc",
            select=[*fields, "created_at", "updated_at"],
        )

    async def every_thread(self) -> list[dict[str, Any]]:
        """Every thread (id, status, interrupts, updated_at)."""
        found: list[dict[str, Any]] = []
        while True:
            page = await self._search(
                status=None,
                limit=SCAN_PAGE,
                offset=len(found),
                sort_by="created_at",
                sort_order="asc",
                select=["thread_id", "status", "interrupts", "updated_at"],
            )
            found += page
            if len(page) < SCAN_PAGE:
                return found

    async def final_values(self, thread_id: str) -> dict[str, Any] | None:
        """A finished thread's values from its checkpoint (None: work or a pause is left)."""
        state = await get_client().threads.get_state(thread_id)
        values = state.get("values")
        return dict(values) if finished_state(state) and isinstance(values, dict) else None

    async def remove(self, thread_id: str, seen: datetime | None) -> bool:
        """Remove a settled thread with its runs and checkpoints (the runtime's delete).

        Read again just before: a thread that is no longer settled, or was written
        after ``seen``, stays (False). Nothing awaits between that read and the
        delete's removal of the record on the in-memory runtime.
        """
        connect, threads = fence.runtime_threads()
        async with connect() as conn:
            try:
                found = [t async for t in await threads.get(conn, thread_id)]
            except HTTPException as exc:
                if exc.status_code != 404:
                    raise
                return True
            if not found:
                return True
            thread = found[0]
            if not settled(thread) or (seen is not None and _aware(thread["updated_at"]) != seen):
                return False
            async for _ in await threads.delete(conn, thread_id):
                pass
        return True


# -- the sweep --------------------------------------------------------------------------------


async def archive_one(runtime: Runtime, thread: Mapping[str, Any], url: str | None = None) -> bool:
    """Archive one qualifying thread: its row first, then its removal. True: archived."""
    thread_id = str(thread["thread_id"])
    values = await runtime.final_values(thread_id)
    if values is None:
        return False  # record idle, checkpoint not done: server.repair's to bring in step
    row = row_of(thread, values)
    inserted = await asyncio.to_thread(insert_if_absent, row, url)
    try:
        gone = await runtime.remove(thread_id, row["decided_at"])
    except Exception as exc:  # the row stays; the next sweep (or start-up) removes it
        logger.warning("archive: thread %s archived but not removed yet: %r", thread_id, exc)
        return False
    if not gone and inserted:  # it moved on after it was read: archived later, as it ends
        await asyncio.to_thread(withdraw, thread_id, row["decided_at"], url)
    return gone


async def sweep_once(
    runtime: Runtime, after_hours: float, now: datetime | None = None, url: str | None = None
) -> int:
    """Archive every decided thread past the window; return how many left the runtime."""
    from server.pauses import settled as writes_settled  # noqa: PLC0415 - a heavier import

    await writes_settled()  # metadata writes under way (answered_by) land first
    now = now or datetime.now(UTC)
    archived = passed = 0
    while True:
        page = await runtime.oldest_idle(passed, PAGE)
        for thread in page:
            if not old_enough(thread, now, after_hours):
                page = []  # the rest is newer
                break
            if qualifies(thread, now, after_hours) and await archive_one(runtime, thread, url):
                archived += 1
            else:
                passed += 1
        if len(page) < PAGE:
            break
    if archived:
        logger.info(
            "archive: %d decided threads moved to the archive (untouched for %g h)",
            archived,
            after_hours,
        )
    return archived


async def remove_archived(runtime: Runtime, url: str | None = None) -> int:
    """Remove every settled runtime thread that already has an archive row (start-up).

    What a crash between a row's insert and the thread's removal leaves behind,
    whatever the window is now. A pending thread with a row is left (and logged).
    """
    threads = await runtime.every_thread()
    have = await asyncio.to_thread(archived_ids, [str(t["thread_id"]) for t in threads], url)
    removed = 0
    for thread in threads:
        thread_id = str(thread["thread_id"])
        if thread_id not in have:
            continue
        if not settled(thread):
            logger.warning("archive: thread %s has an archive row but is pending: kept", thread_id)
            continue
        removed += await runtime.remove(thread_id, None)
    if removed:
        logger.info("archive: %d archived threads removed from the runtime", removed)
    return removed


async def sweep_forever(runtime: Runtime, config: Settings) -> None:
    """Sweep every ``config.sweep_seconds`` until cancelled; a failed sweep is logged."""
    while True:
        try:
            await sweep_once(runtime, config.after_hours)
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("archive sweep failed; retrying in %gs", config.sweep_seconds)
        await asyncio.sleep(config.sweep_seconds)


async def start(config: Settings) -> asyncio.Task[None]:
    """At start-up: remove what a crash left archived, then sweep in the background."""
    runtime = RuntimeThreads()
    await as_server(remove_archived(runtime))
    return as_server(sweep_forever(runtime, config))


# -- routes ------------------------------------------------------------------------------------


def _whole(request: Request, name: str, default: int, low: int, high: int | None) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if value < low or (high is not None and value > high):
        span = f"from {low} to {high}" if high is not None else f"{low} or more"
        raise ValueError(f"{name} must be a whole number {span}, not {raw!r}")
    return value


async def one(request: Request) -> JSONResponse:
    """One archived thread, as the runtime shows a thread, with archived_at."""
    identity, role = caller(request)
    thread_id = request.path_params["thread_id"]
    try:
        found = await asyncio.to_thread(read_one, thread_id, identity, role)
    except LookupError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=404)
    return JSONResponse(found)


async def listing(request: Request) -> JSONResponse:
    """Archived threads newest decided first; admins get every row (the audit export)."""
    identity, role = caller(request)
    try:
        limit = _whole(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _whole(request, "offset", 0, 0, None)
    except ValueError as exc:
        return JSONResponse({"detail": str(exc)}, status_code=422)
    page = await asyncio.to_thread(read_page, identity, role, limit, offset, role == ADMIN)
    return JSONResponse(page)


routes = [Route("/archive", listing), Route("/archive/{thread_id}", one)]
