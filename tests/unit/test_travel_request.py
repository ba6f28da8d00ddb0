"""In-process tests of the travel request: a manager, then finance above a limit."""

from __future__ import annotations

import itertools

import pytest
from langgraph.types import Command

from graphs import travel_request
from graphs.common.contract import Pause
from graphs.travel_request import build_graph
from tests.unit.chain_helpers import answer, pause


@pytest.fixture
def app(checkpointer):
    return build_graph().compile(checkpointer=checkpointer)


def trip(cost, requester="alice", destination="Lisbon"):
    return {"destination": destination, "cost": cost, "requester": requester}


@pytest.mark.parametrize(
    ("cost", "levels"),
    [(1, ["manager"]), (2_000, ["manager"]), (2_000.01, ["manager", "finance"])],
)
def test_finance_approves_too_above_the_limit(app, thread, cost, levels):
    result = app.invoke(trip(cost), thread)
    asked = []
    while "__interrupt__" in result:
        value = pause(result)
        assert (value["levels"], value["step"]) == (levels, len(asked) + 1)
        asked.append(value["role"])
        result = answer(app, thread, "approve", f"{value['role']}-person")
    assert asked == levels
    assert result["status"] == "approved"
    assert [(e["role"], e["decision"]) for e in result["audit"]] == [(r, "approve") for r in levels]


def test_the_pause_shows_the_trips_own_fields_with_the_cost_as_money(app, thread):
    result = app.invoke(trip(2_500), thread)
    (interrupt,) = result["__interrupt__"]
    value = interrupt.value
    assert (value["type"], value["role"], value["requester"]) == (
        "travel_request",
        "manager",
        "alice",
    )
    assert value["fields"] == [
        {"name": "destination", "label": "Destination", "value": "Lisbon", "money": False},
        {"name": "cost", "label": "Cost", "value": 2_500, "money": True},
    ]
    assert value["headline"] == "alice asks for 2,500.00: Lisbon"
    assert value["request"] == {"destination": "Lisbon", "cost": 2_500, "requester": "alice"}
    assert value["options"] == ["approve", "edit", "reject"]
    assert value["editable"] == ["destination", "cost"]
    assert "- **Cost:** 2,500.00" in value["description"]  # Agent Inbox's markdown
    assert set(interrupt.response_schema["properties"]) >= {"decision", "note", "changes"}
    shown = Pause.read(value)  # what every display reads
    assert shown is not None, "Pause.read cannot read the pause back"
    assert [(f.label, f.text()) for f in shown.fields] == [
        ("Destination", "Lisbon"),
        ("Cost", "2,500.00"),
    ]
    assert shown.amount == 2_500 and shown.waiting_for == "manager"


def test_manager_edits_then_finance_approves(app, thread):
    app.invoke(trip(2_500), thread)
    result = answer(app, thread, "edit", "bob", changes={"cost": 2_400}, note="economy")
    value = pause(result)
    assert (value["role"], value["step"]) == ("finance", 2)
    assert value["request"]["cost"] == 2_400 and result["cost"] == 2_400
    assert [(h["role"], h["decision"], h["changes"]) for h in value["history"]] == [
        ("manager", "edit", {"cost": 2_400})
    ]
    result = answer(app, thread, "approve", "carol", note="fine")
    assert result["status"] == "approved"
    assert (result["destination"], result["cost"]) == ("Lisbon", 2_400)
    assert [
        (e["step"], e["role"], e["decision"], e["approver"], e["note"]) for e in result["audit"]
    ] == [
        (1, "manager", "edit", "bob", "economy"),
        (2, "finance", "approve", "carol", "fine"),
    ]


@pytest.mark.parametrize(
    ("cost", "changes", "asked"),
    [
        (1_500, {"cost": 3_000}, ["manager", "finance"]),  # raised past the limit: finance too
        (2_500, {"cost": 1_500}, ["manager"]),  # lowered under it: the manager's edit ends it
        (2_500, {"destination": "Porto"}, ["manager", "finance"]),
    ],
)
def test_an_edit_decides_the_levels_left(app, thread, cost, changes, asked):
    result = app.invoke(trip(cost), thread)
    roles = []
    while "__interrupt__" in result:
        roles.append(pause(result)["role"])
        extra = {"changes": changes} if len(roles) == 1 else {}
        result = answer(app, thread, "edit" if extra else "approve", "x", **extra)
    assert roles == asked
    assert result["status"] == "approved"
    assert {k: result[k] for k in changes} == changes


