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
- an explicit outcome per caller, where the value legitimately changes the answer
  (a thread id that does not exist, ``if_exists=do_nothing`` on someone else's
  thread...).

A served (route, field) pair that :data:`FIELDS` does not classify fails the test
and is not sent: nobody knows yet what it does. Any 5xx fails it too.

Safety: the sample never decides anything. Runs on the probed expense carry
``command.update`` from the base request, which the guard refuses for everyone;
answers name a pause id that is not pending; destructive routes act on the
scratch objects; where a sample would be dangerous if accepted, the entry says so.
Each route's baseline is sent after its fields, so a destructive base request
(a prune, a delete) acts once, last. Routes that are destructive and answer
without auth (``/internal/``, ``/deploy``) would go to a private sandbox server.

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
"""No token, then frank, carol, dave, bob, erin and alice (the owner and the admin last)."""
DUMP = os.environ.get("API_FIELDS_DUMP", "")
SANDBOXED = ("/internal/", "/deploy")
"""Destructive routes that answered without auth (``server.app.BLOCKED``): never sent here."""
WORKERS = len(CALLERS)
"""The callers of one (route, field) are sent together; fields and routes one after another."""

ACCEPTED, REFUSED, CLOSED, EXPLICIT = "accepted", "refused", "closed", "explicit"


@dataclass(frozen=True)
class Verdict:
    """What one field does on one route (see the module docstring)."""

    kind: str
    why: str = ""
    value: Callable[[Probe], Any] | None = None
    """The value to send instead of the schema's sample."""
    extra: Callable[[Probe], dict[str, Any]] | None = None
    """Other fields sent with it (same place: body or query)."""
    outcome: Mapping[str, Statuses] = field(default_factory=dict)
    """EXPLICIT: the status per caller (``others``: the signed-in callers not named;
    a caller named nowhere gets their baseline)."""


def accepted(why: str = "", **kw: Any) -> Verdict:
    return Verdict(ACCEPTED, why, **kw)


def refused(why: str = "", **kw: Any) -> Verdict:
    return Verdict(REFUSED, why, **kw)


def closed(why: str = "") -> Verdict:
    return Verdict(CLOSED, why)


def explicit(why: str, value=None, extra=None, **outcome: Statuses) -> Verdict:
    """Statuses per caller: ``anon=``, a user's name, ``others=``."""
    if "anon" in outcome:
        outcome[ANON] = outcome.pop("anon")
    return Verdict(EXPLICIT, why, value, extra, outcome)


def on(method: str, path: str, **fields: Verdict) -> dict[tuple[str, str, str], Verdict]:
    return {(method, path, name): verdict for name, verdict in fields.items()}


OK = accepted()
NO = refused()
SHUT = closed()

