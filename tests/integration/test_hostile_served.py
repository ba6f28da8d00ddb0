"""Property tests over a real ``langgraph dev``: random JSON at inputs and answers."""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphs.approval_chain import ChainDecision
from graphs.common.decisions import Decision
from tests.strategies import answers, inputs, tool_answers

pytestmark = pytest.mark.integration

SERVED = settings(
    max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
REQUESTS = {
    "expense_approval": ({"amount": 500, "description": "Hotel"}, Decision),
    "approval_chain": ({"amount": 500, "description": "Racks"}, ChainDecision),
    "order_processing": ({"amount": 5000}, Decision),
}


def pending(sdk, thread_id):
    thread = sdk.threads.get(thread_id)
    return thread["status"], [i for group in thread["interrupts"].values() for i in group]


@SERVED
@given(graph=st.sampled_from([*REQUESTS, "assistant"]), value=inputs)
def test_random_input_never_breaks_the_server(server, sdk, graph, value):
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    try:
        result = sdk.runs.wait(thread_id, graph, input=value, raise_error=False)
    except httpx.HTTPStatusError as exc:  # refused at the door (e.g. 422): a clear message
        assert exc.response.status_code < 500, exc.response.text
        assert exc.response.text
        return
    if isinstance(result, dict) and "__error__" in result:
        assert result["__error__"]["message"]  # a failed run names what was wrong
        assert not sdk.threads.get(thread_id).get("interrupts")  # nothing left pending
    assert httpx.get(f"{server.url}/ok").status_code == 200


@pytest.mark.parametrize("graph", REQUESTS)
@SERVED
@given(answer=answers)
def test_random_answers_leave_the_pause_answerable(sdk, sdk_as, graph, answer):
    request, model = REQUESTS[graph]
    bob = sdk_as("bob")
    thread_id = sdk.threads.create(metadata={"graph_id": graph})["thread_id"]
    sdk.runs.wait(thread_id, graph, input=request)
    (_, [pause]) = pending(sdk, thread_id)
    try:
        bob.runs.wait(
            thread_id, graph, command={"resume": {pause["id"]: answer}}, raise_error=False
        )
    except httpx.HTTPStatusError as exc:  # refused at the door (schema, forged approver, size)
        assert exc.response.status_code in (403, 413, 422), exc.response.text
    status, pauses = pending(bob, thread_id)
    if status == "interrupted":
        assert pauses  # still answerable; a valid answer now finishes it
        final = bob.runs.wait(
            thread_id,
            graph,
            command={"resume": {pauses[0]["id"]: {"decision": "reject", "note": "no"}}},
        )
        assert final["status"] in ("rejected", "cancelled")
        return
    assert status == "idle", status  # finished: only a valid decision from bob does that
    decision = model.model_validate(answer)
    assert decision.approver in (None, "bob")


@SERVED
@given(answer=tool_answers)
def test_random_tool_reviews_keep_the_call_pending(sdk, answer):
    thread_id = sdk.threads.create(metadata={"graph_id": "assistant"})["thread_id"]
    sdk.runs.wait(
        thread_id, "assistant", input={"messages": [{"role": "user", "content": "refund 3 to x"}]}
    )
    (_, [pause]) = pending(sdk, thread_id)
    try:
        sdk.runs.wait(
            thread_id, "assistant", command={"resume": {pause["id"]: answer}}, raise_error=False
        )
    except httpx.HTTPStatusError as exc:  # refused at the door: it does not fit the schema
        assert exc.response.status_code in (413, 422), exc.response.text
    status, pauses = pending(sdk, thread_id)
    assert status in ("interrupted", "idle"), status
    if status == "interrupted":
        assert [p["id"] for p in pauses] == [pause["id"]]
    else:
        assert isinstance(answer, dict) and answer.get("type") in ("approve", "reject")
