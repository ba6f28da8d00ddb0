"""Order processing over a real ``langgraph dev``, through the CLI."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture
def order(cli, assistant_for):
    """Submit an order through the CLI (``faults``: an admin-made assistant injecting them)."""

    def submit(amount, faults=None):
        args = ["submit", "--graph", "order_processing", "--amount", str(amount)]
        args += ["--customer", "acme"]
        if faults:
            args += ["--assistant", assistant_for("order_processing", gateway=faults)]
        proc = cli(*args, json_output=True)
        assert proc.returncode == 0, proc.stderr
        return proc.data

    return submit


def test_seed_order_is_paid_once(cli, order, ledger):
    outcome = order(99.99)
    values = outcome["values"]
    assert outcome["state"] == "finished" and values["status"] == "paid"
    assert re.fullmatch(r"ORD-\d{5}", values["order_id"])
    assert values["payment_result"]["status"] == "success"
    assert re.fullmatch(r"TXN-\d{4}", values["payment_result"]["transaction_id"])
    assert ledger(values["order_id"]) == 1


def test_transient_failures_are_retried(cli, order, ledger):
    values = order(40, {"transient_failures": 2})["values"]
    assert values["status"] == "paid"
    assert ledger(values["order_id"]) == 1


def test_exhausted_retries_go_to_a_human_then_retry(cli, order, ledger):
    outcome = order(30, {"transient_failures": 3})
    (pause,) = outcome["interrupts"]
    assert pause["value"]["type"] == "payment_failed"
    assert pause["value"]["options"] == ["retry", "cancel"]
    assert ledger(pause["value"]["order_id"]) == 0
    done = cli("resume", outcome["thread_id"], "retry", json_output=True, user="bob")
    assert done.returncode == 0, done.stderr
    assert done.data["values"]["status"] == "paid"
    assert ledger(pause["value"]["order_id"]) == 1


def test_decline_fails_clearly_without_retry(cli, order, ledger):
    values = order(20, {"decline": True})["values"]
    assert values["status"] == "declined"
    assert "declined" in values["payment_error"]
    assert ledger(values["order_id"]) == 0


def test_approval_then_resume_keeps_the_order_id(cli, order, ledger):
    outcome = order(5_000)
    order_id = outcome["interrupts"][0]["value"]["order_id"]
    assert ledger(order_id) == 0
    done = cli("resume", outcome["thread_id"], "approve", json_output=True, user="bob")
    assert done.data["values"]["order_id"] == order_id
    assert done.data["values"]["status"] == "paid"
    assert ledger(order_id) == 1
