"""The pause listener: nodes never wait on its metadata writes, which apply in order and retry."""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from graphs.common.events import Decided, Paused
from server import pauses
from server.pauses import PauseListener, reconcile

WRITE_DELAY = 0.3
"""How long each fake metadata write takes, failed or not."""


class FlakyThreads:
    """``client.threads`` whose ``update`` is slow and fails its first ``failures`` calls."""

    def __init__(self, failures: int, delay: float = WRITE_DELAY) -> None:
        self.failures = failures
        self.delay = delay
        self.calls = 0
        self.applied: list[tuple[str, dict[str, Any]]] = []
        self.records: dict[str, dict[str, Any]] = {}

    async def update(self, thread_id: str, *, metadata: dict[str, Any]) -> dict[str, Any]:
        self.calls += 1
        failing = self.calls <= self.failures
        await asyncio.sleep(self.delay)
        if failing:
            raise httpx.ConnectError("metadata store unavailable")
        self.applied.append((thread_id, dict(metadata)))
        return {}

    async def write(self, thread_id: str, metadata: dict[str, Any]) -> None:
        """The listener's writer (the runtime's record in the server), failing like ``update``."""
        await self.update(thread_id, metadata=metadata)

    async def search(self, *, status: str, limit: int, offset: int, select: list[str]) -> list:
        found = [t for t in self.records.values() if t["status"] == status]
        return found[offset : offset + limit]

    async def get(self, thread_id: str) -> dict[str, Any]:
        if thread_id not in self.records:
            request = httpx.Request("GET", f"http://server/threads/{thread_id}")
            response = httpx.Response(404, request=request)
            raise httpx.HTTPStatusError("Thread not found", request=request, response=response)
        return self.records[thread_id]


class FakeClient:
    def __init__(self, threads: FlakyThreads) -> None:
        self.threads = threads


@pytest.fixture
def loop() -> Iterator[asyncio.AbstractEventLoop]:
    """The server's event loop, running in its own thread; the test is a node's worker thread."""
    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    yield loop
    loop.call_soon_threadsafe(loop.stop)
    runner.join(timeout=5)
    loop.close()


@pytest.fixture(autouse=True)
def no_runtime(monkeypatch):
    """A Decided write reads the thread's record through the runtime: none here."""

    async def read_thread(ctx, thread_id):
        return {"metadata": {"answered_by": ["earlier"]}}

    monkeypatch.setattr(pauses, "read_thread", read_thread)


def on(loop: asyncio.AbstractEventLoop, coro: Any, timeout: float = 30) -> Any:
    return asyncio.run_coroutine_threadsafe(coro, loop).result(timeout=timeout)


def config(thread_id: str = "t1", run_id: str = "r1") -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "run_id": run_id}}


def paused(role: str = "manager", interrupt_id: str = "i1") -> Paused:
    return Paused(interrupt_id, role, {"role": role, "amount": 500})


def test_emitting_returns_at_once_and_writes_land_in_order_after_failures(loop):
    threads = FlakyThreads(failures=2)
    listener = PauseListener(loop, write=threads.write, retry_delays=(0.05, 0.05, 0.05))

    started = time.perf_counter()
    listener(config(run_id="r1"), paused("manager"))
    listener(config(run_id="r2"), Decided("bob"))
    listener(config(run_id="r2"), paused("finance", "i2"))
    elapsed = time.perf_counter() - started

    assert elapsed < WRITE_DELAY / 10  # the node did not wait for a single write
    assert threads.applied == []
    on(loop, listener.drain())
    assert threads.calls == 5  # two failures, then the three writes
    assert threads.applied == [
        ("t1", {"waiting_for": "manager"}),
        ("t1", {"waiting_for": None, "answered_by": ["earlier", "bob"]}),
        ("t1", {"waiting_for": "finance"}),
    ]
    assert listener.chains == {} and listener.gave_up == set()


def test_emitting_on_the_loop_itself_returns_at_once(loop):
    threads = FlakyThreads(failures=1)
    listener = PauseListener(loop, write=threads.write, retry_delays=(0.05,))

    async def async_node() -> float:
        started = time.perf_counter()
        listener(config(), paused())
        return time.perf_counter() - started

    assert on(loop, async_node()) < WRITE_DELAY / 10
    on(loop, listener.drain())
    assert threads.applied == [("t1", {"waiting_for": "manager"})]


def test_threads_do_not_wait_on_each_other_and_readers_wait_only_for_fresh_writes(loop):
    threads = FlakyThreads(failures=1)
    listener = PauseListener(loop, write=threads.write, retry_delays=(2.0,))
    listener(config("slow", "r1"), paused())  # its first write fails, then waits 2 s
    time.sleep(0.05)
    listener(config("fast", "r2"), paused("finance"))
    assert on(loop, pauses.settled(timeout=1.5))  # what a listing awaits before it searches
    assert threads.applied == [("fast", {"waiting_for": "finance"})]
    started = time.perf_counter()
    assert on(loop, listener.settled(timeout=1.5))  # a write being retried is not waited for
    assert time.perf_counter() - started < 0.1
    assert listener.failing == {"slow"} and "slow" in listener.chains
    on(loop, listener.drain())
    assert threads.applied[-1] == ("slow", {"waiting_for": "manager"})
    assert listener.failing == set()


