"""Keep each thread's metadata in step with its workflow's pauses.

Workflows emit an event for every pause and every accepted decision
(``graphs.common.events``). This subscriber writes what authorization filters on
into the thread's metadata, through the server's own in-process client and the
internal channel that ``server.auth`` recognises (``server.internal``):

- ``waiting_for``: the role (or ``user:<name>``) the open pauses are addressed to,
  cleared when a decision is accepted and nothing else waits. A run that leaves
  several pauses (the assistant's parallel tool calls) raises all of them, in any
  order: a role wins over a single user, so whoever must decide next can see it;
- ``answered_by``: everyone who has decided on the thread, so they can still
  read it (and join their own run) after answering.

It also hands every pause to the webhook notifier (``server.notify``), if one is set.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph_sdk.client import LangGraphClient

from graphs.common.access import first_addressee
from graphs.common.events import Decided, Event, Paused
from server.internal import INTERNAL_WRITE
from server.notify import Notifier, Pause
from server.threads import read_thread


class PauseListener:
    """Apply pause and decision events to thread metadata on the server's event loop."""

    def __init__(
        self,
        client: LangGraphClient,
        loop: asyncio.AbstractEventLoop,
        notifier: Notifier | None = None,
    ) -> None:
        self.client = client
        self.loop = loop
        self.notifier = notifier
        self.raised: OrderedDict[str, list[str]] = OrderedDict()
        """Addressees of the pauses each recent run raised (by run id)."""
        self.tasks: set[asyncio.Task] = set()
        """Writes started on the loop itself (async nodes), kept until done: :meth:`drain`."""

    def waiting_for(self, run_id: str | None, new: str | None = None) -> str | None:
        """Whom a run's pauses wait for, so far: a role before a single user."""
        raised = self.raised.setdefault(str(run_id), [])
        if new and new not in raised:
            raised.append(new)
        while len(self.raised) > 1000:
            self.raised.popitem(last=False)
        return first_addressee(raised)

    def __call__(self, config: RunnableConfig, event: Event) -> None:
        """Handle one event (from a node's worker thread, or from the loop itself)."""
        thread_id = (config.get("configurable") or {}).get("thread_id")
        if not thread_id:
            return
        run_id = (config.get("configurable") or {}).get("run_id")
        work = self.apply(str(thread_id), event, run_id)
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            task = self.loop.create_task(work)
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        # Sync nodes run in worker threads: finish the write before the pause is visible.
        asyncio.run_coroutine_threadsafe(work, self.loop).result(timeout=30)

    async def drain(self) -> None:
        """Wait for the writes still under way (at shutdown)."""
        await asyncio.gather(*self.tasks, return_exceptions=True)

    async def apply(self, thread_id: str, event: Event, run_id: str | None = None) -> None:
        """Write the metadata an event implies."""
        metadata: dict[str, Any] = {}
        if isinstance(event, Paused):
            metadata["waiting_for"] = self.waiting_for(run_id, event.waiting_for)
            if self.notifier is not None:
                pause = Pause(thread_id, event.interrupt_id, event.waiting_for, event.payload)
                await self.notifier.enqueue(pause)
        elif isinstance(event, Decided):
            thread = await read_thread(None, thread_id) or {}
            answered = list((thread.get("metadata") or {}).get("answered_by") or [])
            if event.approver and event.approver not in answered:
                answered.append(event.approver)
            metadata.update(waiting_for=self.waiting_for(run_id), answered_by=answered)
        token = INTERNAL_WRITE.set(True)
        try:
            await self.client.threads.update(thread_id, metadata=metadata)
        finally:
            INTERNAL_WRITE.reset(token)
