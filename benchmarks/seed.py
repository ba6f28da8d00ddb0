"""Bare seed-style workflows: the seed notebook's graphs, with nothing added.

Each mirrors one of the project's graphs in shape (same nodes, same single pause
for a manager on the benchmark's input) but without validation, audit trail,
pinned settings, policy, deadlines or pause announcements: the floor that the
project's graphs are measured against (``python -m benchmarks``, "overhead").
"""

from __future__ import annotations

import random
from typing import Any, Literal

from langgraph.func import task
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class ExpenseState(TypedDict, total=False):
    """The seed notebook's expense."""

    amount: float
    description: str
    status: Literal["pending", "approved", "rejected"]
    approver_note: str


def submit_expense(state: ExpenseState) -> dict:
    """Mark the expense pending."""
    return {"status": "pending"}


def request_approval(state: ExpenseState) -> dict:
    """Pause for a manager over $100, as the notebook does."""
    if state["amount"] > 100:
        decision = interrupt(
            {
                "type": "expense_approval",
                "amount": state["amount"],
                "description": state["description"],
                "options": ["approve", "reject"],
            }
        )
        approved = decision.get("decision") in ("approve", "approved")
        return {
            "status": "approved" if approved else "rejected",
            "approver_note": decision.get("note", ""),
        }
    return {"status": "approved", "approver_note": "Auto-approved (under limit)"}


def finalize_expense(state: ExpenseState) -> dict:
    """Close the expense."""
    return {}


def expense_graph() -> StateGraph:
    """Return the notebook's expense approval graph."""
    builder = StateGraph(ExpenseState)
    builder.add_node("submit", submit_expense)
    builder.add_node("approve", request_approval)
    builder.add_node("finalize", finalize_expense)
    builder.add_edge(START, "submit")
    builder.add_edge("submit", "approve")
    builder.add_edge("approve", "finalize")
    builder.add_edge("finalize", END)
    return builder


LEVELS = [(100, "manager"), (1_000, "finance"), (10_000, "director")]


class ChainState(TypedDict, total=False):
    """A request climbing the approval levels, seed style."""

    amount: float
    description: str
    requester: str
    status: str
    approved: list[str]


def submit_request(state: ChainState) -> dict:
    """Mark the request pending."""
    return {"status": "pending", "approved": []}


def review_level(state: ChainState) -> dict:
    """Ask the next level that has not approved yet."""
    needed = [role for above, role in LEVELS if state["amount"] > above]
    role = next(r for r in needed if r not in state["approved"])
    decision = interrupt({"type": "approval_chain", "role": role, "amount": state["amount"]})
    if decision.get("decision") == "reject":
        return {"status": "rejected"}
    return {"approved": [*state["approved"], role]}


def route_chain(state: ChainState) -> Literal["review", "finalize"]:
    """Ask again while a level is missing."""
    needed = [role for above, role in LEVELS if state["amount"] > above]
    done = state.get("status") == "rejected" or set(needed) <= set(state.get("approved") or [])
    return "finalize" if done else "review"


def finalize_request(state: ChainState) -> dict:
    """Close the request."""
    return {"status": "rejected" if state.get("status") == "rejected" else "approved"}


def chain_graph() -> StateGraph:
    """Return a seed-style approval chain."""
    builder = StateGraph(ChainState)
    builder.add_node("submit", submit_request)
    builder.add_node("review", review_level)
    builder.add_node("finalize", finalize_request)
    builder.add_edge(START, "submit")
    builder.add_conditional_edges("submit", route_chain)
    builder.add_conditional_edges("review", route_chain)
    builder.add_edge("finalize", END)
    return builder


@task
def generate_order_id() -> str:
    """Make an order id (the notebook's ``@task``)."""
    return f"ORD-{random.randint(10000, 99999)}"


@task
def process_payment(order_id: str, amount: float) -> dict:
    """Charge the order (the notebook's ``@task``: no ledger)."""
    return {"status": "success", "transaction_id": f"TXN-{random.randint(1000, 9999)}"}


class OrderState(TypedDict, total=False):
    """The notebook's order."""

    amount: float
    order_id: str
    status: str
    payment_result: dict[str, Any]


def create_order(state: OrderState) -> dict:
    """Give the order an id."""
    return {"order_id": generate_order_id().result(), "status": "created"}


def approve_order(state: OrderState) -> dict:
    """Pause for a manager over $1,000."""
    if state["amount"] > 1_000:
        decision = interrupt(
            {"type": "order_approval", "order_id": state["order_id"], "amount": state["amount"]}
        )
        if decision.get("decision") != "approve":
            return {"status": "declined"}
    return {"status": "approved"}


def charge(state: OrderState) -> dict:
    """Charge an approved order."""
    if state["status"] != "approved":
        return {}
    payment = process_payment(state["order_id"], state["amount"]).result()
    return {"payment_result": payment, "status": "paid"}


def order_graph() -> StateGraph:
    """Return a seed-style order workflow with the notebook's ``@task`` calls."""
    builder = StateGraph(OrderState)
    builder.add_node("create_order", create_order)
    builder.add_node("approve_order", approve_order)
    builder.add_node("charge", charge)
    builder.add_edge(START, "create_order")
    builder.add_edge("create_order", "approve_order")
    builder.add_edge("approve_order", "charge")
    builder.add_edge("charge", END)
    return builder


SEED_GRAPHS = {
    "expense_approval": expense_graph,
    "approval_chain": chain_graph,
    "order_processing": order_graph,
}
"""The seed-style counterpart of each project graph."""
