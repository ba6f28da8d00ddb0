"""In-process tests of the expense approval workflow."""

from __future__ import annotations

import math

import pytest
from langgraph.types import Command

from graphs.expense_approval import AUTO_APPROVED_NOTE, build_graph


@pytest.fixture
def app(checkpointer):
    return build_graph().compile(checkpointer=checkpointer)


def pause_of(result):
    (interrupt,) = result["__interrupt__"]
    return interrupt


def test_seed_small_expense_is_auto_approved(app, thread):
    seed_input = {
        "amount": 50.0,
        "description": "Office supplies",
        "status": "pending",
        "approver_note": "",
    }
    result = app.invoke(seed_input, thread)
    assert result["status"] == "approved"
    assert result["approver_note"] == AUTO_APPROVED_NOTE
    assert "__interrupt__" not in result


def test_seed_conference_ticket_is_approved_with_note(app, thread):
    result = app.invoke({"amount": 500.0, "description": "Conference ticket"}, thread)
    pause = pause_of(result)
    assert pause.value["type"] == "expense_approval"
    assert pause.value["amount"] == 500.0
    assert pause.value["description"] == "Conference ticket"
    assert pause.value["options"] == ["approve", "reject"]
    assert pause.value["role"] == "manager"
    assert pause.response_schema["properties"]["decision"]["enum"]
    final = app.invoke(
        Command(resume={"decision": "approved", "note": "Approved for Q4 conference"}), thread
    )
    assert final["status"] == "approved"
    assert final["approver_note"] == "Approved for Q4 conference"
    assert [e["decision"] for e in final["audit"]] == ["approve"]


def test_seed_laptop_is_rejected_with_note(app, thread):
    app.invoke({"amount": 2000.0, "description": "New laptop"}, thread)
    final = app.invoke(
        Command(resume={"decision": "rejected", "note": "Use IT procurement process instead"}),
        thread,
    )
    assert final["status"] == "rejected"
    assert final["approver_note"] == "Use IT procurement process instead"


@pytest.mark.parametrize(("word", "status"), [("approve", "approved"), ("reject", "rejected")])
def test_option_words_are_accepted(app, thread, word, status):
    app.invoke({"amount": 300, "description": "Train"}, thread)
    final = app.invoke(Command(resume={"decision": word, "note": "n", "approver": "bob"}), thread)
    assert final["status"] == status
    assert final["audit"][-1]["approver"] == "bob"


@pytest.mark.parametrize(
    ("amount", "pauses"), [(100, False), (100.0, False), (100.01, True), (99.99, False)]
)
def test_threshold_edges(app, thread, amount, pauses):
    result = app.invoke({"amount": amount, "description": "Edge"}, thread)
    assert ("__interrupt__" in result) is pauses
    if not pauses:
        assert result["status"] == "approved"


def test_threshold_is_configurable_per_run(app, thread):
    result = app.invoke(
        {"amount": 500, "description": "Hotel"}, thread, context={"approval_threshold": 1000}
    )
    assert result["status"] == "approved"
    other = {"configurable": {"thread_id": thread["configurable"]["thread_id"] + "-2"}}
    result = app.invoke(
        {"amount": 50, "description": "Pens"}, other, context={"approval_threshold": 10}
    )
    assert pause_of(result).value["threshold"] == 10


BAD_ANSWERS = [
    "yes",
    42,
    ["approve"],
    {"note": "no decision"},
    {"decision": "maybe"},
    {"decision": "APPROVE"},
    {"decision": 1},
    {"decision": True},
    {"decision": "approve", "note": 5},
    {"decision": "approve", "approver": ["x"]},
    {"decision": "approve", "extra": "field"},
]


@pytest.mark.parametrize("bad", BAD_ANSWERS, ids=repr)
def test_bad_answer_never_approves_and_keeps_the_pause(app, thread, bad):
    app.invoke({"amount": 500, "description": "Conference ticket"}, thread)
    result = app.invoke(Command(resume=bad), thread)
    pause = pause_of(result)
    assert result["status"] == "pending"
    assert pause.value["error"].startswith("invalid answer:")
    assert pause.value["amount"] == 500
    # The thread is still answerable, and a correct answer works.
    final = app.invoke(Command(resume={"decision": "approve", "note": "fine"}), thread)
    assert final["status"] == "approved"
    assert final["approver_note"] == "fine"
    assert "error" not in final
    assert len(final["audit"]) == 1


def test_error_names_the_field(app, thread):
    app.invoke({"amount": 500, "description": "Conference ticket"}, thread)
    pause = pause_of(app.invoke(Command(resume={"decision": "approve", "note": 5}), thread))
    assert "note" in pause.value["error"]


@pytest.mark.parametrize("empty", [{}, None], ids=repr)
def test_empty_answer_decides_nothing(app, thread, empty):
    # langgraph reads {} as a resume map naming no pause, and refuses None outright:
    # either way nothing is decided and the pause is still answerable.
    app.invoke({"amount": 500, "description": "Conference ticket"}, thread)
    try:
        app.invoke(Command(resume=empty), thread)
    except Exception:  # noqa: BLE001 - langgraph's own refusal of resume=None
        pass
    state = app.get_state(thread)
    assert state.values["status"] == "pending"
    assert state.interrupts
    final = app.invoke(Command(resume={"decision": "reject", "note": "no"}), thread)
    assert final["status"] == "rejected"


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"description": "no amount"}, "amount"),
        ({"amount": "abc", "description": "x"}, "amount"),
        ({"amount": "500", "description": "x"}, "amount"),
        ({"amount": -5, "description": "x"}, "amount"),
        ({"amount": 0, "description": "x"}, "amount"),
        ({"amount": math.inf, "description": "x"}, "amount"),
        ({"amount": math.nan, "description": "x"}, "amount"),
        ({"amount": True, "description": "x"}, "amount"),
        ({"amount": 10, "description": ""}, "description"),
        ({"amount": 10, "description": "   "}, "description"),
        ({"amount": 10}, "description"),
        ({"amount": 10, "description": 7}, "description"),
    ],
)
def test_invalid_input_fails_naming_the_field(app, thread, values, field):
    with pytest.raises(ValueError, match=f"invalid expense_approval input: .*{field}"):
        app.invoke(values, thread)
    assert not app.get_state(thread).interrupts


def test_a_resume_cannot_change_the_pinned_threshold(app, thread):
    app.invoke({"amount": 50, "description": "Taxi"}, thread, context={"approval_threshold": 10})
    final = app.invoke(
        Command(resume={"decision": "reject", "note": "no"}),
        thread,
        context={"approval_threshold": 1000},
    )
    assert final["status"] == "rejected"
    assert final["approver_note"] == "no"
