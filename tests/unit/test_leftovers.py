"""Tidying the in-memory runtime (server/leftovers.py): ended runs and deleted threads.

On the real runtime in this process, a run is put, taken by the queue (its attempt
counted) and held by ``Runs.enter`` as a worker holds it; then its thread is deleted.
The stock runtime keeps the run's ``done`` message, its lock and counter, and the
thread's queue dicts; tidied, none of them stay, while what is still in use does: a
subscriber's queue, the counter of a run whose thread is still there, another
thread's records. The served suite runs tidied (``runtime tidy installed`` in its
log, tests/integration/test_wake.py).
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from graphs.common import fence
from server import leftovers
from tests.unit.runtime_helpers import ASSISTANT, collect, fresh

TABLES = ("queues", "control_queues", "control_keys", "message_stores", "thread_streams")


class Runtime:
    """One connection to the real in-memory runtime, with an assistant to run."""

    def __init__(self, ops: Any, store: Any) -> None:
        self.ops, self.conn = ops, fresh(store)
        self.counter = fence.inmem_database().GLOBAL_RETRY_COUNTER

    @property
    def streams(self) -> Any:
        return fence.inmem_stream().get_stream_manager()

    async def start(self) -> tuple[uuid.UUID, uuid.UUID]:
        """A new thread with one run, taken by the queue: (thread id, run id)."""
        thread, run = uuid.uuid4(), uuid.uuid4()
        await collect(self.ops.Threads.put(self.conn, thread, metadata={}, if_exists="raise"))
        await collect(
            self.ops.Runs.put(
                self.conn,
                ASSISTANT,
                {"input": {}},
                thread_id=thread,
                run_id=run,
                metadata={},
                prevent_insert_if_inflight=True,
                if_not_exists="reject",
            )
        )
        taken = [(r["run_id"], n) async for r, n in self.ops.Runs.next(wait=False, limit=1)]
        assert taken == [(run, 1)]
        return thread, run

    def enter(self, thread: uuid.UUID, run: uuid.UUID) -> Any:
        return self.ops.Runs.enter(run, thread, asyncio.get_running_loop(), False)

    async def delete(self, thread: uuid.UUID) -> None:
        assert await collect(self.ops.Threads.delete(self.conn, thread)) == [thread]

    def held(self, *ids: uuid.UUID) -> dict[str, Any]:
        """What the stream manager and the retry counter hold under these thread or run ids."""
        found: dict[str, Any] = {
            name: {k: v for k, v in getattr(self.streams, name).items() if k in ids}
            for name in TABLES
        }
        found["counters"] = {k: v for k, v in self.counter._counters.items() if k in ids}
        found["locks"] = [k for k in self.counter._locks if k in ids]
        return {name: value for name, value in found.items() if value}


async def _one_run(rt: Runtime) -> tuple[dict[str, Any], dict[str, Any]]:
    thread, run = await rt.start()
    async with rt.enter(thread, run):
        pass
    after_run = rt.held(thread, run)
    await rt.delete(thread)
    return after_run, rt.held(thread, run)


@pytest.fixture
def tidied(runtime) -> Runtime:
    """The real runtime with the tidy's wrappers on (taken off by ``runtime``)."""
    ops, _ = runtime
    leftovers.patch_classes(ops.Runs, ops.Threads)
    return Runtime(*runtime)


def test_the_stock_runtime_keeps_what_a_run_leaves_until_it_stops(runtime):
    """What the patch removes: if this fails, the runtime has started tidying itself."""
    after_run, after_delete = asyncio.run(_one_run(Runtime(*runtime)))
    assert set(after_run) == {"queues", "control_queues", "control_keys", "counters", "locks"}
    [done] = next(iter(after_run["control_keys"].values())).values()
    assert done.data == b"done"
    assert after_delete == after_run  # the thread's delete leaves all of it


def test_a_tidied_run_leaves_its_counter_only_and_its_deleted_thread_nothing(tidied):
    after_run, after_delete = asyncio.run(_one_run(tidied))
    [counter] = after_run.pop("counters").values()
    assert counter == 1  # kept while the thread is: a retried run counts on from it
    assert after_run == {} and after_delete == {}


def test_what_is_still_in_use_stays(tidied):
    rt = tidied

    async def scene() -> None:
        other, other_run = await rt.start()
        thread, run = await rt.start()
        queue = await rt.ops.Runs.Stream.subscribe(run, thread)  # a client joined the run
        async with rt.enter(thread, run):
            pass
        assert rt.held(thread)["queues"] == {thread: {run: [queue]}}  # the subscriber's
        assert queue.get_nowait().data.endswith(b"done")  # it heard the run end
        assert rt.counter._counters[run] == 1
        with pytest.raises(ValueError, match="boom"):  # a run that fails is tidied too
            async with rt.enter(other, other_run):
                raise ValueError("boom")
        assert set(rt.held(other, other_run)) == {"counters"}
        await rt.streams.remove_queue(run, thread, queue)  # the client leaves
        await rt.delete(thread)
        assert rt.held(thread, run) == {}
        assert set(rt.held(other, other_run)) == {"counters"}  # another thread's: untouched

    asyncio.run(scene())


def test_a_deleted_thread_keeps_the_queue_of_a_client_still_listening(tidied):
    rt = tidied

    async def scene() -> None:
        thread, run = await rt.start()
        listening = await rt.streams.add_thread_stream(thread)
        async with rt.enter(thread, run):
            pass
        await rt.delete(thread)
        assert rt.held(thread) == {"thread_streams": {thread: [listening]}}

    asyncio.run(scene())


def test_installs_behind_the_fence_once_and_can_be_switched_off(runtime, monkeypatch):
    ops, _ = runtime
    stock = ops.Runs.__dict__["enter"], ops.Threads.__dict__["delete"]
    monkeypatch.setenv("HITL_RUNTIME_TIDY", "0")
    assert leftovers.install() is False and not leftovers.active()
    monkeypatch.delenv("HITL_RUNTIME_TIDY")
    real = fence.installed
    monkeypatch.setattr(
        fence, "installed", lambda p: "0.99.0" if p == "langgraph-runtime-inmem" else real(p)
    )
    assert leftovers.install() is False
    assert (ops.Runs.__dict__["enter"], ops.Threads.__dict__["delete"]) == stock
    monkeypatch.setattr(fence, "installed", real)
    assert leftovers.install() is True and leftovers.active()
    wrapped = ops.Runs.__dict__["enter"]
    assert leftovers.install() is True and ops.Runs.__dict__["enter"] is wrapped  # once
    leftovers.uninstall()
    assert (ops.Runs.__dict__["enter"], ops.Threads.__dict__["delete"]) == stock
