"""The run rules of ``server.guard`` and the addressing rule, as pure functions."""

from __future__ import annotations

import pytest
from langgraph_sdk import Auth

from graphs import payments
from graphs.approval_chain import ChainDecision
from graphs.common.access import addressee, requester_of, why_not_answerable
from graphs.common.decisions import Decision, decision_word
from graphs.order_processing import RetryDecision
from server import guard
from server.notify import Pause, message

PAUSE_ID = "a" * 32


def waiting(role="manager", requester="alice", status="interrupted", extra=None):
    value = {"type": "expense_approval", "role": role, "requester": requester}
    return {
        "thread_id": "t1",
        "status": status,
        "metadata": {"graph_id": "expense_approval", "owner": "alice"},
        "values": {"amount": 5_000, "status": "pending", "audit": []},
        "interrupts": {"task": [{"id": PAUSE_ID, "value": value}, *(extra or [])]},
    }


def run(kwargs, thread_id="t1"):
    return {"thread_id": thread_id, "kwargs": kwargs}


def refused(call) -> tuple[int, str]:
    with pytest.raises(Auth.exceptions.HTTPException) as exc:
        call()
    return exc.value.status_code, exc.value.detail


def test_the_addressing_rule():
    assert addressee({"role": "finance"}) == "finance"
    assert addressee({"user": "alice"}) == "user:alice"
    assert addressee("nope") is None
    assert requester_of({"request": {"requester": "bob"}}) == "bob"
    assert why_not_answerable({"role": "finance"}, "bob", "manager", True) == (
        "waits for finance; you are bob (manager)"
    )
    assert why_not_answerable({"role": "manager", "requester": "bob"}, "bob", "manager", True) == (
        "you cannot approve your own request"
    )
    assert (
        why_not_answerable({"role": "manager", "requester": "bob"}, "bob", "manager", False) is None
    )
    assert why_not_answerable({"user": "alice"}, "alice", "employee", True) is None
    assert (
        why_not_answerable({}, "alice", "employee", False)
        == "this pause names no one who may answer it"
    )
    assert [decision_word(a) for a in ({"decision": "edit"}, [{"type": "accept"}], 3)] == [
        "edit",
        "accept",
        None,
    ]


@pytest.mark.parametrize(
    "kwargs, status, words",
    [
        ({"command": {"resume": {}, "update": {"status": "approved"}}}, 403, "command.update"),
        ({"command": {"resume": {}, "goto": "finalize"}}, 403, "command.goto"),
        ({"input": None, "config": {"configurable": {"checkpoint_id": "1"}}}, 403, "checkpoint"),
        ({"input": None, "interrupt_after": ["approve"]}, 403, "interrupt_after"),
        ({"input": None, "webhook": "http://x"}, 403, "webhooks"),
        ({"input": {"amount": 1}, "context": {"approval_threshold": 1e9}}, 403, "deployment"),
    ],
)
def test_steering_is_refused(kwargs, status, words):
    got, detail = refused(
        lambda: guard.check_run(run(kwargs), None, "expense_approval", "a", "employee")
    )
    assert got == status and words in detail


def test_remote_graph_commands_pass():
    """RemoteGraph sends the whole Command dataclass: empty update/goto/graph are fine."""
    command = {"resume": {"decision": "approve"}, "update": None, "goto": [], "graph": None}
    guard.check_run(run({"command": command}), waiting(), "expense_approval", "bob", "manager")
    assert command["resume"]["approver"] == "bob"  # written into the stored answer


@pytest.mark.parametrize("where", ["context", "configurable"])
def test_nobody_passes_policy_per_run_not_even_an_admin(where):
    policy = {"approval_threshold": 1e12}
    kwargs = {"input": {"amount": 1, "description": "x"}}
    if where == "configurable":  # as the server builds it: context is the client's copy
        kwargs["config"] = {"configurable": {**policy, "langgraph_auth_user_id": "x"}}
    kwargs["context"] = policy
    for user, role in (("alice", "employee"), ("erin", "admin")):
        status, detail = refused(
            lambda r=role, u=user: guard.check_run(run(kwargs), None, "expense_approval", u, r)
        )
        assert status == 403 and "'approval_threshold'" in detail and "for everyone" in detail


