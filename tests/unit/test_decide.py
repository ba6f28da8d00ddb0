"""decide(): every outcome of a pause, and the approver rule for every workflow from one table."""

from __future__ import annotations

import importlib
import uuid
from pathlib import Path
from typing import Any, Literal, NotRequired

import pytest
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.graph import END, START, StateGraph
from langgraph.types import Command

import graphs
from graphs.common import events
from graphs.common.contract import Pause
from graphs.common.decisions import NotedModel
from graphs.common.fields import Amount, Approver, Note, StrictModel
from graphs.common.pauses import Answered, AskAgain, Expired, WorkflowState, decide

GRAPHS = Path(graphs.__file__).parent
PAST = "2000-01-01T00:00:00+00:00"
FUTURE = "2999-01-01T00:00:00+00:00"


class User(dict):
    """What the server's auth puts in ``langgraph_auth_user``: ``.identity`` and ``["role"]``."""

    def __init__(self, identity: str, role: str) -> None:
        super().__init__(role=role)
        self.identity = identity


def thread() -> RunnableConfig:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def as_user(config: RunnableConfig, identity: str, role: str) -> RunnableConfig:
    """``config`` signed in as ``identity`` (``role``), as the server runs an answer."""
    configurable = {**config["configurable"], "langgraph_auth_user": User(identity, role)}
    return {**config, "configurable": configurable}


def pause_of(result: dict[str, Any]) -> dict[str, Any]:
    (interrupt,) = result["__interrupt__"]
    return interrupt.value


# -- decide() on a workflow of the test's own ------------------------------------------------


class Purchase(StrictModel):
    item: str
    price: Amount
    requester: str | None = None


class Changes(StrictModel):
    price: Amount | None = None


class Answer(NotedModel):
    decision: Literal["approve", "edit", "reject"]
    note: Note = ""
    approver: Approver = None
    changes: Changes | None = None


class State(WorkflowState):
    item: str
    price: float
    requester: NotRequired[str | None]
    outcome: NotRequired[str]


def ask(state: State, config: RunnableConfig) -> dict[str, Any]:
    pause = Pause.about(
        Purchase,
        state,
        type="purchase",
        action="Approve purchase",
        options=["approve", "edit", "reject"],
        editable=Changes,
        role="manager",
        due_at=state.get("due_at"),
    )
    match decide(pause, Answer, state, config):
        case Expired() as expired:
            return {**expired.update("nobody decided"), "outcome": "expired"}
        case AskAgain() as again:
            return {**again.update, "outcome": "ask again"}
        case Answered(answer=answer) as decided:
            return {**decided.update, "outcome": answer.decision}


def route(state: State) -> Literal["ask", "__end__"]:
    return "ask" if state.get("review_error") else END


@pytest.fixture
def app():
    builder = StateGraph(State)
    builder.add_node("ask", ask)
    builder.add_edge(START, "ask")
    builder.add_conditional_edges("ask", route)
    return builder.compile(checkpointer=InMemorySaver())


@pytest.fixture
def announced(monkeypatch) -> list[events.Event]:
    """The events the workflow emits (paused, decided), in order."""
    heard: list[events.Event] = []
    monkeypatch.setattr(events, "_listeners", [lambda _config, event: heard.append(event)])
    return heard


def purchase(requester: str = "alice", due: str = FUTURE) -> dict[str, Any]:
    return {"item": "Laptop", "price": 1_500.0, "requester": requester, "due_at": due}


def decided(events_heard: list[events.Event]) -> list[str | None]:
    return [e.approver for e in events_heard if isinstance(e, events.Decided)]


def test_an_answer_is_recorded_with_its_changes_and_announced(app, announced):
    config = thread()
    assert pause_of(app.invoke(purchase(), config))["role"] == "manager"
    answer = {"decision": "edit", "changes": {"price": 1_200.0}, "note": "the cheaper one"}
    result = app.invoke(Command(resume=answer), as_user(config, "bob", "manager"))
    assert "__interrupt__" not in result
    assert result["outcome"] == "edit" and result["review_error"] is None
    (entry,) = result["audit"]
    assert {k: v for k, v in entry.items() if k != "at"} == {
        "channel": None,  # in process: no server said where it came from
        "step": 1,
        "role": "manager",
        "decision": "edit",
        "approver": "bob",
        "note": "the cheaper one",
        "changes": {"price": 1_200.0},
    }
    assert decided(announced) == ["bob"]


def test_in_process_the_answers_approver_is_recorded(app):
    config = thread()
    app.invoke(purchase(), config)
    result = app.invoke(Command(resume={"decision": "approve", "approver": "bob"}), config)
    assert [(e["decision"], e["approver"], e["changes"]) for e in result["audit"]] == [
        ("approve", "bob", None)
    ]


def test_any_answer_after_the_deadline_is_an_expiry(app, announced):
    config = thread()
    app.invoke(purchase(due=PAST), config)
    result = app.invoke(Command(resume={"decision": "approve"}), as_user(config, "bob", "manager"))
    assert result["outcome"] == "expired"
    (entry,) = result["audit"]
    assert (entry["decision"], entry["approver"], entry["note"]) == (
        "expire",
        "system",
        "nobody decided",
    )
    assert decided(announced) == []


def test_claiming_expiry_early_is_asked_again(app):
    config = thread()
    app.invoke(purchase(), config)
    result = app.invoke(Command(resume={"decision": "expired"}), config)
    assert result["outcome"] == "ask again"
    assert pause_of(result)["error"] == f"invalid answer: the pause is not due until {FUTURE}"


