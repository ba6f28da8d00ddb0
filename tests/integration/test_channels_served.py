"""Each answer's audit entry says where it came from; no client claims the server's channels."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import refused, submit_cli

pytestmark = pytest.mark.integration

GRAPH = "approval_chain"


def waiting(server, amount: float, what: str) -> tuple[str, str]:
    """A chain waiting for the manager: ``(thread_id, pause id)``."""
    started = submit_cli(server.url, GRAPH, amount, what)
    return started.data["thread_id"], started.data["interrupts"][0]["id"]


def channels(sdk, thread_id: str) -> list[str | None]:
    return [entry.get("channel") for entry in sdk.threads.get(thread_id)["values"]["audit"]]


def test_the_cli_the_inbox_agent_inbox_and_the_api_are_recorded(server, sdk_as, cli):
    bob = sdk_as("bob")

    by_cli, _ = waiting(server, 300, "By CLI")
    assert cli("resume", by_cli, "approve", user="bob").returncode == 0

    by_inbox, pause = waiting(server, 300, "By inbox")
    answered = httpx.post(
        f"{server.url}/inbox/api/answer",
        headers={"Authorization": "Bearer dev-bob"},
        json={"thread_id": by_inbox, "interrupt_id": pause, "decision": "approve"},
        timeout=60,
    )
    assert answered.status_code == 200, answered.text

    by_agent_inbox, pause = waiting(server, 300, "By Agent Inbox")
    accept = [{"type": "accept", "args": None}]
    bob.runs.wait(by_agent_inbox, GRAPH, command={"resume": {pause: accept}})

    by_api, pause = waiting(server, 300, "By API")
    bob.runs.wait(by_api, GRAPH, command={"resume": {pause: {"decision": "approve"}}})

    assert channels(bob, by_cli) == ["cli"]
    assert channels(bob, by_inbox) == ["inbox"]
    assert channels(bob, by_agent_inbox) == ["agent-inbox"]
    assert channels(bob, by_api) == ["api"]


@pytest.mark.parametrize("claimed", ["slack", "email", "inbox"])
def test_a_client_cannot_claim_a_channel_of_the_servers(server, sdk_as, claimed):
    bob = sdk_as("bob")
    thread_id, pause = waiting(server, 300, f"Claims {claimed}")
    answer = {"decision": "approve", "channel": claimed}
    status, detail = refused(
        lambda: bob.runs.wait(thread_id, GRAPH, command={"resume": {pause: answer}})
    )
    assert status == 403 and "recorded by the server only" in detail
    thread = bob.threads.get(thread_id)  # nothing applied: still waiting, still answerable
    assert thread["status"] == "interrupted" and not thread["values"].get("audit")
    bob.runs.wait(thread_id, GRAPH, command={"resume": {pause: {"decision": "approve"}}})
    assert channels(bob, thread_id) == ["api"]
