"""The HTTP surface field by field, from the served ``/openapi.json`` (issue 22).

For every route the server describes, every request-body property and every
query parameter is sent once per caller (no token, alice, frank, bob, carol, dave,
erin) with a sample *non-default* value taken from its schema, on top of the
route's ordinary request (``request_for`` of ``test_api_surface``: the same probed
objects, the same safety rules). Each answer is compared with what :data:`FIELDS`
says about that field:

- ``ACCEPTED``: the door (``server.allowlist``) lets the field through and it does
  not change who may do what: every caller gets the status of their *baseline* (the
  route's request without the field, sent as the same caller) and no answer is the
  door's refusal of the field.
- ``REFUSED``: every caller who may use the route gets 403 from the door, naming
  the field; a caller who may not use the route gets their baseline (401 without a
  token, the door's 403 for their role).
- ``CLOSED``: nobody may use the route (or it is not served): every caller gets
  their baseline, and no baseline succeeds.

Where a value legitimately changes the answer (a thread id that does not exist,
``if_exists=do_nothing`` with someone else's thread id), the entry names the status
per caller; the rest of its rule still applies. An entry may also name the value
to send, where the schema's sample says nothing (a dangerous enum value, a valid
policy).

A served (route, field) pair that :data:`FIELDS` does not classify fails the test
and is not sent: nobody knows yet what it does. A 5xx fails it too: where
langgraph-api itself fails on valid input, the door refuses that input with the reason.
Fields :data:`FIELDS` names that are no longer served are listed when something
else fails.

Safety: the sample never decides anything. Runs on the probed expense carry
``command.update`` from the base request, which the guard refuses for everyone;
answers name a pause id that is not pending; destructive routes act on the
scratch objects; where a sample would be dangerous if accepted, the entry says so.
Each route's baseline is sent after its fields, so a destructive base request
(a prune, a delete) acts once, last. Routes that are destructive and answer
without auth (``/internal/``, ``/deploy``) would go to a private sandbox server.

Speed: the seven callers of one field are sent together; fields, routes and the
baselines one after another (about 2,500 requests, 15 s).

``API_FIELDS_DUMP=1 pytest -s ...`` prints every answer; ``API_FIELDS_DUMP=all``
also sends the unclassified fields (as if accepted) to show how they answer: use it
against a throwaway server only.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.conftest import TOKENS
from tests.integration.test_api_surface import (  # noqa: F401 - probe, sandbox: fixtures
    ANON,
    USERS,
    Outcome,
    Probe,
    Statuses,
    matches,
    probe,
    request_for,
    sandbox,
    send,
    shown,
)

pytestmark = pytest.mark.integration

CALLERS = (ANON, *USERS)
"""No token, frank, carol, dave, bob, erin, alice: a destructive baseline acts as the owner
last (``test_api_surface.USERS``)."""
DUMP = os.environ.get("API_FIELDS_DUMP", "")
SANDBOXED = ("/internal/", "/deploy")
"""Destructive routes that answered without auth (``server.app.BLOCKED``): sandbox only."""

ACCEPTED, REFUSED, CLOSED = "accepted", "refused", "closed"


@dataclass(frozen=True)
class Verdict:
    """What one field does on one route (see the module docstring)."""

    kind: str
    why: str = ""
    value: Callable[[Probe], Any] | None = None
    """The value to send instead of the schema's sample."""
    extra: Callable[[Probe], dict[str, Any]] | None = None
    """Other fields sent with it (in the same place: body or query)."""
    outcome: Mapping[str, Statuses] = field(default_factory=dict)
    """Statuses that differ from the rule, per caller (``others``: every signed-in caller
    not named). The field's refusal by the door is still checked for the callers named."""


def verdict(kind: str, why: str, value=None, extra=None, **outcome: Statuses) -> Verdict:
    if "anon" in outcome:
        outcome[ANON] = outcome.pop("anon")
    return Verdict(kind, why, value, extra, outcome)


def accepted(why: str = "", value=None, extra=None, **outcome: Statuses) -> Verdict:
    """Let through by the door; the answer is each caller's baseline unless ``outcome`` says."""
    return verdict(ACCEPTED, why, value, extra, **outcome)


def refused(why: str = "", value=None, extra=None, **outcome: Statuses) -> Verdict:
    """Refused (403) by the door, naming the field, for whoever may use the route."""
    return verdict(REFUSED, why, value, extra, **outcome)


