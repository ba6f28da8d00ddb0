"""Keep each thread's metadata in step with its workflow's pauses.

Workflows emit an event for every pause and every accepted decision
(``graphs.common.events``). This subscriber writes what authorization filters on
into the thread's metadata, as the server itself, straight into the runtime's
thread record (``server.threads.write_metadata``: no HTTP loopback, no auth
handler; no client can write these keys, ``server.auth``):

- ``waiting_for``: the role (or ``user:<name>``) the open pauses are addressed to,
  cleared when a decision is accepted and nothing else waits. A run that leaves
  several pauses (the assistant's parallel tool calls) raises all of them, in any
  order: a role wins over a single user, so whoever must decide next can see it;
- ``answered_by``: everyone who has decided on the thread, so they can still
  read it (and join their own run) after answering.

A node never waits on these writes and never sees them fail: the listener only
schedules the write on the server's loop and returns, so a pause always pauses.
Writes for one thread apply in the order their events were emitted (one chain per
thread); a failed write is logged and tried again with back-off for about a
minute (:data:`RETRY_DELAYS`). Nothing is lost if it still fails, or if the
server dies first: every sweep (``server.repair.sweep``) runs :func:`reconcile`,
which sets ``waiting_for`` of every interrupted thread from its pending pauses,
and the full server-owned metadata of threads whose write gave up.

It also hands every pause to the webhook notifier (``server.notify``), if one is
set; a failure there is logged, never raised into the node.
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph_sdk.client import LangGraphClient
from langgraph_sdk.schema import ThreadSelectField

from graphs.common.access import first_addressee
from graphs.common.events import Decided, Event, Paused
from server.notify import Notifier, Pause
from server.recovery import ThreadRecord, owned_metadata
from server.threads import all_threads, read_thread, write_metadata

logger = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0, 30.0)
"""Seconds before each retry of a failed metadata write (about a minute in all)."""
SETTLE_TIMEOUT = 2.0
"""Longest :meth:`PauseListener.settled` waits for writes under way."""
DRAIN_TIMEOUT = 10.0
"""Longest :meth:`PauseListener.drain` waits at shutdown; the next sweep does the rest."""

_listeners: weakref.WeakSet[PauseListener] = weakref.WeakSet()

MetadataWriter = Callable[[str, dict[str, Any]], Awaitable[Any]]
"""Merges metadata into a thread's record: ``server.threads.write_metadata`` in the server."""


