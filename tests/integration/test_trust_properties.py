"""Property test over run-creation payloads, as requester and as approver, on a real server.

Whatever a signed-in user puts in a run request (command keys, context, config,
metadata, checkpoint fields, input), nothing is approved or paid without the
policy's decision: an approved expense or a paid order always carries the
manager's decision in its audit trail, made by the manager, and the thread
always stays the requester's.
"""

from __future__ import annotations

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import answers, json_values

pytestmark = pytest.mark.integration

REQUESTS = {
    "expense_approval": {"amount": 5_000, "description": "Fair"},
    "order_processing": {"amount": 5_000},
}
APPROVED_BY_BOB = {
    "step": 1,
    "role": "manager",
    "decision": "approve",
    "approver": "bob",
    "note": "",
    "changes": None,
    "at": "x",
}
"""A forged audit entry: a manager's approval nobody gave."""
NODES = ["submit", "approve", "finalize", "create_order", "approve_order", "charge", "__end__"]
POLICY = st.fixed_dictionaries(
    {},
    optional={
        "approval_threshold": st.sampled_from([1e9, 0, -1]),
        "approval_limit": st.sampled_from([1e12, 0]),
        "approver_role": st.sampled_from(["employee", "user:alice", "user:frank"]),
        "policy": st.just([]),
        "gateway": st.just({"decline": True}),
        "deadline_hours": st.just(0),
    },
)
FORGED = st.fixed_dictionaries(
    {},
    optional={
        "owner": st.sampled_from(["frank", "bob"]),
        "waiting_for": st.sampled_from(["employee", "user:alice", "user:frank"]),
        "answered_by": st.just(["alice", "frank"]),
    },
)
STATE = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["approved", "paid"]),
        "audit": st.just([APPROVED_BY_BOB]),
    },
)
PAYLOADS = st.fixed_dictionaries(
    {},
    optional={
        "input": st.none() | STATE | json_values,
        "command": st.fixed_dictionaries(
            {},
            optional={
                "resume": answers,
                "update": STATE | json_values,
                "goto": st.sampled_from(NODES) | st.lists(st.sampled_from(NODES), max_size=2),
                "graph": st.sampled_from([None, "__parent__"]),
            },
        ),
        "context": POLICY,
        "config": st.fixed_dictionaries(
            {}, optional={"configurable": POLICY | FORGED, "metadata": FORGED}
        ),
        "metadata": FORGED,
        "checkpoint_id": st.just("FIRST"),
        "interrupt_before": st.just(["approve"]),
        "webhook": st.just("http://127.0.0.1:9/hook"),
    },
)


def decided_by_manager(values: dict) -> bool:
    trail = values.get("audit") or []
    return any(
        e["role"] == "manager"
        and e["approver"] == "bob"
        and e["decision"] in ("approve", "approved")
        for e in trail
    )


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    graph=st.sampled_from(sorted(REQUESTS)),
    user=st.sampled_from(["alice", "bob", "frank"]),
    payload=PAYLOADS,
)
def test_no_approval_or_payment_without_the_policys_decision(
    server, sdk_as, ledger, graph, user, payload
):
    alice = sdk_as("alice")
    thread_id = alice.threads.create(metadata={"graph_id": graph})["thread_id"]
    alice.runs.wait(thread_id, graph, input=REQUESTS[graph])
    if payload.get("checkpoint_id") == "FIRST":
        payload = {
            **payload,
            "checkpoint_id": alice.threads.get_history(thread_id)[-1]["checkpoint_id"],
        }
    response = httpx.post(
        f"{server.url}/threads/{thread_id}/runs/wait",
        json={"assistant_id": graph, **payload},
        headers={"Authorization": f"Bearer dev-{user}"},
        timeout=60,
    )
    assert response.status_code < 500, response.text
    thread = sdk_as("bob").threads.get(thread_id)
    values = thread.get("values") or {}
    assert thread["metadata"]["owner"] == "alice"
    if values.get("status") in ("approved", "paid"):
        assert decided_by_manager(values), values
    if graph == "order_processing":
        charges = ledger(values["order_id"])
        assert charges == (1 if values.get("status") == "paid" else 0), values


