"""Expire pauses whose deadline has passed, inside the server, with nothing to start.

Every workflow pause carries a ``due_at``. A background task of the custom app
(started by its lifespan, so ``langgraph dev`` and a deployed server both run it)
looks at the waiting threads every ``HITL_SWEEP_SECONDS`` (default 30) and answers
each overdue pause with ``{"decision": "expired"}`` through the server's own
client. The workflow decides what expiry means (reject, escalate to the next
level, cancel the order) and records it in its audit trail as made by ``system``;
it ignores the marker before the deadline. Several replicas may sweep at once:
the ``reject`` multitask strategy and resumes addressed by pause id make a second
expiry of the same pause a no-op.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.errors import APIStatusError
from langgraph_sdk.schema import ThreadSelectField

from graphs.common.pauses import EXPIRED, is_overdue
from server.threads import all_threads, pending_pauses

logger = logging.getLogger(__name__)


def sweep_interval() -> float:
    """Seconds between sweeps (``HITL_SWEEP_SECONDS``)."""
    return float(os.environ.get("HITL_SWEEP_SECONDS", "30"))


async def overdue_pauses(client: LangGraphClient) -> list[tuple[str, str, str]]:
    """Return ``(thread_id, graph_id, pause_id)`` for every overdue pending pause."""
    found = []
    select: list[ThreadSelectField] = ["thread_id", "metadata", "interrupts"]
    async for thread in all_threads(client, "interrupted", select):
        graph_id = (thread.get("metadata") or {}).get("graph_id")
        for pause in pending_pauses(thread):
            value = pause.get("value")
            if graph_id and isinstance(value, dict) and is_overdue(value.get("due_at")):
                found.append((str(thread["thread_id"]), graph_id, pause["id"]))
    return found


async def sweep_once(client: LangGraphClient) -> int:
    """Expire every overdue pause once; return how many expiry runs were started."""
    started = 0
    for thread_id, graph_id, pause_id in await overdue_pauses(client):
        try:
            await client.runs.create(
                thread_id,
                graph_id,
                command={"resume": {pause_id: {"decision": EXPIRED}}},
                multitask_strategy="reject",
            )
            started += 1
        except APIStatusError as exc:  # 409: someone is answering it right now
            logger.info("deadline sweep skipped %s: %s", thread_id, exc.status_code)
    if started:
        logger.warning("deadline sweep at %s: expired %d pauses", datetime.now(UTC), started)
    return started


async def sweep_forever(
    client: LangGraphClient,
    interval: float,
    also: Callable[[LangGraphClient, datetime], Awaitable[Any]] | None = None,
) -> None:
    """Sweep every ``interval`` seconds until cancelled; a failed sweep is logged and retried.

    ``also`` runs on each sweep too, with the time the previous sweep started
    (``server.repair.sweep``: threads whose record lost a checkpointed pause).
    """
    since = datetime.now(UTC)
    while True:
        started = datetime.now(UTC)
        try:
            await sweep_once(client)
            if also is not None:
                await also(client, since)
            since = started
        except asyncio.CancelledError:
            raise
        except Exception:
            logger.exception("sweep failed; retrying in %.0fs", interval)
        await asyncio.sleep(interval)
