"""The embedded server's durable checkpointer: SQLite under the data directory.

Wired in only by ``langgraph.json`` (``"checkpointer"``), which ``langgraph dev``
reads. A deployed LangGraph Server uses its own Postgres persistence instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from graphs.common.store import data_dir


def checkpoint_path() -> Path:
    """Return the SQLite file holding every checkpoint of the embedded server."""
    return data_dir() / "checkpoints.sqlite"


class PruningSqliteSaver(AsyncSqliteSaver):
    """``AsyncSqliteSaver`` that also prunes (``aprune``) and deletes a run's checkpoints.

    ``keep_latest`` keeps each namespace's latest checkpoint with its pending writes:
    the state (with the audit trail, which is a state field) and whatever a pending
    pause needs to resume; the earlier checkpoints, the history, go. ``delete`` (or
    ``delete_all``) removes the thread's checkpoints altogether. The project's
    graphs use no ``DeltaChannel``, whose values would live in earlier checkpoints.
    """

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """Prune the checkpoints of ``thread_ids`` (see the class)."""
        if strategy in ("delete", "delete_all"):
            for thread_id in thread_ids:
                await self.adelete_thread(str(thread_id))
            return
        if strategy != "keep_latest":
            raise ValueError(f"unknown prune strategy {strategy!r}")
        await self.setup()
        async with self.lock, self.conn.cursor() as cur:
            for thread_id in map(str, thread_ids):
                for table in ("writes", "checkpoints"):
                    await cur.execute(
                        f"DELETE FROM {table} WHERE thread_id = ? AND checkpoint_id < ("  # noqa: S608
                        "SELECT MAX(c.checkpoint_id) FROM checkpoints c WHERE c.thread_id = "
                        f"{table}.thread_id AND c.checkpoint_ns = {table}.checkpoint_ns)",
                        (thread_id,),
                    )
            await self.conn.commit()

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) that the given runs wrote.

        What a ``rollback`` would clean up. The boundary refuses rollbacks (they would
        delete decisions), so the server never asks; it is here so that it is right
        if it ever does.
        """
        if not run_ids:
            return
        await self.setup()
        marks = ", ".join("?" * len(run_ids))
        written = (
            "SELECT thread_id, checkpoint_ns, checkpoint_id FROM checkpoints WHERE "  # noqa: S608
            f"json_extract(CAST(metadata AS TEXT), '$.run_id') IN ({marks})"
        )
        async with self.lock, self.conn.cursor() as cur:
            for table in ("writes", "checkpoints"):
                await cur.execute(
                    f"DELETE FROM {table} WHERE (thread_id, checkpoint_ns, checkpoint_id) "  # noqa: S608
                    f"IN ({written})",
                    [str(r) for r in run_ids],
                )
            await self.conn.commit()


@asynccontextmanager
async def sqlite_checkpointer() -> AsyncIterator[AsyncSqliteSaver]:
    """Open the checkpoint database for the server's lifetime."""
    async with PruningSqliteSaver.from_conn_string(str(checkpoint_path())) as saver:
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.setup()
        yield saver
