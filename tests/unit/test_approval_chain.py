"""In-process tests of the multi-level approval chain."""

from __future__ import annotations

import pytest
from langgraph.types import Command

from graphs.approval_chain import build_graph
from tests.unit.chain_helpers import answer, pause


@pytest.fixture
def app(checkpointer):
    return build_graph().compile(checkpointer=checkpointer)


def request(amount, requester="alice", **extra):
    return {"amount": amount, "description": "Team offsite", "requester": requester, **extra}


@pytest.mark.parametrize(
    ("amount", "levels"),
    [
        (100, []),
        (100.01, ["manager"]),
        (1_000, ["manager"]),
        (1_000.01, ["manager", "finance"]),
        (10_000, ["manager", "finance"]),
        (10_000.01, ["manager", "finance", "director"]),
    ],
)
def test_default_level_boundaries(app, thread, amount, levels):
    result = app.invoke(request(amount), thread)
    asked = []
    while "__interrupt__" in result:
        value = pause(result)
        assert value["levels"] == levels
        assert value["step"] == len(asked) + 1
        asked.append(value["role"])
        result = answer(app, thread, "approve", f"{value['role']}-person", note="ok")
    assert asked == levels
    assert result["status"] == "approved"
    assert [e["role"] for e in result["audit"]] == levels


def test_payload_carries_level_request_options_history_and_schema(app, thread):
    result = app.invoke(request(5_000, category="travel"), thread)
    (interrupt,) = result["__interrupt__"]
    value = interrupt.value
    assert value["type"] == "approval_chain"
    assert (value["step"], value["role"]) == (1, "manager")
    assert value["request"] == {
        "amount": 5000,
        "description": "Team offsite",
        "requester": "alice",
        "category": "travel",
    }
    assert value["options"] == ["approve", "edit", "reject"]
    assert value["history"] == []
    assert set(interrupt.response_schema["properties"]) >= {"decision", "note", "changes"}
    result = answer(app, thread, "approve", "bob", note="fine")
    value = pause(result)
    assert (value["step"], value["role"]) == (2, "finance")
    assert [(h["role"], h["decision"], h["approver"]) for h in value["history"]] == [
        ("manager", "approve", "bob")
    ]


def test_reject_ends_at_once(app, thread):
    app.invoke(request(20_000), thread)
    answer(app, thread, "approve", "bob")
    result = answer(app, thread, "reject", "carol", note="Not in budget")
    assert "__interrupt__" not in result
    assert result["status"] == "rejected"
    assert [(e["role"], e["decision"]) for e in result["audit"]] == [
        ("manager", "approve"),
        ("finance", "reject"),
    ]
    assert result["audit"][-1]["note"] == "Not in budget"
    assert result["audit"][-1]["at"].endswith("+00:00")


def test_edit_up_adds_a_level(app, thread):
    app.invoke(request(500), thread)
    result = answer(app, thread, "edit", "bob", changes={"amount": 5_000}, note="real cost")
    value = pause(result)
    assert value["role"] == "finance"
    assert value["request"]["amount"] == 5_000
    assert value["levels"] == ["manager", "finance"]
    result = answer(app, thread, "approve", "carol")
    assert result["status"] == "approved"
    assert result["amount"] == 5_000
    edit = result["audit"][0]
    assert (edit["decision"], edit["changes"], edit["note"]) == (
        "edit",
        {"amount": 5000},
        "real cost",
    )


def test_edit_down_drops_later_levels_but_keeps_earlier_decisions(app, thread):
    app.invoke(request(15_000), thread)
    answer(app, thread, "approve", "bob")
    result = answer(
        app, thread, "edit", "carol", changes={"amount": 900, "description": "Smaller offsite"}
    )
    assert "__interrupt__" not in result
    assert result["status"] == "approved"
    assert (result["amount"], result["description"]) == (900, "Smaller offsite")
    assert [(e["role"], e["decision"]) for e in result["audit"]] == [
        ("manager", "approve"),
        ("finance", "edit"),
    ]


def test_requester_cannot_approve_own_request(app, thread):
    app.invoke(request(500, requester="bob"), thread)
    for decision, extra in [("approve", {}), ("edit", {"changes": {"amount": 400}})]:
        value = pause(answer(app, thread, decision, "bob", **extra))
        assert "segregation of duties" in value["error"]
        assert value["role"] == "manager"
    result = answer(app, thread, "approve", "dan")
    assert result["status"] == "approved"
    assert [e["approver"] for e in result["audit"]] == ["dan"]


def test_requester_may_withdraw(app, thread):
    app.invoke(request(500, requester="bob"), thread)
    assert answer(app, thread, "reject", "bob", note="withdrawn")["status"] == "rejected"


@pytest.mark.parametrize(
    "bad",
    [
        "approve",
        None,
        {"decision": "approved"},
        {"decision": "maybe"},
        {"decision": "edit"},
        {"decision": "edit", "changes": {}},
        {"decision": "edit", "changes": {"amount": -1}},
        {"decision": "edit", "changes": {"amount": "100"}},
        {"decision": "edit", "changes": {"amount": float("nan")}},
        {"decision": "edit", "changes": {"description": ""}},
        {"decision": "edit", "changes": {"requester": "mallory"}},
        {"decision": "approve", "changes": {"amount": 1}},
        {"decision": "approve", "note": ["x"]},
    ],
    ids=repr,
)
def test_bad_answers_are_refused_and_the_level_stays(app, thread, bad):
    app.invoke(request(5_000), thread)
    result = app.invoke(Command(resume={"x": 1} if bad is None else bad), thread)
    value = pause(result)
    assert value["error"].startswith("invalid answer:")
    assert value["role"] == "manager"
    assert result["amount"] == 5_000 and result["audit"] == []
    result = answer(app, thread, "approve", "bob")
    assert pause(result)["role"] == "finance"


def test_policy_is_data_overridable_per_run(app, thread):
    policy = [{"above": 0, "role": "lead"}, {"above": 50, "role": "cfo"}]
    result = app.invoke(request(60), thread, context={"policy": policy})
    assert pause(result)["levels"] == ["lead", "cfo"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"amount": 10, "description": "x"}, "requester"),
        ({"amount": "10", "description": "x", "requester": "a"}, "amount"),
        ({"amount": -10, "description": "x", "requester": "a"}, "amount"),
        ({"amount": 10, "description": " ", "requester": "a"}, "description"),
        ({"amount": 10, "description": "x", "requester": "a", "category": 5}, "category"),
    ],
)
def test_invalid_input_fails_naming_the_field(app, thread, values, field):
    with pytest.raises(ValueError, match=f"invalid approval_chain input: .*{field}"):
        app.invoke(values, thread)


def test_malformed_policy_fails_the_run(app, thread):
    with pytest.raises(ValueError, match="context: policy"):
        app.invoke(request(500), thread, context={"policy": [{"above": "x"}]})
