"""A decided request stays on record: the retention rule for deleting threads, and the log.

The owner of a request may delete it while it holds no decision (a withdrawn
request). Anything else is an admin's to delete: a request that holds a decision
(an approval, a rejection, an expiry, an automatic approval) or someone else's
thread, and only once it has been left alone for the retention period
(``HITL_RETENTION_DAYS``, default 365). Each such deletion is written to the
``deletions`` table first (who, when, the workflow, the owner, and the request's
values with its decision trail), so no deletion goes unrecorded; ``GET /deletions``
lists them for admins.
"""

from __future__ import annotations

import asyncio
import json
import os
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from graphs.common import store
from server.threads import updated_at


def retention_days() -> float:
    """How long a decided thread is kept before an admin may delete it."""
    return float(os.environ.get("HITL_RETENTION_DAYS") or 365)


def too_recent(thread: dict[str, Any], now: datetime | None = None) -> str | None:
    """Why a decided thread may not be deleted yet (None: past the retention period)."""
    until = updated_at(thread) + timedelta(days=retention_days())
    if (now or datetime.now(UTC)) >= until:
        return None
    return f"kept until {until:%Y-%m-%d %H:%M} UTC (HITL_RETENTION_DAYS={retention_days():g})"


def _write(row: dict[str, Any]) -> None:
    try:
        with store.engine().begin() as conn:
            conn.execute(insert(store.deletions).values(**row))
    except IntegrityError:
        pass  # recorded by an earlier attempt (a retried delete)


async def record_deletion(thread: dict[str, Any], by: str) -> None:
    """Write the deletion of ``thread`` by ``by`` to the log, before it is deleted."""
    metadata = thread.get("metadata") or {}
    row = {
        "thread_id": str(thread["thread_id"]),
        "workflow": metadata.get("graph_id"),
        "owner": metadata.get("owner"),
        "deleted_by": by,
        "record": json.dumps(thread.get("values") or {}, default=str),
    }
    await asyncio.to_thread(_write, row)


def read_deletions() -> list[dict[str, Any]]:
    """The deletion log, newest first (blocking: call it in a thread)."""
    query = select(store.deletions).order_by(store.deletions.c.deleted_at.desc())
    with store.engine().connect() as conn:
        return [
            {**row._asdict(), "deleted_at": str(row.deleted_at), "record": json.loads(row.record)}
            for row in conn.execute(query)
        ]