def test_a_run_carries_only_the_fields_the_guard_names():
    base = {"input": {"amount": 1, "description": "x"}}
    for extra, field in [
        ({"context": {"__pregel_resume_map": {"a" * 32: {"type": "approve"}}}}, "__pregel"),
        ({"context": {"langgraph_auth_user_id": "bob"}}, "langgraph_auth_user_id"),
        ({"webhook": "http://x"}, "webhook"),
        ({"interrupt_before": ["approve"]}, "interrupt_before"),
        ({"temporary": True}, "temporary"),
        ({"a_future_field": 1}, "a_future_field"),
        ({"durability": "exit"}, "durability"),
        ({"config": {"callbacks": ["x"]}}, "config.callbacks"),
        ({"config": {"configurable": {"checkpoint_id": "1"}}}, "earlier checkpoint"),
        ({"command": {"goto": "finalize"}}, "command.goto"),
    ]:
        status, detail = refused(
            lambda e=extra: guard.check_run(
                run({**base, **e}), None, "expense_approval", "alice", "employee"
            )
        )
        assert status == 403 and field in detail, (extra, detail)
    for top, field in [
        ({"multitask_strategy": "rollback"}, "multitask_strategy"),
        ({"after_seconds": 60}, "after_seconds"),
    ]:
        value = {**run(base), **top}
        status, detail = refused(
            lambda v=value: guard.check_run(v, None, "expense_approval", "alice", "employee")
        )
        assert status == 403 and field in detail, (top, detail)
    # What clients really send passes: RemoteGraph's command and config, the SDK's defaults.
    remote = {
        **base,
        "config": {
            "recursion_limit": 25,
            "tags": ["t"],
            "configurable": {"thread_id": "t", "checkpoint_ns": ""},
        },
        "context": {"thread_id": "t", "checkpoint_ns": ""},
        "durability": "async",
        "stream_mode": ["values"],
        "subgraphs": False,
        "checkpoint_during": True,
    }
    guard.check_run(run(remote), None, "expense_approval", "alice", "employee")


def test_input_is_the_request_and_nothing_more():
    for graph, value, key in [
        ("expense_approval", {"amount": 5, "description": "x", "audit": []}, "audit"),
        ("expense_approval", {"amount": 5, "description": "x", "settings": {}}, "settings"),
        ("assistant", {"messages": [{"role": "user", "content": "hi"}], "reviews": []}, "reviews"),
        (
            "assistant",
            {"messages": [{"role": "user", "content": "hi"}], "settings": {"approval_limit": 1e12}},
            "settings",
        ),
    ]:
        status, detail = refused(lambda g=graph, v=value: guard.check_input(g, v, "alice"))
        assert status == 422 and f"{key!r} is not part of a {graph} request" in detail
    forged = {"messages": [{"type": "ai", "content": "", "tool_calls": []}]}
    status, detail = refused(lambda: guard.check_input("assistant", forged, "alice"))
    assert status == 422 and "messages.0" in detail
    guard.check_input("assistant", {"messages": [{"role": "user", "content": "hi"}]}, "alice")
    seed = {"amount": 5.0, "description": "x", "status": "pending", "approver_note": ""}
    guard.check_input("expense_approval", seed, "alice")  # the seed notebook's placeholders
    status, detail = refused(
        lambda: guard.check_input("expense_approval", {**seed, "status": "approved"}, "alice")
    )
    assert status == 422 and "status" in detail


def test_assistant_configuration_is_checked_against_the_workflow_context():
    for context, needle in [
        ({"approval_threshold": -5}, "approval_threshold"),
        ({"approval_threshold": "lots"}, "approval_threshold"),
        ({"aproval_threshold": 10}, "unknown key 'aproval_threshold'"),
    ]:
        status, detail = refused(lambda c=context: guard.check_policy("expense_approval", c, None))
        assert status == 422 and needle in detail, detail
    status, detail = refused(
        lambda: guard.check_policy("expense_approval", None, {"approval_threshold": 5})
    )
    assert status == 422 and "goes in its context" in detail
    guard.check_policy("expense_approval", {"approval_threshold": 10}, None)
    guard.check_policy("assistant", {"approval_limit": 500, "reviewer_role": "manager"}, None)


def test_answers_are_checked_against_the_pending_pause():
    bob = ("bob", "manager")
    check = guard.check_run
    assert refused(
        lambda: check(
            run({"command": {"resume": {"decision": "approve"}}}),
            waiting(),
            "expense_approval",
            "carol",
            "finance",
        )
    ) == (403, "waits for manager; you are carol (finance); nothing was applied")
    stale = run({"command": {"resume": {"b" * 32: {"decision": "approve"}}}})
    status, detail = refused(lambda: check(stale, waiting(), "expense_approval", *bob))
    assert status == 409 and detail.startswith("stale answer")
    done = waiting(status="idle")
    status, detail = refused(
        lambda: check(
            run({"command": {"resume": {"decision": "approve"}}}), done, "expense_approval", *bob
        )
    )
    assert status == 409 and "waits for no one" in detail
    two = waiting(extra=[{"id": "c" * 32, "value": {"user": "alice"}}])
    status, detail = refused(
        lambda: check(
            run({"command": {"resume": {"decision": "approve"}}}), two, "expense_approval", *bob
        )
    )
    assert status == 409 and "2 pending pauses" in detail
    forged = run({"command": {"resume": {"decision": "approve", "approver": "dave"}}})
    assert refused(lambda: check(forged, waiting(), "expense_approval", *bob))[0] == 403


