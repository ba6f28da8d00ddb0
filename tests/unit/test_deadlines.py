"""Pause deadlines in process: expiry policies, early expiry refused."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from langgraph.types import Command

from graphs import approval_chain, expense_approval, order_processing, payments

SHORT = 0.0001  # hours: 0.36 s


@pytest.fixture(autouse=True)
def ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path))


def compile_(module, checkpointer):
    return module.build_graph().compile(checkpointer=checkpointer)


def pause_of(result):
    (interrupt,) = result["__interrupt__"]
    return interrupt.value


def wait_past(due_at):
    delay = (datetime.fromisoformat(due_at) - datetime.now(UTC)).total_seconds()
    time.sleep(max(0.0, delay) + 1.05)  # due_at has whole seconds


def test_every_pause_carries_a_due_time(checkpointer, thread):
    app = compile_(expense_approval, checkpointer)
    value = pause_of(app.invoke({"amount": 500, "description": "Hotel"}, thread))
    hours = (datetime.fromisoformat(value["due_at"]) - datetime.now(UTC)).total_seconds() / 3600
    assert 47.9 < hours <= 48


def test_expense_expires_rejected_by_system(checkpointer, thread):
    app = compile_(expense_approval, checkpointer)
    value = pause_of(
        app.invoke(
            {"amount": 500, "description": "Hotel"}, thread, context={"deadline_hours": SHORT}
        )
    )
    wait_past(value["due_at"])
    # A late human answer does not approve: the deadline has passed.
    final = app.invoke(Command(resume={"decision": "approve", "note": "sorry, late"}), thread)
    assert final["status"] == "rejected"
    assert final["approver_note"].startswith("Expired: no decision by")
    assert [(e["decision"], e["approver"]) for e in final["audit"]] == [("expire", "system")]


def test_expiry_cannot_be_claimed_early(checkpointer, thread):
    app = compile_(expense_approval, checkpointer)
    app.invoke({"amount": 500, "description": "Hotel"}, thread)
    value = pause_of(app.invoke(Command(resume={"decision": "expired"}), thread))
    assert "not due until" in value["error"]
    assert app.get_state(thread).values["status"] == "pending"


def test_a_refused_answer_does_not_extend_the_deadline(checkpointer, thread):
    app = compile_(expense_approval, checkpointer)
    first = pause_of(app.invoke({"amount": 500, "description": "Hotel"}, thread))
    time.sleep(1.1)
    second = pause_of(app.invoke(Command(resume="garbage"), thread))
    assert second["due_at"] == first["due_at"]


def test_chain_escalates_then_expires_at_the_last_level(checkpointer, thread):
    app = compile_(approval_chain, checkpointer)
    ctx = {"deadline_hours": SHORT}
    value = pause_of(
        app.invoke(
            {"amount": 5_000, "description": "Racks", "requester": "alice"}, thread, context=ctx
        )
    )
    assert value["role"] == "manager"
    wait_past(value["due_at"])
    value = pause_of(app.invoke(Command(resume={"decision": "expired"}), thread))
    assert value["role"] == "finance"  # escalated, with a fresh clock
    assert value["history"][0]["decision"] == "expire"
    wait_past(value["due_at"])
    final = app.invoke(Command(resume={"decision": "expired"}), thread)
    assert final["status"] == "rejected"
    assert [(e["role"], e["decision"], e["approver"]) for e in final["audit"]] == [
        ("manager", "expire", "system"),
        ("finance", "expire", "system"),
    ]


def test_chain_can_reject_on_expiry(checkpointer, thread):
    app = compile_(approval_chain, checkpointer)
    ctx = {"deadline_hours": SHORT, "on_expiry": "reject"}
    value = pause_of(
        app.invoke(
            {"amount": 5_000, "description": "Racks", "requester": "alice"}, thread, context=ctx
        )
    )
    wait_past(value["due_at"])
    final = app.invoke(Command(resume={"decision": "expired"}), thread)
    assert final["status"] == "rejected" and len(final["audit"]) == 1


def test_order_expires_cancelled_and_uncharged(checkpointer, thread):
    app = compile_(order_processing, checkpointer)
    value = pause_of(app.invoke({"amount": 5_000}, thread, context={"deadline_hours": SHORT}))
    wait_past(value["due_at"])
    final = app.invoke(Command(resume={"decision": "expired"}), thread)
    assert final["status"] == "cancelled" and final["decided_by"] == "system"
    assert "expired" in final["payment_error"]
    assert payments.ledger_count(value["order_id"]) == 0
