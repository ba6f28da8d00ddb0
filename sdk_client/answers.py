"""Turn a command-line decision into the answer a pause expects.

Workflow pauses take ``{"decision", "note", "approver", "changes"}``; the
assistant's tool reviews (langchain's ``HumanInTheLoopMiddleware``) take
``{"type": "approve"}``, ``{"type": "edit", "edited_action": {"name", "args"}}`` or
``{"type": "reject", "message"}``. The pause's own ``response_schema`` has the last
word: the transport checks every answer against it before sending.
"""

from __future__ import annotations

from typing import Any

from sdk_client.transport import ClientError


def build_answer(
    decision: str,
    *,
    payload: dict[str, Any] | None = None,
    note: str | None = None,
    approver: str | None = None,
    changes: dict[str, Any] | None = None,
    args: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the resume value for ``decision`` on the pause showing ``payload``."""
    if (payload or {}).get("type") == "tool_approval":
        return _tool_answer(payload or {}, decision, note, args)
    if args is not None:
        raise ClientError("--args only goes with a tool review (the assistant's pauses)")
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


def _tool_answer(
    payload: dict[str, Any], decision: str, message: str | None, args: dict[str, Any] | None
) -> dict[str, Any]:
    if decision == "approve":
        return {"type": "approve"}
    if decision == "reject":
        return {"type": "reject", **({"message": message} if message else {})}
    if decision == "edit":
        if args is None:
            raise ClientError("edit of a tool call needs --args '{...}' (a JSON object)")
        return {"type": "edit", "edited_action": {"name": payload.get("name"), "args": args}}
    raise ClientError(f"a tool review takes approve, edit or reject, not {decision}")
