"""What a clean start needs: route docstrings langgraph-api can read, a checkpointer that prunes.

Pruning (``keep_latest``) keeps what a pending pause needs to resume and the audit
trail; ``delete`` removes everything of the thread.
"""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
import uuid
from typing import Any

import pytest
import yaml
from langgraph.types import Command

from graphs import approval_chain, expense_approval, order_processing, payments
from server.checkpointer import PruningSqliteSaver


def test_custom_routes_describe_themselves_without_a_traceback():
    """langgraph-api reads each route's docstring as YAML at start-up (a traceback if not)."""
    from server.app import app

    for route in app.routes:
        doc = getattr(getattr(route, "endpoint", None), "__doc__", None) or ""
        yaml.safe_load(doc.split("---")[-1])  # raises on what would log a traceback


def test_the_checkpointer_implements_what_langgraph_api_warns_about():
    """langgraph-api warns at every start about a custom checkpointer without these."""
    from langgraph.checkpoint.base import BaseCheckpointSaver
    from langgraph.checkpoint.sqlite import SqliteSaver

    for method in (
        "aget_tuple", "alist", "aput", "aput_writes", "adelete_thread", "aprune",
        "adelete_for_runs", "aget_delta_channel_history",
    ):  # fmt: skip
        ours = getattr(PruningSqliteSaver, method)
        assert ours is not getattr(BaseCheckpointSaver, method)
        assert ours is not getattr(SqliteSaver, method, None)  # its async ones raise


async def _delete_one_run(path: str) -> None:
    async with PruningSqliteSaver.open(path) as saver:
        graph = expense_approval.build_graph().compile(checkpointer=saver)
        kept = {"configurable": {"thread_id": str(uuid.uuid4())}}
        gone = {"configurable": {"thread_id": str(uuid.uuid4())}}
        await graph.ainvoke({"amount": 5.0, "description": "Pens"}, kept)
        # The server puts the run id in each checkpoint's metadata, as this does.
        await graph.ainvoke(
            {"amount": 5.0, "description": "Pens"}, {**gone, "metadata": {"run_id": str(RUN)}}
        )
        await saver.adelete_for_runs([str(RUN)])
        assert (await graph.aget_state(gone)).values == {}
        assert (await graph.aget_state(kept)).values["status"] == "approved"


RUN = uuid.uuid4()


def test_a_runs_checkpoints_are_deleted_and_no_others(tmp_path):
    asyncio.run(_delete_one_run(str(tmp_path / "checkpoints.sqlite")))


async def _history_and_resume(path: str) -> None:
    async with PruningSqliteSaver.open(path) as saver:
        graph = expense_approval.build_graph().compile(checkpointer=saver)
        waiting = {"configurable": {"thread_id": str(uuid.uuid4())}}
        done = {"configurable": {"thread_id": str(uuid.uuid4())}}
        await graph.ainvoke({"amount": 500.0, "description": "Ticket"}, waiting)
        await graph.ainvoke({"amount": 5.0, "description": "Pens"}, done)
        before = [s async for s in graph.aget_state_history(waiting)]
        assert len(before) > 2
        await saver.aprune(
            [waiting["configurable"]["thread_id"], done["configurable"]["thread_id"]]
        )
        after = [s async for s in graph.aget_state_history(waiting)]
        assert len(after) == 1 and after[0].values == before[0].values
        (pause,) = after[0].interrupts  # the pending pause survives, answerable
        result = await graph.ainvoke(
            Command(resume={pause.id: {"decision": "approve", "approver": "bob"}}), waiting
        )
        assert result["status"] == "approved" and result["audit"][-1]["approver"] == "bob"
        kept = await graph.aget_state(done)
        assert kept.values["status"] == "approved" and kept.values["audit"]  # the record
        await saver.aprune([done["configurable"]["thread_id"]], strategy="delete")
        assert (await graph.aget_state(done)).values == {}
        with pytest.raises(ValueError, match="unknown prune strategy"):
            await saver.aprune(["x"], strategy="sometimes")


def test_pruning_keeps_the_state_the_audit_and_a_pending_pause(tmp_path):
    asyncio.run(_history_and_resume(str(tmp_path / "checkpoints.sqlite")))


def _rows(path: str, thread_id: str) -> dict[str, int]:
    """How many checkpoints and pending writes the file holds for a thread."""
    with sqlite3.connect(path) as conn:
        return {
            table: conn.execute(
                f"SELECT COUNT(*) FROM {table} WHERE thread_id = ?",  # noqa: S608
                (thread_id,),
            ).fetchone()[0]
            for table in ("checkpoints", "writes")
        }


