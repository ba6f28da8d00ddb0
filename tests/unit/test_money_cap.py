"""Money is capped per requester, not per call: in process, assistant and orders."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command
from sqlalchemy import select

from graphs import order_processing, payments
from graphs.assistant.graph import build_graph
from graphs.common import store
from graphs.common.access import why_not_answerable

pytestmark = pytest.mark.usefixtures("offline")

SPLIT = " and ".join(["pay 999 to mallory"] * 4)
OWNER = {"user": "alice"}
MANAGER = {"role": "manager", "requester": "alice"}


@pytest.fixture
def agent():
    return build_graph().compile(checkpointer=InMemorySaver())


@pytest.fixture
def orders():
    return order_processing.build_graph().compile(checkpointer=InMemorySaver())


class User(dict):
    """What the server's auth puts in ``langgraph_auth_user``: ``.identity`` and ``["role"]``."""

    def __init__(self, identity: str, role: str) -> None:
        super().__init__(role=role)
        self.identity = identity


def conversation(owner="alice", signed_in=None):
    """A thread config as the server builds it: the owner stamped in metadata."""
    config = {"configurable": {"thread_id": str(uuid.uuid4())}, "metadata": {"owner": owner}}
    if signed_in:
        config["configurable"]["langgraph_auth_user"] = User(*signed_in)
    return config


def as_user(config, identity, role):
    configurable = {**config["configurable"], "langgraph_auth_user": User(identity, role)}
    return {**config, "configurable": configurable}


def run(agent, config, value):
    return asyncio.run(agent.ainvoke(value, config))


def say(text):
    return {"messages": [{"role": "user", "content": text}]}


def addressed(pause):
    return {
        k: pause.value[k] for k in ("user", "role", "requester") if pause.value.get(k) is not None
    }


def pauses_in_call_order(result):
    """The money pauses in the order of the model's tool calls."""
    calls = next(m for m in reversed(result["messages"]) if isinstance(m, AIMessage)).tool_calls
    by_call = {i.value["tool_call_id"]: i for i in result["__interrupt__"]}
    return [by_call[c["id"]] for c in calls if c["id"] in by_call]


def approve(*pauses):
    return Command(resume={p.id: {"type": "approve"} for p in pauses})


def tool_texts(result):
    return [m.content for m in result["messages"] if isinstance(m, ToolMessage)]


def today(requester="alice"):
    return payments.unreviewed_total(requester, since=payments.day_start())


def total_charged():
    with store.engine().connect() as conn:
        return sum(abs(float(r.amount)) for r in conn.execute(select(store.charges)))


# -- the assistant ------------------------------------------------------------------


def test_four_payments_in_one_message_the_second_goes_to_a_manager(agent):
    config = conversation()
    pauses = pauses_in_call_order(run(agent, config, say(SPLIT)))
    assert [addressed(p) for p in pauses] == [OWNER, MANAGER, MANAGER, MANAGER]
    for pause in pauses[1:]:  # the owner may not approve the pieces past the limit
        assert why_not_answerable(pause.value, "alice", "employee", approves=True)
        assert why_not_answerable(pause.value, "bob", "manager", approves=True) is None

    # The owner approves hers; the others still wait for the manager, unchanged.
    result = run(agent, config, approve(pauses[0]))
    still = pauses_in_call_order(result)
    assert [(p.id, addressed(p)) for p in still] == [(p.id, MANAGER) for p in pauses[1:]]
    assert today() == 999 and payments.ledger_count() == 1

    result = run(agent, as_user(config, "bob", "manager"), approve(*still))  # the manager
    assert "__interrupt__" not in result
    assert all(": success (TXN-" in t for t in tool_texts(result))
    assert payments.ledger_count() == 4 and total_charged() == 3_996
    assert today() == 999  # what the manager approved is not the owner's


