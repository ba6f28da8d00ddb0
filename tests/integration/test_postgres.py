"""The project's own state and its graphs on a real Postgres, from several processes at once.

A throwaway cluster (``tests/pg.py``: ``initdb``/``pg_ctl`` from Debian's
``postgresql``) serves the module; each test gets a database of its own. The
worker processes are spawned once and stand in for server replicas: a barrier
starts every call in all of them at the same moment.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Iterator

import pytest
from langgraph.checkpoint.postgres import PostgresSaver
from langgraph.types import Command
from sqlalchemy import select

from graphs import approval_chain, expense_approval, order_processing, payments
from graphs.common import store
from tests.pg import PgCluster, ProcessGroup, pg_cluster  # noqa: F401 - pg_cluster: fixture

pytestmark = pytest.mark.integration

WORKERS = 8


@pytest.fixture(scope="module")
def workers() -> Iterator[ProcessGroup]:
    started = time.monotonic()
    group = ProcessGroup(WORKERS)
    group.run(_ready, [()] * WORKERS)
    print(f"{WORKERS} worker processes ready in {time.monotonic() - started:.1f}s")
    try:
        yield group
    finally:
        group.close()


@pytest.fixture
def db(pg_cluster: PgCluster) -> str:  # noqa: F811 - the fixture imported above
    return pg_cluster.new_database()


# -- what the worker processes run (module-level: pickled by name) --------------------


def _ready(index: int) -> int:
    return os.getpid()


def _charge(index: int, ledger: str, key: str, order_id: str, amount: float) -> str:
    os.environ["HITL_LEDGER_URL"] = ledger
    try:
        return payments.charge(key, order_id, amount)["transaction_id"]
    except payments.IdempotencyConflict:
        return "conflict"


def _open_ledger(index: int, ledger: str) -> str:
    return store.engine(ledger).dialect.driver


def _charge_many(index: int, ledger: str, keys: list[str]) -> dict[str, str]:
    os.environ["HITL_LEDGER_URL"] = ledger
    return {key: payments.charge(key, key.split(":")[0], 10.0)["transaction_id"] for key in keys}


def _config(thread_id: str) -> dict:
    return {"configurable": {"thread_id": thread_id}}


def _apps(saver: PostgresSaver) -> dict:
    return {
        module.__name__.split(".")[-1]: module.build_graph().compile(checkpointer=saver)
        for module in (order_processing, expense_approval, approval_chain)
    }


def _start(index: int, ledger: str, conninfo: str, run: str) -> dict:
    """Run one thread of each graph to its first pause."""
    os.environ["HITL_LEDGER_URL"] = ledger
    with PostgresSaver.from_conn_string(conninfo) as saver:
        apps = _apps(saver)
        order = apps["order_processing"].invoke(
            {"amount": 1500 + index, "customer": f"customer-{index}"},
            _config(f"{run}-order-{index}"),
        )
        expense = apps["expense_approval"].invoke(
            {"amount": 500, "description": f"Trip {index}"}, _config(f"{run}-expense-{index}")
        )
        chain = apps["approval_chain"].invoke(
            {"amount": 5000, "description": f"Offsite {index}", "requester": "alice"},
            _config(f"{run}-chain-{index}"),
        )
    return {
        "pid": os.getpid(),
        "order": order["__interrupt__"][0].value,
        "expense": expense["__interrupt__"][0].value,
        "chain": chain["__interrupt__"][0].value,
    }


def _resume_others(index: int, ledger: str, conninfo: str, run: str, owner: int) -> dict:
    """Answer the pauses of threads another process started."""
    os.environ["HITL_LEDGER_URL"] = ledger
    approve = {"decision": "approve", "approver": "bob"}
    with PostgresSaver.from_conn_string(conninfo) as saver:
        apps = _apps(saver)
        order = apps["order_processing"].invoke(
            Command(resume=approve), _config(f"{run}-order-{owner}")
        )
        expense = apps["expense_approval"].invoke(
            Command(resume=approve), _config(f"{run}-expense-{owner}")
        )
        chain = apps["approval_chain"].invoke(
            Command(resume=approve), _config(f"{run}-chain-{owner}")
        )
    return {
        "pid": os.getpid(),
        "order": {k: order[k] for k in ("status", "order_id", "payment_result", "decided_by")},
        "expense": expense["status"],
        "chain_next": chain["__interrupt__"][0].value["role"],
    }


def _finish_chain(index: int, conninfo: str, run: str, owner: int) -> tuple[str, list]:
    with PostgresSaver.from_conn_string(conninfo) as saver:
        result = _apps(saver)["approval_chain"].invoke(
            Command(resume={"decision": "approve", "approver": "carol"}),
            _config(f"{run}-chain-{owner}"),
        )
    return result["status"], [(e["role"], e["approver"]) for e in result["audit"]]


def _resume_same(index: int, ledger: str, conninfo: str, thread_id: str) -> dict:
    """Every process answers the same order's pause at once."""
    os.environ["HITL_LEDGER_URL"] = ledger
    with PostgresSaver.from_conn_string(conninfo) as saver:
        result = _apps(saver)["order_processing"].invoke(
            Command(resume={"decision": "approve", "approver": "bob"}), _config(thread_id)
        )
    return {
        **{k: result[k] for k in ("status", "order_id", "payment_result")},
        "called_gateway": payments._attempts[result["order_id"]] > 0,
    }


