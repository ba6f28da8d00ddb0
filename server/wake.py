"""Wake the embedded server's run queue when a run is enqueued (``langgraph dev`` only).

``langgraph dev`` runs the in-memory runtime, whose queue (``Runs.next`` in
``langgraph_runtime_inmem/ops.py``) sleeps a fixed 0.5 s whenever it finds nothing
to do, and then takes only the runs created *before* that sleep began. Putting a
run does not wake it, so every run waits 0.5-1.0 s before it starts, and one
approval cycle (two runs) costs about 2 s where the graph itself needs 4 ms.

:func:`install` changes two things, for the in-memory runtime alone:

- ``Runs.put``, ``Runs.set_status`` and ``Threads.set_joint_status`` (a run
  enqueued, re-queued for a retry, or finished so that the next run on its thread
  may start) set an :class:`asyncio.Event` once they return;
- ``Runs.next(wait=True)`` waits on that event, with the stock 0.5 s as its
  timeout (runs delayed with ``after_seconds``), instead of the fixed sleep, and
  only then takes its snapshot time, so a run put while it waited is taken at once.
  The stock selection code (``Runs.next(wait=False)``) does the rest, unchanged.
- with the runtime index installed (``server/runtime_index.py``), that stock scan
  sees the index's view (the pending runs, their threads and those threads' runs)
  instead of every run the runtime holds, and is skipped when nothing is pending;
  a scan of every run still happens whenever the last one is 0.5 s old.

Nothing polls: an idle server wakes twice a second, as before. The patch is
the fence's ``run-queue-wake`` entry (``graphs/common/fence.py``), written
against the runtime version in the fence's table: on any other version the
fence reports it degraded and the stock queue stays; any runtime other than
the in-memory one (a deployed LangGraph Server) logs a warning and keeps the
stock behaviour too. The README (*The run-queue wake*)
holds the same change as a patch to offer upstream.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import sys
import time
from collections.abc import AsyncGenerator, Callable
from typing import Any

from graphs.common import fence
from server import inmem_patch, runtime_index

logger = logging.getLogger(__name__)

IDLE_TIMEOUT = 0.5
"""The stock idle sleep, kept as the longest wait (delayed runs, and a safety net)."""

MARK = "__hitl_wake__"


class Waker:
    """An event that the run queue waits on and enqueuing sets, from any thread."""

    def __init__(self) -> None:
        self.loop: asyncio.AbstractEventLoop | None = None
        self.event: asyncio.Event | None = None
        self.wakes = 0
        """How many times a waiting queue was woken before its timeout."""
        self.signals = 0
        """How many times enqueuing (or a finished run) signalled the queue."""
        self.skips = 0
        """How many times the queue skipped its scan: the runtime index knew nothing was pending."""
        self.scanned_at = float("-inf")
        """When the queue last scanned every run (``time.monotonic``)."""

    def index_trusted(self) -> bool:
        """Whether the queue scanned every run within :data:`IDLE_TIMEOUT`.

        Only then does it scan the runtime index's view instead: whatever the index
        could miss, a scan of every run still happens as often as the stock queue polls.
        """
        return time.monotonic() - self.scanned_at < IDLE_TIMEOUT

    def set(self) -> None:
        """Signal the queue; safe from the queue's loop, another loop or a thread."""
        self.signals += 1
        loop, event = self.loop, self.event
        if loop is None or event is None or loop.is_closed():
            return  # the queue has not waited yet: its first scan will see the run
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is loop:
            event.set()
        else:
            loop.call_soon_threadsafe(event.set)

    def bind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Serve the queue running on ``loop`` (a fresh event, not yet set)."""
        self.loop, self.event = loop, asyncio.Event()

    async def wait(self, timeout: float) -> None:
        """Wait until signalled or ``timeout`` seconds have passed, then re-arm."""
        loop = asyncio.get_running_loop()
        if self.loop is not loop or self.event is None:
            # First wait on another loop: no wait, the scan finds what was put before.
            self.bind(loop)
            return
        try:
            await asyncio.wait_for(self.event.wait(), timeout)
            self.wakes += 1
        except TimeoutError:
            pass
        # Cleared before the caller takes its snapshot time: a run put after this
        # line sets the event again, one put before it is older than the snapshot.
        self.event.clear()


WAKER = Waker()
_originals: inmem_patch.Originals = {}


def _signalling(method: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap an async runtime operation so that the queue is signalled once it returns."""

    @functools.wraps(method)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await method(*args, **kwargs)
        finally:
            WAKER.set()

    setattr(wrapper, MARK, True)
    return wrapper