def on(method: str, path: str, /, **fields: Verdict) -> dict[tuple[str, str, str], Verdict]:
    return {(method, path, name): verdict for name, verdict in fields.items()}


OK = accepted()
NO = refused()
SHUT = Verdict(CLOSED)
GRAPH = "expense_approval"
POLICY = {"approval_threshold": 250.0}
"""A valid expense policy: an admin's accepted configuration (a wrong one is a 422)."""
RUN = {
    # The base request carries command.update, which the guard refuses for everyone
    # who sees the thread (alice, bob: 403) and which hides it from the others (404):
    # a field the door lets through cannot make the run happen.
    "assistant_id": accepted("an assistant that does not exist: 404 for all", others=404),
    "checkpoint": NO,
    "input": OK,
    "command": OK,
    "metadata": OK,
    "config": OK,
    "context": NO,
    "webhook": NO,  # the sample points at example.invalid, which never resolves
    "interrupt_before": NO,
    "interrupt_after": NO,
    "stream_mode": OK,
    "stream_subgraphs": OK,
    "stream_resumable": OK,
    "feedback_keys": NO,
    "multitask_strategy": refused(
        "interrupt would cancel the run in progress, maybe someone's answer (reject and "
        "enqueue are accepted)",
        value=lambda p: "interrupt",
    ),
    "if_not_exists": accepted(
        "create: a thread the caller cannot see counts as a new one for the guard, which "
        "then refuses command.update (403, not 404); the runtime still refuses a run on "
        "someone else's thread (404)",
        others=403,
    ),
    "after_seconds": NO,
    "checkpoint_during": OK,
    "durability": refused(
        "exit: no checkpoint per step, which recovery needs (sync and async are accepted)",
        value=lambda p: "exit",
    ),
}
STATELESS = dict.fromkeys(
    (
        "assistant_id",
        "input",
        "command",
        "metadata",
        "config",
        "context",
        "webhook",
        "stream_mode",
        "feedback_keys",
        "stream_subgraphs",
        "stream_resumable",
        "on_completion",
        "after_seconds",
        "checkpoint_during",
        "durability",
    ),
    SHUT,
)
"""Stateless runs: refused to everyone (a run needs a thread with an owner)."""
CRON = dict.fromkeys(
    (
        "assistant_id",
        "input",
        "metadata",
        "config",
        "context",
        "webhook",
        "interrupt_before",
        "interrupt_after",
        "stream_mode",
        "stream_subgraphs",
        "stream_resumable",
        "durability",
        "schedule",
        "timezone",
        "end_time",
        "enabled",
        "on_run_completed",
        "multitask_strategy",
    ),
    SHUT,
)
"""Crons: not available on this deployment."""

