"""The run-queue wake (server/wake.py): install behind the fence, and the queue it makes.

The queue behaviour is checked on test doubles that copy the stock ``Runs.next``
contract (a fixed sleep when waiting, then only runs created before the call
began); the served effect is checked in tests/integration/test_wake.py.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import UTC, datetime

import pytest

from graphs.common import fence
from server import wake


@pytest.fixture(autouse=True)
def restore():
    yield
    wake.uninstall()


@pytest.fixture
def inmem_ops(tmp_path, monkeypatch):
    """The in-memory runtime's ops module (its import opens files under the cwd)."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANGGRAPH_RUNTIME_EDITION", "inmem")
    monkeypatch.delenv("HITL_FAST_QUEUE", raising=False)
    from langgraph_runtime_inmem import ops

    return ops


def test_installs_on_the_runtime_version_the_fence_supports(inmem_ops):
    # The version itself is checked by tests/unit/test_fence.py (run-queue-wake).
    stock_next = inmem_ops.Runs.__dict__["next"]
    assert wake.install() is True
    assert wake.active()
    assert inmem_ops.Runs.__dict__["next"] is not stock_next
    assert wake.install() is True  # idempotent
    wake.uninstall()
    assert not wake.active()
    assert inmem_ops.Runs.__dict__["next"] is stock_next


def test_an_unsupported_runtime_version_keeps_the_stock_queue(inmem_ops, monkeypatch, caplog):
    real = fence.installed
    monkeypatch.setattr(
        fence, "installed", lambda p: "0.99.0" if p == "langgraph-runtime-inmem" else real(p)
    )
    stock_next = inmem_ops.Runs.__dict__["next"]
    with caplog.at_level(logging.INFO, logger="server.wake"):
        assert wake.install() is False
    assert "langgraph-runtime-inmem is 0.99.0, supported: 0.36.7" in caplog.text
    assert "stock queue" in caplog.text
    assert not wake.active()
    assert inmem_ops.Runs.__dict__["next"] is stock_next


def test_other_runtimes_are_never_touched(inmem_ops, monkeypatch, caplog):
    monkeypatch.setenv("LANGGRAPH_RUNTIME_EDITION", "postgres")
    with caplog.at_level(logging.WARNING, logger="server.wake"):
        assert wake.install() is False
    assert "postgres" in caplog.text
    assert not wake.active()


def test_switched_off_by_setting(inmem_ops, monkeypatch):
    monkeypatch.setenv("HITL_FAST_QUEUE", "0")
    assert wake.install() is False
    assert not wake.active()


# --- the patched queue, on doubles with the stock contract ---------------------------------

STOCK_SLEEP = 0.5


class FakeRuns:
    """The stock contract: ``next(wait=True)`` sleeps, then takes runs created before it began."""

    store: list[dict] = []

    @staticmethod
    async def next(wait: bool, limit: int = 1):
        now = datetime.now(UTC)
        await asyncio.sleep(STOCK_SLEEP if wait else 0)
        pending = [r for r in FakeRuns.store if r["status"] == "pending" and r["created_at"] < now]
        for run in pending[:limit]:
            run["status"] = "running"
            yield run, 1

    @staticmethod
    async def put(name: str) -> dict:
        run = {"name": name, "status": "pending", "created_at": datetime.now(UTC)}
        FakeRuns.store.append(run)
        return run

    @staticmethod
    async def set_status(run: dict, status: str) -> None:
        run["status"] = status


class FakeThreads:
    @staticmethod
    async def set_joint_status(run: dict, status: str) -> None:
        run["status"] = status


@pytest.fixture
def fake_queue():
    FakeRuns.store = []
    wake.patch_classes(FakeRuns, FakeThreads)
    return FakeRuns


async def take(limit: int = 1) -> tuple[list[str], float]:
    start = time.perf_counter()
    names = [run["name"] async for run, _ in FakeRuns.next(wait=True, limit=limit)]
    return names, time.perf_counter() - start


def test_the_stock_double_drops_a_run_put_during_its_sleep():
    FakeRuns.store = []

    async def scenario():
        waiting = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        await FakeRuns.put("r1")
        return await waiting

    names, elapsed = asyncio.run(scenario())
    assert names == [] and elapsed >= STOCK_SLEEP * 0.9


def test_a_run_put_while_the_queue_waits_is_taken_at_once(fake_queue):
    async def scenario():
        wake.WAKER.bind(asyncio.get_running_loop())
        waiting = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        await FakeRuns.put("r1")
        return await waiting

    names, elapsed = asyncio.run(scenario())
    # Stock: not taken by this call at all (created after it began), and 0.5 s later.
    assert names == ["r1"]
    assert elapsed < STOCK_SLEEP * 0.8


def test_an_idle_queue_still_waits_the_stock_timeout(fake_queue):
    async def scenario():
        wake.WAKER.bind(asyncio.get_running_loop())
        return await take()

    names, elapsed = asyncio.run(scenario())
    assert names == []
    assert elapsed >= wake.IDLE_TIMEOUT * 0.9  # no busy polling


def test_a_run_put_before_the_wait_is_not_lost(fake_queue):
    async def scenario():
        wake.WAKER.bind(asyncio.get_running_loop())
        await FakeRuns.put("early")  # the queue was busy: the signal stays set
        return await take()

    names, elapsed = asyncio.run(scenario())
    assert names == ["early"] and elapsed < STOCK_SLEEP * 0.8


def test_a_finished_run_wakes_the_queue_for_the_next_one(fake_queue):
    async def scenario():
        wake.WAKER.bind(asyncio.get_running_loop())
        run = await FakeRuns.put("first")
        assert [r["name"] async for r, _ in FakeRuns.next(wait=False)] == ["first"]
        wake.WAKER.event.clear()  # the put's signal is spent
        waiting = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        await FakeThreads.set_joint_status(run, "success")
        return await waiting

    # Nothing new to take, but the finish signal ends the wait early (a run queued on
    # the same thread may start now).
    names, elapsed = asyncio.run(scenario())
    assert names == [] and elapsed < STOCK_SLEEP * 0.8
    assert wake.WAKER.wakes >= 1


def test_a_signal_from_another_thread_wakes_the_queue(fake_queue):
    async def scenario():
        wake.WAKER.bind(asyncio.get_running_loop())
        waiting = asyncio.create_task(take())
        await asyncio.sleep(0.05)
        FakeRuns.store.append({"name": "t", "status": "pending", "created_at": datetime.now(UTC)})
        threading.Thread(target=wake.WAKER.set).start()
        return await waiting

    names, elapsed = asyncio.run(scenario())
    assert names == ["t"] and elapsed < STOCK_SLEEP * 0.8
