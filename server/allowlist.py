"""The first gate of the trust boundary: every request shape a caller may send, named.

Each HTTP request reaches :func:`check` (from ``server.app.Boundary``) before
langgraph-api reads it. Its route must be in :data:`SHAPES`, and every body field
and query parameter it carries must be named there for that route, with the
values it may take; anything else is refused (403) with the field and the rule.
This is an allowlist on purpose: a route or a field that a new langgraph-api
version adds is refused until someone classifies it here.

What a named field may *contain* (a run's input, an answer, metadata keys, a
cancel's runs) is judged by the auth handlers (``server.auth``, ``server.guard``),
which also see the calls that never cross HTTP: the inbox's, the server's own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from graphs.common.access import ADMIN, ROLES

Check = Callable[[Any, str], str | None]
"""``(value, caller's role) -> why the value is refused``, or None when it is accepted."""

EVERYONE = frozenset(ROLES)
ADMINS = frozenset({ADMIN})
NOBODY: frozenset[str] = frozenset()
PUBLIC = frozenset({"anonymous", *ROLES})
"""Answers without a token (the health check, the docs, the inbox page's shell, the
email links, which carry their own signed token, and Slack's signed interactions)."""


def anything(_value: Any, _role: str) -> None:
    """Any value: what it may contain is checked downstream (auth handlers, the guard)."""
    return None


def one_of(*allowed: Any, why: str = "") -> Check:
    """Only these values (``why``: what the others would do)."""

    def check(value: Any, _role: str) -> str | None:
        if value in allowed:
            return None
        shown = " or ".join(repr(a) for a in allowed)
        return f"must be {shown}, not {value!r}" + (f" ({why})" if why else "")

    return check


def empty(value: Any) -> bool:
    """Whether a value carries nothing (absent, null, false, an empty string or container)."""
    return value in (None, [], {}, "", False)


def unset(why: str) -> Check:
    """A field that may only carry nothing: ``why`` says what a value would do."""
    return lambda value, _role: None if empty(value) else why


def flag(value: Any, _role: str) -> str | None:
    """A boolean (as JSON, or as a query string's true / false)."""
    if isinstance(value, bool) or str(value).lower() in ("true", "false", "0", "1"):
        return None
    return f"must be true or false, not {value!r}"


def off(why: str) -> Check:
    """A switch that may only be off (false, absent): ``why`` says what on would do."""
    return one_of(False, None, "false", "0", why=why)


def a_config(value: Any, _role: str) -> str | None:
    """A checkpoint to read before, as the server takes it: ``{"configurable": {...}}``."""
    if value is None or isinstance(value, str):
        return None
    if isinstance(value, dict) and isinstance(value.get("configurable"), dict):
        return None
    return 'must be a checkpoint id or {"configurable": {"checkpoint_id": ...}}'


def admins_only(why: str) -> Check:
    """Any value, from an admin only."""

    def check(value: Any, role: str) -> str | None:
        return None if role == ADMIN else f"admins only ({why})"

    return check


@dataclass(frozen=True)
class Shape:
    """What one route accepts: who may call it, its body fields and its query parameters."""

    roles: frozenset[str]
    body: Mapping[str, Check] = field(default_factory=dict)
    query: Mapping[str, Check] = field(default_factory=dict)
    why: str = ""
    """Why the roles left out may not call it (shown in the refusal)."""
    whole: Callable[[dict[str, Any], str], str | None] | None = None
    """A rule over the body's fields together (``(body, role) -> why not``)."""
    form: bool = False
    """The body is a form (``application/x-www-form-urlencoded``: an HTML form, a signed
    callback), whose fields are checked like a JSON body's; other routes take JSON only."""


def fields(*names: str) -> dict[str, Check]:
    """Fields whose contents are checked downstream (or that only narrow a read)."""
    return dict.fromkeys(names, anything)


PAGING = fields("limit", "offset", "sort_by", "sort_order", "select")
STATELESS = "stateless runs are not available: a run needs a thread with an owner"
NO_STATE = "thread state is written by the workflows only: answer the pause instead"
DENIED = "not available on this deployment"
RUN_BODY = {
    **fields("assistant_id", "input", "command", "metadata", "config", "stream_mode"),
    "stream_subgraphs": flag,
    "stream_resumable": flag,
    "checkpoint_during": flag,
    "multitask_strategy": one_of(
        "reject",
        "enqueue",
        why="interrupt and rollback cancel the run in progress, which may be someone else's answer",
    ),
    "if_not_exists": one_of("reject", "create"),
    "on_disconnect": one_of("cancel", "continue"),
    "durability": one_of("async", "sync", why="recovery needs each step's checkpoint"),
}
"""A run on a thread: its input, answer and settings are judged by ``server.guard``."""
ASSISTANT_BODY = fields("graph_id", "config", "context", "metadata", "name", "description")
RUN_READ = {
    "cancel_on_disconnect": off(
        "a reader never cancels the run it watches: POST .../cancel, if the run is yours"
    )
}


def named_runs(body: dict[str, Any], _role: str) -> str | None:
    """A cancel names its thread and its runs, or (an admin's) a status."""
    if body.get("status") is not None:
        if body.get("thread_id") or body.get("run_ids"):
            return "status cancels in bulk: send it without thread_id and run_ids"
        return None
    if not body.get("thread_id") or not body.get("run_ids"):
        return "name the thread (thread_id) and the runs (run_ids) to cancel"
    return None


CANCEL_ACTION = {
    "action": one_of(
        "interrupt", why="a rollback deletes the run and its checkpoints, which hold decisions"
    ),
}

# fmt: off
SHAPES: dict[tuple[str, str], Shape] = {
    # Meta: the health check and the API's description answer anyone; the rest is an admin's.
    ("GET", "/"): Shape(PUBLIC),
    ("GET", "/ok"): Shape(PUBLIC, query=fields("check_db")),
    ("GET", "/docs"): Shape(PUBLIC),
    ("GET", "/openapi.json"): Shape(PUBLIC),
    ("GET", "/info"): Shape(ADMINS, why="server details are for admins"),
    ("GET", "/metrics"): Shape(ADMINS, query=fields("format"), why="metrics are for admins"),
    # The project's own routes (server/app.py, server/inbox.py, server/notify.py).
    ("GET", "/me"): Shape(EVERYONE),
    ("GET", "/inbox"): Shape(PUBLIC, query=fields("refresh")),
    ("GET", "/inbox/"): Shape(PUBLIC, query=fields("refresh")),
    ("GET", "/inbox/static/{name}"): Shape(PUBLIC),
    ("GET", "/inbox/api/me"): Shape(EVERYONE),
    ("GET", "/inbox/api/items"): Shape(EVERYONE),
    ("GET", "/inbox/api/history"): Shape(EVERYONE),
    ("POST", "/inbox/api/answer"): Shape(EVERYONE, fields(
        "thread_id", "interrupt_id", "decision", "note", "changes", "args")),
    ("GET", "/deletions"): Shape(ADMINS, why="the deletion log is for admins"),
    # The archive (server/archive.py): rows filtered by who may see the thread; admins all.
    ("GET", "/archive"): Shape(EVERYONE, query=fields("limit", "offset")),
    ("GET", "/archive/{thread_id}"): Shape(EVERYONE),
    ("GET", "/notifications"): Shape(ADMINS, query=fields("status"),
                                     why="the notification outbox is for admins"),
    ("POST", "/notifications/{interrupt_id}/resend"): Shape(
        ADMINS, why="the notification outbox is for admins"),
    # Email links (server/mail.py): no bearer token; the link's signed token names the user.
    ("GET", "/email/answer"): Shape(PUBLIC, query=fields("token")),
    ("POST", "/email/answer"): Shape(PUBLIC, fields("token", "csrf", "decision", "note"),
                                     form=True),
    # Slack's Request URL (server/slack.py): no bearer token; Slack's signature is checked.
    ("POST", "/slack/interactions"): Shape(PUBLIC, fields("payload"), form=True),
    # Assistants: the deployment's policy. Everyone reads it; admins configure it.
    ("POST", "/assistants"): Shape(ADMINS, {
        **ASSISTANT_BODY, "assistant_id": anything, "if_exists": one_of("raise", "do_nothing"),
    }, why="assistants hold the approval policy: admins configure them"),
    ("POST", "/assistants/search"): Shape(EVERYONE, {
        **fields("metadata", "graph_id", "name"), **PAGING}),
    ("POST", "/assistants/count"): Shape(EVERYONE, fields("metadata", "graph_id", "name")),
    ("GET", "/assistants/{assistant_id}"): Shape(EVERYONE),
    ("PATCH", "/assistants/{assistant_id}"): Shape(ADMINS, ASSISTANT_BODY,
        why="assistants hold the approval policy: admins configure them"),
    ("DELETE", "/assistants/{assistant_id}"): Shape(ADMINS, query={
        "delete_threads": off("threads hold requests and decisions: they are not deleted "
                              "with an assistant"),
    }, why="assistants hold the approval policy: admins configure them"),
    ("GET", "/assistants/{assistant_id}/graph"): Shape(EVERYONE, query=fields("xray")),
    ("GET", "/assistants/{assistant_id}/subgraphs"): Shape(EVERYONE, query=fields("recurse")),
    ("GET", "/assistants/{assistant_id}/subgraphs/{namespace}"): Shape(
        EVERYONE, query=fields("recurse")),
    ("GET", "/assistants/{assistant_id}/schemas"): Shape(EVERYONE),
    ("POST", "/assistants/{assistant_id}/versions"): Shape(EVERYONE, fields(
        "metadata", "limit", "offset")),
    ("POST", "/assistants/{assistant_id}/latest"): Shape(ADMINS, fields("version"),
        query=fields("version"),
        why="assistants hold the approval policy: admins configure them"),
    # Threads. Reads are filtered to what the caller may see (server.auth.visible).
    ("POST", "/threads"): Shape(EVERYONE, {
        **fields("thread_id", "metadata"),
        "if_exists": one_of("raise", "do_nothing"),
    }),
    ("POST", "/threads/search"): Shape(EVERYONE, {
        **fields("ids", "metadata", "status", "extract"), **PAGING}),
    ("POST", "/threads/count"): Shape(EVERYONE, fields("metadata", "status")),
    ("POST", "/threads/prune"): Shape(EVERYONE, {
        "thread_ids": anything, "strategy": one_of("delete", "keep_latest")}),
    ("GET", "/threads/{thread_id}"): Shape(EVERYONE, query=fields("include")),
    ("PATCH", "/threads/{thread_id}"): Shape(EVERYONE, fields("metadata")),
    ("DELETE", "/threads/{thread_id}"): Shape(EVERYONE),
    ("GET", "/threads/{thread_id}/storage"): Shape(EVERYONE),
    ("GET", "/threads/{thread_id}/state"): Shape(EVERYONE, query=fields("subgraphs")),
    ("POST", "/threads/{thread_id}/state"): Shape(NOBODY, why=NO_STATE),
    ("GET", "/threads/{thread_id}/state/{checkpoint_id}"): Shape(
        EVERYONE, query=fields("subgraphs")),
    ("POST", "/threads/{thread_id}/state/checkpoint"): Shape(EVERYONE, fields(
        "checkpoint", "subgraphs")),
    ("GET", "/threads/{thread_id}/history"): Shape(EVERYONE, query=fields("limit", "before")),
    ("POST", "/threads/{thread_id}/history"): Shape(EVERYONE, {
        **fields("limit", "metadata", "checkpoint"), "before": a_config}),
    ("POST", "/threads/{thread_id}/copy"): Shape(
        NOBODY, why="a copy would carry the original's approvals and checkpoints"),
    ("GET", "/threads/{thread_id}/stream"): Shape(EVERYONE, query=fields(
        "stream_modes", "stream_mode")),  # the server reads one, the Python SDK sends the other
    # Runs on a thread: what a run may carry is the guard's (server.guard.check_run).
    ("GET", "/threads/{thread_id}/runs"): Shape(EVERYONE, query=fields(
        "limit", "offset", "status", "select")),
    ("POST", "/threads/{thread_id}/runs"): Shape(EVERYONE, RUN_BODY),
    ("POST", "/threads/{thread_id}/runs/stream"): Shape(EVERYONE, RUN_BODY),
    ("POST", "/threads/{thread_id}/runs/wait"): Shape(EVERYONE, RUN_BODY),
    ("GET", "/threads/{thread_id}/runs/{run_id}"): Shape(EVERYONE),
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"): Shape(EVERYONE, query=RUN_READ),
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): Shape(EVERYONE, query={
        **RUN_READ, "stream_mode": anything}),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): Shape(EVERYONE, query={
        **CANCEL_ACTION, "wait": flag}),
    ("DELETE", "/threads/{thread_id}/runs/{run_id}"): Shape(
        NOBODY, why="a run holds decisions of the audit trail"),
    ("POST", "/runs/cancel"): Shape(EVERYONE, {
        **fields("thread_id", "run_ids"),
        "status": admins_only("a bulk cancel reaches runs that are not yours; "
                              "name your runs in run_ids"),
    }, query=CANCEL_ACTION, whole=named_runs),
    ("POST", "/threads/{thread_id}/runs/crons"): Shape(NOBODY, why=DENIED),
    ("POST", "/runs"): Shape(NOBODY, why=STATELESS),
    ("POST", "/runs/wait"): Shape(NOBODY, why=STATELESS),
    ("POST", "/runs/stream"): Shape(NOBODY, why=STATELESS),
    ("POST", "/runs/batch"): Shape(NOBODY, why=STATELESS),
    ("POST", "/runs/crons"): Shape(NOBODY, why=DENIED),
    ("POST", "/runs/crons/search"): Shape(NOBODY, why=DENIED),
    ("POST", "/runs/crons/count"): Shape(NOBODY, why=DENIED),
    ("GET", "/runs/crons/{cron_id}"): Shape(NOBODY, why=DENIED),
    ("PATCH", "/runs/crons/{cron_id}"): Shape(NOBODY, why=DENIED),
    ("DELETE", "/runs/crons/{cron_id}"): Shape(NOBODY, why=DENIED),
    ("PUT", "/store/items"): Shape(NOBODY, why=DENIED),
    ("GET", "/store/items"): Shape(NOBODY, why=DENIED),
    ("DELETE", "/store/items"): Shape(NOBODY, why=DENIED),
    ("POST", "/store/items/search"): Shape(NOBODY, why=DENIED),
    ("POST", "/store/namespaces"): Shape(NOBODY, why=DENIED),
}
# fmt: on


