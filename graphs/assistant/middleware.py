"""Tool-call reviews: langchain's ``HumanInTheLoopMiddleware`` in ``per_call`` mode, extended.

It leans on private APIs, all reached through ``graphs/common/fence.py`` (entries
``tool-review-hooks`` and ``interrupt-id``, checked at start-up): it overrides the
middleware's ``_tool_approval_request`` and ``_resolve_per_call``, and uses
langchain's ``_decision_schema`` and langgraph's ``_interrupt_id`` /
``CONFIG_KEY_CHECKPOINT_NS`` through the fence's accessors.

What it adds: each pause is a :class:`~graphs.common.contract.Pause` built from
the tool's own argument model (:func:`review_of`): who asked, what the call does,
whom it waits for and why (the owner, or a manager for money past the owner's
limit, decided once per model message in ``after_model`` so that a pending pause
never changes hands), and what each answer does; langchain's own keys (``name``,
``args``, ``tool_call_id``) ride along. A refused answer re-raises the same pause
(same id) with an ``error`` instead of failing the run; every decision is recorded
in ``reviews`` and emitted as an event.
"""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import operator
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any, NoReturn, NotRequired

from langchain.agents import AgentState
from langchain.agents.middleware import HumanInTheLoopMiddleware, ModelRequest, wrap_model_call
from langchain.agents.middleware.human_in_the_loop import Action, InterruptOnConfig
from langchain.agents.middleware.types import OmitFromInput
from langchain_core.messages import ToolMessage
from langgraph.config import get_config
from langgraph.errors import GraphInterrupt
from langgraph.prebuilt.tool_node import ToolCallRequest
from langgraph.types import Command, Interrupt
from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError, with_config

from graphs.assistant.tools import MONEY_TOOLS, approved_by_role, manager_reviews, needs_manager
from graphs.common import events
from graphs.common.access import current_user, thread_owner, why_not_answerable
from graphs.common.audit import AuditEntry, audit_entry
from graphs.common.contract import Pause, as_text, fields_of
from graphs.common.decisions import APPROVING
from graphs.common.fence import CONFIG_KEY_CHECKPOINT_NS
from graphs.common.fence import decision_schema as _decision_schema
from graphs.common.fence import interrupt_id as _interrupt_id
from graphs.common.fields import Limit, describe_error
from graphs.common.pauses import announce
from graphs.llm import get_chat_model


@with_config(ConfigDict(use_attribute_docstrings=True))
@dataclass(kw_only=True)
class Context:
    """The assistant's settings (the deployment's: set on an assistant by an admin)."""

    approval_limit: Limit = 1_000.0
    """The most an owner moves without reviewer_role, per UTC day and per conversation
    (payments and refunds, with orders); calls past it are reviewed by reviewer_role."""

    reviewer_role: str = "manager"
    """Who reviews money moved above the limit."""

    model: str = "auto"
    """The chat model: auto (what the environment configures, graphs/llm.py),
    offline, openai:<model> or azure:<deployment>."""


class Reviewed(InterruptOnConfig):
    """How a tool's calls are reviewed: langchain's settings, and what a call does."""

    does: str
    """What a call does, from its fields as shown (money formatted): "pay {amount} to
    {recipient}". The first line of its pause is "<owner> asks to <does>"."""


REVIEWED: dict[str, Reviewed] = {
    "file_expense": {
        "allowed_decisions": ["approve", "edit", "reject"],
        "does": "file an expense of {amount} for {description}",
    },
    "pay": {"allowed_decisions": ["approve", "reject"], "does": "pay {amount} to {recipient}"},
    "refund": {
        "allowed_decisions": ["approve", "reject"],
        "does": "refund {amount} to {recipient}",
    },
}


class _Texts(dict[str, str]):
    """A call's fields as text, for :attr:`Reviewed.does`; a field the call lacks shows "?"."""

    def __missing__(self, key: str) -> str:
        return "?"