@pytest.mark.parametrize(
    "bad",
    [
        "approve",
        {"decision": "maybe"},
        {"decision": "reject"},  # a reject says why
        {"decision": "approve", "changes": {"price": "cheap"}},
        [{"type": "ignore", "args": None}],  # Agent Inbox's ignore is not offered
    ],
    ids=repr,
)
def test_an_invalid_answer_is_asked_again_showing_why(app, announced, bad):
    config = thread()
    app.invoke(purchase(), config)
    result = app.invoke(Command(resume=bad), as_user(config, "bob", "manager"))
    value = pause_of(result)
    assert result["outcome"] == "ask again" and result["audit"] == []
    assert value["error"].startswith("invalid answer: ")
    assert f"- **Last answer refused:** {value['error']}" in value["description"]
    assert value["role"] == "manager" and value["request"]["price"] == 1_500.0
    assert decided(announced) == []
    result = app.invoke(Command(resume={"decision": "approve"}), as_user(config, "bob", "manager"))
    assert "__interrupt__" not in result and result["review_error"] is None
    assert [e["approver"] for e in result["audit"]] == ["bob"]


@pytest.mark.parametrize(
    ("answer", "outcome"),
    [
        ({"decision": "approve"}, "ask again"),
        ({"decision": "edit", "changes": {"price": 900.0}}, "ask again"),
        ({"decision": "reject", "note": "withdrawn: bought one myself"}, "reject"),
    ],
)
def test_the_requester_may_reject_but_not_approve_their_own_request(app, answer, outcome):
    config = thread()
    app.invoke(purchase(requester="bob"), config)
    result = app.invoke(Command(resume=answer), as_user(config, "bob", "manager"))
    assert result["outcome"] == outcome
    if outcome == "ask again":
        assert "segregation of duties" in pause_of(result)["error"]
        assert result["audit"] == []
    else:
        assert [(e["decision"], e["approver"]) for e in result["audit"]] == [("reject", "bob")]


def test_the_requester_rule_holds_in_process_too(app):
    config = thread()
    app.invoke(purchase(requester="bob"), config)
    result = app.invoke(Command(resume={"decision": "approve", "approver": "bob"}), config)
    assert "segregation of duties" in pause_of(result)["error"]


@pytest.mark.parametrize(
    ("identity", "role", "answer", "error"),
    [
        ("alice", "employee", {}, "waits for manager; you are alice (employee)"),
        ("carol", "finance", {}, "waits for manager; you are carol (finance)"),
        ("bob", "manager", {"approver": "dan"}, "approver 'dan' is not the signed-in user 'bob'"),
    ],
)
def test_only_whom_the_pause_waits_for_answers_and_as_themselves(
    app, announced, identity, role, answer, error
):
    config = thread()
    app.invoke(purchase(requester="frank"), config)
    resume = Command(resume={"decision": "approve", **answer})
    result = app.invoke(resume, as_user(config, identity, role))
    assert result["outcome"] == "ask again" and result["audit"] == []
    assert pause_of(result)["error"] == error
    assert decided(announced) == []


# -- the approver rule, for every workflow -------------------------------------------------------


WORKFLOWS = [
    ("expense_approval", {"amount": 500.0, "description": "Trade fair"}, "approved"),
    ("approval_chain", {"amount": 500.0, "description": "Team offsite"}, "approved"),
    ("order_processing", {"amount": 5_000.0, "customer": "Acme"}, "paid"),
    ("travel_request", {"destination": "Lisbon", "cost": 1_500.0}, "approved"),
]
"""Each workflow, a request its manager alone decides, and its status once approved."""


@pytest.mark.usefixtures("offline")  # orders write to a ledger of the test's own
@pytest.mark.parametrize(
    ("workflow", "request_", "approved"), WORKFLOWS, ids=[w for w, *_ in WORKFLOWS]
)
def test_the_approver_rule_holds_in_every_workflow(workflow, request_, approved):
    builder = importlib.import_module(f"graphs.{workflow}").build_graph()
    app = builder.compile(checkpointer=InMemorySaver())
    config = thread()
    approve = Command(resume={"decision": "approve", "note": "ok"})

    value = pause_of(app.invoke(request_, as_user(config, "bob", "manager")))
    assert (value["role"], value["requester"]) == ("manager", "bob")

    # bob is a manager, but it is his own request: asked again, nothing recorded.
    result = app.invoke(approve, as_user(config, "bob", "manager"))
    assert "segregation of duties" in pause_of(result)["error"]
    assert not result.get("audit")

    # alice may not answer a manager's pause at all.
    result = app.invoke(approve, as_user(config, "alice", "employee"))
    assert pause_of(result)["error"] == "waits for manager; you are alice (employee)"

    # another manager's approval is applied.
    result = app.invoke(approve, as_user(config, "dan", "manager"))
    assert "__interrupt__" not in result
    assert result["status"] == approved
    assert [(e["role"], e["decision"], e["approver"]) for e in result["audit"]] == [
        ("manager", "approve", "dan")
    ]


def test_the_table_has_every_workflow_that_asks_through_decide():
    deciding = {p.stem for p in GRAPHS.glob("*.py") if "decide(" in p.read_text()}
    assert deciding == {workflow for workflow, *_ in WORKFLOWS}
