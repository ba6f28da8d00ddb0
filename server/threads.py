"""Reading threads through the server's own client: every page of a search, their pauses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from langgraph_sdk.client import LangGraphClient

PAGE = 500


async def all_threads(
    client: LangGraphClient, status: str | None = None, select: list[str] | None = None
) -> AsyncIterator[dict[str, Any]]:
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


def pending_pauses(thread: dict[str, Any]) -> list[dict[str, Any]]:
    """The pending interrupts of a thread record (grouped by task on the server)."""
    return [i for group in (thread.get("interrupts") or {}).values() for i in group]
