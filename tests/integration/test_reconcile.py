"""After ``kill -9``, the server says what the checkpoints say (start-up reconciliation).

``langgraph dev`` writes its thread records every ~10 s. Decisions taken after its
last write, then a ``kill -9``: on restart every thread must show the status,
pauses and server-owned metadata of its latest checkpoint, before ``/ok``.
"""

from __future__ import annotations

import httpx
import pytest
from langgraph_sdk import get_sync_client

from graphs.common.access import addressee
from graphs.payments import ledger_count
from tests.conftest import TOKENS, eventually, run_cli

pytestmark = pytest.mark.integration

ROLE_USER = {"manager": "bob", "finance": "carol", "director": "dave"}


def sdk(server, user):
    return get_sync_client(url=server.url, headers={"Authorization": f"Bearer {TOKENS[user]}"})


def pauses(thread):
    return [i for group in (thread.get("interrupts") or {}).values() for i in group]


def submit(alice, graph, values):
    thread_id = alice.threads.create(metadata={"graph_id": graph})["thread_id"]
    alice.runs.wait(thread_id, graph, input=values)
    return thread_id


def answer(server, thread_id, graph, decision="approve"):
    """Answer the pending pause as whom it waits for; return (user, the pause id)."""
    thread = sdk(server, "alice").threads.get(thread_id)
    (pause,) = pauses(thread)
    user = ROLE_USER[pause["value"]["role"]]
    answer = {"decision": decision, **({"note": "not now"} if decision == "reject" else {})}
    sdk(server, user).runs.wait(thread_id, graph, command={"resume": answer})
    return user, pause["id"]


def wait_for_runtime_write(server):
    """Return right after the runtime wrote its records (it does every ~10 s)."""
    ops = server.root / ".langgraph_api" / ".langgraph_ops.pckl"
    eventually(ops.exists, timeout=30)
    written = ops.stat().st_mtime
    eventually(lambda: ops.stat().st_mtime != written, timeout=30, interval=0.05)


def agrees_with_checkpoint(server, thread_id):
    """The runtime's record of a thread against its latest checkpoint (as the owner)."""
    alice = sdk(server, "alice")
    thread, state = alice.threads.get(thread_id), alice.threads.get_state(thread_id)
    in_checkpoint = [i for task in state["tasks"] for i in task.get("interrupts", [])]
    expected_status = "interrupted" if in_checkpoint else "idle"
    assert thread["status"] == expected_status, (thread_id, thread["status"], state["next"])
    assert sorted(i["id"] for i in pauses(thread)) == sorted(i["id"] for i in in_checkpoint)
    waits = [addressee(i["value"]) for i in in_checkpoint]
    assert thread["metadata"].get("waiting_for") == (waits[0] if waits else None), thread_id
    assert thread["metadata"]["owner"] == "alice"
    return thread, state["values"]


@pytest.mark.parametrize("second_kill", [False, True], ids=["restart", "killed-during-recovery"])
def test_decisions_made_just_before_a_kill_9_are_what_the_server_shows(fresh_server, second_kill):
    server = fresh_server
    alice = sdk(server, "alice")
    expenses = [
        submit(alice, "expense_approval", {"amount": 5_000, "description": f"E{i}"})
        for i in range(4)
    ]
    chains = [
        submit(alice, "approval_chain", {"amount": 25_000, "description": f"C{i}"})
        for i in range(3)
    ]
    orders = [submit(alice, "order_processing", {"amount": 5_000}) for _ in range(3)]
    for level, chain in enumerate(chains):  # the chains wait at every level
        for _ in range(level):
            answer(server, chain, "approval_chain")
    wait_for_runtime_write(server)
    # Decided after the runtime's last write, within a second of the kill.
    decided = {}
    for thread_id in expenses[:3]:
        decided[thread_id] = answer(server, thread_id, "expense_approval")
    for thread_id in chains:
        decided[thread_id] = answer(server, thread_id, "approval_chain")
    decided[orders[0]] = answer(server, orders[0], "order_processing")
    decided[orders[1]] = answer(server, orders[1], "order_processing")
    decided[orders[2]] = answer(server, orders[2], "order_processing", "reject")
    server.kill()

    if second_kill:
        server.start(wait=False)
        eventually(lambda: "reconciling" in server.log_tail(400), timeout=60, interval=0.02)
        server.kill()
    server.start()
    alice = sdk(server, "alice")  # the restarted server listens on another port

    for thread_id in [*expenses, *chains, *orders]:
        agrees_with_checkpoint(server, thread_id)
    for role, user in ROLE_USER.items():  # nothing decided is listed as waiting
        listed = sdk(server, user).threads.search(
            status="interrupted", metadata={"waiting_for": role}, limit=100
        )
        expected = {"manager": {expenses[3]}, "finance": {chains[0]}, "director": {chains[1]}}
        assert {t["thread_id"] for t in listed} == expected[role], role
    for thread_id, (user, _) in decided.items():
        assert sdk(server, user).threads.get(thread_id)["thread_id"] == thread_id
        assert user in alice.threads.get(thread_id)["metadata"]["answered_by"]
    ledger = f"sqlite:///{server.data_dir / 'ledger.sqlite'}"
    for thread_id, charges in zip(orders, (1, 1, 0), strict=True):
        values = alice.threads.get_state(thread_id)["values"]
        assert ledger_count(values["order_id"], url=ledger) == charges
    # A second answer to a decided pause is refused as stale, by every client.
    thread_id = expenses[0]
    user, pause_id = decided[thread_id]
    again = {"resume": {pause_id: {"decision": "reject", "note": "again"}}}
    with pytest.raises(httpx.HTTPStatusError) as stale:
        sdk(server, user).runs.wait(thread_id, "expense_approval", command=again)
    assert stale.value.response.status_code == 409 and "stale" in stale.value.response.text
    proc = run_cli(server.url, "resume", thread_id, "reject", "--note", "again", user=user)
    assert proc.returncode == 1 and "not waiting for a human" in proc.stderr
    inbox = httpx.post(
        f"{server.url}/inbox/api/answer",
        json={"thread_id": thread_id, "interrupt_id": pause_id, "decision": "reject", "note": "x"},
        headers={"Authorization": f"Bearer {TOKENS[user]}"},
    )
    assert inbox.status_code == 409 and "already answered" in inbox.json()["error"]
    assert alice.threads.get_state(thread_id)["values"]["status"] == "approved"
