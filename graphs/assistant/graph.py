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

from langchain.agents import create_agent
from langgraph.graph.state import StateGraph

from graphs.assistant.middleware import Context, ReviewedToolsMiddleware, configured_model
from graphs.assistant.tools import file_expense, lookup_policy, pay, refund
from graphs.llm import OfflineChatModel

SYSTEM_PROMPT = (
    "You help employees with expenses. Use lookup_policy for questions about limits, "
    "file_expense to file an expense for approval, pay and refund to move money. "
    "A person reviews every filing and payment; if they reject one, explain and do not retry."
)


def build_graph() -> StateGraph:
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
