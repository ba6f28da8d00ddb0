"""Pieces every workflow shares: human answers, audit entries and validation.

A human answer arrives as an arbitrary JSON value through ``Command(resume=...)``.
Nothing here trusts it: every answer is validated with a pydantic model before a
workflow acts on it, and a refused answer becomes a fresh pause that says what was
wrong, so a bad answer never approves anything and never loses the pause.
"""

from __future__ import annotations

import dataclasses
import functools
import operator
import os
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal, NotRequired, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.errors import GraphInterrupt
from langgraph.types import interrupt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from typing_extensions import TypedDict

ModelT = TypeVar("ModelT", bound=BaseModel)
ContextT = TypeVar("ContextT")


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be blank")
    return value


Amount = Annotated[float, Field(gt=0, allow_inf_nan=False, description="A positive amount")]
"""A positive, finite amount of money (a JSON number; strings and booleans are refused)."""

Limit = Annotated[float, Field(ge=0, allow_inf_nan=False)]
"""A finite, non-negative amount limit (a per-run setting)."""

Text = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_not_blank)]
"""A non-blank line of text."""

Note = Annotated[str, Field(max_length=2000, description="Why; shown to the requester")]

Approver = Annotated[
    str | None,
    Field(max_length=200, description="Who decides (must match the signed-in user under auth)"),
]


class StrictModel(BaseModel):
    """A model that refuses unknown keys and type coercion (``"1"`` is not a number)."""

    model_config = ConfigDict(extra="forbid", strict=True)


class ExpenseDecision(StrictModel):
    """A reviewer's answer to a single approve / reject question.

    The seed notebook answers with ``approved`` / ``rejected``; the pause offers
    the option words ``approve`` / ``reject``. Both spellings are accepted.
    """

    decision: Literal["approve", "reject", "approved", "rejected"] = Field(
        description="approve / approved, or reject / rejected"
    )
    note: Note = ""
    approver: Approver = None

    @property
    def approved(self) -> bool:
        """Whether this answer approves."""
        return self.decision in ("approve", "approved")


class AuditEntry(TypedDict):
    """One decision in a workflow's audit trail."""

    step: int
    """1-based approval level the decision was made at."""
    role: str
    decision: str
    approver: str | None
    note: str
    changes: dict[str, Any] | None
    at: str


@functools.cache
def _adapter(cls: type) -> TypeAdapter:
    return TypeAdapter(cls)


@functools.cache
def _response_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def pin_context(context: Any, default: type[ContextT], workflow: str) -> dict[str, Any]:
    """Snapshot a run's context for the state, at submission.

    A resume is a new run with a context of its own (usually the default), and a
    resumed node runs again from its start: rules read from the live context could
    change mid-flight (a lower threshold on resume would skip the pause and drop
    the human's answer). Workflows therefore read their rules from this snapshot.
    """
    raw = dataclasses.asdict(context if context is not None else default())
    try:
        _adapter(default).validate_python(raw)
    except ValidationError as exc:
        raise ValueError(f"invalid {workflow} context: {describe_error(exc)}") from None
    return raw


def pinned(state: dict[str, Any], cls: type[ContextT]) -> ContextT:
    """Return the context pinned at submission."""
    return cls(**state["settings"])


class WorkflowState(TypedDict):
    """State every approval workflow keeps besides its request."""

    review_error: NotRequired[str | None]
    """Why the last answer was refused; shown in the next pause, cleared by a valid one."""

    audit: NotRequired[Annotated[list[AuditEntry], operator.add]]
    """Append-only trail of decisions, the workflow's own (``system``) included."""

    settings: NotRequired[dict]
    """The run's ``Context``, pinned at submission so a resume cannot change the rules."""

    due_at: NotRequired[str]
    """When the open pause expires (UTC); a refused answer does not extend it."""


def data_dir() -> Path:
    """Return the project's data directory (``HITL_DATA_DIR``, default ``./data``), created."""
    path = Path(os.environ.get("HITL_DATA_DIR") or "data").resolve()
    path.mkdir(parents=True, exist_ok=True)
    return path


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def audit_entry(
    step: int,
    role: str,
    decision: str,
    approver: str | None,
    note: str = "",
    changes: dict[str, Any] | None = None,
) -> AuditEntry:
    """Return an audit entry for a decision made now."""
    return AuditEntry(step=step, role=role, decision=decision, approver=approver, note=note,
                      changes=changes, at=utc_now())  # fmt: skip


Listener = Callable[[RunnableConfig, dict[str, Any]], None]
_listeners: list[Listener] = []


def add_listener(listener: Listener) -> None:
    """Be told of every pause and every accepted decision (the server registers one).

    Events: ``{"event": "pause", "waiting_for", "interrupt_id", "payload"}`` when a
    workflow pauses, ``{"event": "decision", "approver"}`` when an answer is accepted.
    Workflows stay free of the server: with no listener (in-process runs) nothing happens.
    """
    _listeners.append(listener)


