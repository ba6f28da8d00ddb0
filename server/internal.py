"""The server's own channel for writing what clients may not: ``owner``, ``waiting_for``, ...

Kept apart so that ``server.auth`` reads one context variable without loading the
pause listener, the notifier or the store.
"""

from __future__ import annotations

from contextvars import ContextVar

INTERNAL_WRITE: ContextVar[bool] = ContextVar("hitl_internal_write", default=False)
"""Set while the server writes server-owned metadata. The in-process client calls the
server's ASGI app in the calling task, so ``server.auth`` sees it; no HTTP client can."""

ANSWER_CHANNEL: ContextVar[str | None] = ContextVar("hitl_answer_channel", default=None)
"""Set by the server's own answering routes (the inbox, Slack, email) around the run
they start: ``server.guard`` records it as the answer's ``channel``. Like
:data:`INTERNAL_WRITE`, no HTTP client can set it."""
