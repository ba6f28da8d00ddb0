"""LangChain's Agent Inbox, replayed: its requests as it sends them, on a real server.

Taken from its source (langchain-ai/agent-inbox): the credential goes as
``x-api-key`` (its "LangSmith API key" setting); it lists with
``threads.search({offset, limit, status: "interrupted", metadata: {graph_id}})``;
it shows a pause only if the interrupt value is a HumanInterrupt (its
``processInterruptedThread``); it answers with
``runs.stream(thread, graph_id, {command: {resume: [HumanResponse]}, streamMode: "events"})``
and never sends an interrupt id.
"""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.conftest import TOKENS

pytestmark = pytest.mark.integration

EXPENSE, CHAIN, ORDER, ASK = "expense_approval", "approval_chain", "order_processing", "assistant"


@pytest.fixture
def inbox(server):
    """Agent Inbox's client for a user: the token as its API key."""
    return lambda user: get_sync_client(url=server.url, api_key=TOKENS[user])


def submit(sdk, graph, values, assistant=None):
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    sdk.runs.wait(thread_id, assistant or graph, input=values)
    return thread_id


def listed(client, graph):
    """Agent Inbox's list: its search, then its HumanInterrupt check on every pause."""
    threads = client.threads.search(
        offset=0, limit=100, status="interrupted", metadata={"graph_id": graph}
    )
    found = {}
    for thread in threads:
        values = [i["value"] for group in (thread.get("interrupts") or {}).values() for i in group]
        assert values and all(is_human_interrupt(v) for v in values), values
        found[thread["thread_id"]] = values
    return found


def is_human_interrupt(value) -> bool:
    """What Agent Inbox accepts as a pause it can show and answer."""
    request, config = value.get("action_request"), value.get("config")
    return (
        isinstance(request, dict)
        and isinstance(request.get("action"), str)
        and isinstance(request.get("args"), dict)
        and isinstance(config, dict)
        and all(
            isinstance(config.get(f"allow_{k}"), bool)
            for k in ("accept", "edit", "respond", "ignore")
        )
        and isinstance(value.get("description"), str)
    )


def respond(client, thread_id, graph, kind, args=None):
    """Agent Inbox's answer: a stream of events, resuming with a list of one HumanResponse."""
    stream = client.runs.stream(
        thread_id,
        graph,
        command={"resume": [{"type": kind, "args": args}]},
        stream_mode="events",
    )
    return [part.event for part in stream]


def values_of(client, thread_id):
    return client.threads.get_state(thread_id)["values"]


def test_every_approval_pause_is_a_human_interrupt(sdk, inbox, assistant_for):
    expense = submit(sdk, EXPENSE, {"amount": 5_000, "description": "Fair"})
    chain = submit(sdk, CHAIN, {"amount": 25_000, "description": "Racks", "category": "it"})
    order = submit(sdk, ORDER, {"amount": 5_000, "customer": "acme", "items": ["rack"]})
    failing = assistant_for(ORDER, gateway={"transient_failures": 3})
    failed = submit(sdk, ORDER, {"amount": 50}, failing)
    bob = inbox("bob")
    (value,) = listed(bob, EXPENSE)[expense]
    assert value["action_request"] == {  # as text, as Agent Inbox shows and edits fields
        "action": "Approve expense",
        "args": {"amount": "5000", "description": "Fair", "requester": "alice"},
    }
    assert value["config"] == {
        "allow_accept": True,
        "allow_edit": False,
        "allow_respond": True,
        "allow_ignore": False,
    }
    assert value["description"] == "Fair"  # the seed's own field keeps its meaning
    (value,) = listed(bob, CHAIN)[chain]
    assert value["action_request"]["action"] == "Approve request: step 1 of 3 (manager)"
    assert value["action_request"]["args"] == {
        "amount": "25000",
        "description": "Racks",
        "requester": "alice",
        "category": "it",
    }
    assert value["config"]["allow_edit"] and value["editable"] == ["amount", "description"]
    assert value["description"].startswith(
        "alice asks for 25,000.00: Racks\n"
    )  # a plain first line
    assert "step 1 of 3" in value["description"] and "Due:" in value["description"]
    (value,) = listed(bob, ORDER)[order]
    assert value["action_request"]["args"]["items"] == '["rack"]'
    assert "customer" in value["action_request"]["args"]
    assert "order limit" in value["description"]
    (value,) = listed(bob, ORDER)[failed]
    assert value["action_request"]["action"] == "Payment failed: retry the charge?"
    assert "a response = cancel" in value["description"]


