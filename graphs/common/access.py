"""Who may answer what: the signed-in user, thread owners, and the one addressing rule.

A pause names whom it waits for: a ``role``, or one ``user`` (``user:<name>``).
:func:`why_not_answerable` is the rule, used by the server before an answer is stored
(``server.guard``) and by the workflows when they apply it (:func:`check_approver`).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig

ROLES = ("employee", "manager", "finance", "director", "admin")
ADMIN = "admin"
"""Configures assistants (the deployment's policy); decides nothing."""


def current_user(config: RunnableConfig | None) -> tuple[str, str] | None:
    """Return ``(identity, role)`` of the signed-in user running this step, if any."""
    user = ((config or {}).get("configurable") or {}).get("langgraph_auth_user")
    identity = getattr(user, "identity", None)
    if user is None or not identity:
        return None
    try:
        role = user["role"]
    except (KeyError, TypeError):
        role = ""
    return identity, role


def thread_owner(config: RunnableConfig | None) -> str | None:
    """Return who owns the thread (stamped by the server's auth), else the signed-in user.

    Server-side re-runs (crash recovery, the deadline sweeper) have no signed-in user,
    so a pause addressed to the owner reads the owner from the thread, not the caller.
    """
    owner = ((config or {}).get("metadata") or {}).get("owner")
    user = current_user(config)
    return owner or (user[0] if user else None)


def addressee(payload: Any) -> str | None:
    """Whom a pause waits for: its ``role``, or ``user:<name>`` for a pause one user answers."""
    if not isinstance(payload, dict):
        return None
    if payload.get("role"):
        return str(payload["role"])
    return f"user:{payload['user']}" if payload.get("user") else None


def first_addressee(addressees: list[str]) -> str | None:
    """Whom a thread with several pending pauses waits for: a role before a single user."""
    roles = [a for a in addressees if not a.startswith("user:")]
    candidates = roles or addressees
    return candidates[0] if candidates else None


def requester_of(payload: Any) -> str | None:
    """Who asked for what a pause decides (``requester``, or ``request.requester``)."""
    if not isinstance(payload, dict):
        return None
    request = payload.get("request")
    if not isinstance(request, dict):
        request = {}
    return payload.get("requester") or request.get("requester")


def why_not_answerable(payload: Any, identity: str, role: str, approves: bool) -> str | None:
    """Why ``identity`` (``role``) may not answer a pause showing ``payload``; None if they may.

    This is the one addressing rule: the server checks it before an answer is
    stored, and the workflows check it again when they apply the answer.
    """
    waiting_for = addressee(payload)
    if waiting_for is None:
        return "this pause names no one who may answer it"
    if waiting_for not in (role, f"user:{identity}"):
        return f"waits for {waiting_for.removeprefix('user:')}; you are {identity} ({role})"
    if approves and requester_of(payload) == identity:
        return "you cannot approve your own request"
    return None


def check_approver(
    claimed: str | None,
    config: RunnableConfig | None,
    waiting_for: str | None = None,
    requester: str | None = None,
) -> tuple[str | None, str | None]:
    """Decide who made a decision: the authenticated user when there is one (a lookup only).

    Under authentication the caller cannot name someone else, and must be whom the
    pause waits for (``waiting_for``: a role, or ``user:<name>``). Runs the server
    starts itself (crash recovery) have no user: the server wrote the authenticated
    approver into the answer when it accepted it (``server.guard``), so the answer's
    own ``approver`` is recorded, as it is in-process. ``requester``, when given, may
    not decide (segregation of duties).

    Returns:
        ``(approver, None)``, or ``(None, error message)`` for a refused answer.
    """
    user = current_user(config)
    approver = claimed
    if user is not None:
        identity, role = user
        if claimed is not None and claimed != identity:
            return None, f"approver {claimed!r} is not the signed-in user {identity!r}"
        if waiting_for is not None:
            pause = (
                {"role": waiting_for}
                if not waiting_for.startswith("user:")
                else {"user": waiting_for.removeprefix("user:")}
            )
            if error := why_not_answerable(pause, identity, role, approves=False):
                return None, error
        approver = identity
    if requester is not None and approver == requester:
        return None, f"{approver} requested this and cannot approve it (segregation of duties)"
    return approver, None