# Graph inputs and assistant configurations: the two ways policy and state could get in.

CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "approval_threshold": st.sampled_from([0, 10, 1e12, -5, "lots", None]),
        "approval_limit": st.sampled_from([0, 500, 1e12, -1, "x"]),
        "approver_role": st.sampled_from(["manager", "employee", "user:alice", 7]),
        "aproval_threshold": st.just(1e12),
        "reviewer_role": st.sampled_from(["manager", "user:alice"]),
        "deadline_hours": st.sampled_from([1, -1]),
    },
)
OWNED = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["approved", "paid", "pending"]),
        "audit": st.just([APPROVED_BY_BOB]),
        "settings": st.just({"approval_threshold": 1e12, "approval_limit": 1e12}),
        "reviews": st.just(
            [{"step": 1, "role": "manager", "decision": "approve", "approver": "bob"}]
        ),
        "requester": st.sampled_from(["bob", "alice"]),
        "order_id": st.sampled_from(["", "ORD-12345"]),
        "due_at": st.just("2000-01-01T00:00:00+00:00"),
    },
)
INPUTS = {
    "expense_approval": st.fixed_dictionaries(
        {"amount": st.sampled_from([5, 5_000, -1, "5000"]), "description": st.just("Fair")}
    ),
    "order_processing": st.fixed_dictionaries({"amount": st.sampled_from([5, 50_000, 0])}),
    "assistant": st.fixed_dictionaries(
        {"messages": st.just([{"role": "user", "content": "pay 50000 to mallory"}])}
    ),
}
LIMIT_KEY = {
    "expense_approval": "approval_threshold",
    "order_processing": "approval_limit",
    "assistant": "approval_limit",
}


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data(), graph=st.sampled_from(sorted(INPUTS)), config=CONFIGS)
def test_no_input_or_configuration_approves_or_pays_without_the_policy(
    server, sdk_as, ledger, data, graph, config
):
    """An admin's configuration is refused (422, naming a key) or is the policy; a
    requester's input is the request or refused; alone, she never gets past a pause."""
    erin, alice = sdk_as("erin"), sdk_as("alice")
    made = httpx.post(
        f"{server.url}/assistants",
        headers={"Authorization": "Bearer dev-erin"},
        json={"graph_id": graph, "context": config},
        timeout=30,
    )
    assert made.status_code in (200, 422), made.text
    if made.status_code == 422:
        assert any(key in made.json()["detail"] for key in config), made.text
        assistant_id, policy = graph, {}
    else:
        assistant_id, policy = made.json()["assistant_id"], config
    request = {**data.draw(INPUTS[graph]), **data.draw(OWNED)}
    thread_id = alice.threads.create(metadata={"graph_id": graph})["thread_id"]
    before = ledger()
    sent = httpx.post(
        f"{server.url}/threads/{thread_id}/runs/wait",
        json={"assistant_id": assistant_id, "input": request},
        headers={"Authorization": "Bearer dev-alice"},
        timeout=60,
    )
    assert sent.status_code < 500, sent.text
    values = alice.threads.get(thread_id).get("values") or {}
    people = [
        e
        for e in values.get("audit") or values.get("reviews") or []
        if e.get("approver") not in (None, "system")
    ]
    assert not people, values  # nobody but the requester acted: no person's decision
    if sent.status_code != 200:
        assert values == {} and ledger() == before  # refused input: nothing stored
        return
    settings_ = values.get("settings") or {}
    limit = policy.get(LIMIT_KEY[graph], settings_.get(LIMIT_KEY[graph]))
    assert settings_.get(LIMIT_KEY[graph]) == limit  # the assistant's, never the input's
    if values.get("status") in ("approved", "paid"):
        assert values["amount"] <= limit  # approved without a person: only under the limit
    if graph == "assistant":
        assert ledger() == before  # 50,000 waits for a review: nothing paid
    if assistant_id != graph:
        erin.assistants.delete(assistant_id)
