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
import signal
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from langgraph_sdk import get_client

from benchmarks.common import Workload, check_outcome, summarize
from scripts.devserver import TOKENS, DevServer

BENCH_ENV = {"HITL_SWEEP_SECONDS": "30"}


def server_env(fast_queue: bool = True, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment of a benchmark's ``langgraph dev`` (``env`` on top)."""
    return {**BENCH_ENV, "HITL_FAST_QUEUE": "1" if fast_queue else "0", **(env or {})}


@contextmanager
def server(fast_queue: bool = True, env: dict[str, str] | None = None) -> Any:
    """Start a ``langgraph dev`` for a benchmark; stop it and delete its data afterwards."""
    with DevServer(env=server_env(fast_queue, env)) as dev:
        try:
            yield dev
        finally:
            resume(dev)  # a paused server does not stop on SIGTERM


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
) -> dict[str, Any]:
    """Run ``clients`` concurrent clients doing cycles for ``seconds``; return cycles/s.

    Each client is a coroutine with its own pair of users (connections), all made
    before the clock starts: making one costs 20-80 ms of the event loop (the SDK
    builds an SSL context per client), which with 100 clients inside the window
    would block every cycle under way for seconds. Cycles still under way when
    the time is up are finished and counted. Every cycle's duration is kept
    (``cycle``: median, p95, p99), and so is the clients' own CPU per cycle (this
    process shares the machine with the server). A cycle that fails is counted in
    ``errors`` (the first few messages in ``error_samples``) and its client goes
    on, so that one timeout does not end a long run.
    """
    done = 0
    times: list[float] = []
    errors: list[str] = []
    pairs = [Users(url) for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    async def client(users: Users) -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            try:
                times.append(await cycle(users, workload))
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
                continue
            done += 1
            tick()

    start, cpu = time.perf_counter(), time.process_time()
    try:
        await asyncio.gather(*(client(users) for users in pairs))
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        for users in pairs:
            await users.close()
    return {
        "clients": clients,
        "cycles": done,
        "seconds": round(elapsed, 3),
        "cycles_per_s": round(done / elapsed, 2),
        "cycle": summarize(times),
        "errors": len(errors),
        "error_samples": errors[:5],
        "client_cpu_ms_per_cycle": round(1000 * cpu / max(done, 1), 1),
    }


async def burst(
    url: str, workload: Workload, count: int, concurrency: int, tick: Callable[[], None]
) -> dict[str, Any]:
    """Submit ``count`` requests at once, each run to its pause; at most ``concurrency`` in flight.

    All ``count`` submissions are started together and wait on one semaphore, the
    way a crowd of clients arrives: each holds a slot (its own connection, as a
    real client would) while it creates its thread and waits for the pause.
    Afterwards the server is asked how many of alice's threads are waiting.
    """
    slots = asyncio.Semaphore(concurrency)
    pool: asyncio.Queue[Users] = asyncio.Queue()
    for _ in range(concurrency):
        pool.put_nowait(Users(url))
    errors: list[str] = []

    async def one() -> None:
        async with slots:
            users = pool.get_nowait()
            try:
                await submit(users, workload)
                tick()
            except Exception as exc:
                errors.append(f"{type(exc).__name__}: {exc}"[:300])
            finally:
                pool.put_nowait(users)

    start = time.perf_counter()
    try:
        await asyncio.gather(*(one() for _ in range(count)))
        elapsed = time.perf_counter() - start
        paused = await waiting_count(url, expected=count)
    finally:
        while not pool.empty():
            await pool.get_nowait().close()
    return {
        "submissions": count,
        "concurrency": concurrency,
        "seconds": round(elapsed, 2),
        "submissions_per_s": round(count / elapsed, 1),
        "errors": len(errors),
        "error_samples": errors[:5],
        "paused": paused,
    }


async def thread_count(url: str, status: str, token: str = TOKENS["alice"]) -> int:
    """Return how many threads with ``status`` the user of ``token`` sees (``threads.count``)."""
    client = get_client(url=url, headers={"Authorization": f"Bearer {token}"})
    try:
        return int(await client.threads.count(status=status))  # type: ignore[arg-type]
    finally:
        await client.aclose()


async def waiting_count(url: str, expected: int, timeout: float = 15.0) -> int:
    """Return how many of alice's threads are waiting, polling until ``expected`` or ``timeout``.

    A thread's status is set when its run ends, which may be just after the client
    saw the pause: give the server a moment before counting what it says.
    """
    deadline = time.monotonic() + timeout
    while True:
        found = await thread_count(url, "interrupted")
        if found >= expected or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.5)


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


def pause(dev: DevServer) -> None:
    """Stop every process of the server with SIGSTOP: it holds its state and takes no CPU."""
    os.killpg(dev.proc.pid, signal.SIGSTOP)


def resume(dev: DevServer) -> None:
    """Let a paused server run again (SIGCONT); nothing if it is not running."""
    if dev.proc is not None and dev.proc.poll() is None:
        os.killpg(dev.proc.pid, signal.SIGCONT)


def _group_stats(pgid: int) -> list[list[str]]:
    """The ``/proc/<pid>/stat`` fields (after the command name) of every process in ``pgid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 12 and fields[2] == str(pgid):
            found.append(fields)
    return found


def cpu_seconds(pgid: int) -> float:
    """Return the CPU time (user + system) used by the server's process group so far.

    Every live process of the group counts (``utime`` + ``stime``), and so do its
    children that already exited and were waited for (``cutime`` + ``cstime``). A
    :class:`DevServer` starts its own session, so its pid is the group id.
    """
    ticks = 0
    for fields in _group_stats(pgid):
        ticks += sum(int(fields[i]) for i in (11, 12, 13, 14))
    return ticks / os.sysconf("SC_CLK_TCK")


def tree_bytes(path: Path) -> int:
    """Return the apparent size of the files under ``path`` (0 when it does not exist)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += (Path(folder) / name).lstat().st_size
            except OSError:
                continue
    return total


def disk_bytes(dev: DevServer) -> dict[str, int]:
    """Return what the server keeps on disk: its data directory and ``.langgraph_api``.

    Per entry of the data directory (the checkpoints, the store) and the runtime's
    own files, plus ``total``. SQLite files include their ``-wal`` and ``-shm``.
    """
    sizes: dict[str, int] = {}
    if dev.data_dir.exists():
        for entry in sorted(dev.data_dir.iterdir()):
            stem = entry.name.split("-wal")[0].split("-shm")[0]
            size = tree_bytes(entry) if entry.is_dir() else entry.lstat().st_size
            sizes[stem] = sizes.get(stem, 0) + size
    sizes[".langgraph_api"] = tree_bytes(dev.root / ".langgraph_api")
    sizes["total"] = sum(sizes.values())
    return sizes