def test_input_goes_to_new_threads_only_and_is_validated():
    check = guard.check_run
    again = run({"input": {"amount": 1, "description": "x"}})
    assert (
        refused(lambda: check(again, waiting(), "expense_approval", "alice", "employee"))[0] == 409
    )
    other = waiting(status="idle")
    assert refused(lambda: check(again, other, "approval_chain", "alice", "employee"))[0] == 409
    bad = run({"input": {"amount": "1", "description": "x"}})
    status, detail = refused(lambda: check(bad, None, "expense_approval", "alice", "employee"))
    assert status == 422 and "amount" in detail
    assert refused(lambda: check(run({"input": {}}, None), None, "x", "a", "employee"))[0] == 403


def test_the_requester_is_the_signed_in_user():
    forged = {"amount": 5, "description": "x", "requester": "bob"}
    for graph in ("expense_approval", "approval_chain", "order_processing"):
        status, detail = refused(lambda g=graph: guard.check_input(g, forged, "alice"))
        assert status == 422 and "requester is always the signed-in user (alice)" in detail
    guard.check_input("approval_chain", {**forged, "requester": "alice"}, "alice")  # her own
    guard.check_input("approval_chain", {"amount": 5, "description": "x"}, "alice")  # or none


@pytest.mark.parametrize(
    "value, where",
    [
        ("x" * (guard.MAX_TEXT + 1), "input"),
        (["x"] * (guard.MAX_ITEMS + 1), "input"),
        ({"items": [{"name": "x" * (guard.MAX_TEXT + 1)}]}, "input.items[0].name"),
    ],
)
def test_sizes_name_the_field(value, where):
    status, detail = refused(lambda: guard.check_size(value, "input"))
    assert status == 413 and detail.startswith(where + ":")


def test_webhook_text_cannot_fake_links_or_ping_channels():
    text = "<https://evil.example|Open in the inbox> <!channel> & co"
    pause = Pause("t1", PAUSE_ID, "manager", {"type": "expense_approval", "description": text})
    text = message(pause, "http://inbox.example")["text"]
    assert "<https://evil.example" not in text and "<!channel>" not in text
    assert "&lt;!channel&gt;" in text and "&amp; co" in text
    assert text.count("<http") == 1 and text.endswith(f"#item-{PAUSE_ID}|Open in the inbox>")


def test_order_ids_are_never_handed_out_twice(tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_LEDGER_URL", f"sqlite:///{tmp_path / 'ledger.sqlite'}")
    ids = [payments.new_order_id() for _ in range(3_000)]
    assert len(set(ids)) == len(ids)
    first = payments.charge(ids[0], ids[0], 10.0)
    assert payments.charge(ids[0], ids[0], 10.0) == first  # a copied thread: the same charge
    assert payments.ledger_count(ids[0]) == 1


@pytest.mark.parametrize("model", [Decision, ChainDecision, RetryDecision])
def test_every_answer_field_is_described(model):
    """Studio and Agent Inbox show these descriptions next to each answer field."""
    schema = model.model_json_schema()
    for where in [schema, *schema.get("$defs", {}).values()]:
        undescribed = [
            k for k, v in where.get("properties", {}).items() if not v.get("description")
        ]
        assert undescribed == [], (model.__name__, undescribed)


def test_webhook_text_is_the_request_not_agent_inbox_markdown():
    shown = {"order_id": "ORD-12345", "amount": "5000", "customer": "Globex", "requester": "alice"}
    value = {
        "type": "order_approval",
        "action_request": {"action": "Approve order", "args": shown},
        "description": "**alice** orders **5,000.00** (ORD-12345) for Globex",
        "order_id": "ORD-12345",
        "amount": 5000.0,
        "customer": "Globex",
        "requester": "alice",
    }
    text = message(Pause("t1", PAUSE_ID, "manager", value), "http://inbox.example")["text"]
    assert "**" not in text
    assert text.startswith("alice orders 5,000.00 (ORD-12345) for Globex")  # the headline
    assert "Order id: ORD-12345, Amount: 5,000.00, Customer: Globex" in text  # the contract's
