"""What a clean start needs: route docstrings langgraph-api can read, a checkpointer that prunes."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import yaml
from langgraph.types import Command

from graphs import expense_approval
from server.checkpointer import PruningSqliteSaver


def test_custom_routes_describe_themselves_without_a_traceback():
    """langgraph-api reads each route's docstring as YAML at start-up (a traceback if not)."""
    from server.app import app

    for route in app.routes:
        doc = getattr(getattr(route, "endpoint", None), "__doc__", None) or ""
        yaml.safe_load(doc.split("---")[-1])  # raises on what would log a traceback


def test_the_checkpointer_implements_what_langgraph_api_warns_about():
    """langgraph-api warns at every start about a custom checkpointer without these."""
    from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver

    for method in ("aprune", "adelete_for_runs"):
        assert getattr(PruningSqliteSaver, method) is not getattr(AsyncSqliteSaver, method)


async def _delete_one_run(path: str) -> None:
    async with PruningSqliteSaver.from_conn_string(path) as saver:
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
    async with PruningSqliteSaver.from_conn_string(path) as saver:
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
