"""Who may do what: bearer tokens, roles, thread ownership (``auth.path`` in langgraph.json).

Users come from the ``HITL_USERS`` setting (``.env``), never from code:
``name:role:token`` entries separated by commas, roles being ``employee``,
``manager``, ``finance``, ``director`` and ``admin``. A token is sent as
``Authorization: Bearer <token>`` or as ``x-api-key: <token>`` (what the JS SDK's
``apiKey`` and Agent Inbox send); both are compared in constant time.

Rules (the door, ``server.allowlist``, has already named what each role may send):
- No token or an unknown one: 401 everywhere (custom routes included).
- Anything not opened below is denied (403): the store, crons, and whatever a
  future server version adds.
- Assistants (the deployment's approval policy) are created, changed and deleted
  by admins only, and their configuration is checked against the workflow's
  ``Context``; everyone may list and read them.
- A thread belongs to its creator (``owner`` in its metadata, stamped here, also
  for a thread a run creates). Its creator sees it; an approver also sees the
  threads waiting for their role (``waiting_for``) and those they answered
  (``answered_by``). A thread another user may not see is a 404, also through
  ``POST /threads`` with its id.
- No client writes thread state (``POST /threads/{id}/state``, bulk updates) and
  no client copies a thread: 403. The owner may patch metadata. A run is
  cancelled by whom started it, or an admin; nobody rolls back.
- A thread holding a decision stays on record: only an admin deletes it, after
  the retention period, and it is logged (``server.records``).
- Every run request passes ``server.guard`` (its fields, policy, input, answers).
- ``owner``, ``waiting_for`` and ``answered_by`` are written by the server alone:
  the workflows announce their pauses to ``server.pauses``, whose writes carry a
  context flag no HTTP client can set; a client sending them is refused (403)
  wherever metadata goes (threads, runs, ``config.metadata``).
"""

from __future__ import annotations

import hmac
import logging
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from langgraph_sdk import Auth, get_client

from graphs.common.access import ADMIN, ROLES
from graphs.common.audit import trail
from server import guard, records, repair

# Imported by package path on purpose: langgraph loads this file by path as a module
# of its own, and the flag must be the one the pause listener sets.
from server.internal import INTERNAL_WRITE
from server.threads import read_thread

logger = logging.getLogger(__name__)

RESERVED = ("owner", "waiting_for", "answered_by")


def example_tokens() -> set[str]:
    """The development tokens ``.env.example`` ships (which a deployment must not keep)."""
    example = Path(__file__).resolve().parent.parent / ".env.example"
    lines = example.read_text().splitlines() if example.exists() else []
    spec = next(
        (line.removeprefix("HITL_USERS=") for line in lines if line.startswith("HITL_USERS=")), ""
    )
    return {user.token for user in parse_users(spec)}


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


def development() -> bool:
    """Whether this is ``langgraph dev``: the one place the example credentials are fine."""
    return os.environ.get("LANGSMITH_LANGGRAPH_API_VARIANT") == "local_dev"


def example_users_active() -> list[User]:
    """The users signing in with ``.env.example``'s tokens, when this is ``langgraph dev``.

    Outside development those tokens are a warning (see :func:`load_users`), never a hint.
    """
    if not development():
        return []
    return [user for user in USERS if user.token in EXAMPLE_TOKENS]


def load_users() -> list[User]:
    """Read the users from ``HITL_USERS``; warn loudly about example tokens when deployed."""
    users = parse_users(os.environ.get("HITL_USERS", ""))
    if not users:
        logger.error("HITL_USERS is empty: every request will be refused (401)")
    if not development() and example_tokens() & {u.token for u in users}:
        logger.warning(
            "\n%s\nINSECURE: HITL_USERS uses the example tokens from .env.example outside "
            "`langgraph dev`. Anyone who has read the README can sign in. Replace them.\n%s",
            "!" * 78,
            "!" * 78,
        )
    return users


USERS = load_users()
EXAMPLE_TOKENS = frozenset(example_tokens())
"""Read once, at start-up (a file read has no place on the event loop)."""


def find_user(token: str) -> User | None:
    """Return the user with ``token``, comparing every token in constant time."""
    found = None
    for user in USERS:
        if hmac.compare_digest(user.token.encode(), token.encode()):
            found = user
    return found


auth = Auth()

PUBLIC_PATHS = ("/", "/ok", "/inbox", "/inbox/", "/slack/interactions")
PUBLIC_PREFIXES = ("/inbox/static/", "/email/")
"""What answers without a token: the health check, the inbox page's shell (no data),
the email links (``server.mail``: a signed token names the user they act as), and
Slack's interactions (``server.slack``: Slack's signature, a mapped Slack user)."""