def test_the_owner_cannot_approve_a_piece_past_the_limit(agent):
    """In process, the middleware applies the same rule the server applies before storing."""
    config = conversation()
    _, second = pauses_in_call_order(run(agent, config, say("pay 999 to a and pay 999 to b")))
    result = run(agent, as_user(config, "alice", "employee"), approve(second))
    (again,) = [p for p in pauses_in_call_order(result) if p.id == second.id]  # asked again
    assert "waits for manager; you are alice" in again.value["error"]
    assert payments.ledger_count() == 0

    config = conversation()
    first, second = pauses_in_call_order(run(agent, config, say("pay 999 to a and pay 999 to b")))
    run(agent, as_user(config, "alice", "employee"), approve(first))
    result = run(agent, as_user(config, "bob", "manager"), approve(second))
    assert "__interrupt__" not in result
    assert payments.ledger_count() == 2 and today() == 999


def test_a_later_message_in_the_same_conversation_counts(agent):
    config = conversation()
    (pause,) = pauses_in_call_order(run(agent, config, say("pay 999 to mallory")))
    assert addressed(pause) == OWNER
    run(agent, config, approve(pause))
    (fifth,) = pauses_in_call_order(run(agent, config, say("pay 999 to mallory")))
    assert addressed(fifth) == MANAGER
    (small,) = pauses_in_call_order(run(agent, config, say("refund 2 to mallory")))
    assert addressed(small) == MANAGER  # refunds count too: 999 + 2 > 1,000


def test_the_conversation_counts_even_across_days(agent, monkeypatch):
    config = conversation()
    (pause,) = pauses_in_call_order(run(agent, config, say("pay 600 to mallory")))
    run(agent, config, approve(pause))
    tomorrow = payments.day_start() + timedelta(days=1)
    monkeypatch.setattr(payments, "day_start", lambda at=None: tomorrow)
    assert today() == 0  # a new day ...
    (later,) = pauses_in_call_order(run(agent, config, say("pay 600 to mallory")))
    assert addressed(later) == MANAGER  # ... but the same conversation
    (elsewhere,) = pauses_in_call_order(run(agent, conversation(), say("pay 600 to mallory")))
    assert addressed(elsewhere) == OWNER


def test_a_second_conversation_the_same_day_counts(agent):
    first = conversation()
    (pause,) = pauses_in_call_order(run(agent, first, say("pay 999 to mallory")))
    run(agent, first, approve(pause))
    (other,) = pauses_in_call_order(run(agent, conversation(), say("pay 2 to mallory")))
    assert addressed(other) == MANAGER
    (franks,) = pauses_in_call_order(run(agent, conversation("frank"), say("pay 999 to x")))
    assert addressed(franks) == {"user": "frank"}  # per person


def test_an_approval_no_signed_in_manager_gave_is_not_a_review(agent):
    """A replay with no signed-in user (the server's own) is no evidence of a manager."""
    config = conversation()
    (big,) = pauses_in_call_order(run(agent, config, say("pay 5000 to acme")))
    result = run(agent, config, approve(big))
    assert any("over your limit" in t for t in tool_texts(result))
    assert payments.ledger_count() == 0


def test_money_a_manager_approved_does_not_count(agent):
    config = conversation()
    (big,) = pauses_in_call_order(run(agent, config, say("pay 5000 to acme")))
    assert addressed(big) == MANAGER
    run(agent, as_user(config, "bob", "manager"), approve(big))
    assert payments.ledger_count() == 1 and today() == 0
    (small,) = pauses_in_call_order(run(agent, config, say("pay 999 to acme")))
    assert addressed(small) == OWNER


def test_a_rejected_call_moves_nothing_and_later_messages_do_not_count_it(agent):
    config = conversation()
    (pause,) = pauses_in_call_order(run(agent, config, say("pay 999 to mallory")))
    run(agent, config, Command(resume={pause.id: {"type": "reject"}}))
    (again,) = pauses_in_call_order(run(agent, config, say("pay 999 to mallory")))
    assert addressed(again) == OWNER


