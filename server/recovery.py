"""Bring the embedded server back to what its checkpoints say after a crash.

``langgraph dev``'s in-memory runtime writes its thread and run records to disk
only every 10 s (``langgraph_runtime_inmem/_persistence.py``), while the SQLite
checkpointer commits every step. After a ``kill -9`` three things go wrong, and
this module repairs them at start-up, before the server answers ``/ok``:

1. Threads created since the last write are gone ("Thread not found") although
   their checkpoints are safe. They are re-created with their metadata.
2. Threads the runtime still knows keep the status and pauses of its last write:
   a decision taken since shows as a pending pause again. Every thread whose
   latest checkpoint is newer than its record is reconciled.
3. Runs that the last write caught as pending or running are queued again with
   their original input. A run that had already started (its id is in the
   checkpoints) would restart its workflow from the top, undoing decisions made
   since; such runs are cancelled.

Each thread of 1-3 gets a run with no input: an interrupted node runs again and
raises the same interrupt (same id, same payload) without a new checkpoint, a
finished thread just takes its checkpoint's values, and work left after a crash
(a charge, say) goes on, idempotently. Then the server-owned metadata of each is
set from the checkpoint: ``waiting_for`` from its pending pauses, ``answered_by``
from its audit trail, ``owner`` from the checkpoint's metadata.

This relies on the runtime's internals (its write cycle, its record of a thread)
and on the SQLite checkpointer's tables: the fence's ``recovery-runtime-records``
and ``sqlite-checkpoint-tables`` entries (``graphs/common/fence.py``), both
required. On any other version the server refuses to start before recovery is
reached, and :func:`recover` itself refuses (:class:`fence.Unsupported`) rather
than repair data it was not written for.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import aiosqlite
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import ThreadStatus

from graphs.common import fence
from graphs.common.access import addressee, first_addressee
from graphs.common.audit import SYSTEM, trail
from server.threads import (
    all_threads,
    pending_pauses,
    updated_at,
    write_metadata,
)

logger = logging.getLogger(__name__)

INTERNAL_KEYS = {
    "run_id", "thread_id", "assistant_id", "user_id", "created_by", "run_attempt", "source",
    "step", "parents", "writes", "checkpoint_id", "checkpoint_ns",
}  # fmt: skip
"""Checkpoint metadata keys that describe a run, not the thread."""

JOIN_TIMEOUT = 120.0

INTERRUPT_CHANNEL = "__interrupt__"
"""The channel langgraph writes a task's interrupts to (against the checkpoint they pause)."""
SERDE = JsonPlusSerializer()
"""How the server's checkpointer (langgraph's ``SqliteSaver``, default serializer) stores writes."""

FENCED = ("recovery-runtime-records", "sqlite-checkpoint-tables")
"""The fence's entries recovery relies on (both required)."""


def checkpoint_time(checkpoint_id: str) -> datetime:
    """When a checkpoint was written, from its id (langgraph's uuid6 carries the time)."""
    value = UUID(checkpoint_id).int
    ticks = (((value >> 80) & 0xFFFFFFFFFFFF) << 12) | ((value >> 64) & 0x0FFF)
    return datetime.fromtimestamp((ticks - 0x01B21DD213814000) / 10_000_000, UTC)


@dataclass
class ThreadRecord:
    """What the checkpoints know about one thread."""

    metadata: dict[str, Any] = field(default_factory=dict)
    run_ids: set[str] = field(default_factory=set)
    latest: str = ""
    """The latest checkpoint's id."""
    pauses: set[str] = field(default_factory=set)
    """The ids of the pauses the latest checkpoint holds (what ``threads.get_state`` shows)."""


@dataclass
class RecoveryReport:
    """What recovery did."""

    restored: list[str] = field(default_factory=list)
    reconciled: list[str] = field(default_factory=list)
    cancelled_runs: list[str] = field(default_factory=list)


async def read_checkpoints(db: Path) -> dict[str, ThreadRecord]:
    """Read every root-namespace thread's metadata, run ids and pauses from the checkpoint file.

    A thread's pauses are the interrupts written against its latest checkpoint, from
    which ``threads.get_state`` shows them too: one query for every thread instead of
    one state read per waiting thread. One difference: of tasks that paused in
    the same step, one answered and finished still counts here until the step
    ends, where ``get_state`` drops it; the project's graphs pause one task at a
    time (``tests/integration/test_crash_recovery.py`` compares the two).
    """
    records: dict[str, ThreadRecord] = defaultdict(ThreadRecord)
    if not db.exists():
        return {}
    async with aiosqlite.connect(db) as conn:
        query = (
            "SELECT thread_id, checkpoint_id, CAST(metadata AS TEXT) FROM checkpoints "
            "WHERE checkpoint_ns = '' ORDER BY thread_id, checkpoint_id"
        )
        async with conn.execute(query) as cursor:
            async for thread_id, checkpoint_id, raw in cursor:
                meta = json.loads(raw or "{}")
                record = records[thread_id]
                record.latest = checkpoint_id
                if meta.get("run_id"):
                    record.run_ids.add(str(meta["run_id"]))
                for key, value in meta.items():  # later checkpoints know better
                    if key not in INTERNAL_KEYS and not key.startswith("langgraph_"):
                        record.metadata[key] = value
        query = (
            "SELECT thread_id, checkpoint_id, type, value FROM writes "
            "WHERE checkpoint_ns = '' AND channel = ?"
        )
        async with conn.execute(query, (INTERRUPT_CHANNEL,)) as cursor:
            async for thread_id, checkpoint_id, kind, value in cursor:
                known = records.get(thread_id)
                if known is not None and checkpoint_id == known.latest:
                    interrupts = SERDE.loads_typed((kind, value))
                    known.pauses.update(str(i.id) for i in interrupts)
    for record in records.values():
        # Set again by the pause that the restoring run re-raises, if there is one.
        record.metadata["waiting_for"] = None
    return dict(records)


