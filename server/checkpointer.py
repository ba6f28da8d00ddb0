"""The embedded server's durable checkpointer: SQLite under the data directory.

Wired in only by ``langgraph.json`` (``"checkpointer"``), which ``langgraph dev``
reads. A deployed LangGraph Server uses its own Postgres persistence instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

from graphs.common.store import data_dir


def checkpoint_path() -> Path:
    """Return the SQLite file holding every checkpoint of the embedded server."""
    return data_dir() / "checkpoints.sqlite"


@asynccontextmanager
async def sqlite_checkpointer() -> AsyncIterator[AsyncSqliteSaver]:
    """Open the checkpoint database for the server's lifetime."""
    async with AsyncSqliteSaver.from_conn_string(str(checkpoint_path())) as saver:
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.setup()
        yield saver