async def _chain_pruned_between_levels(path: str) -> None:
    async with PruningSqliteSaver.open(path) as saver:
        graph = approval_chain.build_graph().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        thread_id = config["configurable"]["thread_id"]
        await graph.ainvoke(
            {"amount": 5000.0, "description": "Racks", "requester": "alice"}, config
        )
        first = (await graph.aget_state(config)).interrupts[0]
        answer = {"decision": "approve", "approver": "bob", "note": "ok"}
        await graph.ainvoke(Command(resume={first.id: answer}), config)
        before = await graph.aget_state(config)
        (waiting,) = before.interrupts  # finance's turn
        assert waiting.value["role"] == "finance" and len(before.values["audit"]) == 1
        assert _rows(path, thread_id)["checkpoints"] > 1
        await saver.aprune([thread_id])
        after = await graph.aget_state(config)
        assert _rows(path, thread_id)["checkpoints"] == 1
        assert after.values == before.values  # the audit trail (a state field) intact
        assert [i.id for i in after.interrupts] == [waiting.id] and after.next == before.next
        answer = {"decision": "approve", "approver": "carol"}
        done = await graph.ainvoke(Command(resume={waiting.id: answer}), config)
        assert done["status"] == "approved"
        assert [e["approver"] for e in done["audit"]] == ["bob", "carol"]


def test_pruning_between_levels_keeps_the_trail_and_the_next_pause(tmp_path):
    asyncio.run(_chain_pruned_between_levels(str(tmp_path / "checkpoints.sqlite")))


async def _order_pruned_after_its_task(path: str) -> None:
    async with PruningSqliteSaver.open(path) as saver:
        graph = order_processing.build_graph().compile(checkpointer=saver)
        config = {"configurable": {"thread_id": str(uuid.uuid4())}}
        thread_id = config["configurable"]["thread_id"]
        flaky = {"gateway": {"transient_failures": 3}}
        paused = await graph.ainvoke({"amount": 50}, config, context=flaky)
        (pause,) = paused["__interrupt__"]
        assert pause.value["type"] == "payment_failed"
        await saver.aprune([thread_id])
        assert _rows(path, thread_id)["checkpoints"] == 1
        done = await graph.ainvoke(Command(resume={"decision": "retry"}), config)
        assert done["status"] == "paid"
        assert done["order_id"] == pause.value["order_id"]  # the @task's result was kept
        assert payments.ledger_count(done["order_id"]) == 1


def test_pruning_a_paused_order_keeps_its_order_id_and_charges_once(tmp_path, monkeypatch):
    monkeypatch.setenv("HITL_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HITL_LEDGER_URL", raising=False)
    asyncio.run(_order_pruned_after_its_task(str(tmp_path / "checkpoints.sqlite")))


async def _delete_one_thread(path: str) -> tuple[str, str]:
    async with PruningSqliteSaver.open(path) as saver:
        graph = expense_approval.build_graph().compile(checkpointer=saver)
        gone, kept = str(uuid.uuid4()), str(uuid.uuid4())
        for thread_id in (gone, kept):
            config = {"configurable": {"thread_id": thread_id}}
            await graph.ainvoke({"amount": 500.0, "description": "Ticket"}, config)
        await saver.aprune([gone], strategy="delete")
        return gone, kept


def test_pruning_by_delete_removes_every_checkpoint_and_write_of_the_thread(tmp_path):
    path = str(tmp_path / "checkpoints.sqlite")
    gone, kept = asyncio.run(_delete_one_thread(path))
    assert _rows(path, gone) == {"checkpoints": 0, "writes": 0}
    left = _rows(path, kept)
    assert left["checkpoints"] > 1 and left["writes"] > 0  # the other thread untouched


ISO_TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d[^\s)]*")


