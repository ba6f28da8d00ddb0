"""A workflow's fields as ``hitl`` flags, over a real server (issue 23).

``submit`` reads its flags against the graph's input schema and an edit against
the pending pause, so a workflow the CLI has never heard of works as it is.
"""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.integration


def submitted(cli, *flags: str) -> dict:
    proc = cli("submit", *flags, json_output=True, user="alice")
    assert proc.returncode == 0, proc.stderr
    return proc.data


def pending_row(cli, thread_id: str, user: str) -> str:
    table = cli("pending", user=user).stdout
    return next(line for line in table.splitlines() if line.startswith(thread_id))


def test_an_approval_chain_submitted_and_edited_with_its_fields_as_flags(cli):
    outcome = submitted(
        cli,
        "--graph",
        "approval_chain",
        "--amount",
        "5000",
        "--description",
        "Racks",
        "--category=hardware",
    )
    thread_id = outcome["thread_id"]
    request = outcome["interrupts"][0]["value"]["request"]
    assert request == {
        "amount": 5000,
        "description": "Racks",
        "requester": "alice",
        "category": "hardware",
    }
    row = pending_row(cli, thread_id, "bob")
    assert re.search(r"waiting for manager \(step 1 of 2\) +5,000\.00 +Racks +\d{4}-", row), row

    edited = cli("resume", thread_id, "edit", "--amount", "4000", "--note", "no UPS", user="bob")
    assert edited.returncode == 0, edited.stderr
    assert "waiting for finance (step 2 of 2)" in edited.stdout
    assert "    Amount: 4,000.00\n    Description: Racks\n    Category: hardware\n" in edited.stdout
    assert "options: approve, edit (--amount, --description), reject" in edited.stdout
    assert "4,000.00" in pending_row(cli, thread_id, "carol")
    (entry,) = cli("history", thread_id, json_output=True).data
    assert (entry["decision"], entry["changes"]) == ("edit", {"amount": 4000})


def test_an_unknown_field_or_a_bad_value_exits_2_naming_it_and_sends_nothing(cli, sdk):
    before = len(sdk.threads.search(limit=1000))
    unknown = cli("submit", "--graph", "approval_chain", "--amount", "5", "--colour", "red")
    assert unknown.returncode == 2
    assert unknown.stderr == (
        "error: --colour is not a field of approval_chain (these are: "
        "--amount, --description, --category)\n"
    )
    bad = cli("submit", "--graph", "approval_chain", "--amount", "lots", "--description", "x")
    assert bad.returncode == 2 and bad.stderr == "error: --amount takes a number, not 'lots'\n"
    assert len(sdk.threads.search(limit=1000)) == before

    outcome = submitted(cli, "--graph", "approval_chain", "--amount", "500", "--description", "x")
    thread_id, pause = outcome["thread_id"], outcome["interrupts"][0]["id"]
    fixed = cli("resume", thread_id, "edit", "--category", "misc", user="bob")
    assert fixed.returncode == 2
    assert fixed.stderr == (
        "error: --category is not a field this step lets you edit (these "
        "are: --amount, --description)\n"
    )
    after = cli("status", thread_id, json_output=True, user="bob").data
    assert after["state"] == "waiting" and after["interrupts"][0]["id"] == pause
    assert cli("history", thread_id, json_output=True).data == []


def test_submit_help_lists_a_graphs_fields_from_the_server(cli):
    said = cli("submit", "--graph", "approval_chain", "--help").stdout
    fields = said.split("approval_chain's fields")[1]
    assert re.search(r"--amount NUMBER +The amount asked for: .*\(required\)\n", fields)
    assert re.search(r"--category STRING +An optional category", fields)
    assert "--requester" not in fields  # the signed-in user, never a flag


def test_a_new_workflow_speaks_its_own_fields_with_no_change_to_the_cli(cli):
    outcome = submitted(
        cli, "--graph", "travel_request", "--destination", "Lisbon", "--cost", "2500"
    )
    thread_id = outcome["thread_id"]
    row = pending_row(cli, thread_id, "bob")
    assert re.search(r"waiting for manager \(step 1 of 2\) +2,500\.00 +Lisbon", row), row
    shown = cli("status", thread_id).stdout
    assert "    Destination: Lisbon\n    Cost: 2,500.00\n" in shown
    assert "edit (--destination, --cost)" in shown

    edited = cli("resume", thread_id, "edit", "--cost", "2400", "--note", "cheaper", user="bob")
    assert edited.returncode == 0, edited.stderr
    assert "waiting for finance (step 2 of 2)" in edited.stdout
    assert "Cost: 2,400.00" in edited.stdout
    assert "2,400.00" in pending_row(cli, thread_id, "carol")
    (entry,) = cli("history", thread_id, json_output=True).data
    assert entry["changes"] == {"cost": 2400}
    help_text = cli("submit", "--graph", "travel_request", "--help").stdout
    assert "--destination STRING" in help_text and "--cost NUMBER" in help_text
