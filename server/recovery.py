"""Bring the embedded server back to what its checkpoints say after a crash.

``langgraph dev``'s in-memory runtime writes its thread and run records to disk
only every 10 s (``langgraph_runtime_inmem/_persistence.py``), while the SQLite
checkpointer commits every step. After a ``kill -9`` two things go wrong, and this
module repairs both at start-up, before the server answers ``/ok``:

1. Threads created since the last write are gone ("Thread not found") although
   their checkpoints are safe. They are re-created with their metadata, and a run
   with no input is started on each one that has work left: the interrupted node
   runs again and raises the same interrupt (same id, same payload), which brings
   back the thread's ``interrupted`` status and its interrupts.
2. Runs that the last write caught as pending or running are queued again with
   their original input. A run that had already started (its id is in the
   checkpoints) would restart its workflow from the top, undoing decisions made
   since; such runs are cancelled.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiosqlite
from langgraph_sdk.client import LangGraphClient

from server.threads import all_threads

logger = logging.getLogger(__name__)

INTERNAL_KEYS = {
    "run_id", "thread_id", "assistant_id", "user_id", "created_by", "run_attempt", "source",
    "step", "parents", "writes", "checkpoint_id", "checkpoint_ns",
}  # fmt: skip
"""Checkpoint metadata keys that describe a run, not the thread."""

JOIN_TIMEOUT = 120.0


@dataclass
class ThreadRecord:
    """What the checkpoints know about one thread."""

    metadata: dict[str, Any] = field(default_factory=dict)
    run_ids: set[str] = field(default_factory=set)


@dataclass
class RecoveryReport:
    """What recovery did."""

    restored: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    cancelled_runs: list[str] = field(default_factory=list)


async def read_checkpoints(db: Path) -> dict[str, ThreadRecord]:
    """Read every root-namespace thread's metadata and run ids from the checkpoint file."""
    records: dict[str, ThreadRecord] = defaultdict(ThreadRecord)
    if not db.exists():
        return {}
    async with aiosqlite.connect(db) as conn:
        query = (
            "SELECT thread_id, CAST(metadata AS TEXT) FROM checkpoints "
            "WHERE checkpoint_ns = '' ORDER BY thread_id, checkpoint_id"
        )
        async with conn.execute(query) as cursor:
            async for thread_id, raw in cursor:
                meta = json.loads(raw or "{}")
                record = records[thread_id]
                if meta.get("run_id"):
                    record.run_ids.add(str(meta["run_id"]))
                for key, value in meta.items():  # later checkpoints know better
                    if key not in INTERNAL_KEYS and not key.startswith("langgraph_"):
                        record.metadata[key] = value
    for record in records.values():
        # Set again by the pause that the restoring run re-raises, if there is one.
        record.metadata["waiting_for"] = None
    return dict(records)


async def runtime_thread_ids(client: LangGraphClient, status: str | None = None) -> set[str]:
    """Return the ids of every thread the runtime knows (optionally of one status)."""
    return {str(t["thread_id"]) async for t in all_threads(client, status)}


async def recover(client: LangGraphClient, db: Path) -> RecoveryReport:
    """Cancel stale re-queued runs, then restore the threads the runtime lost."""
    report = RecoveryReport()
    records = await read_checkpoints(db)
    refresh = []
    for thread_id in await runtime_thread_ids(client, status="busy"):
        started = records.get(thread_id, ThreadRecord()).run_ids
        for run in await client.runs.list(thread_id, status="pending", limit=100):
            if str(run["run_id"]) in started:
                await client.runs.cancel(thread_id, run["run_id"], action="interrupt")
                report.cancelled_runs.append(str(run["run_id"]))
                refresh.append(thread_id)
    for thread_id in sorted(set(records) - await runtime_thread_ids(client)):
        await client.threads.create(
            thread_id=thread_id, metadata=records[thread_id].metadata, if_exists="do_nothing"
        )
        report.restored.append(thread_id)
        refresh.append(thread_id)
    runs = []
    for thread_id in dict.fromkeys(refresh):
        graph_id = records[thread_id].metadata.get("graph_id")
        if graph_id and (await client.threads.get_state(thread_id)).get("next"):
            # No input: the pending node runs again and re-raises its interrupt.
            runs.append(await client.runs.create(thread_id, graph_id, input=None))
            report.resumed.append(thread_id)
    # Serve only once the restored threads show their interrupts again.
    await asyncio.wait_for(
        asyncio.gather(*(client.runs.join(r["thread_id"], r["run_id"]) for r in runs)),
        timeout=JOIN_TIMEOUT,
    )
    if report.restored or report.cancelled_runs:
        logger.warning(
            "recovered after an unclean shutdown: %d threads restored (%d with work left), "
            "%d stale runs cancelled",
            len(report.restored), len(report.resumed), len(report.cancelled_runs),
        )  # fmt: skip
    return report