def test_safety_net_refuses_a_payment_that_crosses_the_limit_after_its_review(agent):
    """Two conversations both ask the owner before either pays: the second payment is refused."""
    one, two = conversation(), conversation()
    (first,) = pauses_in_call_order(run(agent, one, say("pay 600 to mallory")))
    (second,) = pauses_in_call_order(run(agent, two, say("pay 600 to mallory")))
    assert addressed(first) == addressed(second) == OWNER
    run(agent, as_user(one, "alice", "employee"), approve(first))
    # The pause still waits for the owner (whom it waits for never changes under an
    # answer), so her approve is accepted; the ledger refuses the money.
    result = run(agent, as_user(two, "alice", "employee"), approve(second))
    (text,) = tool_texts(result)
    assert text.startswith("Refused: over your limit of 1,000.00 without a manager: 600.00")
    assert payments.ledger_count() == 1 and today() == 600
    assert "__interrupt__" not in result and result["reviews"][0]["decision"] == "approve"


# -- orders -------------------------------------------------------------------------


def order_by(requester):
    """An order thread run by ``requester``, signed in (the order's requester is the user)."""
    return conversation(requester, signed_in=(requester, "employee"))


def test_two_600_orders_by_one_requester_on_one_day(orders):
    first = orders.invoke({"amount": 600}, order_by("alice"))
    assert first["status"] == "paid" and first.get("decided_by") is None
    config = order_by("alice")
    second = orders.invoke({"amount": 600}, config)
    (pause,) = second["__interrupt__"]
    assert (pause.value["type"], pause.value["role"]) == ("order_approval", "manager")
    assert (
        "with the 600.00 alice already moved without a manager today"
        in (pause.value["description"])
    )
    assert payments.ledger_count(second["order_id"]) == 0
    frank = orders.invoke({"amount": 600}, order_by("frank"))
    assert frank["status"] == "paid"  # per person
    done = orders.invoke(Command(resume={"decision": "approve"}), as_user(config, "bob", "manager"))
    assert done["status"] == "paid" and done["decided_by"] == "bob"
    assert today() == 600  # the manager's approval does not count


def test_an_orders_pause_survives_a_new_day(orders, monkeypatch):
    """Whether an order waits is pinned when it is made: a resume after midnight keeps it."""
    orders.invoke({"amount": 600}, order_by("alice"))
    config = order_by("alice")
    assert orders.invoke({"amount": 600}, config)["__interrupt__"]
    tomorrow = payments.day_start() + timedelta(days=1)
    monkeypatch.setattr(payments, "day_start", lambda at=None: tomorrow)
    done = orders.invoke(
        Command(resume={"decision": "reject", "note": "no"}), as_user(config, "bob", "manager")
    )
    assert done["status"] == "cancelled" and payments.ledger_count(done["order_id"]) == 0


def test_the_assistants_payments_count_towards_orders(agent, orders):
    config = conversation()
    (pause,) = pauses_in_call_order(run(agent, config, say("refund 700 to acme")))
    run(agent, config, approve(pause))
    order = orders.invoke({"amount": 400}, order_by("alice"))
    assert order["__interrupt__"][0].value["role"] == "manager"


def test_orders_safety_net_refuses_an_unreviewed_order_that_crosses_the_limit():
    """Two orders approved by the limit before either was charged: the second is refused."""
    app = order_processing.build_graph().compile(
        checkpointer=InMemorySaver(), interrupt_before=["charge"]
    )
    one, two = order_by("alice"), order_by("alice")
    app.invoke({"amount": 600}, one)
    app.invoke({"amount": 600}, two)
    assert app.get_state(one).values["status"] == app.get_state(two).values["status"] == "approved"
    assert app.invoke(None, one)["status"] == "paid"
    refused = app.invoke(None, two)
    assert refused["status"] == "refused"
    assert refused["payment_error"].startswith("over your limit of 1,000.00 without a manager:")
    assert refused["payment_result"]["status"] == "refused"
    assert payments.ledger_count(refused["order_id"]) == 0 and today() == 600


# -- the ledger ---------------------------------------------------------------------


def alice(thread="t1", reviewed=False, limit=1_000.0):
    return payments.Spender(requester="alice", thread_id=thread, reviewed=reviewed, limit=limit)


