"""The whole HTTP surface, route by route, from the served ``/openapi.json``.

Every route (method + path) the running server publishes is sent with no token,
with an unknown token, and as each development user; each status is checked
against :data:`TABLE`, which says who may do what. A route the table does not
classify fails the test, so a new langgraph-api version cannot add a route (a
way in) without someone deciding who may use it.

The sweep never changes the decision state of the expense it probes (alice's,
waiting for a manager): runs sent to it carry ``command.update``, which the guard
refuses for everyone; destructive routes go to throwaway objects; routes that
are destructive *and* answer without auth (``POST /internal/truncate``,
``POST /deploy``) are sent to a private throwaway server only.
"""

from __future__ import annotations

import json
import os
import re
import threading
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from scripts.devserver import DevServer
from tests.conftest import TOKENS

pytestmark = pytest.mark.integration

GRAPH = "expense_approval"
USERS = ("frank", "carol", "dave", "bob", "erin", "alice")
"""Sweep order within each route: the owner (alice) and the admin (erin) act last."""
ROLES = {
    "alice": "employee, owns the probed threads",
    "frank": "employee",
    "bob": "manager, the probed expense waits for him",
    "carol": "finance",
    "dave": "director",
    "erin": "admin",
}
ANON, STRANGER = "(no token)", "(unknown token)"
UNKNOWN_TOKEN = "dev-nobody"
DUMP = bool(os.environ.get("API_SURFACE_DUMP"))
"""``API_SURFACE_DUMP=1 pytest -s ...`` prints every answer (to update the table)."""

Statuses = int | str | frozenset[int | str]
EMPTY_STREAM = "200 (event stream closed without an event)"
"""What a stream that delivers nothing at all answers (compared like a status)."""
STREAM_WINDOW = 1.5
"""Seconds an event stream is read for its first event."""
EMBEDDED_STATUS = re.compile(r"^(\d{3}):")


OK = frozenset({200, 201, 202, 204})
DENIED = frozenset({403, 404})
"""A route nobody may use: refused (403) or not served at all (404)."""
GONE = frozenset({401, 404})
"""Without a token: refused (401), or not served at all (404)."""


@dataclass(frozen=True)
class Expect:
    """The expected status of one route: without a token, and per signed-in user."""

    anon: Statuses
    users: Mapping[str, Statuses]
    why: str = ""
    sandbox: bool = False
    """Destructive and (today) reachable without auth: sent to a private server only."""

    def of(self, who: str) -> Statuses:
        return self.anon if who in (ANON, STRANGER) else self.users[who]


def everyone(status: Statuses, why: str = "", anon: Statuses = 401, **kw: Any) -> Expect:
    """The same status for every signed-in user."""
    return Expect(anon, dict.fromkeys(USERS, status), why, **kw)


def public(status: Statuses, why: str = "") -> Expect:
    """Answers the same with or without a token."""
    return everyone(status, why, anon=status)


def thread_read(status: Statuses = 200, why: str = "", hidden: Statuses = 404) -> Expect:
    """Visible to the owner (alice) and to whom it waits for (bob); hidden (404) from others."""
    users = dict.fromkeys(USERS, hidden)
    users.update(alice=status, bob=status)
    return Expect(401, users, why or "thread visibility: owner + the role it waits for")


def owner_only(status: Statuses, others: Statuses = 404, why: str = "") -> Expect:
    users = dict.fromkeys(USERS, others)
    users["alice"] = status
    return Expect(401, users, why)


def deletable() -> Expect:
    """Alice's throwaway thread: hers to delete; erin (admin) may not yet (retention)."""
    users = dict.fromkeys(USERS, 404)
    users.update(alice=OK, erin=403)
    return Expect(401, users, RECORD)


