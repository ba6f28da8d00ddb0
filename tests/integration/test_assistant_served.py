"""The assistant over a real ``langgraph dev``, through the CLI."""

from __future__ import annotations

import json

import httpx
import pytest

from graphs.common.contract import Pause
from scripts.devserver import DevServer
from tests.conftest import run_cli
from tests.openai_stub import OpenAIStub

pytestmark = pytest.mark.integration


def reviews(outcome):
    return {i["value"]["name"]: i for i in outcome["interrupts"]}


def test_chat_review_edit_reject_through_the_cli(cli):
    chat = cli("chat", "file 300 for hotel and pay 40 to acme", json_output=True)
    assert chat.returncode == 0, chat.stderr
    thread_id = chat.data["thread_id"]
    found = reviews(chat.data)
    assert set(found) == {"file_expense", "pay"}
    assert found["pay"]["value"]["user"] == "alice"
    # The pause is the contract: a plain first line saying who asks what, and why.
    pause = Pause.read(found["pay"]["value"])
    assert pause.headline == "alice asks to pay 40.00 to acme"
    assert found["pay"]["value"]["description"].splitlines()[0] == pause.headline
    assert pause.why == "40.00 within limit 1,000.00: no manager approval needed, alice decides"
    text = cli("status", thread_id)
    assert 'pay({"amount": 40.0, "recipient": "acme"})' in text.stdout
    assert "options: approve, reject" in text.stdout

    # Only the conversation's owner may answer.
    assert (
        cli(
            "resume", thread_id, "approve", "--interrupt-id", found["pay"]["id"], user="bob"
        ).returncode
        == 1
    )

    # The client validates against the pause's schema: no edit for pay.
    refused = cli(
        "resume", thread_id, "edit", "--args", '{"amount": 1}', "--interrupt-id", found["pay"]["id"]
    )
    assert refused.returncode == 1 and "invalid answer, not sent" in refused.stderr
    # A raw bad answer reaches the server: the call stays pending, the thread waiting.
    raw = cli(
        "resume",
        thread_id,
        "--interrupt-id",
        found["pay"]["id"],
        "--value",
        json.dumps({"type": "edit", "edited_action": {"name": "refund", "args": {}}}),
    )
    assert raw.returncode == 1
    assert "invalid answer, not sent" in raw.stderr

    rejected = cli(
        "resume",
        thread_id,
        "reject",
        "--message",
        "not this month",
        "--interrupt-id",
        found["pay"]["id"],
        json_output=True,
    )
    assert rejected.returncode == 0, rejected.stderr
    assert set(reviews(rejected.data)) == {"file_expense"}

    edited = cli(
        "resume",
        thread_id,
        "edit",
        "--args",
        '{"amount": 250, "description": "hotel, 2 nights"}',
        json_output=True,
    )
    assert edited.returncode == 0, edited.stderr
    assert edited.data["state"] == "finished"
    tools = [m for m in edited.data["values"]["messages"] if m["type"] == "tool"]
    assert "not this month" in tools[-1]["content"] or "not this month" in tools[0]["content"]
    filed = next(m["content"] for m in tools if "Filed expense" in m["content"])
    assert "250.00 'hotel, 2 nights'" in filed
    expense_thread = filed.split("thread ")[1].rstrip(".")
    # The filing is a real expense_approval workflow, owned by alice, waiting for bob.
    waiting = cli("pending", "--graph", "expense_approval", json_output=True, user="bob").data
    assert expense_thread in [o["thread_id"] for o in waiting]
    decisions = [(r["decision"], r["approver"]) for r in edited.data["values"]["reviews"]]
    assert sorted(decisions) == [("edit", "alice"), ("reject", "alice")]


def test_bad_answer_over_the_sdk_keeps_the_thread_waiting(sdk, cli):
    chat = cli("chat", "pay 40 to acme", json_output=True)
    thread_id = chat.data["thread_id"]
    (pause,) = chat.data["interrupts"]
    with pytest.raises(httpx.HTTPStatusError) as refused:  # pay allows no edit
        sdk.runs.wait(thread_id, "assistant", command={"resume": {pause["id"]: {"type": "edit"}}})
    assert refused.value.response.status_code == 422
    assert "invalid answer" in refused.value.response.text
    thread = sdk.threads.get(thread_id)
    assert thread["status"] == "interrupted"
    (again,) = [i for group in thread["interrupts"].values() for i in group]
    assert again == pause  # the same pause, untouched
    status = cli("status", thread_id)
    assert " waiting" in status.stdout.splitlines()[0]
    done = cli("resume", thread_id, "approve", json_output=True)
    assert done.data["state"] == "finished"


def test_served_assistant_on_azure_protocol():
    """The real AzureChatOpenAI inside `langgraph dev`, against a local protocol server."""
    with OpenAIStub() as stub:
        env = {
            "AZURE_OPENAI_ENDPOINT": stub.origin,
            "DIAL_API_KEY": stub.api_key,
            "HITL_LLM_MAX_RETRIES": "0",
        }
        with DevServer(env=env) as server:
            chat = run_cli(server.url, "chat", "pay 12 to acme", json_output=True)
            assert chat.returncode == 0, chat.stderr
            (pause,) = chat.data["interrupts"]
            assert pause["value"]["args"] == {"amount": 12.0, "recipient": "acme"}
            done = run_cli(
                server.url, "resume", chat.data["thread_id"], "approve", json_output=True
            )
            assert done.data["values"]["messages"][-1]["content"].startswith("Done:")
            assert {r["path"] for r in stub.requests} == {
                "/openai/deployments/gpt-4/chat/completions"
            }
