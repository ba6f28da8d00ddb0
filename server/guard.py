"""The rules a run request must pass, whatever API call carries it (``server.auth`` calls these).

The promise: nothing is approved or paid unless the people the policy names
decided it through the pause. Every LangGraph Server route that can start a run
(``/runs``, ``/runs/wait``, ``/runs/stream``, RemoteGraph, the JS SDK, Studio)
ends in one ``threads.create_run`` event, checked here against the thread as it
is now, before anything is stored:

- **A run carries only what is named.** ``check_shape`` is an allowlist of the
  event's fields (``RUN_FIELDS``, ``RUN_KWARGS``), of ``config`` keys, of
  ``command`` keys and of the ``context`` / ``config.configurable`` keys a client
  sent (``thread_id`` and ``checkpoint_ns`` only); anything else is refused, so a
  field a new server version adds is refused until it is classified here.
- **Policy is the deployment's.** Thresholds, levels, limits, roles, deadlines and
  test hooks come from the assistant, which only an admin configures
  (``check_policy`` validates it against the workflow's ``Context``). No run, from
  anyone, admins included, carries policy.
- **Nothing steers a run.** No ``command.update`` / ``goto`` / ``graph``, no start
  from an earlier checkpoint, no ``interrupt_before`` / ``after``, no webhook, no
  multitask strategy that cancels the run in progress.
- **A request is submitted once, and is only the request.** Input goes only to a
  new thread (the assistant, a conversation, also takes it while idle); it must be
  exactly the workflow's ``Request`` model, so no client writes a state channel
  the workflow owns; a thread keeps its graph.
- **An answer is a resume, by whom the pause waits for.** It must address pending
  pauses (by id when several wait), be given by the role or user each names, and
  not approve the answerer's own request. The answerer's identity is written into
  the answer, so runs the server replays later (crash recovery) record the person
  who answered.
- **Sizes** are checked before anything is written.

Refusals name the rule: 403 for what this user may not do, 409 for what the
thread's state rules out, 413/422 for input too large or malformed.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import importlib.util
import json
import os
import re
import sys
from collections.abc import Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from langgraph_sdk import Auth
from pydantic import BaseModel, TypeAdapter, ValidationError

from graphs.common.access import why_not_answerable
from graphs.common.audit import trail
from graphs.common.decisions import APPROVING, decision_word, native_answer, schema_error
from graphs.common.fields import SERVER_CHANNELS, describe_error
from graphs.common.pauses import is_overdue
from server.allowlist import Check, anything, empty, one_of, unset
from server.internal import ANSWER_CHANNEL
from server.threads import pending_pauses

MAX_TEXT = 4_000
"""Characters of any one string a client sends (input, answers, metadata)."""
MAX_ITEMS = 1_000
"""Entries of any one list or object a client sends."""
MAX_DEPTH = 12
MAX_BODY = 256 * 1024
"""Bytes of one request body (``server.app`` checks it before the body is read)."""


@functools.cache
def graph_paths() -> dict[str, str]:
    """Where each served graph is defined (``path.py:variable`` or ``module:variable``).

    ``LANGSERVE_GRAPHS`` is what ``langgraph dev`` and the server image serve; the
    project's ``langgraph.json`` is the fallback.
    """
    raw = os.environ.get("LANGSERVE_GRAPHS")
    graphs = json.loads(raw) if raw else json.loads(LANGGRAPH_JSON.read_text())["graphs"]
    return {k: v["path"] if isinstance(v, dict) else v for k, v in graphs.items()}


LANGGRAPH_JSON = Path(__file__).resolve().parent.parent / "langgraph.json"


@functools.cache
def workflow_module(graph_id: str) -> ModuleType | None:
    """The module that defines a served graph (None: not served here).

    Adding a workflow needs nothing here: its module's ``Request`` and ``Context``
    are found through the graph's path.
    """
    source = graph_paths().get(graph_id)
    if not source:
        return None
    where = source.rpartition(":")[0]
    if where.endswith(".py"):
        spec = importlib.util.spec_from_file_location(f"hitl_requests.{graph_id}", where)
        if spec is None or spec.loader is None:
            return None
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    return importlib.import_module(where)


def input_model(graph_id: str) -> type[BaseModel] | None:
    """A workflow's request model: the ``Request`` its module exports (None: no check here).

    Applied at the door so that refused input is never stored.
    """
    return getattr(workflow_module(graph_id), "Request", None)


def check_policy(graph_id: str, context: Any, configurable: Any) -> None:
    """Refuse (422) an assistant configuration its workflow's ``Context`` would not run with.

    Unknown keys are refused as well as invalid values: a misspelt threshold would
    otherwise leave the default in force without anyone noticing.
    """
    schema = getattr(workflow_module(graph_id), "Context", None)
    if schema is None:
        raise deny(
            422,
            f"unknown graph {graph_id!r}: this server serves {', '.join(sorted(graph_paths()))}",
        )
    if policy := sorted(set(configurable or {}) - CLIENT_CONFIGURABLE):
        raise deny(
            422,
            f"config.configurable.{policy[0]}: a {graph_id} assistant's policy goes in its context",
        )
    if not isinstance(context or {}, dict):
        raise deny(422, f"a {graph_id} assistant's context must be an object")
    names = [f.name for f in dataclasses.fields(schema)]
    if unknown := sorted(set(context or {}) - set(names)):
        raise deny(
            422,
            f"invalid {graph_id} context: unknown key {unknown[0]!r} (known: {', '.join(names)})",
        )
    try:
        TypeAdapter(schema).validate_python(context or {})
    except ValidationError as exc:
        raise deny(422, f"invalid {graph_id} context: {describe_error(exc)}") from None


CONVERSATIONS = {"assistant"}
"""Graphs whose threads take new input after their first run (while idle)."""

INTERRUPT_ID = re.compile(r"[0-9a-f]{32}")


def deny(status: int, detail: str) -> Auth.exceptions.HTTPException:
    """The HTTP error that denies a request, its detail naming the rule it broke."""
    return Auth.exceptions.HTTPException(status_code=status, detail=detail)


def check_size(value: Any, where: str, depth: int = 0) -> None:
    """Refuse (413) a value with an over-long string, an over-long list or too deep a nesting.

    Raises:
        Auth.exceptions.HTTPException: 413, naming the offending field.
    """
    if depth > MAX_DEPTH:
        raise deny(413, f"{where}: nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, str):
        if len(value) > MAX_TEXT:
            raise deny(413, f"{where}: {len(value):,} characters, at most {MAX_TEXT:,}")
    elif isinstance(value, dict | list):
        if len(value) > MAX_ITEMS:
            raise deny(413, f"{where}: {len(value):,} entries, at most {MAX_ITEMS:,}")
        items = value.items() if isinstance(value, dict) else enumerate(value)
        for key, item in items:
            check_size(
                item, f"{where}.{key}" if isinstance(value, dict) else f"{where}[{key}]", depth + 1
            )


STEER = "workflows pause where their policy says"
FORK = (
    "runs start from the thread's latest checkpoint: replays and forks from an earlier "
    "checkpoint are not allowed"
)
RUN_FIELDS: dict[str, Check] = {
    **dict.fromkeys(
        ("thread_id", "assistant_id", "run_id", "status", "metadata", "prevent_insert_if_inflight"),
        anything,
    ),
    "multitask_strategy": one_of("reject", "enqueue"),
    "if_not_exists": one_of("reject", "create"),
    "after_seconds": unset("runs start when they are sent"),
    "kwargs": anything,  # RUN_KWARGS
}
"""What a ``threads.create_run`` event may carry, whatever route or client sent it."""
RUN_KWARGS: dict[str, Check] = {
    **dict.fromkeys(("input", "command", "config", "stream_mode"), anything),  # judged below
    **dict.fromkeys(("subgraphs", "resumable", "checkpoint_during"), anything),
    "context": anything,  # a copy of config.configurable when not sent: judged with it
    "interrupt_before": unset(STEER),
    "interrupt_after": unset(STEER),
    "webhook": unset("run webhooks are not available (notifications: HITL_WEBHOOK_URL)"),
    "feedback_keys": unset("feedback is not collected here"),
    "temporary": unset("a run's thread is kept: it holds the request's record"),
    "durability": one_of(None, "async", "sync"),
}
CONFIG_KEYS = {"configurable", "metadata", "tags", "run_name", "recursion_limit"}
CLIENT_CONFIGURABLE = {"thread_id", "checkpoint_ns"}
"""The only ``config.configurable`` (or ``context``) keys a client may send: what
``RemoteGraph`` sends, and what the server overrides anyway. Anything else is either
policy (the deployment's) or LangGraph's own machinery (``__pregel_resume_map``
would hand ``interrupt()`` an answer no check has seen)."""
COMMAND_KEYS = {"resume", "update", "goto", "graph"}


def check_shape(value: Mapping[str, Any]) -> None:
    """Refuse (403) a run request carrying anything :data:`RUN_FIELDS` does not name.

    An allowlist: a field that a new langgraph-api version adds is refused until it
    is classified here. A denial names the field and the rule.
    """
    kwargs = value.get("kwargs") or {}
    for given, allowed in ((value, RUN_FIELDS), (kwargs, RUN_KWARGS)):
        for key, item in given.items():
            rule = allowed.get(key)
            if rule is None:
                if empty(item):
                    continue  # a field the server fills with nothing carries nothing
                raise deny(403, f"{key} is not accepted on a run")
            if error := rule(item, ""):
                raise deny(403, f"{key}: {error}")
    config = kwargs.get("config") or {}
    for key in sorted(set(config) - CONFIG_KEYS):
        if not empty(config[key]):
            raise deny(
                403,
                f"config.{key} is not accepted on a run "
                f"(accepted: {', '.join(sorted(CONFIG_KEYS))})",
            )
    limit = config.get("recursion_limit")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise deny(403, f"config.recursion_limit must be a positive integer, not {limit!r}")
    # ``context`` is exactly what the client sent (as context, or as config.configurable,
    # which the server copies into it before adding its own keys): an allowlist of its keys.
    for key, item in (kwargs.get("context") or {}).items():
        if key in ("checkpoint_id", "checkpoint_map"):
            if not empty(item):
                raise deny(403, FORK)
        elif key not in CLIENT_CONFIGURABLE:
            raise deny(
                403,
                f"{key!r} in context or config.configurable is not accepted: "
                "approval rules belong to the deployment, for everyone: pick an "
                "assistant (admins configure them)",
            )
    configurable = config.get("configurable") or {}
    if any(not empty(configurable.get(k)) for k in ("checkpoint_id", "checkpoint_map")):
        raise deny(403, FORK)  # from the body's `checkpoint`
    command = kwargs.get("command") or {}
    if not isinstance(command, dict):
        raise deny(422, "command must be an object")
    for key, item in command.items():
        if key not in COMMAND_KEYS or (key != "resume" and not empty(item)):
            raise deny(403, f"command.{key} is not allowed: an answer carries command.resume only")


def check_input(graph_id: str, value: Any, identity: str) -> None:
    """Refuse (422) input that is not exactly the workflow's request, before it is stored.

    The workflow's ``Request`` model names every key a client may send (the graph's
    own state, such as ``status``, ``audit`` or ``settings``, is never among them).
    A graph whose module declares no ``Request`` takes no input.
    """
    model = input_model(graph_id)
    if model is None:
        raise deny(422, f"{graph_id} takes no input: its module declares no Request model")
    if not isinstance(value, dict):
        raise deny(422, f"invalid {graph_id} input: expected a JSON object")
    fields = dict(value)
    if "requester" in model.model_fields:
        if (given := fields.get("requester")) not in (None, identity):
            raise deny(
                422,
                f"invalid {graph_id} input: requester is always the signed-in "
                f"user ({identity}), not {given!r}: leave it out",
            )
        fields["requester"] = identity
    if unknown := sorted(set(fields) - set(model.model_fields)):
        accepted = ", ".join(k for k in model.model_fields if k != "requester")
        raise deny(
            422,
            f"invalid {graph_id} input: {unknown[0]!r} is not part of a "
            f"{graph_id} request (accepted: {accepted})",
        )
    try:
        model.model_validate(fields)
    except ValidationError as exc:
        raise deny(422, f"invalid {graph_id} input: {describe_error(exc)}") from None


def last_decision(thread: Mapping[str, Any]) -> str:
    """Who decided last on a thread, and when (for a stale answer's denial)."""
    decisions = trail(thread.get("values"))
    if not decisions:
        return ""
    last = decisions[-1]
    return f" (last decision: {last.get('decision')} by {last.get('approver')} at {last.get('at')})"


def answer_targets(
    thread: Mapping[str, Any], resume: Any
) -> list[tuple[dict[str, Any], str | None]]:
    """Match a resume to the pending pauses it answers: ``(pause, key in the resume map)``.

    The key is None for a bare answer (no map).

    Raises:
        Auth.exceptions.HTTPException: 409 when nothing it names is pending, or when
            several pauses wait and the answer does not say which.
    """
    pending = {pause["id"]: pause for pause in pending_pauses(thread)}
    thread_id = thread["thread_id"]
    if thread.get("status") == "busy":
        raise deny(
            409,
            f"thread {thread_id} is busy: another answer is being applied right "
            "now; this answer was not applied (look again in a moment)",
        )
    if thread.get("status") != "interrupted" or not pending:
        raise deny(
            409,
            f"stale answer: thread {thread_id} is {thread.get('status')} and "
            f"waits for no one; nothing was applied{last_decision(thread)}",
        )
    if isinstance(resume, dict) and resume and all(INTERRUPT_ID.fullmatch(str(k)) for k in resume):
        stale = [k for k in resume if k not in pending]
        if stale:
            raise deny(
                409,
                f"stale answer: pause {stale[0]} on thread {thread_id} is no longer "
                f"pending; nothing was applied{last_decision(thread)}",
            )
        return [(pending[k], k) for k in resume]
    if len(pending) > 1:
        raise deny(
            409,
            f"thread {thread_id} has {len(pending)} pending pauses: answer one by "
            f"its id ({', '.join(pending)}); nothing was applied",
        )
    return [(next(iter(pending.values())), None)]


def channel_of(command: dict[str, Any], key: str | None) -> str:
    """Where an answer came from, for its audit entry.

    The server's own routes say so (:data:`~server.internal.ANSWER_CHANNEL`); Agent
    Inbox's answers are known by their format; a client may say ``cli`` or ``api``
    (the default), never one of the server's channels.

    Raises:
        Auth.exceptions.HTTPException: 403, a client claiming a server channel.
    """
    if channel := ANSWER_CHANNEL.get():
        return channel
    raw = command["resume"][key] if key else command["resume"]
    if isinstance(raw, list):
        return "agent-inbox"
    claimed = raw.get("channel") if isinstance(raw, dict) else None
    if claimed in SERVER_CHANNELS:
        raise deny(403, f"channel {claimed!r} is recorded by the server only; nothing was applied")
    return claimed or "api"


def check_answer(
    thread: Mapping[str, Any], command: dict[str, Any], identity: str, role: str
) -> None:
    """Refuse an answer this user may not give; store it in the pause's own format, signed.

    Agent Inbox's answers (a list of one HumanResponse) become the pause's own
    answer, and workflow answers get the answerer's identity as ``approver``: both
    are written into ``command`` in place, which is the value the server stores.

    Raises:
        Auth.exceptions.HTTPException: 409 (stale, ambiguous), 403 (not theirs to
            give) or 422 (an Agent Inbox answer the pause does not offer).
    """
    for pause, key in answer_targets(thread, command["resume"]):
        given = pause.get("value")
        value: dict[str, Any] = given if isinstance(given, dict) else {}
        if is_overdue(value.get("due_at")):
            raise deny(
                409,
                f"expired at {value['due_at']}: your answer was not applied; "
                "the workflow applies its expiry policy",
            )
        answer = command["resume"][key] if key else command["resume"]
        try:
            answer = native_answer(answer, value)
        except ValueError as exc:
            raise deny(422, f"{exc}; nothing was applied") from None
        if error := schema_error(pause.get("response_schema"), answer):
            raise deny(422, f"invalid answer: {error}; nothing was applied")
        if error := why_not_answerable(value, identity, role, decision_word(answer) in APPROVING):
            raise deny(403, f"{error}; nothing was applied")
        if isinstance(answer, dict) and "decision" in answer:
            claimed = answer.get("approver")
            if claimed not in (None, identity):
                raise deny(403, f"approver {claimed!r} is not you ({identity})")
            answer = {**answer, "approver": identity, "channel": channel_of(command, key)}
        if key:
            command["resume"][key] = answer
        else:
            command["resume"] = answer


def check_run(
    value: Mapping[str, Any],
    thread: Mapping[str, Any] | None,
    graph_id: str,
    identity: str,
    role: str,
) -> None:
    """Apply every rule to one run request (``thread`` is None for a thread the run creates).

    Raises:
        Auth.exceptions.HTTPException: The rule that refuses it.
    """
    kwargs = value.get("kwargs") or {}
    if value.get("thread_id") is None:
        raise deny(
            403,
            "stateless runs are not available: create a thread (or pass a "
            "thread id with if_not_exists=create) so the run has an owner",
        )
    check_shape(value)
    for key in ("input", "command"):
        check_size(kwargs.get(key), key)
    if thread is not None:
        check_graph(thread, graph_id)
    command = kwargs.get("command") or {}
    resume = command.get("resume")
    if resume is not None:
        if thread is None:
            raise deny(404, f"thread {value['thread_id']} not found: nothing to answer")
        check_answer(thread, command, identity, role)
        return
    if kwargs.get("input") is None:
        return  # a run with nothing new: continue from the latest checkpoint (owner only)
    if thread is not None and thread.get("values"):
        thread_graph = (thread.get("metadata") or {}).get("graph_id")
        if graph_id not in CONVERSATIONS or thread_graph != graph_id:
            raise deny(
                409,
                f"thread {thread['thread_id']} already holds a {thread_graph} "
                "request: submit a new request on a new thread",
            )
        if thread.get("status") == "interrupted":
            raise deny(
                409, f"thread {thread['thread_id']} waits for a tool review: answer it first"
            )
    check_input(graph_id, kwargs["input"], identity)


def check_graph_name(metadata: Any) -> None:
    """Refuse (422) a thread labelled with a graph this server does not serve."""
    graph_id = metadata.get("graph_id") if isinstance(metadata, dict) else None
    if graph_id is not None and graph_id not in graph_paths():
        raise deny(
            422,
            f"unknown graph {graph_id!r}: this server serves {', '.join(sorted(graph_paths()))}",
        )


def check_graph(thread: Mapping[str, Any], graph_id: str) -> None:
    """Refuse (409) a run of one graph on a thread another graph started."""
    thread_graph = (thread.get("metadata") or {}).get("graph_id")
    if thread.get("values") and thread_graph and thread_graph != graph_id:
        raise deny(409, f"thread {thread['thread_id']} runs {thread_graph}, not {graph_id}")
