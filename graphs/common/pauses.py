"""Asking a human: the deadline, the answer's check, and :func:`decide`, one sequence for all.

A human answer arrives as an arbitrary JSON value through ``Command(resume=...)``.
Nothing here trusts it: every answer is validated with a pydantic model before a
workflow acts on it, and a refused answer becomes a fresh pause that says what was
wrong, so a bad answer never approves anything and never loses the pause.

Each workflow node builds a :class:`~graphs.common.contract.Pause` and matches on
what :func:`decide` returns: :class:`Answered`, :class:`Expired` or :class:`AskAgain`.
"""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Final, Generic, Literal, NotRequired

from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphInterrupt
from langgraph.types import interrupt
from pydantic import BaseModel, ValidationError
from typing_extensions import TypedDict

from graphs.common import events
from graphs.common.access import addressee, check_approver
from graphs.common.audit import SYSTEM, AuditEntry, audit_entry
from graphs.common.contract import Pause
from graphs.common.decisions import approves, native_answer
from graphs.common.fields import ModelT, describe_error

EXPIRED: Final = "expired"


class WorkflowState(TypedDict):
    """State every approval workflow keeps besides its request."""

    review_error: NotRequired[str | None]
    """Why the last answer was refused; shown in the next pause, cleared by a valid one."""

    audit: NotRequired[Annotated[list[AuditEntry], operator.add]]
    """Append-only trail of decisions, the workflow's own (``system``) included."""

    settings: NotRequired[dict[str, Any]]
    """The run's ``Context``, pinned at submission so a resume cannot change the rules."""

    due_at: NotRequired[str]
    """When the open pause expires (UTC); a refused answer does not extend it."""


def due_at(hours: float) -> str:
    """Return the deadline ``hours`` from now, as an ISO 8601 UTC string."""
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat(timespec="seconds")


def is_overdue(deadline: str | None) -> bool:
    """Whether ``deadline`` (ISO 8601) has passed."""
    if not deadline:
        return False
    return datetime.fromisoformat(deadline) <= datetime.now(UTC)


@functools.cache
def _response_schema(model: type[BaseModel]) -> dict[str, Any]:
    return model.model_json_schema()


def announce(paused: GraphInterrupt, payload: dict[str, Any]) -> None:
    """Emit :class:`~graphs.common.events.Paused` for the pause being raised."""
    (pause, *_) = paused.args[0]
    events.emit(events.Paused(pause.id, addressee(payload), payload))


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
        announce(paused, payload)
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


@dataclass(frozen=True)
class Answered(Generic[ModelT]):
    """A valid answer from someone the pause waits for: recorded, and announced as decided."""

    answer: ModelT
    approver: str | None
    entry: AuditEntry

    @property
    def update(self) -> dict[str, Any]:
        """The state update every decided step makes: the audit entry, no error."""
        return {"review_error": None, "audit": [self.entry]}


@dataclass(frozen=True)
class Expired:
    """The pause's deadline passed: the workflow applies its expiry rule."""

    pause: Pause

    def update(self, note: str) -> dict[str, Any]:
        """The state update of an expiry: the workflow's (``system``) audit entry."""
        entry = audit_entry(self.pause.step, self.pause.role or "owner", EXPIRED, SYSTEM, note)
        return {"review_error": None, "audit": [entry]}


@dataclass(frozen=True)
class AskAgain:
    """An answer that was not applied, and why; the pause is asked again showing ``error``."""

    error: str

    @property
    def update(self) -> dict[str, Any]:
        """The state update that asks again."""
        return {"review_error": self.error}


Outcome = Answered[ModelT] | Expired | AskAgain


def decide(
    pause: Pause,
    model: type[ModelT],
    state: dict[str, Any] | Any,
    config: RunnableConfig | None,
    **extra: Any,
) -> Answered[ModelT] | Expired | AskAgain:
    """Ask ``pause`` and settle the answer, the same way for every workflow.

    Expiry, validation against ``model``, the approver rule (the one whom the pause
    waits for decides, never the requester approving their own request), the
    :class:`~graphs.common.events.Decided` event and the audit entry.

    Args:
        pause: The question.
        model: The answer's model (a ``decision``, a ``note``, an ``approver``,
            optionally ``changes``).
        state: The workflow's state: its ``review_error`` is shown on the pause.
        config: The run's config (who is signed in).
        **extra: Workflow-specific payload keys (see :meth:`Pause.payload`).
    """
    error = state.get("review_error")
    shown = pause.model_copy(update={"error": error}) if error else pause
    answer, error = ask_human(shown.payload(**extra), model)
    if answer == EXPIRED:
        return Expired(pause)
    if not isinstance(answer, model):
        return AskAgain(error or "invalid answer")
    decision = str(getattr(answer, "decision"))  # noqa: B009 (every answer model has one)
    requester = pause.requester if approves(decision) else None
    approver, error = check_approver(
        getattr(answer, "approver", None), config, pause.waiting_for, requester
    )
    if error:
        return AskAgain(error)
    events.emit(events.Decided(approver))
    changes = getattr(answer, "changes", None)
    if isinstance(changes, BaseModel):
        changes = changes.model_dump(exclude_none=True)
    entry = audit_entry(
        pause.step,
        pause.role or "owner",
        decision,
        approver,
        getattr(answer, "note", ""),
        changes or None,
        getattr(answer, "channel", None),
    )
    return Answered(answer, approver, entry)
