"""Pieces every workflow shares: human answers, audit entries and validation.

A human answer arrives as an arbitrary JSON value through ``Command(resume=...)``.
Nothing here trusts it: every answer is validated with a pydantic model before a
workflow acts on it, and a refused answer becomes a fresh pause that says what was
wrong, so a bad answer never approves anything and never loses the pause.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal, TypeVar

from langgraph.types import interrupt
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from typing_extensions import TypedDict

ModelT = TypeVar("ModelT", bound=BaseModel)


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
    note: str = Field(default="", max_length=2000, description="Why; shown to the requester")
    approver: str | None = Field(
        default=None, max_length=200, description="Who decides (the signed-in user once auth is on)"
    )

    @property
    def approved(self) -> bool:
        """Whether this answer approves."""
        return self.decision in ("approve", "approved")


class AuditEntry(TypedDict):
    """One decision in a workflow's audit trail."""

    step: str
    role: str
    decision: str
    approver: str | None
    note: str
    changes: dict[str, Any] | None
    at: str


def utc_now() -> str:
    """Return the current UTC time as an ISO 8601 string."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def describe_error(exc: ValidationError) -> str:
    """Turn a pydantic error into one line that names each offending field."""
    parts = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "value"
        parts.append(f"{field}: {err['msg']}")
    return "; ".join(parts)


def validate_input(model: type[ModelT], state: dict[str, Any], workflow: str) -> ModelT:
    """Validate a workflow's input, failing the run with a message naming the bad field.

    Raises:
        ValueError: The input does not fit ``model``.
    """
    fields = {k: state[k] for k in model.model_fields if k in state}
    try:
        return model.model_validate(fields)
    except ValidationError as exc:
        raise ValueError(f"invalid {workflow} input: {describe_error(exc)}") from None


def ask_human(payload: dict[str, Any], model: type[ModelT]) -> tuple[ModelT | None, str | None]:
    """Pause for a human and validate the answer against ``model``.

    The pause carries ``model``'s JSON schema as its ``response_schema`` so that
    LangGraph Studio renders a form and clients can validate before sending. The
    schema is given as a dict so that langgraph does not raise on a bad answer:
    the caller turns the error into a fresh pause instead of failing the run.

    Returns:
        ``(answer, None)`` for a valid answer, ``(None, error message)`` otherwise.
    """
    raw = interrupt(payload, response_schema=model.model_json_schema())
    try:
        return model.model_validate(raw), None
    except ValidationError as exc:
        return None, f"invalid answer: {describe_error(exc)}"
