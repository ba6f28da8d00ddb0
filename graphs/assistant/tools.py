"""The assistant's tools: a safe policy lookup, filing an expense, and moving money.

``file_expense`` starts a real ``expense_approval`` workflow (through the server's
own in-process client when served, a local one otherwise); ``pay`` and ``refund``
go through the idempotent payment ledger, keyed by thread and tool call.

Who reviews a money call is decided once, when the model's message arrives
(:func:`manager_reviews`): the owner reviews it while what the owner moves without
a manager (today, in this conversation, plus the message's earlier money calls
that the owner reviews) stays within the limit; past that, a manager does. The
ledger checks the limit again when the money moves.
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from langchain.tools import ToolRuntime
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from graphs import expense_approval, payments
from graphs.approval_chain import DEFAULT_POLICY
from graphs.common.access import thread_owner
from graphs.common.fields import Amount

MONEY_TOOLS = ("pay", "refund")

approved_by_role: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "hitl_approved_by_role", default=None
)
"""The role of the signed-in user who approved the call being run (set by the review)."""


def _amount(call: Mapping[str, Any]) -> float | None:
    amount = (call.get("args") or {}).get("amount")
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return abs(float(amount))


def manager_reviews(
    calls: Iterable[Mapping[str, Any]], owner: str | None, thread_id: str | None, limit: float
) -> dict[str, bool]:
    """Decide, for the money calls of one model message in order, which a manager reviews.

    The owner reviews a call while the owner's unreviewed total (the larger of
    today's and this conversation's, from the ledger) plus the message's earlier
    owner-reviewed calls plus this call stays within ``limit``; the call that would
    cross it goes to a manager and adds nothing (a manager's approval is not the
    owner's money). Splitting a payment therefore gains nothing.

    Returns:
        ``{tool_call_id: True if a manager reviews it}``.
    """
    money = [c for c in calls if c.get("name") in MONEY_TOOLS and c.get("id")]
    if not money:
        return {}
    today = payments.unreviewed_total(owner, since=payments.day_start())
    here = payments.unreviewed_total(owner, thread_id=str(thread_id)) if thread_id else 0.0
    moved = max(today, here)
    decided = {}
    for call in money:
        amount = _amount(call)
        if amount is None:  # not a number: the tool refuses it, nothing moves
            decided[call["id"]] = False
        elif round(moved + amount, 2) > limit:
            decided[call["id"]] = True
        else:
            decided[call["id"]] = False
            moved += amount
    return decided


def needs_manager(state: Mapping[str, Any], call: Mapping[str, Any], limit: float) -> bool:
    """Whether a manager reviews ``call``: as decided when its message arrived.

    Calls of messages older than that decision (conversations started before it
    existed) fall back to the per-call rule: more than ``limit`` on its own.
    """
    decided = (state.get("manager_reviews") or {}).get(call.get("id"))
    if decided is not None:
        return bool(decided)
    amount = _amount(call)
    return call.get("name") in MONEY_TOOLS and amount is not None and amount > limit


@tool
def lookup_policy() -> str:
    """Look up the expense approval policy (who must approve which amounts)."""
    limit = expense_approval.Context().approval_threshold
    chain = "; ".join(f"above {t['above']:,}: {t['role']}" for t in DEFAULT_POLICY)
    return f"Expenses up to {limit:,.0f} are auto-approved. Approval levels: {chain}."


@tool
async def file_expense(amount: Amount, description: str, runtime: ToolRuntime) -> str:
    """File an expense for approval; returns the workflow thread and its status."""
    values: dict[str, Any] = {"amount": amount, "description": description}
    if "assistant_id" in (runtime.config.get("configurable") or {}):  # served: on this server
        from langgraph_sdk import get_client  # noqa: PLC0415

        client = get_client()  # in-process, with the calling user's permissions
        thread = await client.threads.create(metadata={"graph_id": "expense_approval"})
        await client.runs.create(thread["thread_id"], "expense_approval", input=values)
        return f"Filed expense {amount:.2f} '{description}' as thread {thread['thread_id']}."
    thread_id = str(uuid.uuid4())
    result = await local_expenses().ainvoke(values, {"configurable": {"thread_id": thread_id}})
    state = "waiting for a manager" if "__interrupt__" in result else result["status"]
    return f"Filed expense {amount:.2f} '{description}' as thread {thread_id}: {state}."


@functools.cache
def local_expenses() -> CompiledStateGraph[Any, Any, Any, Any]:
    """In-process runs (tests, notebooks) file into a local workflow instead of a server."""
    return expense_approval.build_graph().compile(checkpointer=InMemorySaver())


def _move_money(kind: str, amount: float, recipient: str, runtime: ToolRuntime) -> str:
    if amount <= 0:
        return f"Refused: the amount to {kind} must be positive."
    if runtime.tool_call_id is None:
        raise ValueError(f"{kind} needs its tool call's id: the ledger keys the money by it")
    thread_id = (runtime.config.get("configurable") or {}).get("thread_id")
    key = f"{thread_id}:{runtime.tool_call_id}"
    reference = f"{kind.upper()}-{runtime.tool_call_id[-8:]}"
    signed = amount if kind == "pay" else -amount
    state = runtime.state if isinstance(runtime.state, Mapping) else {}
    limit = (state.get("settings") or {}).get("approval_limit")
    call = {"name": kind, "id": runtime.tool_call_id, "args": {"amount": amount}}
    spender = payments.Spender(
        requester=thread_owner(runtime.config),
        thread_id=None if thread_id is None else str(thread_id),
        reviewed=limit is not None
        and needs_manager(state, call, limit)
        and approved_by_role.get() == (state.get("settings") or {}).get("reviewer_role"),
        limit=limit,
    )
    try:
        result = payments.charge(key, reference, signed, None, spender)
    except payments.OverLimit as exc:
        return f"Refused: {exc}. Nothing was moved."
    return f"{kind} {amount:.2f} to {recipient}: {result['status']} ({result['transaction_id']})"


@tool
def pay(amount: Amount, recipient: str, runtime: ToolRuntime) -> str:
    """Pay an amount to a recipient (reviewed; charged once even if retried)."""
    return _move_money("pay", amount, recipient, runtime)


@tool
def refund(amount: Amount, recipient: str, runtime: ToolRuntime) -> str:
    """Refund an amount to a recipient (reviewed; refunded once even if retried)."""
    return _move_money("refund", amount, recipient, runtime)
