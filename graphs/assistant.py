"""An expense assistant whose consequential tool calls a human approves, edits or rejects.

Built with langchain's ``create_agent`` and ``HumanInTheLoopMiddleware`` in
``per_call`` mode: one pause per reviewed tool call, whose ``response_schema`` is
the union of the decisions that tool allows (an edit's tool name is pinned, so an
edit cannot turn one tool into another). LangGraph validates an answer against it
before anything is saved, so a bad answer leaves the call pending and answerable.

- ``lookup_policy`` is safe and runs without review;
- ``file_expense`` (approve / edit / reject) starts a real ``expense_approval``
  workflow, through the server's own SDK client when served;
- ``pay`` and ``refund`` (approve / reject) go through the idempotent payment
  ledger of ``order_processing``, keyed by thread and tool call.

Each pause names whom it waits for: the conversation's owner, except for money
moved above the approval limit (``Context.approval_limit``, as for orders), which
a manager reviews (``Context.reviewer_role``) and the owner may not approve. The
limit is the deployment's: read from the assistant's configuration and pinned in
the conversation at its first turn. Each decision is recorded in ``reviews`` with
the signed-in user who made it.
"""

from __future__ import annotations

import contextvars
import dataclasses
import json
import operator
import sys
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, NotRequired

from langchain.agents import AgentState, create_agent
from langchain.agents.middleware import HumanInTheLoopMiddleware, ModelRequest, wrap_model_call
from langchain.agents.middleware.human_in_the_loop import InterruptOnConfig, _decision_schema
from langchain.tools import ToolRuntime
from langchain_core.messages import ToolMessage
from langchain_core.tools import tool
from langgraph._internal._constants import CONFIG_KEY_CHECKPOINT_NS
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config
from langgraph.errors import GraphInterrupt
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, Interrupt, _interrupt_id
from pydantic import TypeAdapter, ValidationError

from graphs import expense_approval, payments
from graphs.approval_chain import DEFAULT_POLICY
from graphs.common import events
from graphs.common.access import current_user, refusal, thread_owner
from graphs.common.audit import AuditEntry, audit_entry
from graphs.common.decisions import APPROVING
from graphs.common.fields import Limit, describe_error
from graphs.common.pauses import announce, human_interrupt, markdown
from graphs.llm import OfflineChatModel, get_chat_model

SYSTEM_PROMPT = (
    "You help employees with expenses. Use lookup_policy for questions about limits, "
    "file_expense to file an expense for approval, pay and refund to move money. "
    "A person reviews every filing and payment; if they reject one, explain and do not retry."
)


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
    if "langgraph_api.server" in sys.modules:  # served: a real run on this server
        from langgraph_sdk import get_client

        client = get_client()  # in-process, with the calling user's permissions
        thread = await client.threads.create(metadata={"graph_id": "expense_approval"})
        await client.runs.create(thread["thread_id"], "expense_approval", input=values)
        return f"Filed expense {amount:.2f} '{description}' as thread {thread['thread_id']}."
    thread_id = str(uuid.uuid4())
    result = await _local_expenses.ainvoke(values, {"configurable": {"thread_id": thread_id}})
    state = "waiting for a manager" if "__interrupt__" in result else result["status"]
    return f"Filed expense {amount:.2f} '{description}' as thread {thread_id}: {state}."


_local_expenses = expense_approval.build_graph().compile(checkpointer=InMemorySaver())
"""In-process runs (tests, notebooks) file into a local workflow instead of a server."""


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


@dataclass(kw_only=True)
class Context:
    """The assistant's settings (the deployment's: set on an assistant by an admin)."""

    approval_limit: Limit = 1_000.0
    """Payments and refunds above this are reviewed by ``reviewer_role``, not the owner."""

    reviewer_role: str = "manager"
    """Who reviews money moved above the limit."""


MONEY_TOOLS = ("pay", "refund")

REVIEWED: dict[str, InterruptOnConfig] = {
    "file_expense": {"allowed_decisions": ["approve", "edit", "reject"]},
    "pay": {"allowed_decisions": ["approve", "reject"]},
    "refund": {"allowed_decisions": ["approve", "reject"]},
}


class AssistantState(AgentState):
    """The conversation, plus who decided on each reviewed tool call."""

    reviews: NotRequired[Annotated[list[AuditEntry], operator.add]]
    """Append-only trail of tool-call reviews."""

    settings: NotRequired[dict]
    """The assistant's ``Context``, pinned at the conversation's first turn."""


_decided: contextvars.ContextVar[AuditEntry | None] = contextvars.ContextVar(
    "hitl_tool_review", default=None
)


def _ask_again(value: dict[str, Any], schema: Any) -> NoReturn:
    """Raise this step's pending pause again, now with ``value`` saying what was wrong.

    LangGraph refused the answer before saving it, so the pause keeps its id, which
    langgraph derives from the task's namespace and the answer's slot in the task
    (``langgraph.types._interrupt_id``); a per-call review asks once per tool-call
    task, so its slot is 0. Calling ``interrupt()`` a second time instead would open
    a second slot that no answer could reach.
    """
    pause_id = _interrupt_id(get_config()["configurable"][CONFIG_KEY_CHECKPOINT_NS], 0)
    json_schema = TypeAdapter(schema).json_schema()
    raise GraphInterrupt((Interrupt(value=value, id=pause_id, response_schema=json_schema),))


