"""The CLI as a newcomer meets it in the first hour (issue 25), over a real server."""

from __future__ import annotations

import pytest

from tests.conftest import run_cli, submit_cli

pytestmark = pytest.mark.integration

LONG = "Standing desks for the whole third floor, delivered and assembled by Friday"


def test_a_url_without_a_scheme_is_http(server):
    proc = run_cli(server.url.removeprefix("http://"), "pending", user="bob")
    assert proc.returncode == 0, proc.stderr
    assert "is it running" not in proc.stderr


def test_a_thread_id_shortened_as_printed_names_the_thread(server, cli):
    thread_id = submit_cli(server.url, "expense_approval", 500, "Short ids").data["thread_id"]
    short = thread_id[:18]  # the millisecond and more: no other thread starts with it
    status = cli("status", f"{short}…", user="alice")
    assert status.returncode == 0, status.stderr
    assert status.stdout.startswith(f"thread {thread_id} [expense_approval] waiting")
    answered = cli("resume", f"{short}...", "approve", "--note", "ok", user="bob")
    assert answered.returncode == 0, answered.stderr
    assert f"thread {thread_id} [expense_approval] finished" in answered.stdout
    history = cli("history", short.replace("-", ""), user="alice")
    assert history.returncode == 0 and "approve by bob" in history.stdout
    # Only threads the caller can see are looked up: frank is another employee.
    hidden = cli("status", f"{short}…", user="frank")
    assert hidden.returncode == 1
    assert f"no thread you can see starts with {short}" in hidden.stderr
    assert "`hitl pending`" in hidden.stderr


def test_a_decision_the_step_does_not_offer_is_refused_and_not_sent(server, cli):
    submitted = submit_cli(server.url, "expense_approval", 500, "No edits here").data
    thread_id, pause = submitted["thread_id"], submitted["interrupts"][0]["id"]
    proc = cli("resume", thread_id, "edit", "--amount", "400", user="bob")
    said = "error: invalid answer, not sent: this step offers approve or reject, not edit\n"
    assert proc.returncode == 1 and proc.stderr == said
    after = cli("status", thread_id, json_output=True, user="bob").data
    assert after["state"] == "waiting" and after["interrupts"][0]["id"] == pause
    assert cli("history", thread_id, json_output=True, user="alice").data == []


def test_pending_cuts_long_descriptions_with_an_ellipsis(server, cli):
    thread_id = submit_cli(server.url, "expense_approval", 750, LONG).data["thread_id"]
    table = cli("pending", user="bob").stdout
    row = next(line for line in table.splitlines() if line.startswith(thread_id))
    assert LONG not in row and "Standing desks for the whole third floo…" in row


def test_the_demo_prints_fields_not_python_dicts(cli):
    proc = cli("demo", "--approver-token", "dev-bob")
    assert proc.returncode == 0, proc.stderr
    assert "{'" not in proc.stdout and "answered {" not in proc.stdout
    assert "  decision: approved\n  note: Approved for Q4 conference\n" in proc.stdout
    assert "  amount: 2000.0\n  description: New laptop\n" in proc.stdout
