"""The in-memory runtime's share of one approval cycle, against how much it holds.

What ``server/runtime_index.py`` changes, measured without a server's noise: the
runtime operations one served approval cycle makes (a thread created, a run put,
taken by the queue and ended at its pause, three thread reads, a metadata write,
the resume put, taken, read and ended), called in-process on the real
``langgraph_runtime_inmem`` with 0, 1,000 and 10,000 decided threads held (each
with its two finished runs), with the stock runtime and with the index (and the
run-queue wake, whose queue scan reads the index's view; one take in 30 scans
every run, as a served queue does every 0.5 s at ~30 cycles/s). The two variants
alternate, each on a store refilled from scratch; each figure is the median of
the rounds' median cycle.

It runs in a child process (``python -m benchmarks.runtime``): the runtime reads
the settings ``langgraph dev`` gives it and opens files in its working directory.
"""

from __future__ import annotations

import asyncio
import copy
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Any

from benchmarks.common import Sizes, bar
from scripts.devserver import ROOT, RUNTIME_ENV

CHILD_ENV = {
    **RUNTIME_ENV,
    "LANGSMITH_TRACING": "false",
    "HITL_RUNTIME_INDEX": "1",
    "HITL_FAST_QUEUE": "1",
}
"""The child's settings: what ``langgraph dev`` sets, both patches allowed."""
ASSISTANT = uuid.UUID(int=7)
PAUSED = {"next": ["ask"], "values": {}, "tasks": [{"id": "t", "interrupts": [{"value": 1}]}]}
DONE = {"next": [], "values": {"status": "approved"}, "tasks": []}
FULL_SCAN_EVERY = 30
"""Takes between two scans of every run (a served queue: every 0.5 s, ~15 cycles)."""


def run(sizes: Sizes) -> dict[str, Any]:
    """The section: run the measurement in a child process and return what it printed."""
    settings = {
        "held": list(sizes.runtime_held),
        "cycles": sizes.runtime_cycles,
        "rounds": sizes.runtime_rounds,
    }
    with bar(1, "runtime: stock vs indexed") as progress, tempfile.TemporaryDirectory() as tmp:
        env = {**os.environ, **CHILD_ENV, "PYTHONPATH": str(ROOT)}
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.runtime", json.dumps(settings)],
            cwd=tmp,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            timeout=1800,
        )
        progress.update(1)
    if done.returncode != 0:
        raise RuntimeError(f"benchmarks.runtime failed:\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the child ------------------------------------------------------------------------------


async def _drain(result: Any) -> list[Any]:
    return [item async for item in await result]


class Cycles:
    """Approval cycles' runtime operations on the runtime's own store."""

    def __init__(self) -> None:
        from graphs.common import fence  # noqa: PLC0415 - imported in the child only
        from server import wake  # noqa: PLC0415

        self.ops, self.database, self.wake = fence.inmem_ops(), fence.inmem_database(), wake
        self.store = self.database.GLOBAL_STORE
        self.conn = self.database.InMemConnectionProto()
        self.takes = 0

    async def take(self) -> None:
        """The queue takes what is pending (scanning every run one take in 30)."""
        self.takes += 1
        recent = self.takes % FULL_SCAN_EVERY != 0
        self.wake.WAKER.scanned_at = time.monotonic() if recent else float("-inf")
        async for _run in self.ops.Runs.next(wait=False, limit=10):
            pass

    async def cycle(self) -> None:
        """One approval cycle's runtime operations, on a new thread."""
        ops, conn = self.ops, self.conn
        thread, first, second = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await _drain(ops.Threads.put(conn, thread, metadata={"graph_id": "g"}, if_exists="raise"))
        for run_id, body, checkpoint, status in (
            (first, {"input": {"amount": 500}}, PAUSED, "interrupted"),
            (second, {"command": {"resume": {"decision": "approve"}}}, DONE, "success"),
        ):
            await _drain(
                ops.Runs.put(
                    conn,
                    ASSISTANT,
                    body,
                    thread_id=thread,
                    run_id=run_id,
                    metadata={},
                    prevent_insert_if_inflight=True,
                )
            )
            await self.take()
            for _ in range(3 if status == "interrupted" else 1):
                await _drain(ops.Threads.get(conn, thread))
            await _drain(ops.Runs.get(conn, run_id, thread_id=thread))
            await ops.Threads.set_joint_status(conn, thread, run_id, status, "g", checkpoint)
            if status == "interrupted":
                await _drain(ops.Threads.patch(conn, thread, metadata={"paused": True}))

    def fill(self, held: int, template: dict[str, Any]) -> None:
        """Empty the store, then hold ``held`` copies of one decided thread and its runs."""
        self.store.clear()
        self.store["assistants"].append(
            {
                "assistant_id": ASSISTANT,
                "graph_id": "g",
                "config": {},
                "context": {},
                "metadata": {"created_by": "system"},
            }
        )
        threads, runs = self.store["threads"], self.store["runs"]
        for _ in range(held):
            thread_id = uuid.uuid4()
            threads.append({**copy.deepcopy(template["thread"]), "thread_id": thread_id})
            for run in template["runs"]:
                runs.append({**copy.deepcopy(run), "thread_id": thread_id, "run_id": uuid.uuid4()})

    def template(self) -> dict[str, Any]:
        """One decided thread and its two runs, as a real cycle leaves them."""
        self.fill(0, {})
        asyncio.run(self.cycle())
        return {"thread": self.store["threads"][0], "runs": list(self.store["runs"])}

    def variant(self, indexed: bool) -> None:
        """Serve with the stock runtime, or with the wake and the index."""
        from server import runtime_index  # noqa: PLC0415

        runtime_index.uninstall()
        self.wake.uninstall()
        if indexed and not (self.wake.install() and runtime_index.install()):
            raise RuntimeError("the run-queue wake or the runtime index would not install")

    def measure(self, held: int, template: dict[str, Any], cycles: int, indexed: bool) -> float:
        """The median cycle, in microseconds, of ``cycles`` cycles with ``held`` held."""
        self.variant(False)
        self.fill(held, template)
        self.variant(indexed)  # the index is built from what the store holds

        async def timed() -> list[float]:
            times = []
            for _ in range(cycles):
                start = time.perf_counter()
                await self.cycle()
                times.append(time.perf_counter() - start)
            return times

        return statistics.median(asyncio.run(timed())) * 1e6


def child(settings: dict[str, Any]) -> dict[str, Any]:
    """Measure every level, alternating the stock runtime and the index, round by round."""
    cycles = Cycles()
    template = cycles.template()
    levels = []
    for held in settings["held"]:
        found: dict[str, list[float]] = {"stock": [], "indexed": []}
        for round_ in range(settings["rounds"]):
            order = ("stock", "indexed") if round_ % 2 == 0 else ("indexed", "stock")
            for name in order:
                found[name].append(
                    cycles.measure(held, template, settings["cycles"], name == "indexed")
                )
        stock, indexed = (round(statistics.median(found[k]), 1) for k in ("stock", "indexed"))
        levels.append({"held": held, "stock_us": stock, "indexed_us": indexed, "rounds": found})
    base = levels[0]
    for level in levels:
        level["stock_vs_empty"] = round(level["stock_us"] / base["stock_us"], 2)
        level["indexed_vs_empty"] = round(level["indexed_us"] / base["indexed_us"], 2)
    return {**settings, "levels": levels, "full_scan_every": FULL_SCAN_EVERY}


if __name__ == "__main__":
    sys.stdout.write(json.dumps(child(json.loads(sys.argv[1]))) + "\n")
