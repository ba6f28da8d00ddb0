"""The assistant in process: offline model, per-call tool reviews, the ledger."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from langchain_core.messages import HumanMessage, ToolMessage
from langgraph.types import Command

from graphs import payments
from graphs.assistant.graph import build_graph
from graphs.assistant.middleware import Context
from graphs.common.contract import Pause
from graphs.llm import ModelConfigError, OfflineChatModel, get_chat_model

pytestmark = pytest.mark.usefixtures("offline")


@pytest.fixture
def agent(checkpointer):
    return build_graph().compile(checkpointer=checkpointer)


def run(agent, thread, value):
    return asyncio.run(agent.ainvoke(value, thread))


def say(text):
    return {"messages": [{"role": "user", "content": text}]}


def pauses(result):
    return {i.value["name"]: i for i in result["__interrupt__"]}


def tool_messages(result):
    return [m for m in result["messages"] if isinstance(m, ToolMessage)]


def test_safe_tool_runs_without_review(agent, thread):
    result = run(agent, thread, say("what is the expense policy?"))
    assert "__interrupt__" not in result
    assert "auto-approved" in tool_messages(result)[0].content
    assert result["messages"][-1].content.startswith("Done.")


def test_reviewed_call_pauses_with_schema_and_options(agent, thread):
    result = run(agent, thread, say("pay 40 to acme"))
    pause = pauses(result)["pay"]
    assert pause.value["type"] == "tool_approval"
    assert pause.value["args"] == {"amount": 40.0, "recipient": "acme"}
    assert pause.value["options"] == ["approve", "reject"]
    schema_types = {
        m["properties"]["type"]["const"]
        for m in pause.response_schema["$defs"].values()
        if "type" in m.get("properties", {})
    }
    assert schema_types == {"approve", "reject"}
    assert payments.ledger_count() == 0  # nothing moved before the review


def owned_by(owner):
    """A thread config as the server builds it: the owner stamped in metadata."""
    return {"configurable": {"thread_id": str(uuid.uuid4())}, "metadata": {"owner": owner}}


def reviews_of(result):
    return {name: Pause.read(i.value) for name, i in pauses(result).items()}


def test_tool_reviews_say_who_asks_what(agent):
    result = run(agent, owned_by("alice"), say("pay 40 to acme and refund 25 to bob"))
    found = reviews_of(result)
    assert found["pay"].headline == "alice asks to pay 40.00 to acme"
    assert found["refund"].headline == "alice asks to refund 25.00 to bob"
    for name, pause in found.items():
        value = pauses(result)[name].value
        assert pause.type == "tool_approval" and pause.user == "alice"
        assert value["description"].splitlines()[0] == pause.headline  # plain list row
        assert "**" not in pause.headline
        assert [(f.label, f.money) for f in pause.fields] == [
            ("Amount", True),
            ("Recipient", False),
        ]
        assert "- **Answers:** approve approves; reject rejects" in value["description"]
        assert "Tool execution requires approval" not in value["description"]


def test_similar_calls_read_differently(agent):
    found = pauses(run(agent, owned_by("alice"), say("pay 40 to acme")))
    other = pauses(run(agent, owned_by("alice"), say("pay 41 to acme")))
    first, second = Pause.read(found["pay"].value), Pause.read(other["pay"].value)
    assert first.headline != second.headline
    assert found["pay"].value["action_request"]["action"] == "Pay 40.00 to acme"
    assert other["pay"].value["action_request"]["action"] == "Pay 41.00 to acme"


def test_why_names_the_configured_limit_and_role(agent):
    context = Context(approval_limit=1_500.0, reviewer_role="finance")
    result = asyncio.run(agent.ainvoke(say("pay 2000 to ACME"), owned_by("alice"), context=context))
    pause = reviews_of(result)["pay"]
    assert pause.headline == "alice asks to pay 2,000.00 to ACME"
    assert pause.why == "2,000.00 > limit 1,500.00: needs finance approval"
    assert (pause.role, pause.user, pause.requester) == ("finance", None, "alice")
    assert f"- **Why:** {pause.why}" in pauses(result)["pay"].value["description"]

    within = reviews_of(
        asyncio.run(agent.ainvoke(say("pay 1500 to ACME"), owned_by("alice"), context=context))
    )["pay"]
    assert within.why == "1,500.00 within limit 1,500.00: no finance approval needed, alice decides"
    assert (within.role, within.user, within.requester) == (None, "alice", None)


def test_why_counts_what_the_owner_already_moved(agent):
    result = run(agent, owned_by("alice"), say("pay 800 to acme and pay 300 to bob"))
    whys = sorted(Pause.read(i.value).why for i in result["__interrupt__"])
    assert whys == [
        "300.00 plus what alice already moved > limit 1,000.00: needs manager approval",
        "800.00 within limit 1,000.00: no manager approval needed, alice decides",
    ]


def test_a_filing_is_reviewed_by_its_owner_and_editable(agent):
    pause = reviews_of(run(agent, owned_by("alice"), say("file 300 for hotel")))["file_expense"]
    assert pause.headline == "alice asks to file an expense of 300.00 for hotel"
    assert pause.why == "it acts in alice's name: alice decides"
    assert pause.options == ["approve", "edit", "reject"]
    assert pause.editable == ["amount", "description"]
    assert pause.request == {"amount": 300.0, "description": "hotel"}


def test_approve_runs_the_tool_once(agent, thread):
    pause = pauses(run(agent, thread, say("pay 40 to acme")))["pay"]
    result = run(agent, thread, Command(resume={pause.id: {"type": "approve"}}))
    assert "success" in tool_messages(result)[0].content
    assert payments.ledger_count() == 1
    assert [(r["decision"], r["approver"]) for r in result["reviews"]] == [("approve", None)]


def test_edit_runs_the_edited_call(agent, thread):
    pause = pauses(run(agent, thread, say("file 300 for hotel")))["file_expense"]
    assert pause.value["options"] == ["approve", "edit", "reject"]
    edited = {"name": "file_expense", "args": {"amount": 250, "description": "hotel, 2 nights"}}
    result = run(
        agent, thread, Command(resume={pause.id: {"type": "edit", "edited_action": edited}})
    )
    (message,) = tool_messages(result)
    assert "Filed expense 250.00 'hotel, 2 nights'" in message.content
    assert "waiting for a manager" in message.content  # a real expense_approval run
    assert result["reviews"][0]["changes"] == edited["args"]


def test_reject_message_reaches_the_model(agent, thread):
    pause = pauses(run(agent, thread, say("refund 20 to bob")))["refund"]
    answer = {"type": "reject", "message": "refunds go through finance"}
    result = run(agent, thread, Command(resume={pause.id: answer}))
    (message,) = tool_messages(result)
    assert "refunds go through finance" in message.content
    assert "refunds go through finance" in result["messages"][-1].content
    assert payments.ledger_count() == 0


@pytest.mark.parametrize(
    "bad",
    [
        {"type": "edit", "edited_action": {"name": "pay", "args": {"amount": 1, "recipient": "x"}}},
        {"type": "edit", "edited_action": {"name": "refund", "args": {}}},
        {"type": "respond", "message": "pretend it ran"},
        {"type": "approved"},
        "yes",
        {},
    ],
    ids=repr,
)
def test_disallowed_or_malformed_answers_leave_the_call_pending(agent, thread, bad):
    pause = pauses(run(agent, thread, say("pay 40 to acme")))["pay"]
    result = run(agent, thread, Command(resume={pause.id: bad}))
    again = pauses(result)["pay"]
    assert again.id == pause.id  # the same pause, still answerable
    assert again.value["error"].startswith("invalid answer:")
    assert payments.ledger_count() == 0 and not tool_messages(result)
    result = run(agent, thread, Command(resume={pause.id: {"type": "approve"}}))
    assert payments.ledger_count() == 1


def test_an_edit_cannot_switch_tools(agent, thread):
    pause = pauses(run(agent, thread, say("file 300 for hotel")))["file_expense"]
    renamed = {
        "type": "edit",
        "edited_action": {"name": "pay", "args": {"amount": 300, "recipient": "me"}},
    }
    result = run(agent, thread, Command(resume={pause.id: renamed}))
    assert "file_expense" in pauses(result)
    assert payments.ledger_count() == 0


def test_two_reviewed_calls_in_one_turn(agent, thread):
    found = pauses(run(agent, thread, say("file 300 for hotel and pay 40 to acme")))
    assert set(found) == {"file_expense", "pay"}
    result = run(agent, thread, Command(resume={found["pay"].id: {"type": "approve"}}))
    assert set(pauses(result)) == {"file_expense"}
    result = run(agent, thread, Command(resume={found["file_expense"].id: {"type": "reject"}}))
    assert "__interrupt__" not in result
    assert sorted(r["decision"] for r in result["reviews"]) == ["approve", "reject"]


def test_offline_model_is_stateless_and_binds_tools():
    model = OfflineChatModel()
    assert model.bind_tools([]) is model
    first = model.invoke([HumanMessage("pay 5 to x")])
    second = model.invoke([HumanMessage("pay 5 to x")])
    assert (
        [c["name"] for c in first.tool_calls] == [c["name"] for c in second.tool_calls] == ["pay"]
    )


def test_provider_selection(monkeypatch):
    assert isinstance(get_chat_model(), OfflineChatModel)
    monkeypatch.setenv("OPENAI_API_KEY", "k")
    assert type(get_chat_model()).__name__ == "ChatOpenAI"
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9")
    monkeypatch.setenv("DIAL_API_KEY", "k")
    model = get_chat_model()
    assert type(model).__name__ == "AzureChatOpenAI"
    assert model.deployment_name == "gpt-4" and model.openai_api_version == "2024-02-01"


def test_missing_key_names_the_variable(monkeypatch):
    monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", "http://127.0.0.1:9")
    with pytest.raises(ModelConfigError, match="DIAL_API_KEY"):
        get_chat_model()


def test_private_api_use_goes_through_the_fence():
    # The versions themselves: tests/unit/test_fence.py (tool-review-hooks, interrupt-id).
    from graphs.assistant import middleware
    from graphs.common import fence

    assert not hasattr(middleware, "SUPPORTED") and not hasattr(middleware, "versions")
    assert middleware._decision_schema is fence.decision_schema
    assert middleware._interrupt_id is fence.interrupt_id
    for name in ("tool-review-hooks", "interrupt-id"):
        assert fence.finding(name).status == "ok", fence.finding(name).line()