def cancel_finished() -> Expect:
    """Cancelling alice's finished run: 404 (nothing to cancel) for her, the admin and those
    who cannot see it; 403 for bob, who sees the thread but did not start the run."""
    users = dict.fromkeys(USERS, 404)
    users["bob"] = 403
    return Expect(401, users, "only the run's starter or an admin cancels a run")


def admin_only(status: Statuses = OK, why: str = "") -> Expect:
    users = dict.fromkeys(USERS, 403)
    users["erin"] = status
    return Expect(401, users, why or "assistants are the approval policy: admins configure them")


DENY = "deny by default (auth.on): store, crons, whatever is not opened"
RECORD = (
    "the owner deletes a throwaway thread; erin (admin) deletes others' threads only "
    "after the retention period (HITL_RETENTION_DAYS)"
)
V2 = (
    "protocol v2 (commands, event streams) answers refusals inside a 200 envelope: not "
    "part of this server's API (server.allowlist), for anyone"
)
STEER = "run carrying command.update on alice's thread: guard refuses (403) if visible, else 404"
STATELESS = "stateless runs are refused: a run needs a thread with an owner"
NO_WRITE = "thread state is written by the workflows only"
DEV_ONLY = (
    "langgraph-runtime-inmem test/debug route: must not answer without a token, and "
    "nobody should be able to use it"
)