def token_of(authorization: str | None, api_key: str | None) -> str | None:
    """The token a request carries, as a bearer token or an ``x-api-key``."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return api_key.strip() if api_key and api_key.strip() else None


def user_for(authorization: str | None, api_key: str | None) -> User | None:
    """The configured user a request's credentials name, if any."""
    token = token_of(authorization, api_key)
    return find_user(token) if token else None


@auth.authenticate
async def authenticate(
    authorization: str | None, headers: dict[bytes, bytes], path: str
) -> dict[str, Any]:
    """Map ``Authorization: Bearer <token>`` or ``x-api-key`` to a user, or refuse with 401."""
    api_key = (headers.get(b"x-api-key") or b"").decode(errors="replace") or None
    if (
        not authorization
        and not api_key
        and (path in PUBLIC_PATHS or path.startswith(PUBLIC_PREFIXES))
    ):
        return {"identity": "anonymous", "role": "anonymous", "permissions": []}
    user = user_for(authorization, api_key)
    if user is None:
        detail = "missing token" if not (authorization or api_key) else "invalid token"
        raise Auth.exceptions.HTTPException(status_code=401, detail=detail)
    return {"identity": user.identity, "role": user.role, "permissions": [user.role]}


def caller(request: Any) -> tuple[str, str]:
    """``(identity, role)`` of the signed-in caller of a custom route."""
    user = request.user
    return user.identity, getattr(user, "role", None) or user["role"]


def _role(ctx: Auth.types.AuthContext) -> str:
    try:
        return str(ctx.user["role"])
    except (KeyError, TypeError):
        return ""


def visible(ctx: Auth.types.AuthContext) -> dict[str, Any]:
    """The metadata filter of the threads a user may see."""
    me = ctx.user.identity
    if _role(ctx) in ("employee", ADMIN):
        return {"$or": [{"owner": me}, {"waiting_for": f"user:{me}"}]}
    return {
        "$or": [
            {"owner": me},
            {"waiting_for": _role(ctx)},
            {"waiting_for": f"user:{me}"},
            {"answered_by": {"$contains": me}},
        ]
    }


def may_see(identity: str, role: str, metadata: Any) -> bool:
    """Whether ``identity`` (of ``role``) may see a thread with ``metadata``.

    :func:`visible`'s rule as a predicate, for records outside the runtime
    (``server.archive``); ``tests/unit/test_archive.py`` checks that they agree.
    """
    if not isinstance(metadata, Mapping):
        return False
    if metadata.get("owner") == identity or metadata.get("waiting_for") == f"user:{identity}":
        return True
    if role in ("employee", ADMIN):
        return False
    answered = metadata.get("answered_by")
    return metadata.get("waiting_for") == role or (
        isinstance(answered, list) and identity in answered
    )


def _check_metadata(metadata: Any, reserved: tuple[str, ...] = RESERVED) -> None:
    """Refuse client metadata that sets a server-owned key, or that is oversized."""
    if isinstance(metadata, dict):
        for key in reserved:
            if key in metadata:
                raise guard.deny(403, f"metadata.{key} is written by the server only")
        guard.check_size(metadata, "metadata")


@auth.on
async def deny_by_default(ctx: Auth.types.AuthContext, value: Any) -> bool:
    """Refuse anything not opened explicitly below."""
    raise Auth.exceptions.HTTPException(
        status_code=403, detail=f"{ctx.resource}.{ctx.action} is not allowed"
    )


async def read_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every signed-in user may see the workflows and their configured versions."""
    return None


auth.on.assistants.read(read_assistants)
auth.on.assistants.search(read_assistants)


async def configure_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Assistants hold the approval policy: only an admin configures them, and validly.

    A configuration is checked against its workflow's ``Context`` (422 naming the key)
    before it is stored, so no later request fails on it.
    """
    if _role(ctx) != ADMIN:
        raise guard.deny(
            403,
            f"only an admin configures assistants (the approval policy); "
            f"you are {ctx.user.identity} ({_role(ctx)})",
        )
    guard.check_size({k: value.get(k) for k in ("config", "context", "metadata")}, "assistant")
    changes = {k: value.get(k) for k in ("graph_id", "context", "config") if value.get(k)}
    if ctx.action == "create" or (ctx.action == "update" and changes):
        # An update is checked as the assistant will be: its new graph, its new policy.
        current: Mapping[str, Any] = {}
        if ctx.action == "update":
            current = await get_client().assistants.get(str(value["assistant_id"]))
        will_be = {**current, **changes}
        # Only what is sent: the server mirrors a stored context into config.configurable.
        configurable = (changes.get("config") or {}).get("configurable")
        guard.check_policy(str(will_be.get("graph_id")), will_be.get("context"), configurable)
    _graphs.clear()