class PauseListener:
    """Apply pause and decision events to thread metadata on the server's event loop."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        notifier: Notifier | None = None,
        retry_delays: Iterable[float] = RETRY_DELAYS,
        write: MetadataWriter = write_metadata,
    ) -> None:
        self.write = write
        self.loop = loop
        self.notifier = notifier
        self.retry_delays = tuple(retry_delays)
        self.raised: OrderedDict[str, list[str]] = OrderedDict()
        """Addressees of the pauses each recent run raised (by run id)."""
        self.chains: dict[str, asyncio.Task[Any]] = {}
        """The last write scheduled for each thread: the next one starts after it."""
        self.tasks: set[asyncio.Task[Any]] = set()
        """Writes and notifications under way, kept until done: :meth:`drain`."""
        self.gave_up: set[str] = set()
        """Threads whose write failed for good: :func:`reconcile` sets them from their record."""
        self.failing: set[str] = set()
        """Threads whose write is being retried: :meth:`settled` does not wait for them."""
        self.failure_waiters: set[asyncio.Future[None]] = set()
        _listeners.add(self)

    def waiting_for(self, run_id: str | None, new: str | None = None) -> str | None:
        """Whom a run's pauses wait for, so far: a role before a single user."""
        raised = self.raised.setdefault(str(run_id), [])
        if new and new not in raised:
            raised.append(new)
        while len(self.raised) > 1000:
            self.raised.popitem(last=False)
        return first_addressee(raised)

    def __call__(self, config: RunnableConfig, event: Event) -> None:
        """Schedule an event's writes on the server's loop and return at once; never raise.

        Called from a node: in a worker thread (sync nodes) or on the loop itself
        (async nodes). From a thread, the write is queued on the loop before the
        node's exception propagates, so it starts before the run can finish.
        """
        try:
            configurable = config.get("configurable") or {}
            thread_id = configurable.get("thread_id")
            if not thread_id:
                return
            run_id = configurable.get("run_id")
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self.loop:
                self.schedule(str(thread_id), event, run_id)
            else:  # callbacks run in the order they were queued: the events' order
                self.loop.call_soon_threadsafe(self.schedule, str(thread_id), event, run_id)
        except Exception:  # a closed loop, say: the sweep still reconciles the thread
            logger.exception("could not schedule the metadata write of %s", event)

    def schedule(self, thread_id: str, event: Event, run_id: str | None) -> None:
        """On the loop: chain the event's write after the thread's previous one."""
        if isinstance(event, Paused):
            waiting_for = self.waiting_for(run_id, event.waiting_for)
            if self.notifier is not None:
                pause = Pause(thread_id, event.interrupt_id, event.waiting_for, event.payload)
                self._start(self._notify(pause))
        else:
            waiting_for = self.waiting_for(run_id)
        task = self._start(self._write(self.chains.get(thread_id), thread_id, event, waiting_for))
        self.chains[thread_id] = task
        task.add_done_callback(lambda done: self._unchain(thread_id, done))

    def _unchain(self, thread_id: str, done: asyncio.Task[Any]) -> None:
        if self.chains.get(thread_id) is done:
            del self.chains[thread_id]

    async def settled(
        self, thread_ids: Iterable[str] | None = None, timeout: float = SETTLE_TIMEOUT
    ) -> bool:
        """Wait (at most ``timeout``) for the writes under way (of ``thread_ids``, or all).

        For readers that list threads by their metadata right after a run finished.
        A write being retried is not waited for: it is known to fail, and the sweep
        covers it. Returns whether the writes waited for all finished.
        """
        deadline = self.loop.time() + timeout
        while True:
            wanted = self.chains if thread_ids is None else set(thread_ids)
            pending = [
                t for tid, t in self.chains.items() if tid in wanted and tid not in self.failing
            ]
            if not pending:
                return True
            if (left := deadline - self.loop.time()) <= 0:
                return False
            failed = self.loop.create_future()  # a write failing: look again
            self.failure_waiters.add(failed)
            try:
                await asyncio.wait(
                    [*pending, failed], timeout=left, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                self.failure_waiters.discard(failed)

    async def drain(self, timeout: float = DRAIN_TIMEOUT) -> None:
        """Wait for the writes still under way (at shutdown), then stop retrying."""
        if not self.tasks:
            return
        _, left = await asyncio.wait(set(self.tasks), timeout=timeout)
        for task in left:
            task.cancel()
        if left:
            logger.warning(
                "%d metadata writes unfinished at shutdown: the next sweep reconciles them",
                len(left),
            )
        await asyncio.gather(*left, return_exceptions=True)

    def _start(self, work: Coroutine[Any, Any, None]) -> asyncio.Task[Any]:
        task = self.loop.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return task

    async def _notify(self, pause: Pause) -> None:
        assert self.notifier is not None
        try:
            await self.notifier.enqueue(pause)
        except Exception:
            logger.exception("could not queue the notification of pause %s", pause.interrupt_id)

    async def _write(
        self, after: asyncio.Task[Any] | None, thread_id: str, event: Event, waiting_for: str | None
    ) -> None:
        if after is not None:  # asyncio.wait: cancelling this write leaves the earlier one be
            await asyncio.wait([after])
        try:
            await self._write_with_retries(thread_id, event, waiting_for)
        finally:
            self.failing.discard(thread_id)

    async def _write_with_retries(
        self, thread_id: str, event: Event, waiting_for: str | None
    ) -> None:
        for attempt, delay in enumerate((0.0, *self.retry_delays)):
            if delay:  # the first attempt starts without yielding: before the run can finish
                await asyncio.sleep(delay)
            try:
                await self.apply(thread_id, event, waiting_for)
            except Exception as exc:
                self.failing.add(thread_id)
                for waiter in self.failure_waiters:
                    if not waiter.done():
                        waiter.set_result(None)
                name = type(event).__name__
                logger.warning(
                    "thread %s: %s metadata write failed (attempt %d): %r",
                    thread_id,
                    name,
                    attempt + 1,
                    exc,
                )
            else:
                self.gave_up.discard(thread_id)
                return
        logger.error(
            "thread %s: %s metadata write gave up; the sweep reconciles it",
            thread_id,
            type(event).__name__,
        )
        self.gave_up.add(thread_id)

    async def apply(self, thread_id: str, event: Event, waiting_for: str | None) -> None:
        """Write the metadata an event implies (``waiting_for``: as of that event)."""
        metadata: dict[str, Any] = {"waiting_for": waiting_for}
        if isinstance(event, Decided):
            thread = await read_thread(None, thread_id) or {}
            answered = list((thread.get("metadata") or {}).get("answered_by") or [])
            if event.approver and event.approver not in answered:
                answered.append(event.approver)
            metadata["answered_by"] = answered
        await self.write(thread_id, metadata)


async def settled(timeout: float = SETTLE_TIMEOUT) -> bool:
    """Wait (at most ``timeout``) for this process's metadata writes under way.

    A client that waits for a run and then lists pauses by ``waiting_for`` (the
    inbox, ``hitl pending``) would otherwise race the write of the run's pause.
    """
    waits = [listener.settled(timeout=timeout) for listener in list(_listeners)]
    return all(await asyncio.gather(*waits))


def owned(thread: Mapping[str, Any]) -> dict[str, Any]:
    """``waiting_for`` and ``answered_by`` as a thread's record implies them (recovery's rule)."""
    metadata = owned_metadata(thread, ThreadRecord())
    del metadata["owner"]
    return metadata


async def reconcile(client: LangGraphClient, write: MetadataWriter = write_metadata) -> int:
    """Set server-owned metadata from the threads' records where a write was lost.

    Every interrupted thread gets ``waiting_for`` from its pending pauses; threads
    whose write gave up also get ``answered_by`` from their audit trail. Threads
    with a write under way in this process are left to it. Returns how many
    threads were written.
    """
    writing = {tid for listener in _listeners for tid in listener.chains}
    gave_up = {tid for listener in _listeners for tid in listener.gave_up}
    stale = set()
    select: list[ThreadSelectField] = ["thread_id", "metadata", "interrupts"]
    async for thread in all_threads(client, "interrupted", select):
        if (thread.get("metadata") or {}).get("waiting_for") != owned(thread)["waiting_for"]:
            stale.add(str(thread["thread_id"]))
    written = 0
    for thread_id in sorted((stale | gave_up) - writing):
        try:
            written += await _reconcile_one(client, write, thread_id, thread_id in gave_up)
        except Exception as exc:  # one thread (deleted since, say) must not stop the sweep
            logger.warning("thread %s: metadata not reconciled: %r", thread_id, exc)
            status = getattr(getattr(exc, "response", None), "status_code", None)
            if isinstance(exc, LookupError) or status == 404:
                _forget(thread_id)
    return written


async def _reconcile_one(
    client: LangGraphClient, write: MetadataWriter, thread_id: str, full: bool
) -> bool:
    # Read again just before writing: the thread may have moved on since the scan.
    thread = await client.threads.get(thread_id)
    if thread["status"] == "busy" or any(thread_id in lst.chains for lst in _listeners):
        return False  # its run's own events write it; the next sweep looks again
    metadata = owned(thread)
    if not full:
        metadata = {"waiting_for": metadata["waiting_for"]}
    logger.warning("thread %s: metadata reconciled with its record: %s", thread_id, metadata)
    await write(thread_id, metadata)
    _forget(thread_id)
    return True


def _forget(thread_id: str) -> None:
    for listener in _listeners:
        listener.gave_up.discard(thread_id)
