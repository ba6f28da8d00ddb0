"""Driving the real in-memory runtime in process (with the ``runtime`` fixture)."""

from __future__ import annotations

import uuid
from typing import Any

from graphs.common import fence

ASSISTANT = uuid.UUID(int=7)


async def collect(result: Any) -> list[Any]:
    """What a runtime operation's async iterator yields."""
    return [item async for item in await result]


def fresh(store: Any) -> Any:
    """Empty the runtime's store and retry counter, give it one assistant (:data:`ASSISTANT`)
    to run, and return a connection to it. Attempts then count from 1."""
    database = fence.inmem_database()
    database.GLOBAL_RETRY_COUNTER._counters.clear()
    database.GLOBAL_RETRY_COUNTER._locks.clear()
    store.clear()
    store["assistants"].append(
        {
            "assistant_id": ASSISTANT,
            "graph_id": "g",
            "config": {},
            "context": {},
            "metadata": {"created_by": "system"},
        }
    )
    return database.InMemConnectionProto()
