"""The embedded server's durable checkpointer: SQLite under the data directory.

Wired in only by ``langgraph.json`` (``"checkpointer"``), which ``langgraph dev``
reads. A deployed LangGraph Server uses its own Postgres persistence instead.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import queue
import sqlite3
import threading
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
)
from langgraph.checkpoint.sqlite import SqliteSaver

from graphs.common.store import commit_mode, data_dir

T = TypeVar("T")


def checkpoint_path() -> Path:
    """Return the SQLite file holding every checkpoint of the embedded server."""
    return data_dir() / "checkpoints.sqlite"


class SaverThread:
    """The saver's one thread: it runs the calls handed to it in order, each for one future.

    ``loop.run_in_executor`` on a ``ThreadPoolExecutor`` costs the event loop, per
    call, a ``concurrent.futures.Future`` (a lock and a condition), its chaining to an
    asyncio future and the pool's bookkeeping: about 4 % of the server's CPU under
    load, for the checkpointer's dozen calls per approval cycle (docs/performance.md).
    Here a call is an asyncio future and a tuple on a queue; the thread settles the
    future through ``call_soon_threadsafe``. As with an executor, a call whose
    caller stopped waiting (cancelled) before the thread took it is skipped, and one
    already running runs to its end.
    """

    def __init__(self, name: str) -> None:
        self._calls: queue.SimpleQueue[tuple[Any, asyncio.Future[Any], Callable[[], Any]] | None]
        self._calls = queue.SimpleQueue()
        # A daemon: a server that exits without closing its saver (a crash) does not
        # hang on it; SQLite rolls back a write cut short.
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)
        self._thread.start()

    def call(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> asyncio.Future[T]:
        """Run ``fn(*args, **kwargs)`` on the thread, after the calls handed before it."""
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._calls.put((future.get_loop(), future, functools.partial(fn, *args, **kwargs)))
        return future

    def close(self) -> None:
        """Let the thread end once the calls handed to it have run."""
        self._calls.put(None)

    def _serve(self) -> None:
        while (item := self._calls.get()) is not None:
            loop, future, call = item
            if future.cancelled():
                continue
            try:
                outcome: tuple[Any, BaseException | None] = (call(), None)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                outcome = (None, exc)
            with contextlib.suppress(RuntimeError):  # the loop closed: nobody waits
                loop.call_soon_threadsafe(_settle, future, *outcome)


def _connect(path: str | Path) -> sqlite3.Connection:
    """Connect to the checkpoint file, committing the way the store does (``commit_mode``).

    Against SQLite's default ``synchronous=FULL`` (an ``fsync`` per commit), about
    half the CPU per commit, and about a tenth less server CPU per approval cycle
    (docs/performance.md).
    """
    conn = sqlite3.connect(str(path), check_same_thread=False)
    commit_mode(conn)
    return conn


def _settle(future: asyncio.Future[Any], result: Any, exc: BaseException | None) -> None:
    if future.cancelled():
        return
    if exc is None:
        future.set_result(result)
    elif isinstance(exc, StopIteration):  # a future refuses one: its caller would wait forever
        future.set_exception(RuntimeError(f"the saver's call raised {exc!r}"))
    else:
        future.set_exception(exc)


class PruningSqliteSaver(SqliteSaver):
    """langgraph's ``SqliteSaver``, served to async callers from a thread of its own.

    **One hand-over per operation.** Each async method runs the sync method of the same
    name (the same SQL, on the same tables, with the same commit per write as
    ``AsyncSqliteSaver``) on the saver's one thread. ``AsyncSqliteSaver`` hands each
    cursor, execute, fetch, commit and close to aiosqlite's thread separately: 49
    hand-overs per approval cycle on the server, against 14 here, each a future, a
    thread switch and a wake-up of the event loop (docs/performance.md).

    **Pruning.** ``aprune`` with ``keep_latest`` keeps each namespace's latest
    checkpoint with its pending writes: the state (with the audit trail, which is a
    state field) and whatever a pending pause needs to resume; the earlier
    checkpoints, the history, go. ``delete`` (or ``delete_all``) removes the thread's
    checkpoints altogether. The project's graphs use no ``DeltaChannel``, whose values
    would live in earlier checkpoints.
    """

    def __init__(self, conn: sqlite3.Connection, thread: SaverThread) -> None:
        super().__init__(conn)
        self.thread = thread

    @classmethod
    @asynccontextmanager
    async def open(cls, path: str | Path) -> AsyncIterator[PruningSqliteSaver]:
        """Open (and set up) the checkpoint file at ``path`` for the ``async with`` block."""
        thread = SaverThread("checkpoints")
        try:  # the connection is made, used and closed on the saver's thread only
            conn = await thread.call(_connect, path)
            saver = cls(conn, thread)
            try:
                await saver._run(saver.setup)
                yield saver
            finally:
                await saver._run(conn.close)
        finally:  # nothing is left on it: the connection was closed there
            thread.close()

    async def _run(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        return await self.thread.call(fn, *args, **kwargs)

    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """``get_tuple`` on the saver's thread."""
        return await self._run(self.get_tuple, config)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,  # noqa: A002 - the interface's name
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        """``list`` on the saver's thread, read whole there (``limit`` bounds it)."""
        found = await self._run(
            lambda: list(self.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """``put`` on the saver's thread."""
        return await self._run(self.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """``put_writes`` on the saver's thread."""
        await self._run(self.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id: str) -> None:
        """``delete_thread`` on the saver's thread."""
        await self._run(self.delete_thread, thread_id)

    async def aget_delta_channel_history(
        self, *, config: RunnableConfig, channels: Sequence[str]
    ) -> Mapping[str, Any]:
        """``get_delta_channel_history`` on the saver's thread."""
        return await self._run(self.get_delta_channel_history, config=config, channels=channels)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``prune`` on the saver's thread."""
        await self._run(self.prune, thread_ids, strategy=strategy)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune the checkpoints of ``thread_ids`` (see the class)."""
        if strategy in ("delete", "delete_all"):
            for thread_id in thread_ids:
                self.delete_thread(str(thread_id))
            return
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy {strategy!r}")
        with self.cursor() as cur:
            for thread_id in map(str, thread_ids):
                for table in ("writes", "checkpoints"):
                    cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < ("  # noqa: S608
                        "SELECT MAX(c.checkpoint_id) FROM checkpoints c WHERE c.thread_id = "
                        f"{table}.thread_id AND c.checkpoint_ns = {table}.checkpoint_ns)",
                        (thread_id,),
                    )

    async def adelete_for_runs(self, run_ids: Iterable[str]) -> None:
        """``delete_for_runs`` on the saver's thread."""
        await self._run(self.delete_for_runs, [str(r) for r in run_ids])

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) that the given runs wrote.

        What a ``rollback`` would clean up. The boundary refuses rollbacks (they would
        delete decisions), so the server never asks; it is here so that it is right
        if it ever does.
        """
        if not run_ids:
            return
        marks = ", ".join("?" * len(run_ids))
        written = (
            "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints WHERE "  # noqa: S608
            f"json_extract(CAST(metadata AS TEXT), '$.run_id') IN ({marks})"
        )
        with self.cursor() as cur:
            for table in ("writes", "checkpoints"):
                cur.execute(
                    f"DELETE FROM {table} WHERE (thread_id, checkpoint_ns, checkpoint_id) "  # noqa: S608
                    f"IN ({written})",
                    list(run_ids),
                )


@asynccontextmanager
async def sqlite_checkpointer() -> AsyncIterator[PruningSqliteSaver]:
    """Open the checkpoint database for the server's lifetime."""
    async with PruningSqliteSaver.open(checkpoint_path()) as saver:
        yield saver