# fmt: off
FIELDS: dict[tuple[str, str, str], Verdict] = {
    # Meta and the project's own routes
    **on("GET", "/ok", check_db=OK),
    **on("GET", "/metrics", format=OK),
    **on("GET", "/inbox", refresh=OK),
    **on("GET", "/inbox/", refresh=OK),
    **on("GET", "/notifications", status=OK),
    **on("GET", "/archive", limit=OK, offset=OK),
    **on("POST", "/inbox/api/answer",
         # The base answers a pause id that is not pending (409 for who sees the thread,
         # 404 for the others): no sample names the pending pause, so nothing is decided.
         thread_id=accepted("a thread that does not exist: 404 for all", others=404),
         interrupt_id=OK, decision=OK, note=OK, changes=OK, args=OK),
    # A mailed link: email is off on the test server (404 for all, with or without a token;
    # what a token does when it is on: tests/integration/test_mail_served.py). Its POST is a
    # form, whose fields the door checks like a body's (server.allowlist, Shape.form).
    **on("GET", "/email/answer", token=OK),
    # Assistants: admins configure them (erin), the others are refused by the door
    **on("POST", "/assistants",
         assistant_id=accepted("a fresh id: erin creates an assistant (deleted afterwards)"),
         graph_id=OK, config=OK, metadata=OK, if_exists=OK, name=OK, description=OK,
         context=accepted(value=lambda p: POLICY)),
    **on("POST", "/assistants/search", metadata=OK, graph_id=OK, name=OK, limit=OK, offset=OK,
         sort_by=OK, sort_order=OK, select=OK),
    **on("POST", "/assistants/count", metadata=OK, name=OK,
         graph_id=accepted("a served graph (an unknown one is a 404)", value=lambda p: GRAPH)),
    **on("PATCH", "/assistants/{assistant_id}",  # the scratch assistant
         graph_id=OK, config=OK, metadata=OK, name=OK, description=OK,
         context=accepted(value=lambda p: POLICY)),
    **on("DELETE", "/assistants/{assistant_id}",
         delete_threads=refused("threads hold requests and decisions (the scratch assistant "
                                "has none, were it accepted)")),
    **on("GET", "/assistants/{assistant_id}/graph", xray=OK),
    **on("GET", "/assistants/{assistant_id}/subgraphs", recurse=OK),
    **on("GET", "/assistants/{assistant_id}/subgraphs/{namespace}", recurse=OK),
    **on("POST", "/assistants/{assistant_id}/latest", version=OK),
    # Threads
    **on("POST", "/threads",
         thread_id=accepted("a fresh id: a new thread of the caller's own"),
         metadata=OK,
         if_exists=accepted(
             "do_nothing with alice's thread id returns her thread to her only: anyone else "
             "gets 409, as for raise", extra=lambda p: {"thread_id": p.thread_id},
             alice=200, others=409),
         ttl=refused("a thread holds a request's record: it is not deleted on a timer"),
         supersteps=refused("thread state is written by the workflows only")),
    **on("POST", "/threads/search", ids=OK, metadata=OK, status=OK, limit=OK, offset=OK,
         sort_by=OK, sort_order=OK, select=OK,
         values=refused("langgraph-runtime-inmem fails (500) on a visible thread without "
                        "values: refused with that reason instead"),
         extract=accepted("an extract path must name values, metadata, config or interrupts",
                          value=lambda p: {"probe": "values.status"})),
    **on("POST", "/threads/count", metadata=OK, status=OK,
         values=refused("langgraph-runtime-inmem fails (500) on a visible thread without "
                        "values: refused with that reason instead")),
    **on("POST", "/threads/prune",
         thread_ids=accepted("a thread that does not exist: 404 but for an admin (200, "
                             "nothing pruned)", others=404, erin=200),
         strategy=accepted("keep_latest on alice's empty prune thread: the in-memory runtime "
                           "does not support it (422; 200 elsewhere)",
                           alice=frozenset({200, 422}))),
    **on("GET", "/threads/{thread_id}", include=OK),
    **on("PATCH", "/threads/{thread_id}", metadata=OK,  # the probed thread: its sample
         # ttl {"probe": "x"} is no valid TTL, so it could not set one were it accepted
         ttl=refused("a thread holds a request's record: it is not deleted on a timer")),
    **on("GET", "/threads/{thread_id}/state", subgraphs=OK),
    **on("POST", "/threads/{thread_id}/state", values=SHUT, checkpoint=SHUT, as_node=SHUT),
    **on("GET", "/threads/{thread_id}/state/{checkpoint_id}", subgraphs=OK),
    **on("POST", "/threads/{thread_id}/state/checkpoint", checkpoint=OK, subgraphs=OK),
    **on("GET", "/threads/{thread_id}/history", limit=OK, before=OK),
    **on("POST", "/threads/{thread_id}/history", limit=OK, metadata=OK, checkpoint=OK,
         before=refused("the spec's CheckpointConfig shape fails inside langgraph-api (500: "
                        "it reads a config, KeyError 'configurable'): the door accepts "
                        "{configurable: {...}} or a checkpoint id, and refuses the rest")),
    **on("GET", "/threads/{thread_id}/stream", stream_modes=OK),
    **on("POST", "/threads/{thread_id}/stream/events",
         channels=SHUT, namespaces=SHUT, depth=SHUT, since=SHUT),
    **on("POST", "/threads/{thread_id}/commands", id=SHUT, method=SHUT, params=SHUT),
    # Runs on a thread
    **on("GET", "/threads/{thread_id}/runs", limit=OK, offset=OK, status=OK, select=OK),
    **on("POST", "/threads/{thread_id}/runs", **RUN),
    **on("POST", "/threads/{thread_id}/runs/stream", **RUN, on_disconnect=OK),
    **on("POST", "/threads/{thread_id}/runs/wait", **RUN, on_disconnect=OK),
    **on("GET", "/threads/{thread_id}/runs/{run_id}/join",
         cancel_on_disconnect=refused("a reader never cancels the run it watches")),
    **on("GET", "/threads/{thread_id}/runs/{run_id}/stream", stream_mode=OK,
         cancel_on_disconnect=refused("a reader never cancels the run it watches")),
    **on("POST", "/threads/{thread_id}/runs/{run_id}/cancel",  # the scratch run (finished):
         wait=OK,  # a rollback, were it accepted, would reach the scratch thread only
         action=refused("rollback deletes the run and its checkpoints, which hold decisions")),
    **on("POST", "/runs/cancel",  # the scratch run (finished): 404, bob 403 (not his run)
         thread_id=accepted("a thread that does not exist: 404 for all", others=404),
         run_ids=accepted("a run that does not exist: 404 for all", others=404),
         status=refused("a bulk cancel is an admin's; with thread_id and run_ids it is "
                        "malformed, for the admin too (422)", erin=422),
         action=refused("rollback deletes the run and its checkpoints, which hold decisions")),
    # Closed: stateless runs, crons, the store
    **on("POST", "/runs", **STATELESS),
    **on("POST", "/runs/wait", **STATELESS, on_disconnect=SHUT),
    **on("POST", "/runs/stream", **STATELESS, on_disconnect=SHUT),
    **on("POST", "/runs/batch", **STATELESS),
    **on("POST", "/threads/{thread_id}/runs/crons",
         **{k: v for k, v in CRON.items() if k != "on_run_completed"}),
    **on("POST", "/runs/crons", **{k: v for k, v in CRON.items() if k != "multitask_strategy"}),
    **on("PATCH", "/runs/crons/{cron_id}",
         **{k: v for k, v in CRON.items() if k not in ("assistant_id", "multitask_strategy")}),
    **on("POST", "/runs/crons/search", assistant_id=SHUT, thread_id=SHUT, enabled=SHUT,
         metadata=SHUT, limit=SHUT, offset=SHUT, sort_by=SHUT, sort_order=SHUT, select=SHUT),
    **on("POST", "/runs/crons/count", assistant_id=SHUT, thread_id=SHUT, metadata=SHUT),
    **on("PUT", "/store/items", namespace=SHUT, key=SHUT, value=SHUT, index=SHUT, ttl=SHUT),
    **on("GET", "/store/items", namespace=SHUT, key=SHUT, refresh_ttl=SHUT),
    **on("DELETE", "/store/items", namespace=SHUT, key=SHUT),
    **on("POST", "/store/items/search", namespace_prefix=SHUT, filter=SHUT, limit=SHUT,
         offset=SHUT, query=SHUT, refresh_ttl=SHUT),
    **on("POST", "/store/namespaces", prefix=SHUT, suffix=SHUT, max_depth=SHUT, limit=SHUT,
         offset=SHUT),
}
# fmt: on