def test_a_failing_notifier_fails_nothing(loop):
    class BrokenNotifier:
        async def enqueue(self, pause):
            raise OSError("outbox unavailable")

    threads = FlakyThreads(failures=0, delay=0)
    listener = PauseListener(loop, write=threads.write, notifier=BrokenNotifier())
    listener(config(), paused())
    on(loop, listener.drain())
    assert threads.applied == [("t1", {"waiting_for": "manager"})]


def test_a_closed_loop_is_logged_not_raised(caplog):
    loop = asyncio.new_event_loop()
    loop.close()
    PauseListener(loop, write=FlakyThreads(0).write)(config(), paused())
    assert "could not schedule" in caplog.text


def test_drain_is_bounded_and_the_sweep_takes_over(loop, caplog):
    threads = FlakyThreads(failures=100, delay=0)
    listener = PauseListener(loop, write=threads.write, retry_delays=(5.0,))
    listener(config(), paused())
    time.sleep(0.1)
    started = time.perf_counter()
    on(loop, listener.drain(timeout=0.2))
    assert time.perf_counter() - started < 2
    assert "the next sweep reconciles them" in caplog.text
    assert threads.applied == []


def record(thread_id: str, status: str, waiting_for: str | None, *pauses_for: str) -> dict:
    return {
        "thread_id": thread_id,
        "status": status,
        "metadata": {"owner": "alice", "waiting_for": waiting_for},
        "interrupts": {"task": [{"id": f"i-{r}", "value": {"role": r}} for r in pauses_for]},
        "values": {"audit": [{"approver": "bob"}, {"approver": "system"}]},
    }


def test_a_write_that_gave_up_is_reconciled_by_the_sweep(loop):
    threads = FlakyThreads(failures=100, delay=0)
    listener = PauseListener(loop, write=threads.write, retry_delays=(0.01, 0.01))
    listener(config("lost"), paused("finance"))
    listener(config("decided"), Decided("bob"))
    listener(config("deleted"), paused())
    on(loop, listener.drain())
    assert threads.calls == 9 and threads.applied == []
    assert listener.gave_up == {"lost", "decided", "deleted"}

    threads.failures = 0
    threads.records = {
        "lost": record("lost", "interrupted", None, "finance"),
        "decided": record("decided", "idle", "manager"),
        "fine": record("fine", "interrupted", "manager", "manager"),
        "several": record("several", "interrupted", "user:dave", "user:dave", "director"),
        "running": record("running", "busy", None),
    }
    assert on(loop, reconcile(FakeClient(threads), write=threads.write)) == 3
    assert sorted(threads.applied) == [
        ("decided", {"waiting_for": None, "answered_by": ["bob"]}),
        ("lost", {"waiting_for": "finance", "answered_by": ["bob"]}),
        ("several", {"waiting_for": "director"}),  # a role before a single user
    ]
    assert listener.gave_up == set()  # a thread deleted since is forgotten, not retried forever


def test_the_sweep_leaves_threads_with_a_write_under_way_alone(loop):
    threads = FlakyThreads(failures=1, delay=0)
    threads.records = {"t1": record("t1", "interrupted", None, "manager")}
    listener = PauseListener(loop, write=threads.write, retry_delays=(1.0,))
    listener(config(), paused())
    time.sleep(0.1)  # first attempt failed, the retry is waiting
    assert on(loop, reconcile(FakeClient(threads), write=threads.write)) == 0
    on(loop, listener.drain())
    assert threads.applied == [("t1", {"waiting_for": "manager"})]


def test_the_server_writes_straight_into_the_runtime_record_as_itself(monkeypatch):
    """No HTTP loopback: the runtime's ``Threads.patch``, with no caller's context.

    langgraph-api keeps the caller's auth in a context variable (its ``AuthContext``), which
    the runtime falls back to when no ``ctx`` is given: ``caller`` stands in for it here.
    """
    from graphs.common import fence
    from server.internal import INTERNAL_WRITE
    from server.threads import write_metadata

    caller: contextvars.ContextVar[str | None] = contextvars.ContextVar("caller", default=None)
    records = {"t1": {"thread_id": "t1", "metadata": {"owner": "alice", "waiting_for": "x"}}}
    seen: list[Any] = []

    class Threads:
        @staticmethod
        async def patch(conn: Any, thread_id: str, *, metadata: dict[str, Any]) -> Any:
            seen.append((caller.get(), INTERNAL_WRITE.get()))
            found = [records[thread_id]] if thread_id in records else []
            for thread in found:
                thread["metadata"] = {**thread["metadata"], **metadata}

            async def rows() -> Any:
                for thread in found:
                    yield thread

            return rows()

    class Connection:
        async def __aenter__(self) -> None:
            return None

        async def __aexit__(self, *exc: object) -> None:
            return None

    monkeypatch.setattr(fence, "runtime_threads", lambda: (Connection, Threads))

    async def as_a_caller() -> None:
        caller.set("mallory")  # a request being served: its user's context
        await write_metadata("t1", {"waiting_for": "manager", "answered_by": ["bob"]})
        with pytest.raises(LookupError, match="t2 not found"):
            await write_metadata("t2", {"waiting_for": None})
        assert caller.get() == "mallory" and not INTERNAL_WRITE.get()

    asyncio.run(as_a_caller())
    assert records["t1"]["metadata"] == {
        "owner": "alice",
        "waiting_for": "manager",
        "answered_by": ["bob"],
    }
    assert seen == [(None, True), (None, True)]  # no caller's context: no auth handler runs
