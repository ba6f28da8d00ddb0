"""Approval chain: one pause per required level, each answered approve / edit / reject.

The levels a request needs come from a policy that is data (amount limits mapped to
roles, overridable per run). ``review`` asks the next level that has not approved
yet; an ``edit`` changes the request and the levels are recomputed from the new
amount, so raising it past a limit adds a level and lowering it can drop later
ones, while decisions already made stay in the audit trail. A ``reject`` ends the
chain at once. The requester can never approve their own request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, NotRequired

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import ConfigDict, Field, TypeAdapter, ValidationError, with_config
from typing_extensions import TypedDict

from graphs.common.audit import AuditEntry
from graphs.common.contract import Pause
from graphs.common.decisions import EditDecision
from graphs.common.fields import (
    Amount,
    Limit,
    StrictModel,
    Text,
    describe_error,
    validate_input,
)
from graphs.common.pauses import Answered, AskAgain, Expired, WorkflowState, decide, due_at
from graphs.common.policy import pin_context

OPTIONS = ["approve", "edit", "reject"]
DEFAULT_POLICY: list[Tier] = [
    {"above": 100, "role": "manager"},
    {"above": 1_000, "role": "finance"},
    {"above": 10_000, "role": "director"},
]


@with_config(ConfigDict(use_attribute_docstrings=True))
class InputState(TypedDict):
    """What a requester sends."""

    amount: float
    """The amount asked for: a positive number; it decides which levels approve."""
    description: str
    """What it is for (at most 500 characters)."""
    requester: NotRequired[str]
    """Leave it out when served: the requester is always the signed-in user.
    In process, give it."""
    category: NotRequired[str | None]
    """An optional category (at most 100 characters)."""


class State(InputState, WorkflowState):
    """The request as it moves up the chain (due_at is the current level's)."""

    status: NotRequired[Literal["pending", "approved", "rejected"]]


class OutputState(TypedDict):
    """What a finished run reports: the final request, its status and the whole trail."""

    amount: float
    description: str
    requester: str
    category: str | None
    status: Literal["pending", "approved", "rejected"]
    audit: list[AuditEntry]


class PolicyTier(StrictModel):
    """Amounts strictly above ``above`` need ``role``'s approval."""

    above: float = Field(ge=0, allow_inf_nan=False)
    role: str = Field(min_length=1)


Policy = TypeAdapter(list[PolicyTier])


@with_config(ConfigDict(use_attribute_docstrings=True))
class Tier(TypedDict):
    """One approval level."""

    above: float
    """Amounts strictly above this need this level."""
    role: str
    """The role that decides at this level."""


@with_config(ConfigDict(use_attribute_docstrings=True))
@dataclass(kw_only=True)
class Context:
    """The deployment's approval levels (set by an admin on an assistant)."""

    policy: list[Tier] = field(default_factory=lambda: list(DEFAULT_POLICY))
    """The levels, asked in this order, e.g. above 100 manager, above 1,000 finance."""

    deadline_hours: Limit = 48.0
    """How long each level has to decide."""

    on_expiry: Literal["escalate", "reject"] = "escalate"
    """When a level's deadline passes: hand the request to the next level (the last
    level's expiry rejects), or reject at once."""


class Request(StrictModel):
    """A valid request for approval."""

    amount: Amount
    description: Text
    requester: Text
    category: str | None = Field(default=None, max_length=100)


class Changes(StrictModel):
    """The fields an approver may change."""

    amount: Amount | None = Field(default=None, description="The new amount")
    description: Text | None = Field(default=None, description="The new description")


ChainDecision = EditDecision[Changes]
"""One level's answer."""


def required_roles(amount: float, policy: list[PolicyTier]) -> list[str]:
    """Return the roles that must approve ``amount``, in policy order."""
    return [tier.role for tier in policy if amount > tier.above]


def approved_roles(audit: list[AuditEntry]) -> set[str]:
    """Return the roles that are done: approved, approved an edit, or expired and escalated.

    An expiry that rejects ends the chain, so an ``expire`` entry of a chain still
    under way is always an escalation.
    """
    return {e["role"] for e in audit if e["decision"] in ("approve", "edit", "expire")}


def next_role(state: State, policy: list[PolicyTier]) -> str | None:
    """Return the first required role that has not approved yet."""
    done = approved_roles(state.get("audit") or [])
    return next((r for r in required_roles(state["amount"], policy) if r not in done), None)


def load_policy(state: Mapping[str, Any]) -> list[PolicyTier]:
    """Validate the pinned policy, failing the run with a clear message if it is malformed."""
    try:
        return Policy.validate_python(state["settings"]["policy"])
    except ValidationError as exc:
        raise ValueError(f"invalid approval_chain context.policy: {describe_error(exc)}") from None


def submit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Validate the request and the run's policy."""
    config = get_config()
    request = validate_input(Request, state, "approval_chain", config)
    settings = pin_context(runtime.context, Context, "approval_chain")
    load_policy({"settings": settings})
    due = due_at(settings["deadline_hours"])
    return {**request.model_dump(), "status": "pending", "settings": settings, "due_at": due}


def review(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Ask the next level for a decision and apply it."""
    policy = load_policy(state)
    role = next_role(state, policy)
    if role is None:
        raise ValueError("review reached with no level left to ask")
    levels = required_roles(state["amount"], policy)
    step, hours = levels.index(role) + 1, state["settings"]["deadline_hours"]
    pause = Pause.about(
        Request,
        state,
        type="approval_chain",
        action=f"Approve request: step {step} of {len(levels)} ({role})",
        options=OPTIONS,
        editable=Changes,
        why=f"step {step} of {len(levels)} ({' → '.join(levels)}): {role} decides",
        role=role,
        step=step,
        levels=levels,
        history=state.get("audit") or [],
        due_at=state["due_at"],
    )
    match decide(pause, ChainDecision, state, config):
        case Expired() as expired:
            escalate = state["settings"]["on_expiry"] == "escalate" and step < len(levels)
            note = f"No decision by {state['due_at']}: " + (
                "passed to the next level" if escalate else "rejected as expired"
            )
            update = {**expired.update(note), "due_at": due_at(hours)}
            return update if escalate else {**update, "status": "rejected"}
        case AskAgain() as again:
            return again.update
        case Answered(answer=answer, entry=entry) as decided:
            # The next level's clock starts now; an edit changes the request itself.
            update = {**decided.update, "due_at": due_at(hours), **(entry["changes"] or {})}
            return {**update, "status": "rejected"} if answer.decision == "reject" else update


def finalize(state: State) -> dict[str, Any]:
    """Close the request: approved unless a level rejected it."""
    return {"status": "rejected" if state.get("status") == "rejected" else "approved"}


def route_next(state: State) -> Literal["review", "finalize"]:
    """Ask again after a refused answer or while a level still has to approve."""
    if state.get("review_error"):
        return "review"
    if state.get("status") == "rejected":
        return "finalize"
    return "review" if next_role(state, load_policy(state)) else "finalize"


def build_graph() -> StateGraph[State, Context, InputState, OutputState]:
    """Return the uncompiled approval chain workflow."""
    builder = StateGraph(
        State, input_schema=InputState, output_schema=OutputState, context_schema=Context
    )
    builder.add_node("submit", submit)
    builder.add_node("review", review)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "submit")
    builder.add_conditional_edges("submit", route_next)
    builder.add_conditional_edges("review", route_next)
    builder.add_edge("finalize", END)
    return builder


graph = build_graph().compile(name="Approval Chain")
