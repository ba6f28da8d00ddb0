"""The approval chain over a real ``langgraph dev``, driven through the CLI."""

from __future__ import annotations

import asyncio

import pytest

from sdk_client import ClientError, HitlClient
from tests.conftest import submit_cli

pytestmark = pytest.mark.integration


def submit(server, amount):
    extra = ("--category", "hardware")
    return submit_cli(server.url, "approval_chain", amount, "Data center racks", *extra).data


def current_pause(outcome):
    (interrupt,) = outcome["interrupts"]
    return interrupt["value"]


def test_three_levels_to_approval_through_the_cli(server, cli):
    outcome = submit(server, 25_000)
    thread_id = outcome["thread_id"]
    listed = cli("pending", "--graph", "approval_chain", user="bob")
    assert thread_id in listed.stdout and "manager (step 1 of 3)" in listed.stdout

    for role, approver in [("manager", "bob"), ("finance", "carol"), ("director", "dave")]:
        assert current_pause(outcome)["role"] == role
        proc = cli(
            "resume",
            thread_id,
            "approve",
            "--note",
            f"ok from {role}",
            "--as",
            approver,
            json_output=True,
            user=approver,
        )
        assert proc.returncode == 0, proc.stderr
        outcome = proc.data
    assert outcome["state"] == "finished"
    assert outcome["values"]["status"] == "approved"
    trail = cli("history", thread_id, json_output=True).data
    assert [(e["step"], e["role"], e["approver"]) for e in trail] == [
        (1, "manager", "bob"),
        (2, "finance", "carol"),
        (3, "director", "dave"),
    ]
    assert "director: approve by dave" in cli("history", thread_id).stdout


def test_edit_then_rejection_at_finance_through_the_cli(server, cli):
    outcome = submit(server, 800)
    thread_id = outcome["thread_id"]
    edited = cli(
        "resume",
        thread_id,
        "edit",
        "--amount",
        "4000",
        "--description",
        "Racks + UPS",
        "--note",
        "UPS was missing",
        "--as",
        "bob",
        json_output=True,
        user="bob",
    )
    assert edited.returncode == 0, edited.stderr
    value = current_pause(edited.data)
    assert value["role"] == "finance"
    assert value["request"]["amount"] == 4000 and value["request"]["description"] == "Racks + UPS"

    # alice (the requester, an employee) cannot answer a pause for finance at all.
    selfish = cli("resume", thread_id, "approve")
    assert selfish.returncode == 1
    assert "waits for finance; you are alice (employee)" in selfish.stderr
    forged = cli("resume", thread_id, "approve", "--as", "dave", user="carol")
    assert forged.returncode == 1 and "approver 'dave' is not you (carol)" in forged.stderr

    rejected = cli(
        "resume",
        thread_id,
        "reject",
        "--note",
        "Over budget",
        "--as",
        "carol",
        json_output=True,
        user="carol",
    )
    assert rejected.data["state"] == "finished"
    assert rejected.data["values"]["status"] == "rejected"
    trail = rejected.data["values"]["audit"]
    assert [(e["role"], e["decision"]) for e in trail] == [
        ("manager", "edit"),
        ("finance", "reject"),
    ]
    assert trail[0]["changes"] == {"amount": 4000, "description": "Racks + UPS"}

    late = cli("resume", thread_id, "approve", user="carol")
    assert late.returncode == 1 and "not waiting for a human" in late.stderr


def test_client_validates_against_the_pause_schema(server, cli):
    thread_id = submit(server, 500)["thread_id"]
    proc = cli(
        "resume",
        thread_id,
        "--value",
        '{"decision": "edit", "changes": {"amount": "lots"}}',
        user="bob",
    )
    assert proc.returncode == 1
    assert "invalid answer, not sent" in proc.stderr and "changes.amount" in proc.stderr
    bad_edit = cli("resume", thread_id, "edit", user="bob")
    assert bad_edit.returncode == 1 and "edit needs at least one change" in bad_edit.stderr


def test_a_manager_cannot_approve_their_own_request(server, cli):
    proc = submit_cli(server.url, "approval_chain", 500, "Monitor", user="bob")
    thread_id = proc.data["thread_id"]
    assert current_pause(proc.data)["request"]["requester"] == "bob"  # the token's user
    selfish = cli("resume", thread_id, "approve", user="bob")
    assert selfish.returncode == 1 and "you cannot approve your own request" in selfish.stderr
    assert cli("status", thread_id, json_output=True, user="bob").data["state"] == "waiting"


def test_racing_answers_record_one_decision(server):
    async def race():
        client = HitlClient(server.url, token="dev-alice")
        bob = HitlClient(server.url, token="dev-bob")
        outcome = await client.submit(
            "approval_chain", {"amount": 5_000, "description": "Race", "requester": "alice"}
        )
        answers = [{"decision": "approve"}, {"decision": "reject", "note": "no"}]
        results = await asyncio.gather(
            *(bob.resume(outcome.thread_id, a) for a in answers), return_exceptions=True
        )
        return results, await client.status(outcome.thread_id)

    results, final = asyncio.run(race())
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == 1 and isinstance(errors[0], ClientError), results
    assert len(final.values["audit"]) == 1