def _pattern(template: str) -> re.Pattern[str]:
    return re.compile("^" + re.sub(r"\\\{\w+\\\}", "[^/]+", re.escape(template)) + "$")


ROUTES = [(method, template, _pattern(template)) for method, template in SHAPES]


def route_of(method: str, path: str) -> tuple[str, str] | None:
    """The classified route a request is for, if any (``HEAD`` counts as ``GET``)."""
    method = "GET" if method == "HEAD" else method
    exact = (method, path)
    if exact in SHAPES:
        return exact
    for route_method, template, pattern in ROUTES:
        if route_method == method and pattern.match(path):
            return route_method, template
    return None


def takes_form(method: str, path: str) -> bool:
    """Whether a route's body is a form rather than JSON (:attr:`Shape.form`)."""
    route = route_of(method, path)
    return route is not None and SHAPES[route].form


@dataclass(frozen=True)
class Refusal:
    """Why a request may not be sent (an HTTP status and a reason)."""

    status: int
    detail: str


def check(
    method: str, path: str, role: str, body: Any, query: list[tuple[str, str]]
) -> Refusal | None:
    """Check one request's route, body fields and query parameters for a caller's role.

    ``body`` is the parsed JSON body (None when there is none); ``role`` is
    ``anonymous`` for a request without a valid token, which only public routes take
    (401 elsewhere, as the server's own authentication answers).
    """
    route = route_of(method, path)
    if route is None:
        return Refusal(404, f"{method} {path} is not part of this server's API")
    shape = SHAPES[route]
    where = f"{route[0]} {route[1]}"
    if role not in shape.roles:
        if role == "anonymous":
            return Refusal(401, "missing or invalid token")
        reason = shape.why or "not for your role"
        return Refusal(403, f"{where} is not allowed for {role}: {reason}")
    if body is not None and body != {}:
        if not isinstance(body, dict):
            return Refusal(422, f"{where}: the body must be a JSON object")
        if refused := _fields(where, "body field", body.items(), shape.body, role):
            return refused
    if shape.whole and (error := shape.whole(body or {}, role)):
        return Refusal(422, f"{where}: {error}")
    return _fields(where, "query parameter", query, shape.query, role)


