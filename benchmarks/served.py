"""Served approval cycles, throughput and scale, on a real ``langgraph dev``.

Every server is a :class:`scripts.devserver.DevServer` (its own port, data and
runtime state), started with the project's embedded default configuration. Two
settings differ from the tests' servers: the deadline sweeper runs at the
project's default interval (30 s, not the tests' 1 s), and ``HITL_FAST_QUEUE=0``
starts a server with the stock run queue, for comparison (``server/wake.py``).

A served cycle goes through ``langgraph_sdk`` as the project's client does:
alice creates a thread and waits for the run to reach the pause, bob answers
and waits for the run to finish; the outcome is checked.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

from benchmarks.common import Workload, check_outcome
from scripts.devserver import TOKENS, DevServer

BENCH_ENV = {"HITL_SWEEP_SECONDS": "30"}


@contextmanager
def server(fast_queue: bool = True, env: dict[str, str] | None = None) -> Any:
    """Start a ``langgraph dev`` for a benchmark; stop it and delete its data afterwards."""
    fast = "1" if fast_queue else "0"
    with DevServer(env={**BENCH_ENV, "HITL_FAST_QUEUE": fast, **(env or {})}) as dev:
        yield dev


def wake_active(dev: DevServer) -> bool:
    """Whether the server's log says the run-queue wake is installed."""
    return "run-queue wake installed" in dev.log_path.read_text(errors="replace")


class Users:
    """``langgraph_sdk`` clients signed in as alice (submits) and bob (a manager, answers)."""

    def __init__(self, url: str) -> None:
        self.alice = get_client(url=url, headers={"Authorization": f"Bearer {TOKENS['alice']}"})
        self.bob = get_client(url=url, headers={"Authorization": f"Bearer {TOKENS['bob']}"})

    async def close(self) -> None:
        """Close both clients' connections."""
        for client in (self.alice, self.bob):
            await client.aclose()


async def submit(users: Users, workload: Workload) -> str:
    """Create a thread as alice and run it up to its pause; return the thread id."""
    thread = await users.alice.threads.create(metadata={"graph_id": workload.graph_id})
    result = await users.alice.runs.wait(
        thread["thread_id"], workload.graph_id, input=dict(workload.input)
    )
    if not (isinstance(result, dict) and result.get("__interrupt__")):
        raise RuntimeError(f"{workload.graph_id}: the run did not pause: {result!r}")
    return thread["thread_id"]


async def cycle(users: Users, workload: Workload) -> float:
    """Run one served cycle; return its duration in seconds."""
    start = time.perf_counter()
    thread_id = await submit(users, workload)
    result = await users.bob.runs.wait(
        thread_id, workload.graph_id, command={"resume": dict(workload.answer)}
    )
    elapsed = time.perf_counter() - start
    check_outcome(workload, result)
    return elapsed


async def cycles(
    url: str, workload: Workload, count: int, warmup: int, tick: Callable[[], None]
) -> list[float]:
    """Time ``count`` sequential cycles after ``warmup`` untimed ones."""
    users = Users(url)
    try:
        times = []
        for i in range(warmup + count):
            elapsed = await cycle(users, workload)
            if i >= warmup:
                times.append(elapsed)
            tick()
        return times
    finally:
        await users.close()


async def throughput(
    url: str, workload: Workload, clients: int, seconds: float, tick: Callable[[], None]
) -> dict[str, float]:
    """Run ``clients`` concurrent clients doing cycles for ``seconds``; return cycles/s.

    Each client is a coroutine with its own pair of users (connections); cycles
    still under way when the time is up are finished and counted.
    """
    done = 0
    deadline = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        users = Users(url)
        try:
            while time.perf_counter() < deadline:
                await cycle(users, workload)
                done += 1
                tick()
        finally:
            await users.close()

    start = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - start
    return {
        "clients": clients,
        "cycles": done,
        "seconds": round(elapsed, 3),
        "cycles_per_s": round(done / elapsed, 2),
    }


async def seed_pending(
    url: str, workload: Workload, count: int, concurrency: int, tick: Callable[[], None]
) -> None:
    """Leave ``count`` more approvals waiting (alice's submissions, paused for a manager)."""
    users = Users(url)
    todo = iter(range(count))

    async def worker() -> None:
        for _ in todo:
            await submit(users, workload)
            tick()

    try:
        await asyncio.gather(*(worker() for _ in range(concurrency)))
    finally:
        await users.close()


async def list_first_page(url: str, role: str, reps: int, page: int = 50) -> dict[str, Any]:
    """Time bob listing the first page of approvals waiting for ``role``.

    The query is the project client's ``HitlClient.pending(waiting_for=role)``:
    interrupted threads whose ``waiting_for`` is the role, newest first.
    """
    users = Users(url)
    times, found = [], 0
    try:
        for _ in range(reps):
            start = time.perf_counter()
            threads = await users.bob.threads.search(
                status="interrupted",
                metadata={"waiting_for": role},
                limit=page,
                sort_by="updated_at",
                sort_order="desc",
            )
            times.append(time.perf_counter() - start)
            found = len(threads)
    finally:
        await users.close()
    return {"times": times, "found": found}


def rss_bytes(pgid: int) -> int:
    """Return the resident memory of every process in the server's process group."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[2]) != pgid:
                continue
            for line in (entry / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            continue
    return total


def restart(dev: DevServer) -> dict[str, float]:
    """Stop the server cleanly and start it again on the same data; return both times."""
    start = time.perf_counter()
    dev.stop()
    stopped = time.perf_counter()
    dev.start(timeout=600)
    ready = time.perf_counter()
    return {"stop_s": round(stopped - start, 3), "start_s": round(ready - stopped, 3)}


def cpu_seconds(pid: int) -> float:
    """Return the CPU time (user + system) a process has used."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