def _timeless(value: Any) -> Any:
    """``value`` with its timestamps as ``<time>``, wherever they are in a string (audit
    ``at``, ``due_at``, the due time in a pause's description): runs differ there."""
    if isinstance(value, dict):
        return {k: _timeless(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_timeless(v) for v in value]
    return ISO_TIME.sub("<time>", value) if isinstance(value, str) else value


async def _cycle(saver: Any, thread_id: str) -> list[Any]:
    """One approval chain (two levels) through ``saver``: its states, newest first."""
    graph = approval_chain.build_graph().compile(checkpointer=saver)
    config = {"configurable": {"thread_id": thread_id}}
    await graph.ainvoke({"amount": 5000.0, "description": "Racks", "requester": "alice"}, config)
    for approver in ("bob", "carol"):
        (pause,) = (await graph.aget_state(config)).interrupts
        await graph.ainvoke(
            Command(resume={pause.id: {"decision": "approve", "approver": approver}}), config
        )
    return [
        (s.values, s.next, [i.value for i in s.interrupts], s.metadata.get("step"))
        async for s in graph.aget_state_history(config)
    ]


async def _both_savers(tmp_path: Any) -> tuple[list[Any], list[Any], list[Any], int, int]:
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    ours, stock = tmp_path / "ours.sqlite", tmp_path / "stock.sqlite"
    async with PruningSqliteSaver.open(ours) as saver:
        calls = 0
        handed = saver.thread.call

        def counting(*args: Any, **kwargs: Any) -> Any:
            nonlocal calls
            calls += 1
            return handed(*args, **kwargs)

        saver.thread.call = counting  # type: ignore[method-assign]
        operations = 0
        for name in ("aget_tuple", "aput", "aput_writes"):
            method = getattr(saver, name)

            async def counted(*args: Any, _method: Any = method, **kwargs: Any) -> Any:
                nonlocal operations
                operations += 1
                return await _method(*args, **kwargs)

            setattr(saver, name, counted)
        listed = saver.alist

        async def counted_list(*args: Any, **kwargs: Any) -> Any:
            nonlocal operations
            operations += 1
            async for item in listed(*args, **kwargs):
                yield item

        saver.alist = counted_list  # type: ignore[method-assign]
        with_ours = await _cycle(saver, "t")
        handovers = calls
    async with AsyncSqliteSaver.from_conn_string(str(stock)) as saver:
        with_stock = await _cycle(saver, "t")
    async with AsyncSqliteSaver.from_conn_string(str(ours)) as saver:  # our file, read by stock
        graph = approval_chain.build_graph().compile(checkpointer=saver)
        read_back = [
            (s.values, s.next, [i.value for i in s.interrupts], s.metadata.get("step"))
            async for s in graph.aget_state_history({"configurable": {"thread_id": "t"}})
        ]
    return with_ours, with_stock, read_back, handovers, operations


def test_the_checkpointer_writes_what_async_sqlite_saver_does_one_hand_over_each(tmp_path):
    """Same history as langgraph's AsyncSqliteSaver, in a file it reads; one thread hop per call."""
    with_ours, with_stock, read_back, handovers, operations = asyncio.run(_both_savers(tmp_path))
    assert len(with_ours) > 5
    assert with_ours == read_back  # the stock saver reads our file exactly
    assert _timeless(with_ours) == _timeless(with_stock)  # and we wrote what it writes
    assert with_ours[0][0]["status"] == "approved"
    assert operations > 10 and handovers == operations  # AsyncSqliteSaver: 3-4 hops each


def test_the_saver_thread_runs_calls_in_order_and_hands_back_results_and_errors():
    from server.checkpointer import SaverThread

    async def scenario() -> None:
        thread = SaverThread("test-saver")
        seen: list[int] = []
        gate = threading.Event()
        first = thread.call(gate.wait, 5)  # holds the thread until the gate opens
        skipped = thread.call(seen.append, -1)
        kept = [thread.call(seen.append, n) for n in range(5)]
        skipped.cancel()  # its caller stopped waiting before the thread took it
        gate.set()
        assert await first is True
        await asyncio.gather(*kept)
        assert seen == [0, 1, 2, 3, 4]  # in order; the cancelled call did not run
        with pytest.raises(ZeroDivisionError):
            await thread.call(lambda: 1 / 0)
        with pytest.raises(RuntimeError, match="StopIteration"):  # not a caller left waiting
            await asyncio.wait_for(thread.call(next, iter(())), 5)
        assert await thread.call(lambda x, *, y: x + y, 1, y=2) == 3  # still serving
        thread.close()
        thread._thread.join(5)
        assert not thread._thread.is_alive()

    asyncio.run(scenario())


def test_the_checkpointer_commits_as_the_store_does_wal_without_an_fsync_each(tmp_path):
    """Both SQLite files: WAL, synchronous=NORMAL (a kill loses no commit; the crash suite)."""
    from graphs.common.store import engine

    async def pragmas() -> tuple[str, int]:
        async with PruningSqliteSaver.open(tmp_path / "checkpoints.sqlite") as saver:
            mode = await saver._run(lambda: saver.conn.execute("PRAGMA journal_mode").fetchone())
            sync = await saver._run(lambda: saver.conn.execute("PRAGMA synchronous").fetchone())
            return mode[0], sync[0]

    with engine(f"sqlite:///{tmp_path / 'ledger.sqlite'}").connect() as conn:
        store = (
            conn.exec_driver_sql("PRAGMA journal_mode").scalar(),
            conn.exec_driver_sql("PRAGMA synchronous").scalar(),
        )
    assert asyncio.run(pragmas()) == store == ("wal", 1)  # 1 is NORMAL; FULL (2) is the default