auth.on.assistants.create(configure_assistants)
auth.on.assistants.update(configure_assistants)
auth.on.assistants.delete(configure_assistants)


THREAD_CREATE = {"thread_id", "metadata", "if_exists"}
"""What a ``threads.create`` event may carry (``ttl`` and ``supersteps`` would delete the
thread later or write its state)."""


@auth.on.threads.create
async def create_thread(ctx: Auth.types.AuthContext, value: Auth.types.ThreadsCreate) -> Any:
    """Stamp the creator as the owner; refuse copies, and reads of others' threads."""
    if INTERNAL_WRITE.get():
        return None
    if "metadata" not in value:  # POST /threads/{id}/copy: a create with only a thread id
        raise guard.deny(
            403,
            "copying threads is not allowed: a copy would carry the "
            "original's approvals and checkpoints",
        )
    for key, item in value.items():
        if key not in THREAD_CREATE and item not in (None, 0, [], {}):
            raise guard.deny(
                403,
                f"{key} is not accepted when creating a thread "
                f"(accepted: {', '.join(sorted(THREAD_CREATE))})",
            )
    if not isinstance(value.get("metadata"), dict):
        value["metadata"] = {}
    _check_metadata(value["metadata"])
    guard.check_graph_name(value["metadata"])
    value["metadata"]["owner"] = ctx.user.identity  # in place: the server keeps this dict
    # Matched against a thread that already has this id: if_exists=do_nothing returns
    # it as it is, so only to its owner (anyone else gets 409, as for if_exists=raise).
    return {"owner": ctx.user.identity}