def test_reject_ends_at_once(app, thread):
    app.invoke(trip(5_000), thread)
    result = answer(app, thread, "reject", "bob", note="Not this quarter")
    assert "__interrupt__" not in result
    assert result["status"] == "rejected"
    assert [(e["role"], e["decision"], e["note"]) for e in result["audit"]] == [
        ("manager", "reject", "Not this quarter")
    ]


def test_requester_cannot_approve_own_trip_but_may_withdraw(app, thread):
    app.invoke(trip(500, requester="bob"), thread)
    for decision, extra in [("approve", {}), ("edit", {"changes": {"cost": 400}})]:
        value = pause(answer(app, thread, decision, "bob", **extra))
        assert "segregation of duties" in value["error"]
        assert value["role"] == "manager" and value["request"]["cost"] == 500
    result = answer(app, thread, "reject", "bob", note="withdrawn")
    assert result["status"] == "rejected"
    assert [e["approver"] for e in result["audit"]] == ["bob"]


@pytest.mark.parametrize(
    "bad",
    [
        "approve",
        {"decision": "maybe"},
        {"decision": "edit"},
        {"decision": "edit", "changes": {}},
        {"decision": "edit", "changes": {"cost": -1}},
        {"decision": "edit", "changes": {"cost": "2400"}},
        {"decision": "edit", "changes": {"destination": " "}},
        {"decision": "edit", "changes": {"requester": "mallory"}},
        {"decision": "approve", "changes": {"cost": 1}},
        {"decision": "reject"},
    ],
    ids=repr,
)
def test_bad_answers_are_refused_and_the_level_stays(app, thread, bad):
    app.invoke(trip(2_500), thread)
    result = app.invoke(Command(resume=bad), thread)
    value = pause(result)
    assert value["error"].startswith("invalid answer:")
    assert value["role"] == "manager"
    assert result["cost"] == 2_500 and result["audit"] == []
    assert pause(answer(app, thread, "approve", "bob"))["role"] == "finance"


def test_agent_inbox_edit_is_typed_and_merged(app, thread):
    app.invoke(trip(2_500), thread)
    form = {"destination": "Lisbon", "cost": "2400"}  # Agent Inbox sends every field as text
    edit = [{"type": "edit", "args": {"action": "Approve trip (manager)", "args": form}}]
    value = pause(app.invoke(Command(resume=edit), thread))
    assert value["request"]["cost"] == 2_400.0 and value["role"] == "finance"


def test_each_level_gets_its_own_deadline(app, thread, monkeypatch):
    stamps = (f"2099-01-{day:02d}T00:00:00+00:00" for day in itertools.count(1))
    monkeypatch.setattr(travel_request, "due_at", lambda hours: next(stamps))
    result = app.invoke(trip(2_500), thread)
    assert pause(result)["due_at"] == "2099-01-01T00:00:00+00:00"
    result = answer(app, thread, "approve", "bob")
    assert pause(result)["due_at"] == "2099-01-02T00:00:00+00:00"
    result = app.invoke(Command(resume={"decision": "maybe"}), thread)  # refused: same clock
    assert pause(result)["due_at"] == "2099-01-02T00:00:00+00:00"


@pytest.mark.parametrize(
    ("on_expiry", "cost", "trail"),
    [
        ("escalate", 2_500, [("manager", "expire"), ("finance", "expire")]),
        ("escalate", 500, [("manager", "expire")]),  # the last level's expiry rejects
        ("reject", 2_500, [("manager", "expire")]),
    ],
)
def test_expiry_escalates_or_rejects(app, thread, on_expiry, cost, trail):
    context = {"deadline_hours": 0, "on_expiry": on_expiry}
    result = app.invoke(trip(cost), thread, context=context)
    while "__interrupt__" in result:
        result = app.invoke(Command(resume={"decision": "expired"}), thread)
    assert result["status"] == "rejected"
    assert [(e["role"], e["decision"]) for e in result["audit"]] == trail
    assert all(e["approver"] == "system" for e in result["audit"])


def test_the_limit_is_the_deployments_context(app, thread):
    result = app.invoke(trip(600), thread, context={"finance_above": 500})
    assert pause(result)["levels"] == ["manager", "finance"]


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"destination": "Lisbon", "cost": 10}, "requester"),
        (trip("10"), "cost"),
        (trip(0), "cost"),
        (trip(10, destination=" "), "destination"),
    ],
)
def test_invalid_input_fails_naming_the_field(app, thread, values, field):
    with pytest.raises(ValueError, match=f"invalid travel_request input: .*{field}"):
        app.invoke(values, thread)


def test_malformed_context_fails_the_run(app, thread):
    with pytest.raises(ValueError, match="invalid travel_request context: finance_above"):
        app.invoke(trip(500), thread, context={"finance_above": -1})
