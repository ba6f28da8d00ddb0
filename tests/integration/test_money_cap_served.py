"""Money is capped per requester, not per call, over a real ``langgraph dev``.

The test runs on a server of its own (``fresh_server``): the cap is per requester
and per day, so on the session's shared server what alice moved in earlier tests
would change whom her first payment waits for, and her 999 here would send the
small payments of later tests to a manager.
"""

from __future__ import annotations

import sqlite3

import httpx
import pytest
from langgraph_sdk import get_sync_client

from tests.conftest import TOKENS

pytestmark = pytest.mark.integration

ASK = "assistant"
SPLIT = " and ".join(["pay 999 to mallory"] * 4)


def pending(client, thread_id):
    """The thread's pauses, in the order of the model's last tool calls."""
    thread = client.threads.get(thread_id)
    found = {
        i["value"]["tool_call_id"]: i for g in (thread["interrupts"] or {}).values() for i in g
    }
    messages = client.threads.get_state(thread_id)["values"]["messages"]
    calls = next(m for m in reversed(messages) if m["type"] == "ai")["tool_calls"]
    return [found[c["id"]] for c in calls if c["id"] in found]


def addressed(pause):
    return {
        k: pause["value"][k]
        for k in ("user", "role", "requester")
        if pause["value"].get(k) is not None
    }


def approve(client, thread_id, *pauses):
    answers = {p["id"]: {"type": "approve"} for p in pauses}
    return client.runs.wait(thread_id, ASK, command={"resume": answers})


def charges(server):
    with sqlite3.connect(server.data_dir / "ledger.sqlite") as db:
        return db.execute("SELECT amount, requester, reviewed FROM charges").fetchall()


def test_a_split_payment_needs_a_manager_past_the_limit(fresh_server):
    alice, bob = (
        get_sync_client(url=fresh_server.url, headers={"Authorization": f"Bearer {TOKENS[u]}"})
        for u in ("alice", "bob")
    )
    thread_id = alice.threads.create(metadata={"graph_id": ASK})["thread_id"]
    alice.runs.wait(thread_id, ASK, input={"messages": [{"role": "user", "content": SPLIT}]})

    pauses = pending(alice, thread_id)
    owner, manager = {"user": "alice"}, {"role": "manager", "requester": "alice"}
    assert [addressed(p) for p in pauses] == [owner, manager, manager, manager]
    alone = sum(p["value"]["args"]["amount"] for p in pauses if addressed(p) == owner)
    assert alone == 999  # all alice may approve alone

    # alice may not approve the pieces past her limit: refused before anything is stored.
    for pause in pauses[1:]:
        with pytest.raises(httpx.HTTPStatusError) as refused:
            approve(alice, thread_id, pause)
        assert refused.value.response.status_code == 403
        assert "waits for manager" in refused.value.response.text
    assert charges(fresh_server) == []
    assert [p["id"] for p in pending(alice, thread_id)] == [p["id"] for p in pauses]

    approve(alice, thread_id, pauses[0])
    assert charges(fresh_server) == [(999, "alice", 0)]
    left = pending(bob, thread_id)  # still the manager's, unchanged
    assert [(p["id"], addressed(p)) for p in left] == [(p["id"], manager) for p in pauses[1:]]

    approve(bob, thread_id, *left)
    state = alice.threads.get_state(thread_id)
    assert alice.threads.get(thread_id)["status"] == "idle"
    tools = [m["content"] for m in state["values"]["messages"] if m["type"] == "tool"]
    assert len(tools) == 4 and all(": success (TXN-" in t for t in tools)
    approvers = sorted(r["approver"] for r in state["values"]["reviews"])
    assert approvers == ["alice", "bob", "bob", "bob"]

    # The ledger paid what was approved: 999 on alice's word, 3 x 999 on the manager's.
    paid = charges(fresh_server)
    assert sum(amount for amount, _, _ in paid) == 4 * 999
    assert sorted(paid) == [
        (999, "alice", 0),
        (999, "alice", 1),
        (999, "alice", 1),
        (999, "alice", 1),
    ]

    # A later message in the same conversation still counts the 999 alice moved alone.
    alice.runs.wait(
        thread_id, ASK, input={"messages": [{"role": "user", "content": "pay 5 to mallory"}]}
    )
    (later,) = pending(alice, thread_id)
    assert addressed(later) == manager