@dataclass(frozen=True)
class Field:
    """One request-body property or query parameter of a served route."""

    method: str
    path: str
    name: str
    where: str
    """``body`` or ``query``."""
    schema: dict[str, Any]

    @property
    def route(self) -> tuple[str, str]:
        return self.method, self.path

    @property
    def key(self) -> tuple[str, str, str]:
        return self.method, self.path, self.name

    @property
    def label(self) -> str:
        return f"{'body field' if self.where == 'body' else 'query parameter'} '{self.name}'"


class Spec:
    """The served ``/openapi.json``: its routes' fields, ``$ref`` resolved."""

    VERBS = ("get", "post", "put", "patch", "delete")

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        self.schemas = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: Any) -> dict[str, Any]:
        seen = 0
        while isinstance(schema, dict) and "$ref" in schema and seen < 20:
            rest = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**self.schemas.get(schema["$ref"].rsplit("/", 1)[-1], {}), **rest}
            seen += 1
        return schema if isinstance(schema, dict) else {}

    def properties(self, schema: Any) -> dict[str, Any]:
        """A body's properties: alternatives merged, an array body's items'."""
        schema = self.resolve(schema)
        if schema.get("type") == "array" and "items" in schema:
            return self.properties(schema["items"])
        found: dict[str, Any] = {}
        for key in ("allOf", "anyOf", "oneOf"):
            for alternative in schema.get(key, []):
                found.update(self.properties(alternative))
        found.update(schema.get("properties", {}))
        return found

    def fields(self) -> tuple[list[tuple[str, str]], list[Field]]:
        routes, fields = [], []
        for path, operations in self.document.get("paths", {}).items():
            for method, operation in operations.items():
                if method not in self.VERBS:
                    continue
                routes.append((method.upper(), path))
                content = (operation.get("requestBody") or {}).get("content") or {}
                body = (content.get("application/json") or {}).get("schema")
                for name, schema in self.properties(body).items():
                    fields.append(Field(method.upper(), path, name, "body", schema))
                for parameter in map(self.resolve, operation.get("parameters") or []):
                    if parameter.get("in") == "query":
                        fields.append(
                            Field(
                                method.upper(),
                                path,
                                parameter["name"],
                                "query",
                                parameter.get("schema") or {},
                            )
                        )
        return routes, fields

    def sample(self, schema: Any) -> Any:
        """A non-default value of a schema (a fresh uuid for each ``format: uuid``)."""
        schema = self.resolve(schema)
        default = schema.get("default")
        for key in ("anyOf", "oneOf"):
            alternatives = [self.resolve(a) for a in schema.get(key, [])]
            alternatives = [a for a in alternatives if a.get("type") != "null"]
            if alternatives:
                return self.sample({**alternatives[0], "default": default})
        if "allOf" in schema:
            merged: dict[str, Any] = {}
            for part in map(self.resolve, schema["allOf"]):
                merged.update(part)
            return self.sample({**merged, "default": default})
        if "enum" in schema:
            return next((v for v in schema["enum"] if v != default), schema["enum"][0])
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), None)
        if kind is None:
            kind = "object" if "properties" in schema else "string"
        if kind == "boolean":
            return not default
        if kind in ("integer", "number"):
            return max(schema.get("minimum", 0), 3 if default == 2 else 2)
        if kind == "string":
            return {
                "uuid": lambda: str(uuid.uuid4()),
                "date-time": lambda: "2030-01-01T00:00:00Z",
                "uri": lambda: "https://example.invalid/probe",
                "uri-reference": lambda: "https://example.invalid/probe",
            }.get(schema.get("format", ""), lambda: "probe")()
        if kind == "array":
            return [self.sample(schema.get("items") or {"type": "string"})]
        return {"probe": "x"}


