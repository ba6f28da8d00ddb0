"""The assistant's tools: a safe policy lookup, filing an expense, and moving money.

``file_expense`` starts a real ``expense_approval`` workflow (through the server's
own in-process client when served, a local one otherwise); ``pay`` and ``refund``
go through the idempotent payment ledger, keyed by thread and tool call.
"""

from __future__ import annotations

import functools
import uuid

from langchain.tools import ToolRuntime
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph.state import CompiledStateGraph

from graphs import expense_approval, payments
from graphs.approval_chain import DEFAULT_POLICY

MONEY_TOOLS = ("pay", "refund")


@tool
def lookup_policy() -> str:
    """Look up the expense approval policy (who must approve which amounts)."""
    limit = expense_approval.Context().approval_threshold
    chain = "; ".join(f"above {t['above']:,}: {t['role']}" for t in DEFAULT_POLICY)
    return f"Expenses up to {limit:,.0f} are auto-approved. Approval levels: {chain}."


@tool
async def file_expense(amount: float, description: str, runtime: ToolRuntime) -> str:
    """File an expense for approval; returns the workflow thread and its status."""
    values = {"amount": amount, "description": description}
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
def local_expenses() -> CompiledStateGraph:
    """In-process runs (tests, notebooks) file into a local workflow instead of a server."""
    return expense_approval.build_graph().compile(checkpointer=InMemorySaver())


def _move_money(kind: str, amount: float, recipient: str, runtime: ToolRuntime) -> str:
    if amount <= 0:
        return f"Refused: the amount to {kind} must be positive."
    thread_id = (runtime.config.get("configurable") or {}).get("thread_id")
    key = f"{thread_id}:{runtime.tool_call_id}"
    reference = f"{kind.upper()}-{runtime.tool_call_id[-8:]}"
    signed = amount if kind == "pay" else -amount
    result = payments.charge(key, reference, signed)
    return f"{kind} {amount:.2f} to {recipient}: {result['status']} ({result['transaction_id']})"


@tool
def pay(amount: float, recipient: str, runtime: ToolRuntime) -> str:
    """Pay an amount to a recipient (reviewed; charged once even if retried)."""
    return _move_money("pay", amount, recipient, runtime)


@tool
def refund(amount: float, recipient: str, runtime: ToolRuntime) -> str:
    """Refund an amount to a recipient (reviewed; refunded once even if retried)."""
    return _move_money("refund", amount, recipient, runtime)
