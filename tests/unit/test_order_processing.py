"""In-process tests of durable order processing: tasks, retries, idempotent ledger."""

from __future__ import annotations

import re
import time

import pytest
from langgraph.types import Command

from graphs import payments
from graphs.order_processing import PAYMENT_RETRY, build_graph, process_payment


@pytest.fixture(autouse=True)
def ledger(tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HITL_LEDGER_URL", raising=False)
    return tmp_path / "ledger.sqlite"


@pytest.fixture
def app(checkpointer):
    return build_graph().compile(checkpointer=checkpointer)


def faults(**kw):
    return {"gateway": kw}


def assert_paid(result):
    assert result["status"] == "paid"
    assert re.fullmatch(r"ORD-\d{5}", result["order_id"])
    assert result["payment_result"]["status"] == "success"
    assert re.fullmatch(r"TXN-\d{4}", result["payment_result"]["transaction_id"])
    assert payments.ledger_count(result["order_id"]) == 1


def test_retry_policy_is_the_seeds_and_sits_on_the_task():
    assert (PAYMENT_RETRY.max_attempts, PAYMENT_RETRY.initial_interval) == (3, 0.5)
    assert (PAYMENT_RETRY.backoff_factor, PAYMENT_RETRY.max_interval) == (2, 10)
    assert PAYMENT_RETRY.retry_on is payments.TransientGatewayError
    assert process_payment.retry_policy == (PAYMENT_RETRY,)


def test_seed_order(app, thread):
    result = app.invoke({"amount": 99.99, "order_id": "", "payment_result": {}}, thread)
    assert_paid(result)


def test_two_transient_failures_are_retried_with_backoff(app, thread):
    started = time.monotonic()
    result = app.invoke({"amount": 50}, thread, context=faults(transient_failures=2))
    assert time.monotonic() - started >= 0.5 + 1.0 - 0.1  # two backoffs; jitter only adds
    assert_paid(result)


def test_exhausted_retries_pause_then_retry_charges_once(app, thread):
    result = app.invoke({"amount": 50}, thread, context=faults(transient_failures=3))
    (pause,) = result["__interrupt__"]
    assert pause.value["type"] == "payment_failed"
    assert pause.value["options"] == ["retry", "cancel"]
    assert "gave up after 3 attempts" in pause.value["payment_error"]
    assert payments.ledger_count(result["order_id"]) == 0
    final = app.invoke(Command(resume={"decision": "retry"}), thread)
    assert_paid(final)
    assert final["order_id"] == pause.value["order_id"]


def test_exhausted_retries_then_cancel(app, thread):
    result = app.invoke({"amount": 50}, thread, context=faults(transient_failures=3))
    final = app.invoke(Command(resume={"decision": "cancel", "note": "customer called"}), thread)
    assert final["status"] == "cancelled"
    assert payments.ledger_count(result["order_id"]) == 0


def test_decline_is_not_retried(app, thread, monkeypatch):
    calls = []
    real = payments.charge
    monkeypatch.setattr(payments, "charge", lambda *a: calls.append(a) or real(*a))
    result = app.invoke({"amount": 50}, thread, context=faults(decline=True))
    assert len(calls) == 1
    assert result["status"] == "declined"
    assert "declined" in result["payment_error"]
    assert "__interrupt__" not in result
    assert payments.ledger_count(result["order_id"]) == 0


def test_crash_after_charge_is_not_charged_twice(app, thread):
    result = app.invoke({"amount": 75}, thread, context=faults(crash_after_charge=True))
    assert_paid(result)


def test_approval_pause_keeps_the_order_id_and_charges_once(app, thread):
    result = app.invoke({"amount": 5_000, "customer": "acme", "items": ["rack"]}, thread)
    (pause,) = result["__interrupt__"]
    assert pause.value["type"] == "order_approval"
    assert pause.value["amount"] == 5_000
    assert payments.ledger_count() == 0  # nothing charged before the decision
    bad = app.invoke(Command(resume={"decision": "sure"}), thread)
    assert bad["__interrupt__"][0].value["order_id"] == pause.value["order_id"]
    final = app.invoke(Command(resume={"decision": "approve", "approver": "bob"}), thread)
    assert_paid(final)
    assert final["order_id"] == pause.value["order_id"]
    assert final["decided_by"] == "bob"


def test_rejected_order_is_cancelled_and_not_charged(app, thread):
    result = app.invoke({"amount": 5_000}, thread)
    final = app.invoke(Command(resume={"decision": "reject", "note": "no"}), thread)
    assert final["status"] == "cancelled"
    assert payments.ledger_count(result["order_id"]) == 0


def test_a_resume_cannot_change_the_pinned_limit(app, thread):
    app.invoke({"amount": 500}, thread, context={"approval_limit": 100})
    final = app.invoke(
        Command(resume={"decision": "reject", "note": "no"}),
        thread,
        context={"approval_limit": 10_000},
    )
    assert final["status"] == "cancelled"


def test_ledger_returns_the_first_charge_for_a_repeated_key():
    first = payments.charge("k1", "ORD-00001", 10.0)
    assert payments.charge("k1", "ORD-00001", 10.0) == first
    assert payments.ledger_count("ORD-00001") == 1
    with pytest.raises(payments.IdempotencyConflict):
        payments.charge("k1", "ORD-00001", 11.0)


@pytest.mark.parametrize(
    ("values", "context", "field"),
    [
        ({"amount": "5"}, None, "amount"),
        ({"amount": 0}, None, "amount"),
        ({}, None, "amount"),
        ({"amount": 5, "items": "rack"}, None, "items"),
        ({"amount": 5}, {"approval_limit": -1}, "approval_limit"),
        ({"amount": 5}, faults(transient_failures=-1), "transient_failures"),
    ],
)
def test_invalid_input_fails_naming_the_field(app, thread, values, context, field):
    with pytest.raises(ValueError, match=f"invalid order_processing .*{field}"):
        app.invoke(values, thread, context=context)