def in_query(value: Any) -> Any:
    """A value as a query string carries it (lists: one parameter per item)."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return [in_query(v) for v in value]
    if isinstance(value, dict):
        return json.dumps(value)
    return str(value)


def with_field(f: Field, verdict: Verdict, spec: Spec, p: Probe) -> tuple[Any, dict, dict]:
    """The route's base request with the field set: ``(value, path values, options)``."""
    values, options = request_for(f.method, f.path, p)
    options = dict(options)
    value = verdict.value(p) if verdict.value else spec.sample(f.schema)
    extra = verdict.extra(p) if verdict.extra else {}
    if f.where == "query":
        options["params"] = {
            **(options.get("params") or {}),
            **{k: in_query(v) for k, v in extra.items()},
            f.name: in_query(value),
        }
    elif isinstance(options.get("json"), list):
        options["json"] = [{**item, **extra, f.name: value} for item in options["json"]]
    else:
        options["json"] = {**(options.get("json") or {}), **extra, f.name: value}
    return value, values, options


def detail(outcome: Outcome) -> str:
    if isinstance(outcome.body, dict) and isinstance(outcome.body.get("detail"), str):
        return outcome.body["detail"]
    return outcome.snippet


ROUTE_REFUSAL = re.compile(r" is not allowed for \w+: |is not part of this server's API")
FIELD_REFUSAL = re.compile(r"(body field|query parameter) '(\w+)'")


def may_call(baseline: Outcome) -> bool:
    """Whether the door lets this caller use the route at all (judged from the baseline)."""
    if baseline.status == 401:
        return False
    return not (baseline.status in (403, 404) and ROUTE_REFUSAL.search(detail(baseline)))


def expected(verdict: Verdict, who: str, baseline: Outcome) -> Statuses:
    if who in verdict.outcome:
        return verdict.outcome[who]
    if who != ANON and "others" in verdict.outcome:
        return verdict.outcome["others"]
    if verdict.kind == REFUSED and may_call(baseline):
        return 403
    return baseline.status


