"""The client's transport against a mocked server (``httpx.MockTransport``), as sdk-py tests do."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest

from sdk_client import AnswerRefused, ClientError, HitlClient

URL = "http://langgraph.test"
THREAD = "11111111-1111-1111-1111-111111111111"
PAUSE = "a" * 32
SCHEMA = {
    "type": "object",
    "properties": {"decision": {"enum": ["approve", "reject"]}, "note": {"type": "string"}},
    "required": ["decision"],
    "additionalProperties": False,
}


def thread(status="interrupted", pauses=None, values=None):
    pauses = (
        [{"id": PAUSE, "value": {"role": "manager"}, "response_schema": SCHEMA}]
        if (pauses is None)
        else pauses
    )
    return {
        "thread_id": THREAD,
        "status": status,
        "metadata": {"graph_id": "expense_approval"},
        "values": values or {"status": "pending"},
        "interrupts": {"task": pauses} if pauses else {},
        "created_at": "2026-12-01T00:00:00Z",
        "updated_at": "2026-12-01T00:00:00Z",
    }


class Server:
    """Answers each request from a list of canned responses, and records the requests."""

    def __init__(self, *responses: httpx.Response | Exception) -> None:
        self.responses = list(responses)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        response = self.responses.pop(0)
        if isinstance(response, Exception):
            raise response
        return response

    def client(self, token: str | None = "dev-bob") -> HitlClient:
        return HitlClient(URL, token=token, transport=httpx.MockTransport(self))

    def sent(self, index: int) -> dict:
        return json.loads(self.requests[index].content)


def ok(body) -> httpx.Response:
    return httpx.Response(200, json=body)


def run(coro):
    return asyncio.run(coro)


def test_an_answer_is_addressed_to_its_pause_and_sent_once_at_a_time():
    server = Server(
        ok(thread()), ok({"status": "approved"}), ok(thread("idle", [], {"status": "approved"}))
    )
    outcome = run(server.client().resume(THREAD, {"decision": "approve", "note": "ok"}))
    assert outcome.state == "finished" and outcome.values["status"] == "approved"
    posted = server.sent(1)
    assert server.requests[1].url.path == f"/threads/{THREAD}/runs/wait"
    assert posted["command"] == {"resume": {PAUSE: {"decision": "approve", "note": "ok"}}}
    assert posted["multitask_strategy"] == "reject"
    assert server.requests[1].headers["authorization"] == "Bearer dev-bob"


def test_an_answer_that_does_not_fit_the_schema_is_not_sent():
    server = Server(ok(thread()))
    with pytest.raises(ClientError) as refused:
        run(server.client().resume(THREAD, {"decision": "maybe"}))
    assert refused.value.kind == "invalid" and "decision" in str(refused.value)
    assert len(server.requests) == 1  # only the read


def test_the_servers_reasons_reach_the_person():
    for status, detail, kind in [
        (
            409,
            "stale answer: pause x is no longer pending (last decision: approve by bob)",
            "stale",
        ),
        (403, "waits for finance; you are bob (manager); nothing was applied", "auth"),
        (422, "invalid answer: note: 3 is not of type 'string'", "error"),
    ]:
        server = Server(ok(thread()), httpx.Response(status, json={"detail": detail}))
        with pytest.raises(ClientError) as refused:
            run(server.client().resume(THREAD, {"decision": "approve"}))
        assert refused.value.kind == kind and detail in str(refused.value)


def test_a_refusal_by_the_workflow_comes_back_from_the_run():
    fresh = {"id": "b" * 32, "value": {"role": "manager", "error": "invalid answer: expired"}}
    server = Server(ok(thread()), ok({"__interrupt__": [fresh]}), ok(thread(pauses=[fresh])))
    with pytest.raises(AnswerRefused) as refused:
        run(server.client().resume(THREAD, {"decision": "approve"}))
    assert "invalid answer: expired" in str(refused.value)
    assert refused.value.outcome.state == "waiting"


def test_several_pending_pauses_need_an_id_and_nothing_is_sent():
    two = [{"id": PAUSE, "value": {}}, {"id": "c" * 32, "value": {}}]
    server = Server(ok(thread(pauses=two)))
    with pytest.raises(ClientError) as refused:
        run(server.client().resume(THREAD, {"type": "approve"}))
    assert "2 pending pauses" in str(refused.value) and PAUSE in str(refused.value)
    assert len(server.requests) == 1


def test_submit_runs_the_chosen_assistant_on_a_new_thread():
    server = Server(ok({"thread_id": THREAD}), ok({}), ok(thread()))
    outcome = run(server.client("dev-alice").submit("expense_approval", {"amount": 5}, "asst-1"))
    assert server.requests[0].url.path == "/threads"
    assert server.sent(0)["metadata"] == {"graph_id": "expense_approval"}
    assert server.sent(1)["assistant_id"] == "asst-1" and server.sent(1)["input"] == {"amount": 5}
    assert outcome.state == "waiting" and outcome.interrupts[0]["id"] == PAUSE


def test_missing_tokens_and_unreachable_servers_are_one_line():
    server = Server(httpx.Response(401, json={"detail": "missing token"}))
    with pytest.raises(ClientError) as refused:
        run(server.client(token=None).status(THREAD))
    assert refused.value.kind == "auth" and "no token given" in str(refused.value)
    down = Server(httpx.ConnectError("connection refused"))
    with pytest.raises(ClientError) as refused:
        run(down.client().status(THREAD))
    assert refused.value.kind == "unreachable" and URL in str(refused.value)