@auth.on.threads.read
async def read_threads(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """Show a user their own threads and those addressed to them."""
    return visible(ctx)


@auth.on.threads.search
async def search_threads(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any]:
    """List a user's threads and those addressed to them, the pauses just raised included.

    A run's pause is written into its thread's ``waiting_for`` just after the run
    pauses; a search right after it (``hitl pending``, the inbox) waits for that
    write (at most ``server.pauses.SETTLE_TIMEOUT``) rather than miss the pause.
    """
    from server.pauses import settled  # noqa: PLC0415 - it imports us (through server.notify)

    await settled()
    return visible(ctx)


@auth.on.threads.update
async def update_thread(ctx: Auth.types.AuthContext, value: Auth.types.ThreadsUpdate) -> Any:
    """Owners patch metadata; a run is cancelled by whom started it; nobody writes state."""
    if INTERNAL_WRITE.get():
        return None
    if "action" in value:  # a cancel: POST /runs/cancel, .../runs/{run_id}/cancel
        return await _check_cancel(ctx, value)
    if "metadata" not in value:  # update_state, bulk state updates
        raise guard.deny(
            403, "thread state is written by the workflows only: answer the pause instead"
        )
    if value.get("ttl") not in (None, {}):
        raise guard.deny(403, "ttl is not accepted: a thread holds a request's record")
    # graph_id too: the server checks a run's graph against it.
    _check_metadata(value.get("metadata"), (*RESERVED, "graph_id", "assistant_id"))
    return {"owner": ctx.user.identity}


async def _check_cancel(ctx: Auth.types.AuthContext, value: Mapping[str, Any]) -> Any:
    """A run is cancelled (interrupted) only by the user who started it, or by an admin.

    A cancel reaches the worker as soon as this returns: everything is checked here,
    before the runtime acts. A rollback deletes the run's checkpoints, so nobody
    rolls back; a bulk cancel (by status) reaches other people's runs, so only an
    admin sends one. A cancelled answer leaves its pause answerable
    (``server.repair`` brings the thread's record back in step).
    """
    me, admin = ctx.user.identity, _role(ctx) == ADMIN
    if value.get("action") != "interrupt":
        raise guard.deny(
            403,
            f"action={value.get('action')}: only action=interrupt is "
            "allowed: a rollback deletes the run's checkpoints, which hold "
            "decisions",
        )
    selector = value.get("metadata") or {}
    run_ids, thread_id = selector.get("run_ids") or [], value.get("thread_id")
    if admin:
        repair.after_cancel(thread_id)
        return None
    if selector.get("status") or not run_ids or thread_id is None:
        raise guard.deny(
            403,
            "name the thread and the runs you cancel (thread_id and "
            "run_ids): a bulk cancel reaches runs that are not yours",
        )
    client = get_client()
    for run_id in run_ids:
        try:
            run = await client.runs.get(str(thread_id), str(run_id))
        except Exception:  # noqa: BLE001 - hidden or missing: the same answer
            raise guard.deny(404, f"run {run_id} not found on thread {thread_id}") from None
        kwargs = run.get("kwargs")
        config = kwargs.get("config") if isinstance(kwargs, dict) else None
        started_by = (config or {}).get("configurable", {})
        if started_by.get("langgraph_auth_user_id") != me:
            raise guard.deny(
                403,
                f"run {run_id} was started by someone else: only its "
                "starter (or an admin) cancels it",
            )
    repair.after_cancel(thread_id)
    return visible(ctx)


@auth.on.threads.delete
async def delete_thread(ctx: Auth.types.AuthContext, value: Any) -> dict[str, Any] | None:
    """A decided request stays on record: deleting it is an admin's act, after retention.

    The owner deletes (or prunes) a thread that holds no decision: a withdrawn
    request, an empty thread. Anything else (a decided request: approvals,
    rejections, expiries, automatic approvals; someone else's thread) is deleted
    only by an admin, once untouched for the retention period (``server.records``),
    and each such deletion is recorded first. Nobody deletes single runs.
    """
    if isinstance(value, dict) and value.get("run_id"):
        raise guard.deny(
            403, "a run holds decisions of the audit trail and cannot be deleted on its own"
        )
    me, admin = ctx.user.identity, _role(ctx) == ADMIN
    ids = (value.get("thread_ids") or [value.get("thread_id")]) if isinstance(value, dict) else []
    for thread_id in filter(None, ids):
        thread = await read_thread(None, thread_id)
        if thread is None:
            continue
        decided = bool(trail(thread.get("values")))
        if (thread.get("metadata") or {}).get("owner") == me and not decided:
            continue  # the owner withdraws a request nobody has decided
        if not admin:
            if decided:
                raise guard.deny(
                    403,
                    f"thread {thread_id} holds decisions and stays on "
                    f"record; an admin deletes it after "
                    f"{records.retention_days():g} days",
                )
            continue  # someone else's: the owner filter below answers 404
        if error := records.too_recent(thread):
            raise guard.deny(403, f"thread {thread_id}: {error}")
        await records.record_deletion(thread, me)
    return None if admin else {"owner": me}


_graphs: dict[str, tuple[str, float]] = {}
GRAPH_TTL = 60.0
"""Seconds an assistant's graph id is cached (admins rarely move an assistant to another graph)."""


async def graph_of(assistant_id: str) -> str:
    """The graph an assistant runs (cached: one lookup per assistant a minute, not per run).

    The in-process client is made only on a miss: making one costs more than the
    rest of this handler (docs/performance.md).
    """
    cached = _graphs.get(assistant_id)
    if cached is None or cached[1] < time.monotonic():
        assistant = await get_client().assistants.get(assistant_id)
        cached = _graphs[assistant_id] = (assistant["graph_id"], time.monotonic() + GRAPH_TTL)
    return cached[0]


@auth.on.threads.create_run
async def create_run(ctx: Auth.types.AuthContext, value: Auth.types.RunsCreate) -> dict[str, Any]:
    """Check the run against ``server.guard``; answers go to whom the pause waits for."""
    me, role = ctx.user.identity, _role(ctx)
    _check_metadata(value.get("metadata"))
    config = (value.get("kwargs") or {}).get("config") or {}
    _check_metadata(config.get("metadata"))
    thread = None
    if value.get("thread_id") is not None:
        thread = await read_thread(ctx, value["thread_id"])
        if thread is None and value.get("if_not_exists") != "create":
            raise guard.deny(404, f"thread {value['thread_id']} not found")
    graph_id = await graph_of(str(value["assistant_id"]))
    resume = ((value.get("kwargs") or {}).get("command") or {}).get("resume")
    try:
        guard.check_run(value, thread, graph_id, me, role)
    except Auth.exceptions.HTTPException as refused:
        stale = refused.status_code == 409 and resume is not None
        if stale and thread is not None and await repair.restoring(thread):
            raise guard.deny(
                409,
                f"thread {value['thread_id']}: an earlier answer was cut "
                "short and its pause is being restored; nothing was applied: "
                "answer again in a moment",
            ) from None
        raise
    if thread is None and isinstance(value.get("metadata"), dict):
        value["metadata"]["owner"] = me  # the thread this run creates is the caller's
    return visible(ctx) if resume is not None else {"owner": me}
