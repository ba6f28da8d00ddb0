"""The live model path, end to end through langchain-openai, against a local server."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import ToolMessage
from langgraph.types import Command

from graphs import payments
from graphs.assistant.graph import build_graph
from tests.openai_stub import OpenAIStub


@pytest.fixture
def stub(offline, monkeypatch):
    monkeypatch.delenv("AZURE_OPENAI_DEPLOYMENT_NAME", raising=False)
    monkeypatch.setenv("HITL_LLM_MAX_RETRIES", "0")
    with OpenAIStub() as server:
        yield server


def configure(monkeypatch, stub, provider):
    if provider == "azure":
        monkeypatch.setenv("AZURE_OPENAI_ENDPOINT", stub.origin)
        monkeypatch.setenv("DIAL_API_KEY", stub.api_key)
        return f"/openai/deployments/{stub.deployment}/chat/completions"
    monkeypatch.setenv("OPENAI_API_KEY", stub.api_key)
    monkeypatch.setenv("OPENAI_BASE_URL", f"{stub.origin}/v1")
    return "/v1/chat/completions"


@pytest.mark.parametrize("provider", ["azure", "openai"])
@pytest.mark.parametrize("streaming", [False, True])
def test_tool_call_review_round_trip(stub, monkeypatch, checkpointer, thread, provider, streaming):
    path = configure(monkeypatch, stub, provider)
    agent = build_graph().compile(checkpointer=checkpointer)

    async def drive():
        inp = {"messages": [{"role": "user", "content": "please pay 25 to acme"}]}
        if streaming:  # stream messages, as the server does for a streaming client
            async for _ in agent.astream(inp, thread, stream_mode="messages"):
                pass
            state = await agent.aget_state(thread)
            (pause,) = state.interrupts
        else:
            (pause,) = (await agent.ainvoke(inp, thread))["__interrupt__"]
        assert pause.value["name"] == "pay"
        assert pause.value["args"] == {"amount": 25.0, "recipient": "acme"}
        return await agent.ainvoke(Command(resume={pause.id: {"type": "approve"}}), thread)

    result = asyncio.run(drive())
    assert "success" in next(m for m in result["messages"] if isinstance(m, ToolMessage)).content
    assert result["messages"][-1].content.startswith("Done:")
    assert payments.ledger_count() == 1
    assert [r["path"] for r in stub.requests] == [path, path]
    if provider == "azure":
        assert "api-version=2024-02-01" in stub.requests[0]["query"]
    assert bool(stub.requests[0]["body"].get("stream")) is streaming
    assert stub.requests[0]["body"]["tools"]  # the real client sent the tool schemas


def test_wrong_key_is_a_clear_error(stub, monkeypatch, checkpointer, thread):
    configure(monkeypatch, stub, "openai")
    monkeypatch.setenv("OPENAI_API_KEY", "wrong")
    agent = build_graph().compile(checkpointer=checkpointer)
    with pytest.raises(Exception, match="401|bad key"):
        asyncio.run(agent.ainvoke({"messages": [{"role": "user", "content": "hi"}]}, thread))
