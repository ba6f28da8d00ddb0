"""Deadlines over a real ``langgraph dev``: the server's own sweeper expires pauses."""

from __future__ import annotations

import pytest

from tests.conftest import eventually, submit_cli

pytestmark = pytest.mark.integration

SHORT = {"deadline_hours": 0.0005}  # 1.8 s; the test server sweeps every second


def wait_for(cli, thread_id, predicate, timeout=30.0):
    def probe():
        outcome = cli("status", thread_id, json_output=True, user="alice").data
        return outcome if predicate(outcome) else None

    probe.__doc__ = f"thread {thread_id} in the expected state"
    return eventually(probe, timeout, interval=0.5)


def test_sweeper_expires_an_expense(cli, assistant_for):
    proc = cli(
        "submit",
        "--amount",
        "500",
        "--description",
        "Hotel",
        "--assistant",
        assistant_for("expense_approval", **SHORT),
        json_output=True,
    )
    assert proc.data["interrupts"][0]["value"]["due_at"]
    done = wait_for(cli, proc.data["thread_id"], lambda o: o["state"] == "finished")
    assert done["values"]["status"] == "rejected"
    assert [(e["decision"], e["approver"]) for e in done["values"]["audit"]] == [
        ("expire", "system")
    ]


def test_sweeper_escalates_the_chain(server, cli, assistant_for):
    short = assistant_for("approval_chain", **SHORT)
    proc = submit_cli(server.url, "approval_chain", 5000, "Racks", "--assistant", short)
    outcome = wait_for(cli, proc.data["thread_id"], lambda o: o["state"] == "finished", timeout=40)
    trail = [(e["role"], e["decision"], e["approver"]) for e in outcome["values"]["audit"]]
    assert trail == [("manager", "expire", "system"), ("finance", "expire", "system")]


def test_early_expiry_claims_are_refused(cli):
    proc = cli("submit", "--amount", "500", "--description", "Hotel", json_output=True)
    refused = cli(
        "resume", proc.data["thread_id"], "--value", '{"decision": "expired"}', user="bob"
    )
    assert refused.returncode == 1  # not in the pause's schema: the client refuses to send it
    assert cli("status", proc.data["thread_id"], json_output=True).data["state"] == "waiting"