def _announce(config: RunnableConfig | None, event: dict[str, Any]) -> None:
    for listener in _listeners:
        listener(config or {}, event)


def announce_decision(config: RunnableConfig | None, approver: str | None) -> None:
    """Tell the listeners that ``approver``'s answer was accepted."""
    _announce(config, {"event": "decision", "approver": approver})


def announce_pause(paused: GraphInterrupt, payload: dict[str, Any]) -> None:
    """Tell the listeners that the current step paused with ``payload``.

    ``waiting_for`` is the payload's ``role``, or ``user:<name>`` for a pause that
    only one user (its ``user``) may answer.
    """
    (pause, *_) = paused.args[0]
    waiting_for = addressee(payload)
    _announce(
        get_config(),
        {
            "event": "pause",
            "waiting_for": waiting_for,
            "interrupt_id": pause.id,
            "payload": payload,
        },
    )


def current_user(config: RunnableConfig | None) -> tuple[str, str] | None:
    """Return ``(identity, role)`` of the signed-in user running this step, if any."""
    user = ((config or {}).get("configurable") or {}).get("langgraph_auth_user")
    identity = getattr(user, "identity", None) if user is not None else None
    if not identity:
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
    return (roles or addressees or [None])[0]


def requester_of(payload: Any) -> str | None:
    """Who asked for what a pause decides (``requester``, or ``request.requester``)."""
    if not isinstance(payload, dict):
        return None
    request = payload.get("request") if isinstance(payload.get("request"), dict) else {}
    return payload.get("requester") or request.get("requester")


APPROVING = frozenset({"approve", "approved", "edit", "retry", "accept"})
"""Decision words that let something go ahead (what a requester may not say of their own)."""


def decision_word(answer: Any) -> str | None:
    """The decision an answer makes, whatever its format (``decision``, ``type``, Agent Inbox)."""
    if isinstance(answer, list) and len(answer) == 1:
        answer = answer[0]
    if not isinstance(answer, dict):
        return None
    word = answer.get("decision", answer.get("type"))
    return word if isinstance(word, str) else None


def refusal(payload: Any, identity: str, role: str, approves: bool) -> str | None:
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


def resolve_approver(
    claimed: str | None,
    config: RunnableConfig | None,
    waiting_for: str | None = None,
    requester: str | None = None,
) -> tuple[str | None, str | None]:
    """Decide who made a decision: the authenticated user when there is one.

    Under authentication the caller cannot name someone else, and must be whom the
    pause waits for (``waiting_for``: a role, or ``user:<name>``). Runs the server
    starts itself (crash recovery) have no user: the server wrote the authenticated
    approver into the answer when it accepted it (``server.guard``), so the answer's
    own ``approver`` is recorded, as it is in-process. ``requester``, when given, may
    not decide (segregation of duties). An accepted decision is announced to the
    listeners.

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
            if error := refusal(pause, identity, role, approves=False):
                return None, error
        approver = identity
    if requester is not None and approver == requester:
        return None, f"{approver} requested this and cannot approve it (segregation of duties)"
    announce_decision(config, approver)
    return approver, None


def describe_error(exc: ValidationError) -> str:
    """Turn a pydantic error into one line that names each offending field."""
    parts = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def validate_input(
    model: type[ModelT], state: dict[str, Any], workflow: str, config: RunnableConfig | None = None
) -> ModelT:
    """Validate a workflow's input, failing the run with a message naming the bad field.

    Under authentication the ``requester`` is the signed-in user, whatever the input says.

    Raises:
        ValueError: The input does not fit ``model``.
    """
    fields = {k: state[k] for k in model.model_fields if k in state}
    if (user := current_user(config)) is not None and "requester" in model.model_fields:
        fields["requester"] = user[0]
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(f"invalid {workflow} input: {describe_error(exc)}") from None


EXPIRED = "expired"
"""What :func:`ask_human` returns once a pause's deadline has passed, whatever the answer;
also the answer the deadline sweeper sends (``{"decision": "expired"}``)."""

SYSTEM = "system"
"""The approver recorded for decisions the workflow makes itself (auto-approval, expiry)."""


def due_at(hours: float) -> str:
    """Return the deadline ``hours`` from now, as an ISO 8601 UTC string."""
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")


def is_overdue(deadline: str | None) -> bool:
    """Whether ``deadline`` (ISO 8601) has passed."""
    return bool(deadline) and datetime.fromisoformat(deadline) <= datetime.now(UTC)


HUMAN_RESPONSES = ("accept", "edit", "response", "ignore")
"""Agent Inbox's answer types (a list of one ``{"type", "args"}``, a HumanResponse)."""


