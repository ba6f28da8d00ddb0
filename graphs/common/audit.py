"""The audit trail: one entry per decision, in one vocabulary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, NotRequired

from typing_extensions import TypedDict

from graphs.common.decisions import recorded

SYSTEM = "system"


class AuditEntry(TypedDict):
    """One decision in a workflow's audit trail."""

    step: int
    """1-based approval level the decision was made at."""
    role: str
    decision: str
    """One of ``approve | edit | reject | expire | retry | cancel``."""
    approver: str | None
    note: str
    changes: dict[str, Any] | None
    at: str
    channel: NotRequired[str | None]
    """Where the answer came from (``inbox``, ``slack``, ``email``, ``cli``, ``agent-inbox``,
    ``api``); None for the workflow's own (``system``) entries."""


def trail(values: dict[str, Any] | None) -> list[dict[str, Any]]:
    """A thread's decisions, oldest first: a workflow's ``audit`` or the assistant's ``reviews``."""
    values = values or {}
    return values.get("audit") or values.get("reviews") or []


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def audit_entry(
    step: int,
    role: str,
    decision: str,
    approver: str | None,
    note: str = "",
    changes: dict[str, Any] | None = None,
    channel: str | None = None,
) -> AuditEntry:
    """Return an audit entry for a decision made now."""
    return AuditEntry(
        step=step,
        role=role,
        decision=recorded(decision),
        approver=approver,
        note=note,
        changes=changes,
        at=utc_now(),
        channel=channel,
    )