REFUSED = {
    "context": "approval rules belong to the deployment, for everyone: pick an assistant "
    "(admins configure them)",
    "checkpoint": "runs start from the thread's latest checkpoint",
    "checkpoint_id": "runs start from the thread's latest checkpoint",
    "interrupt_before": "workflows pause where their policy says",
    "interrupt_after": "workflows pause where their policy says",
    "webhook": "run webhooks are not available (notifications: HITL_WEBHOOK_URL)",
    "after_seconds": "runs start when they are sent",
    "feedback_keys": "feedback is not collected here",
    "ttl": "a thread holds a request's record: it is not deleted on a timer",
    "supersteps": "thread state is written by the workflows only",
    "langsmith_tracer": "tracing is the deployment's",
    "values": "filtering threads by their values is not available: the in-memory runtime "
    "fails on a thread without values (filter by metadata)",
}
"""Why some fields a client might send are not accepted (any other: simply not named)."""


def _fields(
    where: str, kind: str, items: Any, allowed: Mapping[str, Check], role: str
) -> Refusal | None:
    for name, value in items:
        rule = allowed.get(name)
        if rule is None:
            accepted = ", ".join(sorted(allowed)) or "none"
            why = REFUSED.get(name, f"accepted: {accepted}")
            return Refusal(403, f"{where}: {kind} {name!r} is not accepted ({why})")
        if error := rule(value, role):
            return Refusal(403, f"{where}: {kind} {name!r} {error}")
    return None
