"""In-process approval cycles: the floor a served cycle is compared with.

A cycle is ``invoke(input)`` up to the pause, then ``invoke(Command(resume=...))``
to the end, on a fresh thread. The project's graph and its seed-style
counterpart (``benchmarks/seed.py``) run alternately, one cycle each, so that
whatever else the machine does weighs on both alike.
"""

from __future__ import annotations

import asyncio
import importlib
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.checkpoint.sqlite.aio import AsyncSqliteSaver
from langgraph.types import Command

from benchmarks.common import Workload, check_outcome
from benchmarks.seed import SEED_GRAPHS

CHECKPOINTERS = ("memory", "sqlite", "async_sqlite")
"""InMemorySaver, SqliteSaver (the embedded server's, on a thread of its own) and
AsyncSqliteSaver, on WAL files."""


def project_builder(graph_id: str) -> Any:
    """Return the project's uncompiled graph ``graph_id``."""
    return importlib.import_module(f"graphs.{graph_id}").build_graph()


def _config() -> dict:
    return {"configurable": {"thread_id": str(uuid.uuid4())}}


def _check_paused(graph_id: str, result: Any) -> None:
    if not (isinstance(result, dict) and result.get("__interrupt__")):
        raise RuntimeError(f"{graph_id}: the first run did not pause: {result!r}")


def cycle(graph: Any, workload: Workload, check: bool) -> float:
    """Run one synchronous cycle; return its duration in seconds."""
    config = _config()
    start = time.perf_counter()
    first = graph.invoke(dict(workload.input), config)
    last = graph.invoke(Command(resume=dict(workload.answer)), config)
    elapsed = time.perf_counter() - start
    if check:
        _check_paused(workload.graph_id, first)
        check_outcome(workload, last)
    return elapsed


async def acycle(graph: Any, workload: Workload, check: bool) -> float:
    """Run one asynchronous cycle; return its duration in seconds."""
    config = _config()
    start = time.perf_counter()
    first = await graph.ainvoke(dict(workload.input), config)
    last = await graph.ainvoke(Command(resume=dict(workload.answer)), config)
    elapsed = time.perf_counter() - start
    if check:
        _check_paused(workload.graph_id, first)
        check_outcome(workload, last)
    return elapsed


def _sqlite(path: Path) -> SqliteSaver:
    conn = sqlite3.connect(path, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    saver = SqliteSaver(conn)
    saver.setup()
    return saver


def compare(
    workload: Workload,
    checkpointer: str,
    cycles: int,
    warmup: int,
    tick: Callable[[], None] = lambda: None,
    variants: tuple[str, ...] = ("seed", "project"),
) -> dict[str, list[float]]:
    """Time ``cycles`` cycles of each variant (``seed``, ``project``), alternating.

    Each variant gets its own checkpointer of the kind named (a fresh SQLite file
    for the SQLite ones). ``tick`` is called after every cycle of every variant.
    """
    builders = {"seed": SEED_GRAPHS[workload.graph_id], "project": None}
    with tempfile.TemporaryDirectory(prefix="hitl-bench-") as tmp:

        def builder(variant: str) -> Any:
            factory = builders[variant]
            return factory() if factory else project_builder(workload.graph_id)

        if checkpointer == "async_sqlite":
            return asyncio.run(
                _compare_async(workload, Path(tmp), builder, variants, cycles, warmup, tick)
            )
        graphs = {}
        for variant in variants:
            saver = InMemorySaver() if checkpointer == "memory" else _sqlite(Path(tmp) / variant)
            graphs[variant] = builder(variant).compile(checkpointer=saver)
        times: dict[str, list[float]] = {v: [] for v in variants}
        for i in range(warmup + cycles):
            for variant in variants:
                elapsed = cycle(graphs[variant], workload, check=i < 2)
                if i >= warmup:
                    times[variant].append(elapsed)
                tick()
        for graph in graphs.values():
            if isinstance(graph.checkpointer, SqliteSaver):
                graph.checkpointer.conn.close()
        return times


async def _compare_async(
    workload: Workload,
    tmp: Path,
    builder: Callable[[str], Any],
    variants: tuple[str, ...],
    cycles: int,
    warmup: int,
    tick: Callable[[], None],
) -> dict[str, list[float]]:
    graphs = {}
    savers = []
    for variant in variants:
        cm = AsyncSqliteSaver.from_conn_string(str(tmp / variant))
        saver = await cm.__aenter__()
        await saver.conn.execute("PRAGMA journal_mode=WAL")
        await saver.setup()
        savers.append(cm)
        graphs[variant] = builder(variant).compile(checkpointer=saver)
    times: dict[str, list[float]] = {v: [] for v in variants}
    try:
        for i in range(warmup + cycles):
            for variant in variants:
                elapsed = await acycle(graphs[variant], workload, check=i < 2)
                if i >= warmup:
                    times[variant].append(elapsed)
                tick()
    finally:
        for cm in savers:
            await cm.__aexit__(None, None, None)
    return times