def review_of(request: ToolCallRequest, config: Reviewed) -> Pause:
    """The pause about one reviewed tool call, read from the tool's own argument model.

    The tool's argument model (``tool_call_schema``: the arguments the model sends)
    gives the fields, their labels and which one is money. A call the owner reviews
    names no requester: the owner answers their own assistant's call. One a manager
    reviews names the owner as its requester, who therefore cannot approve it.

    Raises:
        ValueError: The tool has no pydantic argument model to show.
    """
    call, tool = request.tool_call, request.tool
    model = tool.tool_call_schema if tool is not None else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ValueError(f"reviewed tool {call['name']!r} has no pydantic argument model")
    owner = thread_owner(get_config())
    settings = request.state.get("settings") or dataclasses.asdict(Context())
    manager = needs_manager(request.state, call, settings["approval_limit"])
    fields = fields_of(model, call["args"])
    does = config["does"].format_map(_Texts({f.name: f.text() for f in fields}))
    amount = next((f.value for f in fields if f.money), None)
    allowed = config["allowed_decisions"]
    return Pause.about(
        model,
        {**call["args"], "requester": owner if manager else None},
        type="tool_approval",
        action=does[:1].upper() + does[1:],
        headline=f"{owner or 'Someone'} asks to {does}",
        why=why_reviewed(call["name"] in MONEY_TOOLS, amount, manager, owner, settings),
        options=list(allowed),
        editable=model if "edit" in allowed else None,
        **({"role": settings["reviewer_role"]} if manager else {"user": owner}),
    )


def why_reviewed(
    money: bool, amount: Any, manager: bool, owner: str | None, settings: dict[str, Any]
) -> str:
    """Why a call waits for whom it waits for: the limit and the role it applies.

    Args:
        money: Whether the call moves money (the limit applies).
        amount: The call's amount of money, as the model sent it.
        manager: Whether the reviewer role decides (:func:`needs_manager`).
        owner: The conversation's owner.
        settings: The conversation's pinned :class:`Context`.
    """
    role, owner = settings["reviewer_role"], owner or "the owner"
    shown, limit = as_text(amount, money=True), as_text(settings["approval_limit"], money=True)
    if not money:
        return f"it acts in {owner}'s name: {owner} decides"
    if not manager:
        return f"{shown} within limit {limit}: no {role} approval needed, {owner} decides"
    if isinstance(amount, int | float) and amount > settings["approval_limit"]:
        return f"{shown} > limit {limit}: needs {role} approval"
    return f"{shown} plus what {owner} already moved > limit {limit}: needs {role} approval"


class AssistantState(AgentState):
    """The conversation, plus who decided on each reviewed tool call.

    ``reviews`` and ``settings`` are the workflow's own: omitted from the graph's
    input, so no client can send them (the input is ``messages``, see ``Request``).
    """

    reviews: NotRequired[Annotated[list[AuditEntry], OmitFromInput, operator.add]]
    """Append-only trail of tool-call reviews."""

    settings: NotRequired[Annotated[dict[str, Any], OmitFromInput]]
    """The assistant's ``Context``, pinned at the conversation's first turn."""

    manager_reviews: NotRequired[Annotated[dict[str, bool], OmitFromInput]]
    """For the last model message's money calls: whether a manager reviews each
    (tool_call_id -> true), decided once when the message arrived (``after_model``)."""


_decided: contextvars.ContextVar[AuditEntry | None] = contextvars.ContextVar(
    "hitl_tool_review", default=None
)


