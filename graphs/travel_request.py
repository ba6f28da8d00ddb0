"""Travel request: a manager approves, edits or rejects a trip; finance too above a limit.

Each level has its own deadline. An edit changes the trip (destination, cost) and
counts as that level's approval, so raising the cost past the limit adds finance.
``decide`` asks, checks the answer and who gives it, and writes the audit entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, NotRequired

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config
from langgraph.graph import START, StateGraph
from langgraph.runtime import Runtime
from pydantic import ConfigDict, Field, with_config
from typing_extensions import TypedDict

from graphs.common.contract import Pause
from graphs.common.decisions import EditDecision
from graphs.common.fields import Amount, Limit, StrictModel, Text, validate_input
from graphs.common.pauses import Answered, AskAgain, Expired, WorkflowState, decide, due_at
from graphs.common.policy import pin_context, pinned


@with_config(ConfigDict(use_attribute_docstrings=True))
class InputState(TypedDict):
    """What a requester sends."""

    destination: str
    """Where to (at most 500 characters)."""
    cost: float
    """What it costs: a positive number; above the limit finance approves too."""
    requester: NotRequired[str]
    """Leave it out when served: it is always the signed-in user. In process, give it."""


class State(InputState, WorkflowState):
    """The trip as it moves from the manager to finance."""

    step: NotRequired[int]
    """The level that decides next: 1 the manager, 2 finance."""
    status: NotRequired[Literal["pending", "approved", "rejected"]]


@with_config(ConfigDict(use_attribute_docstrings=True))
@dataclass(kw_only=True)
class Context:
    """The deployment's rules (an admin sets them on an assistant)."""

    finance_above: Limit = 2000.0
    """Trips costing more than this need finance after the manager."""
    deadline_hours: Limit = 48.0
    """How long each level has to decide."""
    on_expiry: Literal["escalate", "reject"] = "escalate"
    """A level's deadline passes: hand the trip to the next level (the last one's
    expiry rejects), or reject at once."""


class Request(StrictModel):
    """A valid trip; the server checks input with it before storing anything."""

    destination: Text = Field(title="Destination")
    cost: Amount = Field(title="Cost")
    requester: Text


class Changes(StrictModel):
    """What an approver may edit."""

    destination: Text | None = None
    cost: Amount | None = None


Answer = EditDecision[Changes]
"""Approve, edit (with changes, and only then), or reject (with a note)."""


def levels(cost: float, ctx: Context) -> list[str]:
    """Who approves a trip of ``cost``, in order."""
    return ["manager", "finance"] if cost > ctx.finance_above else ["manager"]


def next_level(state: State) -> dict[str, Any]:
    """Hand the trip to the next level, with a deadline of its own."""
    return {"step": state["step"] + 1, "due_at": due_at(pinned(state, Context).deadline_hours)}


def submit(state: State, runtime: Runtime[Context]) -> dict[str, Any]:
    """Validate the trip and pin the rules it is decided by."""
    config = get_config()
    request = validate_input(Request, state, "travel_request", config)
    settings = pin_context(runtime.context, Context, "travel_request")
    first = {"step": 1, "due_at": due_at(settings["deadline_hours"])}
    return {**request.model_dump(), **first, "status": "pending", "settings": settings}


def review(state: State, config: RunnableConfig) -> dict[str, Any]:
    """Ask the current level to approve, edit or reject the trip."""
    ctx, step = pinned(state, Context), state["step"]
    roles = levels(state["cost"], ctx)
    pause = Pause.about(
        Request,
        state,
        type="travel_request",
        action=f"Approve trip ({roles[step - 1]})",
        options=["approve", "edit", "reject"],
        editable=Changes,
        why=f"step {step} of {len(roles)}; finance approves too above {ctx.finance_above:,.2f}",
        role=roles[step - 1],
        step=step,
        levels=roles,
        history=state.get("audit") or [],
        due_at=state["due_at"],
    )
    match decide(pause, Answer, state, config):
        case Expired() as expired:
            if ctx.on_expiry == "escalate" and step < len(roles):
                note = f"No decision by {state['due_at']}: passed to {roles[step]}"
                return {**expired.update(note), **next_level(state)}
            return {**expired.update(f"No decision by {state['due_at']}"), "status": "rejected"}
        case AskAgain() as again:
            return again.update
        case Answered(answer=answer, entry=entry) as decided:
            if answer.decision == "reject":
                return {**decided.update, "status": "rejected"}
            # An edit is merged into the request and checked again as a whole.
            trip = Request.model_validate({**pause.request, **(entry["changes"] or {})})
            status = "approved" if step >= len(levels(trip.cost, ctx)) else "pending"
            return {**decided.update, **trip.model_dump(), **next_level(state), "status": status}


def route_review(state: State) -> Literal["review", "__end__"]:
    """Ask again after a refused answer or while a level is left; otherwise finish."""
    return "review" if state["status"] == "pending" else "__end__"


def build_graph() -> StateGraph[State, Context, InputState, State]:
    """Return the uncompiled travel request workflow."""
    builder = StateGraph(State, input_schema=InputState, context_schema=Context)
    builder.add_node("submit", submit)
    builder.add_node("review", review)
    builder.add_edge(START, "submit")
    builder.add_edge("submit", "review")
    builder.add_conditional_edges("review", route_review)
    return builder


graph = build_graph().compile(name="Travel Request")