def test_accept_edit_and_response_are_answers(sdk, inbox, ledger, assistant_for):
    bob = inbox("bob")
    expense = submit(sdk, EXPENSE, {"amount": 5_000, "description": "Fair"})
    assert "error" not in respond(bob, expense, EXPENSE, "accept")
    done = values_of(bob, expense)
    assert done["status"] == "approved" and done["audit"][-1]["approver"] == "bob"

    rejected = submit(sdk, EXPENSE, {"amount": 5_000, "description": "Fair"})
    respond(bob, rejected, EXPENSE, "response", "Use the travel budget")
    done = values_of(bob, rejected)
    assert (done["status"], done["approver_note"]) == ("rejected", "Use the travel budget")

    chain = submit(sdk, CHAIN, {"amount": 500, "description": "Racks"})
    (value,) = listed(bob, CHAIN)[chain]
    edited = {**value["action_request"]["args"], "amount": "600"}  # a form sends text
    respond(
        bob, chain, CHAIN, "edit", {"action": value["action_request"]["action"], "args": edited}
    )
    done = values_of(bob, chain)
    assert done["status"] == "approved" and done["amount"] == 600
    assert [(e["decision"], e["approver"], e["changes"]) for e in done["audit"]] == [
        ("edit", "bob", {"amount": 600.0})
    ]

    order = submit(sdk, ORDER, {"amount": 5_000})
    respond(bob, order, ORDER, "accept")
    done = values_of(bob, order)
    assert done["status"] == "paid" and ledger(done["order_id"]) == 1

    failed = submit(
        sdk, ORDER, {"amount": 50}, assistant_for(ORDER, gateway={"transient_failures": 3})
    )
    respond(bob, failed, ORDER, "response", "Card expired: call the customer")
    done = values_of(bob, failed)
    assert done["status"] == "cancelled" and ledger(done["order_id"]) == 0


def test_an_edit_of_a_field_the_workflow_keeps_is_refused(sdk, inbox):
    bob = inbox("bob")
    chain = submit(sdk, CHAIN, {"amount": 500, "description": "Racks"})
    (value,) = listed(bob, CHAIN)[chain]
    edited = {**value["action_request"]["args"], "requester": "bob", "amount": "550"}
    with pytest.raises(httpx.HTTPStatusError) as refused:
        respond(bob, chain, CHAIN, "edit", {"action": "x", "args": edited})
    assert refused.value.response.status_code == 422
    assert "requester cannot be changed here" in refused.value.response.text
    assert (
        values_of(bob, chain)["amount"] == 500 and bob.threads.get(chain)["status"] == "interrupted"
    )


@pytest.mark.parametrize(
    "kind, args, words",
    [
        ("ignore", None, "ignore is not offered"),
        ("edit", {"action": "Approve expense", "args": {"amount": 1}}, "edit is not offered"),
        ("response", "", "a response needs its text"),
    ],
)
def test_what_a_pause_does_not_offer_is_refused_and_nothing_changes(sdk, inbox, kind, args, words):
    bob = inbox("bob")
    expense = submit(sdk, EXPENSE, {"amount": 5_000, "description": "Fair"})
    with pytest.raises(httpx.HTTPStatusError) as refused:
        respond(bob, expense, EXPENSE, kind, args)
    assert refused.value.response.status_code == 422 and words in refused.value.response.text
    thread = bob.threads.get(expense)
    assert thread["status"] == "interrupted" and values_of(bob, expense)["status"] == "pending"
    respond(bob, expense, EXPENSE, "accept")
    assert values_of(bob, expense)["status"] == "approved"


def test_a_requesters_own_accept_is_refused(inbox):
    bob = inbox("bob")  # a manager who asks for something himself
    expense = submit(bob, EXPENSE, {"amount": 5_000, "description": "My own laptop"})
    assert expense in listed(bob, EXPENSE)
    with pytest.raises(httpx.HTTPStatusError) as refused:
        respond(bob, expense, EXPENSE, "accept")
    assert refused.value.response.status_code == 403
    assert "you cannot approve your own request" in refused.value.response.text
    respond(bob, expense, EXPENSE, "response", "withdrawn")  # rejecting his own is his to do
    assert values_of(bob, expense)["status"] == "rejected"


def test_tool_reviews_as_far_as_the_format_allows(sdk, inbox, ledger):
    alice = inbox("alice")
    one = sdk.threads.create(metadata={"graph_id": ASK})["thread_id"]
    sdk.runs.wait(one, ASK, input={"messages": [{"role": "user", "content": "pay 40 to acme"}]})
    (value,) = listed(alice, ASK)[one]
    assert value["action_request"] == {
        "action": "Pay 40.00 to acme",
        "args": {"amount": "40", "recipient": "acme"},
    }
    assert value["config"]["allow_edit"] is False and value["config"]["allow_respond"] is True
    before = ledger()
    respond(alice, one, ASK, "accept")
    assert ledger() == before + 1 and alice.threads.get(one)["status"] == "idle"

    two = sdk.threads.create(metadata={"graph_id": ASK})["thread_id"]
    ask = "pay 40 to acme and refund 20 to bo"
    sdk.runs.wait(two, ASK, input={"messages": [{"role": "user", "content": ask}]})
    with pytest.raises(httpx.HTTPStatusError) as refused:
        respond(alice, two, ASK, "accept")  # Agent Inbox never names the pause
    assert refused.value.response.status_code == 409
    assert "2 pending pauses" in refused.value.response.text
    assert alice.threads.get(two)["status"] == "interrupted"