def test_ledger_records_who_moved_the_money():
    payments.charge("k1", "PAY-1", 600, None, alice())
    payments.charge("k2", "REFUND-2", -300, None, alice("t2"))
    payments.charge("k3", "PAY-3", 5_000, None, alice(reviewed=True))
    with store.engine().connect() as conn:
        rows = {r.idempotency_key: r for r in conn.execute(select(store.charges))}
    assert (rows["k1"].requester, rows["k1"].thread_id, rows["k1"].reviewed) == (
        "alice",
        "t1",
        False,
    )
    assert rows["k3"].reviewed is True
    assert abs(rows["k1"].created_at.replace(tzinfo=UTC) - datetime.now(UTC)) < timedelta(minutes=1)
    assert payments.unreviewed_total("alice") == 900  # a refund counts as money moved
    assert payments.unreviewed_total("alice", thread_id="t1") == 600
    assert payments.unreviewed_total("alice", since=datetime.now(UTC) + timedelta(hours=1)) == 0
    assert payments.unreviewed_total("bob") == 0


def test_ledger_refuses_an_unreviewed_charge_past_the_limit():
    payments.charge("k1", "PAY-1", 600, None, alice("t1"))
    with pytest.raises(
        payments.OverLimit, match=r"^over your limit of 1,000\.00 without a manager"
    ):
        payments.charge("k2", "PAY-2", 401, None, alice("t2"))
    assert payments.ledger_count() == 1
    payments.charge("k3", "PAY-3", 400, None, alice("t2"))  # exactly the limit is fine
    payments.charge("k4", "PAY-4", 9_000, None, alice(reviewed=True))  # a manager approved it
    # A repeat of a charged key returns the first charge, never refused on replay.
    first = payments.charge("k1", "PAY-1", 600, None, alice("t1"))
    assert first == payments.charge("k1", "PAY-1", 600, None, alice("t1"))
    assert payments.ledger_count() == 3 and today() == 1_000
    with pytest.raises(payments.IdempotencyConflict):
        payments.charge("k1", "PAY-1", 601, None, alice("t1"))


def test_concurrent_charges_of_one_requester_cannot_both_pass():
    store.engine()  # tables made before the race
    barrier = threading.Barrier(8)
    outcomes: list[str] = []

    def one(i):
        barrier.wait()
        try:
            payments.charge(f"k{i}", f"PAY-{i}", 600, None, alice(f"t{i}"))
            outcomes.append("paid")
        except payments.OverLimit:
            outcomes.append("refused")

    workers = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(outcomes) == ["paid"] + ["refused"] * 7
    assert payments.ledger_count() == 1 and today() == 600


OLD_CHARGES = """CREATE TABLE charges (
    idempotency_key VARCHAR(200) NOT NULL PRIMARY KEY,
    order_id VARCHAR(50) NOT NULL,
    amount NUMERIC(14, 2) NOT NULL,
    transaction_id VARCHAR(20) NOT NULL,
    created_at DATETIME DEFAULT (CURRENT_TIMESTAMP) NOT NULL
)"""


def test_a_ledger_of_the_old_schema_is_brought_up_to_date(tmp_path, monkeypatch):
    path = tmp_path / "old.sqlite"
    with sqlite3.connect(path) as old:
        old.execute(OLD_CHARGES)
        old.execute(
            "INSERT INTO charges (idempotency_key, order_id, amount, transaction_id)"
            " VALUES ('ORD-12345', 'ORD-12345', 700, 'TXN-1234')"
        )
    url = f"sqlite:///{path}"
    monkeypatch.setenv("HITL_LEDGER_URL", url)
    engine = store.engine()
    with engine.connect() as conn:
        (row,) = conn.execute(select(store.charges)).all()
    assert (row.idempotency_key, row.requester, row.reviewed) == ("ORD-12345", None, None)
    assert payments.ledger_count() == 1
    assert payments.unreviewed_total(None) == 0  # nobody's: it counts towards no limit
    payments.charge("k1", "PAY-1", 600, None, alice())
    assert today() == 600
    with sqlite3.connect(path) as db:
        indexes = {r[1] for r in db.execute("PRAGMA index_list('charges')")}
    assert "charges_by_requester" in indexes
    store.create_tables(engine)  # a second start changes nothing
