"""``kill -9`` of the embedded server: every pause the client saw survives."""

from __future__ import annotations

import asyncio
import time

import pytest
from langgraph_sdk import get_sync_client

from graphs.payments import ledger_count
from server.recovery import read_checkpoints
from server.threads import checkpoint_pauses
from tests.conftest import run_cli

pytestmark = pytest.mark.integration


def hitl(server, *args, user="alice"):
    proc = run_cli(server.url, *args, json_output=True, user=user)
    assert proc.returncode == 0, proc.stderr
    return proc.data


def held_pauses_match_get_state(server, thread_ids):
    """Recovery reads each thread's pauses from the checkpoint file: what get_state shows."""
    records = asyncio.run(read_checkpoints(server.data_dir / "checkpoints.sqlite"))
    sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
    for thread_id in thread_ids:
        shown = {p["id"] for p in checkpoint_pauses(sdk.threads.get_state(thread_id))}
        assert records[thread_id].pauses == shown, thread_id
    assert any(records[t].pauses for t in thread_ids)


def test_pauses_of_every_graph_survive_kill_9(fresh_server):
    server = fresh_server
    expense = hitl(server, "submit", "--amount", "500", "--description", "Conference ticket")
    chain = hitl(
        server,
        "submit",
        "--graph",
        "approval_chain",
        "--amount",
        "5000",
        "--description",
        "Racks",
    )
    order = hitl(server, "submit", "--graph", "order_processing", "--amount", "5000")
    order_id = order["interrupts"][0]["value"]["order_id"]
    chat = hitl(server, "chat", "pay 5 to acme")
    before = {o["thread_id"]: o["interrupts"] for o in (expense, chain, order, chat)}

    server.kill()  # well within the runtime's 10 s flush: it forgets these threads
    started = time.monotonic()
    server.start()
    print(f"restart with recovery: {time.monotonic() - started:.2f}s")

    waiting = {o["thread_id"]: o["interrupts"] for o in hitl(server, "pending")}
    assert waiting == before  # same threads, same interrupt ids and payloads
    held_pauses_match_get_state(server, list(before))
    bob_sees = {o["thread_id"] for o in hitl(server, "pending", user="bob")}
    assert bob_sees == set(before) - {chat["thread_id"]}  # restored with who they wait for
    sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
    metadata = sdk.threads.get(order["thread_id"])["metadata"]
    assert (metadata["graph_id"], metadata["owner"]) == ("order_processing", "alice")

    done = hitl(server, "resume", expense["thread_id"], "approve", "--note", "ok", user="bob")
    assert done["values"]["status"] == "approved"
    done = hitl(server, "resume", chain["thread_id"], "approve", user="bob")
    assert done["interrupts"][0]["value"]["role"] == "finance"
    done = hitl(server, "resume", chat["thread_id"], "approve")
    assert done["values"]["reviews"][0]["approver"] == "alice"
    held_pauses_match_get_state(server, list(before))  # answered, and the chain's next step
    done = hitl(server, "resume", order["thread_id"], "approve", user="bob")
    assert done["values"]["status"] == "paid"
    assert done["values"]["order_id"] == order_id
    assert ledger_count(order_id, url=f"sqlite:///{server.data_dir / 'ledger.sqlite'}") == 1


def test_runs_requeued_after_a_crash_do_not_run_twice(fresh_server):
    """A run caught running by the runtime's periodic write is re-queued after a crash
    with its original input; it had finished, so re-running it would start the order
    again (new order id, second charge). Recovery cancels it."""
    server = fresh_server
    admin = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-erin"})
    retrying = admin.assistants.create(
        "order_processing", context={"gateway": {"transient_failures": 2}}, name="retrying"
    )["assistant_id"]
    ops = server.root / ".langgraph_api" / ".langgraph_ops.pckl"
    deadline = time.monotonic() + 30
    while not ops.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    written = ops.stat().st_mtime
    while ops.stat().st_mtime == written:  # align with the 10 s write cycle
        time.sleep(0.05)
    time.sleep(8.5)
    sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
    thread_id = sdk.threads.create(metadata={"graph_id": "order_processing"})["thread_id"]
    result = sdk.runs.wait(thread_id, retrying, input={"amount": 60})  # runs ~2-3 s
    assert result["status"] == "paid"
    server.kill()
    server.start()
    log = server.log_tail(2000)
    assert "Retrying runs left running" in log  # the crash did leave the run re-queued
    assert "1 stale runs cancelled" in log
    time.sleep(3)  # time for a re-queued run to be picked up, were it not cancelled
    sdk = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
    values = sdk.threads.get_state(thread_id)["values"]
    assert values["order_id"] == result["order_id"]
    url = f"sqlite:///{server.data_dir / 'ledger.sqlite'}"
    assert ledger_count(url=url) == 1
