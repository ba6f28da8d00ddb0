"""Expense approval: the seed notebook's dynamic-interrupt workflow, hardened.

``submit`` validates the request, ``approve`` pauses for a manager only when the
amount is over the run's threshold, and ``finalize`` closes the expense. A human
answer that is not a valid decision is refused with a fresh pause whose payload
carries an ``error``; it never approves and never fails the thread.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NotRequired

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from graphs.common.audit import SYSTEM, AuditEntry, audit_entry
from graphs.common.contract import Pause
from graphs.common.decisions import Decision
from graphs.common.fields import Amount, Limit, StrictModel, Text, validate_input
from graphs.common.pauses import Answered, AskAgain, Expired, WorkflowState, decide, due_at
from graphs.common.policy import pin_context, pinned

AUTO_APPROVED_NOTE = "Auto-approved (under limit)"
OPTIONS = ["approve", "reject"]


@with_config(ConfigDict(use_attribute_docstrings=True))
class InputState(TypedDict):
    """What a requester sends.

    The seed notebook also sends status and approver_note; they are ignored, the
    workflow sets them.
    """

    amount: float
    """The amount asked for: a positive number."""
    description: str
    """What it is for (at most 500 characters)."""


class State(InputState, WorkflowState):
    """The expense as it moves through the workflow."""

    status: NotRequired[Literal["pending", "approved", "rejected"]]
    approver_note: NotRequired[str]
    requester: NotRequired[str]
    """The signed-in user who submitted it (served), or the input's (in process)."""


class OutputState(TypedDict):
    """What a finished run reports."""

    amount: float
    description: str
    status: Literal["pending", "approved", "rejected"]
    approver_note: str
    audit: list[AuditEntry]


@with_config(ConfigDict(use_attribute_docstrings=True))
@dataclass(kw_only=True)
class Context:
    """The deployment's rules for expenses (set by an admin on an assistant)."""

    approval_threshold: Limit = 100.0
    """Amounts above this pause for a human; at or below it are auto-approved."""

    approver_role: str = "manager"
    """The role the pause is addressed to."""

    deadline_hours: Limit = 48.0
    """How long the pause waits; then the expense is rejected as expired."""


class Request(StrictModel):
    """A valid expense: a finite, positive amount and a non-empty description."""

    amount: Amount
    description: Text
    requester: str | None = None
    status: Literal["pending"] | None = Field(default=None, exclude=True)
    """The seed notebook sends ``status: "pending"``: accepted as that, and ignored."""
    approver_note: Literal[""] | None = Field(default=None, exclude=True)
    """The seed notebook sends an empty ``approver_note``: accepted as that, and ignored."""


def submit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Validate the expense and the run's settings, and mark it pending."""
    config = get_config()
    request = validate_input(Request, state, "expense_approval", config)
    settings = pin_context(runtime.context, Context, "expense_approval")
    return {
        "amount": request.amount,
        "requester": request.requester,
        "status": "pending",
        "approver_note": "",
        "settings": settings,
        "due_at": due_at(settings["deadline_hours"]),
    }


def approve(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Ask a human when the amount is over the threshold; approve it otherwise."""
    ctx = pinned(state, Context)
    if state["amount"] <= ctx.approval_threshold:
        return {
            "status": "approved",
            "approver_note": AUTO_APPROVED_NOTE,
            "audit": [audit_entry(1, ctx.approver_role, "approved", SYSTEM, AUTO_APPROVED_NOTE)],
        }
    pause = Pause.about(
        Request,
        state,
        type="expense_approval",
        action="Approve expense",
        options=OPTIONS,
        why=f"over the {ctx.approval_threshold:,.2f} threshold; a {ctx.approver_role} decides",
        role=ctx.approver_role,
        due_at=state["due_at"],
    )
    # The seed notebook reads the request's own keys at the payload's top level.
    seed = {"threshold": ctx.approval_threshold, **pause.request}
    match decide(pause, Decision, state, config, **seed):
        case Expired() as expired:
            note = f"Expired: no decision by {state['due_at']}"
            return {**expired.update(note), "status": "rejected", "approver_note": note}
        case AskAgain() as again:
            return again.update
        case Answered(answer=answer) as decided:
            status = "approved" if answer.approved else "rejected"
            return {**decided.update, "status": status, "approver_note": answer.note}


def finalize(state: State) -> dict[str, Any]:
    """Close the expense; only a decided expense may reach this point."""
    if state["status"] not in ("approved", "rejected"):
        raise ValueError(f"cannot finalize an expense in status {state['status']!r}")
    return {}


def route_approval(state: State) -> Literal["approve", "finalize"]:
    """Ask again after a refused answer; otherwise finish."""
    return "approve" if state.get("review_error") else "finalize"


def build_graph() -> StateGraph[State, Context, InputState, OutputState]:
    """Return the uncompiled expense approval workflow."""
    builder = StateGraph(
        State, input_schema=InputState, output_schema=OutputState, context_schema=Context
    )
    builder.add_node("submit", submit)
    builder.add_node("approve", approve)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "submit")
    builder.add_edge("submit", "approve")
    builder.add_conditional_edges("approve", route_approval)
    builder.add_edge("finalize", END)
    return builder


graph = build_graph().compile(name="Expense Approval")
