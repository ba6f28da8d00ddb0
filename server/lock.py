"""One server per data directory: a lock the embedded server holds while it runs.

Two ``langgraph dev`` processes on one data directory would both run start-up
recovery against the same SQLite files and both write the runtime's records: a
data-integrity hazard. ``langgraph dev`` moves a second server to another port
when the first one's is taken, so the port alone does not prevent it. The
embedded server therefore takes an exclusive lock on ``<data>/server.lock``
before it recovers or serves, and writes who holds it (pid, URL) there; a second
server refuses to start, naming the first. The operating system releases the
lock when its holder exits, however it exits (``kill -9`` included).
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import IO, Any

from graphs.common.store import data_dir

LOCK_NAME = "server.lock"
_held: list[IO[str]] = []
"""The open lock file: kept open (and locked) for the life of the process."""


class DataDirectoryInUse(RuntimeError):
    """Another live server holds the data directory."""


def hold(url: str | None, data: Path | None = None) -> None:
    """Lock the data directory for this process, or raise :class:`DataDirectoryInUse`.

    Blocking file I/O: call it in a thread from async code.
    """
    data = data or data_dir()
    handle = open(data / LOCK_NAME, "a+")  # noqa: SIM115 - held open on purpose
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = _parse(handle.read())
        handle.close()
        raise DataDirectoryInUse(
            f"another server is running on the data directory {data} (pid "
            f"{holder.get('pid', '?')}, {holder.get('url') or 'port unknown'}): stop it first, "
            "or give this server a data directory of its own (HITL_DATA_DIR=...)"
        ) from None
    handle.seek(0)
    handle.truncate()
    handle.write(json.dumps({"pid": os.getpid(), "url": url}))
    handle.flush()
    _held.append(handle)


def release() -> None:
    """Let go of the lock (at a clean shutdown; an exit releases it anyway)."""
    while _held:
        _held.pop().close()


def _parse(text: str) -> dict[str, Any]:
    try:
        found = json.loads(text)
    except ValueError:
        return {}
    return found if isinstance(found, dict) else {}