# -- the ledger ---------------------------------------------------------------------


def test_processes_opening_a_fresh_ledger_race_safely(pg_cluster: PgCluster, workers):  # noqa: F811
    """All replicas starting on an empty database race to create the table; none fails."""
    for _ in range(6):
        ledger = pg_cluster.sqlalchemy_url(pg_cluster.new_database())
        assert workers.run(_open_ledger, [(ledger,)] * WORKERS) == ["psycopg"] * WORKERS
        assert payments.ledger_count(url=ledger) == 0


def test_one_charge_per_key_from_many_processes(pg_cluster: PgCluster, db, workers):  # noqa: F811
    """Fresh database (the table is created by the racing processes themselves)."""
    ledger = pg_cluster.sqlalchemy_url(db)
    for round_ in range(3):
        key = f"thread-{round_}:ORD-{round_}"
        txns = workers.run(_charge, [(ledger, key, f"ORD-{round_}", 1234.5)] * WORKERS)
        assert len(set(txns)) == 1, txns
        assert payments.ledger_count(f"ORD-{round_}", url=ledger) == 1
    engine = store.engine(ledger)
    assert engine.dialect.name == "postgresql"
    assert engine.dialect.driver == "psycopg"
    with engine.connect() as conn:
        rows = conn.execute(select(payments.charges)).all()
    assert sorted(r.idempotency_key for r in rows) == [f"thread-{i}:ORD-{i}" for i in range(3)]
    assert {float(r.amount) for r in rows} == {1234.5}


def test_same_key_other_amount_is_refused_across_processes(pg_cluster: PgCluster, db, workers):  # noqa: F811
    ledger = pg_cluster.sqlalchemy_url(db)
    calls = [(ledger, "t:ORD-9", "ORD-9", 10.0 if i % 2 else 20.0) for i in range(WORKERS)]
    outcomes = workers.run(_charge, calls)
    assert payments.ledger_count("ORD-9", url=ledger) == 1
    with store.engine(ledger).connect() as conn:
        row = conn.execute(select(payments.charges)).one()
    for (_, _, _, amount), outcome in zip(calls, outcomes, strict=True):
        expected = row.transaction_id if amount == float(row.amount) else "conflict"
        assert outcome == expected


def test_different_keys_one_row_each(pg_cluster: PgCluster, db, workers):  # noqa: F811
    """Every process charges the same 40 keys (in its own order): 40 rows, one per key.

    The URL is libpq-style, as LangGraph Server's ``DATABASE_URI`` is: it gets psycopg 3.
    """
    ledger = pg_cluster.conninfo(db) + "?sslmode=disable"
    keys = [f"ORD-{n}:thread-{n}" for n in range(40)]
    calls = [(ledger, keys[i * 5 :] + keys[: i * 5]) for i in range(WORKERS)]
    results = workers.run(_charge_many, calls)
    assert payments.ledger_count(url=ledger) == len(keys)
    for key in keys:
        assert len({r[key] for r in results}) == 1
        assert payments.ledger_count(key.split(":")[0], url=ledger) == 1