# fmt: off
FIELDS: dict[tuple[str, str, str], Verdict] = {
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
                        fields.append(Field(method.upper(), path, parameter["name"], "query",
                                            parameter.get("schema") or {}))  # fmt: skip
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
        options["params"] = {**(options.get("params") or {}),
                             **{k: in_query(v) for k, v in extra.items()},
                             f.name: in_query(value)}  # fmt: skip
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
    if verdict.kind == EXPLICIT:
        if who in verdict.outcome:
            return verdict.outcome[who]
        if who != ANON and "others" in verdict.outcome:
            return verdict.outcome["others"]
        return baseline.status
    if verdict.kind == REFUSED and may_call(baseline):
        return 403
    return baseline.status


def judge(f: Field, verdict: Verdict, who: str, answer: Outcome, baseline: Outcome) -> str | None:
    """Why this answer is not what the verdict says (None: it is)."""
    want = expected(verdict, who, baseline)
    if not matches(answer.status, want):
        return f"expected {shown(want)}, got {answer.status}"
    names_it = f.label in detail(answer) and answer.status == 403
    if verdict.kind == REFUSED and may_call(baseline) and not names_it:
        return f"expected the door's refusal of the {f.label}, got another 403"
    if verdict.kind == ACCEPTED and names_it:
        return f"the door refuses the {f.label}"
    return None


def test_every_field_answers_as_the_table_says(server, probe, sdk_as, request):
    started = time.monotonic()
    with httpx.Client(timeout=10) as client:
        spec = Spec(client.get(f"{server.url}/openapi.json").raise_for_status().json())
    routes, served = spec.fields()
    unclassified = [f for f in served if f.key not in FIELDS]
    sendable = [f for f in served if f.key in FIELDS or DUMP == "all"]
    by_route: dict[tuple[str, str], list[Field]] = {}
    for f in sendable:
        by_route.setdefault(f.route, []).append(f)
    # Deletes last, so the scratch objects other routes use still exist.
    order = sorted(by_route, key=lambda r: r[0] == "DELETE")

    problems: list[str] = []
    if not served:
        problems.append("the served /openapi.json describes no request body and no query "
                        "parameter of any route: nothing to test (is server.openapi.publish "
                        "taking effect?)")  # fmt: skip
    mismatches: list[str] = []
    errors: list[str] = []
    base_refused: list[str] = []
    open_routes: list[str] = []
    created_assistants: list[str] = []
    sent = 0

    def call(base: str, method: str, path: str, values, options, who: str) -> Outcome:
        return send(client, base, method, path, values, options, TOKENS.get(who))

    with httpx.Client(timeout=10) as client, ThreadPoolExecutor(WORKERS) as pool:
        for route in order:
            method, path = route
            base = request.getfixturevalue("sandbox")().url if path.startswith(SANDBOXED) \
                else server.url  # fmt: skip
            answers: dict[tuple[str, str], tuple[Any, Outcome]] = {}
            for f in by_route[route]:
                verdict = FIELDS.get(f.key, OK)
                jobs = {}
                for who in CALLERS:
                    value, values, options = with_field(f, verdict, spec, probe)
                    jobs[who] = (value, pool.submit(call, base, method, path, values, options,
                                                    who))  # fmt: skip
                for who, (value, job) in jobs.items():
                    answers[(f.name, who)] = (value, job.result())
            values, options = request_for(method, path, probe)
            jobs = {who: pool.submit(call, base, method, path, values, options, who)
                    for who in CALLERS}  # fmt: skip
            baselines = {who: job.result() for who, job in jobs.items()}
            sent += len(answers) + len(baselines)

            for who, outcome in baselines.items():
                if DUMP:
                    print(f"{method:6} {path:48} {'(base)':18} {who:10} {outcome.status!s:5} "
                          f"{outcome.snippet[:110]}")  # fmt: skip
                if outcome.status == 403 and (found := FIELD_REFUSAL.search(detail(outcome))):
                    base_refused.append(f"{method} {path} as {who}: the door refuses the base "
                                        f"request's {found.group(0)} -- {detail(outcome)[:160]}")
                if isinstance(outcome.status, int) and outcome.status >= 500:
                    errors.append(f"{method} {path} (base request) as {who}: {outcome.status} -- "
                                  f"{outcome.snippet[:160]}")  # fmt: skip
            for f in by_route[route]:
                verdict = FIELDS.get(f.key, OK)
                if verdict.kind == CLOSED:
                    if opened := [w for w, o in baselines.items() if may_call(o)
                                  and matches(o.status, frozenset({200, 201, 202, 204}))]:
                        open_routes.append(f"{method} {path}: its fields are CLOSED but the route "
                                           f"answers {', '.join(opened)}")  # fmt: skip
                for who in CALLERS:
                    value, outcome = answers[(f.name, who)]
                    shown_value = json.dumps(value)[:40]
                    if DUMP:
                        print(f"{method:6} {path:48} {f.name[:18]:18} {who:10} "
                              f"{outcome.status!s:5} {shown_value:24} {outcome.snippet[:90]}")
                    if route == ("POST", "/threads") and isinstance(outcome.body, dict):
                        if who != ANON and outcome.body.get("thread_id"):
                            probe.created_threads.append((who, outcome.body["thread_id"]))
                    if route == ("POST", "/assistants") and isinstance(outcome.body, dict):
                        if outcome.body.get("assistant_id"):
                            created_assistants.append(outcome.body["assistant_id"])
                    line = f"{method} {path} {f.label}={shown_value} as {who}"
                    if isinstance(outcome.status, int) and outcome.status >= 500:
                        errors.append(f"{line}: {outcome.status} -- {outcome.snippet[:160]}")
                    if f.key in FIELDS and (why := judge(f, verdict, who, outcome,
                                                         baselines[who])):  # fmt: skip
                        mismatches.append(f"{line} [{verdict.kind}{': ' + verdict.why if verdict.why else ''}]: {why} "
                                          f"(baseline {baselines[who].status}) -- "
                                          f"{outcome.snippet[:160]}")  # fmt: skip
    seconds = time.monotonic() - started
    print(f"\n{len(by_route)} routes with fields ({len(routes)} routes in /openapi.json), "
          f"{len(served)} fields, {sent} requests, {seconds:.1f}s")  # fmt: skip

    erin = sdk_as("erin")
    for assistant_id in set(created_assistants) - {probe.new_assistant_id}:
        try:
            erin.assistants.delete(assistant_id)
        except Exception:  # noqa: BLE001 - already gone
            pass
    # The probed expense is exactly as it was: alice's, waiting for a manager.
    thread = sdk_as("alice").threads.get(probe.thread_id)
    state = [thread["status"], (thread.get("values") or {}).get("status"),
             thread["metadata"].get("owner"), thread["metadata"].get("waiting_for")]  # fmt: skip

    if unclassified:
        problems.append(
            "fields in /openapi.json that FIELDS does not classify"
            f"{' (sent: API_FIELDS_DUMP=all)' if DUMP == 'all' else ' (not sent)'}; decide "
            "what each does, then add it to FIELDS:\n  "
            + "\n  ".join(f"{f.method} {f.path} {f.label}" for f in unclassified)
        )
    for title, lines in (
        ("answers differ from FIELDS", mismatches),
        ("server errors", errors),
        ("base requests (request_for) the door refuses: every field of the route is "
         "hidden behind that refusal", base_refused),
        ("routes no longer closed", open_routes),
    ):  # fmt: skip
        if lines:
            problems.append(f"{len(lines)} {title}:\n  " + "\n  ".join(lines))
    if state != ["interrupted", "pending", "alice", "manager"]:
        problems.append(f"the sweep changed the probed expense (status, values.status, owner, "
                        f"waiting_for): {state}")  # fmt: skip
    if problems and (stale := sorted(set(FIELDS) - {f.key for f in served})):
        problems.append("(FIELDS entries no longer served: "
                        + ", ".join(" ".join(k) for k in stale) + ")")  # fmt: skip
    assert not problems, "\n\n".join(problems)