def human_interrupt(
    action: str,
    args: dict[str, Any],
    description: str,
    options: list[str],
    editable: list[str] | tuple[str, ...] = (),
) -> dict[str, Any]:
    """The Agent Inbox (HumanInterrupt) keys of a pause, built from the pause's own data.

    ``accept`` answers with the first option (approve, retry), ``response`` with the
    last (reject, cancel) and its text as the note, ``edit`` changes ``editable``
    fields of ``args`` and approves; ``ignore`` is never offered.
    """
    return {
        "action_request": {"action": action, "args": args},
        "config": {
            "allow_accept": True,
            "allow_edit": bool(editable),
            "allow_respond": True,
            "allow_ignore": False,
        },
        "description": description,
        "editable": list(editable),
    }


def markdown(asks: str, why: str, due: str | None, history: list[dict[str, Any]]) -> str:
    """A pause's description for people: who asks what, why, by when, and what came before."""
    lines = [asks, "", f"- **Why:** {why}"]
    if due:
        lines.append(f"- **Due:** {due} (UTC)")
    for entry in history:
        note = f": {entry['note']}" if entry.get("note") else ""
        lines.append(f"- **Earlier:** {entry.get('role')} {entry.get('decision')} by "
                     f"{entry.get('approver')} at {entry.get('at')}{note}")  # fmt: skip
    return "\n".join(lines)


def native_answer(answer: Any, payload: dict[str, Any]) -> Any:
    """Turn Agent Inbox's answer (a list of one HumanResponse) into the pause's own.

    Any other answer is returned as it is.

    Raises:
        ValueError: The response type is not offered, or its args do not fit it.
    """
    if not (
        isinstance(answer, list)
        and len(answer) == 1
        and isinstance(answer[0], dict)
        and answer[0].get("type") in HUMAN_RESPONSES
    ):
        return answer
    kind, args = answer[0]["type"], answer[0].get("args")
    config, options = payload.get("config") or {}, payload.get("options") or []
    allowed = {"accept": "allow_accept", "edit": "allow_edit", "response": "allow_respond"}
    if kind not in allowed or not config.get(allowed[kind]) or not options:
        return _refuse_response(kind)
    tool = payload.get("type") == "tool_approval"
    if kind == "accept":
        return {"type": "approve"} if tool else {"decision": options[0]}
    if kind == "response":
        if not isinstance(args, str) or not args.strip():
            raise ValueError("a response needs its text (the reason, shown to the requester)")
        return {"type": "reject", "message": args} if tool else {"decision": options[-1],
                                                                  "note": args}  # fmt: skip
    edited = args.get("args") if isinstance(args, dict) else None
    if not isinstance(edited, dict):
        raise ValueError("an edit needs args: {action, args: {field: value}}")
    if tool:
        return {"type": "edit", "edited_action": {"name": payload.get("name"), "args": edited}}
    current = (payload.get("action_request") or {}).get("args") or {}
    changes = {
        k: _like(current.get(k), v)
        for k, v in edited.items()
        if k in payload.get("editable", []) and _like(current.get(k), v) != current.get(k)
    }
    if not changes:
        raise ValueError(f"the edit changes none of {', '.join(payload.get('editable', []))}")
    return {"decision": "edit", "changes": changes}


def _refuse_response(kind: str) -> Any:
    raise ValueError(f"{kind} is not offered by this pause (see its config)")


def _like(current: Any, value: Any) -> Any:
    """An edited value in its field's type (form fields send numbers as text)."""
    if isinstance(current, int | float) and isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def ask_human(
    payload: dict[str, Any], model: type[ModelT], refused: str | None = None
) -> tuple[ModelT | Literal["expired"] | None, str | None]:
    """Pause for a human and validate the answer against ``model``.

    The pause carries ``model``'s JSON schema as its ``response_schema`` so that
    LangGraph Studio renders a form and clients can validate before sending. The
    schema is given as a dict so that langgraph does not raise on a bad answer:
    the caller turns the error into a fresh pause instead of failing the run, and
    passes it back as ``refused``: the next pause shows it as ``error``.

    A pause whose payload has a ``due_at`` that has passed is expired: any answer
    (a late human's, or the deadline sweeper's) returns :data:`EXPIRED`, and the
    workflow applies its expiry policy. Claiming expiry early is refused.

    Returns:
        ``(answer, None)`` for a valid answer, ``(EXPIRED, None)`` after the deadline,
        ``(None, error message)`` otherwise.
    """
    if refused:
        payload = {**payload, "error": refused}
    try:
        raw = interrupt(payload, response_schema=_response_schema(model))
    except GraphInterrupt as paused:
        announce_pause(paused, payload)
        raise
    if is_overdue(payload.get("due_at")):
        return EXPIRED, None
    if isinstance(raw, dict) and raw.get("decision") == EXPIRED:
        return None, f"invalid answer: the pause is not due until {payload.get('due_at')}"
    try:
        return model.model_validate(native_answer(raw, payload)), None
    except ValidationError as exc:
        return None, f"invalid answer: {describe_error(exc)}"
    except ValueError as exc:  # an Agent Inbox answer this pause does not offer
        return None, f"invalid answer: {exc}"
