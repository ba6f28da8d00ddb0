"""The inbox's API over a real ``langgraph dev``: same auth, same checks as the client."""

from __future__ import annotations

import json

import httpx
import pytest
from langgraph_sdk.errors import APIStatusError

from tests.conftest import submit_cli

pytestmark = pytest.mark.integration


def api(server, path, user, **kwargs):
    headers = {"Authorization": f"Bearer dev-{user}"} if user else {}
    method = "POST" if "json" in kwargs else "GET"
    return httpx.request(
        method, f"{server.url}/inbox/api/{path}", headers=headers, timeout=60, **kwargs
    )


def test_page_is_public_but_its_api_is_not(server):
    page = httpx.get(f"{server.url}/inbox")
    assert page.status_code == 200 and "<title>Approvals inbox</title>" in page.text
    assert "http" not in page.text.replace("http-equiv", "")  # nothing loaded from elsewhere
    assert httpx.get(f"{server.url}/inbox/static/inbox.js").status_code == 200
    assert httpx.get(f"{server.url}/inbox/static/inbox.py").status_code == 404
    assert httpx.get(f"{server.url}/inbox/static/../auth.py").status_code in (401, 404)
    for path in ("me", "items", "history"):
        assert api(server, path, None).status_code == 401
    assert api(server, "answer", None, json={}).status_code == 401


def test_items_are_what_the_user_may_answer(server, cli):
    expense = cli("submit", "--amount", "455", "--description", "Inbox API", json_output=True)
    chain = submit_cli(server.url, "approval_chain", 20000, "Inbox API chain")
    bob = {i["thread_id"]: i for i in api(server, "items", "bob").json()}
    carol = {i["thread_id"] for i in api(server, "items", "carol").json()}
    assert expense.data["thread_id"] in bob and chain.data["thread_id"] in bob
    assert not {expense.data["thread_id"], chain.data["thread_id"]} & carol
    item = bob[chain.data["thread_id"]]
    assert item["options"] == ["approve", "edit", "reject"]
    assert item["editable"] == {"amount": 20000, "description": "Inbox API chain"}
    assert item["details"]["levels"] == ["manager", "finance", "director"]
    assert item["age_seconds"] >= 0 and item["due_at"]
    stamps = [i["waiting_since"] for i in bob.values()]
    assert stamps == sorted(stamps, reverse=True)  # newest first


def test_answers_are_validated_and_stale_items_say_so(server, cli):
    chain = submit_cli(server.url, "approval_chain", 700, "Validated")
    thread_id, pause_id = chain.data["thread_id"], chain.data["interrupts"][0]["id"]
    target = {"thread_id": thread_id, "interrupt_id": pause_id}
    bad = api(
        server, "answer", "bob", json={**target, "decision": "edit", "changes": {"amount": "a lot"}}
    )
    assert bad.status_code == 422 and "changes.amount" in bad.json()["error"]
    wrong_user = api(server, "answer", "carol", json={**target, "decision": "approve"})
    assert wrong_user.status_code in (404, 409)  # carol cannot even see it
    own = api(server, "answer", "alice", json={**target, "decision": "approve"})  # her own
    assert own.status_code == 403 and "nothing was applied" in own.json()["error"]
    edited = api(
        server, "answer", "alice", json={**target, "decision": "edit", "changes": {"amount": 1}}
    )
    assert edited.status_code == 403 and own.json()["kind"] == "auth"
    ok = api(server, "answer", "bob", json={**target, "decision": "reject", "note": "No"})
    assert ok.status_code == 200 and ok.json()["status"] == "rejected"
    assert ok.json()["state"] == "finished" and ok.json()["waiting_for"] is None
    stale = api(server, "answer", "bob", json={**target, "decision": "approve"})
    assert stale.status_code == 409 and "already answered" in stale.json()["error"]
    assert stale.json()["last"]["approver"] == "bob"  # who answered, and when
    assert stale.json()["last"]["decision"] == "reject" and stale.json()["last"]["at"]
    history = {h["thread_id"]: h for h in api(server, "history", "bob").json()}
    assert history[thread_id]["outcome"] == "rejected"
    assert history[thread_id]["audit"][0]["note"] == "No"


def shown(item):
    """An item's fields as people read them: label, text, money or not."""
    return [(f["label"], f["text"], f["money"]) for f in item["fields"]]


def test_items_say_what_an_approver_reads_first(server, cli):
    order = cli(
        "submit",
        "--graph",
        "order_processing",
        "--amount",
        "5000",
        "--customer",
        "Globex",
        json_output=True,
    )
    expense = cli("submit", "--amount", "1240.5", "--description", "Lunch", json_output=True)
    assert api(server, "me", "bob").json()["currency"] == "USD"
    items = {i["thread_id"]: i for i in api(server, "items", "bob").json()}
    item = items[order.data["thread_id"]]
    order_id = order.data["values"]["order_id"]
    assert item["title"] == "Order processing" and item["requester"] == "alice"
    assert item["headline"] == f"alice orders 5,000.00 ({order_id}) for Globex"
    assert item["amount"] == 5000 and item["summary"] == order_id
    order_fields = [("Order", order_id, False), ("Amount", "5,000.00", True)]
    assert shown(item) == [*order_fields, ("Customer", "Globex", False)]
    assert "**" not in json.dumps(item)  # not Agent Inbox's markdown
    item = items[expense.data["thread_id"]]
    assert (item["title"], item["amount"], item["summary"]) == ("Expense approval", 1240.5, "Lunch")
    assert item["headline"] == "alice asks for 1,240.50: Lunch"


def test_a_workflow_the_inbox_never_named_shows_its_own_fields(server, sdk):
    thread_id = sdk.threads.create()["thread_id"]
    sdk.runs.wait(thread_id, "travel_request", input={"destination": "Lisbon", "cost": 2500})
    (item,) = [i for i in api(server, "items", "bob").json() if i["thread_id"] == thread_id]
    assert item["headline"] == "alice asks for 2,500.00: Lisbon"
    assert shown(item) == [("Destination", "Lisbon", False), ("Cost", "2,500.00", True)]
    assert item["editable"] == {"destination": "Lisbon", "cost": 2500}
    assert item["details"]["levels"] == ["manager", "finance"]
    target = {"thread_id": thread_id, "interrupt_id": item["interrupt_id"]}
    no = api(server, "answer", "bob", json={**target, "decision": "reject", "note": "Too far"})
    assert no.status_code == 200 and no.json()["status"] == "rejected"
    (done,) = [h for h in api(server, "history", "alice").json() if h["thread_id"] == thread_id]
    assert done["headline"] == "alice asks for 2,500.00: Lisbon" and done["outcome"] == "rejected"
    assert shown(done) == [("Destination", "Lisbon", False), ("Cost", "2,500.00", True)]


def test_history_skips_what_it_cannot_show(server, sdk_as):
    alice = sdk_as("alice")
    empty = alice.threads.create()["thread_id"]  # no run yet: nothing to show
    with pytest.raises(APIStatusError) as refused:  # a typo never makes a broken thread
        alice.threads.create(metadata={"graph_id": "nope"})
    assert refused.value.status_code == 422 and "unknown graph 'nope'" in str(refused.value)
    history = api(server, "history", "alice")
    assert history.status_code == 200
    assert empty not in {h["thread_id"] for h in history.json()}
