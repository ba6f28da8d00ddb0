"""The server's own channel for writing what clients may not: ``owner``, ``waiting_for``, ...

Kept apart so that ``server.auth`` reads one context variable without loading the
pause listener, the notifier or the store.
"""

from __future__ import annotations

from contextvars import ContextVar

INTERNAL_WRITE: ContextVar[bool] = ContextVar("hitl_internal_write", default=False)
"""Set while the server writes server-owned metadata. The in-process client calls the
server's ASGI app in the calling task, so ``server.auth`` sees it; no HTTP client can."""
