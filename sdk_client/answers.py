"""Turn a command-line decision into the answer a pause expects.

Workflow pauses take ``{"decision", "note", "approver", "changes"}``. The pause's
own ``response_schema`` has the last word: the transport checks every answer
against it before sending.
"""

from __future__ import annotations

from typing import Any

from sdk_client.transport import ClientError


def build_answer(
    decision: str,
    *,
    note: str | None = None,
    approver: str | None = None,
    changes: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the resume value for ``decision``."""
    answer: dict[str, Any] = {"decision": decision}
    if note is not None:
        answer["note"] = note
    if approver is not None:
        answer["approver"] = approver
    if decision == "edit":
        if not changes:
            raise ClientError("edit needs at least one change (--amount / --description)")
        answer["changes"] = changes
    elif changes:
        raise ClientError(f"--amount / --description only go with edit, not {decision}")
    return answer