# fmt: off
TABLE: dict[tuple[str, str], Expect] = {
    # Meta and docs
    ("GET", "/ok"): public(200, "health check"),
    ("GET", "/"): public(200, "root health check for load balancers (same handler as /ok)"),
    ("GET", "/docs"): public(200, "public API reference page (no data)"),
    ("GET", "/openapi.json"): public(200, "public API description (no data)"),
    ("GET", "/info"): admin_only(200, "server details are for admins (server.allowlist)"),
    ("GET", "/metrics"): admin_only(200, "metrics are for admins (server.allowlist)"),
    # Custom routes (server/app.py, server/inbox.py)
    ("GET", "/me"): everyone(200),
    ("GET", "/notifications"): admin_only(200, "the webhook outbox: admins only"),
    ("GET", "/deletions"): admin_only(200, "the log of deleted threads: admins only"),
    ("GET", "/archive"): everyone(200, "archived threads: each caller's visible ones, an "
                                  "admin's all"),
    ("GET", "/archive/{thread_id}"): everyone(
        404, "the probed thread is in the runtime, not archived (reads of archived threads: "
        "tests/integration/test_archive_served.py)"),
    ("POST", "/notifications/{interrupt_id}/resend"): admin_only(
        404, "admins only (the probed id is not in the outbox: 404)"),
    ("GET", "/inbox"): public(200, "the inbox page shell holds no data"),
    ("GET", "/inbox/"): public(200, "the inbox page shell holds no data"),
    ("GET", "/inbox/static/{name}"): public(200, "the inbox's script and style sheet"),
    ("GET", "/inbox/api/me"): everyone(200),
    ("GET", "/inbox/api/items"): everyone(200),
    ("GET", "/inbox/api/history"): everyone(200),
    ("POST", "/inbox/api/answer"): thread_read(
        409, "answer to a pause id that is not pending: stale (409) if visible, else 404"),
    ("GET", "/email/answer"): public(
        404, "a mailed link, signed by the server, not a token: off (404) without HITL_SMTP_URL "
        "(refusals when on: tests/integration/test_mail_served.py)"),
    ("POST", "/email/answer"): public(
        404, "a mailed link's form (signed token + CSRF pair): off (404) without HITL_SMTP_URL "
        "(refusals when on: tests/integration/test_mail_served.py)"),
    ("POST", "/slack/interactions"): public(
        404, "Slack's Request URL, signed by Slack, not by a token: off (404) without "
        "HITL_SLACK_SIGNING_SECRET (refusals when on: tests/integration/test_slack_served.py)"),
    # Assistants
    ("POST", "/assistants"): admin_only(),
    ("POST", "/assistants/search"): everyone(200),
    ("POST", "/assistants/count"): everyone(200),
    ("GET", "/assistants/{assistant_id}"): everyone(200),
    ("DELETE", "/assistants/{assistant_id}"): admin_only(),
    ("PATCH", "/assistants/{assistant_id}"): admin_only(),
    ("GET", "/assistants/{assistant_id}/graph"): everyone(200),
    ("GET", "/assistants/{assistant_id}/subgraphs"): everyone(200),
    ("GET", "/assistants/{assistant_id}/subgraphs/{namespace}"): everyone(200),
    ("GET", "/assistants/{assistant_id}/schemas"): everyone(200),
    ("POST", "/assistants/{assistant_id}/versions"): everyone(200),
    ("POST", "/assistants/{assistant_id}/latest"): admin_only(),
    # Threads
    ("POST", "/threads"): everyone(200, "anyone may open a thread of their own"),
    ("POST", "/threads/search"): everyone(200, "filtered to what the user may see"),
    ("POST", "/threads/count"): everyone(200, "filtered to what the user may see"),
    ("POST", "/threads/prune"): deletable(),
    ("GET", "/threads/{thread_id}"): thread_read(),
    ("PATCH", "/threads/{thread_id}"): owner_only(200, why="owner patches metadata"),
    ("DELETE", "/threads/{thread_id}"): deletable(),
    ("GET", "/threads/{thread_id}/storage"): everyone(
        501, "checkpoint storage report: not available with the project's checkpointer"),
    ("GET", "/threads/{thread_id}/state"): thread_read(),
    ("POST", "/threads/{thread_id}/state"): everyone(403, NO_WRITE + " (refused before lookup)"),
    ("GET", "/threads/{thread_id}/state/{checkpoint_id}"): thread_read(),
    ("POST", "/threads/{thread_id}/state/checkpoint"): thread_read(),
    ("GET", "/threads/{thread_id}/history"): thread_read(),
    ("POST", "/threads/{thread_id}/history"): thread_read(),
    ("POST", "/threads/{thread_id}/copy"): everyone(403, "copies would carry approvals"),
    ("GET", "/threads/{thread_id}/stream"): thread_read(
        200, "stream stays open for who may see it; others get a 404 error event"),
    ("POST", "/threads/{thread_id}/stream/events"): everyone(404, V2, anon=404),
    ("POST", "/threads/{thread_id}/commands"): everyone(404, V2, anon=404),
    # Thread runs
    ("GET", "/threads/{thread_id}/runs"): thread_read(),
    ("POST", "/threads/{thread_id}/runs"): thread_read(403, STEER),
    ("POST", "/threads/{thread_id}/runs/stream"): thread_read(403, STEER),
    ("POST", "/threads/{thread_id}/runs/wait"): thread_read(403, STEER),
    ("POST", "/threads/{thread_id}/runs/crons"): everyone(403, DENY),
    ("GET", "/threads/{thread_id}/runs/{run_id}"): thread_read(),
    ("GET", "/threads/{thread_id}/runs/{run_id}/join"): thread_read(),
    ("GET", "/threads/{thread_id}/runs/{run_id}/stream"): thread_read(
        frozenset({200, EMPTY_STREAM}), "a finished run's stream closes at once; others get "
        "a 404 error event"),
    ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"): cancel_finished(),
    ("DELETE", "/threads/{thread_id}/runs/{run_id}"): everyone(
        403, "a run holds decisions of the audit trail: never deleted on its own"),
    # Stateless runs and crons
    ("POST", "/runs"): everyone(403, STATELESS),
    ("POST", "/runs/wait"): everyone(403, STATELESS),
    ("POST", "/runs/stream"): everyone(403, STATELESS),
    ("POST", "/runs/batch"): everyone(403, STATELESS),
    ("POST", "/runs/cancel"): cancel_finished(),
    ("POST", "/runs/crons"): everyone(403, DENY),
    ("POST", "/runs/crons/search"): everyone(403, DENY),
    ("POST", "/runs/crons/count"): everyone(403, DENY),
    ("GET", "/runs/crons/{cron_id}"): everyone(403, DENY),
    ("PATCH", "/runs/crons/{cron_id}"): everyone(403, DENY),
    ("DELETE", "/runs/crons/{cron_id}"): everyone(403, DENY),
    # Store
    ("PUT", "/store/items"): everyone(403, DENY),
    ("GET", "/store/items"): everyone(403, DENY),
    ("DELETE", "/store/items"): everyone(403, DENY),
    ("POST", "/store/items/search"): everyone(403, DENY),
    ("POST", "/store/namespaces"): everyone(403, DENY),
    # langgraph-runtime-inmem's routes (`langgraph dev` only). langgraph-api mounts them
    # next to /ok, outside its auth middleware: with langgraph-runtime-inmem 0.36.7 they
    # answer anyone, token or not (read any thread raw, wipe every thread, start
    # `langgraph deploy`). The rule stays: refused (401 without a token) or not served (404).
    ("GET", "/internal/debug/thread/{thread_id}"): everyone(DENIED, DEV_ONLY, anon=GONE),
    ("POST", "/internal/truncate"): everyone(DENIED, DEV_ONLY, anon=GONE, sandbox=True),
    ("GET", "/deploy"): everyone(DENIED, DEV_ONLY, anon=GONE),
    ("POST", "/deploy"): everyone(DENIED, DEV_ONLY, anon=GONE, sandbox=True),
    ("GET", "/deploy/{operation_id}/stream"): everyone(DENIED, DEV_ONLY, anon=GONE, sandbox=True),
}
# fmt: on

