"""Keep a thread's record in step with its checkpoint while the server runs.

A run cancelled (or cut off by a dropped connection) after it took an answer but
before it wrote its checkpoint ends with the thread ``idle`` while the checkpoint
still holds the pause: the runtime's record says "waits for no one", the
checkpoint says "waits for bob". Left alone, bob's answer would be refused as
stale and the inbox and the deadline sweeper, which list waiting threads, would
not see the pause. Such threads are repaired the way start-up recovery repairs
them (``server.recovery.refresh_threads``: the pending node runs again and
re-raises the same pause, then the server-owned metadata is set from the
checkpoint):

- after every cancel the auth handlers let through (:func:`after_cancel`);
- when an answer finds the record and the checkpoint disagreeing
  (:func:`restoring`, from ``server.auth``);
- on every sweep, for threads that went idle since the last one (:func:`sweep`).

Only ``idle`` threads: a failed one (``error``) is a person's to look at, and
re-running it would retry what failed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from langgraph_sdk import get_client
from langgraph_sdk.client import LangGraphClient

from graphs.common import fence
from server.recovery import refresh_threads
from server.threads import as_server, checkpoint_pauses, updated_at

logger = logging.getLogger(__name__)

SETTLE_TIMEOUT = 60.0
"""Seconds a cancelled run's thread is given to leave ``busy`` before it is checked."""
_tasks: set[asyncio.Task[Any]] = set()


async def out_of_step(client: LangGraphClient, thread_id: str) -> bool:
    """Whether a thread's record says it waits for no one while its checkpoint holds a pause."""
    thread = await client.threads.get(thread_id)
    if thread["status"] != "idle":
        return False
    return bool(checkpoint_pauses(await client.threads.get_state(thread_id)))


def cut_short(thread: Mapping[str, Any]) -> bool:
    """Whether an idle thread's record may be out of step with its checkpoint.

    On the in-memory runtime (the fence's ``recovery-runtime-records`` entry) a run
    cut off before it reported a checkpoint leaves the record's ``interrupts`` as they
    were, the pause it was answering included; a run that reported its last
    checkpoint leaves the interrupts of that checkpoint, none for a decided request.
    An idle thread that lists no interrupts therefore holds no pause that its record
    lost, and the sweep skips it. A deployed server's runtime is not known to keep
    them: there every thread that went idle may be.
    """
    return bool(thread.get("interrupts")) or not fence.embedded()


async def repair(client: LangGraphClient, thread_id: str) -> bool:
    """Re-raise a thread's checkpointed pauses if its record lost them; True if it did."""
    if not await out_of_step(client, thread_id):
        return False
    logger.warning("thread %s: record idle, checkpoint pending: re-raising its pause", thread_id)
    await refresh_threads(client, [thread_id], {})
    return True


async def _repair_when_settled(thread_id: str) -> None:
    client = get_client()
    deadline = asyncio.get_running_loop().time() + SETTLE_TIMEOUT
    try:
        while (await client.threads.get(thread_id))["status"] == "busy":
            if asyncio.get_running_loop().time() > deadline:
                return  # still running: the periodic sweep looks again
            await asyncio.sleep(0.2)
        await repair(client, thread_id)
    except Exception:
        logger.exception("repairing thread %s after a cancel failed", thread_id)


def in_background(coro: Any) -> None:
    """Run ``coro`` as the server itself, not as the caller whose request started it.

    A fresh context: the caller's auth context must not follow the task into the
    server's own calls.
    """
    task = as_server(coro)
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)


async def restoring(thread: Mapping[str, Any]) -> bool:
    """For an answer refused as stale: is the pause only missing from the record? Repair it.

    Read from the checkpoint, as the server itself: the caller may no longer see the
    thread through its metadata.
    """
    if thread.get("status") != "idle":
        return False
    thread_id = str(thread["thread_id"])
    if not await as_server(out_of_step(get_client(), thread_id)):
        return False
    in_background(repair(get_client(), thread_id))
    return True


def after_cancel(thread_id: Any) -> None:
    """Once a cancel's thread is no longer busy, repair it if the cancel cut an answer short.

    A bulk cancel (no thread) is followed by the next :func:`sweep`.
    """
    if thread_id is not None:
        in_background(_repair_when_settled(str(thread_id)))


async def sweep(client: LangGraphClient, since: datetime) -> int:
    """Repair threads that went idle since ``since``; return how many.

    Failed threads (``error``) are left alone: re-running them would retry whatever
    failed, which is for a person to decide. On the embedded server only threads
    whose record still lists interrupts are read further (:func:`cut_short`): one
    search a page, instead of two reads of every thread decided since the last sweep.
    """
    from server.pauses import reconcile  # noqa: PLC0415 - it imports server.auth, which imports us

    await reconcile(client)  # metadata writes that were lost
    repaired, offset = 0, 0
    while True:
        page = await client.threads.search(
            status="idle",
            limit=100,
            offset=offset,
            sort_by="updated_at",
            sort_order="desc",
            select=["thread_id", "updated_at", "interrupts"],
        )
        recent = [t for t in page if updated_at(t) >= since]
        for thread in filter(cut_short, recent):
            repaired += await repair(client, str(thread["thread_id"]))
        if len(recent) < len(page) or len(page) < 100:
            return repaired
        offset += 100