def _waking_next(original: Callable[..., AsyncGenerator[Any]]) -> Callable[..., Any]:
    """Wrap ``Runs.next``: wait for a signal instead of sleeping, then run the stock scan."""

    @functools.wraps(original)
    async def next_run(wait: bool, limit: int = 1) -> AsyncGenerator[Any]:
        if wait:
            await WAKER.wait(IDLE_TIMEOUT)
        viewed = WAKER.index_trusted() and runtime_index.queue_indexed()
        if not viewed:
            WAKER.scanned_at = time.monotonic()  # the stock scan, of every run
        elif runtime_index.nothing_pending():
            WAKER.skips += 1
            return  # what the stock scan would find
        # wait=False: the stock code takes its snapshot now (after the wake) and
        # yields every pending run created before it, with the stock locking; it
        # sees the view while it runs, not while the queue handles what it yields.
        view = runtime_index.QUEUE if viewed else None
        async with contextlib.aclosing(original(wait=False, limit=limit)) as runs:
            while True:
                with runtime_index.queue_view(view):
                    try:
                        item = await anext(runs)
                    except StopAsyncIteration:
                        break
                yield item

    setattr(next_run, MARK, True)
    return next_run


def patch_classes(runs: type, threads: type) -> None:
    """Apply the patch to a ``Runs`` and a ``Threads`` class (the runtime's, or test doubles)."""
    inmem_patch.wrap(_originals, runs, "next", MARK, _waking_next)
    for cls, name in ((runs, "put"), (runs, "set_status"), (threads, "set_joint_status")):
        inmem_patch.wrap(_originals, cls, name, MARK, _signalling)


def uninstall() -> None:
    """Restore the stock methods (for tests)."""
    inmem_patch.restore(_originals)


def install() -> bool:
    """Patch the in-memory runtime's queue to wake on enqueue; return whether it is active.

    Does nothing, with a warning, unless the server runs the in-memory runtime
    (``LANGGRAPH_RUNTIME_EDITION=inmem``, as ``langgraph dev`` sets) and the fence
    finds its ``run-queue-wake`` entry ok; does nothing when ``HITL_FAST_QUEUE=0`` (to measure
    or debug the stock queue). Safe to call more than once.
    """
    if active():
        return True
    edition = os.environ.get("LANGGRAPH_RUNTIME_EDITION", "inmem")
    if edition != "inmem":
        logger.warning("run-queue wake not installed: runtime edition is %r, not inmem", edition)
        return False
    if not inmem_patch.wanted(
        logger, "run-queue wake", "HITL_FAST_QUEUE", "run-queue-wake", "keeping the stock queue"
    ):
        return False
    ops = fence.inmem_ops()
    served = sys.modules.get("langgraph_runtime.ops")
    if served is not None and served is not ops:
        logger.warning("run-queue wake not installed: the server runs %s", served.__name__)
        return False
    patch_classes(ops.Runs, ops.Threads)
    with contextlib.suppress(RuntimeError):
        WAKER.bind(asyncio.get_running_loop())  # the server's loop, where its queue runs
    logger.info(
        "run-queue wake installed (langgraph-runtime-inmem %s): runs start when enqueued; "
        "HITL_FAST_QUEUE=0 keeps the stock 0.5 s poll",
        fence.SUPPORTED["langgraph-runtime-inmem"],
    )
    return True


def active() -> bool:
    """Whether the running in-memory runtime's queue wakes on enqueue."""
    return inmem_patch.active("next", MARK)