def judge(f: Field, verdict: Verdict, who: str, answer: Outcome, baseline: Outcome) -> str | None:
    """Why this answer is not what the verdict says (None: it is)."""
    want = expected(verdict, who, baseline)
    if not matches(answer.status, want):
        return f"expected {shown(want)}, got {answer.status}"
    names_it = answer.status == 403 and f.label in detail(answer)
    if verdict.kind == REFUSED and want == 403 and may_call(baseline) and not names_it:
        return f"expected the door's refusal of the {f.label}, got another 403"
    if verdict.kind != REFUSED and names_it:
        return f"the door refuses the {f.label}"
    return None


SUCCESS = frozenset({200, 201, 202, 204})


@dataclass
class Sweep:
    """Every answer of one run of the test, and what it found."""

    spec: Spec
    probe: Probe
    sent: int = 0
    mismatches: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    base_refused: list[str] = field(default_factory=list)
    open_routes: list[str] = field(default_factory=list)
    created_assistants: list[str] = field(default_factory=list)

    @property
    def known_threads(self) -> set[str | None]:
        """The probe's own threads (``if_exists=do_nothing`` returns one): not to clean up."""
        p = self.probe
        return {None, p.thread_id, p.scratch_thread_id, p.prune_thread_id}

    def route(
        self,
        send_as: Callable[..., Outcome],
        base: str,
        route: tuple[str, str],
        fields: list[Field],
        pool: ThreadPoolExecutor,
    ) -> None:
        """Send each field as every caller (together), then the baselines (one by one, in
        order: a destructive base request acts once, last, the owner after the admin)."""
        method, path = route
        answers: dict[tuple[str, str], tuple[Any, Outcome]] = {}
        for f in fields:
            verdict = FIELDS.get(f.key, OK)
            jobs = {}
            for who in CALLERS:
                value, values, options = with_field(f, verdict, self.spec, self.probe)
                jobs[who] = value, pool.submit(send_as, who, base, method, path, values, options)
            for who, (value, job) in jobs.items():
                answers[(f.name, who)] = value, job.result()
        values, options = request_for(method, path, self.probe)
        baselines = {who: send_as(who, base, method, path, values, options) for who in CALLERS}
        self.sent += len(answers) + len(baselines)
        for who, outcome in baselines.items():
            self.check_baseline(route, who, outcome)
        for f in fields:
            self.check_field(f, {who: answers[(f.name, who)] for who in CALLERS}, baselines)

    def check_baseline(self, route: tuple[str, str], who: str, outcome: Outcome) -> None:
        method, path = route
        if DUMP:
            print(
                f"{method:6} {path:48} {'(base)':18} {who:10} {outcome.status!s:5} "
                f"{outcome.snippet[:110]}"
            )
        if outcome.status == 403 and (found := FIELD_REFUSAL.search(detail(outcome))):
            self.base_refused.append(
                f"{method} {path} as {who}: the door refuses the base "
                f"request's {found.group(0)} -- {detail(outcome)[:160]}"
            )
        if isinstance(outcome.status, int) and outcome.status >= 500:
            self.errors.append(
                f"{method} {path} (base request) as {who}: {outcome.status} -- "
                f"{outcome.snippet[:160]}"
            )

    def check_field(
        self, f: Field, answers: dict[str, tuple[Any, Outcome]], baselines: dict[str, Outcome]
    ) -> None:
        verdict = FIELDS.get(f.key, OK)
        if verdict.kind == CLOSED:
            if opened := [w for w, o in baselines.items() if matches(o.status, SUCCESS)]:
                self.open_routes.append(
                    f"{f.method} {f.path}: its fields are CLOSED but the "
                    f"route answers {', '.join(opened)}"
                )
        for who, (value, outcome) in answers.items():
            shown_value = json.dumps(value)[:40]
            if DUMP:
                print(
                    f"{f.method:6} {f.path:48} {f.name[:18]:18} {who:10} "
                    f"{outcome.status!s:5} {shown_value:24} {outcome.snippet[:90]}"
                )
            if isinstance(outcome.body, dict):
                thread_id = outcome.body.get("thread_id")
                if f.route == ("POST", "/threads") and thread_id not in self.known_threads:
                    self.probe.created_threads.append((who, thread_id))
                if f.route == ("POST", "/assistants") and outcome.body.get("assistant_id"):
                    self.created_assistants.append(outcome.body["assistant_id"])
            line = f"{f.method} {f.path} {f.label}={shown_value} as {who}"
            baseline = baselines[who]
            if (
                isinstance(outcome.status, int)
                and outcome.status >= 500
                and not matches(outcome.status, expected(verdict, who, baseline))
            ):
                self.errors.append(f"{line}: {outcome.status} -- {outcome.snippet[:160]}")
            if f.key in FIELDS and (why := judge(f, verdict, who, outcome, baseline)):
                note = f"{verdict.kind}: {verdict.why}" if verdict.why else verdict.kind
                self.mismatches.append(
                    f"{line} [{note}]: {why} (baseline {baseline.status}) "
                    f"-- {outcome.snippet[:160]}"
                )