async def runtime_thread_ids(
    client: LangGraphClient, status: ThreadStatus | None = None
) -> set[str]:
    """Return the ids of every thread the runtime knows (optionally of one status)."""
    return {str(t["thread_id"]) async for t in all_threads(client, status)}


async def runtime_threads(client: LangGraphClient) -> dict[str, datetime]:
    """Every thread the runtime knows, with when its record was last written."""
    return {
        str(t["thread_id"]): updated_at(t)
        async for t in all_threads(client, select=["thread_id", "updated_at"])
    }


def outdated(known: dict[str, datetime], records: dict[str, ThreadRecord]) -> list[str]:
    """The threads whose runtime record is older than their latest checkpoint."""
    return [
        thread_id
        for thread_id, updated in known.items()
        if (record := records.get(thread_id))
        and record.latest
        and checkpoint_time(record.latest) > updated
    ]


async def showing_answered(client: LangGraphClient, records: dict[str, ThreadRecord]) -> list[str]:
    """Waiting threads whose record shows a pause their checkpoint no longer holds.

    Pause and decision events write metadata after the step's checkpoint, which
    makes a record look newer than it is: a ``kill -9`` can keep that write and
    lose the run's end, leaving an answered pause shown (and answerable) again.
    """
    shown_stale = []
    async for thread in all_threads(client, "interrupted", ["thread_id", "interrupts"]):
        thread_id = str(thread["thread_id"])
        held = records[thread_id].pauses if thread_id in records else set()
        if {p["id"] for p in pending_pauses(thread)} - held:
            shown_stale.append(thread_id)
    return shown_stale


def owned_metadata(thread: Mapping[str, Any], record: ThreadRecord) -> dict[str, Any]:
    """The server-owned metadata a thread's checkpoint implies."""
    metadata = thread.get("metadata") or {}
    answered = list(metadata.get("answered_by") or [])
    for entry in trail(thread.get("values")):
        who = entry.get("approver") if isinstance(entry, dict) else None
        if who and who != SYSTEM and who not in answered:
            answered.append(who)
    waits = [addressee(p.get("value")) for p in pending_pauses(thread)]
    return {
        "owner": metadata.get("owner") or record.metadata.get("owner"),
        "waiting_for": first_addressee([w for w in waits if w]),
        "answered_by": answered,
    }


async def refresh_threads(
    client: LangGraphClient, thread_ids: list[str], records: dict[str, ThreadRecord]
) -> None:
    """Bring each thread's record in step with its latest checkpoint.

    A run with no input: a pending node runs again and re-raises its interrupt
    (same id, same payload); a finished thread takes its checkpoint's values and
    status; work left goes on. Then its server-owned metadata is set from the
    checkpoint. Returns once every thread shows its checkpoint's status and pauses.
    """
    runs = []
    for thread_id in thread_ids:
        graph_id = records.get(thread_id, ThreadRecord()).metadata.get("graph_id")
        if graph_id is None:
            graph_id = ((await client.threads.get(thread_id)).get("metadata") or {}).get("graph_id")
        if graph_id:
            runs.append(await client.runs.create(thread_id, graph_id, input=None))
    await asyncio.wait_for(
        asyncio.gather(*(client.runs.join(r["thread_id"], r["run_id"]) for r in runs)),
        timeout=JOIN_TIMEOUT,
    )
    for thread_id in thread_ids:
        thread = await client.threads.get(thread_id)
        await write_metadata(
            thread_id, owned_metadata(thread, records.get(thread_id, ThreadRecord()))
        )


async def recover(client: LangGraphClient, db: Path) -> RecoveryReport:
    """Cancel stale re-queued runs, restore lost threads, reconcile outdated ones.

    Raises:
        fence.Unsupported: the runtime or the checkpointer is not the version
            recovery was written for (nothing is touched).
    """
    for name in FENCED:
        await asyncio.to_thread(fence.require, name)
    report = RecoveryReport()
    records = await read_checkpoints(db)
    logger.info("recovery: reconciling %d threads with their checkpoints", len(records))
    refresh = []
    for thread_id in await runtime_thread_ids(client, status="busy"):
        started = records.get(thread_id, ThreadRecord()).run_ids
        for run in await client.runs.list(thread_id, status="pending", limit=100):
            if str(run["run_id"]) in started:
                await client.runs.cancel(thread_id, run["run_id"], action="interrupt")
                report.cancelled_runs.append(str(run["run_id"]))
                refresh.append(thread_id)
    known = await runtime_threads(client)  # one scan: which were lost, which are outdated
    for thread_id in sorted(set(records) - set(known)):
        await client.threads.create(
            thread_id=thread_id, metadata=records[thread_id].metadata, if_exists="do_nothing"
        )
        report.restored.append(thread_id)
        refresh.append(thread_id)
    stale = await showing_answered(client, records)
    for thread_id in dict.fromkeys([*outdated(known, records), *stale]):
        report.reconciled.append(thread_id)
        refresh.append(thread_id)
    await refresh_threads(client, list(dict.fromkeys(refresh)), records)
    if report.restored or report.cancelled_runs or report.reconciled:
        logger.warning(
            "recovered after an unclean shutdown: %d threads restored, %d reconciled, "
            "%d stale runs cancelled",
            len(report.restored),
            len(report.reconciled),
            len(report.cancelled_runs),
        )
    return report