EXTRA_ROUTES: dict[tuple[str, str], Expect] = {
    # Not in /openapi.json: langgraph-api mounts static UI files under /ui and serves
    # GET /ui/* without auth. No UI is built here, so it serves nothing.
    ("GET", "/ui/{graph_id}/{name}"): public(frozenset({404, 500}), "static UI mount, no auth"),
}


@dataclass
class Probe:
    """The objects the sweep points its routes at."""

    thread_id: str
    run_id: str
    checkpoint_id: str
    assistant_id: str
    scratch_thread_id: str
    scratch_run_id: str
    prune_thread_id: str
    scratch_assistant_id: str
    new_assistant_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    operation_id: str = "x"
    created_threads: list[tuple[str, str]] = field(default_factory=list)


def submit(sdk) -> tuple[str, str]:
    thread_id = sdk.threads.create(metadata={"graph_id": GRAPH})["thread_id"]
    sdk.runs.wait(thread_id, GRAPH, input={"amount": 5000, "description": "Fair"})
    return thread_id, sdk.runs.list(thread_id)[0]["run_id"]


STEERING_RUN = {"assistant_id": GRAPH, "input": None, "command": {"update": {"status": "approved"}}}
EXPENSE_INPUT = {"amount": 1, "description": "api surface probe"}