class ReviewedToolsMiddleware(HumanInTheLoopMiddleware):
    """``HumanInTheLoopMiddleware`` in ``per_call`` mode that also says whom a pause waits for.

    Adds ``user`` (the conversation's owner, who alone may answer) and ``options``
    to each pause, announces pauses and decisions like every other workflow, and
    records each decision in ``reviews``.
    """

    state_schema = AssistantState

    def __init__(self) -> None:
        super().__init__(interrupt_on=REVIEWED, interrupt_mode="per_call")

    def before_agent(self, state: AssistantState, runtime: Any) -> dict[str, Any] | None:
        """Pin the assistant's settings at the conversation's first turn."""
        if state.get("settings"):
            return None
        return {"settings": dataclasses.asdict(runtime.context or Context())}

    def _tool_approval_request(self, request: ToolCallRequest, config: InterruptOnConfig):  # type: ignore[override]
        value = super()._tool_approval_request(request, config)
        owner = thread_owner(get_config())
        settings = request.state.get("settings") or dataclasses.asdict(Context())
        amount = request.tool_call["args"].get("amount")
        if (
            request.tool_call["name"] in MONEY_TOOLS
            and isinstance(amount, int | float)
            and abs(amount) > settings["approval_limit"]
        ):
            who = {"role": settings["reviewer_role"], "requester": owner}
        else:
            who = {"user": owner}
        allowed = config["allowed_decisions"]
        call = request.tool_call
        reviewer = who.get("role") or "you"
        asks = f"The assistant wants to call **{call['name']}** with `{json.dumps(call['args'])}`"
        why = f"{call['name']} is reviewed before it runs; {reviewer} decides"
        editable = list(call["args"]) if "edit" in allowed else []
        inbox = human_interrupt(f"Run {call['name']}", dict(call["args"]),
                                markdown(asks, why, None, []), allowed, editable)  # fmt: skip
        inbox["config"]["allow_respond"] = "reject" in allowed
        return {**inbox, **value, **who, "options": allowed}

    def _resolve_per_call(self, request: ToolCallRequest):  # type: ignore[override]
        call = request.tool_call
        if call["name"] not in self.interrupt_on:
            return super()._resolve_per_call(request)
        config = self.interrupt_on[call["name"]]
        user = current_user(get_config())
        try:
            try:
                resolved = super()._resolve_per_call(request)
            except ValidationError as exc:
                # Refused before anything was saved: ask again, saying what was wrong.
                value = self._tool_approval_request(request, config)
                value["error"] = f"invalid answer: {describe_error(exc)}"
                schema = _decision_schema(config["allowed_decisions"], call["name"], request.tool)
                _ask_again(value, schema)
        except GraphInterrupt as paused:
            announce(paused, paused.args[0][0].value)
            raise
        if isinstance(resolved, ToolMessage):
            decision = "reject"
        else:
            decision = "approve" if resolved[1] is None else "edit"
        pause = self._tool_approval_request(request, config)
        if user is not None and (error := refusal(pause, *user, decision in APPROVING)):
            # The server refuses such an answer before storing it (server.guard); reaching
            # this means a path around it, so fail the run rather than move money.
            raise PermissionError(f"{call['name']} review refused: {error}")
        approver = user[0] if user else None
        events.emit(events.Decided(approver))
        _decided.set(
            audit_entry(
                1,
                pause.get("role") or "owner",
                decision,
                approver,
                note=f"{call['name']} {call['id']}",
                changes=resolved[1]["args"] if decision == "edit" else None,
            )
        )
        return resolved

    def _with_review(self, result: ToolMessage | Command) -> ToolMessage | Command:
        entry = _decided.get()
        if entry is None or not isinstance(result, ToolMessage):
            return result
        _decided.set(None)
        return Command(update={"messages": [result], "reviews": [entry]})

    def wrap_tool_call(self, request: ToolCallRequest, handler: Callable) -> ToolMessage | Command:
        """Review the call, run it, and record the decision."""
        _decided.set(None)
        return self._with_review(super().wrap_tool_call(request, handler))

    async def awrap_tool_call(
        self, request: ToolCallRequest, handler: Callable[..., Awaitable]
    ) -> ToolMessage | Command:
        """Async variant of :meth:`wrap_tool_call`."""
        _decided.set(None)
        return self._with_review(await super().awrap_tool_call(request, handler))


@wrap_model_call
async def configured_model(request: ModelRequest, handler: Callable) -> Any:
    """Call the model the environment configures, chosen at call time (never at import)."""
    return await handler(request.override(model=get_chat_model()))


def build_agent(checkpointer: BaseCheckpointSaver | None = None):
    """Return the compiled assistant (the server supplies the checkpointer when served)."""
    return create_agent(
        model=OfflineChatModel(),  # replaced on every call by `configured_model`
        tools=[lookup_policy, file_expense, pay, refund],
        system_prompt=SYSTEM_PROMPT,
        middleware=[configured_model, ReviewedToolsMiddleware()],
        context_schema=Context,
        checkpointer=checkpointer,
        name="Expense Assistant",
    )


graph = build_agent()