def announce_and_ask_again(value: dict[str, Any], schema: Any) -> NoReturn:
    """:func:`_ask_again`, announced like every pause (outside the announcing ``try``)."""
    try:
        _ask_again(value, schema)
    except GraphInterrupt as paused:
        announce(paused, value)
        raise


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
    """``HumanInTheLoopMiddleware`` in ``per_call`` mode whose pauses are the contract's.

    Each pause is :func:`review_of` the call (langchain's keys kept alongside), so it
    says who asked, what the call does and whom it waits for; pauses and decisions
    are announced like every other workflow's, and each decision recorded in ``reviews``.
    """

    state_schema = AssistantState  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__(interrupt_on=dict(REVIEWED), interrupt_mode="per_call")

    def before_agent(self, state: AssistantState, runtime: Any) -> dict[str, Any] | None:  # type: ignore[override]
        """Pin the assistant's settings at the conversation's first turn."""
        if state.get("settings"):
            return None
        return {"settings": dataclasses.asdict(runtime.context or Context())}

    def after_model(self, state: AssistantState, runtime: Any) -> dict[str, Any] | None:  # type: ignore[override]
        """Decide once which of the new message's money calls a manager reviews.

        Decided here, in its own step, rather than when each pause is asked: a pause
        is asked again on every resume, and by then the owner's total has moved, so
        whom it waits for could change under a pending answer.
        """
        messages = state.get("messages") or []
        last = messages[-1] if messages else None
        calls = [c for c in getattr(last, "tool_calls", None) or [] if c["name"] in MONEY_TOOLS]
        if not calls:
            return None
        config = get_config()
        settings = state.get("settings") or dataclasses.asdict(Context())
        thread_id = (config.get("configurable") or {}).get("thread_id")
        limit = settings["approval_limit"]
        return {"manager_reviews": manager_reviews(calls, thread_owner(config), thread_id, limit)}

    async def aafter_model(self, state: AssistantState, runtime: Any) -> dict[str, Any] | None:  # type: ignore[override]
        """Async variant of :meth:`after_model` (the ledger is read off the event loop)."""
        return await asyncio.to_thread(self.after_model, state, runtime)

    def _tool_approval_request(  # type: ignore[override]
        self, request: ToolCallRequest, config: Reviewed, error: str | None = None
    ) -> dict[str, Any]:
        pause = review_of(request, config)
        if error:
            pause = pause.model_copy(update={"error": error})
        # langchain writes its own description ("Tool execution requires approval")
        # unless the tool's config brings one: give it the pause's, so both say the same.
        described = InterruptOnConfig(
            allowed_decisions=config["allowed_decisions"], description=pause.markdown()
        )
        return pause.payload(**super()._tool_approval_request(request, described))

    def _resolve_per_call(
        self, request: ToolCallRequest
    ) -> tuple[ToolCallRequest, Action | None] | ToolMessage:
        call = request.tool_call
        if call["name"] not in REVIEWED:
            return super()._resolve_per_call(request)
        config = REVIEWED[call["name"]]
        user = current_user(get_config())
        try:
            try:
                resolved = super()._resolve_per_call(request)
            except ValidationError as exc:
                # Refused before anything was saved: ask again, saying what was wrong.
                error = f"invalid answer: {describe_error(exc)}"
                value = self._tool_approval_request(request, config, error)
                schema = _decision_schema(config["allowed_decisions"], call["name"], request.tool)
                _ask_again(value, schema)
        except GraphInterrupt as paused:
            announce(paused, paused.args[0][0].value)
            raise
        if isinstance(resolved, ToolMessage):
            decision, edited = "reject", None
        else:
            edited = resolved[1]
            decision = "approve" if edited is None else "edit"
        pause = review_of(request, config)
        approves = decision in APPROVING
        refused = why_not_answerable(pause.model_dump(), *user, approves) if user else None
        if refused:
            # The server refuses such an answer before storing it (server.guard); reaching
            # this means a path around it. Ask again rather than fail: a failed run keeps
            # the answer next to its error, and a later replay would act on it.
            value = self._tool_approval_request(request, config, f"answer refused: {refused}")
            schema = _decision_schema(config["allowed_decisions"], call["name"], request.tool)
            announce_and_ask_again(value, schema)
        approver = user[0] if user else None
        # The ledger counts the money as reviewed only on this evidence: a signed-in user
        # of the reviewing role approved it (not a replay, not the owner's own review).
        reviewing_role = pause.role if approves else None
        approved_by_role.set(reviewing_role if user and user[1] == reviewing_role else None)
        events.emit(events.Decided(approver))
        _decided.set(
            audit_entry(
                1,
                pause.role or "owner",
                decision,
                approver,
                note=f"{call['name']} {call['id']}",
                changes=edited["args"] if edited is not None else None,
            )
        )
        return resolved

    def _with_review(self, result: ToolMessage | Command[Any]) -> ToolMessage | Command[Any]:
        entry = _decided.get()
        if entry is None or not isinstance(result, ToolMessage):
            return result
        _decided.set(None)
        return Command(update={"messages": [result], "reviews": [entry]})

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        """Review the call, run it, and record the decision."""
        _decided.set(None)
        return self._with_review(super().wrap_tool_call(request, handler))

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        """Async variant of :meth:`wrap_tool_call`."""
        _decided.set(None)
        return self._with_review(await super().awrap_tool_call(request, handler))


@wrap_model_call
async def configured_model(request: ModelRequest, handler: Callable[..., Awaitable[Any]]) -> Any:
    """Call the model the environment configures, chosen at call time (never at import)."""
    context = request.runtime.context if request.runtime is not None else None
    return await handler(request.override(model=get_chat_model(getattr(context, "model", "auto"))))