def request_for(method: str, path: str, p: Probe) -> tuple[dict[str, str], dict[str, Any]]:
    """The path parameters and request options (json, params) of one route."""
    values = {
        "thread_id": p.thread_id,
        "run_id": p.run_id,
        "checkpoint_id": p.checkpoint_id,
        "assistant_id": p.assistant_id,
        "graph_id": GRAPH,
        "namespace": "x",
        "name": "inbox.css",
        "cron_id": str(uuid.uuid4()),
        "operation_id": p.operation_id,
        "interrupt_id": uuid.uuid4().hex,
    }
    scratch_thread = {"thread_id": p.scratch_thread_id, "run_id": p.scratch_run_id}
    scratch_assistant = {"assistant_id": p.scratch_assistant_id}
    route = (method, path)
    options: dict[str, Any] = {}
    if method in ("POST", "PUT", "PATCH"):
        options["json"] = {}
    if route in {
        ("DELETE", "/threads/{thread_id}"),
        ("DELETE", "/threads/{thread_id}/runs/{run_id}"),
        ("POST", "/threads/{thread_id}/runs/{run_id}/cancel"),
    }:
        values.update(scratch_thread)
    if route in {
        ("DELETE", "/assistants/{assistant_id}"),
        ("PATCH", "/assistants/{assistant_id}"),
        ("POST", "/assistants/{assistant_id}/latest"),
    }:
        values.update(scratch_assistant)
    if route == ("GET", "/ui/{graph_id}/{name}"):
        values["name"] = "index.js"
    bodies: dict[tuple[str, str], Any] = {
        ("POST", "/assistants"): {
            "graph_id": GRAPH,
            "assistant_id": p.new_assistant_id,
            "name": "api surface probe",
            "if_exists": "do_nothing",
        },
        ("PATCH", "/assistants/{assistant_id}"): {"metadata": {"api_surface": "probe"}},
        ("POST", "/assistants/{assistant_id}/latest"): {"version": 1},
        ("POST", "/assistants/{assistant_id}/versions"): {"limit": 1},
        ("POST", "/threads"): {"metadata": {}},
        ("POST", "/threads/prune"): {"thread_ids": [p.prune_thread_id], "strategy": "delete"},
        ("PATCH", "/threads/{thread_id}"): {"metadata": {"api_surface": "probe"}},
        ("POST", "/threads/{thread_id}/state"): {"values": {"description": "Fair"}},
        ("POST", "/threads/{thread_id}/state/checkpoint"): {
            "checkpoint": {"checkpoint_id": p.checkpoint_id}
        },
        ("POST", "/threads/{thread_id}/history"): {"limit": 1},
        ("POST", "/threads/{thread_id}/stream/events"): {"channels": ["values"]},
        ("POST", "/threads/{thread_id}/commands"): {
            # A fork from a checkpoint: the guard refuses it for everyone; were it let
            # through it would replay to the same pause, deciding nothing.
            "id": 1,
            "method": "run.start",
            "params": {
                "assistant_id": GRAPH,
                "config": {"configurable": {"checkpoint_id": p.checkpoint_id}},
            },
        },
        ("POST", "/threads/{thread_id}/runs"): STEERING_RUN,
        ("POST", "/threads/{thread_id}/runs/stream"): STEERING_RUN,
        ("POST", "/threads/{thread_id}/runs/wait"): STEERING_RUN,
        ("POST", "/threads/{thread_id}/runs/crons"): {
            "assistant_id": GRAPH,
            "input": EXPENSE_INPUT,
            "schedule": "0 0 1 1 *",
        },
        ("POST", "/runs"): {"assistant_id": GRAPH, "input": EXPENSE_INPUT},
        ("POST", "/runs/wait"): {"assistant_id": GRAPH, "input": EXPENSE_INPUT},
        ("POST", "/runs/stream"): {"assistant_id": GRAPH, "input": EXPENSE_INPUT},
        ("POST", "/runs/batch"): [{"assistant_id": GRAPH, "input": EXPENSE_INPUT}],
        ("POST", "/runs/cancel"): {
            "thread_id": p.scratch_thread_id,
            "run_ids": [p.scratch_run_id],
        },
        ("POST", "/runs/crons"): {
            "assistant_id": GRAPH,
            "schedule": "0 0 1 1 *",
            "input": EXPENSE_INPUT,
        },
        ("PATCH", "/runs/crons/{cron_id}"): {"schedule": "0 0 1 1 *"},
        ("PUT", "/store/items"): {"namespace": ["probe"], "key": "k", "value": {"v": 1}},
        ("DELETE", "/store/items"): {"namespace": ["probe"], "key": "k"},
        ("POST", "/store/items/search"): {"namespace_prefix": ["probe"]},
        ("POST", "/store/namespaces"): {"prefix": ["probe"]},
        ("POST", "/a2a/{assistant_id}"): {
            "jsonrpc": "2.0",
            "id": "1",
            "method": "tasks/get",
            "params": {"id": str(uuid.uuid4())},
        },
        ("POST", "/mcp"): {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "Expense_Approval", "arguments": EXPENSE_INPUT},
        },
        ("POST", "/mcp/"): {"jsonrpc": "2.0", "id": 1, "method": "tools/list"},
        ("POST", "/ui/{graph_id}"): {"name": GRAPH},
        ("POST", "/inbox/api/answer"): {
            "thread_id": p.thread_id,
            "interrupt_id": "0" * 32,
            "decision": "reject",
        },
    }
    if route in bodies:
        options["json"] = bodies[route]
    params: dict[tuple[str, str], dict[str, Any]] = {
        ("GET", "/store/items"): {"namespace": "probe", "key": "k"},
        ("GET", "/threads/{thread_id}/history"): {"limit": 1},
        ("GET", "/.well-known/agent-card.json"): {"assistant_id": p.assistant_id},
    }
    if route in params:
        options["params"] = params[route]
    if path.startswith("/mcp"):
        options["headers"] = {"Accept": "application/json, text/event-stream"}
    return values, options