# -- the graphs on langgraph-checkpoint-postgres ------------------------------------------


@pytest.fixture
def saver_db(pg_cluster: PgCluster, db) -> str:  # noqa: F811
    conninfo = pg_cluster.conninfo(db)
    with PostgresSaver.from_conn_string(conninfo) as saver:
        saver.setup()  # once, before several processes use it
    return conninfo


def test_graphs_pause_and_resume_across_processes(pg_cluster: PgCluster, db, saver_db, workers):  # noqa: F811
    ledger = pg_cluster.sqlalchemy_url(db)
    run = uuid.uuid4().hex[:8]
    started = workers.run(_start, [(ledger, saver_db, run)] * WORKERS)
    assert len({s["pid"] for s in started}) == WORKERS
    for s in started:
        assert s["order"]["type"] == "order_approval"
        assert s["expense"]["type"] == "expense_approval"
        assert s["chain"]["role"] == "manager"
    assert payments.ledger_count(url=ledger) == 0  # nothing charged before approval

    owners = [(i + 1) % WORKERS for i in range(WORKERS)]  # each resumes a neighbour's threads
    resumed = workers.run(_resume_others, [(ledger, saver_db, run, o) for o in owners])
    for i, (owner, r) in enumerate(zip(owners, resumed, strict=True)):
        assert r["pid"] != started[owner]["pid"], "resumed by another process"
        assert r["pid"] == started[i]["pid"]
        assert r["order"]["status"] == "paid"
        assert r["order"]["order_id"] == started[owner]["order"]["order_id"]
        assert r["order"]["decided_by"] == "bob"
        assert r["expense"] == "approved"
        assert r["chain_next"] == "finance"
        assert payments.ledger_count(r["order"]["order_id"], url=ledger) == 1
    assert payments.ledger_count(url=ledger) == WORKERS

    owners = [(i + 2) % WORKERS for i in range(WORKERS)]
    finished = workers.run(_finish_chain, [(saver_db, run, o) for o in owners])
    assert finished == [("approved", [("manager", "bob"), ("finance", "carol")])] * WORKERS

    with PostgresSaver.from_conn_string(saver_db) as saver:
        apps = _apps(saver)
        for i in range(WORKERS):
            for graph, kind in (
                ("order_processing", "order"),
                ("expense_approval", "expense"),
                ("approval_chain", "chain"),
            ):
                state = apps[graph].get_state(_config(f"{run}-{kind}-{i}"))
                assert state.next == () and not state.interrupts, (graph, i)


def test_duplicate_resumes_of_one_order_charge_once(pg_cluster: PgCluster, db, saver_db, workers):  # noqa: F811
    """Several processes resume one order at once; it is charged once.

    Whether the processes really overlap depends on how busy the machine is: a
    round in which only one reached the gateway proves nothing about the race, so
    it is tried again (up to five rounds); every round must charge once.
    """
    ledger = pg_cluster.sqlalchemy_url(db)
    for round_ in range(5):
        thread_id = f"dup-{uuid.uuid4().hex[:8]}"
        os.environ["HITL_LEDGER_URL"] = ledger
        try:
            with PostgresSaver.from_conn_string(saver_db) as saver:
                app = _apps(saver)["order_processing"]
                paused = app.invoke({"amount": 2500, "customer": "acme"}, _config(thread_id))
        finally:
            del os.environ["HITL_LEDGER_URL"]
        order_id = paused["__interrupt__"][0].value["order_id"]

        results = workers.run(_resume_same, [(ledger, saver_db, thread_id)] * WORKERS)
        assert {r["status"] for r in results} == {"paid"}
        assert {r["order_id"] for r in results} == {order_id}
        assert len({r["payment_result"]["transaction_id"] for r in results}) == 1
        assert payments.ledger_count(order_id, url=ledger) == 1
        assert payments.ledger_count(url=ledger) == round_ + 1
        racing = sum(r["called_gateway"] for r in results)
        print(f"round {round_ + 1}: {racing} of {WORKERS} processes charged the same order at once")
        if racing >= 2:
            return
    raise AssertionError("in five rounds the resumes never overlapped: the race was not tested")
