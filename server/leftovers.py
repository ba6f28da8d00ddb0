"""Let go of what the in-memory runtime keeps of ended runs and deleted threads.

langgraph-runtime-inmem keeps, until the process ends, for every run it ever ran:

- the run's ``done`` control message (``StreamManager.control_keys``), kept for
  a cancellation listener of that run, which has ended with it;
- per thread, the dicts of the run's stream and control queues, empty once the
  run and its listeners are gone (``queues``, ``control_queues``);
- the ``asyncio.Lock`` of its retry counter, and the counter itself
  (``GLOBAL_RETRY_COUNTER``), which
  ``Threads.delete`` leaves behind with the runs it deletes.

About 2 KB of objects per decided request, kept until a restart: a server that
has served many requests grew by 2-4 KB per further decided request with them,
and by about 1 KB without (docs/performance.md, "Memory").

:func:`install` wraps two runtime operations of the embedded server:

- ``Runs.enter`` (a worker's hold on a run): when it ends, the run's ``done``
  control message, its control queue (which the stock code leaves when the run
  fails), its lock and its thread's empty queue dicts go;
- ``Threads.delete`` (an admin's delete, the archive's removal): the thread's
  stream records (those no live subscriber holds) and its runs' retry counters go.

A run's counter stays while its thread does: a run that failed and waits for
another attempt counts its attempts with it. The patch may be switched off with
``HITL_RUNTIME_TIDY=0``, and installs only when the fence finds its
``runtime-leftovers`` entry ok.
"""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterable
from typing import Any

from graphs.common import fence
from server import inmem_patch

logger = logging.getLogger(__name__)

MARK = "__hitl_leftovers__"
_originals: inmem_patch.Originals = {}

SUBSCRIBED = ("queues", "control_queues", "thread_streams")
"""Stream-manager tables of live queues: a thread's entry goes only when it holds none."""
KEPT = ("control_keys", "message_stores")
"""Stream-manager tables of kept messages: a deleted thread's entry goes whole."""


def _key(value: Any) -> Any:
    """The stream manager's key for a run or thread id (a UUID; None: threadless runs)."""
    stream = fence.inmem_stream()
    return stream.THREADLESS_KEY if value is None else stream._ensure_uuid(value)


def _empty(entry: Any) -> bool:
    """Whether a thread's entry of a subscribed table holds no live queue."""
    if isinstance(entry, dict):
        return not any(entry.values())
    return not entry


def _drop_lock(run: Any) -> None:
    """Drop a run's retry-counter lock unless it is held (the counter makes it again)."""
    locks = fence.inmem_database().GLOBAL_RETRY_COUNTER._locks
    if run in locks and not locks[run].locked():
        del locks[run]


def forget_run(run_id: Any, thread_id: Any) -> None:
    """After a worker's hold on a run ends: its ``done`` message, its lock, empty queue dicts."""
    manager = fence.inmem_stream().get_stream_manager()
    run, thread = _key(run_id), _key(thread_id)
    keys = manager.control_keys.get(thread)
    if keys is not None:
        message = keys.get(run)
        if message is not None and message.data == b"done":
            del keys[run]
        if not keys:
            del manager.control_keys[thread]
    for name in ("queues", "control_queues"):
        entry = getattr(manager, name).get(thread)
        if entry is None:
            continue
        if name == "control_queues" or not entry.get(run, True):
            entry.pop(run, None)  # the hold's control queue is its own; a subscriber's stays
        if not entry:
            del getattr(manager, name)[thread]
    _drop_lock(run)


def forget_thread(thread_id: Any, run_ids: Iterable[Any]) -> None:
    """After a thread's delete: its stream records nobody listens on, its runs' counters."""
    manager = fence.inmem_stream().get_stream_manager()
    thread = _key(thread_id)
    for name in KEPT:
        getattr(manager, name).pop(thread, None)
    for name in SUBSCRIBED:
        table = getattr(manager, name)
        if thread in table and _empty(table[thread]):
            del table[thread]
    for run_id in run_ids:
        run = _key(run_id)
        fence.inmem_database().GLOBAL_RETRY_COUNTER._counters.pop(run, None)
        _drop_lock(run)


def _tidy_enter(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``Runs.enter``: when the hold on the run ends, forget what it leaves."""

    @contextlib.asynccontextmanager
    @functools.wraps(original)
    async def enter(run_id: Any, thread_id: Any, *args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        try:
            async with original(run_id, thread_id, *args, **kwargs) as done:
                yield done
        finally:
            forget_run(run_id, thread_id)

    setattr(enter, MARK, True)
    return enter


def _runs_of(thread_id: Any) -> list[Any]:
    """The ids of the runs the runtime holds for a thread (before its delete)."""
    runs = fence.inmem_database().GLOBAL_STORE.get("runs") or []
    thread = _key(thread_id)
    of = getattr(runs, "of", None)  # the runtime index's per-thread list
    found = of(thread) if of is not None else (r for r in runs if r["thread_id"] == thread)
    return [run["run_id"] for run in found]


def _tidy_delete(original: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap ``Threads.delete``: once the thread is gone, forget its leftovers."""

    @functools.wraps(original)
    async def delete(conn: Any, thread_id: Any, *args: Any, **kwargs: Any) -> Any:
        run_ids = _runs_of(thread_id)
        deleted = await original(conn, thread_id, *args, **kwargs)
        forget_thread(thread_id, run_ids)  # it raised (404) if the thread stayed
        return deleted

    setattr(delete, MARK, True)
    return delete


def patch_classes(runs: type, threads: type) -> None:
    """Apply the patch to a ``Runs`` and a ``Threads`` class (the runtime's, or test doubles)."""
    inmem_patch.wrap(_originals, runs, "enter", MARK, _tidy_enter)
    inmem_patch.wrap(_originals, threads, "delete", MARK, _tidy_delete)


def uninstall() -> None:
    """Restore the stock methods (for tests)."""
    inmem_patch.restore(_originals)


def install() -> bool:
    """Tidy the in-memory runtime after runs and thread deletes; return whether it does.

    Does nothing, with a log line, when ``HITL_RUNTIME_TIDY=0`` or unless the fence
    finds its ``runtime-leftovers`` entry ok. Safe to call more than once.
    """
    if active():
        return True
    if not inmem_patch.wanted(
        logger, "runtime tidy", "HITL_RUNTIME_TIDY", "runtime-leftovers", "keeping every leftover"
    ):
        return False
    ops = fence.inmem_ops()
    patch_classes(ops.Runs, ops.Threads)
    logger.info(
        "runtime tidy installed (langgraph-runtime-inmem %s): ended runs and deleted threads "
        "leave nothing in the runtime; HITL_RUNTIME_TIDY=0 keeps the leftovers",
        fence.SUPPORTED["langgraph-runtime-inmem"],
    )
    return True


def active() -> bool:
    """Whether the running in-memory runtime forgets what ended runs leave."""
    return inmem_patch.active("enter", MARK)