@dataclass
class Outcome:
    status: int | str
    snippet: str
    body: Any = None


def first_event(response: httpx.Response) -> tuple[int | str, str]:
    """Read an event stream briefly: a refusal sent as its first event counts as that status."""
    lines: list[str] = []
    try:
        for line in response.iter_lines():
            lines.append(line)
            if len(lines) >= 20 or (not line and any(x.startswith("data:") for x in lines)):
                break
        else:
            if not lines:
                return EMPTY_STREAM, "(event stream: closed without an event)"
    except httpx.ReadTimeout:
        if not lines:
            return response.status_code, f"(event stream: open, no event in {STREAM_WINDOW}s)"
    event = next((x[6:].strip() for x in lines if x.startswith("event:")), "")
    data = next((x[5:].strip() for x in lines if x.startswith("data:")), "")
    snippet = f"(event stream) event: {event} data: {data[:200]}"
    if event == "error":
        try:
            message = str(json.loads(data).get("message", ""))
        except (ValueError, AttributeError):
            message = data
        if found := EMBEDDED_STATUS.match(message):
            return int(found.group(1)), snippet
    return response.status_code, snippet


def send(client: httpx.Client, base: str, method: str, path: str, values, options, token):
    """Send one request and return its status and the start of its answer.

    An event stream is read for its first event only. Refusals that arrive inside a
    200 (an ``error`` event, a protocol error envelope ``{"type": "error", "message":
    "403: ..."}``) count as their embedded status.
    """
    headers = dict(options.get("headers") or {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    url = base + path.format(**values)
    kwargs = {k: v for k, v in options.items() if k != "headers"}
    for attempt in (1, 2):
        try:
            with client.stream(method, url, headers=headers, **kwargs) as response:
                if "text/event-stream" in response.headers.get("content-type", ""):
                    # The body's read timeout is taken when its reading starts: shorten it
                    # now, so an open stream costs STREAM_WINDOW, not the client's timeout.
                    response.request.extensions.get("timeout", {})["read"] = STREAM_WINDOW
                    return Outcome(*first_event(response))
                text = response.read().decode(errors="replace")
            break
        except httpx.TimeoutException as exc:
            return Outcome(-1, f"timeout: {exc!r}")
        except httpx.TransportError as exc:  # a kept-alive connection the server dropped
            if attempt == 2:
                return Outcome(-1, f"no answer: {exc!r}")
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    status: int | str = response.status_code
    if isinstance(body, dict) and body.get("type") == "error":
        if found := EMBEDDED_STATUS.match(str(body.get("message", ""))):
            status = int(found.group(1))
    return Outcome(status, " ".join(text[:240].split()), body)


def matches(status: int | str, expected: Statuses) -> bool:
    return status in expected if isinstance(expected, frozenset | set) else status == expected


def spec_routes(client: httpx.Client, base: str) -> list[tuple[str, str]]:
    response = client.get(f"{base}/openapi.json")
    if response.status_code != 200:  # not public any more: read it as a user
        response = client.get(f"{base}/openapi.json", headers=auth("alice"))
    response.raise_for_status()
    verbs = {"get", "post", "put", "patch", "delete", "head", "options"}
    return [
        (method.upper(), path)
        for path, ops in response.json()["paths"].items()
        for method in ops
        if method in verbs
    ]


def auth(user: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[user]}"}


def sweep_order(route: tuple[str, str]) -> tuple[int, int]:
    """Deletes last, children before parents (a run before its thread)."""
    method, path = route
    return (1, -len(path)) if method == "DELETE" else (0, 0)


@pytest.fixture
def sandbox() -> Iterator[Callable[[], DevServer]]:
    """A private server for destructive routes that answer without auth, started lazily."""
    blank_keys = dict.fromkeys(
        ("LANGSMITH_API_KEY", "LANGCHAIN_API_KEY", "LANGGRAPH_HOST_API_KEY"), ""
    )  # so a `langgraph deploy` started through POST /deploy cannot deploy anything
    dev = DevServer(env=blank_keys)
    result: dict[str, BaseException | None] = {}

    def start() -> None:
        try:
            dev.start()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            result["error"] = exc

    starter = threading.Thread(target=start, daemon=True)
    starter.start()

    def ready() -> DevServer:
        starter.join(timeout=120)
        if result.get("error") or starter.is_alive():
            raise RuntimeError(f"sandbox server did not start: {result.get('error')}")
        return dev

    try:
        yield ready
    finally:
        starter.join(timeout=120)
        dev.cleanup()


@pytest.fixture
def probe(sdk_as) -> Iterator[Probe]:
    alice, erin = sdk_as("alice"), sdk_as("erin")
    thread_id, run_id = submit(alice)
    scratch_thread_id, scratch_run_id = submit(alice)
    checkpoint_id = alice.threads.get_history(thread_id, limit=1)[0]["checkpoint_id"]
    assistant_id = alice.assistants.search(graph_id=GRAPH)[0]["assistant_id"]
    prune_thread_id = alice.threads.create(metadata={})["thread_id"]
    scratch_assistant = erin.assistants.create(GRAPH, name="api surface scratch")
    p = Probe(
        thread_id=thread_id,
        run_id=run_id,
        checkpoint_id=checkpoint_id,
        assistant_id=assistant_id,
        scratch_thread_id=scratch_thread_id,
        scratch_run_id=scratch_run_id,
        prune_thread_id=prune_thread_id,
        scratch_assistant_id=scratch_assistant["assistant_id"],
    )
    yield p
    # Leave nothing behind for other tests (each call may already be done: ignore errors).
    for call in [
        lambda: erin.assistants.delete(p.new_assistant_id),
        lambda: erin.assistants.delete(p.scratch_assistant_id),
        lambda: alice.threads.delete(p.scratch_thread_id),
        lambda: alice.threads.delete(p.prune_thread_id),
        *[
            (lambda user=user, tid=tid: sdk_as(user).threads.delete(tid))
            for user, tid in p.created_threads
        ],
    ]:
        try:
            call()
        except Exception:  # noqa: BLE001
            pass


def shown(expected: Statuses) -> str:
    if isinstance(expected, frozenset | set):
        return " or ".join(map(str, sorted(expected, key=str)))
    return str(expected)


def test_every_route_answers_as_the_table_says(server, sandbox, probe, sdk_as):
    mismatches: dict[tuple[str, str], list[str]] = {}
    sent = 0
    with httpx.Client(timeout=10) as client:
        served = spec_routes(client, server.url)
        # An unclassified route is not sent at all: nobody knows yet what it does.
        unclassified = sorted(set(served) - set(TABLE))
        table = {**TABLE, **EXTRA_ROUTES}
        routes = sorted((r for r in served if r in TABLE), key=sweep_order) + list(EXTRA_ROUTES)
        routes.sort(key=lambda r: table[r].sandbox)  # the private server's routes last
        for route in routes:
            method, path = route
            expect = table[route]
            base = sandbox().url if expect.sandbox else server.url
            values, options = request_for(method, path, probe)
            callers = [(ANON, None)]
            if matches(401, expect.anon):
                callers.append((STRANGER, UNKNOWN_TOKEN))
            callers += [(user, TOKENS[user]) for user in USERS]
            for who, token in callers:
                outcome = send(client, base, method, path, values, options, token)
                sent += 1
                if route == ("POST", "/threads") and isinstance(outcome.body, dict):
                    probe.created_threads.append((who, outcome.body.get("thread_id")))
                if route == ("POST", "/deploy") and isinstance(outcome.body, dict):
                    probe.operation_id = outcome.body.get("operation_id") or probe.operation_id
                if DUMP:
                    print(
                        f"{method:6} {path:50} {who:15} {outcome.status!s:6} "
                        f"{outcome.snippet[:100]}"
                    )
                if not matches(outcome.status, expect.of(who)):
                    mismatches.setdefault(route, []).append(
                        f"as {who}{f' ({ROLES[who]})' if who in ROLES else ''}: expected "
                        f"{shown(expect.of(who))}, got {outcome.status} -- {outcome.snippet[:160]}"
                    )
    print(f"{len(routes)} routes ({len(served)} in /openapi.json), {sent} requests")

    # The probed expense is exactly as it was: alice's, waiting for a manager.
    thread = sdk_as("alice").threads.get(probe.thread_id)
    state = [
        thread["status"],
        (thread.get("values") or {}).get("status"),
        thread["metadata"].get("owner"),
        thread["metadata"].get("waiting_for"),
    ]
    problems = []
    if unclassified:
        problems.append(
            "routes in /openapi.json that TABLE does not classify (not sent; decide who may "
            "use them, then add them to TABLE):\n  "
            + "\n  ".join(f"{m} {p}" for m, p in unclassified)
        )
    if mismatches:
        problems.append(
            f"{sum(map(len, mismatches.values()))} answers on {len(mismatches)} routes differ "
            "from the table:\n"
            + "\n".join(
                f"  {m} {p}  [{table[(m, p)].why or 'no note'}]\n    " + "\n    ".join(lines)
                for (m, p), lines in mismatches.items()
            )
        )
    if state != ["interrupted", "pending", "alice", "manager"]:
        problems.append(
            f"the sweep changed the probed expense (status, values.status, owner, "
            f"waiting_for): {state}"
        )
    if problems and (stale := sorted(set(TABLE) - set(served))):
        problems.append("(TABLE entries no longer served: " + ", ".join(map(" ".join, stale)) + ")")
    assert not problems, "\n\n".join(problems)


def test_a_preflight_allows_private_network_access_as_stock_langgraph_dev_does(server):
    """The boundary sets the header langgraph-api's skipped ``PrivateNetworkMiddleware`` would."""
    preflight = {"Origin": "https://smith.langchain.com", "Access-Control-Request-Method": "POST"}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        answer = client.options("/threads/search", headers=preflight)
        plain = client.get("/me", headers=auth("alice"))
    assert answer.status_code == 200, answer.text
    assert answer.headers.get("access-control-allow-private-network") == "true"
    assert plain.status_code == 200 and "access-control-allow-private-network" not in plain.headers
    if not isinstance(server, DevServer):
        pytest.skip("LANGGRAPH_TEST_URL: the server's log is not ours to read")
    assert "PrivateNetworkMiddleware skipped" in server.log_path.read_text(errors="replace")