def test_every_field_answers_as_the_table_says(server, probe, sdk_as, request):  # noqa: F811
    started = time.monotonic()
    with httpx.Client(timeout=10) as client:
        spec = Spec(client.get(f"{server.url}/openapi.json").raise_for_status().json())
    routes, served = spec.fields()
    unclassified = [f for f in served if f.key not in FIELDS]
    by_route: dict[tuple[str, str], list[Field]] = {}
    for f in served:
        if f.key in FIELDS or DUMP == "all":
            by_route.setdefault(f.route, []).append(f)
    sweep = Sweep(spec, probe)

    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(len(CALLERS)) as pool:

        def send_as(who: str, base: str, method: str, path: str, values, options) -> Outcome:
            return send(client, base, method, path, values, options, TOKENS.get(who))

        # Deletes last: the scratch objects other routes use still exist until then.
        for route in sorted(by_route, key=lambda r: r[0] == "DELETE"):
            sandboxed = route[1].startswith(SANDBOXED)  # started only if ever needed
            base = request.getfixturevalue("sandbox")().url if sandboxed else server.url
            sweep.route(send_as, base, route, by_route[route], pool)
    print(
        f"\n{len(by_route)} routes with fields ({len(routes)} routes in /openapi.json), "
        f"{len(served)} fields, {sweep.sent} requests, {time.monotonic() - started:.1f}s"
    )

    erin = sdk_as("erin")
    for assistant_id in set(sweep.created_assistants) - {probe.new_assistant_id}:
        try:
            erin.assistants.delete(assistant_id)
        except Exception:  # noqa: BLE001 - already gone
            pass
    # The probed expense is exactly as it was: alice's, waiting for a manager.
    thread = sdk_as("alice").threads.get(probe.thread_id)
    state = [
        thread["status"],
        (thread.get("values") or {}).get("status"),
        thread["metadata"].get("owner"),
        thread["metadata"].get("waiting_for"),
    ]

    problems = []
    if not served:
        problems.append(
            "the served /openapi.json describes no request body and no query "
            "parameter of any route: nothing was tested (does server.openapi "
            "publish the description?)"
        )
    if unclassified:
        problems.append(
            f"fields in /openapi.json that FIELDS does not classify "
            f"({'sent: API_FIELDS_DUMP=all' if DUMP == 'all' else 'not sent'}); decide what "
            "each does, then add it to FIELDS:\n  "
            + "\n  ".join(f"{f.method} {f.path} {f.label}" for f in unclassified)
        )
    for title, lines in (
        ("answers differ from FIELDS", sweep.mismatches),
        ("server errors", sweep.errors),
        (
            "base requests (request_for) the door refuses: the route's fields are hidden "
            "behind that refusal",
            sweep.base_refused,
        ),
        ("routes no longer closed", sweep.open_routes),
    ):
        if lines:
            problems.append(f"{len(lines)} {title}:\n  " + "\n  ".join(lines))
    if state != ["interrupted", "pending", "alice", "manager"]:
        problems.append(
            f"the sweep changed the probed expense (status, values.status, owner, "
            f"waiting_for): {state}"
        )
    if problems and served and (stale := sorted(set(FIELDS) - {f.key for f in served})):
        problems.append(
            "(FIELDS entries no longer served: " + ", ".join(" ".join(k) for k in stale) + ")"
        )
    assert not problems, "\n\n".join(problems)
