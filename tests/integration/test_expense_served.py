"""The expense approval workflow over a real ``langgraph dev``: SDK and CLI."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time

import httpx
import pytest
from langgraph_sdk import get_sync_client

from scripts.devserver import ROOT, DevServer, free_port
from sdk_client import ClientError, HitlClient
from tests.conftest import run_cli

pytestmark = pytest.mark.integration

GRAPH = "expense_approval"


def start(sdk, values, assistant=None):
    thread = sdk.threads.create()
    result = sdk.runs.wait(thread["thread_id"], assistant or GRAPH, input=values, raise_error=False)
    return thread["thread_id"], result


def pending_interrupts(sdk, thread_id):
    thread = sdk.threads.get(thread_id)
    return thread["status"], [i for group in thread["interrupts"].values() for i in group]


def test_schemas_are_served_for_studio(sdk):
    (assistant,) = sdk.assistants.search(graph_id=GRAPH, metadata={"created_by": "system"})
    schemas = sdk.assistants.get_schemas(assistant["assistant_id"])
    assert {"amount", "description"} <= set(schemas["input_schema"]["properties"])
    assert {"status", "approver_note", "audit"} <= set(schemas["output_schema"]["properties"])
    assert "approval_threshold" in schemas["context_schema"]["properties"]


def test_seed_scenarios_over_the_sdk(sdk, sdk_as):
    bob = sdk_as("bob")
    _, small = start(
        sdk,
        {
            "amount": 50.0,
            "description": "Office supplies",
            "status": "pending",
            "approver_note": "",
        },
    )
    assert small["status"] == "approved"
    assert small["approver_note"] == "Auto-approved (under limit)"

    for amount, description, answer, status in [
        (
            500.0,
            "Conference ticket",
            {"decision": "approved", "note": "Approved for Q4 conference"},
            "approved",
        ),
        (
            2000.0,
            "New laptop",
            {"decision": "rejected", "note": "Use IT procurement process instead"},
            "rejected",
        ),
    ]:
        thread_id, _ = start(sdk, {"amount": amount, "description": description})
        thread_status, (interrupt,) = pending_interrupts(sdk, thread_id)
        assert thread_status == "interrupted"
        assert interrupt["value"]["type"] == "expense_approval"
        assert interrupt["value"]["amount"] == amount
        assert interrupt["value"]["description"] == description
        assert interrupt["value"]["options"] == ["approve", "reject"]
        assert interrupt["response_schema"]["required"] == ["decision"]
        final = bob.runs.wait(thread_id, GRAPH, command={"resume": answer})
        assert final["status"] == status
        assert final["approver_note"] == answer["note"]
        assert final["audit"][-1]["approver"] == "bob"
        assert sdk.threads.get(thread_id)["status"] == "idle"


def test_threshold_from_an_admin_made_assistant(sdk, assistant_for, cli):
    assistant = assistant_for(GRAPH, approval_threshold=1000)
    _, result = start(sdk, {"amount": 500, "description": "Hotel"}, assistant=assistant)
    assert result["status"] == "approved"
    proc = cli(
        "submit",
        "--amount",
        "500",
        "--description",
        "Hotel",
        "--assistant",
        assistant,
        json_output=True,
    )
    assert proc.data["values"]["status"] == "approved"
    listed = cli("assistant", "list", "--graph", GRAPH, json_output=True).data
    assert assistant in [a["assistant_id"] for a in listed]


@pytest.mark.parametrize(
    "bad", ["yes", 7, {"decision": "maybe"}, {"decision": "approve", "note": 3}], ids=repr
)
def test_bad_answer_keeps_the_thread_waiting(sdk, sdk_as, bad):
    bob = sdk_as("bob")
    thread_id, _ = start(sdk, {"amount": 500, "description": "Conference ticket"})
    (_, (before,)) = pending_interrupts(sdk, thread_id)
    with pytest.raises(httpx.HTTPStatusError) as refused:
        bob.runs.wait(thread_id, GRAPH, command={"resume": bad})
    assert refused.value.response.status_code == 422
    assert "invalid answer" in refused.value.response.text
    thread_status, (interrupt,) = pending_interrupts(sdk, thread_id)
    assert thread_status == "interrupted" and interrupt == before  # the same pause, untouched
    final = bob.runs.wait(
        thread_id, GRAPH, command={"resume": {"decision": "approve", "note": "ok"}}
    )
    assert final["status"] == "approved"


def test_invalid_input_is_refused_naming_the_field(sdk):
    with pytest.raises(httpx.HTTPStatusError) as refused:
        start(sdk, {"amount": -3, "description": "Refund?"})
    assert refused.value.response.status_code == 422
    assert "amount: Input should be greater than 0" in refused.value.response.text


def test_cli_demo_replays_the_seed(cli):
    proc = cli("demo", "--approver-token", "dev-bob", json_output=True)
    assert proc.returncode == 0, proc.stderr
    outcomes = [(o["values"]["status"], o["values"]["approver_note"]) for o in proc.data]
    assert outcomes == [
        ("approved", "Auto-approved (under limit)"),
        ("approved", "Approved for Q4 conference"),
        ("rejected", "Use IT procurement process instead"),
    ]


def test_cli_submit_pending_resume_watch_history(cli):
    proc = cli("submit", "--amount", "750", "--description", "Team dinner", json_output=True)
    assert proc.returncode == 0, proc.stderr
    thread_id = proc.data["thread_id"]
    assert proc.data["state"] == "waiting"
    assert proc.data["interrupts"][0]["value"]["amount"] == 750

    listed = cli("pending", "--graph", GRAPH, json_output=True, user="bob")
    assert thread_id in [o["thread_id"] for o in listed.data]
    text = cli("pending", "--graph", GRAPH, user="bob")
    assert thread_id in text.stdout and "waiting for manager" in text.stdout

    watched = cli("watch", thread_id, "--timeout", "30", json_output=True)
    assert watched.data["state"] == "waiting"

    refused = cli("resume", thread_id, "--value", '{"decision": "maybe"}', user="bob")
    assert refused.returncode == 1
    assert "invalid answer, not sent" in refused.stderr and "decision" in refused.stderr

    done = cli("resume", thread_id, "approve", "--note", "Enjoy", json_output=True, user="bob")
    assert done.returncode == 0, done.stderr
    assert done.data["state"] == "finished"
    assert done.data["values"]["status"] == "approved"
    assert done.data["values"]["approver_note"] == "Enjoy"

    history = cli("history", thread_id)
    assert "approve by bob" in history.stdout

    again = cli("resume", thread_id, "reject", "--note", "too late", user="bob")
    assert again.returncode == 1
    assert "not waiting for a human" in again.stderr
    assert cli("status", thread_id, json_output=True).data["values"]["status"] == "approved"


def test_cli_reports_refused_input(cli):
    proc = cli("submit", "--amount", "10", "--description", "")
    assert proc.returncode == 1 and not proc.stdout
    assert "(422): invalid expense_approval input: description" in proc.stderr


def test_cli_errors_are_one_line(cli, server):
    missing = cli("resume", "00000000-0000-0000-0000-000000000000", "approve")
    assert missing.returncode == 1
    assert missing.stderr.count("\n") == 1 and "not found" in missing.stderr
    assert "Traceback" not in missing.stderr

    down = cli("--url", f"http://127.0.0.1:{free_port()}", "pending")
    assert down.returncode == 1
    assert "cannot reach the server" in down.stderr and "Traceback" not in down.stderr


def test_concurrent_answers_one_wins(server):
    async def race():
        client = HitlClient(server.url, token="dev-alice")
        bob = HitlClient(server.url, token="dev-bob")
        outcome = await client.submit(GRAPH, {"amount": 900, "description": "Race"})
        answers = [
            {"decision": "approve", "note": "first"},
            {"decision": "reject", "note": "second"},
        ]
        results = await asyncio.gather(
            *(bob.resume(outcome.thread_id, a) for a in answers), return_exceptions=True
        )
        return results, await client.status(outcome.thread_id)

    results, final = asyncio.run(race())
    wins = [r for r in results if not isinstance(r, Exception)]
    losses = [r for r in results if isinstance(r, Exception)]
    assert len(wins) == 1 and len(losses) == 1, results
    assert isinstance(losses[0], ClientError)
    assert "409" in str(losses[0]) or "not applied" in str(losses[0])
    assert len(final.values["audit"]) == 1
    assert final.values["approver_note"] == wins[0].values["approver_note"]


def test_stale_pause_id_is_refused_by_the_client(cli, sdk, sdk_as):
    thread = sdk.threads.create()["thread_id"]
    sdk.runs.wait(thread, "approval_chain", input={"amount": 5_000, "description": "Stale"})
    (_, (old,)) = pending_interrupts(sdk, thread)
    # The manager's approval moves the chain on: the old pause id is no longer pending.
    sdk_as("bob").runs.wait(thread, "approval_chain", command={"resume": {"decision": "approve"}})
    (_, (new,)) = pending_interrupts(sdk, thread)
    assert new["id"] != old["id"]
    stale = cli("resume", thread, "approve", "--interrupt-id", old["id"], user="carol")
    assert stale.returncode == 1
    assert f"pause {old['id']} is not pending" in stale.stderr
    assert "nothing was sent" in stale.stderr
    assert pending_interrupts(sdk, thread)[1] == [new]


def test_the_cli_tells_the_truth_and_takes_flags_anywhere(server, cli):
    unknown = cli("submit", "--graph", "nope", "--amount", "5", "--description", "x")
    assert unknown.returncode == 1 and "unknown graph 'nope'" in unknown.stderr
    assert "expense_approval" in unknown.stderr  # what it serves instead
    requester = cli("submit", "--amount", "5", "--description", "x", "--requester", "bob")
    assert requester.returncode == 1 and "always the signed-in user" in requester.stderr
    after = run_cli(server.url, "pending", "--json", "--token", "dev-bob", user=None)
    assert after.returncode == 0 and isinstance(json.loads(after.stdout), list)
    version = cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("hitl ")
    limit = cli("pending", "--limit", "0")
    assert limit.returncode == 2 and "must be 1 or more" in limit.stderr
    assert "jsonschema" not in limit.stderr and len(limit.stderr.splitlines()) <= 3
    help_text = cli("--help").stdout
    assert "LANGGRAPH_TOKEN" in help_text and "examples:" in help_text
    assert "approval_chain" in help_text


def order_through_a_failing_gateway(cli, failures: int):
    """Submit an order (under the limit) on an assistant whose gateway fails ``failures`` times."""
    assistant = cli(
        "assistant",
        "create",
        "--graph",
        "order_processing",
        "--name",
        f"{failures} gateway failures",
        "--context",
        json.dumps({"gateway": {"transient_failures": failures}}),
        user="erin",
        json_output=True,
    ).data[0]["assistant_id"]
    return cli(
        "submit",
        "--graph",
        "order_processing",
        "--amount",
        "60",
        "--customer",
        "Acme",
        "--assistant",
        assistant,
    )


def test_a_long_wait_shows_progress(cli):
    """A payment retried with back-off takes seconds: the CLI says it is still working."""
    proc = order_through_a_failing_gateway(cli, 2)
    assert proc.returncode == 0 and "status: paid" in proc.stdout
    assert "... order_processing is running (" in proc.stderr
    assert "running" not in proc.stdout  # stdout keeps the outcome only


def test_the_next_step_is_one_the_pause_offers(cli):
    proc = order_through_a_failing_gateway(cli, 9)  # more than the retries: a failed payment
    thread_id = proc.stdout.split()[1]
    assert proc.returncode == 0 and "Error: " in proc.stdout and "kept failing:" in proc.stdout
    hint = f"next: whom it waits for runs `hitl resume {thread_id} retry` (or cancel)"
    assert hint in proc.stdout
    expense = cli("submit", "--amount", "500", "--description", "Hint")
    assert "approve` (or reject --note ...)" in expense.stdout


def test_a_closed_pipe_is_a_clean_exit(server):
    for _ in range(3):
        run_cli(server.url, "submit", "--amount", "500", "--description", "Piped")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LANGGRAPH_")}
    cmd = f"{sys.executable} -m sdk_client --url {server.url} --token dev-bob pending | head -1"
    proc = subprocess.run(
        cmd,
        shell=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**env, "HITL_ENV_FILE": os.devnull},
        timeout=60,
    )
    assert proc.returncode == 0 and proc.stdout.strip()
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr


def test_a_late_answer_is_refused_and_says_so():
    """After the due time and before the sweeper ran: refused, and said so (not a success)."""
    with DevServer(env={"HITL_SWEEP_SECONDS": "3600"}) as server:
        admin = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-erin"})
        late = admin.assistants.create(GRAPH, context={"deadline_hours": 0.0003}, name="late")
        alice = get_sync_client(url=server.url, headers={"Authorization": "Bearer dev-alice"})
        thread_id, _ = start(alice, {"amount": 500, "description": "Late"}, late["assistant_id"])
        time.sleep(2.5)  # past the 1.08 s deadline; the sweeper sleeps for an hour
        proc = run_cli(server.url, "resume", thread_id, "approve", "--note", "late", user="bob")
        assert proc.returncode == 1, proc.stdout
        assert "expired at" in proc.stderr and "your answer was not applied" in proc.stderr
        (_, (pause,)) = pending_interrupts(alice, thread_id)
        answer = {"thread_id": thread_id, "interrupt_id": pause["id"], "decision": "approve"}
        inbox = httpx.post(
            f"{server.url}/inbox/api/answer",
            json=answer,
            headers={"Authorization": "Bearer dev-bob"},
        )
        assert inbox.status_code == 409 and "expired at" in inbox.json()["error"]
        assert alice.threads.get(thread_id)["status"] == "interrupted"  # for the sweeper


@pytest.mark.parametrize(
    "graph", ["expense_approval", "approval_chain", "order_processing", "assistant"]
)
def test_studio_forms_guide_the_user(sdk, graph):
    (assistant,) = sdk.assistants.search(graph_id=graph, metadata={"created_by": "system"})
    schemas = sdk.assistants.get_schemas(assistant["assistant_id"])
    forms = [schemas["context_schema"]] + (
        [] if graph == "assistant" else [schemas["input_schema"]]  # langchain's messages
    )
    for form in forms:
        assert "``" not in json.dumps(form)  # plain text, not RST
        undescribed = [k for k, v in form["properties"].items() if not v.get("description")]
        assert undescribed == [], (graph, undescribed)
    if graph == "expense_approval":  # what the server owns is not asked for
        assert set(schemas["input_schema"]["properties"]) == {"amount", "description"}
    if graph == "approval_chain":  # typed policy items
        tier = schemas["context_schema"]["$defs"]["Tier"]
        assert set(tier["properties"]) == {"above", "role"}
