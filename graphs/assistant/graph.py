"""An expense assistant whose consequential tool calls a human approves, edits or rejects.

Built with langchain's ``create_agent`` and ``HumanInTheLoopMiddleware`` in
``per_call`` mode (``graphs/assistant/middleware.py``): one pause per reviewed
tool call, whose ``response_schema`` is the union of the decisions that tool
allows (an edit's tool name is pinned, so an edit cannot turn one tool into
another). A bad answer leaves the call pending and answerable.

- ``lookup_policy`` is safe and runs without review;
- ``file_expense`` (approve / edit / reject) starts a real ``expense_approval``
  workflow;
- ``pay`` and ``refund`` (approve / reject) go through the idempotent payment
  ledger (``graphs/assistant/tools.py``).

Each pause names whom it waits for: the conversation's owner, except for money
moved above the approval limit (``Context.approval_limit``, as for orders), which
a manager reviews (``Context.reviewer_role``) and the owner may not approve. The
limit is the deployment's: read from the assistant's configuration and pinned in
the conversation at its first turn. Each decision is recorded in ``reviews`` with
the signed-in user who made it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from langchain.agents import create_agent
from langgraph.graph.state import StateGraph
from pydantic import Field, model_validator

from graphs.assistant.middleware import Context, ReviewedToolsMiddleware, configured_model
from graphs.assistant.tools import file_expense, lookup_policy, pay, refund
from graphs.common.fields import StrictModel
from graphs.llm import OfflineChatModel

SYSTEM_PROMPT = (
    "You help employees with expenses. Use lookup_policy for questions about limits, "
    "file_expense to file an expense for approval, pay and refund to move money. "
    "A person reviews every filing and payment; if they reject one, explain and do not retry."
)


class UserMessage(StrictModel):
    """One message from the person in the conversation (LangChain's dict forms)."""

    role: Literal["user", "human"] | None = None
    type: Literal["human"] | None = None
    content: Annotated[str, Field(min_length=1, max_length=4_000)]
    id: str | None = None

    @model_validator(mode="after")
    def _from_a_person(self) -> UserMessage:
        if self.role is None and self.type is None:
            raise ValueError("a message needs role 'user' (or type 'human')")
        return self


class Request(StrictModel):
    """What a client sends the assistant: the person's new messages, nothing else.

    The assistant's own state (``reviews``, ``settings``) and messages from the
    model or a tool are never input: they would forge a review or a tool's result.
    """

    messages: Annotated[list[UserMessage], Field(min_length=1, max_length=20)]


def build_graph() -> StateGraph[Any, Any, Any, Any]:
    """Return the uncompiled assistant (``create_agent``'s graph, before compiling)."""
    agent = create_agent(
        model=OfflineChatModel(),  # replaced on every call by `configured_model`
        tools=[lookup_policy, file_expense, pay, refund],
        system_prompt=SYSTEM_PROMPT,
        middleware=[configured_model, ReviewedToolsMiddleware()],
        context_schema=Context,
        name="Expense Assistant",
    )
    return agent.builder


graph = build_graph().compile(name="Expense Assistant")
