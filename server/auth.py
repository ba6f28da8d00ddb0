"""Who may do what: bearer tokens, roles, thread ownership (``auth.path`` in langgraph.json).

Users come from the ``HITL_USERS`` setting (``.env``), never from code:
``name:role:token`` entries separated by commas, roles being ``employee``,
``manager``, ``finance`` and ``director``. Tokens are compared in constant time.

Rules:
- No token or an unknown one: 401 everywhere (custom routes included).
- Anything not opened below is denied (403).
- A thread belongs to its creator (``owner`` in its metadata, stamped here).
  Its creator sees it; an approver also sees the threads waiting for their role
  (``waiting_for``) and those they answered (``answered_by``).
- New input on a thread: only its owner. An answer (a resume): only a user the
  pause is addressed to, by role or as ``user:<name>``.
- ``owner``, ``waiting_for`` and ``answered_by`` are written by the server alone:
  the workflows announce their pauses to ``server.pauses``, whose writes carry a
  context flag no HTTP client can set; from clients these keys are dropped.
"""

from __future__ import annotations

import hmac
import logging
import os
from dataclasses import dataclass
from typing import Any

from langgraph_sdk import Auth

# Imported by package path on purpose: langgraph loads this file by path as a module
# of its own, and the flag must be the one the pause listener sets.
from server.pauses import INTERNAL_WRITE

logger = logging.getLogger(__name__)

ROLES = ("employee", "manager", "finance", "director")
RESERVED = ("owner", "waiting_for", "answered_by")

EXAMPLE_TOKENS = {"dev-alice", "dev-bob", "dev-carol", "dev-dave"}


@dataclass(frozen=True)
class User:
    """A configured user."""

    identity: str
    role: str
    token: str


def parse_users(spec: str) -> list[User]:
    """Parse ``name:role:token,...``.

    Raises:
        ValueError: An entry is malformed, a role is unknown, or a name or token repeats.
    """
    users = []
    for entry in filter(None, (e.strip() for e in spec.split(","))):
        parts = entry.split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"HITL_USERS entry {entry!r} is not name:role:token")
        name, role, token = parts
        if role not in ROLES:
            raise ValueError(f"HITL_USERS entry for {name!r}: unknown role {role!r}")
        users.append(User(name, role, token))
    if len({u.identity for u in users}) != len(users) or len({u.token for u in users}) != len(
        users
    ):
        raise ValueError("HITL_USERS repeats a name or a token")
    return users


def load_users() -> list[User]:
    """Read the users from ``HITL_USERS``; warn loudly about example tokens when deployed."""
    users = parse_users(os.environ.get("HITL_USERS", ""))
    if not users:
        logger.error("HITL_USERS is empty: every request will be refused (401)")
    dev = os.environ.get("LANGSMITH_LANGGRAPH_API_VARIANT") == "local_dev"
    if not dev and EXAMPLE_TOKENS & {u.token for u in users}:
        logger.warning(
            "\n%s\nINSECURE: HITL_USERS uses the example tokens from .env.example outside "
            "`langgraph dev`. Anyone who has read the README can sign in. Replace them.\n%s",
            "!" * 78,
            "!" * 78,
        )
    return users


USERS = load_users()


def find_user(token: str) -> User | None:
    """Return the user with ``token``, comparing every token in constant time."""
    found = None
    for user in USERS:
        if hmac.compare_digest(user.token.encode(), token.encode()):
            found = user
    return found


auth = Auth()


@auth.authenticate
async def authenticate(authorization: str | None, path: str) -> Auth.types.MinimalUserDict:
    """Map ``Authorization: Bearer <token>`` to a user, or refuse with 401.

    The inbox page and its static files load without a token (they hold no data;
    the page asks for a token and sends it with every API call).
    """
    if not authorization and (path in ("/inbox", "/inbox/") or path.startswith("/inbox/static/")):
        return {"identity": "anonymous", "role": "anonymous", "permissions": []}
    scheme, _, token = (authorization or "").partition(" ")
    user = find_user(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if user is None:
        detail = "missing bearer token" if not authorization else "invalid token"
        raise Auth.exceptions.HTTPException(status_code=401, detail=detail)
    return {"identity": user.identity, "role": user.role, "permissions": [user.role]}


def _role(ctx: Auth.types.AuthContext) -> str:
    try:
        return ctx.user["role"]
    except (KeyError, TypeError):
        return ""


def visible(ctx: Auth.types.AuthContext) -> dict[str, Any]:
    """The metadata filter of the threads a user may see."""
    me = ctx.user.identity
    if _role(ctx) == "employee":
        return {"$or": [{"owner": me}, {"waiting_for": f"user:{me}"}]}
    return {
        "$or": [
            {"owner": me},
            {"waiting_for": _role(ctx)},
            {"waiting_for": f"user:{me}"},
            {"answered_by": {"$contains": me}},
        ]
    }


def addressed_to(ctx: Auth.types.AuthContext) -> dict[str, Any]:
    """The metadata filter of the threads whose pause a user may answer."""
    me = ctx.user.identity
    return {"$or": [{"waiting_for": _role(ctx)}, {"waiting_for": f"user:{me}"}]}


def _strip_reserved(value: dict[str, Any]) -> bool:
    """Drop server-owned keys from client metadata; return whether the write is internal."""
    if INTERNAL_WRITE.get():
        return True
    metadata = value.get("metadata")
    if isinstance(metadata, dict):
        for key in RESERVED:
            metadata.pop(key, None)
    return False


@auth.on
async def deny_by_default(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Refuse anything not opened explicitly below."""
    raise Auth.exceptions.HTTPException(status_code=403, detail="not allowed")


@auth.on.assistants.read
@auth.on.assistants.search
async def read_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every signed-in user may see the workflows."""
    return None


@auth.on.threads.create
async def create_thread(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> None:
    """Stamp the creator as the owner."""
    if not isinstance(value.get("metadata"), dict):
        value["metadata"] = {}
    _strip_reserved(value)
    value["metadata"]["owner"] = ctx.user.identity  # in place: the server keeps this dict


@auth.on.threads.read
@auth.on.threads.search
async def read_threads(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """Show a user their own threads and those addressed to them."""
    return visible(ctx)


@auth.on.threads.update
async def update_thread(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> Any:
    """Owners may update their threads; server-owned keys only through the internal channel."""
    if _strip_reserved(value):
        return None
    return {"owner": ctx.user.identity}


@auth.on.threads.delete
async def delete_thread(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """Only the owner deletes a thread."""
    return {"owner": ctx.user.identity}


@auth.on.threads.create_run
async def create_run(ctx: Auth.types.AuthContext, value: dict[str, Any]) -> dict[str, Any]:
    """New input: the owner only. An answer: only whom the pause is addressed to."""
    _strip_reserved(value)
    command = (value.get("kwargs") or {}).get("command") or {}
    if isinstance(command, dict) and command.get("resume") is not None:
        return addressed_to(ctx)
    return {"owner": ctx.user.identity}
